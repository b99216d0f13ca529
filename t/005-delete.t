# DELETE /v1/photos/{id}: only a signed-in poster deletes, and only their
# own photo; the answer comes before the worker's part (202), and what is
# refused is a 4xx JSON that deletes nothing.  Postgres away: a prompt 503.
# (The worker's part, end to end: t/scripts/e2e_write.py.)
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;

my ($OWNER, $OTHER) = (5001, 5002);
our ($Mine, $Theirs) = (9_500_001, 9_500_002);
our $Token = 'tok_delete_0123456789abcdef';

sql("delete from users where id in ($OWNER, $OTHER)");
sql("delete from photo_deletions where id in ($Mine, $Theirs)");
sql("insert into users (id, username, password_hash) values
     ($OWNER, 'deleter5', '!'), ($OTHER, 'other5', '!')");
for ([$Mine, $OWNER], [$Theirs, $OTHER]) {
    my ($id, $user) = @$_;
    sql("insert into photos (id, user_id, media_path, image_url, width, height)
         values ($id, $user, 'd/$id.jpg', '/media/d/$id.jpg', 10, 10)");
}
redis('SET', session_key($Token), $OWNER, 'EX', 3600);

$ENV{TEST_NGINX_CLOSED_PORT} = free_port();

photo_block_defaults(config => "location / { photo_api; }",
                     more_headers => "Authorization: Bearer $Token");

sub rows { scalar sql("select id from photos where id in ($Mine, $Theirs)") }

no_shuffle();
no_root_location();
run_tests();

is(rows(), 1, "of the two photos, only the user's own was deleted");

__DATA__

=== TEST 1: no session: 401
--- more_headers
X-Nothing: 1
--- request eval
"DELETE /v1/photos/$::Mine"
--- error_code: 401
--- response_headers
Content-Type: application/json
--- response_body_like: "code":"unauthorized"



=== TEST 2: a malformed id: 400 naming it
--- request
DELETE /v1/photos/12ab
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_id","message":"the photo id must be a positive 64-bit integer"}}



=== TEST 3: a photo that does not exist: 404
--- request
DELETE /v1/photos/9500999
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"no such photo"}}



=== TEST 4: somebody else's photo: 403, and it stays
--- request eval
"DELETE /v1/photos/$::Theirs"
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"only its poster can delete a photo"}}



=== TEST 5: Postgres away: a prompt 503, nothing queued
--- http_config
    photo_redis      $TEST_NGINX_HOST:$TEST_NGINX_REDIS_PORT;
    photo_memcached  $TEST_NGINX_HOST:$TEST_NGINX_MEMCACHED_PORT;
    photo_postgres   "host=127.0.0.1 port=$TEST_NGINX_CLOSED_PORT user=$TEST_NGINX_PG_USER dbname=$TEST_NGINX_PG_DB";
    photo_gearman    $TEST_NGINX_HOST:$TEST_NGINX_GEARMAN_PORT;
--- request eval
"DELETE /v1/photos/$::Mine"
--- timeout: 2
--- error_code: 503
--- response_body chomp
{"error":{"code":"unavailable","message":"postgres is unavailable, try again shortly"}}
--- error_log
postgres



=== TEST 6: the poster's own photo: 202, queued for the persist worker
--- request eval
"DELETE /v1/photos/$::Mine"
--- error_code: 202
--- response_body eval
qq{{"id":"$::Mine","status":"queued"}}
--- wait: 1
