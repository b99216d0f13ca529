# What a write takes in, before anything is done with it: JSON read
# strictly (no NUL, no lone surrogate, no string that is not UTF-8, no name
# given twice, at any depth), the body's Content-Type, and for a session
# from the cookie an Origin of this site (or of photo_allowed_origin).
# POST /v1/photos with an unknown media_id is the probe: its 400 "not an
# upload of yours" means the request got through all of these to the
# endpoint, which writes nothing.  And nginx's own 501 and 505 of a
# photo_api server are JSON too.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;

my $USER = 8001;
our $Token = 'tok_input_0123456789abcdef';

sql("delete from users where id = $USER");
sql("insert into users (id, username, password_hash) values ($USER, 'input8', '!')");
redis('SET', session_key($Token), $USER, 'EX', 3600);

our $Json = "Content-Type: application/json";
our $Bearer = "Authorization: Bearer $Token\n$Json";
our $Cookie = "Cookie: photo_session=$Token\n$Json";
our $Reached = '{"error":{"code":"invalid_field","message":"\"media_id\" is not an upload of yours"}}';

media_key_file();
photo_block_defaults(config => "location / { photo_api; }",
                     more_headers => $Bearer);

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: a well-formed body reaches the endpoint
--- request
POST /v1/photos
{"media_id":"1","caption":"caf\u00e9 \ud83d\ude00 \\ud800","x":{"media_id":1},"y":[{"a":1},{"a":2}]}
--- error_code: 400
--- response_body eval: $::Reached



=== TEST 2: a NUL character in a value, escaped
--- request
POST /v1/photos
{"media_id":"1","caption":"a\u0000b"}
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"\"caption\" holds a NUL character"}}



=== TEST 3: a NUL character in a member name
--- request
POST /v1/photos
{"media_id":"1","cap\u0000tion":"ab"}
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"a member name holds a NUL character"}}



=== TEST 4: a NUL character deep inside: the innermost member is named
--- request
POST /v1/photos
{"media_id":"1","extra":{"tags":["ok","x\u0000"]}}
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"\"tags\" holds a NUL character"}}



=== TEST 5: lone surrogates: high, high then another escape, high then text, low
--- request eval
[map { "POST /v1/photos\n{\"media_id\":\"1\",\"caption\":\"$_\"}" }
     '\ud800', '\ud83d\u0041', '\uD83Dx', 'a\ude00']
--- error_code eval
[(400) x 4]
--- response_body eval
[('{"error":{"code":"invalid_json","message":"\"caption\" holds a lone surrogate"}}') x 4]



=== TEST 6: a lone surrogate in a member name
--- request
POST /v1/photos
{"media_id":"1","\udfff":"x"}
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"a member name holds a lone surrogate"}}



=== TEST 7: a member given twice
--- request
POST /v1/photos
{"media_id":"1","caption":"a","caption":"b"}
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"\"caption\" is given twice"}}



=== TEST 8: a member given twice in a nested object
--- request
POST /v1/photos
{"media_id":"1","x":[{"k":1},{"k":1,"j":{},"k":2}]}
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"\"k\" is given twice"}}



=== TEST 9: names given twice once unescaped count too
--- request
POST /v1/users
{"username":"a","user\u006eame":"b","password":"12345678"}
--- more_headers eval: $::Json
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"\"username\" is given twice"}}



=== TEST 10: an overlong NUL is no UTF-8 (Postgres would refuse it later)
--- request eval
"POST /v1/photos\n{\"media_id\":\"1\",\"caption\":\"a\xc0\x80b\"}"
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"\"caption\" is not valid UTF-8"}}



=== TEST 11: comments are not JSON
--- request
POST /v1/photos
{"media_id":"1" /* the upload */}
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"the body is not JSON: it holds a comment, or more after the object"}}



=== TEST 12: an unterminated string after the object (yajl takes it)
--- request eval
"POST /v1/photos\n{\"media_id\":\"1\"} \"x"
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"the body is not JSON: it holds a comment, or more after the object"}}



=== TEST 13: a JSON write sent as text/plain: 415
--- request
POST /v1/photos
{"media_id":"1"}
--- more_headers
Authorization: Bearer tok_input_0123456789abcdef
Content-Type: text/plain
--- error_code: 415
--- response_body chomp
{"error":{"code":"unsupported_media_type","message":"the body must be sent as Content-Type: application/json"}}



=== TEST 14: a JSON write without a Content-Type: 415
--- request
POST /v1/photos
{"media_id":"1"}
--- more_headers
Authorization: Bearer tok_input_0123456789abcdef
--- error_code: 415
--- response_body_like: "code":"unsupported_media_type"



=== TEST 15: sign-in as a form: 415, though it takes no session
--- request
POST /v1/sessions
username=input8&password=12345678
--- more_headers
Content-Type: application/x-www-form-urlencoded
--- error_code: 415
--- response_body_like: "code":"unsupported_media_type"



=== TEST 16: a type that only starts with application/json: 415
--- request
POST /v1/photos
{"media_id":"1"}
--- more_headers
Authorization: Bearer tok_input_0123456789abcdef
Content-Type: application/jsonp
--- error_code: 415
--- response_body_like: "code":"unsupported_media_type"



=== TEST 17: any case, and parameters, are fine
--- request
POST /v1/photos
{"media_id":"1"}
--- more_headers
Authorization: Bearer tok_input_0123456789abcdef
Content-Type: Application/JSON ; charset=UTF-8
--- error_code: 400
--- response_body eval: $::Reached



=== TEST 18: an upload sent as JSON: 415 (only image/jpeg or image/png)
--- config
    location / {
        photo_api;
        photo_media_root $TEST_NGINX_SERVER_ROOT/html;
        photo_media_key_file $TEST_NGINX_MEDIA_KEY_FILE;
    }
--- request
POST /v1/media
{"media_id":"1"}
--- error_code: 415
--- response_body chomp
{"error":{"code":"unsupported_media_type","message":"the image must be sent as Content-Type: image/jpeg or image/png"}}



=== TEST 19: an upload as image/gif: 415, before the body is looked at
--- config
    location / {
        photo_api;
        photo_media_root $TEST_NGINX_SERVER_ROOT/html;
        photo_media_key_file $TEST_NGINX_MEDIA_KEY_FILE;
    }
--- request
POST /v1/media
GIF89a
--- more_headers
Authorization: Bearer tok_input_0123456789abcdef
Content-Type: image/gif
--- error_code: 415
--- response_body_like: "code":"unsupported_media_type"



=== TEST 20: a session from the cookie and no Origin: 403
--- more_headers eval: $::Cookie
--- request
POST /v1/photos
{"media_id":"1"}
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden_origin","message":"a write signed in by cookie must come with an Origin header"}}



=== TEST 21: a session from the cookie and another site's Origin: 403
--- more_headers eval
"$::Cookie\nOrigin: http://evil.example"
--- request
POST /v1/photos
{"media_id":"1"}
--- error_code: 403
--- response_body chomp
{"error":{"code":"forbidden_origin","message":"writes signed in by cookie are not taken from this Origin"}}



=== TEST 22: a session from the cookie and this site's Origin (the Host)
--- more_headers eval
"$::Cookie\nHost: api.example:8080\nOrigin: http://API.example:8080"
--- request
POST /v1/photos
{"media_id":"1"}
--- error_code: 400
--- response_body eval: $::Reached



=== TEST 23: the default port may be given on one side only
--- more_headers eval
"$::Cookie\nHost: api.example:80\nOrigin: http://api.example"
--- request
POST /v1/photos
{"media_id":"1"}
--- error_code: 400
--- response_body eval: $::Reached



=== TEST 24: the same host over another scheme is another origin
--- more_headers eval
"$::Cookie\nHost: api.example\nOrigin: https://api.example"
--- request
POST /v1/photos
{"media_id":"1"}
--- error_code: 403
--- response_body_like: "code":"forbidden_origin"



=== TEST 25: X-Forwarded-Proto of an untrusted peer is not believed
--- more_headers eval
"$::Cookie\nHost: api.example\nX-Forwarded-Proto: https\nOrigin: https://api.example"
--- request
POST /v1/photos
{"media_id":"1"}
--- error_code: 403
--- response_body_like: "code":"forbidden_origin"



=== TEST 26: ... and of a photo_trusted_proxy it is: https is this site's scheme
--- config
    location / {
        photo_api;
        photo_trusted_proxy 127.0.0.1;
    }
--- more_headers eval
"$::Cookie\nHost: api.example\nX-Forwarded-Proto: https\nOrigin: https://api.example:443"
--- request
POST /v1/photos
{"media_id":"1"}
--- error_code: 400
--- response_body eval: $::Reached



=== TEST 27: ... also when the realip module put the client's address in its place
--- config
    location / {
        photo_api;
        set_real_ip_from 127.0.0.1;
        real_ip_header X-Forwarded-For;
        photo_trusted_proxy 127.0.0.1;
    }
--- more_headers eval
"$::Cookie\nHost: api.example\nX-Forwarded-For: 203.0.113.7\nX-Forwarded-Proto: https\nOrigin: https://api.example"
--- request
POST /v1/photos
{"media_id":"1"}
--- error_code: 400
--- response_body eval: $::Reached



=== TEST 28: an Origin listed by photo_allowed_origin
--- config
    location / {
        photo_api;
        photo_allowed_origin https://app.example http://localhost:3000;
    }
--- more_headers eval
"$::Cookie\nOrigin: https://APP.example:443"
--- request
POST /v1/photos
{"media_id":"1"}
--- error_code: 400
--- response_body eval: $::Reached



=== TEST 29: ... and one that is not listed
--- config
    location / {
        photo_api;
        photo_allowed_origin https://app.example http://localhost:3000;
    }
--- more_headers eval
"$::Cookie\nOrigin: https://app.example.evil.example"
--- request
POST /v1/photos
{"media_id":"1"}
--- error_code: 403
--- response_body_like: "code":"forbidden_origin"



=== TEST 30: a Bearer token is not checked for its Origin
--- more_headers eval
"$::Bearer\n$::Cookie\nOrigin: http://evil.example"
--- request
POST /v1/photos
{"media_id":"1"}
--- error_code: 400
--- response_body eval: $::Reached



=== TEST 31: writes without a body are checked too: a follow
--- more_headers eval
"Cookie: photo_session=$::Token\nOrigin: http://evil.example"
--- request
POST /v1/users/1/follow
--- error_code: 403
--- response_body_like: "code":"forbidden_origin"



=== TEST 32: ... and a sign-out
--- more_headers eval
"Cookie: photo_session=$::Token\nOrigin: http://evil.example"
--- request
DELETE /v1/sessions
--- error_code: 403
--- response_body_like: "code":"forbidden_origin"



=== TEST 33: an unknown Transfer-Encoding: nginx's 501, as JSON
--- raw_request eval
"POST /v1/photos HTTP/1.1\r
Host: localhost\r
Connection: close\r
Transfer-Encoding: gzip, chunked\r
\r
"
--- error_code: 501
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":{"code":"not_implemented","message":"the request was refused (HTTP 501)"}}



=== TEST 34: HTTP/2.0 in the request line over HTTP/1: nginx's 505, as JSON
--- raw_request eval
"GET /health HTTP/2.0\r
Host: localhost\r
Connection: close\r
\r
"
--- error_code: 505
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":{"code":"version_not_supported","message":"the request was refused (HTTP 505)"}}



=== TEST 35: ... and HTTP/3.0
--- raw_request eval
"GET /v1/feed HTTP/3.0\r
Host: localhost\r
Connection: close\r
\r
"
--- error_code: 505
--- response_body_like: "code":"version_not_supported"



=== TEST 36: a server without photo_api keeps nginx's page
--- http_config eval
$PhotoFixture::Backends . <<'_EOC_';
    server {
        listen $TEST_NGINX_SERVER_PORT;
        server_name plain.example;
        location / { return 204; }
    }
_EOC_
--- raw_request eval
"POST / HTTP/1.1\r
Host: plain.example\r
Connection: close\r
Transfer-Encoding: gzip, chunked\r
\r
"
--- error_code: 501
--- response_headers
Content-Type: text/html
--- response_body_like: <h1>501 Not Implemented</h1>
