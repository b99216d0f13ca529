#!/usr/bin/env python3
"""The edge tier (PHOTO_EDGE=1, scripts/lib/edge.sh): HAProxy terminating TLS
in front of the stack's three nginx instances, each with its own workers.

- TLS 1.2 and 1.3 with the stack's certificate, TLS 1.1 refused; HTTP/2 to
  the client, HTTP/1.1 to nginx.
- The client's address (a loopback address of the test's own, 127.0.0.23)
  reaches nginx's access log and the module's slow-request line, and the
  session cookie is Secure; an X-Forwarded-For the client forged is not
  believed, nor one sent to nginx by anyone but the load balancer.
- No instance passes its check (a memcached frozen: /health 503 on all):
  the load balancer fails open and nginx still answers.
- HAProxy's own metrics (its Prometheus exporter, on a port of their
  own) say which instances are in rotation, and the stack's Prometheus
  scrapes them when it runs.
- Under load from h2load (bounded: --rps per client, a few seconds):
  one instance killed (kill -9, master and workers): the requests in
  flight at the kill counted, none failing after the check marks it down;
  the three reloaded (nginx -s reload) one by one: 0 failed; a binary
  upgrade of one (USR2, WINCH, QUIT) while posts go through all three:
  0 failed, every post accepted under an id of its own, stored once.
Prints figures and 'N passed, N failed'; skipped (77) without the edge."""

import http.client, json, os, re, signal, socket, ssl, subprocess, sys, tempfile
import threading, time, urllib.parse, urllib.request, uuid, warnings

sys.dont_write_bytecode = True     # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import HOST, RUN, check, done, pid_in, png, sql, waited  # noqa: E402

EDGE = os.path.join(RUN, "edge")
_hap = pid_in(os.path.join(EDGE, "haproxy.pid"))
if os.environ.get("PHOTO_EDGE") != "1" or not _hap or not os.path.exists("/proc/%d" % _hap):
    print("skipped: the stack runs no edge tier (PHOTO_EDGE=1)")
    sys.exit(77)

EDGE_PORT = int(os.environ["PHOTO_EDGE_PORT"])
CA = os.path.join(EDGE, "ca.crt")
NGINX = os.environ.get("PHOTO_NGINX_BINARY", "/usr/sbin/nginx")
# (HAProxy's name for it, its prefix, its port): the stack's own first
INSTANCES = [("nginx-1", os.path.join(RUN, "nginx"), int(os.environ["PHOTO_NGINX_PORT"]))] + [
    ("nginx-%d" % n, os.path.join(RUN, "nginx-%d" % n), int(p))
    for n, p in enumerate(os.environ["PHOTO_EDGE_NGINX_PORTS"].split(), start=2)]
CLIENT = "127.0.0.23"              # the test's own address as a client
FORGED = "203.0.113.9"             # what a client claims to be
SLOW_MS = int(os.environ.get("PHOTO_SLOW_REQUEST_MS", "1500"))   # photo_slow_request
SHARD_BITS, SEQ_BITS = 13, 10      # contract/photo_contract.h
CTX = ssl.create_default_context(cafile=CA)
METRICS_PORT = int(os.environ.get("PHOTO_EDGE_METRICS_PORT", "18044"))   # HAProxy's exporter
PROM = ("http://%s:%s" % (HOST, os.environ.get("PHOTO_PROMETHEUS_PORT", "19090"))
        if os.environ.get("PHOTO_PROMETHEUS") == "1" else None)
tag = uuid.uuid4().hex[:8]


# ------------------------------------------------------------------ helpers

def alive(pid):
    """a live process, not a zombie waiting to be reaped"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, TypeError):
        return False


def workers_of(master):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)],
                         capture_output=True, text=True).stdout
    return [int(p) for p in out.split() if alive(int(p))]


def pidfile(prefix):
    return os.path.join(prefix, "logs", "nginx.pid")


class Conn:
    """one keep-alive connection, to the load balancer over TLS (from the
    test's client address) or to an nginx directly"""

    def __init__(self, port=None, source=CLIENT):
        self.port, self.source, self.c = port, source, None

    def call(self, method, path, body=None, token=None, raw=None, ctype="application/json",
             headers=None):
        """(status, the JSON answer or raw bytes, headers); status None when
        there was no answer"""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        h = dict(headers or {})
        if data is not None:
            h["Content-Type"] = ctype
        if token:
            h["Authorization"] = "Bearer " + token
        try:
            if self.c is None:
                if self.port is None:
                    self.c = http.client.HTTPSConnection(HOST, EDGE_PORT, context=CTX, timeout=10,
                                                         source_address=(self.source, 0))
                else:
                    self.c = http.client.HTTPConnection(HOST, self.port, timeout=10,
                                                        source_address=(self.source, 0))
            self.c.request(method, path, data, h)
            r = self.c.getresponse()
            text = r.read()
        except (OSError, http.client.HTTPException) as e:
            self.close()
            return None, repr(e), {}
        try:
            text = json.loads(text) if text else None
        except ValueError:
            pass
        return r.status, text, r.headers

    def close(self):
        if self.c is not None:
            self.c.close()
        self.c = None


def edge(*args, **kw):
    c = Conn()
    try:
        return c.call(*args, **kw)
    finally:
        c.close()


def haproxy(command):
    """a command to HAProxy's admin socket: its answer"""
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(os.path.join(EDGE, "haproxy.sock"))
        s.sendall(command.encode() + b"\n")
        out = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return out.decode()
            out += chunk


def server(name):
    """HAProxy's counters and state of one server ("show stat")"""
    lines = haproxy("show stat").splitlines()
    head = lines[0].lstrip("# ").split(",")
    for line in lines[1:]:
        row = dict(zip(head, line.split(",")))
        if row.get("pxname") == "nginx" and row.get("svname") == name:
            return row
    raise KeyError(name)


def counters(name):
    s = server(name)
    return {k: int(s[k] or 0) for k in ("eresp", "econ", "wretr", "wredis", "stot")}


def state(name):
    return server(name)["status"]


def exported(name, st):
    """HAProxy's exporter: haproxy_server_status of instance name in state
    st (1 for the state it is in), or None"""
    try:
        text = urllib.request.urlopen("http://%s:%d/metrics" % (HOST, METRICS_PORT),
                                      timeout=5).read().decode()
    except OSError:
        return None
    m = re.search(r'^haproxy_server_status\{proxy="nginx",server="%s",state="%s"\} (\S+)$'
                  % (name, st), text, re.M)
    return float(m.group(1)) if m else None


def prom(expr):
    """the stack's Prometheus: the value of a query's one result, or None"""
    try:
        a = json.loads(urllib.request.urlopen(
            PROM + "/api/v1/query?" + urllib.parse.urlencode({"query": expr}),
            timeout=5).read())
        r = a["data"]["result"]
        return float(r[0]["value"][1]) if len(r) == 1 else None
    except (OSError, ValueError, KeyError, IndexError):
        return None


def all_up():
    return all(state(n) == "UP" for n, _, _ in INSTANCES)


def log_lines(prefix, name, needle):
    try:
        with open(os.path.join(prefix, "logs", name), errors="replace") as f:
            return [l for l in f if needle in l]
    except OSError:
        return []


class Load:
    """h2load through the load balancer for SECONDS: CLIENTS connections,
    each RPS requests a second (HTTP/2, or HTTP/1.1 with h1), every request
    with its start time and status in its log"""

    def __init__(self, seconds, token, clients=8, rps=40, h1=False):
        self.seconds = seconds
        fd, self.log = tempfile.mkstemp(prefix="e2e_edge.", suffix=".log")
        os.close(fd)
        cmd = ["h2load", "-t", "1", "-c", str(clients), "-m", "1", "--rps", str(rps),
               "-D", str(seconds), "--log-file", self.log,
               "-H", "Authorization: Bearer " + token,
               "https://%s:%d/v1/feed?count=5" % (HOST, EDGE_PORT)]
        self.p = subprocess.Popen(cmd + (["--h1"] if h1 else []), stdout=subprocess.PIPE,
                                  stderr=subprocess.STDOUT, text=True)

    def result(self):
        """(requests, [(start time, status)] of those not answered 2xx)"""
        out = self.p.communicate(timeout=self.seconds + 60)[0]
        rows = []
        with open(self.log) as f:
            for line in f:
                start, status = line.split("\t")[:2]
                rows.append((int(start) / 1e6, int(status)))
        os.unlink(self.log)
        m = re.search(r"^requests: .*$", out, re.M)
        print("#   h2load: %s" % (m.group(0) if m else out.strip()[-300:]))
        return len(rows), [(t, s) for t, s in rows if not 200 <= s < 300]


# ------------------------------------------------------------------- setup

s, b, _ = edge("POST", "/v1/users", {"username": "edge_" + tag, "password": "edge password"})
s2, t, h2 = edge("POST", "/v1/sessions", {"username": "edge_" + tag, "password": "edge password"})
token = t.get("token") if s2 == 201 and isinstance(t, dict) else None
s3, m, _ = edge("POST", "/v1/media", raw=png(8, 8), token=token, ctype="image/png")
media = m.get("media_id") if s3 == 201 and isinstance(m, dict) else None
check("sign-up, sign-in and an upload through the load balancer", (s, s2, s3) == (201, 201, 201),
      (s, b, s2, t, s3, m))
if not token or not media:
    done()
check("the session cookie is Secure through the load balancer (X-Forwarded-Proto https)",
      "; Secure" in (h2.get("Set-Cookie") or ""), h2.get("Set-Cookie"))

# ------------------------------------------------------ TLS and protocols


def handshake(server_name, ctx):
    with socket.create_connection((HOST, EDGE_PORT), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name) as tls:
            return tls.version(), tls.selected_alpn_protocol()


for name in ("localhost", "127.0.0.1"):
    ctx = ssl.create_default_context(cafile=CA)
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    got = handshake(name, ctx)
    check("TLS 1.3, the certificate verified for %s, HTTP/2 by ALPN" % name,
          got == ("TLSv1.3", "h2"), got)
ctx = ssl.create_default_context(cafile=CA)
ctx.maximum_version = ssl.TLSVersion.TLSv1_2
got = handshake("localhost", ctx)
check("TLS 1.2", got[0] == "TLSv1.2", got)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
ctx.set_ciphers("DEFAULT:@SECLEVEL=0")          # the client would speak it
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    ctx.minimum_version = ctx.maximum_version = ssl.TLSVersion.TLSv1_1
try:
    got = handshake("localhost", ctx)
except (ssl.SSLError, OSError) as e:
    got = repr(e)
check("TLS 1.1 refused by the load balancer", "PROTOCOL_VERSION" in str(got).upper()
      or "protocol version" in str(got), got)

# ------------------------------------------------- the client's address


def access_line(needle):
    """the access log line (of whichever instance) with needle"""
    for _, prefix, _ in INSTANCES:
        lines = log_lines(prefix, "access.log", needle)
        if lines:
            return lines[-1]
    return ""


forged = {"X-Forwarded-For": FORGED, "X-Real-IP": FORGED, "Forwarded": "for=" + FORGED,
          "X-Forwarded-Proto": "http"}
# HTTP/2 from the client (curl), HTTP/1.1 to nginx
out = subprocess.run(["curl", "-sS", "--http2", "--cacert", CA, "--interface", CLIENT,
                      "-o", "/dev/null", "-w", "%{http_version} %{http_code}"]
                     + sum((["-H", "%s: %s" % kv] for kv in forged.items()), [])
                     + ["https://localhost:%d/health?edge-h2-%s" % (EDGE_PORT, tag)],
                     capture_output=True, text=True)
check("HTTP/2 from the client through the load balancer", out.stdout == "2 200",
      (out.stdout, out.stderr))
line = ""
waited(lambda: access_line("edge-h2-" + tag), 3)
line = access_line("edge-h2-" + tag)
print("# nginx's access log: %s" % line.strip())
check("nginx logs the client's address, not the forged one nor the load balancer's",
      line.startswith(CLIENT + " "), line)
check("nginx is spoken to in HTTP/1.1", "HTTP/1.1\"" in line, line)

c = Conn(port=INSTANCES[0][2], source=HOST)
s, _, _ = c.call("GET", "/health?edge-direct-" + tag, headers={"X-Forwarded-For": FORGED})
c.close()
waited(lambda: access_line("edge-direct-" + tag), 3)
line = access_line("edge-direct-" + tag)
check("straight to nginx, X-Forwarded-For from another than the load balancer is not believed",
      line.startswith(HOST + " "), line)

s, b, h = Conn(port=INSTANCES[0][2], source=HOST).call(
    "POST", "/v1/sessions", {"username": "edge_" + tag, "password": "edge password"},
    headers={"X-Forwarded-Proto": "https"})
check("straight to nginx, X-Forwarded-Proto from another than the load balancer is not believed"
      " (no Secure)", s == 201 and "; Secure" not in (h.get("Set-Cookie") or ""),
      (s, h.get("Set-Cookie") if h else None))

s, b, _ = edge("GET", "/metrics")
check("the module's metrics are not served to the public: 404 at the edge, in the API's shape",
      s == 404 and isinstance(b, dict) and b.get("error", {}).get("code") == "not_found", (s, b))
check("HAProxy's own metrics, on their port: the three instances UP",
      all(exported(n, "UP") == 1 and exported(n, "DOWN") == 0 for n, _, _ in INSTANCES),
      [(n, exported(n, "UP")) for n, _, _ in INSTANCES])

# the module sees the client's address too: a sign-in kept waiting by the
# auth worker past photo_slow_request logs the slow-request line, with it
auth = [pid_in(os.path.join(RUN, "workers", f)) for f in os.listdir(os.path.join(RUN, "workers"))
        if f.startswith("photo_auth.") and f.endswith(".pid")]
auth = [p for p in auth if alive(p)]
result = {}


def slow_signin():
    result["answer"] = edge("POST", "/v1/sessions?edge-slow-" + tag,
                            {"username": "edge_" + tag, "password": "edge password"},
                            headers={"X-Forwarded-For": FORGED})


for p in auth:
    os.kill(p, signal.SIGSTOP)
try:
    th = threading.Thread(target=slow_signin)
    th.start()
    time.sleep(SLOW_MS / 1000 + 0.3)
finally:
    for p in auth:
        os.kill(p, signal.SIGCONT)
th.join()
check("a sign-in held by the auth worker (frozen %d ms) is answered" % (SLOW_MS + 300),
      result["answer"][0] == 201, result["answer"][:2])


def slow_line():
    for _, prefix, _ in INSTANCES:
        for l in log_lines(prefix, "error.log", "edge-slow-" + tag):
            if "slow request" in l:
                return l
    return ""


waited(slow_line, 3)
line = slow_line()
print("# the module's slow-request line: %s" % line.strip()[:400])
check("the module's slow-request line names the client's address",
      "client: %s," % CLIENT in line and FORGED not in line, line)

# ------------------------------------------------------------ fail open
# one memcached frozen: /health answers 503 on every instance, all are
# marked down, and the load balancer sends to them all the same

mc_port = os.environ["PHOTO_MEMCACHED_PORTS"].split()[0]
mc = pid_in(os.path.join(RUN, "memcached", "memcached-%s.pid" % mc_port))
os.kill(mc, signal.SIGSTOP)
try:
    t_down = waited(lambda: all(state(n).startswith("DOWN") for n, _, _ in INSTANCES), 15, 0.05)
    s, b, h = edge("GET", "/v1/no-such-endpoint")
finally:
    os.kill(mc, signal.SIGCONT)
print("# fail open: memcached:%s frozen; every instance marked down after %s s; answered by %s"
      % (mc_port, "%.2f" % t_down if t_down is not None else "-", h.get("X-Served-By") if h else None))
check("a backend of all the instances away: every instance marked down", t_down is not None)
check("and the load balancer fails open: nginx answers (its JSON 404), not HAProxy's 503",
      s == 404 and isinstance(b, dict) and "error" in b
      and (h.get("X-Served-By") or "").endswith("-open"), (s, b, h.get("X-Served-By") if h else None))
t_up = waited(all_up, 15, 0.05)
check("the instances are back in rotation once it answers (%.1f s)" % (t_up or -1), t_up is not None)

# ----------------------------------------------- one instance killed
# Its processes are frozen for a moment first, so that requests are in
# flight in it (at 300 requests a second of a millisecond each, a kill
# alone finds none there), then killed (kill -9, master and workers).


def edge_log(t0, t1):
    """HAProxy's log lines (what went wrong, retried or redispatched) of the
    requests it accepted from t0 to t1: (accepted, status, retries, line)"""
    out = []
    with open(os.path.join(EDGE, "haproxy.log"), errors="replace") as f:
        for line in f:
            m = re.match(r"(\d+\.\d+) \S+ \S+ \S+ (-?\d+) \S+ \S+ [\d/]+/(\+?\d+) ", line)
            if m and t0 <= float(m.group(1)) < t1:
                out.append((float(m.group(1)), int(m.group(2)), m.group(3), line.strip()))
    return out


name, prefix, port = INSTANCES[1]
load = Load(7, token)
time.sleep(2)
master = pid_in(pidfile(prefix))
pids = [master] + workers_of(master)
for p in pids:
    os.kill(p, signal.SIGSTOP)
time.sleep(0.3)
in_flight = int(server(name)["scur"])
t_kill = time.time()
for p in pids:
    os.kill(p, signal.SIGKILL)
t_down = waited(lambda: state(name).startswith("DOWN"), 10, 0.01)
t_marked = t_kill + (t_down or 0)
requests, failed = load.result()
seen = edge_log(t_kill - 1, t_marked + 0.5)
retried_in_flight = [l for l in seen if l[0] < t_kill and l[2] != "0"]
sent_after = [l for l in seen if l[0] >= t_kill and l[2] != "0"]
failed_after = [f for f in failed if f[0] >= t_marked]
print("# kill: %s (its master and %d workers frozen 0.3 s, then kill -9) under %d requests in 7 s;"
      " %d requests in flight in it at the kill, %d of them retried on another instance; marked"
      " down %s s after the kill, %d requests sent to it meanwhile went to another; %d failed in"
      " all: %d before the mark-down, %d after"
      % (name, len(pids) - 1, requests, in_flight, len(retried_in_flight),
         "%.2f" % t_down if t_down is not None else "-", len(sent_after), len(failed),
         len(failed) - len(failed_after), len(failed_after)))
for l in (retried_in_flight + sent_after)[:3]:
    print("#   HAProxy: %s" % l[3])
check("the killed instance is marked down by its check", t_down is not None and t_down < 3, t_down)
check("and HAProxy's metrics say so: %s DOWN, the others UP" % name,
      exported(name, "DOWN") == 1
      and all(exported(n, "UP") == 1 for n, _, _ in INSTANCES if n != name),
      [(n, exported(n, "DOWN")) for n, _, _ in INSTANCES])
check("no request failed after it was marked down", not failed_after, failed_after[:5])
check("those that failed were in flight at the kill (%d failed, %d in flight)"
      % (len(failed), in_flight), len(failed) <= in_flight, failed[:5])
check("requests went on throughout", requests > 7 * 8 * 40 * 0.7, requests)

r = subprocess.run([NGINX, "-p", prefix, "-c", "conf/nginx.conf", "-e", "logs/error.log"],
                   capture_output=True, text=True)
t_back = waited(lambda: state(name) == "UP", 15, 0.05)
check("started again, it is back in rotation (%.1f s)" % (t_back or -1),
      r.returncode == 0 and t_back is not None, (r.stderr, state(name)))

# ------------------------------------------- the three reloaded in turn

load = Load(10, token, h1=True)
time.sleep(1.5)
before = {n: counters(n) for n, _, _ in INSTANCES}
took = []
for name, prefix, port in INSTANCES:
    master = pid_in(pidfile(prefix))
    old = workers_of(master)
    t0 = time.time()
    r = subprocess.run([NGINX, "-p", prefix, "-c", "conf/nginx.conf", "-e", "logs/error.log",
                        "-s", "reload"], capture_output=True, text=True)
    ok = waited(lambda: not any(alive(p) for p in old) and len(workers_of(master)) >= len(old), 15)
    took.append("%s %.2f s" % (name, time.time() - t0))
    check("%s reloaded: its old workers left, new ones serve" % name,
          r.returncode == 0 and ok is not None, r.stderr)
    time.sleep(1)
requests, failed = load.result()
retried = sum(counters(n)["wretr"] - before[n]["wretr"] for n, _, _ in INSTANCES)
print("# reload: the three one by one (%s) under %d requests (HTTP/1.1 over TLS) in 10 s: "
      "%d failed, %d retried by the load balancer" % (", ".join(took), requests, len(failed), retried))
check("0 failed requests while the three were reloaded", requests > 0 and not failed, failed[:5])

# --------------------- a binary upgrade of one, posts through all three

name, prefix, port = INSTANCES[1]
answers = []                       # (time, caption, status, id, instance)
lock = threading.Lock()
stop = threading.Event()


def post_loop(n):
    c = Conn()
    i = 0
    while not stop.is_set():
        caption = "edge-%s-%d-%d" % (tag, n, i)
        i += 1
        s, b, h = c.call("POST", "/v1/photos", {"media_id": media, "caption": caption},
                         token=token, headers={"Idempotency-Key": caption})
        pid_ = b.get("id") if s == 202 and isinstance(b, dict) else None
        with lock:
            answers.append((time.time(), caption, s if s else b, pid_,
                            h.get("X-Served-By") if h else None))
        time.sleep(0.01)
    c.close()


load = Load(9, token)
threads = [threading.Thread(target=post_loop, args=(n,)) for n in range(4)]
for th in threads:
    th.start()
old = pid_in(pidfile(prefix))
old_workers = workers_of(old)
marks = {}
try:
    time.sleep(1.5)
    marks["usr2"] = time.time()
    os.kill(old, signal.SIGUSR2)
    new = None
    if waited(lambda: pid_in(pidfile(prefix) + ".oldbin") == old
              and pid_in(pidfile(prefix)) not in (None, old), 10) is not None:
        new = pid_in(pidfile(prefix))
    check("USR2: a new master (the old one's pid file .oldbin)", new is not None)
    both = new and waited(lambda: len(workers_of(new)) >= len(old_workers), 10) is not None
    check("the new master's workers serve beside the old ones", both)
    time.sleep(1.5)
    os.kill(old, signal.SIGWINCH)
    check("WINCH: the old workers finish and leave",
          waited(lambda: not any(alive(p) for p in old_workers), 15) is not None)
    os.kill(old, signal.SIGQUIT)
    check("QUIT: the old master leaves", waited(lambda: not alive(old), 10) is not None)
    marks["quit"] = time.time()
    time.sleep(1.5)
finally:
    stop.set()
    for th in threads:
        th.join()
requests, failed = load.result()

accepted = [(c, pid_) for _, c, s, pid_, _ in answers if s == 202]
others = [(c, s) for _, c, s, _, _ in answers if s != 202]
by = {}
for _, _, s, _, inst in answers:
    by[inst] = by.get(inst, 0) + 1


def shards(t0, t1):
    return sorted({(int(p) >> SEQ_BITS) & ((1 << SHARD_BITS) - 1)
                   for t, _, s, p, inst in answers if s == 202 and inst == name and t0 <= t < t1})


print("# upgrade: %s's binary upgraded (USR2, WINCH, QUIT) under %d reads: %d failed; %d posts, "
      "%d accepted, answered by %s; %s's id shards before the upgrade %s, after it %s"
      % (name, requests, len(failed), len(answers), len(accepted),
         ", ".join("%s %d" % kv for kv in sorted(by.items(), key=str)), name,
         shards(0, marks.get("usr2", 0)), shards(marks.get("quit", 1e12), 1e12)))
check("0 failed reads during the upgrade", requests > 0 and not failed, failed[:5])
check("every post was answered 202", accepted and not others, others[:5])
check("posts went through all three instances", all(by.get(n) for n, _, _ in INSTANCES), by)
ids = {}
for c, pid_ in accepted:
    ids.setdefault(pid_, []).append(c)
shared = {p: cs for p, cs in ids.items() if len(cs) > 1}
check("no two posts share an id (%d ids, across the three and the old and new workers)"
      % len(ids), not shared, list(shared.items())[:3])

last = [-1, time.time()]


def settled():
    n = int(sql("select count(*) from photos where caption like 'edge-%s-%%'" % tag))
    if n != last[0]:
        last[:] = [n, time.time()]
    return n >= len(accepted) or time.time() - last[1] > 5


waited(settled, 40, 0.2)
stored = [l.split("|", 1) for l in
          sql("select id, caption from photos where caption like 'edge-%s-%%'" % tag).splitlines() if l]
rows = {c: p for p, c in stored}
wrong = [(c, p, rows.get(c)) for c, p in accepted if rows.get(c) != p]
check("every accepted post is stored once, under the id it was answered with (%d rows)"
      % len(stored), not wrong and len(stored) == len(accepted), wrong[:3])

# the stack's Prometheus (PHOTO_PROMETHEUS=1) scrapes HAProxy's exporter
if PROM:
    got = waited(lambda: prom('up{job="haproxy"}') == 1
                 and prom('haproxy_backend_active_servers{job="haproxy",proxy="nginx"}') == 3,
                 40, 1)
    check("Prometheus scrapes HAProxy: up, the three instances active in its backend",
          got is not None, (prom('up{job="haproxy"}'),
                            prom('haproxy_backend_active_servers{job="haproxy",proxy="nginx"}')))
done()
