# photo_metrics: after a known sequence of requests, /metrics shows exactly
# the counts it should (a fresh nginx per block starts from zero); a
# memcached server down is counted against that server; a stalled one
# makes a slow request's line that names it; the exposition passes
# Prometheus's own parser (promtool check metrics); an error's JSON carries
# the request id that the module's log line of it carries too.
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;

my ($READER, $POSTER) = (12001, 12002);
our $Token = 'tok_metrics_0123456789abcdef';

my ($ids, $p) = reader_and_poster(reader => $READER, poster => $POSTER,
                                  name => 'counted', base => 9_120_000,
                                  at => 1790012000);
our @Ids = @$ids;
our %P = %$p;
complete_feed($READER, $Token, @Ids);

our $Page = page_of(\%P, reverse @Ids);

# three of the six in memcached, three to read through Postgres
sub half_cached {
    mc_delete("photo:$_") for @Ids;
    mc_set("photo:$_", photo_json(%{ $P{$_} }), $PhotoFixture::MC_KIND) for @Ids[0 .. 2];
}

$ENV{TEST_NGINX_CLOSED_PORT} = free_port();
(our $Silent, $ENV{TEST_NGINX_SILENT_PORT}) = silent_port();

# a regex that holds when every one of these lines is in the exposition
sub lines {
    my $re = join '', map { '(?=(?:.*\n)?' . quotemeta($_) . '\n)' } @_;
    return qr/\A$re/s;
}

our ($Exposition, $Promtool, $IdLines);

repeat_each(1);     # the counts are those of one pass on a fresh nginx
master_on();        # a reload as in production: the master and new workers
photo_block_defaults(config => <<'_EOC_',
    location / { photo_api; }
    location = /metrics { photo_metrics; }
_EOC_
                     response_body_filters => sub { $_[0] });

no_shuffle();
no_root_location();
run_tests();

ok(defined $Exposition && length $Exposition, "/metrics answered in block 6");
like($Promtool, qr/^\s*$/, "promtool check metrics finds nothing wrong with it");
is($IdLines, 1, "the 503's request id is in one slow request line of the log");

__DATA__

=== TEST 1: a page (3 objects from memcached, 3 read through Postgres), a 401, a 400: each counted once
--- init
main::half_cached();
--- request eval
["GET /v1/feed", "GET /v1/feed", "GET /v1/photos/x1", "GET /metrics"]
--- more_headers eval
["Authorization: Bearer $::Token", "Authorization: Bearer tok_metrics_nobody_0123456789",
 "Authorization: Bearer $::Token", ""]
--- error_code eval
[200, 401, 400, 200]
--- response_body_like eval
[qr/^\Q$::Page\E$/, qr/"unauthorized"/, qr/"invalid_id"/,
 main::lines(
  'photo_http_requests_total{endpoint="feed",code="2xx"} 1',
  'photo_http_requests_total{endpoint="feed",code="4xx"} 1',
  'photo_http_requests_total{endpoint="feed",code="5xx"} 0',
  'photo_http_requests_total{endpoint="other",code="4xx"} 1',
  'photo_http_requests_total{endpoint="photo",code="2xx"} 0',
  'photo_http_request_duration_seconds_count{endpoint="feed"} 2',
  'photo_http_request_duration_seconds_bucket{endpoint="feed",le="+Inf"} 2',
  'photo_http_request_duration_seconds_count{endpoint="other"} 1',
  'photo_read_objects_requested_total 6',
  'photo_read_objects_served_total{source="object_cache"} 0',
  'photo_read_objects_served_total{source="memcached"} 3',
  'photo_read_objects_served_total{source="postgres"} 3',
  'photo_read_objects_written_back_total 3',
  'photo_read_list_rebuilds_total 0',
  'photo_write_jobs_total{outcome="submitted"} 0',
  "photo_backend_requests_total{backend=\"postgres\",server=\"$ENV{TEST_NGINX_HOST}:$ENV{TEST_NGINX_PG_PORT}\"} 1",
  "photo_backend_errors_total{backend=\"redis\",server=\"$ENV{TEST_NGINX_HOST}:$ENV{TEST_NGINX_REDIS_PORT}\"} 0",
  "photo_backend_timeouts_total{backend=\"redis\",server=\"$ENV{TEST_NGINX_HOST}:$ENV{TEST_NGINX_REDIS_PORT}\"} 0",
  "photo_backend_errors_total{backend=\"memcached\",server=\"$ENV{TEST_NGINX_HOST}:$ENV{TEST_NGINX_MEMCACHED_PORT}\"} 0",
  "photo_backend_errors_total{backend=\"memcached\",server=\"$ENV{TEST_NGINX_HOST}:$ENV{TEST_NGINX_MEMCACHED_PORT2}\"} 0",
 )]
--- no_error_log
[error]



=== TEST 2: redis and memcached calls are counted per server, with their time; the connections: Redis's one, memcached's all idle again after the page
--- init
main::half_cached();
--- request eval
["GET /v1/feed", "GET /metrics"]
--- more_headers eval
["Authorization: Bearer $::Token", ""]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/^\Q$::Page\E$/,
 qr/\nphoto_backend_requests_total\{backend="redis",server="[^"]+"\} [1-9]\d*\n(?s:.*)\nphoto_backend_connections\{backend="redis",server="[^"]+",state="open"\} 1\nphoto_backend_connections\{backend="redis",server="[^"]+",state="idle"\} 0\nphoto_backend_connections\{backend="memcached",server="([^"]+)",state="open"\} ([1-9]\d*)\nphoto_backend_connections\{backend="memcached",server="\1",state="idle"\} \2\n(?s:.*)\nphoto_backend_request_duration_seconds_count\{backend="memcached",server="[^"]+"\} [1-9]\d*\n/]



=== TEST 3: the only memcached server down: its calls (the get, then the 6 write-backs) all errors, every object read through Postgres, the page whole
--- http_config eval
PhotoFixture::backends(memcached => '127.0.0.1:$TEST_NGINX_CLOSED_PORT')
--- init
main::half_cached();
--- request eval
["GET /v1/feed", "GET /metrics"]
--- more_headers eval
["Authorization: Bearer $::Token", ""]
--- error_code eval
[200, 200]
--- response_body_like eval
[qr/^\Q$::Page\E$/,
 main::lines(
  "photo_backend_requests_total{backend=\"memcached\",server=\"127.0.0.1:$ENV{TEST_NGINX_CLOSED_PORT}\"} 7",
  "photo_backend_errors_total{backend=\"memcached\",server=\"127.0.0.1:$ENV{TEST_NGINX_CLOSED_PORT}\"} 7",
  "photo_backend_timeouts_total{backend=\"memcached\",server=\"127.0.0.1:$ENV{TEST_NGINX_CLOSED_PORT}\"} 0",
  'photo_read_objects_served_total{source="memcached"} 0',
  'photo_read_objects_served_total{source="postgres"} 6',
  'photo_http_requests_total{endpoint="feed",code="2xx"} 1',
 )]



=== TEST 4: a memcached that never answers: the page still comes, and one slow request line says where the time went
--- http_config eval
PhotoFixture::backends(memcached => '127.0.0.1:$TEST_NGINX_SILENT_PORT',
                       more => ['photo_memcached_timeout 300ms;',
                                'photo_slow_request 200ms;'])
--- init
main::half_cached();
--- request
GET /v1/feed
--- more_headers eval
"Authorization: Bearer $::Token"
--- response_body_like eval
qr/^\Q$::Page\E$/
--- error_log eval
[qr/\[warn\] .*slow request: [0-9.]+ ms in the module \(over 200 ms\), endpoint feed, user 12001, status 200; queued \d+ ms, redis \S+ \d+ calls? [0-9.]+ ms, memcached 127\.0\.0\.1:\d+ 1 call (?:29|3\d)\d\.\d{3} ms \(timed out\), postgres \S+ 1 call [0-9.]+ ms, elsewhere [0-9.]+ ms\b.*, client: 127\.0\.0\.1, .*request_id: "[0-9a-f]{32}"/]



=== TEST 5: the same, counted: the timeout against that server, the slow request against its endpoint
--- http_config eval
PhotoFixture::backends(memcached => '127.0.0.1:$TEST_NGINX_SILENT_PORT',
                       more => ['photo_memcached_timeout 300ms;',
                                'photo_slow_request 200ms;'])
--- init
main::half_cached();
my $a = PhotoFixture::http($ENV{TEST_NGINX_SERVER_PORT}, "GET /v1/feed",
                           { Authorization => "Bearer $::Token" });
die "feed: $a->{status}" unless $a->{status} == 200;
--- request
GET /metrics
--- response_body_like eval
main::lines(
  "photo_backend_timeouts_total{backend=\"memcached\",server=\"127.0.0.1:$ENV{TEST_NGINX_SILENT_PORT}\"} 1",
  'photo_http_slow_requests_total{endpoint="feed"} 1',
  'photo_read_objects_served_total{source="postgres"} 6',
)



=== TEST 6: the exposition after a page passes promtool check metrics
--- init
main::half_cached();
my $a = PhotoFixture::http($ENV{TEST_NGINX_SERVER_PORT}, "GET /v1/feed",
                           { Authorization => "Bearer $::Token" });
die "feed: $a->{status}" unless $a->{status} == 200;
$::Exposition = PhotoFixture::http($ENV{TEST_NGINX_SERVER_PORT},
                                   "GET /metrics")->{body};
my $out = "/tmp/photo_t012_promtool.$$";
open(my $pt, '|-', "promtool check metrics >$out 2>&1") or die "promtool: $!";
print $pt $::Exposition;
close $pt;
my $rc = $?;
$::Promtool = do { local (@ARGV, $/) = $out; <> } // '';
$::Promtool = "exit $rc: $::Promtool" if $rc;
unlink $out;
--- request
GET /metrics
--- response_body_like eval
main::lines('photo_http_requests_total{endpoint="feed",code="2xx"} 1')



=== TEST 7: a slow 503: its JSON's request id is the one its slow line in the log carries
--- http_config eval
PhotoFixture::backends(redis => '127.0.0.1:$TEST_NGINX_SILENT_PORT',
                       more => ['photo_redis_timeout 300ms;',
                                'photo_slow_request 200ms;'])
--- init
my $a = PhotoFixture::http($ENV{TEST_NGINX_SERVER_PORT}, "GET /v1/feed",
                           { Authorization => "Bearer $::Token" });
my ($id) = $a->{body} =~ /,"request_id":"([0-9a-f]{32})"\}\}$/;
die "no 503 with a request id: $a->{status} $a->{body}"
    unless $a->{status} == 503 && $id;
select(undef, undef, undef, 0.3);       # the log phase comes after
my $log = ($ENV{TEST_NGINX_SERVROOT} || 't/servroot') . '/logs/error.log';
open(my $fh, '<', $log) or die "$log: $!";
$::IdLines = grep { /slow request: .*endpoint feed, user 0, status 503;.* redis 127\.0\.0\.1:\d+ 1 call 3\d\d\.\d{3} ms \(timed out\).*request_id: "$id"/ } <$fh>;
--- request
GET /v1/photos/x
--- error_code: 400
--- response_body_like: ^\{"error":\{"code":"invalid_id","message":"[^"]+","request_id":"[0-9a-f]{32}"\}\}$



=== TEST 8: a reload keeps the counters (and the master: the zone's slab pool is left whole)
--- init
main::half_cached();
my $a = PhotoFixture::http($ENV{TEST_NGINX_SERVER_PORT}, "GET /v1/feed",
                           { Authorization => "Bearer $::Token" });
die "feed: $a->{status}" unless $a->{status} == 200;
my $pidfile = ($ENV{TEST_NGINX_SERVROOT} || 't/servroot') . '/logs/nginx.pid';
open(my $fh, '<', $pidfile) or die "$pidfile: $!";
chomp(my $master = <$fh>);
kill 'HUP', $master or die "HUP $master: $!";
# the new workers are there once the old ones have gone
for (1 .. 50) {
    last unless `ps -o cmd= --ppid $master` =~ /shutting down/;
    select(undef, undef, undef, 0.1);
}
select(undef, undef, undef, 0.3);
die "the master is gone after the reload" unless kill 0, $master;
--- request
GET /metrics
--- response_body_like eval
main::lines('photo_http_requests_total{endpoint="feed",code="2xx"} 1',
            'photo_read_objects_requested_total 6')
