# Several gearmand (photo_gearman with a list): a write goes to the one its
# unique key routes to, and to the next when that one is down or refuses it
# before storing it; /health asks each one's queue.  The stack's gearmand
# is the live one; its workers apply the posts, and the last block checks
# Postgres: each accepted post once.  (One of the stack's two gearmand
# killed and started again: t/scripts/e2e_gearmand_failover.py.)
use lib 't/lib';
use Test::Nginx::Socket 'no_plan';
use PhotoFixture;

our $USER = 10301;
our $Token = 'tok_gmservers_0123456789ab';
our $Media = 9_730_001;
our $Run = "g$$" . time % 100000;          # this run's captions
our $Burst = 16;                           # posts a block sends at once
our %Accepted;                             # caption -> ids answered 202

sql("delete from users where id = $USER");
sql("insert into users (id, username, password_hash) values ($USER, 'gmservers', '!')");
redis('SET', session_key($Token), $USER, 'EX', 3600);
redis('SET', "media:$Media", qq[{"user_id":"$USER","media_path":"g/$Media.png",]
      . qq["image_url":"/media/g/$Media.png","width":3,"height":2}], 'EX', 3600);

media_key_file();
$ENV{TEST_NGINX_CLOSED_PORT} = free_port();
$ENV{TEST_NGINX_BROKEN_QUEUE_PORT} = broken_gearmand();

our $KeyFile = 'photo_media_key_file $TEST_NGINX_MEDIA_KEY_FILE;';
our $Live = '$TEST_NGINX_HOST:$TEST_NGINX_GEARMAN_PORT';
our $Closed = '127.0.0.1:$TEST_NGINX_CLOSED_PORT';
our $Broken = '127.0.0.1:$TEST_NGINX_BROKEN_QUEUE_PORT';

sub post_body { qq{{"media_id":"$Media","caption":"$Run $_[0]"}} }

# $Burst posts at once, each on its own connection: how many got 202
sub burst {
    my ($caption) = @_;
    my @a = http_burst(server_port(), $Burst, 'POST /v1/photos',
                       { Authorization => "Bearer $Token",
                         'Content-Type' => 'application/json' },
                       post_body($caption));
    for (@a) {
        push @{ $Accepted{$caption} }, $1 if $_->{status} == 202 && $_->{body} =~ /"id":"(\d+)"/;
    }
    return scalar grep { $_->{status} == 202 } @a;
}

# the stack's workers applied each accepted post once (waits for them)
sub stored_once {
    my %rows;
    for (1 .. 100) {
        %rows = ();
        push @{ $rows{$_->[0]} }, $_->[1]
            for sql("select caption, id from photos where user_id = $USER");
        last if @{ $rows{"$Run closed"} // [] } == $Burst + 1
                && @{ $rows{"$Run broken"} // [] } == $Burst + 1;
        select undef, undef, undef, 0.1;
    }
    for my $c ('closed', 'broken') {
        my @want = sort @{ $Accepted{$c} // [] };
        my @got = grep { my $id = $_; grep { $_ eq $id } @want } sort @{ $rows{"$Run $c"} // [] };
        Test::More::is(scalar @want, $Burst, "$c: $Burst ids answered");
        Test::More::is_deeply(\@got, \@want, "$c: each of them stored once");
        Test::More::is(scalar @{ $rows{"$Run $c"} // [] }, $Burst + 1,
                       "$c: no other row (the block's own post makes " . ($Burst + 1) . ")");
    }
    Test::More::ok(!$rows{"$Run none"}, 'the refused post was never stored');
    sql("delete from photos where user_id = $USER");
    sql("delete from users where id = $USER");
}

photo_block_defaults(http_config => backends(more => [$KeyFile]),
                     config => 'location / { photo_api; '
                               . 'photo_media_root $TEST_NGINX_SERVER_ROOT/html; }',
                     more_headers => "Authorization: Bearer $Token\nContent-Type: application/json");

no_shuffle();
no_root_location();
run_tests();

__DATA__

=== TEST 1: the first gearmand listed is down: every post is accepted, by the other
--- http_config eval
PhotoFixture::backends(gearman => "$::Closed $::Live", more => [$::KeyFile])
--- init
Test::More::is(::burst('closed'), $::Burst, "$::Burst posts at once: all 202");
--- request eval
"POST /v1/photos\n" . ::post_body('closed')
--- error_code: 202
--- response_body_like: ^\{"id":"\d+","status":"queued"\}$
--- error_log eval
qr/Connection refused\) while submitting a job to gearman 127\.0\.0\.1:$ENV{TEST_NGINX_CLOSED_PORT}/



=== TEST 2: a gearmand that refuses jobs (its queue broken): the next one takes them
--- http_config eval
PhotoFixture::backends(gearman => "$::Broken $::Live", more => [$::KeyFile])
--- init
Test::More::is(::burst('broken'), $::Burst, "$::Burst posts at once: all 202");
--- request eval
"POST /v1/photos\n" . ::post_body('broken')
--- error_code: 202
--- response_body_like: ^\{"id":"\d+","status":"queued"\}$
--- error_log eval
qr/gearman 127\.0\.0\.1:$ENV{TEST_NGINX_BROKEN_QUEUE_PORT} refused "photo_persist": QUEUE_ERROR/



=== TEST 3: none takes it: 503 JSON at once
--- http_config eval
PhotoFixture::backends(gearman => "$::Closed $::Broken", more => [$::KeyFile])
--- request eval
"POST /v1/photos\n" . ::post_body('none')
--- error_code: 503
--- response_body chomp
{"error":{"code":"unavailable","message":"gearmand is unavailable, try again shortly"}}
--- timeout: 2



=== TEST 4: /health asks each gearmand's queue: the broken one is named, the other up
--- http_config eval
PhotoFixture::backends(gearman => "$::Live $::Broken", more => [$::KeyFile])
--- request
GET /health
--- error_code: 503
--- response_body_like eval
qr/\{"backend":"gearmand_queue","address":"[^"]+:$ENV{TEST_NGINX_GEARMAN_PORT}","up":true,"ms":\d+\},\{"backend":"gearmand_queue","address":"127\.0\.0\.1:$ENV{TEST_NGINX_BROKEN_QUEUE_PORT}","up":false,/



=== TEST 5: the stack's workers applied every accepted post once, and nothing refused
--- init
::stored_once();
--- request
GET /health
--- error_code: 200
