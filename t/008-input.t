# What a write takes in, before anything is done with it: JSON read
# strictly (no NUL, no lone surrogate, no string that is not UTF-8, no name
# given twice, at any depth).  POST /v1/photos with an unknown media_id is
# the probe: its 400 "not an upload of yours" means the request got
# through all of these to the endpoint, which writes nothing.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;

my $USER = 8001;
our $Token = 'tok_input_0123456789abcdef';

sql("delete from users where id = $USER");
sql("insert into users (id, username, password_hash) values ($USER, 'input8', '!')");
redis('SET', "session:$Token", $USER, 'EX', 3600);

our $Json = "Content-Type: application/json";
our $Bearer = "Authorization: Bearer $Token\n$Json";
our $Reached = '{"error":{"code":"invalid_field","message":"\"media_id\" is not an upload of yours"}}';

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



=== TEST 5: a lone high surrogate
--- request
POST /v1/photos
{"media_id":"1","caption":"\ud800"}
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"\"caption\" holds a lone surrogate"}}



=== TEST 6: a high surrogate followed by another escape than a low one
--- request
POST /v1/photos
{"media_id":"1","caption":"\ud83d\u0041"}
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"\"caption\" holds a lone surrogate"}}



=== TEST 7: a high surrogate followed by plain text
--- request
POST /v1/photos
{"media_id":"1","caption":"\uD83Dx"}
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"\"caption\" holds a lone surrogate"}}



=== TEST 8: a lone low surrogate
--- request
POST /v1/photos
{"media_id":"1","caption":"a\ude00"}
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"\"caption\" holds a lone surrogate"}}



=== TEST 9: a lone surrogate in a member name
--- request
POST /v1/photos
{"media_id":"1","\udfff":"x"}
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"a member name holds a lone surrogate"}}



=== TEST 10: a member given twice
--- request
POST /v1/photos
{"media_id":"1","caption":"a","caption":"b"}
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"\"caption\" is given twice"}}



=== TEST 11: a member given twice in a nested object
--- request
POST /v1/photos
{"media_id":"1","x":[{"k":1},{"k":1,"j":{},"k":2}]}
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"\"k\" is given twice"}}



=== TEST 12: names given twice once unescaped count too
--- request
POST /v1/users
{"username":"a","user\u006eame":"b","password":"12345678"}
--- more_headers eval: $::Json
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"\"username\" is given twice"}}



=== TEST 13: an overlong NUL is no UTF-8 (Postgres would refuse it later)
--- request eval
"POST /v1/photos\n{\"media_id\":\"1\",\"caption\":\"a\xc0\x80b\"}"
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"\"caption\" is not valid UTF-8"}}



=== TEST 14: comments are not JSON
--- request
POST /v1/photos
{"media_id":"1" /* the upload */}
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"the body is not JSON: it holds a comment, or more after the object"}}



=== TEST 15: an unterminated string after the object (yajl takes it)
--- request eval
"POST /v1/photos\n{\"media_id\":\"1\"} \"x"
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_json","message":"the body is not JSON: it holds a comment, or more after the object"}}
