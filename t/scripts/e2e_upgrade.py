#!/usr/bin/env python3
"""Photo ids stay unique while nginx changes under write load, through the
stack's nginx and its real workers: several threads post photos without a
pause (each with a caption of its own), meanwhile nginx's binary is
upgraded the way its documentation says (USR2: a new master, with the old
one's pid file renamed .oldbin, and its workers serving beside the old
ones; WINCH: the old workers leave; QUIT: the old master) and then its
configuration is reloaded (nginx -s reload). Once the workers have
persisted everything, Postgres must hold every accepted post (202) exactly
once, under the id it was answered with and with the caption it was posted
with, and no two 202 answers may share an id.
Prints 'N passed, N failed'."""

import os, signal, subprocess, sys, threading, time, uuid

sys.dont_write_bytecode = True     # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import RUN, call, check, done, pid_in, poster, sql, waited

THREADS = 6
NGINX = os.environ.get("PHOTO_NGINX_BINARY", "/usr/sbin/nginx")
PIDFILE = os.path.join(RUN, "nginx", "logs", "nginx.pid")
SHARD_BITS, SEQ_BITS = 13, 10      # contract/photo_contract.h


def alive(pid):
    """a live process, not a zombie waiting to be reaped"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def workers_of(master):
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(master)],
                         capture_output=True, text=True).stdout
    return [int(p) for p in out.split() if alive(int(p))]


tag = uuid.uuid4().hex[:8]
token, media = poster("upgrade_" + tag, "upgrade pass")     # one upload, all posts

answers = []                       # (caption, status, id or None)
lock = threading.Lock()
stop = threading.Event()


def post_loop(n):
    i = 0
    while not stop.is_set():
        caption = "up-%s-%d-%d" % (tag, n, i)
        i += 1
        try:
            s, b, _ = call("POST", "/v1/photos", {"media_id": media, "caption": caption},
                           token=token)
            pid = b.get("id") if s == 202 and isinstance(b, dict) else None
        except OSError as e:       # a connection the old workers dropped
            s, pid = repr(e), None
        with lock:
            answers.append((caption, s, pid))


threads = [threading.Thread(target=post_loop, args=(n,)) for n in range(THREADS)]
t0 = time.time()
for t in threads:
    t.start()

old = pid_in(PIDFILE)
old_workers = workers_of(old) if old else []
try:
    time.sleep(1)
    # -- the binary upgrade ---------------------------------------------------
    os.kill(old, signal.SIGUSR2)
    new = None
    if waited(lambda: pid_in(PIDFILE + ".oldbin") == old and pid_in(PIDFILE) not in (None, old), 10):
        new = pid_in(PIDFILE)
    check("USR2: a new master (pid file .oldbin for the old one)", new is not None, (old, pid_in(PIDFILE)))
    both = waited(lambda: new and len(workers_of(new)) >= len(old_workers), 10) is not None
    check("the new master's workers run beside the old ones", both, workers_of(new) if new else None)
    time.sleep(2)                  # both generations serve posts meanwhile
    os.kill(old, signal.SIGWINCH)
    gone = waited(lambda: not any(alive(p) for p in old_workers), 15)
    check("WINCH: the old workers finish and leave", gone is not None)
    os.kill(old, signal.SIGQUIT)
    check("QUIT: the old master leaves", waited(lambda: not alive(old), 10) is not None)
    time.sleep(1)
    # -- and a reload ---------------------------------------------------------
    before = set(workers_of(new)) if new else set()
    r = subprocess.run([NGINX, "-p", os.path.join(RUN, "nginx"), "-c", "conf/nginx.conf",
                        "-e", "logs/error.log", "-s", "reload"], capture_output=True, text=True)
    check("nginx -s reload", r.returncode == 0, r.stderr)
    reloaded = waited(lambda: new and set(workers_of(new)) - before
                      and not any(alive(p) for p in before), 15)
    check("the reload's workers replace the others", reloaded is not None)
    time.sleep(1.5)
finally:
    stop.set()
    for t in threads:
        t.join()
load = time.time() - t0

accepted = [(c, pid) for c, s, pid in answers if s == 202]
others = [(c, s) for c, s, pid in answers if s != 202]
print("# %d posts in %.1f s, %d accepted; other answers: %s"
      % (len(answers), load, len(accepted), sorted(set(s for _, s in others))))
check("posts were accepted throughout", len(accepted) > 100 * load / 10, len(accepted))
check("every post was answered 202", not others, others[:5])

ids = {}
for c, pid in accepted:
    ids.setdefault(pid, []).append(c)
shared = {pid: cs for pid, cs in ids.items() if len(cs) > 1}
check("no two accepted posts share an id", not shared,
      "%d ids given twice, e.g. %s" % (len(shared), list(shared.items())[:3]))


def stored():
    rows = sql("select id, caption from photos where caption like 'up-%s-%%'" % tag)
    return [tuple(l.split("|", 1)) for l in rows.splitlines() if l]


# the persist workers apply the jobs in the background: wait for the count
# of rows to reach that of accepted posts (or stop growing)
last = [-1, time.time()]


def settled():
    n = int(sql("select count(*) from photos where caption like 'up-%s-%%'" % tag))
    if n != last[0]:
        last[:] = [n, time.time()]
    return n >= len(accepted) or time.time() - last[1] > 5


waited(settled, 40, 0.2)
rows = stored()
by_caption = {}
for pid, c in rows:
    by_caption.setdefault(c, []).append(pid)
missing = [(c, pid) for c, pid in accepted if by_caption.get(c) != [pid]]
check("every accepted post is one row, under its id, with its caption (%d rows)" % len(rows),
      not missing, "%d not so, e.g. %s" % (len(missing), [(c, pid, by_caption.get(c)) for c, pid in missing[:3]]))
check("no row that was not accepted", len(rows) == len(accepted), (len(rows), len(accepted)))

shards = {(int(pid) >> SEQ_BITS) & ((1 << SHARD_BITS) - 1) for _, pid in accepted}
print("# shards used: %s" % sorted(shards))
done()
