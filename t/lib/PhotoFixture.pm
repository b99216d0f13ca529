package PhotoFixture;

# Test data for the .t files, put straight into the real backends of the
# stack (ports from the TEST_NGINX_* environment that scripts/test exports):
# Postgres through psql, Redis and memcached over their wire protocols.
# Used by the tests only; nothing here is part of either Test::Nginx runner.

use strict;
use warnings;

use Exporter 'import';
use Compress::Zlib ();
use File::Temp ();
use IO::Socket::INET;
use POSIX ();

our @EXPORT = qw(sql redis session_key mc_set mc_get mc_delete mc_stat object_flags list_id photo_json
                 complete_feed page_of
                 reader_and_poster png http http_burst backends
                 free_port silent_port broken_gearmand solr_start solr_update
                 $Backends photo_block_defaults
                 $MediaKey media_key_file);

# The stack's backends as the module's directives ($TEST_NGINX_* are
# expanded by the runner).
# the memcached kind of a photo object (PHOTO_MC_FLAGS: the format with
# its counts)
our $MC_KIND = 3;

our $Backends = <<'_EOC_';
    photo_redis      $TEST_NGINX_HOST:$TEST_NGINX_REDIS_PORT;
    photo_memcached  $TEST_NGINX_HOST:$TEST_NGINX_MEMCACHED_PORT $TEST_NGINX_HOST:$TEST_NGINX_MEMCACHED_PORT2;
    photo_postgres   "host=$TEST_NGINX_HOST port=$TEST_NGINX_PG_PORT user=$TEST_NGINX_PG_USER dbname=$TEST_NGINX_PG_DB";
    photo_gearman    $TEST_NGINX_HOST:$TEST_NGINX_GEARMAN_PORT;
_EOC_

# With TEST_NGINX_REDIS_CLUSTER ("host:port ...", set by scripts/test for
# its run against the stack's Redis Cluster): the cluster instead
$Backends =~ s/^    photo_redis\s.*$/    photo_redis_cluster \$TEST_NGINX_REDIS_CLUSTER;/m
    if $ENV{TEST_NGINX_REDIS_CLUSTER};

# $Backends with some of them elsewhere, and more directives after, for a
# block's own http_config:
#   backends(redis => '127.0.0.1:$TEST_NGINX_CLOSED_PORT',
#            more => ['photo_redis_timeout 300ms;'])
sub backends {
    my (%o) = @_;
    my $c = $Backends;
    for my $b (qw(redis memcached postgres gearman)) {
        $c =~ s/^    photo_$b(?:_cluster)?\s+.*;$/    photo_$b      $o{$b};/m
            if defined $o{$b};
    }
    return $c . join('', map { "    $_\n" } @{ $o{more} // [] });
}

# What a block of ours has unless it says otherwise: the module loaded, the
# backends, and the given config / more_headers.  Uses the runner's own
# add_block_preprocessor (real Test::Nginx or t/fallback alike).
#
# Every error's JSON carries its request's random $request_id: the blocks
# compare bodies without it (response_body_filters), t/012 checks it.
sub without_request_id {
    my $body = shift;
    $body =~ s/,"request_id":"[0-9a-f]{32}"//g;
    return $body;
}

sub photo_block_defaults {
    my (%d) = @_;
    $d{main_config} //= 'load_module $TEST_NGINX_PHOTO_MODULE;';
    $d{http_config} //= $Backends;
    $d{response_body_filters} //= \&without_request_id;
    main::add_block_preprocessor(sub {
        my $block = shift;
        for my $section (sort keys %d) {
            $block->set_value($section, $d{$section})
                unless defined $block->$section;
        }
    });
}

my $host = $ENV{TEST_NGINX_HOST} || '127.0.0.1';

# The secret upload names are keyed with (photo_media_key_file), in a file
# of its own for as long as the test file runs; its path, also as
# $TEST_NGINX_MEDIA_KEY_FILE for the configurations.
our $MediaKey = 'media key of the tests, 32 bytes at least';
my $media_dir;

sub media_key_file {
    unless ($media_dir) {
        $media_dir = File::Temp->newdir('photo_media_key_XXXXXX', TMPDIR => 1);
        open(my $fh, '>', "$media_dir/media.key") or die "media.key: $!";
        print $fh $MediaKey;
        close $fh;
        $ENV{TEST_NGINX_MEDIA_KEY_FILE} = "$media_dir/media.key";
    }
    return "$media_dir/media.key";
}

sub env { $ENV{$_[0]} // die "$_[0] is not set (run the tests through scripts/test)\n" }

# sql("...") -> rows, each an array ref of column values (text)
sub sql {
    my ($q) = @_;
    utf8::encode($q);    # queries are character strings; psql takes UTF-8
    open(my $fh, '-|', 'psql', '-X', '-q', '-A', '-t', '-F', "\t",
         '-v', 'ON_ERROR_STOP=1', '-h', $host, '-p', env('TEST_NGINX_PG_PORT'),
         '-U', env('TEST_NGINX_PG_USER'), '-d', env('TEST_NGINX_PG_DB'),
         '-c', $q) or die "psql: $!";
    my @rows = map { chomp; [split /\t/, $_, -1] } <$fh>;
    close $fh or die "psql failed on: $q\n";
    return @rows;
}

sub resp_read {
    my ($s) = @_;
    my $line = <$s>;
    defined $line or die "redis: connection closed\n";
    $line =~ s/\r\n\z//;
    my ($t, $rest) = (substr($line, 0, 1), substr($line, 1));
    return $rest if $t eq '+' || $t eq ':';
    die "redis: $rest\n" if $t eq '-';
    if ($t eq '$') {
        return undef if $rest < 0;
        my $buf = '';
        read($s, $buf, $rest + 2) == $rest + 2 or die "redis: short read\n";
        return substr($buf, 0, $rest);
    }
    if ($t eq '*') {
        return undef if $rest < 0;
        return [map { resp_read($s) } 1 .. $rest];
    }
    die "redis: bad reply '$line'\n";
}

# redis(qw(ZADD key 0 member)) -> the reply (scalar or array ref).  Against
# a cluster (TEST_NGINX_REDIS_CLUSTER), to a seed, then where MOVED says; a
# DEL of several keys key by key (they may be in several slots).
sub redis {
    my @cmd = @_;
    my $seeds = $ENV{TEST_NGINX_REDIS_CLUSTER};
    return redis_at("$host:" . env('TEST_NGINX_REDIS_PORT'), @cmd) unless $seeds;
    if (@cmd > 2 && $cmd[0] =~ /^(?:DEL|UNLINK)\z/i) {
        my $n = 0;
        $n += redis($cmd[0], $_) for @cmd[1 .. $#cmd];
        return $n;
    }
    my ($at) = split ' ', $seeds;
    for (1 .. 3) {
        my $r = eval { redis_at($at, @cmd) };
        return $r unless $@;
        die $@ unless $@ =~ /^redis: MOVED \d+ (\S+)/;
        $at = $1;
    }
    die "redis: @cmd: moved more than twice\n";
}

sub redis_at {
    my ($at, @cmd) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $at) or die "redis $at: $!";
    print $s '*' . @cmd . "\r\n", map { '$' . length($_) . "\r\n$_\r\n" } @cmd;
    my $r = eval { resp_read($s) };
    my $err = $@;
    close $s;
    die $err if $err;
    return $r;
}

# The memcached server of a key, as the module and the workers pick it.
# (Tests only set keys on both servers or ask both, so they need no ketama.)
sub mc_ports { (env('TEST_NGINX_MEMCACHED_PORT'), env('TEST_NGINX_MEMCACHED_PORT2')) }

sub mc_cmd {
    my ($port, $req, $until) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => $host, PeerPort => $port)
        or die "memcached $port: $!";
    print $s $req;
    my $out = '';
    while (my $l = <$s>) { $out .= $l; last if $l =~ $until }
    close $s;
    return $out;
}

# mc_set(key, value, flags): on every server, so whichever one the module
# asks has it
sub mc_set {
    my ($k, $v, $flags) = @_;
    for my $p (mc_ports()) {
        mc_cmd($p, "set $k " . ($flags // $MC_KIND) . " 0 " . length($v) . "\r\n$v\r\n",
               qr/^(STORED|ERROR|CLIENT_ERROR|SERVER_ERROR)/);
    }
}

# the flags a writer stores an object's bytes with (the contract's
# photo_object_flags()): the kind, and the top 24 bits of their CRC-32
sub object_flags {
    my ($v) = @_;
    return (Compress::Zlib::crc32($v) & 0xffffff00) | $MC_KIND;
}

sub mc_delete {
    my ($k) = @_;
    mc_cmd($_, "delete $k\r\n", qr/^(DELETED|NOT_FOUND|ERROR)/) for mc_ports();
}

# the value from whichever server has it, or undef
sub mc_get {
    my ($k) = @_;
    for my $p (mc_ports()) {
        my $out = mc_cmd($p, "get $k\r\n", qr/^(END|ERROR)/);
        return $1 if $out =~ /^VALUE \S+ \d+ \d+\r\n(.*)\r\nEND\r\n\z/s;
    }
    return undef;
}

# A reader following a poster of six photos, made afresh in Postgres:
# reader_and_poster(reader => ID, poster => ID, name => 'x', base => ID,
# at => UNIX) -> (photo ids, { id => the fields photo_json takes }).
# Photo n (1..6) is base + n, "<name> n", posted at at + n.
sub reader_and_poster {
    my (%a) = @_;
    my ($reader, $poster, $name) = @a{qw(reader poster name)};
    my (@ids, %p);
    sql("delete from users where id in ($reader, $poster)");
    sql("insert into users (id, username, password_hash) values
         ($reader, 'reader_$name', '!'), ($poster, 'poster_$name', '!')");
    sql("insert into follows (follower, followee) values ($reader, $poster)");
    for my $n (1 .. 6) {
        my $id = $a{base} + $n;
        my $at = $a{at} + $n;
        push @ids, $id;
        $p{$id} = { id => $id, user_id => $poster, username => "poster_$name",
                    caption => "$name $n", image_url => "/media/$name/$n.jpg",
                    width => 640, height => 480, created_at => $at };
        sql("insert into photos (id, user_id, caption, media_path, image_url,
             width, height, created_at) values ($id, $poster, '$name $n',
             '$name/$n.jpg', '/media/$name/$n.jpg', 640, 480, to_timestamp($at))");
    }
    return (\@ids, \%p);
}

# a counter of memcached's "stats", summed over the servers (cmd_get...)
sub mc_stat {
    my ($name) = @_;
    my $sum = 0;
    for my $p (mc_ports()) {
        my $out = mc_cmd($p, "stats\r\n", qr/^(END|ERROR)/);
        $sum += $1 if $out =~ /^STAT \Q$name\E (\d+)\r$/m;
    }
    return $sum;
}

sub list_id { sprintf '%019d', $_[0] }

# a session token's Redis key (contract/photo_keys.h): its user's id, when
# it begins with one, in braces
sub session_key {
    my ($token) = @_;
    return $token =~ /^(\d{1,19})(-.*)\z/s ? "session:{$1}$2" : "session:$token";
}

# complete_feed(reader, token, ids): reader's feed list holding ids, marked
# complete, reader's likes complete and empty (a page's "liked" comes with
# the page), and a session token for reader, for an hour
sub complete_feed {
    my ($reader, $token, @ids) = @_;
    redis('DEL', "feed:{$reader}", "likes:{$reader}");
    redis('ZADD', "feed:{$reader}", 0, '0' x 19, map { (0, list_id($_)) } @ids);
    redis('ZADD', "likes:{$reader}", 0, '0' x 19);
    redis('SET', session_key($token), $reader, 'EX', 3600);
}

# page_of(\%photos, ids): the feed page of those photos (newest first as
# given), the last page, as a reader who likes none of them reads it
sub page_of {
    my ($p, @ids) = @_;
    return '{"photos":[' . join(',', map { photo_json(liked => 0, %{ $p->{$_} }) } @ids)
           . '],"next_max_id":null}';
}

sub json_str {
    my ($s) = @_;
    $s =~ s/(["\\])/\\$1/g;
    $s =~ s/\n/\\n/g;
    return "\"$s\"";
}

# The photo object as the contract writes it (contract/photo_object.h);
# with liked => 0 or 1, as a signed-in reader is sent it.
sub photo_json {
    my (%p) = @_;
    my $t = POSIX::strftime('%Y-%m-%dT%H:%M:%SZ', gmtime $p{created_at});
    return '{"id":"' . $p{id} . '","user":{"id":"' . $p{user_id}
        . '","username":' . json_str($p{username}) . '},"caption":'
        . json_str($p{caption}) . ',"image_url":' . json_str($p{image_url})
        . ',"width":' . $p{width} . ',"height":' . $p{height}
        . (defined $p{lat} ? ',"lat":' . $p{lat} . ',"lng":' . $p{lng} : '')
        . ',"like_count":' . ($p{like_count} // 0)
        . ',"comment_count":' . ($p{comment_count} // 0)
        . ',"created_at":"' . $t . '"'
        . (defined $p{liked} ? ',"liked":' . ($p{liked} ? 'true' : 'false') : '')
        . '}';
}

# A real 3x2 RGB PNG; png($n): with a comment of $n bytes in it (a
# tEXt chunk), for a body of any size.
sub png {
    my ($pad) = @_;
    my $chunk = sub {
        my ($type, $data) = @_;
        return pack('N', length $data) . $type . $data
               . pack('N', Compress::Zlib::crc32($type . $data));
    };
    return "\x89PNG\r\n\x1a\n"
           . $chunk->('IHDR', pack('NNCCCCC', 3, 2, 8, 2, 0, 0, 0))
           . ($pad ? $chunk->('tEXt', "Comment\0" . ('x' x $pad)) : '')
           . $chunk->('IDAT', Compress::Zlib::compress(("\0" . "\x10\x80\xf0" x 3) x 2))
           . $chunk->('IEND', '');
}

# HTTP/1.0 requests to a loopback port, for checks that compare answers
# with each other (a block's checks see one answer at a time).
# http_burst(port, n, "METHOD /path", { header => value }, body): n of the
# same request, all sent before any answer is read, each on its own
# connection; -> n answers, each
#   { status => N, headers => { lowercase name => value }, body => ... }
# http(port, ...): one.
sub http_burst {
    my ($port, $n, $line, $headers, $body) = @_;
    $body //= '';
    my $req = "$line HTTP/1.0\r\nHost: localhost\r\n"
              . join('', map { "$_: $headers->{$_}\r\n" } sort keys %{ $headers || {} })
              . "Content-Length: " . length($body) . "\r\n\r\n$body";
    my @s = map {
        IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
            or die "http: $!";
    } 1 .. $n;
    print $_ $req for @s;
    my @answers;
    for my $s (@s) {
        my $reply = do { local $/; <$s> };
        close $s;
        my ($head, $rest) = split /\r\n\r\n/, $reply // '', 2;
        my ($status, @lines) = split /\r\n/, $head // '';
        my %h;
        for (@lines) {
            my ($k, $v) = /^([^:]+):\s*(.*)$/ or next;
            $h{lc $k} = exists $h{lc $k} ? "$h{lc $k}\n$v" : $v;
        }
        push @answers, { status => ($status // '') =~ m{^HTTP/\S+ (\d+)} ? $1 : 0,
                         headers => \%h, body => $rest // '' };
    }
    return @answers;
}

sub http {
    my ($port, @req) = @_;
    return (http_burst($port, 1, @req))[0];
}

# A loopback port where nothing listens.
sub free_port {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0) or die "listen: $!";
    my $p = $s->sockport;
    close $s;
    return $p;
}

# A loopback port that accepts connections and never answers; the socket
# must stay referenced for as long as it is needed.
sub silent_port {
    my $s = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "listen: $!";
    return ($s, $s->sockport);
}

# A gearmand whose persistent queue fails, as one whose Redis restarted,
# for as long as the test file runs: it answers "version" on its admin
# protocol, and refuses every request with gearmand's own ERROR packet
# (QUEUE_ERROR).  Its port.
my @broken_pids;

sub broken_gearmand {
    my $l = IO::Socket::INET->new(Listen => 16, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "listen: $!";
    my $pid = fork() // die "fork: $!";
    if ($pid == 0) {
        alarm 300;                      # never outlives the test file
        $SIG{CHLD} = 'IGNORE';
        while (my $c = $l->accept) {
            if (fork() // 0) {          # one process a connection
                close $c;
                next;
            }
            while (1) {
                my $head;
                last unless (read($c, $head, 4) // 0) == 4;
                if ($head ne "\0REQ") {                        # admin text
                    my $rest = <$c>;
                    print $c "OK 1.1.20\n";
                    $c->flush;
                    next;
                }
                last unless (read($c, my $more, 8) // 0) == 8;
                $head .= $more;
                my (undef, $type, $len) = unpack('a4 N N', $head);
                read($c, my $body, $len);
                my $err = "QUEUE_ERROR\0QUEUE_ERROR";
                print $c pack('a4 N N', "\0RES", 19, length $err) . $err;
                $c->flush;
            }
            # not exit: a child must not run the runner's END, which stops
            # the nginx in the pid file, the one serving the block at hand
            POSIX::_exit(0);
        }
        POSIX::_exit(0);
    }
    push @broken_pids, $pid;
    my $port = $l->sockport;
    close $l;
    return $port;
}

END { kill 'TERM', @broken_pids if @broken_pids; }

# The Solr stand-in (t/solr/solr_standin.py) on a free port, for as long as
# the test file runs; its port.
my @solr_pids;

sub solr_start {
    my $port = free_port();
    defined(my $pid = fork) or die "fork: $!";
    if ($pid == 0) {
        open STDERR, '>', '/dev/null';
        exec 'python3', 't/solr/solr_standin.py', '--port', $port,
             '--core', 'photos' or POSIX::_exit(127);
    }
    push @solr_pids, $pid;
    for (1 .. 100) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port) and return $port;
        select undef, undef, undef, 0.05;
    }
    die "the Solr stand-in did not start\n";
}

END { kill 'TERM', @solr_pids if @solr_pids }

# POST a JSON body to the stand-in's update handler, committed at once
sub solr_update {
    my ($port, $json) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die "solr: $!";
    utf8::encode($json);
    print $s "POST /solr/photos/update?commit=true HTTP/1.0\r\n"
        . "Content-Type: application/json\r\nContent-Length: "
        . length($json) . "\r\n\r\n$json";
    my $reply = do { local $/; <$s> };
    $reply =~ m{^HTTP/1\.\d 200} or die "solr update failed: $reply\n";
}

1;
