# Sign-in and sign-up limits.  Per client address, nginx's own limit_req
# (configured as conf/nginx.conf does: POST only, limit_req_status 429):
# past the burst, 429 with the API's JSON error and Retry-After, from the
# module's error filter.  Per account, the auth worker's backoff (kept in
# Redis): while a username waits, sign-in answers 429 too_many_attempts with
# the seconds left, whatever the password.  The stack's auth worker answers
# the sign-ins that get through.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;

# a name of its own per run, so that no earlier run's count is in the way
our $Name = "limit_$$" . time % 100000;

# an account in backoff for ten minutes, under its lowercase name
our $Waiting = "Waiting_$$";
redis('SET', 'signin_wait:{' . lc($Waiting) . '}', '9', 'PX', 600000);

sub signin {
    my ($name) = @_;
    return qq{POST /v1/sessions\n{"username":"$name","password":"wrong password"}};
}

photo_block_defaults(http_config => $Backends . <<'_EOC_');
    map $request_method $photo_limit_addr {
        POST     $binary_remote_addr;
        default  "";
    }
    limit_req_zone  $photo_limit_addr  zone=signin:1m  rate=1r/m;
    limit_req_zone  $photo_limit_addr  zone=signup:1m  rate=1r/m;
    limit_req_status  429;
_EOC_

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: sign-in past the address's burst: 429 JSON with Retry-After
--- config
    location = /v1/sessions {
        photo_api;
        limit_req zone=signin burst=1 nodelay;
    }
--- more_headers
Content-Type: application/json
--- request eval
[map { ::signin("$::Name.$_") } 1 .. 3]
--- error_code eval
[401, 401, 429]
--- response_headers eval
["!Retry-After", "!Retry-After",
 "Retry-After: 1\nContent-Type: application/json"]
--- response_body eval
['{"error":{"code":"invalid_credentials","message":"wrong username or password"}}',
 '{"error":{"code":"invalid_credentials","message":"wrong username or password"}}',
 '{"error":{"code":"too_many_requests","message":"too many requests; try again later (HTTP 429)"}}']



=== TEST 2: sign-up likewise, refused before its body is read
--- config
    location = /v1/users {
        photo_api;
        limit_req zone=signup burst=1 nodelay;
    }
--- more_headers
Content-Type: application/json
--- request eval
[map { qq{POST /v1/users\n{"username":"$::Name$_","password":"short"}} } 1 .. 3]
--- error_code eval
[400, 400, 429]
--- response_headers eval
["!Retry-After", "!Retry-After",
 "Retry-After: 1\nContent-Type: application/json"]
--- response_body_like eval
[qr/"invalid_field"/, qr/"invalid_field"/,
 qr/^\{"error":\{"code":"too_many_requests","message":"[^"]+"\}\}$/]



=== TEST 3: sign-out is not limited (only POST has an address key)
--- config
    location = /v1/sessions {
        photo_api;
        limit_req zone=signin nodelay;
    }
--- request eval
["DELETE /v1/sessions", "DELETE /v1/sessions", "DELETE /v1/sessions"]
--- error_code eval
[401, 401, 401]
--- response_body_like eval
[qr/"unauthorized"/, qr/"unauthorized"/, qr/"unauthorized"/]



=== TEST 4: an account in backoff: 429 too_many_attempts, the seconds left
--- config
    location / {
        photo_api;
    }
--- more_headers
Content-Type: application/json
--- request eval
qq{POST /v1/sessions\n{"username":"$::Waiting","password":"any password"}}
--- error_code: 429
--- response_headers_like
Retry-After: (59\d|600)
Content-Type: application/json
--- response_body_like eval
qr/^\{"error":\{"code":"too_many_attempts","message":"too many failed sign-ins for this account; try again in (59\d|600) s"\}\}$/
--- no_error_log
[error]
