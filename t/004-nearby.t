# GET /v1/photos/nearby: ids from Solr (here the stand-in in t/solr, which
# computes geofilt for real), through an nginx subrequest, then hydrated
# like a feed.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;
use POSIX ();

my $USER = 4001;
our $Token = 'tok_nearby_0123456789abcdef';
my $base = 9_200_000;

# Notre-Dame, ~1 km and ~5 km from it, and London
my @places = ([48.853, 2.3499], [48.8620, 2.3499], [48.8980, 2.3499],
              [51.5072, -0.1276]);

sql("delete from users where id = $USER");
sql("insert into users (id, username, password_hash) values ($USER, 'walker', '!')");
our %P;
my @docs;
for my $n (1 .. 4) {
    my $id = $base + $n;
    my ($lat, $lng) = @{ $places[$n - 1] };
    # the farther, the newer: "recent" is the reverse of "nearest"
    my $t = 1790002000 + 100 * $n;
    $P{$id} = { id => $id, user_id => $USER, username => 'walker',
                caption => "place $n", image_url => "/media/n/$n.jpg",
                width => 800, height => 600, lat => $lat, lng => $lng,
                created_at => $t };
    sql("insert into photos (id, user_id, caption, media_path, image_url, width,
         height, lat, lng, created_at) values ($id, $USER, 'place $n', 'n/$n.jpg',
         '/media/n/$n.jpg', 800, 600, $lat, $lng, to_timestamp($t))");
    mc_delete("photo:$id");
    push @docs, sprintf('{"id":"%d","user_id":"%d","caption":"place %d",'
        . '"created_at":"%s","location":"%s,%s"}', $id, $USER, $n,
        POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $t), $lat, $lng);
}
redis('SET', session_key($Token), $USER, 'EX', 3600);

$ENV{TEST_NGINX_SOLR_PORT} = solr_start();
solr_update($ENV{TEST_NGINX_SOLR_PORT}, '[' . join(',', @docs) . ']');
$ENV{TEST_NGINX_CLOSED_PORT} = free_port();

sub page { '{"photos":[' . join(',', map { photo_json(liked => 0, %{ $P{$base + $_} }) } @_)
           . '],"next_max_id":null}' }
our $Near10 = page(1, 2, 3);
our $Near2  = page(1, 2);
our $Recent = page(3, 2, 1);

our $Config = <<'_EOC_';
    location / {
        photo_api;
        photo_solr_location /_solr;
    }

    location /_solr/ {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SOLR_PORT/solr/photos/;
        proxy_connect_timeout 1s;
        proxy_read_timeout 2s;
        subrequest_output_buffer_size 64k;
    }
_EOC_

photo_block_defaults(config => $Config,
                     more_headers => "Authorization: Bearer $Token");

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: photos within 10 km, nearest first, not London
--- request
GET /v1/photos/nearby?lat=48.853&lng=2.3499&radius_km=10
--- error_code: 200
--- response_body eval
$::Near10



=== TEST 2: within 2 km only the two nearest
--- request
GET /v1/photos/nearby?lat=48.853&lng=2.3499&radius_km=2
--- error_code: 200
--- response_body eval
$::Near2



=== TEST 3: sort=recent orders by time instead
--- request
GET /v1/photos/nearby?lat=48.853&lng=2.3499&radius_km=10&sort=recent
--- error_code: 200
--- response_body eval
$::Recent



=== TEST 4: bad coordinates, radius, count or sort: 400 naming them
--- request eval
["GET /v1/photos/nearby?lng=2.35", "GET /v1/photos/nearby?lat=91&lng=2", "GET /v1/photos/nearby?lat=48&lng=2&radius_km=0", "GET /v1/photos/nearby?lat=48&lng=2&count=5000", "GET /v1/photos/nearby?lat=48&lng=2&sort=best", "GET /v1/photos/nearby?lat=4x&lng=2"]
--- error_code eval
[400, 400, 400, 400, 400, 400]
--- response_body_like eval
[qr/lat .* and lng .* are required/, qr/lat/, qr/radius_km must be/, qr/count must be/, qr/sort must be/, qr/lat/]



=== TEST 5: no session: 401
--- more_headers
X-Nothing: 1
--- request
GET /v1/photos/nearby?lat=48.853&lng=2.3499
--- error_code: 401



=== TEST 6: Solr down: a prompt 503 JSON
--- config
    location / {
        photo_api;
        photo_solr_location /_solr;
    }

    location /_solr/ {
        internal;
        proxy_pass http://127.0.0.1:$TEST_NGINX_CLOSED_PORT/solr/photos/;
        proxy_connect_timeout 1s;
    }
--- request
GET /v1/photos/nearby?lat=48.853&lng=2.3499
--- timeout: 3
--- error_code: 503
--- response_body chomp
{"error":{"code":"unavailable","message":"solr is unavailable, try again shortly"}}
