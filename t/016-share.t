# Sharing, as nginx answers it: an account linked (PUT /v1/me/links/<service>)
# with its credentials checked and sealed before anything is written (a
# link that gearmand refused keeps its job in its Idempotency-Key record:
# that job holds only the sealed form), unlinked (DELETE), and a photo shared (POST
# /v1/photos/{id}/share) only by its poster, to known services, each once.
# Refusals are a 4xx JSON that queue nothing.  (The share worker's part:
# worker_share, e2e_share.)
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;

my ($USER, $OTHER) = (5201, 5202);
our $Token = "$USER-tok_share_0123456789abcdef";
our ($Mine, $Theirs, $Missing) = (9_520_001, 9_520_002, 9_520_999);
our $Run = time . "-$$";

sql("delete from users where id in ($USER, $OTHER)");
sql("insert into users (id, username, password_hash) values
     ($USER, 'sharer5', '!'), ($OTHER, 'other52', '!')");
for ([$Mine, $USER], [$Theirs, $OTHER]) {
    my ($id, $user) = @$_;
    sql("insert into photos (id, user_id, caption, media_path, image_url, width, height)
         values ($id, $user, 'shared', 's/$id.jpg', '/media/s/$id.jpg', 10, 10)");
}
redis('SET', session_key($Token), $USER, 'EX', 3600);
$ENV{TEST_NGINX_BROKEN_QUEUE_PORT} = broken_gearmand();

media_key_file();       # any file serves as the link key
photo_block_defaults(config => "location / { photo_api; photo_link_key_file \$TEST_NGINX_MEDIA_KEY_FILE; }",
                     more_headers => "Authorization: Bearer $Token\nContent-Type: application/json");

# the job kept with an Idempotency-Key after a 503: its sealed secret, not
# the token
sub kept {
    my ($key) = @_;
    my $p = redis('HGET', "idempotency:$USER:PUT /v1/me/links/twitter:$key", 'payload');
    return $p // '';
}

no_shuffle();
no_root_location();
run_tests();

my $payload = kept("$Run-link");
like($payload, qr/"service":"twitter","action":"link","secret":"[A-Za-z0-9_-]{60,}"/,
     "the job carries the credentials sealed");
unlike($payload, qr/tok-plain-123|sec-plain-456/, "and not in the clear");

__DATA__

=== TEST 1: link without a session: 401
--- more_headers
Content-Type: application/json
--- request
PUT /v1/me/links/twitter
{"token":"a","token_secret":"b"}
--- error_code: 401
--- response_body_like: "code":"unauthorized"



=== TEST 2: a service that is not one: 404 naming it
--- request
PUT /v1/me/links/myspace
{"token":"a","token_secret":"b"}
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"no such service: myspace (twitter, facebook)"}}



=== TEST 3: Twitter's credentials without the token's secret: 400 naming it
--- request
PUT /v1/me/links/twitter
{"token":"a"}
--- error_code: 400
--- response_body_like: "code":"invalid_field".*token_secret



=== TEST 4: Facebook's without the page: 400 naming it
--- request
PUT /v1/me/links/facebook
{"access_token":"a"}
--- error_code: 400
--- response_body_like: "code":"invalid_field".*page_id



=== TEST 5: where no link key is configured: 501
--- config
location / { photo_api; }
--- request
PUT /v1/me/links/twitter
{"token":"a","token_secret":"b"}
--- error_code: 501
--- response_body chomp
{"error":{"code":"not_implemented","message":"linking accounts is not configured here (photo_link_key_file)"}}



=== TEST 6: linked while gearmand refuses: 503, the job kept sealed (checked after the run)
--- http_config eval
PhotoFixture::backends(gearman => '$TEST_NGINX_HOST:$TEST_NGINX_BROKEN_QUEUE_PORT')
--- more_headers eval
"Authorization: Bearer $::Token\nContent-Type: application/json\nIdempotency-Key: $::Run-link"
--- request
PUT /v1/me/links/twitter
{"token":"tok-plain-123","token_secret":"sec-plain-456"}
--- error_code: 503
--- response_body_like: "code":"unavailable"



=== TEST 7: linked: 202
--- request
PUT /v1/me/links/twitter
{"token":"tok-plain-789","token_secret":"sec-plain-000"}
--- error_code: 202
--- response_body_like: ^\{"id":"\d+","status":"queued"\}$



=== TEST 8: unlinked: 202
--- request
DELETE /v1/me/links/facebook
--- error_code: 202
--- response_body_like: ^\{"id":"\d+","status":"queued"\}$



=== TEST 9: share to nothing: 400
--- request eval
"POST /v1/photos/$::Mine/share\n" . '{"to":[]}'
--- error_code: 400
--- response_body_like: "code":"invalid_field".*\\"to\\"



=== TEST 10: share to a service that is not one: 400
--- request eval
"POST /v1/photos/$::Mine/share\n" . '{"to":["twitter","myspace"]}'
--- error_code: 400
--- response_body_like: "code":"invalid_field".*\\"to\\"



=== TEST 11: share to one service twice: 400
--- request eval
"POST /v1/photos/$::Mine/share\n" . '{"to":["twitter","twitter"]}'
--- error_code: 400
--- response_body_like: each once



=== TEST 12: "to" not a list: 400
--- request eval
"POST /v1/photos/$::Mine/share\n" . '{"to":"twitter"}'
--- error_code: 400
--- response_body_like: "code":"invalid_field"



=== TEST 13: share a photo that does not exist: 404
--- request eval
"POST /v1/photos/$::Missing/share\n" . '{"to":["twitter"]}'
--- error_code: 404
--- response_body eval
qq{{"error":{"code":"not_found","message":"no photo $::Missing"}}}



=== TEST 14: share someone else's photo: 403
--- request eval
"POST /v1/photos/$::Theirs/share\n" . '{"to":["twitter"]}'
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden","message":"only its poster can share a photo"}}



=== TEST 15: share one's own: 202
--- request eval
"POST /v1/photos/$::Mine/share\n" . '{"to":["twitter","facebook"]}'
--- error_code: 202
--- response_body_like: ^\{"id":"\d+","status":"queued"\}$
