#!/usr/bin/env python3
"""Clients that hang up mid-request leave nothing behind in nginx.

Through the stack's nginx: 16 threads send requests (/health, and a feed
read with a session) and reset the connection (SO_LINGER 0) within a few
milliseconds, before the answer, 400 at a time. The answer then fails to
be written from inside a backend's event, where nginx posts the request's
end: the module must run it there, as nginx's upstream does, or the
connection is never closed (it was not: each such request kept its socket
until the worker ran out of worker_connections and stopped answering).
A first round lets the workers open their kept-alive backend connections;
after the second, their open descriptors must not have grown by more than
a few, and a plain request is still answered. Prints 'N passed,
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


def descriptors():
    return sum(len(os.listdir("/proc/%s/fd" % p)) for p in workers())


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
    before = descriptors()
    round_of(requests)
    after = descriptors()
    print("# nginx workers' open descriptors: %d after a first round of %d hang-ups, "
          "%d after a second" % (before, THREADS * EACH, after))
    check("%d more clients that hang up mid-request leave no connection open"
          % (THREADS * EACH), after <= before + 8, (before, after))

    s, b, _ = call("GET", "/v1/feed", token=token)
    check("a plain request is answered after them", s == 200, (s, b))

    done()


if __name__ == "__main__":
    main()
