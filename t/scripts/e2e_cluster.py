#!/usr/bin/env python3
"""Redis Cluster faults under load, against the stack started with
PHOTO_REDIS_CLUSTER=1 (skipped otherwise): nginx and the workers on the
cluster, gearmand's queues on the one Redis beside it.

1. A slot moved under reads: the slot of a reader's keys is migrated from
   its master to another (CLUSTER SETSLOT IMPORTING / MIGRATING, MIGRATE,
   SETSLOT NODE: the steps of redis-cli --cluster reshard, for that slot)
   while wrk reads the reader's feed: nginx follows ASK while the keys
   move and MOVED after, and no read fails.
2. Slots resharded and rebalanced by redis-cli under reads and writes:
   `redis-cli --cluster reshard` moves the reader's slot and the slots
   before it from their master to another, then `redis-cli --cluster
   rebalance` evens the masters out again, while wrk reads the reader's
   feed and posts are accepted: no read or write fails, every accepted
   write is applied once.
3. A master killed (SIGKILL) under reads and writes: its replica is
   promoted by the cluster; meanwhile the reads and writes of its slots
   fail fast (503, none slower than a second), and succeed again within a
   second (nginx's map refresh) of the promotion (printed: the cluster's
   own failover time, and nginx's delay after it); every accepted write is
   applied once.  /health says "ok" before, "degraded" (200) after: the
   dead node is down, the cluster serves.
The killed node is started again and joins as a replica.
Prints 'N passed, N failed'."""

import os, re, signal, subprocess, sys, threading, time, uuid

sys.dont_write_bytecode = True     # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import (API, HOST, ROOT, RUN, call, check, done, lists, pid_in, poster,  # noqa: E402
                     waited)
import chaos                                                                       # noqa: E402

if os.environ.get("PHOTO_REDIS_CLUSTER") != "1":
    print("1..0 # SKIP the stack runs no Redis Cluster (PHOTO_REDIS_CLUSTER=1)")
    sys.exit(77)

PORTS = [int(p) for p in os.environ["PHOTO_REDIS_CLUSTER_PORTS"].split()]
TAG = uuid.uuid4().hex[:8]


def rc(port, *args):
    return subprocess.run(["redis-cli", "-h", HOST, "-p", str(port), *args],
                          check=True, capture_output=True, text=True).stdout.strip()


def nodes():
    """{port: (id, role, [slots ranges])} as a live node sees the cluster"""
    for p in PORTS:
        try:
            out = rc(p, "cluster", "nodes")
            break
        except subprocess.CalledProcessError:
            continue
    seen = {}
    for line in out.splitlines():
        f = line.split()
        port = int(f[1].split("@")[0].rsplit(":", 1)[1])
        role = "master" if "master" in f[2] and "fail" not in f[2] else f[2]
        seen[port] = (f[0], role, f[8:])
    return seen


def master_of(slot):
    for port, (_, role, ranges) in nodes().items():
        if role != "master":
            continue
        for r in ranges:
            if r.startswith("["):
                continue
            a, _, b = r.partition("-")
            if int(a) <= slot <= int(b or a):
                return port
    return None


def move_slot(slot, src, dst):
    """the slot and its keys from src to dst, as redis-cli --cluster
    reshard moves each slot; returns the keys moved"""
    sid, did = rc(src, "cluster", "myid"), rc(dst, "cluster", "myid")
    rc(dst, "cluster", "setslot", str(slot), "importing", sid)
    rc(src, "cluster", "setslot", str(slot), "migrating", did)
    moved = 0
    while True:
        keys = rc(src, "cluster", "getkeysinslot", str(slot), "100").split()
        if not keys:
            break
        for k in keys:
            rc(src, "migrate", HOST, str(dst), k, "0", "5000")
            moved += 1
            time.sleep(0.2)         # the reads meet the slot half moved
    # the new owner first, then the old, then the others, as redis-cli
    # does: were the old one told first, it would send clients to a new
    # one that, still importing, sends them back
    others = [p for p, (_, role, _) in nodes().items()
              if role == "master" and p not in (src, dst)]
    for p in [dst, src] + others:
        rc(p, "cluster", "setslot", str(slot), "node", did)
    return moved


def cli(*args):
    """redis-cli --cluster ...: its output, checked"""
    p = subprocess.run(["redis-cli", "--cluster", *args], capture_output=True, text=True)
    check("redis-cli --cluster %s" % args[0], p.returncode == 0, p.stdout[-500:])
    return p.stdout


def agreed(seconds=15):
    """the nodes agree on the slots, none open (gossip takes a moment
    after a move, and redis-cli refuses to move more before)"""
    def ok():
        out = subprocess.run(["redis-cli", "--cluster", "check", "%s:%d" % (HOST, PORTS[0])],
                             capture_output=True, text=True).stdout
        return "[ERR]" not in out and "[WARNING]" not in out
    return waited(ok, seconds) is not None


def slots_of(port):
    """the slots a master serves, in order"""
    out = []
    for r in nodes()[port][2]:
        if r.startswith("["):
            continue
        a, _, b = r.partition("-")
        out += range(int(a), int(b or a) + 1)
    return sorted(out)


def health():
    s, b, _ = call("GET", "/health")
    redis = [x for x in (b or {}).get("backends", []) if x["backend"] == "redis"]
    return s, (b or {}).get("status"), redis


def wrk(token, seconds):
    return subprocess.Popen(
        ["wrk", "-t1", "-c4", "-d%ds" % seconds, "--timeout", "5s", "--latency",
         "-H", "Authorization: Bearer " + token, API + "/v1/feed?count=20"],
        stdout=subprocess.PIPE, text=True)


# -- a reader with a feed ---------------------------------------------------------
ptoken, media = poster("cl_p_" + TAG, "cluster password")
rtoken, _ = poster("cl_r_" + TAG, "cluster password")
pid, rid = ptoken.split("-")[0], rtoken.split("-")[0]     # a token begins with its user
s, _, _ = call("POST", "/v1/users/%s/follow" % pid, token=rtoken)
check("the reader follows the poster", s == 202, s)
s, b, _ = call("POST", "/v1/photos", {"media_id": media, "caption": "cluster " + TAG},
               token=ptoken)
check("a post: 202", s == 202, (s, b))
check("it reaches the reader's feed on the cluster",
      waited(lambda: lists("/v1/feed", rtoken, b.get("id")), 10) is not None)

# -- 1. the reader's slot moved under reads -----------------------------------------
slot = int(rc(PORTS[0], "cluster", "keyslot", "feed:{%s}" % rid))
check("the feed and the session share a slot (the contract's hash tag)",
      slot == int(rc(PORTS[0], "cluster", "keyslot", "session:{%s}-x" % rid)), slot)
src = master_of(slot)
others = [p for p, (_, role, _) in sorted(nodes().items()) if role == "master" and p != src]
# a master whose slots are all above it, when there is one: there the slot is
# the first of its new master's, which the reshard below takes first
above = [p for p in others if min(slots_of(p)) > slot]
dst = above[0] if above else others[0]
load = wrk(rtoken, 6)
w = chaos.Writes(ptoken, media, "reshard-" + TAG)
w.run()
time.sleep(1)
t0 = time.time()
keys = move_slot(slot, src, dst)
took = time.time() - t0
time.sleep(max(0, 5 - (time.time() - t0)))
w.finish()
total, bad, slowest = chaos.wrk_result(load)
print("# slot %d (%d keys) moved from %d to %d in %.1f s under load: %d reads, %d failed; "
      "%d writes accepted, %d attempts failed"
      % (slot, keys, src, dst, took, total, bad, len(w.accepted), len(w.failures)))
check("the slot is served by the new master", master_of(slot) == dst, master_of(slot))
check("no read failed while the slot moved (ASK, then MOVED, followed)",
      total > 100 and bad == 0, (total, bad))
check("no write failed meanwhile", len(w.accepted) > 20 and not w.failures,
      (len(w.accepted), len(w.failures)))
lost, dup = chaos.settle(w.accepted)
check("every write accepted meanwhile applied once: lost %d, duplicated %d" % (lost, dup),
      lost == 0 and dup == 0)

# -- 2. redis-cli reshard and rebalance under reads and writes -------------------------
check("the cluster is settled before the reshard", agreed())
src = master_of(slot)
dst = next(p for p, (_, role, _) in sorted(nodes().items()) if role == "master" and p != src)
mine = slots_of(src)
# redis-cli takes a source's slots lowest first: the reader's is among
# these when it is not near the end of its master's; 200 at least, over
# rebalance's threshold (2 % of a master's share); never all of them (an
# emptied master gives its replica away, Redis's replica migration)
pos = mine.index(slot)
n = min(max(pos + 1 + 50, 200), len(mine) - 1)
moves_reader = pos < n
if not moves_reader:
    print("# the reader's slot is the last of its master's: the reshard moves the first %d" % n)
load = wrk(rtoken, 120)             # stopped with SIGINT once both are done
w = chaos.Writes(ptoken, media, "rebalance-" + TAG)
w.run()
time.sleep(1)
t0 = time.time()
cli("reshard", "%s:%d" % (HOST, src), "--cluster-from", nodes()[src][0], "--cluster-to",
    nodes()[dst][0], "--cluster-slots", str(n), "--cluster-yes")
t_reshard = time.time() - t0
moved_to = master_of(slot)
check("the nodes agree after the reshard", agreed())
t1 = time.time()
out = cli("rebalance", "%s:%d" % (HOST, src), "--cluster-use-empty-masters")
t_rebalance = time.time() - t1
rebalanced = sum(int(x) for x in re.findall(r"Moving (\d+) slots from", out))
time.sleep(1)
load.send_signal(signal.SIGINT)
w.finish()
total, bad, slowest = chaos.wrk_result(load)
print("# redis-cli --cluster reshard moved %d slots from %d to %d in %.1f s, rebalance %d "
      "slots in %.1f s, under load: %d reads, %d failed (the slowest %.0f ms); %d writes "
      "accepted, %d attempts failed"
      % (n, src, dst, t_reshard, rebalanced, t_rebalance, total, bad, slowest,
         len(w.accepted), len(w.failures)))
check("the reshard moved the reader's slot (when among those)",
      (moved_to == dst) == moves_reader, (moved_to, dst, moves_reader))
check("the rebalance moved slots back", rebalanced > 0, rebalanced)
check("no read failed while the slots moved", total > 100 and bad == 0, (total, bad))
check("no write failed meanwhile", len(w.accepted) > 20 and not w.failures,
      (len(w.accepted), len(w.failures)))
lost, dup = chaos.settle(w.accepted)
check("every write accepted meanwhile applied once: lost %d, duplicated %d" % (lost, dup),
      lost == 0 and dup == 0)
check("the nodes agree after the rebalance", agreed())

# -- 3. the reader's master killed under reads and writes ---------------------------
def replicated():
    """every master has a replica (Redis moves replicas to a master left
    without one, a moment after)"""
    seen = nodes()
    masters = [v[0] for v in seen.values() if v[1] == "master"]
    out = subprocess.run(["redis-cli", "-h", HOST, "-p", str(PORTS[0]), "cluster", "nodes"],
                         capture_output=True, text=True).stdout
    fed = {l.split()[3] for l in out.splitlines() if "slave" in l.split()[2]}
    return len(masters) == 3 and all(m in fed for m in masters)


check("every master has a replica before the kill", waited(replicated, 30) is not None,
      nodes())
s, status, rows = health()
check("/health before the kill: 200 ok, the cluster's nodes up",
      (s, status) == (200, "ok") and rows and all(r["up"] for r in rows), (s, status, rows))
victim = master_of(slot)
vpid = pid_in(os.path.join(RUN, "redis-cluster", str(victim), "redis.pid"))
timeout_ms = int(rc(victim, "config", "get", "cluster-node-timeout").split()[1])

w = chaos.Writes(ptoken, media, "cluster-" + TAG)
load = wrk(rtoken, 10)
w.run()
time.sleep(1.5)
t_kill = time.time()
os.kill(vpid, signal.SIGKILL)
promoted = None
while time.time() < t_kill + 20:
    if master_of(slot) not in (None, victim):
        promoted = time.time() - t_kill
        break
    time.sleep(0.05)
time.sleep(max(0, 7 - (time.time() - t_kill)))
w.finish()
total, bad, slowest = chaos.wrk_result(load)
after = [t for t in w.failures if t >= t_kill]
recovered = (max(after) - t_kill) if after else 0.0
print("# master %d killed: the cluster promoted its replica after %s s "
      "(cluster-node-timeout %d ms); writes failed until %.2f s after the kill; "
      "reads %d, failed %d, the slowest %.0f ms; writes accepted %d, failed attempts %d"
      % (victim, "%.2f" % promoted if promoted else "never", timeout_ms, recovered,
         total, bad, slowest, len(w.accepted), len(w.failures)))
check("reads failed fast meanwhile: none slower than a second", slowest < 1000, slowest)
check("the cluster promoted a replica", promoted is not None, promoted)
check("writes succeed again within a second of the promotion",
      promoted is not None and recovered <= promoted + 1.0, (promoted, recovered))
# Redis's own failover: a node is suspected after cluster-node-timeout, failed
# once most masters agree (their pings, up to half a timeout more), and its
# replica elected after 0.5 to 1 s (the first replica's delay): the issue's
# "cluster-node-timeout plus one map refresh" cannot be met by Redis itself,
# so the test bounds what the stack sets and what nginx adds, separately
check("the cluster's failover within 1.5 x cluster-node-timeout + 1.5 s",
      promoted is not None and promoted <= 1.5 * timeout_ms / 1000 + 1.5, promoted)


def degraded():
    s, status, rows = health()
    dead = [r for r in rows if r["address"].endswith(":%d" % victim)]
    return (s, status) == (200, "degraded") and dead and not dead[0]["up"]


# the nodes learn the new master from the cluster bus, a moment after it
check("/health after the failover: 200 degraded, the dead node down, the cluster up",
      waited(degraded, 3) is not None, health())
lost, dup = chaos.settle(w.accepted)
print("# accepted %d, lost %d, duplicated %d" % (len(w.accepted), lost, dup))
check("every accepted write applied once: lost 0, duplicated 0",
      len(w.accepted) > 50 and lost == 0 and dup == 0, (len(w.accepted), lost, dup))

# -- the killed node back, as a replica -------------------------------------------
subprocess.run([os.path.join(ROOT, "scripts", "stack"), "start"], check=True,
               stdout=subprocess.DEVNULL)
check("the killed node is back, a replica now",
      waited(lambda: nodes().get(victim, (0, ""))[1].endswith("slave"), 15) is not None,
      nodes().get(victim))
check("/health with it back: 200 ok", waited(lambda: health()[:2] == (200, "ok"), 5) is not None,
      health())
done()
