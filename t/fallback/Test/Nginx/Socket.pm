package Test::Nginx::Socket;

# Fallback for the CPAN module Test::Nginx::Socket (not packaged in Debian).
#
# scripts/test puts t/fallback on @INC only when the real module cannot be
# loaded, so the project's .t files must run unchanged under both.  This file
# implements a subset of the real runner with the same semantics (generated
# nginx.conf, test names, test counts) and dies on anything outside that
# subset instead of ignoring it.  See t/fallback/README.md.
#
# NB: "use Test::Base -Base" runs the Spiffy source filter over this file,
# which injects "my $self = shift;" into every named sub WITHOUT a prototype.
# Every named sub below therefore has a prototype ("()" is stripped by the
# filter and leaves a plain sub).

use Test::Base -Base;

use File::Path ();
use File::Spec ();
use File::Temp ();
use HTTP::Response ();
use IO::Select ();
use IO::Socket::INET ();
use List::Util ();
use POSIX ();
use Scalar::Util ();
use Test::LongString ();
use Time::HiRes ();

our $VERSION = '0.01-fallback';

our @EXPORT = qw(
    run_tests repeat_each no_shuffle no_long_string log_level workers
    worker_connections master_on master_off master_process_enabled
    no_root_location env_to_nginx server_port server_root html_dir timeout
    add_block_preprocessor bail_out is_str
);

# Modes of the real runner that change how tests run.  Silently running in
# the plain mode instead would make results lie, so refuse them.
BEGIN {
    for my $v (qw(USE_HUP USE_VALGRIND USE_STAP USE_RR CHECK_LEAK BENCHMARK
                  USE_HTTP2 USE_HTTP3 RANDOMIZE NO_NGINX_MANAGER CLIENT_PORT
                  EVENT_TYPE POSTPONE_OUTPUT CHECK_ACCUM_ERR_LOG REUSE_PORT
                  WORKER_USER ERROR_LOG LD_PRELOAD IGNORE_MISSING_DIRECTIVES))
    {
        my $val = $ENV{"TEST_NGINX_$v"};
        die "fallback Test::Nginx::Socket: TEST_NGINX_$v is not supported "
            . "(install the real Test::Nginx from CPAN)\n"
            if defined $val && $val ne '' && $val ne '0';
    }
    die "fallback Test::Nginx::Socket: TEST_NGINX_FORCE_RESTART_ON_TEST=0 "
        . "is not supported (nginx is always restarted per block)\n"
        if defined $ENV{TEST_NGINX_FORCE_RESTART_ON_TEST}
           && !$ENV{TEST_NGINX_FORCE_RESTART_ON_TEST};
}

# Test::Base's END block runs run_compare() (which croaks for nginx-style
# blocks) when no plan was declared, unless its $SIG{__DIE__} hook has seen a
# die.  Loading the real runner always trips that hook (an optional module
# fails to load inside an eval), so there a file without a plan just gets
# Test::Builder's "no plan" failure and one ending in done_testing() passes.
# Trip the hook the same way so both runners end such files alike.
{
    local $@;
    eval { die "fallback Test::Nginx::Socket: disarm Test::Base END\n" };
}

# ---- settings (same env variables and defaults as the real runner) --------

our $NginxBinary  = $ENV{TEST_NGINX_BINARY} || 'nginx';
our $ServerAddr   = '127.0.0.1';
our $ServerName   = 'localhost';
our $ServerPort   = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                    || 1984;
our $Timeout      = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $LogLevel     = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $MasterProcess = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $NoShuffle    = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $Sleep        = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $Workers      = 1;
our $WorkerConnections = 64;
our $RepeatEach   = 1;
our $NoRootLocation = 0;
our $NoLongString = 0;
our @EnvToNginx;
our @BlockPreprocessors;

our $ServRoot = $ENV{TEST_NGINX_SERVROOT}
                || File::Spec->rel2abs('t/servroot');
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;    # the real one exports this too
our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $PidFile    = "$LogDir/nginx.pid";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";

# Sections this runner understands.  Anything else dies (see check_sections).
our %KnownSections = map { $_ => 1 } qw(
    main_config http_config config
    request raw_request more_headers timeout abort wait init
    error_code error_code_like
    response_headers response_headers_like
    raw_response_headers_like raw_response_headers_unlike
    response_body response_body_like response_body_unlike ignore_response
    response_body_filters
    error_log no_error_log log_level must_die user_files
    no_check_leak suppress_stderr
    ONLY SKIP LAST
);

# Keys Test::Base itself keeps in a block object.
our %BlockInternals = map { $_ => 1 } qw(
    name description seq_num is_filtered blocks_object original_values
);

our $ErrLogPos = 0;          # error.log offset already checked
our $ConnectFailures = 0;
our %RandPorts;              # $TEST_NGINX_RAND_PORT_N of the current block
our $NginxV;                 # `nginx -V` output
our $Started = 0;            # we launched an nginx that may still run

# ---- exported knobs -------------------------------------------------------

sub repeat_each (@) { $RepeatEach = shift if @_; $RepeatEach }
sub no_shuffle () { $NoShuffle = 1 }
sub no_long_string () { $NoLongString = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub log_level (@) { $LogLevel = shift if @_; $LogLevel }
sub workers (@) { $Workers = shift if @_; $Workers }
sub worker_connections (@) {
    $WorkerConnections = shift if @_; $WorkerConnections
}
sub master_on () { $MasterProcess = 'on' }
sub master_off () { $MasterProcess = 'off' }
sub master_process_enabled (@) {
    $MasterProcess = (shift() ? 'on' : 'off') if @_;
    $MasterProcess
}
sub server_port (@) { $ServerPort = shift if @_; $ServerPort }
sub server_root () { $ServRoot }
sub html_dir () { $HtmlDir }
sub timeout (@) { $Timeout = shift if @_; $Timeout }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }

sub env_to_nginx (@) {
    Carp::croak("env_to_nginx: no arguments specified") unless @_;
    for my $v (@_) {
        Carp::croak("env_to_nginx: bad argument value: $v\n")
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    return Test::More::like($got, $expected, $desc)
        if ref $expected && ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc) if $NoLongString;
    return Test::LongString::is_string($got, $expected, $desc);
}

sub bail_out (@) {
    stop_nginx();
    Test::More::BAIL_OUT(join '', @_);
}

# ---- small helpers --------------------------------------------------------

# "500ms" -> 0.5, "2s" -> 2, "1.5" -> 1.5
sub parse_time ($$) {
    my ($t, $name) = @_;
    return undef unless defined $t;
    return $1 / 1000 if $t =~ /^\s*([\d.]+)\s*ms\s*$/;
    return $1 if $t =~ /^\s*([\d.]+)\s*s?\s*$/;
    die "fallback Test::Nginx::Socket: $name: bad time value '$t'\n";
}

sub free_port () {
    my $s = IO::Socket::INET->new(LocalAddr => $ServerAddr, LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or bail_out("cannot find a free port: $!");
    my $port = $s->sockport;
    close $s;
    return $port;
}

# $TEST_NGINX_FOO -> $ENV{TEST_NGINX_FOO}; unset variables abort the run,
# $TEST_NGINX_RAND_PORT_N gets a free port (stable within a block).
sub expand_env ($$) {
    my ($text, $name) = @_;
    return $text unless defined $text && !ref $text;
    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            $RandPorts{$var} //= free_port();
        } else {
            defined $ENV{$var}
                or bail_out("$name - No environment $var defined.\n");
            $ENV{$var};
        }
    }ge;
    return $text;
}

# A section value that must be given per request when a block sends
# several requests (request eval returning an array).
sub indexed ($$$$) {
    my ($name, $value, $idx, $multi) = @_;
    if (ref $value eq 'ARRAY') {
        bail_out("$name - SHOULD NOT HAPPEN: idx != 0 and no array")
            if !$multi && $idx;
        return $value->[$idx];
    }
    bail_out("$name - You asked for many requests, the expected results "
             . "should be arrays as well.") if $multi;
    return $value;
}

# error_log style value (lines / qr// / array of them) -> list of patterns
sub patterns ($) {
    my $v = shift;
    return @$v if ref $v eq 'ARRAY';
    return ($v) if ref $v;
    chomp $v;
    return split /\n+/, $v;
}

sub pat_match ($$) {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

# "Key: value" / "!Key" lines -> ordered [key, value-or-undef]; undef
# means "must be absent" ("!Key", or a line without a colon, as in the real
# runner).  A repeated key keeps its first position and its last value.
sub parse_header_spec ($) {
    my $spec = shift;
    my (@order, %val);
    for my $line (split /\n/, $spec) {
        $line =~ s/^\s+|\s+$//g;
        next if $line eq '';
        my ($key, $v);
        if ($line =~ s/^!\s*//) {
            $key = $line;
        } else {
            ($key, $v) = split /\s*:\s*/, $line, 2;
        }
        push @order, $key unless exists $val{$key};
        $val{$key} = $v;
    }
    return map { [$_, $val{$_}] } @order;
}

# ---- block validation -----------------------------------------------------

# Dies on sections this runner does not implement.  $full also checks what
# only makes sense once the block preprocessors have run.
sub check_sections ($$) {
    my ($block, $full) = @_;
    my $name = $block->name;
    my @secs = (@{ $block->{_section_order}[0] || [] },
                grep { !/^_/ && !$BlockInternals{$_} } keys %$block);
    for my $s (@secs) {
        die "fallback Test::Nginx::Socket: $0: block '$name': section "
            . "'--- $s' is not supported by this runner "
            . "(see t/fallback/README.md)\n" unless $KnownSections{$s};
    }
    return unless $full;
    my @clash = (['response_headers', 'response_headers_like'],
                 ['response_body', 'response_body_like'],
                 ['response_body', 'response_body_unlike'],
                 ['response_body_like', 'response_body_unlike'],
                 ['error_code', 'error_code_like'],
                 ['request', 'raw_request']);
    for my $c (@clash) {
        # the real runner silently ignores the second one of these pairs
        die "fallback Test::Nginx::Socket: $0: block '$name': "
            . "'--- $c->[0]' and '--- $c->[1]' cannot be combined\n"
            if defined $block->{$c->[0]} && defined $block->{$c->[1]};
    }
    die "fallback Test::Nginx::Socket: $0: block '$name': a '--- config' "
        . "section is required (it may be empty)\n"
        unless exists $block->{config};
    for my $s (qw(request raw_request more_headers)) {
        my $v = $block->$s;
        next unless ref $v;
        die "fallback Test::Nginx::Socket: $0: block '$name': '--- $s' "
            . "must be a string or an array of strings\n"
            if $s eq 'raw_request' || ref $v ne 'ARRAY' || grep { ref } @$v;
    }
}

# ---- nginx process management ---------------------------------------------

sub pid_alive ($) {
    my $pid = shift;
    return 0 unless $pid && kill 0, $pid;
    # a daemonized nginx is reparented; until it is reaped it stays a zombie
    open my $fh, '<', "/proc/$pid/stat" or return 1;
    my $stat = <$fh> // '';
    return $stat !~ /^\d+ \(.*\) Z/s;
}

sub is_our_nginx ($) {
    my $pid = shift;
    open my $fh, '<', "/proc/$pid/cmdline" or return 1;   # no /proc: trust it
    my $cmd = <$fh> // '';
    return $cmd =~ /nginx/;
}

# Stop the nginx recorded in our pid file (also a leftover from an aborted
# run): QUIT, then KILL after $Timeout seconds.
sub stop_nginx () {
    # nginx writes its pid file after daemonizing: give it a moment
    for (1 .. ($Started ? 50 : 0)) {
        last if -s $PidFile;
        Time::HiRes::sleep(0.02);
    }
    $Started = 0;
    return unless -f $PidFile;
    open my $fh, '<', $PidFile or return;
    my $pid = <$fh>;
    close $fh;
    $pid = $1 if defined $pid && $pid =~ /(\d+)/;
    if ($pid && pid_alive($pid) && is_our_nginx($pid)) {
        kill 'QUIT', $pid;
        my $left = $Timeout;
        while ($left > 0 && pid_alive($pid)) {
            Time::HiRes::sleep(0.02);
            $left -= 0.02;
        }
        if (pid_alive($pid)) {
            warn "WARNING: nginx $pid ignored SIGQUIT; killing it\n";
            kill 'KILL', $pid;
            Time::HiRes::sleep(0.05);
        }
    }
    unlink $PidFile;
}

sub setup_servroot () {
    # remove only what we create, in case TEST_NGINX_SERVROOT is misused
    File::Path::remove_tree($ConfDir, $LogDir, $HtmlDir,
                            glob("$ServRoot/*_temp"));
    File::Path::make_path($ConfDir, $LogDir, $HtmlDir);
    open my $out, '>', "$HtmlDir/index.html"
        or bail_out("cannot write $HtmlDir/index.html: $!");
    print $out '<html><head><title>It works!</title></head>'
               . '<body>It works!</body></html>';
    close $out;
}

sub write_user_files ($) {
    my $block = shift;
    my $name = $block->name;
    my $files = $block->user_files;
    return unless defined $files;
    if (!ref $files) {
        my @list;
        for my $line (split /^/, $files) {
            if ($line =~ />>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    }
    bail_out("$name - --- user_files must be a string or an ARRAY")
        if ref $files ne 'ARRAY';
    for my $f (@$files) {
        my ($fname, $body, $date) = @$f;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        (my $dir = $path) =~ s{/[^/]*$}{};
        File::Path::make_path($dir) if length $dir;
        open my $out, '>', $path or bail_out("$name - cannot write $path: $!");
        binmode $out;
        print $out expand_env($body // '', $name);
        close $out;
        if ($date) {
            local $ENV{TZ} = 'GMT';
            system('touch', '-t', $date, $path) == 0
                or bail_out("$name - touch -t '$date' $path failed");
        }
    }
}

sub write_config ($$) {
    my ($block, $config) = @_;
    my $name = $block->name;
    my $main = expand_env($block->main_config // '', $name);
    my $http = expand_env($block->http_config // '', $name);
    my $level = $block->log_level || $LogLevel;

    if (my $mods = $ENV{TEST_NGINX_LOAD_MODULES}) {
        $main = join('', map { "load_module $_;\n" } split ' ', $mods) . $main;
    }

    my $env = join '', map { /\s/ ? "env '$_';\n" : "env $_;\n" } @EnvToNginx;
    # As root, run workers as root too (like the real runner): the default
    # "nobody" could not read the files the tests create under servroot.
    my $user = $> == 0 ? "user root;\n" : '';

    # Keep nginx off the packaged /var/lib/nginx temp paths.  As in the
    # real runner, http_config may set the first two itself.
    my $temp = '';
    for my $t (qw(client_body proxy fastcgi scgi uwsgi)) {
        next if $t ne 'client_body'
                && $NginxV =~ /--without-http_${t}_module/;
        next if $t =~ /^(?:client_body|proxy)$/
                && $http =~ /\b${t}_temp_path\b/;
        $temp .= "    ${t}_temp_path $ServRoot/${t}_temp;\n";
    }
    my $root = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    open my $out, '>', $ConfFile or bail_out("cannot write $ConfFile: $!");
    print $out <<"_EOC_";
# generated by the fallback Test::Nginx::Socket for $name
worker_processes $Workers;
daemon on;
master_process $MasterProcess;
error_log $ErrLogFile $level;
pid $PidFile;
$user$env
$main

events {
    accept_mutex off;
    worker_connections $WorkerConnections;
}

http {
    access_log $AccLogFile;
$temp    default_type text/plain;
    keepalive_timeout 68000ms;

$http

    server {
        listen $ServerPort;
        server_name '$ServerName';
        client_max_body_size 30M;

$config

$root    }
}
_EOC_
    close $out;
}

# Run the nginx binary once; returns ($wait_status, $stderr_text).
sub run_nginx () {
    my $errf = File::Temp->new;
    my $cmd = "$NginxBinary -p $ServRoot/ -c $ConfFile -e $ErrLogFile";
    system("$cmd >/dev/null 2>" . $errf->filename);
    my $status = $?;
    open my $fh, '<', $errf->filename;
    my $stderr = do { local $/; <$fh> } // '';
    return ($status, $stderr);
}

sub start_nginx ($) {
    my $name = shift;
    my $deadline = Time::HiRes::time() + 3;  # nginx retries bind() 2.5s too
    while (1) {
        my ($status, $stderr) = run_nginx();
        return $Started = 1 if $status == 0;
        # the port may still be held by an nginx that is going away
        if ($stderr =~ /Address already in use/
            && Time::HiRes::time() < $deadline)
        {
            Time::HiRes::sleep(0.2);
            next;
        }
        bail_out("$name - Cannot start nginx (status $status, config "
                 . "$ConfFile): $stderr");
    }
}

# ---- HTTP client ----------------------------------------------------------

sub parse_more_headers ($) {
    my $in = shift;
    my ($out, $chunked) = ('', 0);
    for my $h (split /\n+/, $in // '') {
        next if $h =~ /^\s*#/;
        my ($k, $v) = split /:\s*/, $h, 2;
        $v //= '';
        $chunked = 1 if lc $k eq 'transfer-encoding' && $v eq 'chunked';
        $out .= "$k: $v\r\n";
    }
    return ($out, $chunked);
}

# "--- request" text -> raw HTTP request, completed like the real runner:
# default URL "/" and "HTTP/1.1", Host and "Connection: close" unless
# given, and a Content-Length for a body (which is then trimmed).
sub build_request ($$$) {
    my ($name, $req, $more) = @_;
    bail_out("$name - request empty") unless defined $req;
    1 while $req =~ s/^\s*\#[^\n]+\s+|^\s+//gs;
    my ($line, $body) = split /\n/, $req, 2;
    bail_out("$name - Request line should be non-empty")
        unless defined $line && $line =~ /\S/;
    my ($meth, $url, $ver, @rest) = split ' ', $line;
    bail_out("$name - Request line is not valid. Should be 'meth [url "
             . "[version]]' but got \"$line\".") if @rest;
    $url //= '/';
    $ver //= 'HTTP/1.1';
    $body //= '';
    my ($hdrs, $chunked) = parse_more_headers($more);
    my $len = '';
    if (!$chunked && $body ne '' && $hdrs !~ /(?:^|\n)Content-Length:/) {
        $body =~ s/^\s+|\s+$//gs;
        $len = 'Content-Length: ' . length($body) . "\r\n";
    }
    my $head = '';
    $head .= "Host: $ServerName\r\n" if $hdrs !~ /(?:^|\n)Host:/msi;
    $head .= "Connection: close\r\n" if $hdrs !~ /(?:^|\n)Connection/msi;
    return "$meth $url $ver\r\n$head$hdrs$len\r\n$body";
}

sub connect_server ($$) {
    my ($name, $timeout) = @_;
    my $deadline = Time::HiRes::time() + $timeout;
    while (1) {
        my $sock = IO::Socket::INET->new(PeerAddr => $ServerAddr,
                                         PeerPort => $ServerPort,
                                         Proto => 'tcp', Timeout => $timeout);
        return $sock if $sock;
        my $err = $!;
        if (Time::HiRes::time() >= $deadline) {
            my $msg = "$name - Can't connect to $ServerAddr:$ServerPort: "
                      . "$err (aborted)\n";
            bail_out($msg) if ++$ConnectFailures >= 3;
            fail($msg);
            return undef;
        }
        Time::HiRes::sleep(0.05);
    }
}

# Send one raw request and read until the server closes the connection.
# $timeout is an idle timeout, like the real runner's select() loop; when it
# fires the test fails unless the block has "--- abort".
sub send_request ($$$) {
    my ($block, $req, $timeout) = @_;
    my $name = $block->name;
    my $sock = connect_server($name, $timeout) or return undef;
    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';
    my $sel = IO::Select->new($sock);
    my ($resp, $off, $writing) = ('', 0, 1);
    while (1) {
        my ($r, $w) = IO::Select->select($sel, $writing ? $sel : undef,
                                         undef, $timeout);
        if (!$r && !$w) {
            close $sock;
            fail("ERROR: client socket timed out - $name\n")
                unless defined $block->abort;
            last;
        }
        if ($w && @$w) {
            my $n = syswrite($sock, $req, length($req) - $off, $off);
            if (defined $n) {
                $off += $n;
                $writing = 0 if $off >= length $req;
            } elsif ($! != POSIX::EAGAIN) {
                # nginx may answer (e.g. 413) and close before the whole
                # body is sent; keep reading what it did send
                $writing = 0;
            }
        }
        if ($r && @$r) {
            my $n = sysread($sock, my $buf, 16384);
            next if !defined $n && $! == POSIX::EAGAIN;
            if (!defined $n) {
                warn "WARNING: $name - HTTP response read failure: $!\n";
                last;
            }
            last if $n == 0;
            $resp .= $buf;
        }
    }
    close $sock;
    return $resp;
}

sub decode_chunked ($) {
    my $raw = shift;
    my $out = '';
    while (1) {
        $raw =~ s/^[ \t]*([0-9A-Fa-f]+)[^\r\n]*\r\n//
            or return (undef, $raw eq '' ? 'no last chunk found'
                                         : 'bad chunk size line');
        my $n = hex $1;
        if ($n == 0) {
            $raw =~ s/^(?:[^\r\n]+\r\n)*\r\n//
                or return (undef, 'bad trailer');
            return ($out, $raw);
        }
        return (undef, 'not enough octets for the data section')
            if length($raw) < $n;
        $out .= substr($raw, 0, $n, '');
        $raw =~ s/^\r\n// or return (undef, 'expected CRLF');
    }
}

# -> (HTTP::Response or undef, raw header text)
sub parse_response ($$$) {
    my ($name, $raw, $head_req) = @_;
    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';
    my $res = HTTP::Response->parse($raw);
    my $code = $res->code;
    $res->code(undef) if defined $code && $code !~ /^\d+$/;
    return ($res, $raw_headers)
        if $head_req || ($code && ($code == 304 || $code == 101));
    my $left;
    my $te = $res->header('Transfer-Encoding');
    my $len = $res->header('Content-Length');
    my $body = $res->content // '';
    if (defined $te && $te eq 'chunked') {
        (my $dec, $left) = decode_chunked($body);
        if (!defined $dec) {
            fail("$name - invalid chunked body received: $left");
            return (undef, $raw_headers);
        }
        $res->content($dec);
    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $body < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got ", length $body, "\n";
        } elsif (length $body > $len) {
            $left = substr $body, $len;
            $res->content(substr $body, 0, $len);
        }
    }
    warn "WARNING: $name - unexpected extra bytes after the response: "
         . "\"$left\"\n" if defined $left && length $left;
    return ($res, $raw_headers);
}

# ---- checks (names and counts as in the real runner) ----------------------

sub check_response ($$$$$$) {
    my ($block, $res, $raw_headers, $idx, $rep, $multi) = @_;
    my $name = $block->name;
    my $code = ($res && $res->code) || '';

    if (defined $block->error_code_like) {
        my $re = indexed($name, $block->error_code_like, $idx, $multi);
        like($code, qr/$re/sm, "$name - status code ok");
    } else {
        my $want = defined $block->error_code
            ? indexed($name, $block->error_code, $idx, $multi) : 200;
        Test::More::is($code, $want, "$name - status code ok");
    }

    for my $s (qw(raw_response_headers_like raw_response_headers_unlike)) {
        next unless defined $block->$s;
        my $re = indexed($name, $block->$s, $idx, $multi);
        my $un = $s =~ /unlike/;
        ($un ? \&unlike : \&like)->($raw_headers, qr/$re/s,
            "$name - raw resp headers " . ($un ? 'unlike' : 'like'));
    }

    if (defined $block->response_headers) {
        my $spec = indexed($name, $block->response_headers, $idx, $multi);
        for my $h (parse_header_spec($spec)) {
            my ($key, $want) = @$h;
            if (!defined $want) {
                unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                       "$name - header $key not present in the raw headers");
                next;
            }
            $want =~ s/\$ServerPort\b/$ServerPort/g;
            my $got = $res ? $res->header($key) : undef;
            Test::More::is($got // '', $want, "$name - header $key ok");
        }
    } elsif (defined $block->response_headers_like) {
        my $spec = indexed($name, $block->response_headers_like, $idx, $multi);
        for my $h (parse_header_spec($spec)) {
            my ($key, $re) = @$h;
            $re //= '';
            my $got = $res ? $res->header($key) : undef;
            like($got // '', qr/^$re$/, "$name - header $key like ok");
        }
    }

    my $content = $res ? $res->content : undef;
    $content = filter_body($block, $content) if defined $content;
    if (defined $block->response_body) {
        my $want = indexed($name, $block->response_body, $idx, $multi);
        if (defined $want && !ref $want) {
            $want =~ s/\$ServerPort\b/$ServerPort/g;
            $want = expand_env($want, $name);
        }
        my $desc = "$name - response_body - ";
        if (ref $want) {
            like($content, $want,
                 "${desc}like (repeated req $rep, req $idx)");
        } else {
            is_str($content, $want, "${desc}response is expected "
                   . "(repeated req $rep, req $idx)");
        }
    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $type = defined $block->response_body_like ? 'like' : 'unlike';
        my $s = "response_body_$type";
        my $re = indexed($name, $block->$s, $idx, $multi);
        $re =~ s/\$ServerPort\b/$ServerPort/g;
        my $summary = $content // '';
        $summary =~ s/^\s+|\s+$//g;
        $summary =~ s/\s+/ /g;
        ($type eq 'like' ? \&like : \&unlike)->($content, qr/$re/s,
            "$name - response_body_$type - response is expected ($summary)");
    }
}

# response_body_filters: a code ref, or an array of them, each given the
# body and returning what the checks see (as the real runner does; its
# named filters and per-request arrays are not supported here)
sub filter_body ($$) {
    my ($block, $content) = @_;
    my $f = $block->response_body_filters;
    return $content unless defined $f;
    for my $sub (ref $f eq 'ARRAY' ? @$f : ($f)) {
        bail_out($block->name . " - response_body_filters: only code refs")
            unless ref $sub eq 'CODE';
        $content = $sub->($content);
    }
    return $content;
}

sub read_error_log () {
    # give nginx time for log-phase messages written after the response
    Time::HiRes::sleep($Sleep * 3);
    open my $in, '<', $ErrLogFile or return [];
    seek $in, $ErrLogPos, 0;
    my @lines = <$in>;
    $ErrLogPos = tell $in;
    close $in;
    return \@lines;
}

sub fmt_str ($) {
    my $s = shift;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

# Checks the error.log lines written since the previous check: one test per
# --- error_log pattern and one per --- no_error_log pattern.
sub check_error_log ($$) {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $lines = read_error_log();
    my @must = defined $block->error_log ? patterns($block->error_log) : ();
    my @mustnt = defined $block->no_error_log
        ? patterns($block->no_error_log) : ();

    for my $pat (@must) {
        if (grep { pat_match($_, $pat) } @$lines) {
            pass("$name - pattern \"$pat\" matches a line in error.log "
                 . "(req $rep)");
        } else {
            fail("$name - pattern \"$pat\" should match a line in "
                 . "error.log (req $rep)");
        }
    }
    for my $pat (@mustnt) {
        my @hits = grep { pat_match($_, $pat) } @$lines;
        my $p = fmt_str($pat);
        if (@hits) {
            fail("$name - pattern \"$p\" should not match any line in "
                 . "error.log but matches line \"" . fmt_str($hits[0])
                 . "\" (req $rep)\n" . join '', @hits[1 .. List::Util::min(
                 $#hits, 9)]);
        } else {
            pass("$name - pattern \"$p\" does not match a line in "
                 . "error.log (req $rep)");
        }
    }

    # Like the real runner: warn about serious messages nobody asked about
    # and fail on assertion failures.
    for my $lvl (qw(alert crit emerg)) {
        next if grep { index("$_", "[$lvl") >= 0 } @must, @mustnt;
        warn "WARNING: $name - ", fmt_str($_), "\n"
            for grep { /\[$lvl\]/ } @$lines;
    }
    for my $line (@$lines) {
        fail("$name - $line") if $line =~ /\bAssertion .*?failed\b/;
    }
}

# ---- running blocks -------------------------------------------------------

sub run_must_die ($) {
    my $block = shift;
    my $name = $block->name;
    my $must_die = $block->must_die;
    $ErrLogPos = 0;
    for my $rep (0 .. $RepeatEach - 1) {
        my ($status) = run_nginx();
        $Started = 1 if $status == 0;
        my $exit = $status >> 8;
        if ($status == -1) {
            fail("$name - failed to execute the nginx command line");
        } elsif ($status & 128) {
            fail("$name - nginx core dumped");
        } elsif (Scalar::Util::looks_like_number($must_die)) {
            Test::More::is($exit, $must_die,
                           "$name - die with the expected exit code");
        } else {
            isnt($status, 0, "$name - die as expected");
        }
        check_error_log($block, $rep);
        if ($status == 0) {
            warn "WARNING: $name - nginx must die but it does not; "
                 . "killing it\n";
            stop_nginx();
        }
    }
}

sub run_requests ($$) {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $timeout = parse_time($block->timeout, $name) // $Timeout;
    my @reqs;
    if (defined $block->raw_request) {
        @reqs = ($block->raw_request);
    } else {
        my $req = $block->request;
        my $more = $block->more_headers // '';
        my @list = ref $req ? @$req : ($req);
        for my $i (0 .. $#list) {
            my $m = ref $more ? $more->[$i] : $more;
            bail_out("$name - --- more_headers lacks data for request $i")
                unless defined $m;
            push @reqs, build_request($name, $list[$i], $m);
        }
    }
    my $multi = @reqs > 1;
    my $wait = parse_time($block->wait, $name);
    for my $idx (0 .. $#reqs) {
        my $raw = send_request($block, $reqs[$idx], $timeout) // '';
        unless (defined $block->ignore_response) {
            my $head_req = $reqs[$idx] =~ /^\s*HEAD\s+/;
            my ($res, $raw_headers) = parse_response($name, $raw, $head_req);
            check_response($block, $res, $raw_headers, $idx, $rep, $multi);
        }
        if ($idx < $#reqs) {
            Time::HiRes::sleep($wait) if $wait;
            check_error_log($block, $rep);
        }
    }
    Time::HiRes::sleep($wait) if $wait;
    check_error_log($block, $rep);
}

sub run_block ($) {
    my $block = shift;
    my $name = $block->name;
    %RandPorts = ();
    my $config = expand_env($block->config // '', $name);

    # a fresh nginx per block, as the real runner does by default
    stop_nginx();
    setup_servroot();
    write_user_files($block);
    write_config($block, $config);

    return run_must_die($block) if defined $block->must_die;

    bail_out("$name - no --- request or --- raw_request section")
        unless defined $block->request || defined $block->raw_request;

    start_nginx($name);
    Time::HiRes::sleep($Sleep);

    if (defined $block->init) {
        eval $block->init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogPos = 0;
    for my $rep (0 .. $RepeatEach - 1) {
        write_user_files($block) if $rep > 0;
        run_requests($block, $rep);
    }
}

sub run_tests () {
    $NginxV = `$NginxBinary -V 2>&1`;
    bail_out("Failed to get the version of the Nginx in PATH: "
             . ($NginxV // '')) if !defined $NginxV || $? != 0;
    $ENV{TEST_NGINX_SERVER_PORT} //= $ServerPort;

    my @blocks = blocks();
    # refuse before starting nginx (fully, unless preprocessors may still
    # add sections)
    check_sections($_, !@BlockPreprocessors) for @blocks;
    @blocks = List::Util::shuffle(@blocks) unless $NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        check_sections($block, 1);
        $block->set_value(name => "$0 " . $block->name);
        run_block($block);
    }
}

END {
    # stop nginx unless asked to leave it running for debugging
    local $?;    # keep the exit status Test::Builder computed
    stop_nginx() unless $ENV{TEST_NGINX_NO_CLEAN};
}

1;
