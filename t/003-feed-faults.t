# The read path when backends misbehave: bad cache entries, deleted photos,
# Redis or memcached or Postgres down or silent, a client that gives up.
# Never a hang; a clear 503 when an answer cannot be given, a degraded 200
# when it can.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;
use IO::Select;
use IO::Socket::INET;
use POSIX ();

my ($READER, $POSTER) = (3001, 3002);
our $Token = 'tok_faults_0123456789abcdef';
my $base = 9_100_000;
our $Gone = $base + 99;                      # in the list, nowhere else

my ($ids, $p) = reader_and_poster(reader => $READER, poster => $POSTER,
                                  name => 'fault', base => $base,
                                  at => 1790001000);
my @ids = @$ids;
our %P = %$p;

# a complete feed list holding the six photos and one that was deleted
complete_feed($READER, $Token, @ids, $Gone);
mc_delete("photo:$_") for @ids, $Gone;
# a cached object that is not JSON: must be logged and read from Postgres
mc_set("photo:" . ($base + 6), '{"id":"' . ($base + 6) . '", garbage', $PhotoFixture::MC_KIND);
# an object changed after its writer's checksum (valid JSON, its own id,
# but not the bytes written): logged and read from Postgres too
{
    my %t = %{ $P{$ids[4]} };
    my $flags = object_flags(photo_json(%t));
    $t{caption} = 'not what was written';
    mc_set("photo:$ids[4]", photo_json(%t), $flags);
}

# the page without photo 1, whose key will hold a deletion's tombstone
our $PageGone1 = page_of(\%P, reverse @ids[1 .. $#ids]);
our $Gone1 = $ids[0];

our $Page = page_of(\%P, reverse @ids);

$ENV{TEST_NGINX_CLOSED_PORT} = free_port();
(our $Silent, $ENV{TEST_NGINX_SILENT_PORT}) = silent_port();

photo_block_defaults(config => "location / { photo_api; }",
                     more_headers => "Authorization: Bearer $Token");

# A feed request left hanging in the background (Redis is silent), sent
# while the block's own request is served.
sub stuck_feed_request {
    my $port = server_port();
    defined(my $pid = fork) or die "fork: $!";
    if ($pid == 0) {
        for (1 .. 40) {
            my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                          PeerPort => $port) or do {
                select undef, undef, undef, 0.05; next };
            print $s "GET /v1/feed HTTP/1.0\r\nAuthorization: Bearer $Token\r\n\r\n";
            my $r = IO::Select->new($s);
            $r->can_read(2);
            POSIX::_exit(0);
        }
        POSIX::_exit(1);
    }
    select undef, undef, undef, 0.2;
}

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: a cached object that does not parse, and one whose bytes do not match their checksum, are logged and read from Postgres; a deleted photo is left out
--- request
GET /v1/feed
--- error_code: 200
--- response_body eval
$::Page
--- error_log eval
[qr/\[error\] .*cached photo:9100006 is not a valid photo object \(flags 3,/,
 qr/\[error\] .*cached photo:9100005 is not a valid photo object \(flags \d{4,}, /]



=== TEST 2: Redis down: a prompt 503 JSON
--- http_config
    photo_redis      127.0.0.1:$TEST_NGINX_CLOSED_PORT;
    photo_memcached  $TEST_NGINX_HOST:$TEST_NGINX_MEMCACHED_PORT;
    photo_postgres   "host=$TEST_NGINX_HOST port=$TEST_NGINX_PG_PORT user=$TEST_NGINX_PG_USER dbname=$TEST_NGINX_PG_DB";
    photo_gearman    $TEST_NGINX_HOST:$TEST_NGINX_GEARMAN_PORT;
--- request
GET /v1/feed
--- timeout: 1
--- error_code: 503
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":{"code":"unavailable","message":"redis is unavailable, try again shortly"}}
--- error_log
redis



=== TEST 3: Redis that accepts and never answers: 503 after photo_redis_timeout
--- http_config
    photo_redis      127.0.0.1:$TEST_NGINX_SILENT_PORT;
    photo_redis_timeout 300ms;
    photo_memcached  $TEST_NGINX_HOST:$TEST_NGINX_MEMCACHED_PORT;
    photo_postgres   "host=$TEST_NGINX_HOST port=$TEST_NGINX_PG_PORT user=$TEST_NGINX_PG_USER dbname=$TEST_NGINX_PG_DB";
    photo_gearman    $TEST_NGINX_HOST:$TEST_NGINX_GEARMAN_PORT;
--- request
GET /v1/feed
--- timeout: 2
--- error_code: 503
--- response_body_like: redis is unavailable
--- error_log eval
qr/\[error\] .*redis 127\.0\.0\.1:\d+ timed out/



=== TEST 4: nginx keeps serving other locations while a feed read waits on a silent Redis
--- http_config
    photo_redis      127.0.0.1:$TEST_NGINX_SILENT_PORT;
    photo_redis_timeout 3s;
    photo_memcached  $TEST_NGINX_HOST:$TEST_NGINX_MEMCACHED_PORT;
    photo_postgres   "host=$TEST_NGINX_HOST port=$TEST_NGINX_PG_PORT user=$TEST_NGINX_PG_USER dbname=$TEST_NGINX_PG_DB";
    photo_gearman    $TEST_NGINX_HOST:$TEST_NGINX_GEARMAN_PORT;
--- config
    location / { photo_api; }
    location = /static { return 200 "still here\n"; }
--- init
::stuck_feed_request();
--- request
GET /static
--- timeout: 1
--- error_code: 200
--- response_body
still here



=== TEST 5: one memcached server down: its photos come from Postgres, still 200
# (port 1: nothing listens there, and its name puts photos 1, 3 and 4 of
# this file on it by ketama, so the dead server is really asked)
--- http_config eval
PhotoFixture::backends(memcached => '$TEST_NGINX_HOST:$TEST_NGINX_MEMCACHED_PORT 127.0.0.1:1')
--- request
GET /v1/feed
--- error_code: 200
--- response_body eval
$::Page
--- error_log eval
qr/\[error\] .*memcached 127\.0\.0\.1:1\b/



=== TEST 6: every memcached down, Postgres up: degraded but whole
--- http_config eval
PhotoFixture::backends(memcached => '127.0.0.1:$TEST_NGINX_CLOSED_PORT')
--- request
GET /v1/feed
--- error_code: 200
--- response_body eval
$::Page



=== TEST 7: every memcached down and Postgres down: 503 JSON, no hang
--- http_config eval
PhotoFixture::backends(memcached => '127.0.0.1:$TEST_NGINX_CLOSED_PORT',
                       postgres => '"host=127.0.0.1 port=$TEST_NGINX_CLOSED_PORT"')
--- request
GET /v1/feed
--- timeout: 2
--- error_code: 503
--- response_body chomp
{"error":{"code":"unavailable","message":"postgres is unavailable, try again shortly"}}



=== TEST 8: Postgres that never answers, photos not cached: 503 after photo_postgres_timeout
--- http_config eval
PhotoFixture::backends(memcached => '127.0.0.1:$TEST_NGINX_CLOSED_PORT',
                       postgres => '"host=127.0.0.1 port=$TEST_NGINX_SILENT_PORT"',
                       more => ['photo_postgres_timeout 300ms;'])
--- request
GET /v1/feed
--- timeout: 2
--- error_code: 503
--- response_body_like: postgres is unavailable



=== TEST 9: the client gives up while Redis is silent: nothing breaks, no leak
--- http_config
    photo_redis      127.0.0.1:$TEST_NGINX_SILENT_PORT;
    photo_redis_timeout 400ms;
    photo_memcached  $TEST_NGINX_HOST:$TEST_NGINX_MEMCACHED_PORT;
    photo_postgres   "host=$TEST_NGINX_HOST port=$TEST_NGINX_PG_PORT user=$TEST_NGINX_PG_USER dbname=$TEST_NGINX_PG_DB";
    photo_gearman    $TEST_NGINX_HOST:$TEST_NGINX_GEARMAN_PORT;
--- request
GET /v1/feed
--- timeout: 0.1
--- abort
--- wait: 0.6
--- ignore_response
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 10: the client gives up while Postgres is silent: nothing breaks
--- http_config
    photo_redis      $TEST_NGINX_HOST:$TEST_NGINX_REDIS_PORT;
    photo_memcached  127.0.0.1:$TEST_NGINX_CLOSED_PORT;
    photo_postgres   "host=127.0.0.1 port=$TEST_NGINX_SILENT_PORT";
    photo_postgres_timeout 400ms;
    photo_gearman    $TEST_NGINX_HOST:$TEST_NGINX_GEARMAN_PORT;
--- request
GET /v1/feed
--- timeout: 0.1
--- abort
--- wait: 0.6
--- ignore_response
--- no_error_log
[alert]
[crit]
[emerg]



=== TEST 11: a deleted photo's tombstone in memcached: left out, Postgres not asked
(its row is still there here: were Postgres asked, it would be shown)
--- init
PhotoFixture::mc_set("photo:$::Gone1", "deleted", 2);
--- request eval
["GET /v1/photos/$::Gone1", "GET /v1/feed"]
--- error_code eval
[404, 200]
--- response_body eval
[qq{{"error":{"code":"not_found","message":"no photo $::Gone1"}}}, $::PageGone1]
--- no_error_log
[error]
