#!/usr/bin/env python3
"""scripts/chaos: faults under load, then count.

Against the running stack (scripts/chaos starts it): for each fault, a read
load (wrk on GET /v1/feed) and a write load (posts and device tokens from
several connections, each write retried with its Idempotency-Key until it
is accepted, as a careful client does) run while the fault is injected and
the stack recovers: a worker of each kind killed with SIGKILL and started
again, gearmand killed (its supervisor starts it again), Redis stopped
(SIGTERM) and started again, Redis killed (SIGKILL) while it fsyncs
before it answers (appendfsync always) and started again, Postgres crashed (immediate mode) and a
memcached killed, each started again, nginx reloaded, nginx's binary
upgraded (USR2, WINCH, QUIT).  Then, once the workers have drained the
queue: every accepted write must have been applied exactly once.

One table, a row per fault: failed requests (reads and writes answered
other than 2xx, or not at all; the writes are then retried), accepted
writes, lost (accepted, never applied), duplicated (applied twice), and the
seconds from the fault until writes succeed again.  Last, the idle stack's
CPU, which must stay under 1% of one core; and apart from it, printed and
not limited, what Prometheus and its exporters cost meanwhile (scraping
every PHOTO_SCRAPE_INTERVAL, with PHOTO_PROMETHEUS=1).  Exit 1 unless every row reads
lost 0, duplicated 0 and recovered within RECOVER_S, and the stack answers
/health at the end."""

import http.client, json, os, re, signal, subprocess, sys, threading, time, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import API, GEARMAN_PORTS, HOST, RUN, ROOT, call, gearmand_pid_file, pid_in, png, sql  # noqa: E402

PORT = int(os.environ["PHOTO_NGINX_PORT"])
STACK = os.path.join(ROOT, "scripts", "stack")
LOAD_S = float(os.environ.get("CHAOS_LOAD_S", "6"))    # per fault
FAULT_AT = 1.5                                          # into the load
WRITERS = 6
DRAIN_S = 60
IDLE_S = float(os.environ.get("CHAOS_IDLE_S", "10"))
RECOVER_S = 10          # writes succeed again on their own by then (issue 11)
TAG = uuid.uuid4().hex[:8]


def pg_dir():
    """Postgres's folder: under the run directory, or where pg.location says"""
    loc = os.path.join(RUN, "pg.location")
    if os.path.exists(loc):
        with open(loc) as f:
            return f.read().strip()
    return os.path.join(RUN, "pg")


def stack(*args):
    subprocess.run([STACK, *args], check=True, stdout=subprocess.DEVNULL)


# ------------------------------------------------------------------ faults

def kill(path, sig=signal.SIGKILL):
    pid = pid_in(path)
    if pid:
        os.kill(pid, sig)
    return pid


def wait_gone(pid, seconds=10):
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with open("/proc/%d/stat" % pid) as f:
                if f.read().split(") ")[1].startswith("Z"):
                    return
        except OSError:
            return
        time.sleep(0.02)


def kill_and_start(path, sig=signal.SIGKILL):
    def fault():
        pid = kill(path, sig)
        if pid:
            wait_gone(pid)
        stack("start")
    return fault


def crash_redis_fsync_always():
    """Redis killed with SIGKILL once it fsyncs its AOF before it answers
    (appendfsync always, PHOTO_REDIS_APPENDFSYNC): what it acknowledged
    must all be there after the crash.  Restarted as the stack is set."""
    subprocess.run(["redis-cli", "-h", HOST, "-p", os.environ["PHOTO_REDIS_PORT"],
                    "config", "set", "appendfsync", "always"],
                   check=True, stdout=subprocess.DEVNULL)
    # the switch writes out and fsyncs what "everysec" still held
    time.sleep(1)
    kill_and_start(os.path.join(RUN, "redis", "redis.pid"))()


def kill_gearmand():
    # the first; its supervisor starts it again (scripts/lib/gearmand-supervisor)
    kill(gearmand_pid_file(GEARMAN_PORTS[0]))


def restart_postgres():
    """as a crash: every Postgres process ends at once, none shuts down
    cleanly (pg_ctl's immediate mode); then started again"""
    cmd = [os.path.join(os.environ["PG_BIN"], "pg_ctl"), "-D", os.path.join(pg_dir(), "data"),
           "-m", "immediate", "-w", "stop"]
    if os.getuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--"] + cmd
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, cwd="/")
    stack("start")


def nginx_pidfile():
    return os.path.join(RUN, "nginx", "logs", "nginx.pid")


def reload_nginx():
    kill(nginx_pidfile(), signal.SIGHUP)


def upgrade_nginx():
    """nginx's own binary upgrade: a new master beside the old, then the
    old workers and master leave."""
    old = kill(nginx_pidfile(), signal.SIGUSR2)
    deadline = time.time() + 10
    while time.time() < deadline:
        new = pid_in(nginx_pidfile())
        if new and new != old and os.path.exists(nginx_pidfile() + ".oldbin"):
            break
        time.sleep(0.05)
    else:
        raise RuntimeError("no new nginx master after USR2")
    time.sleep(0.5)                     # both generations take requests
    os.kill(old, signal.SIGWINCH)
    time.sleep(0.5)
    os.kill(old, signal.SIGQUIT)
    wait_gone(old)


def faults():
    out = []
    kinds = [w.split(":")[0] for w in os.environ["PHOTO_WORKERS"].split()]
    for k in kinds:
        out.append(("kill -9 photo_%s" % k, kill_and_start(
            os.path.join(RUN, "workers", "photo_%s.1.pid" % k))))
    out += [
        ("restart gearmand", kill_gearmand),
        # SIGTERM: Redis writes its AOF out as it stops.  With the stack's
        # appendfsync everysec a crash may lose the AOF's last second or two
        # (README, "Durability"); the next row crashes it under "always"
        ("restart redis", kill_and_start(os.path.join(RUN, "redis", "redis.pid"),
                                         signal.SIGTERM)),
        ("crash redis (fsync always)", crash_redis_fsync_always),
        ("restart postgres", restart_postgres),
        ("restart memcached", kill_and_start(os.path.join(
            RUN, "memcached", "memcached-%s.pid" % os.environ["PHOTO_MEMCACHED_PORTS"].split()[0]))),
        # the upgrade before any reload: a new master starts its count of
        # reloads again, as the first master did
        ("upgrade nginx binary", upgrade_nginx),
        ("reload nginx", reload_nginx),
    ]
    return out


# ------------------------------------------------------------------- loads

class Writes:
    """Writers that retry each write with its Idempotency-Key until it is
    accepted: what they were told (accepted, with ids) and what failed."""

    def __init__(self, token, media_id, row):
        self.token, self.media_id, self.row = token, media_id, row
        self.lock = threading.Lock()
        self.accepted = []          # (kind, key, id or token)
        self.failures = []          # times of answers other than 2xx
        self.stop = threading.Event()

    def one(self, conn, method, path, body, key):
        """status, or None when there was no answer"""
        try:
            conn.request(method, path, json.dumps(body), {
                "Content-Type": "application/json",
                "Authorization": "Bearer " + self.token,
                "Idempotency-Key": key})
            r = conn.getresponse()
            data = r.read()
            return r.status, (json.loads(data) if data else None)
        except (OSError, http.client.HTTPException, ValueError):
            conn.close()
            return None, None

    def writer(self, n):
        conn = http.client.HTTPConnection(HOST, PORT, timeout=5)
        i = 0
        while not self.stop.is_set():
            i += 1
            key = "%s-%s-%d-%d" % (TAG, self.row, n, i)
            if i % 4:
                what, path = "post", "/v1/photos"
                body = {"media_id": self.media_id, "caption": "chaos " + key}
            else:
                what, path = "device", "/v1/devices"
                body = {"platform": "android", "token": "chaos-" + key}
            deadline = time.time() + 30
            while time.time() < deadline:
                status, answer = self.one(conn, "POST", path, body, key)
                if status == 202:
                    with self.lock:
                        self.accepted.append((what, key, answer.get("id")))
                    break
                with self.lock:
                    self.failures.append(time.time())
                time.sleep(0.2)
            time.sleep(0.02)
        conn.close()

    def run(self):
        self.threads = [threading.Thread(target=self.writer, args=(n,), daemon=True)
                        for n in range(WRITERS)]
        for t in self.threads:
            t.start()

    def finish(self):
        self.stop.set()
        for t in self.threads:
            t.join()


def reads(token, seconds):
    """wrk on the feed: (requests, failed)"""
    p = subprocess.Popen(
        ["wrk", "-t1", "-c4", "-d%ds" % seconds, "--timeout", "5s",
         "-H", "Authorization: Bearer " + token, API + "/v1/feed?count=20"],
        stdout=subprocess.PIPE, text=True)
    return p


def wrk_counts(p):
    return wrk_result(p)[:2]


def wrk_result(p):
    """wrk's requests, failed (non-2xx or none), and the slowest in ms"""
    out = p.communicate()[0]
    total = int(re.search(r"(\d+) requests in", out).group(1))
    bad = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        bad += sum(int(x) for x in m.groups())
    m = re.search(r"Latency\s+\S+\s+\S+\s+([\d.]+)(us|ms|s)\b", out)
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    slowest = float(m.group(1)) * scale[m.group(2)] if m else 0.0
    return total, bad, slowest


# ----------------------------------------------------------------- counting

def applied(accepted):
    """(lost, duplicated) among the accepted writes, from Postgres"""
    posts = [k for what, k, _ in accepted if what == "post"]
    devices = [k for what, k, _ in accepted if what == "device"]
    rows = {}
    for caption, n in (line.split("|") for line in sql(
            "select caption, count(*) from photos where caption like 'chaos %s-%%'"
            " group by caption" % TAG).splitlines() if line):
        rows[caption[len("chaos "):]] = int(n)
    tokens = set(sql("select token from device_tokens where token like 'chaos-%s-%%'"
                     % TAG).split())
    lost = sum(1 for k in posts if k not in rows)
    lost += sum(1 for k in devices if "chaos-" + k not in tokens)
    dup = sum(1 for k in posts if rows.get(k, 0) > 1)
    ids = [i for what, _, i in accepted if what == "post"]
    dup += len(ids) - len(set(ids))     # two posts told the same id
    return lost, dup


def settle(accepted):
    """wait for the workers to apply what was accepted"""
    deadline = time.time() + DRAIN_S
    while True:
        lost, dup = applied(accepted)
        if lost == 0 or time.time() > deadline:
            return lost, dup
        time.sleep(0.5)


# -------------------------------------------------------------------- idle

MONITORING = os.path.join(RUN, "prometheus")      # scripts/stack's $PROM


def stack_pids(monitoring=False):
    """the stack's own processes, or (monitoring) Prometheus and the
    exporters: their pid files are under MONITORING"""
    pids = set()
    for d, _, fs in os.walk(RUN):
        if (d == MONITORING or d.startswith(MONITORING + os.sep)) != monitoring:
            continue
        for f in fs:
            if f.endswith(".pid") or f.endswith(".gearmand") or f == "postmaster.pid":
                p = pid_in(os.path.join(d, f))
                if p:
                    pids.add(p)
    if not monitoring:
        p = pid_in(os.path.join(pg_dir(), "data", "postmaster.pid"))
        if p:
            pids.add(p)
    # their children: nginx's workers, Postgres's backends and helpers
    for p in list(pids):
        try:
            kids = open("/proc/%d/task/%d/children" % (p, p)).read().split()
            pids.update(int(k) for k in kids)
        except OSError:
            pass
    return pids


def cpu_ticks(pids):
    total = 0
    for p in pids:
        try:
            f = open("/proc/%d/stat" % p).read().rsplit(")", 1)[1].split()
            total += int(f[11]) + int(f[12])      # utime, stime
        except (OSError, IndexError):
            pass
    return total


def idle_cpu(seconds=10):
    """% of one core the whole stack used over seconds, and the number of
    its processes; the same of Prometheus and its exporters"""
    pids, mon = stack_pids(), stack_pids(monitoring=True)
    t0, c0, m0 = time.time(), cpu_ticks(pids), cpu_ticks(mon)
    time.sleep(seconds)
    t1, c1, m1 = time.time(), cpu_ticks(pids), cpu_ticks(mon)
    per = 100.0 / os.sysconf("SC_CLK_TCK") / (t1 - t0)
    return (c1 - c0) * per, len(pids), (m1 - m0) * per, len(mon)


# -------------------------------------------------------------------- main

def setup():
    name = "chaos_" + TAG
    s, b, _ = call("POST", "/v1/users", {"username": name, "password": "chaos password"})
    assert s == 201, (s, b)
    s, b, _ = call("POST", "/v1/sessions", {"username": name, "password": "chaos password"})
    assert s == 201, (s, b)
    token = b["token"]
    s, m, _ = call("POST", "/v1/media", raw=png(6, 6), token=token, ctype="image/png")
    assert s == 201, (s, m)
    return token, m["media_id"]


def main():
    token, media_id = setup()
    before, npids, _, _ = idle_cpu(5)
    print("chaos: %d writers (posts and device tokens, retried with their "
          "Idempotency-Key), wrk -c4 on the feed, %.0f s of load per fault; "
          "writes must succeed again within %d s of each" % (WRITERS, LOAD_S, RECOVER_S))
    print("idle before: %.2f%% of one core (%d processes)" % (before, npids))
    print()
    fmt = "%-26s %8s %9s %5s %11s %11s"
    print(fmt % ("fault", "failed", "accepted", "lost", "duplicated", "recover_s"))
    bad = 0
    for row, (name, fault) in enumerate(faults()):
        w = Writes(token, media_id, row)
        r = reads(token, int(LOAD_S))
        w.run()
        time.sleep(FAULT_AT)
        t_fault = time.time()
        fault()
        time.sleep(max(0, LOAD_S - FAULT_AT - (time.time() - t_fault)))
        w.finish()
        total, read_bad = wrk_counts(r)
        lost, dup = settle(w.accepted)
        after = [t for t in w.failures if t >= t_fault]
        recover = (max(after) - t_fault) if after else 0.0
        print(fmt % (name, read_bad + len(w.failures), len(w.accepted), lost, dup,
                     "%.1f" % recover), flush=True)
        bad += lost + dup + (recover > RECOVER_S)
    s, _, _ = call("GET", "/health")
    print()
    print("health at the end: %d" % s)
    time.sleep(3)                   # the last jobs' follow-ups
    after, npids, mon, nmon = idle_cpu(IDLE_S)
    print("idle after: %.2f%% of one core (%d processes; limit 1%%)" % (after, npids))
    if nmon:
        print("monitoring idle: %.2f%% of one core (Prometheus and %d exporters, "
              "scraping every %s; not limited)"
              % (mon, nmon - 1, os.environ.get("PHOTO_SCRAPE_INTERVAL", "?")))
    ok = bad == 0 and s == 200 and after < 1.0
    print("chaos: %s" % ("every row lost 0, duplicated 0, recovered within %d s" % RECOVER_S
                         if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    if sys.argv[1:] == ["--idle"]:
        # the idle figures alone, against the running stack
        cpu, n, mon, nmon = idle_cpu(IDLE_S)
        print("stack: %.2f%% of one core (%d processes); monitoring: %.2f%% "
              "(%d processes)" % (cpu, n, mon, nmon))
        sys.exit(0)
    main()
