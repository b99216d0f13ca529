#!/usr/bin/env python3
"""One of two gearmand killed, through the stack's nginx and workers.

With the persist workers frozen (SIGSTOP), posts queue in both gearmand,
each where its id routes it (CRC-32 of the unique key, the photo id, modulo
the servers: contract/photo_route.h). The second gearmand is then killed
with its supervisor, so that it stays down: its queued jobs are in its
Redis queue only. Posts made while it is down are all accepted at once (the
module fails over to the first), /health names the dead one, and once the
workers run again every post but the dead one's queued ones is applied.
Started again, the dead gearmand replays its queue and those are applied
too: every accepted post exactly once.
Prints 'N passed, N failed'."""

import glob, os, signal, subprocess, sys, time, uuid, zlib

sys.dont_write_bytecode = True     # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import (GEARMAN_PORTS, RUN, ROOT, call, check, done,  # noqa: E402
                     gearmand_pid_file, pid_in, poster, sql, waited)

if len(GEARMAN_PORTS) < 2:
    print("skipped: the stack runs one gearmand (PHOTO_GEARMAN_PORTS)")
    sys.exit(77)

N = 30                               # posts before the kill, and after it
tag = uuid.uuid4().hex[:8]
token, media = poster("gmfail_" + tag, "failover password")


def route(photo_id):
    """the gearmand a post's job goes to first, as the module picks it"""
    return zlib.crc32(photo_id.encode()) % len(GEARMAN_PORTS)


def post(caption):
    t0 = time.time()
    s, b, _ = call("POST", "/v1/photos", {"media_id": media, "caption": caption}, token=token)
    return s, b.get("id"), time.time() - t0


def stored(prefix):
    """{id: caption} of the rows whose caption starts so"""
    out = sql("select id, caption from photos where caption like '%s%%'" % prefix)
    return dict(l.split("|", 1) for l in out.splitlines() if l)


persist = [p for p in (pid_in(f) for f in glob.glob(os.path.join(RUN, "workers", "photo_persist.*.pid")))
           if p]
check("the stack runs persist workers", len(persist) >= 1, persist)
dead = GEARMAN_PORTS[1]
prefix = "gmfail-%s-" % tag
accepted = {}                        # id -> caption

for pid in persist:
    os.kill(pid, signal.SIGSTOP)
try:
    # -- both up: each post queued where its id routes it --------------------
    for i in range(N):
        s, pid_, _ = post("%sbefore-%d" % (prefix, i))
        if s == 202:
            accepted[pid_] = "%sbefore-%d" % (prefix, i)
    check("%d posts accepted with both gearmand up" % N, len(accepted) == N, len(accepted))
    on_dead = [i for i in accepted if route(i) == 1]
    check("some of them (%d) were queued in the second gearmand" % len(on_dead),
          0 < len(on_dead) < N, len(on_dead))

    # -- the second killed, its supervisor first: it stays down ---------------
    os.kill(pid_in(gearmand_pid_file(dead, supervisor=True)), signal.SIGKILL)
    os.kill(pid_in(gearmand_pid_file(dead)), signal.SIGKILL)
    check("the second gearmand is down", waited(
        lambda: subprocess.run(["ss", "-Hltn", "sport = :%d" % dead], capture_output=True,
                               text=True).stdout.strip() == "", 5) is not None)

    slowest, after = 0.0, {}
    for i in range(N):
        s, pid_, took = post("%safter-%d" % (prefix, i))
        slowest = max(slowest, took)
        if s == 202:
            after[pid_] = "%safter-%d" % (prefix, i)
    rerouted = [i for i in after if route(i) == 1]
    check("with it down, every post is accepted: %d of %d, %d of them failed over "
          "(slowest %.0f ms)" % (len(after), N, len(rerouted), slowest * 1000),
          len(after) == N and len(rerouted) > 0 and slowest < 1, (len(after), len(rerouted)))
    accepted.update(after)

    s, b, _ = call("GET", "/health")
    rows = {(r["backend"], r["address"]): r["up"] for r in b.get("backends", [])}
    check("/health names the dead gearmand and its queue, and the other up",
          s == 503 and rows.get(("gearman", "127.0.0.1:%d" % dead)) is False
          and rows.get(("gearmand_queue", "127.0.0.1:%d" % dead)) is False
          and rows.get(("gearmand_queue", "127.0.0.1:%d" % GEARMAN_PORTS[0])) is True, (s, b))
finally:
    for pid in persist:
        os.kill(pid, signal.SIGCONT)

# -- the workers run: all but the dead one's queue is applied ------------------
live = {i for i in accepted if i not in on_dead}
took = waited(lambda: live <= set(stored(prefix)), 30, 0.2)
check("the workers apply every post the live gearmand holds (%.1f s)" % (took or -1), took is not None,
      len(live - set(stored(prefix))))
time.sleep(0.5)
check("the dead gearmand's queued posts wait in its queue, none applied",
      not set(on_dead) & set(stored(prefix)), sorted(set(on_dead) & set(stored(prefix))))

# -- started again: it replays its queue ----------------------------------------
t0 = time.time()
subprocess.run([os.path.join(ROOT, "scripts", "stack"), "start"], check=True, capture_output=True)
took = waited(lambda: set(accepted) <= set(stored(prefix)), 30, 0.2)
check("started again, it replays its queue: every accepted post is stored (%.1f s)"
      % (time.time() - t0), took is not None, len(set(accepted) - set(stored(prefix))))
time.sleep(0.5)
rows = stored(prefix)
check("each exactly once, under the id it was accepted with (%d posts)" % len(accepted),
      rows == accepted and len(sql("select id from photos where caption like '%s%%'"
                                   % prefix).split()) == len(accepted),
      (len(rows), len(accepted)))

done()
