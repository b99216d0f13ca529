#!/usr/bin/env python3
"""Idempotency-Key end to end, through the stack's nginx, gearmand and
workers: a post retried with its key after a 202 gets the same 202 and
makes no second photo; a post whose submission met a frozen gearmand
(SIGSTOP: it takes the job into its socket buffer and stores it once it
runs again) answers 503, and its retry with the same key, once gearmand
runs again, answers 202 with the id the job was stored under: one photo,
not two. A retry while the first is still waiting for gearmand is 409,
the same key with another body 422. A post whose answer Redis could not
keep (Redis stopped while the post waited for gearmand) is, retried once
Redis is back, not told 409 for the rest of its hold: nginx keeps the
answer when Redis returns, and the retry is the same post.  Nor is a
sign-up whose key's begin Redis ran but never answered (Redis frozen, then
running it late): nginx lets that hold go.
Prints 'N passed, N failed'."""

import os, signal, subprocess, sys, threading, time, uuid

sys.dont_write_bytecode = True     # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import (GEARMAN_PORTS, HOST, ROOT, RUN, call, check, done, gearmand_pid_file, pid_in,
                     poster, redis_data_pids, sql, waited)

tag = uuid.uuid4().hex[:8]
token, media = poster("idem_" + tag, "idem password")


def post(key, caption):
    return call("POST", "/v1/photos", {"media_id": media, "caption": caption}, token=token,
                headers={"Idempotency-Key": key})


def rows(caption):
    out = sql("select id from photos where caption = '%s'" % caption)
    return [l for l in out.splitlines() if l]


# -- a retry after a 202 ---------------------------------------------------------
key, caption = str(uuid.uuid4()), "idem-%s-once" % tag
s1, b1, _ = post(key, caption)
check("a post with a key: 202 with an id", s1 == 202 and b1.get("id", "").isdigit(), (s1, b1))
s2, b2, h2 = post(key, caption)
check("its retry: the same 202, the same id", (s2, b2) == (s1, b1), (s2, b2))
s3, b3, _ = post(key, caption + " but changed")
check("the same key with another body: 422", s3 == 422 and b3["error"]["code"] == "idempotency_key_reused",
      (s3, b3))
waited(lambda: rows(caption), 5)
time.sleep(0.5)
check("one photo, under that id", rows(caption) == [b1.get("id")], rows(caption))

# -- gearmand frozen during the submission ------------------------------------------
def frozen_first_attempt(key, caption, meanwhile):
    """the post sent while every gearmand is frozen (SIGSTOP: it goes to the
    one its id routes to), and meanwhile() run while it waits; every
    gearmand runs again after.  The first attempt's (answer, seconds)"""
    gearmands = [pid_in(gearmand_pid_file(port)) for port in GEARMAN_PORTS]
    first = {}

    def attempt():
        t0 = time.time()
        first["answer"] = post(key, caption)
        first["took"] = time.time() - t0

    for pid in gearmands:
        os.kill(pid, signal.SIGSTOP)
    try:
        t = threading.Thread(target=attempt)
        t.start()
        meanwhile()
        t.join()
    finally:
        for pid in gearmands:
            os.kill(pid, signal.SIGCONT)
    return first["answer"], first["took"]


def retry_meanwhile():
    time.sleep(0.3)
    s, b, _ = post(key, caption)
    check("a retry while the first waits for gearmand: 409 request_in_flight",
          s == 409 and b["error"]["code"] == "request_in_flight", (s, b))


key, caption = str(uuid.uuid4()), "idem-%s-frozen" % tag
(s, b, _), took = frozen_first_attempt(key, caption, retry_meanwhile)
check("gearmand frozen: 503 after photo_gearman_timeout (%.2f s)" % took,
      s == 503 and b["error"]["code"] == "unavailable" and 0.9 < took < 3, (s, b))

# gearmand, running again, reads the submission nginx left in its socket and
# stores the job: the post is made although the client heard 503
made = waited(lambda: rows(caption), 10)
check("the job was stored all the same: the photo appears (%.2f s)" % (made or -1), made is not None)

time.sleep(1.1)                    # nginx tries gearmand again a second after a failure
s, b, h = post(key, caption)
check("the retry with the same key: 202 with an id", s == 202 and b.get("id", "").isdigit(), (s, b))
time.sleep(1)
check("one photo, under the id the retry was answered", rows(caption) == [b.get("id")], (rows(caption), b))
s2, b2, _ = post(key, caption)
check("and a retry after that: the stored 202", (s2, b2) == (s, b), (s2, b2))

# -- Redis gone while the post ran ---------------------------------------------------
# the hold taken, then Redis stopped (its AOF keeps the hold) while the post
# waits for a frozen gearmand: nginx cannot keep the 503 in the record
key, caption = str(uuid.uuid4()), "idem-%s-redis-gone" % tag
redis_pid = pid_in(os.path.join(RUN, "redis", "redis.pid"))


def stop_redis():
    time.sleep(0.2)
    os.kill(redis_pid, signal.SIGTERM)


(s, b, _), _ = frozen_first_attempt(key, caption, stop_redis)
check("Redis stopped while the post waited: 503", s == 503, (s, b))
waited(lambda: not os.path.exists("/proc/%d" % redis_pid), 10)
subprocess.run([os.path.join(ROOT, "scripts", "stack"), "start"], check=True,
               stdout=subprocess.DEVNULL)
back = time.time()
time.sleep(0.5)
answers = []
while time.time() < back + 15:
    s, b, _ = post(key, caption)
    answers.append(s)
    if s not in (409, 503):
        break
    time.sleep(0.2)
check("its retry once Redis is back (%.1f s later): 202 at once, not 409 until the hold lapses"
      % (time.time() - back), answers[:1] == [202] and b.get("id", "").isdigit(), answers)
made = waited(lambda: rows(caption), 10)
time.sleep(0.5)
check("one photo, under the id the retry was answered", rows(caption) == [b.get("id")],
      (rows(caption), b))

# -- a begin Redis ran but never answered ------------------------------------------------
# Redis frozen (SIGSTOP) as a sign-up with a key arrives: nginx times the
# key's begin out and answers 503; Redis, running again, reads the begin
# from its socket and runs it, so the key is held by an attempt that has
# given up (as after a crash between the AOF's fsync and the answer).  Its
# retry must not be told 409 until that hold lapses.
# (every Redis holding data: with a cluster, its nodes, for less than its
# cluster-node-timeout)
key, name = str(uuid.uuid4()), "idem_%s_lost" % tag
frozen = redis_data_pids()
for pid in frozen:
    os.kill(pid, signal.SIGSTOP)
try:
    t0 = time.time()
    s, b, _ = call("POST", "/v1/users", {"username": name, "password": "lost begin"},
                   headers={"Idempotency-Key": key})
    took = time.time() - t0
    time.sleep(0.3)                # nginx tries its abandon meanwhile, in vain
finally:
    for pid in frozen:
        os.kill(pid, signal.SIGCONT)
back = time.time()
check("a sign-up while Redis is frozen: 503 after photo_redis_timeout (%.2f s)" % took,
      s == 503 and b["error"]["code"] == "unavailable", (s, b))
# spaced for the sign-up limit (1/s past a burst of 5), which a 429 would hit
answers = []
time.sleep(0.3)
while time.time() < back + 1.2:
    s, b, _ = call("POST", "/v1/users", {"username": name, "password": "lost begin"},
                   headers={"Idempotency-Key": key})
    answers.append(s)
    if s not in (409, 503):
        break
    time.sleep(0.4)
check("its retry once Redis runs again: 201 within a second (%.1f s), not 409 until "
      "the hold lapses" % (time.time() - back), s == 201, answers)

# -- without a key, nothing is remembered -------------------------------------------
caption = "idem-%s-nokey" % tag
s, b, _ = call("POST", "/v1/photos", {"media_id": media, "caption": caption}, token=token)
s2, b2, _ = call("POST", "/v1/photos", {"media_id": media, "caption": caption}, token=token)
check("without a key, two posts are two photos", s == s2 == 202 and b["id"] != b2["id"], (b, b2))
waited(lambda: len(rows(caption)) == 2, 5)
check("two rows", len(rows(caption)) == 2, rows(caption))

done()
