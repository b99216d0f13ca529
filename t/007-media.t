# POST /v1/media stored by a thread of photo_media_thread_pool: the image
# is stored under a name keyed on its bytes and its uploader (HMAC-SHA256,
# photo_media_key_file) and served back as sent; a body nginx spooled to a
# temp file is read back, and every body hashed, by that thread too (by the
# worker without a pool); the upload waits in Redis for its post
# (media:<id>, for a day); a file that cannot be written is a 500 (JSON, as
# every error of the API) with the failed call in the error log.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;
use Digest::SHA ();

our ($USER, $OTHER) = (7001, 7002);
our $Token = 'tok_media_0123456789abcdef';
our $OtherToken = 'tok_media_other_0123456789';

sql("delete from users where id in ($USER, $OTHER)");
sql("insert into users (id, username, password_hash) values
     ($USER, 'uploader7', '!'), ($OTHER, 'uploader7b', '!')");
redis('SET', session_key($Token), $USER, 'EX', 3600);
redis('SET', session_key($OtherToken), $OTHER, 'EX', 3600);

our $Png = png();
# more than client_body_buffer_size 1k and the header buffer: spooled
our $Big = png(64 * 1024);

# the name: HMAC-SHA256 of the bytes under the uploader's key, which is the
# HMAC of their id under the media key
sub media_path {
    my ($user, $bytes) = @_;
    my $name = Digest::SHA::hmac_sha256_hex(
                   $bytes, Digest::SHA::hmac_sha256($user, $MediaKey));
    return substr($name, 0, 2) . "/$name.png";
}

our $Path = media_path($USER, $Png);
our $OtherPath = media_path($OTHER, $Png);
our $BigPath = media_path($USER, $Big);
our $BigAnswer = qr/^\{"media_id":"\d+","image_url":"\/media\/\Q$BigPath\E","width":3,"height":2\}$/;

# a spooled body read back and hashed by the pool's thread (its id is not
# the worker's pid) or, without a pool, by the worker itself
sub read_back_by {
    my ($thread) = @_;
    my $by = $thread ? '(?!\1)\d+' : '\1';
    return [qr/\[warn\] .*a client request body is buffered to a temporary file/,
            map { qr/\[debug\] (\d+)#$by: (?:\*\d+ )?photo $_/ }
                'body: \d+ bytes read back', 'media: \d+ bytes hashed'];
}

isnt($Path, $OtherPath, "two users' uploads of the same bytes are two names");
for my $plain (Digest::SHA::sha1_hex($Png), Digest::SHA::sha256_hex($Png)) {
    unlike("$Path $OtherPath", qr/\Q$plain\E/,
           "and neither is a plain hash of the bytes");
}

# what a block has unless it says otherwise: uploads written by a pool's
# thread, served back under /media/
media_key_file();
photo_block_defaults(main_config => <<'_EOC_',
    load_module $TEST_NGINX_PHOTO_MODULE;
    thread_pool photo_media threads=1;
_EOC_
                     http_config => $Backends
                         . '    photo_media_key_file $TEST_NGINX_MEDIA_KEY_FILE;',
                     config => <<'_EOC_',
    location / {
        photo_api;
        photo_media_root $TEST_NGINX_SERVER_ROOT/html;
        photo_media_thread_pool photo_media;
    }
    location /media/ {
        alias $TEST_NGINX_SERVER_ROOT/html/;
    }
_EOC_
                     more_headers => "Authorization: Bearer $Token\nContent-Type: image/png");

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: written by the pool's thread, served back byte for byte
--- request eval
["POST /v1/media\n$::Png", "GET /media/$::Path"]
--- error_code eval
[201, 200]
--- response_body_like eval
[qr/^\{"media_id":"\d+","image_url":"\/media\/\Q$::Path\E","width":3,"height":2\}$/,
 qr/^\Q$::Png\E\z/]



=== TEST 2: another user's upload of the same bytes is another file
--- more_headers eval
"Authorization: Bearer $::OtherToken\nContent-Type: image/png"
--- request eval
["POST /v1/media\n$::Png", "GET /media/$::OtherPath"]
--- error_code eval
[201, 200]
--- response_body_like eval
[qr/^\{"media_id":"\d+","image_url":"\/media\/\Q$::OtherPath\E","width":3,"height":2\}$/,
 qr/^\Q$::Png\E\z/]



=== TEST 3: the file is written in the pool's thread, not by the worker
--- request eval
"POST /v1/media\n$::Png"
--- error_code: 201
--- log_level: debug
--- error_log eval
[qr/\[debug\] (\d+)#(?!\1)\d+: run task #\d+ in thread pool "photo_media"/,
 qr/run completion handler for task #\d+/]



=== TEST 4: a body nginx spooled to a file is read back and hashed in the pool's thread too
--- config
    location / {
        photo_api;
        photo_media_root $TEST_NGINX_SERVER_ROOT/html;
        photo_media_thread_pool photo_media;
        client_body_buffer_size 1k;
    }
--- request eval
"POST /v1/media\n$::Big"
--- error_code: 201
--- response_body_like eval
$::BigAnswer
--- log_level: debug
--- error_log eval
::read_back_by('thread')



=== TEST 5: without a pool, the worker reads it back and hashes it itself
--- config
    location / {
        photo_api;
        photo_media_root $TEST_NGINX_SERVER_ROOT/html;
        client_body_buffer_size 1k;
    }
--- request eval
"POST /v1/media\n$::Big"
--- error_code: 201
--- response_body_like eval
$::BigAnswer
--- log_level: debug
--- error_log eval
::read_back_by()
--- no_error_log
run task



=== TEST 6: the upload waits for its post in Redis: media:<id>, its user's, for a day
--- init
my $a = PhotoFixture::http($ENV{TEST_NGINX_SERVER_PORT}, 'POST /v1/media',
                           { Authorization => "Bearer $::Token",
                             'Content-Type' => 'image/png' }, $::Png);
my ($id) = $a->{body} =~ /^\{"media_id":"(\d+)"/;
Test::More::ok($a->{status} == 201 && $id, "an upload: 201 with an id")
    or Test::More::diag($a->{body});
Test::More::is(PhotoFixture::redis('GET', "media:" . ($id // 0)),
               qq({"user_id":"$::USER","media_path":"$::Path",)
               . qq("image_url":"/media/$::Path","width":3,"height":2}),
               "media:<id> holds its user, path, URL and size");
my $ttl = PhotoFixture::redis('TTL', "media:" . ($id // 0));
Test::More::ok($ttl > 86400 - 60 && $ttl <= 86400,
               "media:<id> expires in a day ($ttl s)");
--- request eval
"GET /media/$::Path"
--- error_code: 200
--- response_body_like eval
qr/^\Q$::Png\E\z/



=== TEST 7: a file that cannot be written: 500, the failed call logged
--- config
    location / {
        photo_api;
        photo_media_root $TEST_NGINX_SERVER_ROOT/html/a_file;
        photo_media_thread_pool photo_media;
    }
--- user_files
>>> a_file
not a directory
--- request eval
"POST /v1/media\n$::Png"
--- error_code: 500
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":{"code":"internal_error","message":"the server failed; its log says more (HTTP 500)"}}
--- error_log eval
qr/\[crit\] .*mkdir\(\) ".*\/html\/a_file\/[0-9a-f]{2}" failed \(20: Not a directory\)/



=== TEST 8: nginx's own refusals are JSON too: a body over client_max_body_size
--- config
    location / {
        photo_api;
        photo_media_root $TEST_NGINX_SERVER_ROOT/html;
        client_max_body_size 100;
    }
--- request eval
"POST /v1/media\n$::Png" . ("\0" x 200)
--- error_code: 413
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":{"code":"too_large","message":"the request was refused (HTTP 413)"}}



=== TEST 9: and a location without photo_api keeps nginx's page
--- config
    location / {
        photo_api;
    }
    location /plain/ {
        return 500;
    }
--- request
GET /plain/x
--- error_code: 500
--- response_headers
Content-Type: text/html
--- response_body_like: <h1>500 Internal Server Error</h1>
