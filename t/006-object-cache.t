# photo_object_cache: a worker keeps the photo objects it served, so that
# the next pages that show them need no memcached round trip (counted with
# memcached's own cmd_get); off, every page asks memcached.  The answer is
# the same either way.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;

my ($READER, $POSTER) = (6001, 6002);
our $Token = 'tok_ocache_0123456789abcdef';

my ($ids, $p) = reader_and_poster(reader => $READER, poster => $POSTER,
                                  name => 'kept', base => 9_600_000,
                                  at => 1790002000);
my @ids = @$ids;
our %P = %$p;
complete_feed($READER, $Token, @ids);

our $Page = page_of(\%P, reverse @ids);
our @Gets;

sub fresh {
    mc_delete("photo:$_") for @ids;     # the first page reads Postgres
    push @Gets, mc_stat('cmd_get');
}

photo_block_defaults(config => "location / { photo_api; }",
                     more_headers => "Authorization: Bearer $Token");

no_shuffle();
no_root_location();
run_tests();

push @Gets, mc_stat('cmd_get');
is($Gets[1] - $Gets[0], 6,
   "cache on: memcached was asked for the 6 objects once, for 3 pages");
is($Gets[2] - $Gets[1], 18,
   "cache off: memcached was asked for the 6 objects on each of 3 pages");
my $small = $Gets[3] - $Gets[2];
ok($small >= 10 && $small < 18,
   "a cache of 4 objects for pages of 6: the least recently used go, and "
   . "each page after the first asks memcached for 2 to 5 ($small gets)");

__DATA__

=== TEST 1: photo_object_cache on: three pages, the same answer
--- http_config eval
$PhotoFixture::Backends . "photo_object_cache 100 60s;"
--- init
main::fresh();
--- request eval
["GET /v1/feed", "GET /v1/feed", "GET /v1/feed"]
--- error_code eval
[200, 200, 200]
--- response_body eval
[$::Page, $::Page, $::Page]



=== TEST 2: off (the default): three pages, the same answer
--- init
main::fresh();
--- request eval
["GET /v1/feed", "GET /v1/feed", "GET /v1/feed"]
--- error_code eval
[200, 200, 200]
--- response_body eval
[$::Page, $::Page, $::Page]



=== TEST 3: a cache smaller than a page: objects come and go, the answer stays
--- http_config eval
$PhotoFixture::Backends . "photo_object_cache 4 60s;"
--- init
main::fresh();
--- request eval
["GET /v1/feed", "GET /v1/feed", "GET /v1/feed"]
--- error_code eval
[200, 200, 200]
--- response_body eval
[$::Page, $::Page, $::Page]
