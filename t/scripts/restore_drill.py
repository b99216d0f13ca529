#!/usr/bin/env python3
"""The restore drill: scripts/backup and scripts/restore end to end, on a
stack of its own (its run directory under /var/tmp, every port of
conf/stack.env moved by PHOTO_DRILL_PORT_SHIFT, 400), which it destroys.

  1. a known set through the API: seven users signed up and in, follows,
     twenty posts with real uploads (PNG), one of them deleted, likes and
     comments; waited for until applied, sized copies and all;
  2. its state recorded: every user's feed, every user's photos as every
     user reads them, activity, each photo and its comments (the raw
     answers), the Postgres rows, the Redis lists, each upload's and each
     bucket object's SHA-256, each picture as nginx serves it;
  3. a writer posts without a pause (a new upload each time, an
     Idempotency-Key each) while scripts/backup runs, and a little before
     and after; every accepted id and key recorded;
  4. the live stack: every accepted post is applied once (those after
     the snapshot waited in gearmand's queue while the workers were
     stopped), and the known set is unchanged;
  5. the stack destroyed (scripts/stack clean), a fresh one started and
     stopped, scripts/restore --replace, the queue drained;
  6. compared: every answer of 2 byte for byte (a link signed again for a
     new period of its photo, contract/photo_media.h, is accepted when
     its signature is good, and counted), the rows, the lists, every
     upload, object and picture byte for byte; each post of the writer
     either wholly in the restored stack (its row, once in its poster's
     photos, once in its follower's feed, its object as the live stack's)
     or wholly absent, the ones in being the first ones accepted; each one
     in, posted again with its Idempotency-Key: the same id, no second
     photo; the old sessions still valid.

--cluster: the same with PHOTO_REDIS_CLUSTER=1 (three masters, three
replicas; gearmand's queues on the one Redis).

Prints the figures and 'N passed, N failed'."""

import base64, hashlib, http.client, json, os, re, shutil, signal, struct, subprocess, sys
import tempfile, threading, time, uuid, zlib

sys.dont_write_bytecode = True     # no __pycache__ in the checkout
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CLUSTER = "--cluster" in sys.argv[1:]
SHIFT = int(os.environ.get("PHOTO_DRILL_PORT_SHIFT", "400"))
PERIOD = 86400                     # PHOTO_MEDIA_LINK_PERIOD


def drill_env(run):
    """The drill's stack: conf/stack.env's defaults with every port moved by
    SHIFT, whatever the caller's environment says (it may be the settings of
    the stack the drill runs beside), and its own run directory."""
    for k in [k for k in os.environ if k.startswith("PHOTO_")]:
        if k not in ("PHOTO_ROOT", "PHOTO_BUILD_DIR"):
            del os.environ[k]
    with open(os.path.join(ROOT, "conf", "stack.env")) as f:
        for line in f:
            m = re.match(r'^: "\$\{(PHOTO_\w*PORTS?):=([0-9 ]+)\}"', line)
            if m:
                os.environ[m.group(1)] = " ".join(str(int(p) + SHIFT) for p in m.group(2).split())
    os.environ.update({
        "PHOTO_ROOT": ROOT, "PHOTO_RUN_DIR": run, "PHOTO_S3": "1",
        "PHOTO_WORKERS": "persist:1 fanout:1 follow:1 auth:1 media:1 social:1",
        "PHOTO_REDIS_CLUSTER": "1" if CLUSTER else "0",
    })
    # those whose default is made of another (PHOTO_GEARMAN_PORTS): as
    # conf/stack.env makes them, from the moved ones
    out = subprocess.run(["bash", "-c", '. "$PHOTO_ROOT/conf/stack.env"; env'],
                         capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        k, _, v = line.partition("=")
        if k.startswith("PHOTO_") and k not in os.environ:
            os.environ[k] = v


TMP = tempfile.mkdtemp(prefix="ngx_photo-restore-drill.", dir="/var/tmp")
os.chmod(TMP, 0o755)               # reachable by postgres and nobody
drill_env(os.path.join(TMP, "run"))
sys.path.insert(0, HERE)
from e2e_lib import (API, HOST, RUN, call, check, done, gearman_status,  # noqa: E402
                     reachable_dir, redis_data, sql, wait)

BACKUPS = os.path.join(TMP, "backups")
figures = []


def figure(name, value):
    figures.append((name, value))


def sh(*cmd, quiet=True):
    """a script of the checkout, with the drill's settings; its output"""
    r = subprocess.run([os.path.join(ROOT, cmd[0])] + list(cmd[1:]),
                       capture_output=True, text=True)
    if r.returncode != 0 or not quiet:
        sys.stdout.write("".join("    | " + l + "\n" for l in (r.stdout + r.stderr).splitlines()))
    if r.returncode != 0:
        raise SystemExit("%s failed (exit %d)" % (" ".join(cmd), r.returncode))
    return r.stdout


def png(w, h, seed):
    """a real w x h RGB PNG, a gradient its seed makes unique"""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    rows = []
    for y in range(h):
        row = bytearray(3 * w)
        row[0::3] = bytes((x * 255 // w) for x in range(w))
        row[1::3] = bytes(((y * 255 // h) ^ (seed & 0xff),)) * w
        row[2::3] = bytes(((seed * 37) & 0xff,)) * w
        rows.append(b"\x00" + bytes(row))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b""))


def raw(path, token):
    """(status, the answer's bytes) of a GET"""
    c = http.client.HTTPConnection(HOST, int(os.environ["PHOTO_NGINX_PORT"]), timeout=10)
    c.request("GET", path, headers={"Authorization": "Bearer " + token} if token else {})
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def patient(method, path, body, token=None):
    """a sign-up or sign-in, again after the stack's limit per address (429)"""
    for _ in range(30):
        s, b, _ = call(method, path, body, token=token)
        if s != 429:
            return s, b
        time.sleep(1)
    return s, b


def exited(pid):
    """pid runs no more (or is a zombie its parent has not reaped)"""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except OSError:
        return True


def drained():
    """no job queued or running in either gearmand"""
    return all(jobs == 0 for jobs, _ in gearman_status().values())


def pages(path, token):
    """every page of a paged list: the raw answers, and the photos' ids"""
    out, ids, max_id = [], [], None
    while True:
        s, b = raw(path + "?count=20" + ("&max_id=" + max_id if max_id else ""), token)
        out.append((s, b))
        if s != 200:
            return out, ids
        j = json.loads(b)
        ids += [x["id"] for x in j.get("photos", j.get("activity", j.get("comments", [])))]
        max_id = j.get("next_max_id")
        if not max_id:
            return out, ids


def files_in(top, strip=""):
    """{relative name: sha256} of every file under top"""
    out = {}
    for d, _, names in os.walk(top):
        for n in names:
            p = os.path.join(d, n)
            name = os.path.relpath(p, top)
            if strip:
                if not name.endswith(strip):
                    continue
                name = name[:-len(strip)]
            with open(p, "rb") as f:
                out[name] = hashlib.sha256(f.read()).hexdigest()
    return out


def media_files():
    return files_in(os.path.join(reachable_dir("nginx-shared"), "media"))


def bucket_objects():
    # s3rver keeps an object as <key>._S3rver_object beside its metadata
    return files_in(os.path.join(RUN, "s3", "data"), "._S3rver_object")


# ------------------------------------------------------------ the known set

USERS = ["ann", "bob", "cat", "dan", "eve", "wes", "fay"]
FOLLOWS = [("ann", "bob"), ("ann", "cat"), ("bob", "ann"), ("cat", "ann"), ("cat", "bob"),
           ("dan", "ann"), ("dan", "bob"), ("dan", "cat"), ("dan", "eve"), ("eve", "dan"),
           ("fay", "wes")]
POSTERS = ["ann", "bob", "cat", "dan", "eve"]
PASSWORD = "drill-password"

tokens, uid, posts = {}, {}, []


def known_set():
    tag = uuid.uuid4().hex[:6]
    for u in USERS:
        name = "%s_%s" % (u, tag)
        s, b = patient("POST", "/v1/users", {"username": name, "password": PASSWORD})
        s2, t = patient("POST", "/v1/sessions", {"username": name, "password": PASSWORD})
        if s != 201 or s2 != 201:
            raise SystemExit("sign-up or sign-in of %s failed: %s %s %s %s" % (name, s, b, s2, t))
        tokens[u], uid[u] = t["token"], str(b["id"])
    check("7 users signed up and in", len(tokens) == 7)
    ok = all(call("POST", "/v1/users/%s/follow" % uid[b], token=tokens[a])[0] == 202
             for a, b in FOLLOWS)
    check("%d follows accepted" % len(FOLLOWS), ok)
    n = 0
    for i in range(4):
        for u in POSTERS:
            n += 1
            s, m, _ = call("POST", "/v1/media", raw=png(160 + 8 * n, 120, n), token=tokens[u],
                           ctype="image/png")
            body = {"media_id": m["media_id"], "caption": "%s's photo %d" % (u, i)}
            if n % 3 == 0:
                body.update(lat=48.85 + n / 100, lng=2.35)
            s2, p, _ = call("POST", "/v1/photos", body, token=tokens[u])
            if s != 201 or s2 != 202:
                raise SystemExit("post %d failed: %s %s %s %s" % (n, s, m, s2, p))
            posts.append((u, p["id"]))
    check("20 posts with uploads accepted", len(posts) == 20)
    # wait for them before the likes: a like asks Postgres for the photo
    wait(lambda: drained() and all(
        call("GET", "/v1/photos/" + pid, token=tokens["ann"])[0] == 200 for _, pid in posts), 60)
    # one deleted: its row, its lists' entries, its upload and objects go
    gone_owner, gone = posts.pop(4)
    s, _, _ = call("DELETE", "/v1/photos/" + gone, token=tokens[gone_owner])
    likes = [("bob", 0), ("cat", 0), ("dan", 1), ("ann", 2), ("eve", 3), ("ann", 7), ("fay", 9)]
    ok = s == 202
    for u, i in likes:
        ok &= call("POST", "/v1/photos/%s/likes" % posts[i][1], token=tokens[u])[0] == 202
    for u, i, text in [("bob", 0, "lovely"), ("ann", 1, "where is this?"), ("cat", 0, "ha")]:
        ok &= call("POST", "/v1/photos/%s/comments" % posts[i][1], {"text": text},
                   token=tokens[u])[0] == 202
    check("a deletion, %d likes and 3 comments accepted" % len(likes), ok)

    def applied():
        if not drained():
            return False
        for u, pid in posts:
            s, b, _ = call("GET", "/v1/photos/" + pid, token=tokens["ann"])
            if s != 200 or "images" not in b:
                return False
        s, b, _ = call("GET", "/v1/photos/" + posts[0][1], token=tokens["ann"])
        return (b["like_count"], b["comment_count"]) == (2, 2) \
            and call("GET", "/v1/photos/" + gone, token=tokens["ann"])[0] == 404
    check("all applied, every photo with its sized copies", wait(applied, 90))
    return gone


# ----------------------------------------------------------------- the state

def state():
    """every answer of the known set, the rows, the lists, the files"""
    st = {"answers": {}, "rows": {}, "lists": {}, "pictures": {}}
    a = st["answers"]
    for u in USERS:
        # (fay's feed is the writer's posts: compared post by post)
        if u != "fay":
            a["feed " + u] = pages("/v1/feed", tokens[u])[0]
        a["activity " + u] = pages("/v1/activity", tokens[u])[0]
        for v in USERS:
            if v != "wes":
                a["photos of %s read by %s" % (v, u)] = pages("/v1/users/%s/photos" % uid[v], tokens[u])[0]
    for _, pid in posts:
        a["photo " + pid] = [raw("/v1/photos/" + pid, tokens["dan"])]
        a["comments " + pid] = pages("/v1/photos/%s/comments" % pid, tokens["dan"])[0]
        j = json.loads(a["photo " + pid][0][1])
        for name, url in [("image_url", j["image_url"])] + \
                [(k, v["url"]) for k, v in sorted(j.get("images", {}).items())]:
            for _ in range(5):      # the bucket's proxy slow under load: 504
                s, b = raw(url, None)
                if s < 500:
                    break
                time.sleep(0.5)
            st["pictures"]["%s %s" % (pid, name)] = (s, hashlib.sha256(b).hexdigest())
    wes = uid["wes"]
    for table, where in [("users", ""), ("follows", ""), ("photos", "where user_id <> %s" % wes),
                         ("likes", ""), ("comments", ""), ("activities", ""),
                         ("photo_deletions", ""), ("comment_deletions", ""),
                         ("schema_migrations", "")]:
        st["rows"][table] = sql("select coalesce(json_agg(t order by t), '[]') from "
                                "(select * from %s %s) t" % (table, where))
    for u in USERS:
        if u in ("wes", "fay"):
            continue
        for key in ("feed", "user_photos", "likes", "activity"):
            k = "%s:{%s}" % (key, uid[u])
            st["lists"][k] = redis_data("zrange", k, "0", "-1")
    st["media"] = media_files()
    st["bucket"] = bucket_objects()
    return st


LINK = re.compile(rb'(/media/[^"?\\]+)\?e=([0-9]+)&s=([A-Za-z0-9_-]+)')


def signed_anew(body):
    """the answer with each link's expiry and signature replaced by a mark,
    once the signature is checked good with the stack's secret and its
    expiry one to two periods away (a link signed again for its photo's
    next period); (the bytes, how many)"""
    with open(os.path.join(RUN, "nginx", "media-link.secret"), "rb") as f:
        secret = f.read().rstrip(b"\r\n")
    now, n = int(time.time()), [0]

    def mark(m):
        path, e, s = m.group(1), int(m.group(2)), m.group(3)
        d = hashlib.md5(b"%d%s %s" % (e, path, secret)).digest()
        if base64.urlsafe_b64encode(d).rstrip(b"=") != s or not now + PERIOD - 600 <= e <= now + 2 * PERIOD:
            return m.group(0)
        n[0] += 1
        return path + b"?e=E&s=S"
    return LINK.sub(mark, body), n[0]


def compare(before, after, what):
    """every part of two states, checked; how many links were signed again"""
    bad, resigned = {"answers": [], "rows": [], "lists": [], "pictures": []}, 0
    for k, pages_before in before["answers"].items():
        pages_after = after["answers"].get(k)
        if pages_after == pages_before:
            continue
        # the same once the links signed anew are marked on both sides
        if pages_after is not None and len(pages_after) == len(pages_before) and all(
                sa == sb and signed_anew(ba)[0] == signed_anew(bb)[0]
                for (sa, ba), (sb, bb) in zip(pages_after, pages_before)):
            resigned += 1
            continue
        bad["answers"].append(k)
    for part in ("rows", "lists", "pictures"):
        bad[part] = [(k, before[part][k], after[part].get(k)) for k in before[part]
                     if after[part].get(k) != before[part][k]]
    check("%s: every answer byte for byte (%d answers, %d pages)"
          % (what, len(before["answers"]), sum(len(p) for p in before["answers"].values())),
          not bad["answers"], bad["answers"][:5])
    check("%s: the Postgres rows byte for byte (%d tables)" % (what, len(before["rows"])),
          not bad["rows"], bad["rows"])
    check("%s: the Redis lists byte for byte (%d)" % (what, len(before["lists"])),
          not bad["lists"], bad["lists"][:5])
    check("%s: every picture as nginx serves it, byte for byte (%d)"
          % (what, len(before["pictures"])), not bad["pictures"], bad["pictures"][:5])
    return resigned


# ------------------------------------------------------------------ the writer

class Writer(threading.Thread):
    """wes posts without a pause, each post a new upload and an
    Idempotency-Key; accepted: [(key, body, id, time)]"""

    def __init__(self):
        super().__init__(daemon=True)
        self.stop, self.accepted, self.failed = threading.Event(), [], []

    def run(self):
        c = http.client.HTTPConnection(HOST, int(os.environ["PHOTO_NGINX_PORT"]), timeout=15)
        auth = {"Authorization": "Bearer " + tokens["wes"]}
        i = 0
        while not self.stop.is_set():
            i += 1
            try:
                c.request("POST", "/v1/media", body=png(48, 32, 1000 + i),
                          headers=dict(auth, **{"Content-Type": "image/png"}))
                r = c.getresponse()
                m = json.loads(r.read())
                if r.status != 201:
                    self.failed.append(("media", r.status))
                    continue
                key = str(uuid.uuid4())
                body = {"media_id": m["media_id"], "caption": "during the backup %d" % i}
                for _ in range(5):      # a careful client: again with its key
                    c.request("POST", "/v1/photos", body=json.dumps(body),
                              headers=dict(auth, **{"Content-Type": "application/json",
                                                    "Idempotency-Key": key}))
                    r = c.getresponse()
                    p = json.loads(r.read())
                    if r.status == 202:
                        self.accepted.append((key, body, p["id"], time.time()))
                        break
                    self.failed.append(("post", r.status))
                    time.sleep(0.2)
            except (OSError, http.client.HTTPException, ValueError) as e:
                self.failed.append(("error", str(e)))
                c.close()
                time.sleep(0.1)
            # a steady trickle: posts fall before, in and after the pause
            # without keeping the media worker busy long after
            time.sleep(0.15)
        c.close()


def writer_lists():
    """(wes's photos' ids, fay's feed's ids), every page"""
    return pages("/v1/users/%s/photos" % uid["wes"], tokens["wes"])[1], \
        pages("/v1/feed", tokens["fay"])[1]


def in_stack(pid, wes_ids, fay_ids, rows):
    """where post pid is: (rows, in wes's photos, in fay's feed, GET status)"""
    return (rows.count(pid), wes_ids.count(pid), fay_ids.count(pid),
            raw("/v1/photos/" + pid, tokens["fay"])[0])


def writer_rows():
    return sql("select id from photos where user_id = %s" % uid["wes"]).split()


# ------------------------------------------------------------------------ run

def main():
    t_all = time.time()
    print("# the drill's stack: %s, nginx on %s%s" % (RUN, API, ", Redis Cluster" if CLUSTER else ""))
    sh("scripts/stack", "start")
    sh("scripts/migrate")
    gone = known_set()
    before = state()
    figure("known set", "7 users, %d follows, %d photos (1 more deleted), %d uploads, "
           "%d bucket objects" % (len(FOLLOWS), len(posts), len(before["media"]), len(before["bucket"])))

    # the backup, with a writer before, during and after it
    w = Writer()
    w.start()
    wait(lambda: len(w.accepted) >= 5, 30)
    # a backlog: the persist worker stopped a moment before the backup, so
    # that posts wait in gearmand's queue at the snapshot (the backup
    # starts it again with the others)
    pidfile = os.path.join(RUN, "workers", "photo_persist.1.pid")
    with open(pidfile) as f:
        persist = int(f.read().split()[0])
    os.kill(persist, signal.SIGTERM)
    check("the persist worker stopped before the backup (a backlog)", wait(lambda: exited(persist), 20))
    t_backlog = time.time()
    n0 = len(w.accepted)
    wait(lambda: len(w.accepted) >= n0 + 5, 30)
    t = time.time()
    out = sh("scripts/backup", BACKUPS)
    backup_s = time.time() - t
    t_end = time.time()
    wait(lambda: sum(1 for a in w.accepted if a[3] > t_end) >= 5, 30)
    w.stop.set()
    w.join()
    backup = out.strip().splitlines()[-1]
    with open(os.path.join(backup, "manifest.json")) as f:
        manifest = json.load(f)
    size = sum(os.path.getsize(os.path.join(d, n)) for d, _, ns in os.walk(backup) for n in ns)
    sys.stdout.write("".join("    | " + l + "\n" for l in out.splitlines()))
    check("scripts/backup made %s" % os.path.basename(backup), manifest["format"] == "ngx_photo-backup 1")
    queued = sum(manifest["contents"]["queued_jobs"].values())
    figure("backup", "%.1f MB in %.1f s, workers stopped %.1f s (redis %.1f s, postgres %.1f s, "
           "uploads and bucket %.1f s)" % (size / 1e6, backup_s, manifest["seconds"]["workers_stopped"],
                                           manifest["seconds"]["redis"], manifest["seconds"]["postgres"],
                                           manifest["seconds"]["uploads_and_bucket"]))
    accepted = w.accepted
    check("the writer's posts all accepted, none failed (%d)" % len(accepted), not w.failed, w.failed[:5])

    # the live stack: every accepted post applied once, the known set as it was
    t = time.time()
    ok = wait(lambda: drained() and len(writer_lists()[0]) == len(accepted), 90)
    figure("live stack drained after the backup in", "%.1f s" % (time.time() - t))
    wes_ids, fay_ids = writer_lists()
    rows = writer_rows()
    live = [in_stack(pid, wes_ids, fay_ids, rows) for _, _, pid, _ in accepted]
    check("live stack: every post accepted during the backup applied once (row, photos, "
          "follower's feed)", ok and all(x == (1, 1, 1, 200) for x in live),
          [x for x in live if x != (1, 1, 1, 200)][:5])
    live_objects = {pid: raw("/v1/photos/" + pid, tokens["fay"])[1] for _, _, pid, _ in accepted}
    live_media, live_bucket = media_files(), bucket_objects()
    compare(before, state(), "live stack after the backup")

    # destroyed; a fresh stack; the backup restored into it
    sh("scripts/stack", "clean")
    check("the stack destroyed (its run directory gone)", not os.path.exists(RUN))
    sh("scripts/stack", "start")
    r = subprocess.run([os.path.join(ROOT, "scripts", "restore"), backup], capture_output=True, text=True)
    check("scripts/restore refuses a stack that runs", r.returncode != 0 and "stop it first" in r.stderr,
          r.stderr)
    sh("scripts/stack", "stop")
    r = subprocess.run([os.path.join(ROOT, "scripts", "restore"), backup], capture_output=True, text=True)
    check("and one that holds data, without --replace", r.returncode != 0 and "--replace" in r.stderr,
          r.stderr)
    t = time.time()
    out = sh("scripts/restore", "--replace", backup)
    restore_s = time.time() - t
    sys.stdout.write("".join("    | " + l + "\n" for l in out.splitlines() if l.startswith("restore")))
    t = time.time()
    drained_ok = wait(drained, 90)
    figure("restore", "%.1f s, then the %d queued jobs of the backup applied in %.1f s"
           % (restore_s, queued, time.time() - t))
    check("restored: the queue drained", drained_ok)

    after = state()
    resigned = compare(before, after, "restored")
    check("restored: every upload of the known set byte for byte (%d)" % len(before["media"]),
          all(after["media"].get(k) == v for k, v in before["media"].items()))
    check("restored: every bucket object of the known set byte for byte (%d)" % len(before["bucket"]),
          all(after["bucket"].get(k) == v for k, v in before["bucket"].items()))
    extra_media = set(after["media"]) - set(before["media"])
    extra_bucket = set(after["bucket"]) - set(before["bucket"])
    check("restored: the other uploads (%d) and objects (%d) are the writer's, byte for byte"
          % (len(extra_media), len(extra_bucket)),
          all(live_media.get(k) == after["media"][k] for k in extra_media)
          and all(live_bucket.get(k) == after["bucket"][k] for k in extra_bucket))

    # the writer's posts: wholly in or wholly out, the first ones in
    wes_ids, fay_ids = writer_lists()
    rows = writer_rows()
    where = [in_stack(pid, wes_ids, fay_ids, rows) for _, _, pid, _ in accepted]
    whole = all(x in ((1, 1, 1, 200), (0, 0, 0, 404)) for x in where)
    check("restored: each post accepted during the backup wholly in (row, photos, feed, once) "
          "or wholly absent, never half", whole,
          [(pid, x) for (_, _, pid, _), x in zip(accepted, where)
           if x not in ((1, 1, 1, 200), (0, 0, 0, 404))][:5])
    n_in = sum(1 for x in where if x[0] == 1)
    check("restored: the ones in are the first accepted (%d of %d)" % (n_in, len(accepted)),
          all(x[0] == 1 for x in where[:n_in]) and all(x[0] == 0 for x in where[n_in:]))
    check("restored: some are in, some not (the snapshot fell while the writer posted)",
          0 < n_in < len(accepted))
    check("restored: no photo of the writer's but those accepted", set(rows) <= {a[2] for a in accepted})
    check("restored: each post in is as the live stack has it, byte for byte",
          all(signed_anew(raw("/v1/photos/" + pid, tokens["fay"])[1])[0]
              == signed_anew(live_objects[pid])[0]
              for (_, _, pid, _), x in zip(accepted, where) if x[0] == 1))
    fork_from, fork_to = manifest["snapshot_window"]
    early = [x for a, x in zip(accepted, where) if a[3] < fork_from]
    late = [x for a, x in zip(accepted, where) if a[3] > fork_to + 1]
    check("restored: every post answered before the Redis snapshot is in (%d)" % len(early),
          all(x[0] == 1 for x in early))
    backlog = [a for a in accepted if t_backlog < a[3] < fork_from]
    check("restored: the backlog was in the backup as queued jobs (%d posts, %d jobs queued)"
          % (len(backlog), queued), len(backlog) >= 5 and queued >= len(backlog))
    check("restored: none answered more than a second after it is (%d)" % len(late),
          all(x[0] == 0 for x in late))
    figure("writer", "%d posts accepted during the backup: %d in it (applied before it, or "
           "queued in it: %d jobs were), %d after it (absent)"
           % (len(accepted), n_in, queued, len(accepted) - n_in))

    # a post in the backup, sent again with its key: the same id, no second photo
    differ = []
    for key, body, pid, _ in [a for a, x in zip(accepted, where) if x[0] == 1]:
        s, p, h = call("POST", "/v1/photos", body, token=tokens["wes"],
                       headers={"Idempotency-Key": key})
        if s != 202 or p.get("id") != pid:
            differ.append((pid, s, p, h.get("Idempotent-Replayed")))
    wait(drained, 30)
    check("restored: each post in, sent again with its Idempotency-Key: the same id, "
          "no second photo (%d)" % n_in, not differ and sorted(writer_rows()) == sorted(rows),
          (differ[:3], len(writer_rows()), len(rows)))
    check("restored: the photo deleted before the backup stays deleted",
          call("GET", "/v1/photos/" + gone, token=tokens["ann"])[0] == 404
          and gone not in sql("select id from photos"))
    check("restored: the sessions of before the backup are valid",
          all(call("GET", "/v1/feed", token=tokens[u])[0] == 200 for u in USERS))
    figure("compared", "%d answers (%d pages), %d tables, %d Redis lists, %d pictures, %d uploads, "
           "%d bucket objects; %d answers with links signed again for a new period"
           % (len(before["answers"]), sum(len(p) for p in before["answers"].values()),
              len(before["rows"]), len(before["lists"]), len(before["pictures"]),
              len(after["media"]), len(after["bucket"]), resigned))
    figure("drill", "%.0f s" % (time.time() - t_all))


try:
    main()
finally:
    subprocess.run([os.path.join(ROOT, "scripts", "stack"), "clean"], capture_output=True)
    print("# figures")
    for name, value in figures:
        print("#   %-40s %s" % (name, value))
    shutil.rmtree(TMP, ignore_errors=True)
done()
