# Photo ids' shards, leased from Redis by each nginx worker process before
# its first id (ngx_photo_shard.c): two workers, and the workers of a reload,
# never share one; the lease key lives an hour and a minute and names its
# worker; the writes of a worker that come while its lease is being asked
# for wait for that one lease; Redis down or silent, the write is a prompt
# 503 JSON.  (A binary upgrade under write load, end to end:
# t/scripts/e2e_upgrade.py.)
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;
use Sys::Hostname ();
use Time::HiRes ();

my $USER = 9001;
our $Token = 'tok_shards_0123456789abcdef';

sql("delete from users where id = $USER");
sql("insert into users (id, username, password_hash) values ($USER, 'sharder9', '!')");
redis('SET', session_key($Token), $USER, 'EX', 3600);

our $Png = png();
media_key_file();
$ENV{TEST_NGINX_WRITE_PORT} = free_port();
$ENV{TEST_NGINX_CLOSED_PORT} = free_port();
(our $Silent, $ENV{TEST_NGINX_SILENT_PORT}) = silent_port();

# Uploads (201 {"media_id"}: an id) on a second server with reuseport, so
# that the kernel spreads a burst of connections over both workers; each
# answer says which worker gave it.
our $Writes = <<'_EOC_';
    server {
        listen 127.0.0.1:$TEST_NGINX_WRITE_PORT reuseport;
        location / {
            photo_api;
            photo_media_root $TEST_NGINX_SERVER_ROOT/html;
            add_header X-Pid $pid always;
        }
    }
_EOC_

our $KeyFile = 'photo_media_key_file $TEST_NGINX_MEDIA_KEY_FILE;';
our $MediaConfig = backends(more => [$KeyFile]);

photo_block_defaults(http_config => $MediaConfig . $Writes,
                     config => 'location / { photo_api; '
                               . 'photo_media_root $TEST_NGINX_SERVER_ROOT/html; }',
                     more_headers => "Authorization: Bearer $Token\n"
                                     . "Content-Type: image/png");

# n uploads at once -> { worker pid => [shards of the ids it gave] }
sub uploads {
    my ($n) = @_;
    my %by;
    for my $a (http_burst($ENV{TEST_NGINX_WRITE_PORT}, $n, 'POST /v1/media',
                          { Authorization => "Bearer $Token",
                            'Content-Type' => 'image/png' }, $Png)) {
        my ($id) = $a->{body} =~ /"media_id":"(\d+)"/;
        Test::More::ok($a->{status} == 201 && $id,
                       "an upload: 201 with an id") or Test::More::diag($a->{body});
        push @{ $by{ $a->{headers}{'x-pid'} // '?' } }, ($id // 0) >> 10 & 8191;
    }
    return \%by;
}

# each worker gave all its ids in one shard, none of them in another's
# (nor in any of @taken); -> { pid => shard }
sub one_shard_each {
    my ($by, @taken) = @_;
    my (%shard, %seen);
    $seen{$_} = 'an earlier worker' for @taken;
    for my $pid (sort keys %$by) {
        my %s = map { $_ => 1 } @{ $by->{$pid} };
        Test::More::is(scalar keys %s, 1, "worker $pid: all its ids in one shard");
        my ($s) = keys %s;
        Test::More::ok(!$seen{$s}, "worker $pid: shard $s is its own")
            or Test::More::diag("also $seen{$s}'s");
        $seen{$s} = "worker $pid";
        $shard{$pid} = $s;
    }
    return \%shard;
}

sub master_pid {
    open my $fh, '<', server_root() . '/logs/nginx.pid' or die "pid file: $!";
    chomp(my $pid = <$fh>);
    return $pid;
}

# the lease keys that name worker pid
sub leases_of {
    my ($pid) = @_;
    my $holder = lc(Sys::Hostname::hostname()) . ":$pid";
    return grep { $_ ne '{id_shard}:next' && (redis('GET', $_) // '') eq $holder }
           @{ redis('KEYS', '{id_shard}:*') };
}

master_on();
workers(2);
no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: two workers, a shard each, leased for an hour and a minute in Redis, naming the worker
--- init
my $by = ::uploads(16);
Test::More::is(scalar keys %$by, 2, "16 uploads at once reach both workers");
my $shard = ::one_shard_each($by);
for my $pid (sort keys %$shard) {
    my @keys = ::leases_of($pid);
    Test::More::is("@keys", "{id_shard}:$shard->{$pid}", "worker $pid: one lease key, its shard's");
    my $ttl = PhotoFixture::redis('PTTL', "{id_shard}:$shard->{$pid}");
    Test::More::ok($ttl > 3_650_000 && $ttl <= 3_660_000,
                   "worker $pid: the lease key expires in an hour and a minute ($ttl ms)");
}
--- request eval
"POST /v1/media\n$::Png"
--- error_code: 201
--- response_body_like: ^\{"media_id":"\d+"
--- error_log eval
qr/\[notice\] .*photo: id shard \d+ leased by \S+:\d+ for 3600 s/



=== TEST 2: after a reload, the new workers lease shards of their own while the old ones still hold theirs
--- init
my $old = ::one_shard_each(::uploads(16));
kill 'HUP', ::master_pid();
my $new = {};
my $deadline = Time::HiRes::time() + 5;
while (keys %$new < 2 && Time::HiRes::time() < $deadline) {
    my $by = ::uploads(8);
    $new->{$_} = $by->{$_} for grep { !exists $old->{$_} } keys %$by;
    Time::HiRes::sleep(0.1);
}
Test::More::is(scalar keys %$new, 2, "both workers of the reload answered");
::one_shard_each($new, values %$old);
--- request eval
"POST /v1/media\n$::Png"
--- error_code: 201



=== TEST 3: writes that come while their worker's lease is asked for all wait for that one lease
(Redis holds every script for 400 ms: the uploads queue up in their workers)
--- init
PhotoFixture::redis('CLIENT', 'PAUSE', 400, 'WRITE');
my $t0 = Time::HiRes::time();
my $by = ::uploads(12);
my $took = Time::HiRes::time() - $t0;
Test::More::ok($took > 0.3, sprintf("the uploads waited for the lease (%.2f s)", $took));
my $shard = ::one_shard_each($by);
for my $pid (sort keys %$shard) {
    my @keys = ::leases_of($pid);
    Test::More::is(scalar @keys, 1, "worker $pid: " . @{ $by->{$pid} } . " writes, one lease");
}
--- request eval
"POST /v1/media\n$::Png"
--- error_code: 201



=== TEST 4: Redis down: the write that needs a lease is a prompt 503 JSON
--- http_config eval
::backends(redis => '127.0.0.1:$TEST_NGINX_CLOSED_PORT', more => [$::KeyFile])
--- more_headers
Content-Type: application/json
--- request
POST /v1/users
{"username":"shardless9","password":"long enough"}
--- timeout: 1
--- error_code: 503
--- response_headers
Content-Type: application/json
--- response_body chomp
{"error":{"code":"unavailable","message":"redis is unavailable, try again shortly"}}



=== TEST 5: Redis that never answers: 503 after photo_redis_timeout
--- http_config eval
::backends(redis => '127.0.0.1:$TEST_NGINX_SILENT_PORT',
           more => ['photo_redis_timeout 300ms;', $::KeyFile])
--- more_headers
Content-Type: application/json
--- request
POST /v1/users
{"username":"shardless9","password":"long enough"}
--- timeout: 2
--- error_code: 503
--- response_body chomp
{"error":{"code":"unavailable","message":"redis is unavailable, try again shortly"}}
--- error_log eval
qr/\[error\] .*redis 127\.0\.0\.1:\d+ timed out/



=== TEST 6: photo_instance_id, of the scheme before leases: accepted, ignored, with a warning
--- http_config eval
$::MediaConfig . "    photo_instance_id 3;\n"
--- request eval
"POST /v1/media\n$::Png"
--- error_code: 201
--- error_log eval
qr/\[warn\] .*"photo_instance_id" is obsolete and ignored: photo id shards are leased from Redis/
