# A user's profile (GET /v1/users/{id}) and one's own (GET /v1/me): the
# name, the counts, and whether the reader follows them; 404 for no such
# user, 400 for an id that is not one, 401 without a session.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;

our ($READER, $POSTER) = (6401, 6402);
our $Token = 'tok_profile_0123456789abcdef';

reader_and_poster(reader => $READER, poster => $POSTER, name => 'profiled',
                  base => 9_860_000, at => 1790004000);
redis('SET', session_key($Token), $READER, 'EX', 3600);

photo_block_defaults(config => "location / { photo_api; }",
                     more_headers => "Authorization: Bearer $Token");

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: someone the reader follows: their counts, following
--- request eval
"GET /v1/users/$::POSTER"
--- error_code: 200
--- response_body eval
qq({"id":"$::POSTER","username":"poster_profiled","photo_count":6,"follower_count":1,"following_count":0,"following":true})



=== TEST 2: the reader seen by the poster's own eyes: not followed back
--- request eval
"GET /v1/users/$::READER"
--- error_code: 200
--- response_body eval
qq({"id":"$::READER","username":"reader_profiled","photo_count":0,"follower_count":0,"following_count":1,"following":false})



=== TEST 3: GET /v1/me: the session's user
--- request
GET /v1/me
--- error_code: 200
--- response_body eval
qq({"id":"$::READER","username":"reader_profiled","photo_count":0,"follower_count":0,"following_count":1,"following":false})



=== TEST 4: no such user: 404
--- request
GET /v1/users/999999999
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"no user 999999999"}}



=== TEST 5: not an id: 400
--- request
GET /v1/users/12ab
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_id","message":"the user id must be a positive 64-bit integer"}}



=== TEST 6: no session: 401
--- request
GET /v1/me
--- more_headers
Authorization: Bearer nope_0123456789abcdef
--- error_code: 401
