#!/usr/bin/env python3
"""Push notifications end to end, through the stack's nginx and its real
workers (scripts/stack with PHOTO_PUSH_STANDIN=1 and a notify worker):
users sign up and in, register an iPhone and an Android phone with
POST /v1/devices and are followed with POST /v1/users/{id}/follow; then, at
the APNs and FCM stand-ins (which verify the JWTs, headers and payload as
Apple and Google do):
  - each device gets exactly one notification, naming the follower;
  - a token the service calls dead (APNs 410 Unregistered, FCM 404
    UNREGISTERED) is deleted, a living one kept;
  - APNs down (its stand-in stopped) delays the push and loses nothing,
    FCM answering 503 only delays it.
Fresh users and tokens each run. Prints 'N passed, N failed'; skipped
(exit 77) when the stack runs no push stand-ins."""

import json, os, signal, subprocess, sys, time, urllib.request, uuid

sys.dont_write_bytecode = True     # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import HOST, RUN, ROOT, call, check, done, gearman_status, sql, wait

PUSH = os.path.join(RUN, "push")
RULES = os.environ.get("PHOTO_PUSH_RULES", os.path.join(PUSH, "rules.json"))
RECORDS = {"ios": os.environ.get("PHOTO_APNS_RECORDS", os.path.join(PUSH, "apns-records.txt")),
           "android": os.environ.get("PHOTO_FCM_RECORDS", os.path.join(PUSH, "fcm-records.txt"))}
LOGS = {"ios": os.path.join(PUSH, "apns.log"), "android": os.path.join(PUSH, "fcm.log")}


def drained():
    """no follow or notify job waiting or running: nothing more will be sent"""
    st = gearman_status()
    return all(st.get(f, (0, 0))[0] == 0 for f in ("photo_device", "photo_follow", "photo_notify"))


def answers(platform, token):
    """the stand-in's answers to the requests for token, in order"""
    try:
        with open(RECORDS[platform]) as f:
            return [int(l.split()[0]) for l in f if len(l.split()) == 4 and l.split()[1] == token]
    except OSError:
        return []


def payload(platform, token):
    """what the stand-in was sent for token and took (its log: status, token, body)"""
    try:
        with open(LOGS[platform]) as f:
            for line in f:
                w = line.split()
                if len(w) > 3 and w[1] == "200" and w[2] == token:
                    return json.loads(line[line.index("{"):])
    except (OSError, ValueError):
        pass
    return None


def alert(platform, token):
    """(title, body, token) of the notification as the device would show it"""
    p = payload(platform, token)
    try:
        if platform == "ios":
            a = p["aps"]["alert"]
            return a["title"], a["body"], token
        m = p["message"]
        return m["notification"]["title"], m["notification"]["body"], m["token"]
    except (TypeError, KeyError):
        return None


def rules(add={}, drop=()):
    """the stand-ins' answers for these tokens (merged; replaced atomically)"""
    try:
        with open(RULES) as f:
            cur = json.load(f)
    except (OSError, ValueError):
        cur = {}
    cur.update(add)
    for t in drop:
        cur.pop(t, None)
    tmp = "%s.%d" % (RULES, os.getpid())
    with open(tmp, "w") as f:
        json.dump(cur, f)
    os.rename(tmp, RULES)


def user(name):
    s, b, _ = call("POST", "/v1/users", {"username": name, "password": "push " + tag})
    s2, t, _ = call("POST", "/v1/sessions", {"username": name, "password": "push " + tag})
    check("%s signs up and in" % name.split("_")[0], s == 201 and s2 == 201, (s, b, s2, t))
    return (b["id"] if s == 201 else "0"), (t.get("token") if s2 == 201 else None)


def devices(uid):
    return sorted(sql("select token from device_tokens where user_id = %s" % uid).split())


def register(name, uid, session, *devs):
    """POST /v1/devices for each (platform, token); True once all are recorded"""
    codes = [call("POST", "/v1/devices", {"platform": p, "token": t}, token=session)[0]
             for p, t in devs]
    ok = wait(lambda: devices(uid) == sorted(t for _, t in devs), 5)
    check("%s's %d devices: 202 each, recorded" % (name, len(devs)),
          codes == [202] * len(devs) and ok, (codes, devices(uid)))


def follow(session, uid, whom):
    s, b, _ = call("POST", "/v1/users/%s/follow" % uid, token=session)
    check("bob follows %s: 202" % whom, s == 202, (s, b))


def settled():
    """the queues drained, and a moment more for a duplicate to show"""
    ok = wait(drained, 10)
    time.sleep(0.5)
    return ok


def apns_token():
    return uuid.uuid4().hex + uuid.uuid4().hex              # 64 hex digits, as Apple's


def fcm_token():
    return uuid.uuid4().hex[:22] + ":APA91b" + uuid.uuid4().hex + uuid.uuid4().hex


if os.environ.get("PHOTO_PUSH_STANDIN") != "1":
    print("skipped: the stack runs no push stand-ins (PHOTO_PUSH_STANDIN=1 scripts/stack start)")
    sys.exit(77)

t0 = time.time()
tag = uuid.uuid4().hex[:8]
st = gearman_status()
check("a notify worker takes photo_notify jobs", st.get("photo_notify", (0, 0))[1] >= 1, st.get("photo_notify"))

bob_id, bob = user("bob_" + tag)
ann_id, ann = user("ann_" + tag)
cat_id, cat = user("cat_" + tag)
dan_id, dan = user("dan_" + tag)
said = ("New follower", "bob_%s started following you" % tag)

# -- 1: a follow reaches each device once ----------------------------------
ann_ios, ann_and = apns_token(), fcm_token()
register("ann", ann_id, ann, ("ios", ann_ios), ("android", ann_and))
follow(bob, ann_id, "ann")
check("ann's iPhone gets the push from APNs",
      wait(lambda: 200 in answers("ios", ann_ios), 10), answers("ios", ann_ios))
check("ann's Android phone gets it from FCM",
      wait(lambda: 200 in answers("android", ann_and), 10), answers("android", ann_and))
check("both say who followed", alert("ios", ann_ios) == said + (ann_ios,)
      and alert("android", ann_and) == said + (ann_and,),
      (alert("ios", ann_ios), alert("android", ann_and)))
check("the jobs are done", settled(), gearman_status())
check("exactly one request per device, taken (apns %s, fcm %s)"
      % (answers("ios", ann_ios), answers("android", ann_and)),
      answers("ios", ann_ios) == [200] and answers("android", ann_and) == [200])

# -- 2: dead tokens are deleted --------------------------------------------
cat_gone, cat_unreg, cat_ok = apns_token(), fcm_token(), fcm_token()
rules({cat_gone: [{"status": 410, "reason": "Unregistered"}], cat_unreg: [{"status": 404}]})
register("cat", cat_id, cat, ("ios", cat_gone), ("android", cat_unreg), ("android", cat_ok))
follow(bob, cat_id, "cat")
check("the dead tokens' rows are deleted, the living one kept",
      wait(lambda: devices(cat_id) == [cat_ok], 10), devices(cat_id))
check("the jobs are done", settled(), gearman_status())
check("APNs answered 410 once, FCM 404 once, the living device got its push once"
      " (%s, %s, %s)" % (answers("ios", cat_gone), answers("android", cat_unreg),
                         answers("android", cat_ok)),
      answers("ios", cat_gone) == [410] and answers("android", cat_unreg) == [404]
      and answers("android", cat_ok) == [200])

# -- 3: APNs down, FCM failing: delayed, nothing lost ----------------------
dan_ios, dan_and = apns_token(), fcm_token()
rules({dan_and: [{"status": 503}, {"status": 503}]})
register("dan", dan_id, dan, ("ios", dan_ios), ("android", dan_and))

pidfile = os.path.join(PUSH, "apns.pid")
with open(pidfile) as f:
    apns_pid = int(f.read().split()[0])
os.kill(apns_pid, signal.SIGTERM)


def gone():
    try:
        os.kill(apns_pid, 0)
        return False
    except ProcessLookupError:
        return True


try:
    check("the APNs stand-in is stopped", wait(gone, 5))
    down = time.time()
    follow(bob, dan_id, "dan")
    ok = wait(lambda: answers("android", dan_and) == [503, 503, 200], 10)
    check("FCM's two 503s only delay dan's Android push (%s)" % answers("android", dan_and), ok)
    time.sleep(max(0.0, 2 - (time.time() - down)))          # APNs down for 2 s
    check("while APNs is down the iPhone's push waits in gearmand",
          answers("ios", dan_ios) == [] and gearman_status().get("photo_notify", (0, 0))[0] >= 1,
          (answers("ios", dan_ios), gearman_status().get("photo_notify")))
finally:
    # back whatever happened: the stack is shared with the other tests
    up = subprocess.run([os.path.join(ROOT, "scripts", "stack"), "start"],
                        capture_output=True, text=True)
check("scripts/stack start brings the APNs stand-in back",
      up.returncode == 0 and "apns-standin: up" in up.stdout, up.stdout + up.stderr)
check("then dan's iPhone gets its push",
      wait(lambda: 200 in answers("ios", dan_ios), 10), answers("ios", dan_ios))
check("the jobs are done", settled(), gearman_status())
check("exactly once, and the Android phone nothing more (apns %s, fcm %s)"
      % (answers("ios", dan_ios), answers("android", dan_and)),
      answers("ios", dan_ios) == [200] and answers("android", dan_and) == [503, 503, 200])
check("it says who followed", alert("ios", dan_ios) == said + (dan_ios,), alert("ios", dan_ios))
check("no token deleted for a passing failure", devices(dan_id) == sorted([dan_ios, dan_and]),
      devices(dan_id))

rules(drop=(cat_gone, cat_unreg, dan_and))
done(" (%.1f s)" % (time.time() - t0))
