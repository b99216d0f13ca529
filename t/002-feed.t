# GET /v1/feed and GET /v1/users/{id}/photos: ids from Redis (rebuilt from
# Postgres when the list is not there), objects from memcached (read from
# Postgres when missing), one JSON page.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;

# --- data: a reader who follows a poster; a user without photos ----------
my ($READER, $POSTER, $QUIET, $OTHER) = (2001, 2002, 2003, 2004);
my $TOKEN = 'tok_reader_0123456789abcdef';
my $base = 9_000_000;
my @ids = map { $base + $_ } 1 .. 30;           # newest is $base + 30

sql("delete from users where id in ($READER, $POSTER, $QUIET, $OTHER)");
sql("insert into users (id, username, password_hash) values
     ($READER, 'reader', '!'), ($POSTER, 'poster', '!'), ($QUIET, 'quiet', '!'),
     ($OTHER, 'other', '!')");
sql("insert into follows (follower, followee) values ($READER, $POSTER)");

our %P;
for my $n (1 .. 30) {
    my $id = $base + $n;
    my %p = (id => $id, user_id => $POSTER, username => 'poster',
             caption => $n == 30 ? "quote \" backslash \\ \x{e9}t\x{e9}" : "photo $n",
             image_url => "/media/p/$n.jpg", width => 1080, height => 1350,
             created_at => 1790000000 + 60 * $n);
    @p{qw(lat lng)} = ('48.8566', '2.3522') if $n % 10 == 0;
    $P{$id} = \%p;
    my ($cap, $lat, $lng) = ($p{caption}, $p{lat} // 'null', $p{lng} // 'null');
    $cap =~ s/'/''/g;
    sql("insert into photos (id, user_id, caption, media_path, image_url, width,
         height, lat, lng, created_at) values ($id, $POSTER, E'"
         . join('', map { $_ eq '\\' ? '\\\\' : $_ } split //, $cap)
         . "', 'p/$n.jpg', '/media/p/$n.jpg', 1080, 1350, $lat, $lng,
         to_timestamp($p{created_at}))");
}
# a photo of someone the reader does not follow: a rebuild never reads it
# from Postgres, so only the list's pending set can bring it into the feed
our $Held = 9_000_040;
$P{$Held} = { id => $Held, user_id => $OTHER, username => 'other',
              caption => 'held', image_url => '/media/p/held.jpg', width => 1080,
              height => 1350, created_at => 1790009000 };
sql("insert into photos (id, user_id, caption, media_path, image_url, width,
     height, created_at) values ($Held, $OTHER, 'held', 'p/held.jpg',
     '/media/p/held.jpg', 1080, 1350, to_timestamp(1790009000))");
binmode STDOUT, ':utf8';

redis('DEL', "feed:{$READER}", "user_photos:{$POSTER}", "user_photos:{$QUIET}",
      "feed:{$QUIET}", "feed:{$READER}:pending");
redis('SET', session_key($TOKEN), $READER, 'EX', 3600);

# tokens as the auth worker makes them, the user's id first: the feed is
# read with native commands; one whose id is not its session's user's
our $Native = "$READER-tok_native_0123456789abcdef";
our $Liar   = "$POSTER-tok_liar_0123456789abcdef";
our $Gone   = "$READER-tok_no_such_session_0123";
redis('SET', session_key($Native), $READER, 'EX', 3600);
redis('SET', session_key($Liar), $READER, 'EX', 3600);
redis('DEL', session_key($Gone));
sql("delete from photos where id = 9000999");
mc_delete("photo:$_") for @ids, 9000999, $Held;

sub obj { my $p = { %{ $P{$_[0]} } }; utf8::encode($p->{caption}); photo_json(liked => 0, %$p) }

sub page {
    my ($next, @page) = @_;
    return '{"photos":[' . join(',', map { obj($_) } @page) . '],"next_max_id":'
        . (defined $next ? "\"$next\"" : 'null') . '}';
}

our $First = page($base + 11, reverse @ids[10 .. 29]);
our $Paged = page($base + 20, map { $base + $_ } reverse 20 .. 24);
our $Last  = page(undef, map { $base + $_ } reverse 1 .. 4);
our $Own   = page($base + 28, map { $base + $_ } 30, 29, 28);
our $One   = obj($base + 5);
our $WithHeld = page($base + 12, $Held, reverse @ids[11 .. 29]);
our $Token = $TOKEN;
$ENV{TEST_NGINX_CLOSED_PORT} = free_port();
(our $Silent, $ENV{TEST_NGINX_SILENT_PORT}) = silent_port();

photo_block_defaults(config => "location / { photo_api; }");

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: no session: 401 with a JSON error
--- request
GET /v1/feed
--- error_code: 401
--- response_headers
Content-Type: application/json
WWW-Authenticate: Bearer
--- response_body chomp
{"error":{"code":"unauthorized","message":"sign in first: no valid session"}}



=== TEST 2: a token that is not a token is refused without asking Redis
--- request
GET /v1/feed
--- more_headers
Authorization: Bearer bad/token!
--- error_code: 401
--- no_error_log
[error]



=== TEST 3: an unknown session: 401
--- request
GET /v1/feed
--- more_headers
Authorization: Bearer tok_nobody_0123456789abcdef
--- error_code: 401
--- response_body_like: "code":"unauthorized"



=== TEST 4: first read of a feed not in Redis: rebuilt from Postgres, newest first, 20 by default
--- request
GET /v1/feed
--- more_headers eval
"Authorization: Bearer $::Token"
--- error_code: 200
--- response_headers
Content-Type: application/json
--- response_body eval
$::First
--- no_error_log
[error]



=== TEST 5: the same page again, now from Redis and memcached, with Postgres down
--- http_config eval
PhotoFixture::backends(postgres => '"host=127.0.0.1 port=$TEST_NGINX_CLOSED_PORT"')
--- request
GET /v1/feed
--- more_headers eval
"Authorization: Bearer $::Token"
--- error_code: 200
--- response_body eval
$::First
--- no_error_log
[error]



=== TEST 6: the session cookie works as well as the header
--- request
GET /v1/feed?count=5&max_id=9000025
--- more_headers eval
"Cookie: theme=dark; photo_session=$::Token"
--- error_code: 200
--- response_body eval
$::Paged



=== TEST 7: max_id pages backwards to the end: next_max_id is null
--- request
GET /v1/feed?max_id=9000005&count=10
--- more_headers eval
"Authorization: Bearer $::Token"
--- error_code: 200
--- response_body eval
$::Last



=== TEST 8: count that is not a number
--- request
GET /v1/feed?count=ten
--- more_headers eval
"Authorization: Bearer $::Token"
--- error_code: 400
--- response_body chomp
{"error":{"code":"invalid_argument","message":"count must be a whole number from 1 to 100"}}



=== TEST 9: count zero, negative, over the maximum
--- request eval
["GET /v1/feed?count=0", "GET /v1/feed?count=-5", "GET /v1/feed?count=101", "GET /v1/feed?count=99999999999999999999999"]
--- more_headers eval
"Authorization: Bearer $::Token"
--- error_code eval
[400, 400, 400, 400]
--- response_body_like eval
[qr/count must be/, qr/count must be/, qr/count must be/, qr/count must be/]



=== TEST 10: count given twice
--- request
GET /v1/feed?count=5&count=6
--- more_headers eval
"Authorization: Bearer $::Token"
--- error_code: 400
--- response_body_like: count is given more than once



=== TEST 11: max_id that is not an id
--- request eval
["GET /v1/feed?max_id=abc", "GET /v1/feed?max_id=0", "GET /v1/feed?max_id=9223372036854775808", "GET /v1/feed?max_id=", "GET /v1/feed?max_id=1&max_id=2"]
--- more_headers eval
"Authorization: Bearer $::Token"
--- error_code eval
[400, 400, 400, 400, 400]
--- response_body_like eval
[qr/max_id must be/, qr/max_id must be/, qr/max_id must be/, qr/max_id must be/, qr/max_id is given more than once/]



=== TEST 12: photo_max_count raises the ceiling; count=100 returns what there is
--- config
    location / {
        photo_api;
        photo_max_count 200;
    }
--- request
GET /v1/feed?count=150
--- more_headers eval
"Authorization: Bearer $::Token"
--- error_code: 200
--- response_body_like: ^\{"photos":\[\{"id":"9000030",.*\{"id":"9000001",[^\]]*\}\],"next_max_id":null\}$



=== TEST 13: one user's own photos (list rebuilt from Postgres)
--- request
GET /v1/users/2002/photos?count=3
--- more_headers eval
"Authorization: Bearer $::Token"
--- error_code: 200
--- response_body eval
$::Own



=== TEST 14: a user without photos: an empty page
--- request
GET /v1/users/2003/photos
--- more_headers eval
"Authorization: Bearer $::Token"
--- error_code: 200
--- response_body chomp
{"photos":[],"next_max_id":null}



=== TEST 15: a user that does not exist: 404
--- request
GET /v1/users/77777777/photos
--- more_headers eval
"Authorization: Bearer $::Token"
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"no user 77777777"}}



=== TEST 16: user ids that are not ids
--- request eval
["GET /v1/users/abc/photos", "GET /v1/users/0/photos", "GET /v1/users/-3/photos", "GET /v1/users/99999999999999999999/photos"]
--- more_headers eval
"Authorization: Bearer $::Token"
--- error_code eval
[400, 400, 400, 400]
--- response_body_like eval
[qr/"code":"invalid_id","message":"the user id must be a positive 64-bit integer"/, qr/invalid_id/, qr/invalid_id/, qr/invalid_id/]



=== TEST 17: unknown paths under /v1
--- request eval
["GET /v1/users/2002/friends", "GET /v1/feeds", "GET /v1/users/2002/photos/extra"]
--- error_code eval
[404, 404, 404]
--- response_body_like eval
[qr/"code":"not_found"/, qr/"code":"not_found"/, qr/"code":"not_found"/]



=== TEST 18: one photo
--- request
GET /v1/photos/9000005
--- more_headers eval
"Authorization: Bearer $::Token"
--- error_code: 200
--- response_body eval
$::One



=== TEST 19: a photo that does not exist: 404
--- request
GET /v1/photos/9000999
--- more_headers eval
"Authorization: Bearer $::Token"
--- error_code: 404
--- response_body chomp
{"error":{"code":"not_found","message":"no photo 9000999"}}



=== TEST 20: writes to read endpoints: 405
--- request
POST /v1/feed
{}
--- more_headers eval
"Authorization: Bearer $::Token"
--- error_code: 405
--- response_body_like: /v1/feed does not take POST



=== TEST 21: a token that begins with its user's id: the same page (native commands)
--- request
GET /v1/feed
--- more_headers eval
"Authorization: Bearer $::Native"
--- error_code: 200
--- response_body eval
$::First
--- no_error_log
[error]



=== TEST 22: a token whose id is not its session's user: that user's feed all the same
--- request
GET /v1/feed
--- more_headers eval
"Authorization: Bearer $::Liar"
--- error_code: 200
--- response_body eval
$::First
--- no_error_log
[error]



=== TEST 23: a token with an id but no session: 401
--- request
GET /v1/feed
--- more_headers eval
"Authorization: Bearer $::Gone"
--- error_code: 401
--- response_body chomp
{"error":{"code":"unauthorized","message":"sign in first: no valid session"}}



=== TEST 24: one user's own photos read natively, paged, with a session of someone else
--- request
GET /v1/users/2002/photos?count=3
--- more_headers eval
"Authorization: Bearer $::Native"
--- error_code: 200
--- response_body eval
$::Own



=== TEST 25: a feed left without its marker, shorter than a page (made before fan-out kept to complete lists): rebuilt, the whole page
--- init
PhotoFixture::redis('DEL', "feed:{2001}");
PhotoFixture::redis('ZADD', "feed:{2001}", 0, PhotoFixture::list_id(9000030),
                    0, PhotoFixture::list_id(9000029));
--- request
GET /v1/feed
--- more_headers eval
"Authorization: Bearer $::Native"
--- error_code: 200
--- response_body eval
$::First
--- no_error_log
[error]



=== TEST 26: a rebuild takes in the ids the workers held for the list while it was not in Redis (its pending set)
--- init
PhotoFixture::redis('DEL', "feed:{2001}");
PhotoFixture::redis('ZADD', "feed:{2001}:pending", 0, PhotoFixture::list_id(9000040));
--- request
GET /v1/feed
--- more_headers eval
"Authorization: Bearer $::Native"
--- error_code: 200
--- response_body eval
$::First
--- no_error_log
[error]



=== TEST 27: the next read is of the stored list: the held photo in it, the pending set gone
--- init
die "the pending set is still there\n"
    if PhotoFixture::redis('EXISTS', "feed:{2001}:pending");
--- request
GET /v1/feed
--- more_headers eval
"Authorization: Bearer $::Native"
--- error_code: 200
--- response_body eval
$::WithHeld
--- no_error_log
[error]
