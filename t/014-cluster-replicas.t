# photo_redis_read_replicas: with a Redis Cluster, feed reads go to the
# replicas (their ZREVRANGEBYLEX count grows, the masters' does not: two a
# page, the page and the reader's likes); off (the default), to the
# masters.  Run by scripts/test against the stack's
# cluster (TEST_NGINX_REDIS_CLUSTER); skipped on a single Redis.
use lib 't/lib';
use Test::Nginx::Socket;
use PhotoFixture;

plan(skip_all => 'needs a Redis Cluster (TEST_NGINX_REDIS_CLUSTER)')
    unless $ENV{TEST_NGINX_REDIS_CLUSTER};
plan('no_plan');

my ($READER, $POSTER) = (6101, 6102);
our $Token = "$READER-tok_replicas_0123456789abcdef";

my ($ids, $p) = reader_and_poster(reader => $READER, poster => $POSTER,
                                  name => 'replicated', base => 9_610_000,
                                  at => 1790003000);
our %P = %$p;
complete_feed($READER, $Token, @$ids);
our $Page = page_of(\%P, reverse @$ids);

# the replicas have what their masters took (replication is asynchronous)
select(undef, undef, undef, 1);

# ZREVRANGEBYLEX calls so far: [masters, replicas]
our @Calls;

sub calls {
    my ($m, $r) = (0, 0);
    for my $node (split ' ', $ENV{TEST_NGINX_REDIS_CLUSTER}) {
        my $role = PhotoFixture::redis_at($node, 'ROLE')->[0];
        my $info = PhotoFixture::redis_at($node, 'INFO', 'commandstats');
        my ($n) = $info =~ /^cmdstat_zrevrangebylex:calls=(\d+)/m;
        if ($role eq 'master') { $m += $n // 0 } else { $r += $n // 0 }
    }
    push @Calls, [$m, $r];
}

photo_block_defaults(config => "location / { photo_api; }",
                     more_headers => "Authorization: Bearer $Token");

no_shuffle();
no_root_location();
run_tests();

calls();
is_deeply([$Calls[1][0] - $Calls[0][0], $Calls[1][1] - $Calls[0][1]], [0, 8],
          "photo_redis_read_replicas on: the 4 pages (and likes) read from replicas");
is_deeply([$Calls[2][0] - $Calls[1][0], $Calls[2][1] - $Calls[1][1]], [8, 0],
          "off: the 4 pages (and likes) read from the masters");

__DATA__

=== TEST 1: photo_redis_read_replicas on: the same pages
--- http_config eval
$PhotoFixture::Backends . "    photo_redis_read_replicas on;\n"
--- init
main::calls();
--- request eval
["GET /v1/feed", "GET /v1/feed", "GET /v1/feed", "GET /v1/feed"]
--- error_code eval
[200, 200, 200, 200]
--- response_body eval
[$::Page, $::Page, $::Page, $::Page]



=== TEST 2: off (the default): the same pages
--- init
main::calls();
--- request eval
["GET /v1/feed", "GET /v1/feed", "GET /v1/feed", "GET /v1/feed"]
--- error_code eval
[200, 200, 200, 200]
--- response_body eval
[$::Page, $::Page, $::Page, $::Page]
