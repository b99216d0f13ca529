# GET /health: every backend probed at once, non-blocking, each bounded by
# its timeout; 200 when all answer, 503 naming the one that does not.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;
use IO::Socket::INET;
use POSIX ();

# A backend that accepts connections and never answers (the kernel completes
# the handshake from the listen backlog), and a port where nothing listens.
my $silent = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1',
                                   LocalPort => 0, ReuseAddr => 1)
    or die "listen: $!";
$ENV{TEST_NGINX_SILENT_PORT} = $silent->sockport;

my $closed = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                   LocalPort => 0) or die "listen: $!";
$ENV{TEST_NGINX_CLOSED_PORT} = $closed->sockport;
close $closed;

# A gearmand whose persistent queue fails (PhotoFixture::broken_gearmand).
$ENV{TEST_NGINX_BROKEN_QUEUE_PORT} = broken_gearmand();

photo_block_defaults();

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: all backends up: 200 and each one listed as up
--- config
    location / {
        photo_api;
    }
--- request
GET /health
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body_like eval
qr/^\{"backends":\[\{"backend":"redis","address":"[^"]+:\d+","up":true,"ms":\d+\},\{"backend":"memcached","address":"[^"]+:\d+","up":true,"ms":\d+\},\{"backend":"memcached","address":"[^"]+:\d+","up":true,"ms":\d+\},\{"backend":"postgres","address":"[^"]+:\d+","up":true,"ms":\d+\},\{"backend":"gearman","address":"[^"]+:\d+","up":true,"ms":\d+\},\{"backend":"gearmand_queue","address":"[^"]+:\d+","up":true,"ms":\d+\}\],"status":"ok"\}$/
--- no_error_log
[error]



=== TEST 2: one memcached down: 503, that server named as down, the rest up
--- http_config
    photo_redis      $TEST_NGINX_HOST:$TEST_NGINX_REDIS_PORT;
    photo_memcached  $TEST_NGINX_HOST:$TEST_NGINX_MEMCACHED_PORT 127.0.0.1:$TEST_NGINX_CLOSED_PORT;
    photo_postgres   "host=$TEST_NGINX_HOST port=$TEST_NGINX_PG_PORT user=$TEST_NGINX_PG_USER dbname=$TEST_NGINX_PG_DB";
    photo_gearman    $TEST_NGINX_HOST:$TEST_NGINX_GEARMAN_PORT;
--- config
    location / {
        photo_api;
    }
--- request
GET /health
--- error_code: 503
--- response_body_like eval
qr/\{"backend":"memcached","address":"127\.0\.0\.1:$ENV{TEST_NGINX_CLOSED_PORT}","up":false,"error":"connection failed"\}/
--- response_headers
Content-Type: application/json
--- error_log eval
qr/\[error\] .*Connection refused\) while probing memcached at 127\.0\.0\.1:$ENV{TEST_NGINX_CLOSED_PORT}/



=== TEST 3: the others are still reported up when one is down
--- http_config
    photo_redis      $TEST_NGINX_HOST:$TEST_NGINX_REDIS_PORT;
    photo_memcached  $TEST_NGINX_HOST:$TEST_NGINX_MEMCACHED_PORT 127.0.0.1:$TEST_NGINX_CLOSED_PORT;
    photo_postgres   "host=$TEST_NGINX_HOST port=$TEST_NGINX_PG_PORT user=$TEST_NGINX_PG_USER dbname=$TEST_NGINX_PG_DB";
    photo_gearman    $TEST_NGINX_HOST:$TEST_NGINX_GEARMAN_PORT;
--- config
    location / {
        photo_api;
    }
--- request
GET /health
--- error_code: 503
--- response_body_like eval
qr/^\{"backends":\[\{"backend":"redis",[^}]*"up":true[^}]*\},\{"backend":"memcached",[^}]*"up":true[^}]*\},\{"backend":"memcached",[^}]*"up":false[^}]*\},\{"backend":"postgres",[^}]*"up":true[^}]*\},\{"backend":"gearman",[^}]*"up":true[^}]*\},\{"backend":"gearmand_queue",[^}]*"up":true[^}]*\}\],"status":"unavailable"\}$/



=== TEST 4: a backend that never answers: 503 after its timeout, no hang
--- http_config
    photo_redis      $TEST_NGINX_HOST:$TEST_NGINX_REDIS_PORT;
    photo_memcached  $TEST_NGINX_HOST:$TEST_NGINX_MEMCACHED_PORT $TEST_NGINX_HOST:$TEST_NGINX_MEMCACHED_PORT2;
    photo_postgres   "host=127.0.0.1 port=$TEST_NGINX_SILENT_PORT user=photo";
    photo_postgres_timeout 300ms;
    photo_gearman    $TEST_NGINX_HOST:$TEST_NGINX_GEARMAN_PORT;
--- config
    location / {
        photo_api;
    }
--- request
GET /health
--- timeout: 2
--- error_code: 503
--- response_body_like eval
qr/\{"backend":"postgres","address":"127\.0\.0\.1:$ENV{TEST_NGINX_SILENT_PORT}","up":false,"error":"timed out"\}.*"status":"unavailable"/
--- error_log eval
qr/\[error\] .*postgres at 127\.0\.0\.1:$ENV{TEST_NGINX_SILENT_PORT} timed out/



=== TEST 5: nothing answers at all: still a prompt 503 JSON
--- http_config
    photo_redis      127.0.0.1:$TEST_NGINX_CLOSED_PORT;
    photo_memcached  127.0.0.1:$TEST_NGINX_CLOSED_PORT;
    photo_postgres   "host=127.0.0.1 port=$TEST_NGINX_CLOSED_PORT";
    photo_gearman    127.0.0.1:$TEST_NGINX_CLOSED_PORT;
--- config
    location / {
        photo_api;
    }
--- request
GET /health
--- timeout: 2
--- error_code: 503
--- response_body_like eval
qr/^\{"backends":\[(\{"backend":"\w+","address":"127\.0\.0\.1:\d+","up":false,"error":"connection failed"\},?){4}\{"backend":"gearmand_queue","address":"127\.0\.0\.1:\d+","up":false,"error":"[^"]+"\}\],"status":"unavailable"\}$/



=== TEST 6: gearmand answers but its queue refuses jobs: the queue is named down
--- http_config
    photo_redis      $TEST_NGINX_HOST:$TEST_NGINX_REDIS_PORT;
    photo_memcached  $TEST_NGINX_HOST:$TEST_NGINX_MEMCACHED_PORT;
    photo_postgres   "host=$TEST_NGINX_HOST port=$TEST_NGINX_PG_PORT user=$TEST_NGINX_PG_USER dbname=$TEST_NGINX_PG_DB";
    photo_gearman    127.0.0.1:$TEST_NGINX_BROKEN_QUEUE_PORT;
--- config
    location / {
        photo_api;
    }
--- request
GET /health
--- timeout: 2
--- error_code: 503
--- response_body_like eval
qr/\{"backend":"gearman","address":"127\.0\.0\.1:\d+","up":true,"ms":\d+\},\{"backend":"gearmand_queue","address":"127\.0\.0\.1:\d+","up":false,"error":"gearmand did not store a job \(its log says why\)"\}\],"status":"unavailable"\}$/
--- error_log eval
qr/\[error\] .*QUEUE_ERROR/



=== TEST 7: HEAD /health answers the status without a body
--- config
    location / {
        photo_api;
    }
--- request
HEAD /health
--- error_code: 200
--- response_body



=== TEST 8: POST /health is refused with a JSON 405
--- config
    location / {
        photo_api;
    }
--- request
POST /health
{"x":1}
--- error_code: 405
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":{"code":"method_not_allowed","message":"/health answers GET and HEAD only"}}



=== TEST 9: an unknown path is a JSON 404 naming it
--- config
    location / {
        photo_api;
    }
--- request
GET /no/such/thing
--- error_code: 404
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":{"code":"not_found","message":"no such endpoint: /no/such/thing"}}



=== TEST 10: other locations of the server are not the module's
--- config
    location / {
        photo_api;
    }
    location = /static {
        return 200 "static\n";
    }
--- request
GET /static
--- error_code: 200
--- response_body
static
