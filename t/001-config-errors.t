# Configuration mistakes stop nginx at start-up (as `nginx -t` does) with an
# error naming the directive and the file:line. The bad lines live in an
# included file so that the line numbers are the file's own.
use Test::Nginx::Socket 'no_plan';

our $Backends = <<'_EOC_';
    photo_redis      127.0.0.1:16379;
    photo_memcached  127.0.0.1:11311 127.0.0.1:11312;
    photo_postgres   "host=127.0.0.1 port=15432 user=photo dbname=photo";
    photo_gearman    127.0.0.1:14730;
_EOC_

add_block_preprocessor(sub {
    my $block = shift;
    $block->set_value("main_config", 'load_module $TEST_NGINX_PHOTO_MODULE;')
        unless defined $block->main_config;
    $block->set_value("http_config",
                      'include $TEST_NGINX_SERVER_ROOT/html/bad.conf;')
        unless defined $block->http_config;
    $block->set_value("config", "location = /t { return 204; }")
        unless defined $block->config;
    $block->set_value("must_die", "") unless defined $block->must_die;
});

no_shuffle();
run_tests();

__DATA__

=== TEST 1: photo_api takes no argument
--- user_files eval
">>> bad.conf\n$::Backends" . <<'_EOC_'
    server {
        listen 127.0.0.1:19999;
        location / {
            photo_api on;
        }
    }
_EOC_
--- error_log eval
qr/\[emerg\] .*invalid number of arguments in "photo_api" directive in \S+\/bad\.conf:8/



=== TEST 2: photo_api without photo_gearman in the http block
--- user_files
>>> bad.conf
    photo_redis      127.0.0.1:16379;
    photo_memcached  127.0.0.1:11311;
    photo_postgres   "host=127.0.0.1 port=15432";
    server {
        listen 127.0.0.1:19999;
        location / {
            photo_api;
        }
    }
--- error_log eval
qr/\[emerg\] .*"photo_api" in \S+\/bad\.conf:7 needs "photo_gearman" in the http block/



=== TEST 3: photo_api with no backend at all names the first one missing
--- user_files
>>> bad.conf
    server {
        listen 127.0.0.1:19999;
        location /api/ {
            photo_api;
        }
    }
--- error_log eval
qr/\[emerg\] .*"photo_api" in \S+\/bad\.conf:4 needs "photo_redis" in the http block/



=== TEST 4: an unparsable Redis address
--- user_files
>>> bad.conf
    photo_redis 127.0.0.1:notaport;
--- error_log eval
qr/\[emerg\] .*invalid port in "127\.0\.0\.1:notaport" of the "photo_redis" directive in \S+\/bad\.conf:1/



=== TEST 5: an unparsable second memcached address
--- user_files
>>> bad.conf
    photo_memcached 127.0.0.1:11311
                    127.0.0.1:99999;
--- error_log eval
qr/\[emerg\] .*invalid port in "127\.0\.0\.1:99999" of the "photo_memcached" directive in \S+\/bad\.conf:2/



=== TEST 6: a Postgres conninfo that libpq cannot parse
--- user_files
>>> bad.conf
    photo_postgres "host=127.0.0.1 colour=blue";
--- error_log eval
qr/\[emerg\] .*invalid conninfo "host=127\.0\.0\.1 colour=blue": invalid connection option "colour" in \S+\/bad\.conf:1/



=== TEST 7: a timeout that is not a time
--- user_files
>>> bad.conf
    photo_redis_timeout soon;
--- error_log eval
qr/\[emerg\] .*"photo_redis_timeout" directive invalid value in \S+\/bad\.conf:1/



=== TEST 8: backends belong to the http block, not to a location
--- http_config
--- config
    location / {
        photo_redis 127.0.0.1:16379;
    }
--- error_log eval
qr/\[emerg\] .*"photo_redis" directive is not allowed here in /



=== TEST 9: a backend given twice
--- user_files
>>> bad.conf
    photo_gearman 127.0.0.1:14730;
    photo_gearman 127.0.0.1:14731;
--- error_log eval
qr/\[emerg\] .*"photo_gearman" directive is duplicate in \S+\/bad\.conf:2/



=== TEST 10: a default page size over the ceiling (the module's own check)
--- user_files
>>> bad.conf
    photo_max_count 20;
    photo_count 50;
--- error_log eval
qr/\[emerg\] .*"photo_count" 50 is over "photo_max_count" 20 in \S+\/nginx\.conf:\d+/



=== TEST 11: photo_object_cache: a number of objects, not 0
--- user_files eval
">>> bad.conf\n$::Backends    photo_object_cache 0 10s;\n"
--- error_log eval
qr/\[emerg\] .*invalid number of objects "0" in \S+\/bad\.conf:5/



=== TEST 12: photo_object_cache: a time
--- user_files eval
">>> bad.conf\n$::Backends    photo_object_cache 1000 soon;\n"
--- error_log eval
qr/\[emerg\] .*invalid time "soon" in \S+\/bad\.conf:5/



=== TEST 13: photo_media_thread_pool names a thread pool that is not defined
--- user_files eval
">>> bad.conf\n$::Backends    photo_media_thread_pool nope;\n"
--- error_log eval
qr/\[emerg\] .*unknown thread pool "nope" in \S+\/bad\.conf:5/



=== TEST 14: photo_allowed_origin: an origin, not a URL with a path
--- user_files eval
">>> bad.conf\n$::Backends    photo_allowed_origin https://app.example https://app.example/login;\n"
--- error_log eval
qr/\[emerg\] .*invalid origin "https:\/\/app\.example\/login" \(scheme:\/\/host\[:port\], http or https\) in \S+\/bad\.conf:5/



=== TEST 15: photo_media_key_file: a file that is not there
--- user_files eval
">>> bad.conf\n$::Backends    photo_media_key_file /nonexistent/photo_media.key;\n"
--- error_log eval
qr/\[emerg\] .*open\(\) "\/nonexistent\/photo_media\.key" failed \(2: No such file or directory\) in \S+\/bad\.conf:5/



=== TEST 16: photo_media_key_file: a key too short to be a secret
--- user_files eval
">>> bad.conf\n$::Backends    photo_media_key_file \$TEST_NGINX_SERVER_ROOT/html/short.key;\n>>> short.key\nsecret\n"
--- error_log eval
qr/\[emerg\] .*"\S+\/html\/short\.key" holds 7 bytes: a media key is 32 to 1024 random bytes in \S+\/bad\.conf:5/



=== TEST 17: uploads without a key to name them
--- user_files eval
">>> bad.conf\n$::Backends" . <<'_EOC_'
    server {
        listen 127.0.0.1:19999;
        location / {
            photo_api;
            photo_media_root /tmp;
        }
    }
_EOC_
--- error_log eval
qr/\[emerg\] .*"photo_api" in \S+\/bad\.conf:8 has "photo_media_root" and needs "photo_media_key_file"/



=== TEST 18: photo_instance_id, of the id scheme before shard leases: a warning, and nginx reads on
--- user_files
>>> bad.conf
    photo_instance_id 3;
    photo_redis_timout 1s;
--- error_log eval
[qr/\[warn\] .*"photo_instance_id" is obsolete and ignored: photo id shards are leased from Redis in \S+\/bad\.conf:1/,
 qr/\[emerg\] .*unknown directive "photo_redis_timout" in \S+\/bad\.conf:2/]



=== TEST 19: photo_redis_cluster as well as photo_redis
--- user_files eval
">>> bad.conf\n$::Backends    photo_redis_cluster 127.0.0.1:17001 127.0.0.1:17002;\n"
--- error_log eval
qr/\[emerg\] .*"photo_redis_cluster" directive cannot be given with "photo_redis" in \S+\/bad\.conf:5/



=== TEST 20: reads from replicas without a cluster
--- user_files eval
">>> bad.conf\n$::Backends    photo_redis_read_replicas on;\n"
--- error_log eval
qr/\[emerg\] .*"photo_redis_read_replicas" needs "photo_redis_cluster"/



=== TEST 21: photo_media_link_secret_file: a secret too short to sign with
--- user_files
>>> bad.conf
    photo_media_link_secret_file ../html/short.secret;
>>> short.secret
abc123
--- error_log eval
qr/\[emerg\] .*"\S+short\.secret" cannot be read, or is not 16 to 256 printable characters \(\d+: Invalid argument\) in \S+\/bad\.conf:1/



=== TEST 22: photo_media_link_secret_file: a file that is not there
--- user_files
>>> bad.conf
    photo_media_link_secret_file html/none.secret;
--- error_log eval
qr/\[emerg\] .*"\S+none\.secret" cannot be read, or is not 16 to 256 printable characters \(2: No such file or directory\) in \S+\/bad\.conf:1/
