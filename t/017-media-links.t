# Signed links to the pictures (photo_media_link_secret_file,
# contract/photo_media.h): an object read through from Postgres lists its
# sized copies, once photos.images has them, each with a link signed as
# nginx's secure_link checks it, expiring in one to two days; the upload's
# answer links it signed too; and nginx's secure_link, with
# $photo_media_link_secret, serves a good link and refuses (403) one
# unsigned, tampered, or expired.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;
use Digest::MD5 qw(md5_base64);
use POSIX qw(floor);

my ($READER, $POSTER) = (6301, 6302);
our $Token = 'tok_links_0123456789abcdef';
our $Secret = 'links-secret-of-the-tests-0123456789';

my ($ids, $p) = reader_and_poster(reader => $READER, poster => $POSTER,
                                  name => 'linked', base => 9_850_000,
                                  at => 1790003000);
our @Ids = @$ids;
complete_feed($READER, $Token, @Ids);
# the first photo has its sizes, the others not yet
sql("update photos set images = '{150,150,320,240,640,480,640,480}'
     where id = $Ids[0]");
mc_delete("photo:$_") for @Ids;

# photo_media_link(), made here again from the documented string
sub link_of {
    my ($path, $e) = @_;
    (my $s = md5_base64("$e$path $Secret")) =~ tr{+/}{-_};
    return "$path?e=$e&s=$s";
}

sub expires_of {
    my ($id) = @_;
    my $off = $id % 86400;
    return (floor((time + $off) / 86400) + 1) * 86400 - $off + 86400;
}

our $E0 = expires_of($Ids[0]);
our $E1 = expires_of($Ids[1]);
our $Future = time + 3600;

photo_block_defaults(
    http_config => $Backends . "    photo_media_link_secret_file ../html/links.secret;",
    config => <<'_EOC_',
    location / {
        photo_api;
    }
    location /media/ {
        secure_link     $arg_s,$arg_e;
        secure_link_md5 "$secure_link_expires$uri $photo_media_link_secret";
        if ($secure_link != 1) {
            return 403;
        }
        alias $TEST_NGINX_SERVER_ROOT/html/;
    }
_EOC_
    user_files => ">>> links.secret\n$Secret\n>>> linked/2.jpg\nsecond picture\n",
    more_headers => "Authorization: Bearer $Token");

no_shuffle();
no_root_location();
run_tests();

# written back after the answers: memcached holds the objects as sent
my $cached = mc_get("photo:$Ids[1]") // '';
my $want = link_of('/media/linked/2.jpg', $E1);
like($cached, qr{"image_url":"\Q$want\E"},
     "memcached holds the object read through, with its signed link");

__DATA__

=== TEST 1: a photo with its sizes: each linked, signed, image_url the full one's
--- request eval
"GET /v1/photos/$::Ids[0]"
--- error_code: 200
--- response_body_like eval
my $l = sub { quotemeta main::link_of($_[0], $::E0) };
qr/"image_url":"@{[ $l->('\/media\/full\/linked\/1.jpg') ]}","width":640,"height":480,"images":\{"thumbnail":\{"url":"@{[ $l->('\/media\/thumbnail\/linked\/1.jpg') ]}","width":150,"height":150\},"low":\{"url":"@{[ $l->('\/media\/low\/linked\/1.jpg') ]}","width":320,"height":240\},"standard":\{"url":"[^"]+","width":640,"height":480\},"full":\{"url":"[^"]+","width":640,"height":480\}\}/
--- no_error_log
[warn]



=== TEST 2: a photo without sizes yet: its upload's link, signed
--- request eval
"GET /v1/photos/$::Ids[1]"
--- error_code: 200
--- response_body_like eval
my $l = quotemeta main::link_of('/media/linked/2.jpg', $::E1);
qr/"image_url":"$l","width":640,"height":480,"like_count"/
--- no_error_log
[warn]



=== TEST 3: a good link is served; unsigned, tampered or expired: 403
--- request eval
[ "GET " . main::link_of('/media/linked/2.jpg', $::Future),
  "GET /media/linked/2.jpg",
  "GET " . (main::link_of('/media/linked/2.jpg', $::Future) =~ s/e=(\d+)/"e=" . ($1 + 1)/er),
  "GET " . main::link_of('/media/linked/1.jpg', $::Future) =~ s/1\.jpg/2.jpg/r,
  "GET " . main::link_of('/media/linked/2.jpg', time - 5) ]
--- error_code eval
[200, 403, 403, 403, 403]
--- response_body_like eval
[qr/^second picture$/, qr/403/, qr/403/, qr/403/, qr/403/]
