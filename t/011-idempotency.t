# Idempotency-Key on the writes (ngx_photo_idempotency.c): a malformed key
# is a 400; a retry with a key gets the first answer again, whatever has
# changed since (a deleted photo, a taken username), marked
# Idempotent-Replayed, and no second job; another body with the same key is
# 422; a retry while the first attempt still runs is 409; after a 503 (the
# job may or may not be in gearmand), or after an attempt that died holding
# the key, the retry submits the job that attempt kept: same id, same
# payload.  The stack's workers apply the jobs; the end of the file checks
# Postgres.  (gearmand frozen mid-submit, end to end:
# t/scripts/e2e_idempotency.py.)
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;
use Digest::SHA ();
use POSIX ();
use Time::HiRes ();

our ($USER, $OTHER) = (10001, 10002);
our $Token = 'tok_idem_0123456789abcdef';
our $Auth = "Authorization: Bearer $Token\nContent-Type: application/json";
our $Media = 9_700_001;
our $Mine = 9_700_002;                         # a photo of the user's
# keys, captions and names of this run: records last a day
our $Run = "r$$" . time % 100000;
our ($OnceId, $KeptId);                     # ids the blocks learn

sql("delete from users where id in ($USER, $OTHER)");
sql("delete from photo_deletions where id = $Mine");
sql("insert into users (id, username, password_hash) values
     ($USER, 'idem10', '!'), ($OTHER, 'idem10b', '!')");
sql("insert into photos (id, user_id, media_path, image_url, width, height)
     values ($Mine, $USER, 'i/$Mine.png', '/media/i/$Mine.png', 3, 2)");
redis('SET', session_key($Token), $USER, 'EX', 3600);
redis('SET', "media:$Media", qq[{"user_id":"$USER","media_path":"i/$Media.png",]
      . qq["image_url":"/media/i/$Media.png","width":3,"height":2}], 'EX', 3600);

sub post_body { qq{{"media_id":"$Media","caption":"$Run $_[0]"}} }

# a record left by an attempt that died after it kept its job: held by
# nobody now (until 0), the job's caption its own
our $DeadId = ((int(Time::HiRes::time() * 1000) - 1767225600000) << 23) | 8191 << 10;
our $DeadBody = post_body('retried');
redis('HSET', "idempotency:$USER:POST /v1/photos:$Run-dead",
      'fp', Digest::SHA::sha1_hex("POST /v1/photos\n$DeadBody"),
      'owner', 'an attempt that died', 'until', 0,
      'fn', 'photo_persist', 'id', $DeadId,
      'payload', qq[{"unique":"$DeadId","id":"$DeadId","user_id":"$USER",]
                 . qq["caption":"$Run kept by the attempt that died",]
                 . qq["media_path":"i/$Media.png","image_url":"/media/i/$Media.png",]
                 . qq["width":3,"height":2,"created_at":] . time . '}');
redis('EXPIRE', "idempotency:$USER:POST /v1/photos:$Run-dead", 600);

media_key_file();
$ENV{TEST_NGINX_CLOSED_PORT} = free_port();
(our $Silent, $ENV{TEST_NGINX_SILENT_PORT}) = silent_port();

our $KeyFile = 'photo_media_key_file $TEST_NGINX_MEDIA_KEY_FILE;';

photo_block_defaults(http_config => backends(more => [$KeyFile]),
                     config => 'location / { photo_api; '
                               . 'photo_media_root $TEST_NGINX_SERVER_ROOT/html; }',
                     more_headers => $Auth);

# what a JSON write sends
our %Json = ('Content-Type' => 'application/json');

# (an error's random request id aside, as in the blocks)
sub call {
    my $a = http(server_port(), @_);
    $a->{body} = PhotoFixture::without_request_id($a->{body});
    return $a;
}

# the first answer and the retry's: the same status, body and cookies
sub replayed {
    my ($what, $first, $again) = @_;
    Test::More::is("$again->{status} $again->{body}", "$first->{status} $first->{body}",
                   "$what: the retry gets the same answer");
    Test::More::is($again->{headers}{'set-cookie'}, $first->{headers}{'set-cookie'},
                   "$what: and the same Set-Cookie")
        if defined $first->{headers}{'set-cookie'};
    Test::More::ok(!$first->{headers}{'idempotent-replayed'}
                   && ($again->{headers}{'idempotent-replayed'} // '') eq 'true',
                   "$what: marked Idempotent-Replayed");
}

# a photo held by a forked request, waiting for a gearmand that never
# answers, while the block's own request comes
sub held_post {
    my ($key) = @_;
    defined(my $pid = fork) or die "fork: $!";
    if ($pid == 0) {
        call('POST /v1/photos', { Authorization => "Bearer $Token", %Json,
                                  'Idempotency-Key' => $key }, post_body('held'));
        POSIX::_exit(0);
    }
    Time::HiRes::sleep(0.3);
}

sub poll {
    my ($cond) = @_;
    for (1 .. 100) { return 1 if $cond->(); Time::HiRes::sleep(0.05) }
    return 0;
}

sub captions {
    my ($caption) = @_;
    return map { $_->[0] } sql("select id from photos where caption = '$caption'");
}

no_shuffle();
no_root_location();
run_tests();

# what the workers did with the jobs
poll(sub { captions("$Run once") && captions("$Run refused")
           && sql("select 1 from photos where id = $DeadId") });
Time::HiRes::sleep(0.3);
is(join(',', captions("$Run once")), $::OnceId // 'none',
   'a post retried twice is one photo, under the first answer\'s id');
is(join(',', captions("$Run refused")), $::KeptId // 'none',
   'a post answered 503, then retried: one photo, under the id of the job it kept');
my ($dead) = sql("select caption from photos where id = $DeadId");
is($dead ? $dead->[0] : 'none', "$Run kept by the attempt that died",
   'the job an attempt that died kept is the one submitted, as it was');

__DATA__

=== TEST 1: a malformed Idempotency-Key: 400 JSON, nothing done
--- request eval
[("POST /v1/photos\n" . ::post_body('malformed')) x 5, "DELETE /v1/sessions"]
--- more_headers eval
[map { "$::Auth\n$_" } "Idempotency-Key: ", "Idempotency-Key: " . ("k" x 256),
 "Idempotency-Key: caf\xc3\xa9", "Idempotency-Key: a\x7fb",
 "Idempotency-Key: a\nIdempotency-Key: b", "Idempotency-Key: "]
--- error_code eval
[(400) x 6]
--- response_body eval
[('{"error":{"code":"invalid_idempotency_key","message":"\"Idempotency-Key\" must be given once, with 1 to 255 printable ASCII characters"}}') x 6]



=== TEST 2: a post retried: the first answer again, the same id, marked as replayed; another body with the key: 422
--- init
my $h = { Authorization => "Bearer $::Token", %::Json, 'Idempotency-Key' => "$::Run-once" };
my $first = ::call('POST /v1/photos', $h, ::post_body('once'));
Test::More::like($first->{body}, qr/^\{"id":"(\d+)","status":"queued"\}$/, 'the first: 202 with an id');
($::OnceId) = $first->{body} =~ /"id":"(\d+)"/;
::replayed('a post', $first, ::call('POST /v1/photos', $h, ::post_body('once')));
my $other = ::call('POST /v1/photos', $h, ::post_body('another'));
Test::More::is("$other->{status} $other->{body}",
               '422 {"error":{"code":"idempotency_key_reused","message":"this Idempotency-Key was used for another request"}}',
               'the key with another body: 422');
--- request eval
"POST /v1/photos\n" . ::post_body('once')
--- more_headers eval
"$::Auth\nIdempotency-Key: $::Run-once"
--- error_code: 202
--- response_headers
Idempotent-Replayed: true
--- response_body_like: ^\{"id":"\d+","status":"queued"\}$



=== TEST 3: every write replays its first answer, even once the world has changed
--- init
my $auth = { Authorization => "Bearer $::Token" };
my $json = { %$auth, %::Json };
my @writes = (
    ['sign-up', 'POST /v1/users', \%::Json, qq{{"username":"idem$::Run","password":"long enough"}}],
    ['sign-in', 'POST /v1/sessions', \%::Json, qq{{"username":"idem$::Run","password":"long enough"}}],
    ['an upload', 'POST /v1/media', { %$auth, 'Content-Type' => 'image/png' }, PhotoFixture::png()],
    ['a follow', "POST /v1/users/$::OTHER/follow", $auth, ''],
    ['an unfollow', "DELETE /v1/users/$::OTHER/follow", $auth, ''],
    ['a device', 'POST /v1/devices', $json, qq{{"platform":"ios","token":"$::Run"}}],
    ['a deletion', "DELETE /v1/photos/$::Mine", $auth, ''],
);
for my $w (@writes) {
    my ($what, $line, $h, $body) = @$w;
    my $hk = { %$h, 'Idempotency-Key' => "$::Run-$what" };
    my $first = ::call($line, $hk, $body);
    Test::More::like($first->{status}, qr/^20[12]$/, "$what: $first->{status}")
        or Test::More::diag($first->{body});
    # the photo deleted, the username taken: a new request would differ
    ::poll(sub { !PhotoFixture::sql("select 1 from photos where id = $::Mine") })
        if $what eq 'a deletion';
    ::replayed($what, $first, ::call($line, $hk, $body));
}
my $anew = ::call('POST /v1/users', { %::Json, 'Idempotency-Key' => "$::Run-another" },
                  qq{{"username":"idem$::Run","password":"long enough"}});
Test::More::is($anew->{status}, 409, 'while a sign-up with another key finds the name taken');
--- request eval
"DELETE /v1/photos/$::Mine"
--- more_headers eval
"$::Auth\nIdempotency-Key: $::Run-a deletion"
--- error_code: 202
--- response_body eval
qq{{"id":"$::Mine","status":"queued"}}



=== TEST 4: a retry while the first attempt still waits for gearmand: 409 request_in_flight, Retry-After
--- http_config eval
::backends(gearman => '127.0.0.1:$TEST_NGINX_SILENT_PORT',
           more => ['photo_gearman_timeout 1500ms;', $::KeyFile])
--- init
::held_post("$::Run-held");
--- request eval
"POST /v1/photos\n" . ::post_body('held')
--- more_headers eval
"$::Auth\nIdempotency-Key: $::Run-held"
--- error_code: 409
--- response_headers
Retry-After: 1
--- response_body chomp
{"error":{"code":"request_in_flight","message":"a request with this Idempotency-Key is still being processed; retry it later"}}
--- wait: 1.5



=== TEST 5: gearmand refusing: 503, and the job is kept with the key
--- http_config eval
::backends(gearman => '127.0.0.1:$TEST_NGINX_CLOSED_PORT', more => [$::KeyFile])
--- request eval
"POST /v1/photos\n" . ::post_body('refused')
--- more_headers eval
"$::Auth\nIdempotency-Key: $::Run-refused"
--- error_code: 503
--- response_body chomp
{"error":{"code":"unavailable","message":"gearmand is unavailable, try again shortly"}}



=== TEST 6: gearmand back, the retry submits that same job: 202 with its id
--- init
my ($id, $until) = @{ PhotoFixture::redis('HMGET', "idempotency:$::USER:POST /v1/photos:$::Run-refused",
                                          'id', 'until') };
Test::More::ok($id && $until eq '0', "after the 503 the record keeps the job ($id) and nobody holds it");
$::KeptId = $id;
my $h = { Authorization => "Bearer $::Token", %::Json, 'Idempotency-Key' => "$::Run-refused" };
my $retry = ::call('POST /v1/photos', $h, ::post_body('refused'));
Test::More::is("$retry->{status} $retry->{body}", qq{202 {"id":"$id","status":"queued"}},
               'the retry: 202 with the kept job\'s id');
--- request eval
"POST /v1/photos\n" . ::post_body('refused')
--- more_headers eval
"$::Auth\nIdempotency-Key: $::Run-refused"
--- error_code: 202
--- response_headers
Idempotent-Replayed: true



=== TEST 7: a key an attempt that died held, its hold over: the retry submits the job it kept, as it was
--- request eval
"POST /v1/photos\n$::DeadBody"
--- more_headers eval
"$::Auth\nIdempotency-Key: $::Run-dead"
--- error_code: 202
--- response_headers
!Idempotent-Replayed
--- response_body eval
qq{{"id":"$::DeadId","status":"queued"}}
