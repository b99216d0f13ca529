#!/usr/bin/env python3
"""Concurrent reads share their memcached gets (the module's batches,
ngx_photo_memcached_get.c), through the stack's nginx, which reads every
object from memcached (no photo_object_cache there).

A poster with 12 photos; their page is read once, alone. Then Redis is
frozen (SIGSTOP) for a moment while 48 readers ask for the page at once and
16 more clients send the request and hang up: Redis answers them all
together when it wakes (SIGCONT), so their gets meet in one turn of nginx's
event loop. Every reader must get the page, byte for byte as read alone;
the module's metrics must show far fewer memcached exchanges than reads
times servers (printed); and nginx's error log must say nothing of a reply
it could not place or of a crash. Fresh users each run. Prints 'N passed,
N failed'."""

import os, re, signal, socket, sys, threading, time, urllib.request, uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import API, HOST, RUN, call, check, done, poster, wait  # noqa: E402

READERS = 48
QUITTERS = 16
PHOTOS = 12


def metric(text, name, label):
    """the sum of name's samples whose labels contain label"""
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") and label in line:
            total += float(line.split()[-1])
    return total


def metrics():
    with urllib.request.urlopen(API + "/metrics", timeout=10) as r:
        return r.read().decode()


def get(path, token):
    return urllib.request.Request(API + path, headers={"Authorization": "Bearer " + token})


def read(path, token, out, i):
    try:
        with urllib.request.urlopen(get(path, token), timeout=10) as r:
            out[i] = (r.status, r.read())
    except Exception as e:          # noqa: BLE001  (a failure is an answer)
        out[i] = (None, repr(e).encode())


def quit_early(path, token):
    """sends the request and hangs up before any answer"""
    try:
        s = socket.create_connection((HOST, int(API.rsplit(":", 1)[1])), timeout=5)
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n"
                   % (path, token)).encode())
        s.close()
    except OSError:
        pass


def main():
    name = "batch_" + uuid.uuid4().hex[:10]
    token, media = poster(name, "password-" + name)
    uid = (token or "0-").split("-")[0]     # a token begins with its user's id

    for i in range(PHOTOS):
        call("POST", "/v1/photos", {"media_id": media, "caption": "batch %d" % i}, token=token)

    path = "/v1/users/%s/photos?count=20" % uid

    def page_whole():
        # with a bucket, once the media worker rewrote the objects with
        # their sizes: the page stays as it is read alone
        s, b, _ = call("GET", path, token=token)
        return (s == 200 and len(b["photos"]) == PHOTOS
                and (os.environ.get("PHOTO_S3") != "1"
                     or all("images" in p for p in b["photos"])))

    check("the poster's %d photos are all on their page" % PHOTOS, wait(page_whole, 30))

    with urllib.request.urlopen(get(path, token), timeout=10) as r:
        alone = r.read()

    log = os.path.join(RUN, "nginx", "logs", "error.log")
    log_from = os.path.getsize(log)
    before = metrics()

    with open(os.path.join(RUN, "redis", "redis.pid")) as f:
        redis = int(f.read().split()[0])

    out = [None] * READERS
    threads = [threading.Thread(target=read, args=(path, token, out, i)) for i in range(READERS)]
    quitters = [threading.Thread(target=quit_early, args=(path, token)) for _ in range(QUITTERS)]

    os.kill(redis, signal.SIGSTOP)
    try:
        for t in threads + quitters:
            t.start()
        for t in quitters:
            t.join()
        time.sleep(0.3)             # all asked; photo_redis_timeout is 1 s
    finally:
        os.kill(redis, signal.SIGCONT)

    for t in threads:
        t.join()

    bad = [o for o in out if o != (200, alone)]
    check("each of %d concurrent readers gets the page, as read alone" % READERS,
          not bad, bad[:2])

    # every read that reached memcached (the quitters' too, maybe) is at
    # most one exchange per server; batched, far fewer
    after = metrics()
    servers = len([ln for ln in after.splitlines()
                   if ln.startswith("photo_backend_connections{") and 'backend="memcached"' in ln
                   and 'state="open"' in ln])
    calls = (metric(after, "photo_backend_requests_total", 'backend="memcached"')
             - metric(before, "photo_backend_requests_total", 'backend="memcached"'))
    reads = (metric(after, "photo_http_requests_total", 'endpoint="user_photos"')
             - metric(before, "photo_http_requests_total", 'endpoint="user_photos"'))
    print("# %d reads (%d readers, %d who hung up), %d memcached servers: %d memcached "
          "exchanges, where one get per read and server would be %d"
          % (reads, READERS, QUITTERS, servers, calls, reads * servers))
    check("the readers' gets were batched: memcached exchanges at most a quarter of "
          "reads times servers", servers > 0 and 0 < calls <= reads * servers / 4,
          (calls, reads, servers))

    with open(log, errors="replace") as f:
        f.seek(log_from)
        lines = [ln for ln in f.read().splitlines()
                 if re.search(r"\[(alert|crit|emerg)\]|not asked for|more than its reply"
                              r"|worker process \d+ exited", ln)]
    check("nginx's log says nothing of a misplaced reply or a crash", not lines, lines[:3])

    done()


if __name__ == "__main__":
    main()
