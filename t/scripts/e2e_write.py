#!/usr/bin/env python3
"""The write path end to end, through the stack's nginx and its real workers
(scripts/stack): sign up, sign in, upload, post, follow, and see the
followee's new photo in the feed within a second, found by nearby search;
then delete it, and see it leave the feed, the poster's photos and Solr;
with Solr down, nearby answers 503 and a new photo's document waits in Redis
until Solr is back. Bad requests are refused
with a 4xx naming the problem and change nothing (no row, no file, and no
job: gearmand's queue in Redis, watched with MONITOR).
Prints 'N passed, N failed'."""

import hashlib, json, os, re, signal, subprocess, sys, time, urllib.request, uuid

sys.dont_write_bytecode = True     # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import (API, HOST, RUN, ROOT, call, check, done, lists, media_link, png, reachable_dir, redis_data,
                     redis_data_ports, sql, waited)

def media_files():
    root = os.path.join(reachable_dir("nginx-shared"), "media")
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs)


tag = uuid.uuid4().hex[:8]
alice, bob = "alice_" + tag, "bob_" + tag

# -- sign-up and sign-in -----------------------------------------------------
s, b, _ = call("POST", "/v1/users", {"username": alice, "password": "correct horse"})
check("sign-up answers 201 with the new id", s == 201 and b["username"] == alice and b["id"].isdigit(), (s, b))
alice_id = b["id"] if s == 201 else "0"
s, b, _ = call("POST", "/v1/users", {"username": bob, "password": "battery staple"})
bob_id = b["id"] if s == 201 else "0"
s, b, _ = call("POST", "/v1/users", {"username": alice.upper(), "password": "whatever1"})
check("a taken username (any case) is 409", s == 409 and b["error"]["code"] == "taken", (s, b))

s, b, h = call("POST", "/v1/sessions", {"username": alice, "password": "wrong password"})
check("a wrong password is 401", s == 401 and b["error"]["code"] == "invalid_credentials", (s, b))
s, b, h = call("POST", "/v1/sessions", {"username": alice, "password": "correct horse"})
check("sign-in gives a token and a cookie", s == 201 and len(b.get("token", "")) >= 16
      and "HttpOnly" in h.get("Set-Cookie", "") and "SameSite=Lax" in h.get("Set-Cookie", ""), (s, b, h.get("Set-Cookie")))
ta = b.get("token")
s, b, _ = call("POST", "/v1/sessions", {"username": bob, "password": "battery staple"})
tb = b.get("token")
signed_at = time.time()


def evalsha_calls():
    """the scripts run by every Redis holding data"""
    n = 0
    for port in redis_data_ports():
        out = subprocess.run(["redis-cli", "-h", HOST, "-p", str(port), "INFO", "commandstats"],
                             capture_output=True, text=True).stdout
        m = re.search(r"cmdstat_evalsha:calls=(\d+)", out)
        n += int(m.group(1)) if m else 0
    return n


# the token begins with its user's id, so a feed read is native commands
calls = evalsha_calls()
s, b, _ = call("GET", "/v1/feed", token=tb)
check("a session token begins with its user's id, and reads the feed without a "
      "Lua script", (tb or "").startswith(bob_id + "-") and s == 200
      and evalsha_calls() == calls, (tb, s, b, calls, evalsha_calls()))

# -- bad requests change nothing ---------------------------------------------
class QueueWatch:
    """gearmand's job queue in Redis (scripts/stack: --queue-type redis,
    --redis-prefix gearman_queue), seen through MONITOR. gearmand writes a
    background job there before it confirms it to nginx, so before nginx
    answers: once an answer is in, the job it queued (if any) is seen."""

    def __init__(self):
        self.cli = ["redis-cli", "-h", HOST, "-p", os.environ["PHOTO_REDIS_PORT"]]
        self.monitor = subprocess.Popen(self.cli + ["MONITOR"], stdout=subprocess.PIPE,
                                        text=True, errors="replace")
        self.monitor.stdout.readline()      # OK: watching from here on
        self.marks = 0

    def queued(self):
        """the jobs written to the queue since the last call: their keys"""
        self.marks += 1
        mark = "e2e_write-%s-%d" % (tag, self.marks)
        subprocess.run(self.cli + ["ECHO", mark], check=True, capture_output=True)
        keys = []
        for line in self.monitor.stdout:
            if mark in line:
                return keys
            m = re.search(r'"(?i:hmset|hset|set)" "(gearman_queue[^"]*)"', line)
            if m:
                keys.append(m.group(1))
        raise RuntimeError("MONITOR ended")

    def close(self):
        self.monitor.terminate()
        self.monitor.wait()


rows0 = sql("select count(*) from photos")
files0 = media_files()
queue = QueueWatch()
gif = b"GIF89a not what we take"
for what, method, path, args, code, error, named in [
    ("malformed JSON", "POST", "/v1/photos", dict(raw=b'{"media_id": ', token=ta),
     400, "invalid_json", "JSON"),
    ("a body that is not an object", "POST", "/v1/photos", dict(body=[1, 2], token=ta),
     400, "invalid_json", "object"),
    ("media_id missing", "POST", "/v1/photos", dict(body={"caption": "x"}, token=ta),
     400, "invalid_field", '"media_id"'),
    ("media_id of the wrong type", "POST", "/v1/photos", dict(body={"media_id": 12}, token=ta),
     400, "invalid_field", '"media_id"'),
    ("an unknown media_id", "POST", "/v1/photos", dict(body={"media_id": "12345"}, token=ta),
     400, "invalid_field", '"media_id"'),
    ("a caption over 2200 characters", "POST", "/v1/photos",
     dict(body={"media_id": "1", "caption": "x" * 2201}, token=ta), 400, "invalid_field", '"caption"'),
    ("lat out of range", "POST", "/v1/photos", dict(body={"media_id": "1", "lat": 91, "lng": 0}, token=ta),
     400, "invalid_field", '"lat"'),
    ("lat without lng", "POST", "/v1/photos", dict(body={"media_id": "1", "lat": 10}, token=ta),
     400, "invalid_field", '"lng"'),
    ("no session", "POST", "/v1/photos", dict(body={"media_id": "1"}),
     401, "unauthorized", "session"),
    ("a forged token", "POST", "/v1/photos", dict(body={"media_id": "1"}, token="forged_token_0123456789"),
     401, "unauthorized", "session"),
    ("an oversized body", "POST", "/v1/photos", dict(raw=b'{"caption":"' + b"x" * 20000 + b'"}', token=ta),
     413, "too_large", "body"),
    ("a post sent as text/plain", "POST", "/v1/photos", dict(raw=b'{"media_id":"1"}', token=ta, ctype="text/plain"),
     415, "unsupported_media_type", "Content-Type"),
    ("an upload sent as image/gif", "POST", "/v1/media", dict(raw=gif, token=ta, ctype="image/gif"),
     415, "unsupported_media_type", "Content-Type"),
    ("an upload that is not JPEG/PNG", "POST", "/v1/media", dict(raw=gif, token=ta, ctype="image/png"),
     415, "invalid_image", "JPEG or PNG"),
    ("a truncated PNG", "POST", "/v1/media", dict(raw=png(4, 4)[:-20], token=ta, ctype="image/png"),
     400, "invalid_image", "truncated"),
    ("a write signed in by cookie from another site's page", "POST", "/v1/devices",
     dict(body={"platform": "ios", "token": "b" * 64},
          headers={"Cookie": "photo_session=" + ta, "Origin": "http://evil.example"}),
     403, "forbidden_origin", "Origin"),
    ("a device platform that is not ios/android", "POST", "/v1/devices",
     dict(body={"platform": "windows", "token": "x"}, token=ta), 400, "invalid_field", '"platform"'),
    ("following yourself", "POST", "/v1/users/%s/follow" % alice_id, dict(token=ta),
     400, "invalid_id", "yourself"),
]:
    s, b, _ = call(method, path, **args)
    e = b.get("error", {}) if isinstance(b, dict) else {}
    jobs = queue.queued()
    check("%s %s, %s: %d %s naming %s, no job queued" % (method, path, what, code, error, named),
          s == code and e.get("code") == error and named in e.get("message", "") and not jobs,
          (s, b, jobs))
queue.close()
check("nothing of the above was written (no photo row, no file)",
      sql("select count(*) from photos") == rows0 and media_files() == files0)

# -- the happy path ------------------------------------------------------------
s, b, _ = call("POST", "/v1/users/%s/follow" % alice_id, token=tb)
check("bob follows alice: 202", s == 202 and b["status"] == "queued", (s, b))
time.sleep(0.3)

img = png(40, 30)
s, m, _ = call("POST", "/v1/media", raw=img, token=ta, ctype="image/png")
check("alice uploads a PNG: 201 with its size", s == 201 and m["width"] == 40 and m["height"] == 30, (s, m))
if s == 201:
    with urllib.request.urlopen(API + m["image_url"], timeout=5) as r:
        check("nginx serves the stored image back", r.read() == img)
        check("as image/png, not to be sniffed",
              r.headers.get("Content-Type") == "image/png"
              and r.headers.get("X-Content-Type-Options") == "nosniff", dict(r.headers))
s, b, h = call("GET", media_link("/media/no/such.png", int(time.time()) + 3600))
check("a missing image (its link signed): 404, with nosniff, and nginx's version not named",
      s == 404 and h.get("X-Content-Type-Options") == "nosniff" and h.get("Server") == "nginx"
      and b"nginx/" not in b, (s, b, dict(h)))

s, b, _ = call("POST", "/v1/photos", {"media_id": m.get("media_id", "1")}, token=tb)
check("bob cannot post alice's upload", s == 400, (s, b))
s, mb, _ = call("POST", "/v1/media", raw=img, token=tb, ctype="image/png")
plain = (hashlib.sha1(img).hexdigest(), hashlib.sha256(img).hexdigest())
check("bob's upload of the same bytes is another file, named by no plain hash of them",
      s == 201 and mb["image_url"] != m.get("image_url")
      and not any(h in u for h in plain for u in (mb["image_url"], m.get("image_url", ""))), (s, mb, m))

t0 = time.time()
s, p, _ = call("POST", "/v1/photos", {"media_id": m.get("media_id", "1"), "caption": "hello \u00e9t\u00e9",
                                      "lat": 48.8566, "lng": 2.3522}, token=ta)
check("alice posts: 202 with the photo's id", s == 202 and p["id"].isdigit(), (s, p))

seen = waited(lambda: lists("/v1/feed", tb, p.get("id")), 3)
check("the new photo is in bob's feed within a second (%.2f s)" % (seen or -1), seen is not None and seen < 1.0)
if seen is not None:
    s, f, _ = call("GET", "/v1/feed", token=tb)
    photo = next(x for x in f["photos"] if x["id"] == p["id"])
    check("as alice posted it", photo["caption"] == "hello \u00e9t\u00e9" and photo["user"]["username"] == alice
          and photo["lat"] == 48.8566 and photo["width"] == 40, photo)

if os.environ.get("PHOTO_SOLR_URL"):
    # indexed by the index worker (commitWithin), found by nginx through Solr
    found = waited(lambda: lists("/v1/photos/nearby?lat=48.853&lng=2.3499&radius_km=2", tb,
                                 p.get("id")), 5, 0.1)
    check("the located photo is found by nearby search within 2 km (%.2f s)" % (found or -1),
          found is not None)
    s, n, _ = call("GET", "/v1/photos/nearby?lat=51.5072&lng=-0.1276&radius_km=100", token=tb)
    check("and not from London within 100 km", s == 200 and all(x["id"] != p.get("id") for x in n["photos"]), (s, n))

# -- deleting a photo ------------------------------------------------------------
pid = p.get("id", "1")
s, b, _ = call("DELETE", "/v1/photos/%s" % pid, token=tb)
check("bob cannot delete alice's photo: 403", s == 403 and b["error"]["code"] == "forbidden", (s, b))
s, b, _ = call("DELETE", "/v1/photos/4242", token=ta)
check("deleting a photo that does not exist: 404", s == 404 and b["error"]["code"] == "not_found", (s, b))
s, b, _ = call("DELETE", "/v1/photos/x1", token=ta)
check("deleting with a malformed id: 400", s == 400 and b["error"]["code"] == "invalid_id", (s, b))
check("none of that deleted anything", sql("select count(*) from photos where id = %s" % pid) == "1")

t1 = time.time()
s, b, _ = call("DELETE", "/v1/photos/%s" % pid, token=ta)
check("alice deletes her photo: 202", s == 202 and b["id"] == pid and b["status"] == "queued", (s, b))
gone = None
while time.time() - t1 < 5:
    s, f, _ = call("GET", "/v1/feed", token=tb)
    s2, g, _ = call("GET", "/v1/photos/%s" % pid, token=tb)
    s3, u, _ = call("GET", "/v1/users/%s/photos" % alice_id, token=tb)
    if (s == 200 and all(x["id"] != pid for x in f["photos"]) and s2 == 404
            and s3 == 200 and not u["photos"]):
        gone = time.time() - t1
        break
    time.sleep(0.05)
check("it leaves bob's feed, alice's photos and GET /v1/photos/{id} (404) (%.2f s)" % (gone or -1),
      gone is not None)
check("its row is gone, kept in photo_deletions",
      sql("select count(*) from photos where id = %s" % pid) == "0"
      and sql("select count(*) from photo_deletions where id = %s" % pid) == "1")
stored = os.path.join(RUN, "media", m.get("image_url", "/media/-").split("/media/", 1)[1])
check("and its stored file, used by no other photo, is removed",
      waited(lambda: not os.path.exists(stored), 5) is not None, stored)
if os.environ.get("PHOTO_SOLR_URL"):
    # nearby leaves out a photo that is gone from Postgres at once; the
    # document itself goes with the index worker's delete (commitWithin)
    undoc = None
    while time.time() - t1 < 6:
        with urllib.request.urlopen(os.environ["PHOTO_SOLR_URL"] + "/select?q=id:%s&wt=json" % pid,
                                    timeout=5) as r:
            if json.load(r)["response"]["numFound"] == 0:
                undoc = time.time() - t1
                break
        time.sleep(0.1)
    check("and its Solr document is deleted (%.2f s)" % (undoc or -1), undoc is not None)
    s, n, _ = call("GET", "/v1/photos/nearby?lat=48.853&lng=2.3499&radius_km=2", token=tb)
    check("nearby search no longer finds it", s == 200 and all(x["id"] != pid for x in n["photos"]), (s, n))

if os.environ.get("PHOTO_SOLR_URL") and os.environ.get("PHOTO_SOLR_STANDIN") == "1":
    # -- Solr down: nearby says 503, the index waits, nothing is lost ----------
    pidfile = os.path.join(RUN, "solr", "solr.pid")
    with open(pidfile) as f:
        solr_pid = int(f.read().split()[0])
    os.kill(solr_pid, signal.SIGTERM)
    try:
        deadline = time.time() + 5
        while time.time() < deadline and os.path.exists("/proc/%d" % solr_pid):
            time.sleep(0.05)
        s, m2, _ = call("POST", "/v1/media", raw=png(8, 8), token=ta, ctype="image/png")
        s, p2, _ = call("POST", "/v1/photos", {"media_id": m2.get("media_id", "1"), "caption": "while Solr is away",
                                               "lat": 48.8606, "lng": 2.3376}, token=ta)
        check("Solr down: posting a located photo is still 202", s == 202, (s, p2))
        t2 = time.time()
        s, n, _ = call("GET", "/v1/photos/nearby?lat=48.86&lng=2.3376&radius_km=1", token=tb)
        check("nearby search answers 503 JSON at once (%.2f s)" % (time.time() - t2),
              s == 503 and n["error"]["code"] == "unavailable" and time.time() - t2 < 3, (s, n))
        pending = "index:pending:{%s}" % os.environ["PHOTO_SOLR_URL"]
        waiting = None
        while time.time() - t2 < 5:
            waiting = redis_data("LRANGE", pending, "0", "-1")
            if p2.get("id", "-") in waiting:
                break
            time.sleep(0.1)
        check("its document waits in Redis for Solr", p2.get("id", "-") in (waiting or ""), waiting)
    finally:
        # back whatever happened: the stack is shared with the other tests
        up = subprocess.run([os.path.join(ROOT, "scripts", "stack"), "start"],
                            capture_output=True, text=True)
    check("scripts/stack start brings the Solr stand-in back", up.returncode == 0, up.stdout + up.stderr)
    back = waited(lambda: lists("/v1/photos/nearby?lat=48.86&lng=2.3376&radius_km=1", tb,
                                p2.get("id")), 10, 0.1)
    check("Solr back: the photo posted while it was away is found (%.2f s)" % (back or -1), back is not None)

s, b, _ = call("POST", "/v1/devices", {"platform": "ios", "token": "a" * 64}, token=tb)
check("a device token: 202", s == 202, (s, b))
s, b, _ = call("POST", "/v1/devices", {"platform": "android", "token": "c" * 64},
               headers={"Cookie": "photo_session=" + tb, "Origin": API})
check("a write signed in by cookie from this site's own page: 202", s == 202, (s, b))

s, _, h = call("DELETE", "/v1/sessions", token=tb)
check("sign-out: 204", s == 204, s)
s, b, _ = call("GET", "/v1/feed", token=tb)
check("the old token no longer works", s == 401, s)

# -- limits per client address (the stack's limit_req, as conf/nginx.conf) ---
def burst(path, body):
    """the first 429 of up to 20 quick POSTs from this address: (its number,
    body, headers), or Nones"""
    for i in range(1, 21):
        s, b, h = call("POST", path, body(i))
        if s == 429:
            return i, b, h
    return None, None, None

def refused(what, n, b, h):
    check("%s from one address: 429 JSON with Retry-After past the burst (request %s)" % (what, n),
          n is not None and n > 6 and b["error"]["code"] == "too_many_requests"
          and h.get("Retry-After") == "1" and h.get("Content-Type") == "application/json",
          (n, b, h and dict(h)))

# empty buckets first: the 3 sign-ups above leak out at 1 r/s, the 3
# sign-ins at 2 r/s (the rest of this suite may take less than that)
time.sleep(max(0, signed_at + 3.5 - time.time()))
# unknown names, one each: the account's own limit stays out of the way
refused("sign-in", *burst("/v1/sessions", lambda i: {"username": "nobody_%s_%d" % (tag, i),
                                                     "password": "wrong password"}))
s, _, _ = call("DELETE", "/v1/sessions", token=ta)
check("sign-out is not limited", s == 204, s)
# refused for its short password, counted all the same
refused("sign-up", *burst("/v1/users", lambda i: {"username": "u_%s_%d" % (tag, i), "password": "short"}))
# the next suites sign up and in from this address too: empty buckets
time.sleep(6)

done()
