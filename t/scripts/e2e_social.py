#!/usr/bin/env python3
"""Likes, comments and the activity feed end to end, through the stack's
nginx and its real workers (the social worker, the notify worker and the
push stand-ins when the stack runs them): two users, ann posts and bob
follows her;
  - refused writes (a photo that does not exist, an empty comment, a
    comment too long) queue nothing: with the social workers frozen, only
    the one good like waits in gearmand;
  - bob likes twice and comments: the photo counts one like and one
    comment in Postgres, in its cached object and in bob's feed, with
    "liked": true for bob and false for ann;
  - ann's activity: bob's comment, bob's like, bob's follow, newest first;
  - ann's phone gets one push for the like and one for the comment; a
    like, unlike and like again sends no second like push; ann liking her
    own photo adds no activity and sends no push;
  - the comment deleted by ann (the photo's poster) leaves the comments,
    the count and the activity; the photo deleted, its likes, comments and
    activity entries go too.
Prints 'N passed, N failed'."""

import json, os, signal, sys, time, uuid

sys.dont_write_bytecode = True     # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import (RUN, call, check, done, gearman_status, poster, redis_data, sql,  # noqa: E402
                     waited)

PUSH = os.path.join(RUN, "push")
FCM_LOG = os.path.join(PUSH, "fcm.log")
pushes = os.environ.get("PHOTO_PUSH_STANDIN") == "1"

tag = uuid.uuid4().hex[:8]
ann, media = poster("so_a_" + tag, "social password")
bob, _ = poster("so_b_" + tag, "social password")
ann_id, bob_id = ann.split("-")[0], bob.split("-")[0]


def social_workers():
    """the pids of the stack's social workers"""
    d = os.path.join(RUN, "workers")
    out = []
    for f in os.listdir(d):
        if f.startswith("photo_social.") and f.endswith(".pid"):
            with open(os.path.join(d, f)) as fh:
                out.append(int(fh.read().split()[0]))
    return out


def queued(fn):
    return gearman_status().get(fn, (0, 0))[0]


def pg1(q):
    out = sql(q).strip()
    return out


def counts(pid):
    return pg1("select like_count || ' ' || comment_count from photos where id = %s" % pid)


def feed_photo(token, pid):
    s, b, _ = call("GET", "/v1/feed?count=50", token=token)
    for p in (b or {}).get("photos", []):
        if p["id"] == pid:
            return p
    return None


def activity(token):
    s, b, _ = call("GET", "/v1/activity", token=token)
    return s, [(e["type"], e["actor"]["id"]) for e in (b or {}).get("activity", [])]


def fcm_pushes(token):
    """the notifications the FCM stand-in took for token, as (title, body)"""
    out = []
    try:
        with open(FCM_LOG) as f:
            for line in f:
                w = line.split()
                if len(w) > 3 and w[1] == "200" and w[2] == token:
                    m = json.loads(line[line.index("{"):])["message"]["notification"]
                    out.append((m["title"], m["body"]))
    except (OSError, ValueError, KeyError):
        pass
    return out


# -- ann posts, bob follows her, ann has an Android phone -------------------------
s, b, _ = call("POST", "/v1/users/%s/follow" % ann_id, token=bob)
check("bob follows ann: 202", s == 202, (s, b))
# bob reads his feed: it is in Redis (complete) from then on, and fan-out
# adds to it (a feed not in Redis is built when it is read)
s, b, _ = call("GET", "/v1/feed", token=bob)
check("bob reads his feed", s == 200, (s, b))
s, b, _ = call("POST", "/v1/photos", {"media_id": media, "caption": "social " + tag}, token=ann)
pid = b.get("id")
check("ann posts a photo: 202", s == 202 and pid, (s, b))
# (in Redis: read through nginx, a worker would keep the object, its counts
# 0, for photo_object_cache's time)
check("it reaches bob's feed", waited(
    lambda: pid.zfill(19) in redis_data("ZRANGE", "feed:{%s}" % bob_id, "0", "-1"), 15)
    is not None)
phone = uuid.uuid4().hex[:22] + ":APA91b" + uuid.uuid4().hex + uuid.uuid4().hex
s, _, _ = call("POST", "/v1/devices", {"platform": "android", "token": phone}, token=ann)
check("ann registers her phone", s == 202 and waited(
    lambda: pg1("select count(*) from device_tokens where token = '%s'" % phone) == "1", 10))

# -- refused writes queue nothing ---------------------------------------------------
frozen = social_workers()
check("the stack runs a social worker", len(frozen) >= 1, frozen)
for w in frozen:
    os.kill(w, signal.SIGSTOP)
try:
    before = (queued("photo_like"), queued("photo_comment"))
    bad = [call("POST", "/v1/photos/9999999999/likes", token=bob)[0],
           call("POST", "/v1/photos/%s/comments" % pid, {"text": ""}, token=bob)[0],
           call("POST", "/v1/photos/%s/comments" % pid, {"text": "y" * 2201}, token=bob)[0],
           call("POST", "/v1/photos/%s/comments" % pid, {"txt": "typo"}, token=bob)[0]]
    check("the refused writes: 404, 400, 400, 400", bad == [404, 400, 400, 400], bad)
    check("they queued nothing", (queued("photo_like"), queued("photo_comment")) == before,
          (before, gearman_status()))
    s, b, _ = call("POST", "/v1/photos/%s/likes" % pid, token=bob)
    check("bob likes ann's photo: 202, one job waiting",
          s == 202 and queued("photo_like") == before[0] + 1, (s, b, gearman_status()))
finally:
    for w in frozen:
        os.kill(w, signal.SIGCONT)

# -- a like, again, and a comment ------------------------------------------------
s, _, _ = call("POST", "/v1/photos/%s/likes" % pid, token=bob)
check("bob likes it again: 202", s == 202, s)
s, b, _ = call("POST", "/v1/photos/%s/comments" % pid, {"text": "lovely \u00e9 " + tag}, token=bob)
cid = b.get("id")
check("bob comments: 202 with the comment's id", s == 202 and cid and cid.isdigit(), (s, b))
check("Postgres: one like, one comment",
      waited(lambda: counts(pid) == "1 1", 15) is not None, counts(pid))
check("the likes row is bob's, and one",
      pg1("select count(*) from likes where photo_id = %s and liked" % pid) == "1")

# the object, once both are applied (nobody has read the photo through nginx
# yet: no nginx worker keeps a copy with older counts)
seen = {}


def counted():
    seen["p"] = feed_photo(bob, pid)
    return seen["p"] and (seen["p"]["like_count"], seen["p"]["comment_count"]) == (1, 1)


check("bob's feed: like_count 1, comment_count 1, liked true",
      waited(counted, 10) is not None and seen["p"]["liked"] is True, seen.get("p"))
s, b, _ = call("GET", "/v1/photos/%s" % pid, token=ann)
check("the photo for ann: liked false, the same counts",
      s == 200 and b["liked"] is False and (b["like_count"], b["comment_count"]) == (1, 1), b)
s, b, _ = call("GET", "/v1/photos/%s/comments" % pid, token=ann)
check("its comments: bob's",
      s == 200 and [(c["id"], c["user"]["id"], c["text"]) for c in b["comments"]]
      == [(cid, bob_id, "lovely \u00e9 " + tag)], b)

# -- ann's activity and her pushes -------------------------------------------------
want = [("comment", bob_id), ("like", bob_id), ("follow", bob_id)]
check("ann's activity: bob's comment, like, follow, newest first",
      waited(lambda: activity(ann)[1] == want, 10) is not None, activity(ann))
if pushes:
    check("ann's phone: one push for the like, one for the comment",
          waited(lambda: len(fcm_pushes(phone)) >= 2, 10) is not None
          and sum("liked" in b for _, b in fcm_pushes(phone)) == 1
          and sum("comment" in (t + b).lower() for t, b in fcm_pushes(phone)) == 1,
          fcm_pushes(phone))

# -- like, unlike, like: one push; ann's own like: none --------------------------
s1 = call("DELETE", "/v1/photos/%s/likes" % pid, token=bob)[0]
check("bob unlikes: liked false at once in his feed, 0 likes in Postgres",
      s1 == 202 and waited(lambda: counts(pid) == "0 1", 10) is not None
      and feed_photo(bob, pid)["liked"] is False, (s1, counts(pid)))
check("the like's activity entry is gone",
      waited(lambda: activity(ann)[1] == [("comment", bob_id), ("follow", bob_id)], 10)
      is not None, activity(ann))
s2 = call("POST", "/v1/photos/%s/likes" % pid, token=bob)[0]
s3 = call("POST", "/v1/photos/%s/likes" % pid, token=ann)[0]
check("bob likes again, ann likes her own: 202, 202; two likes",
      (s2, s3) == (202, 202) and waited(lambda: counts(pid) == "2 1", 10) is not None,
      (s2, s3, counts(pid)))
check("ann's activity: bob's like again, and none for her own",
      waited(lambda: activity(ann)[1] == [("like", bob_id), ("comment", bob_id),
                                           ("follow", bob_id)], 10) is not None,
      activity(ann))
if pushes:
    time.sleep(1.5)            # a second like push would have come by now
    check("still one like push (like, unlike, like), none for ann's own like",
          sum("liked" in b for _, b in fcm_pushes(phone)) == 1, fcm_pushes(phone))

# -- the comment deleted by the photo's poster; then the photo --------------------
s, _, _ = call("DELETE", "/v1/comments/%s" % cid, token=ann)
check("ann deletes bob's comment: 202; gone from the comments, the count, the activity",
      s == 202 and waited(lambda: counts(pid) == "2 0", 10) is not None
      and call("GET", "/v1/photos/%s/comments" % pid, token=ann)[1]["comments"] == []
      and waited(lambda: ("comment", bob_id) not in activity(ann)[1], 10) is not None,
      (s, counts(pid), activity(ann)))
s, _, _ = call("DELETE", "/v1/photos/%s" % pid, token=ann)


def purged():
    return (pg1("select count(*) from likes where photo_id = %s" % pid) == "0"
            and pg1("select count(*) from activities where photo_id = %s" % pid) == "0"
            and activity(ann)[1] == [("follow", bob_id)]
            and pid.zfill(19) not in redis_data("ZRANGE", "likes:{%s}" % bob_id, "0", "-1"))


check("ann deletes the photo: its likes and activity entries go, in Postgres and Redis",
      s == 202 and waited(purged, 15) is not None, activity(ann))
s, b, _ = call("POST", "/v1/photos/%s/likes" % pid, token=bob)
check("liking it now: 404", s == 404 and b["error"]["code"] == "not_found", (s, b))

done()
