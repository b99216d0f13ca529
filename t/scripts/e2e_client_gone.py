#!/usr/bin/env python3
"""Clients that hang up mid-request leave nothing behind in nginx.

Through the stack's nginx: 16 threads send requests (/health, and a feed
read with a session) and reset the connection (SO_LINGER 0) within a few
milliseconds, before the answer, 800 in all. The answer then fails to be
written from inside a backend's event, where nginx posts the request's
end: the module must run it there, as nginx's upstream does, or the
connection is never closed (it was not: each such request kept its socket
until the worker ran out of worker_connections and stopped answering).
Then the nginx workers must hold no socket that the kernel no longer
knows (a reset client connection nginx never closed: in no table of
/proc/net), and a plain request is still answered. Prints 'N passed,
N failed'."""

import os, random, socket, struct, sys, threading, time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import API, HOST, RUN, call, check, done, poster  # noqa: E402

PORT = int(API.rsplit(":", 1)[1])
THREADS = 16
EACH = 25


def workers():
    with open(os.path.join(RUN, "nginx", "logs", "nginx.pid")) as f:
        master = f.read().split()[0]
    with open("/proc/%s/task/%s/children" % (master, master)) as f:
        return f.read().split()


def orphans():
    """sockets the workers hold that TCP (and the Unix domain) no longer
    know: connections closed by their peer and never closed by nginx"""
    known = set()
    for table, column in (("tcp", 9), ("tcp6", 9), ("unix", 6)):
        try:
            with open("/proc/net/" + table) as f:
                for line in f.readlines()[1:]:
                    fields = line.split()
                    if len(fields) > column:
                        known.add(fields[column])
        except OSError:
            pass
    n = 0
    for p in workers():
        for fd in os.listdir("/proc/%s/fd" % p):
            try:
                target = os.readlink("/proc/%s/fd/%s" % (p, fd))
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] not in known:
                n += 1
    return n


def hang_up(requests):
    for _ in range(EACH):
        try:
            s = socket.create_connection((HOST, PORT), timeout=5)
            s.sendall(random.choice(requests))
            time.sleep(random.random() * 0.005)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            s.close()
        except OSError:
            pass


def round_of(requests):
    ts = [threading.Thread(target=hang_up, args=(requests,)) for _ in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    time.sleep(2)               # the backends' answers, then the ends


def main():
    token, _ = poster("gone_%d" % random.randrange(10 ** 9), "password-gone")
    requests = [b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n",
                ("GET /v1/feed HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                 % token).encode()]

    round_of(requests)
    round_of(requests)
    left = orphans()
    if left:
        time.sleep(2)           # a leak stays; a close in progress does not
        left = orphans()
    print("# %d requests whose clients reset the connection: the nginx workers hold %d "
          "sockets closed by their peer" % (2 * THREADS * EACH, left))
    check("%d clients that hang up mid-request leave no connection open"
          % (2 * THREADS * EACH), left == 0, left)

    s, b, _ = call("GET", "/v1/feed", token=token)
    check("a plain request is answered after them", s == 200, (s, b))

    done()


if __name__ == "__main__":
    main()
