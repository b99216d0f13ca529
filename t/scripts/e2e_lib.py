"""What the end-to-end scripts share: where the stack is (the environment of
conf/stack.env), TAP-style checks, HTTP calls to its nginx, SQL through psql,
and polling with a deadline."""

import base64, hashlib, json, os, socket, struct, subprocess, sys, time, urllib.error, urllib.request, zlib

sys.dont_write_bytecode = True     # no __pycache__ in the checkout

HOST = os.environ.get("PHOTO_HOST", "127.0.0.1")
API = "http://%s:%s" % (HOST, os.environ["PHOTO_NGINX_PORT"])
RUN = os.environ["PHOTO_RUN_DIR"]
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# the stack's gearmand, in nginx.conf's photo_gearman order
GEARMAN_PORTS = [int(p) for p in os.environ["PHOTO_GEARMAN_PORTS"].split()]
# the Redis Cluster's nodes when the stack runs one (PHOTO_REDIS_CLUSTER=1):
# the data is there, gearmand's queues on the one Redis of PHOTO_REDIS_PORT
CLUSTER_PORTS = ([int(p) for p in os.environ["PHOTO_REDIS_CLUSTER_PORTS"].split()]
                 if os.environ.get("PHOTO_REDIS_CLUSTER") == "1" else [])


def redis_data(*args):
    """a command to the Redis that holds the data (with a cluster, the node
    of its key: redis-cli -c follows MOVED): its output"""
    port = CLUSTER_PORTS[0] if CLUSTER_PORTS else int(os.environ["PHOTO_REDIS_PORT"])
    return subprocess.run(["redis-cli", "-h", HOST, "-p", str(port)]
                          + (["-c"] if CLUSTER_PORTS else []) + list(args),
                          capture_output=True, text=True).stdout


def redis_data_ports():
    """every Redis that holds data: the cluster's nodes, or the one"""
    return CLUSTER_PORTS or [int(os.environ["PHOTO_REDIS_PORT"])]


def redis_data_pids():
    """the pids of every Redis that holds data (redis_data_ports())"""
    if CLUSTER_PORTS:
        return [pid_in(os.path.join(RUN, "redis-cluster", str(p), "redis.pid"))
                for p in CLUSTER_PORTS]
    return [pid_in(os.path.join(RUN, "redis", "redis.pid"))]


def gearmand_pid_file(port, supervisor=False):
    """the file with gearmand's own pid, or with its supervisor's (scripts/stack
    runs each gearmand under one)"""
    return os.path.join(RUN, "gearmand", "gearmand.%d.pid%s" % (port, "" if supervisor else ".gearmand"))


def pid_in(path):
    """the pid a PID file begins with, or None"""
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def gearman_status():
    """{function: (queued or running, workers)} summed over every gearmand,
    from its admin protocol's status"""
    out = {}
    for port in GEARMAN_PORTS:
        with socket.create_connection((HOST, port), timeout=5) as s:
            s.sendall(b"status\n")
            buf = b""
            while not buf.endswith(b".\n"):
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
        for line in buf.decode().splitlines():
            f = line.split("\t")
            if len(f) == 4:
                jobs, workers = out.get(f[0], (0, 0))
                out[f[0]] = (jobs + int(f[1]), workers + int(f[3]))
    return out


def reachable_dir(name):
    """A folder of the stack's that another user needs (scripts/stack,
    reachable_dir): under the run directory, or where its .location says."""
    loc = os.path.join(RUN, name + ".location")
    if os.path.exists(loc):
        with open(loc) as f:
            return f.read().strip()
    return os.path.join(RUN, name)

counts = {"passed": 0, "failed": 0}


def check(what, ok, detail=""):
    if ok:
        counts["passed"] += 1
        print("ok - " + what)
    else:
        counts["failed"] += 1
        print("not ok - %s %s" % (what, detail))


def done(extra=""):
    """print the tally and exit: 1 when any check failed"""
    print("%d passed, %d failed%s" % (counts["passed"], counts["failed"], extra))
    sys.exit(1 if counts["failed"] else 0)


def call(method, path, body=None, token=None, raw=None, ctype="application/json", headers=None):
    """(status, the JSON answer or raw bytes, headers)"""
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(API + path, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            text = r.read()
            return r.status, (json.loads(text) if text else None), r.headers
    except urllib.error.HTTPError as e:
        text = e.read()
        try:
            return e.code, json.loads(text), e.headers
        except ValueError:
            return e.code, text, e.headers


def sql(q):
    return subprocess.run(
        ["psql", "-X", "-q", "-A", "-t", "-h", HOST, "-p", os.environ["PHOTO_PG_PORT"],
         "-U", os.environ["PHOTO_PG_USER"], "-d", os.environ["PHOTO_PG_DB"], "-c", q],
        check=True, capture_output=True, text=True).stdout.strip()


def wait(cond, seconds):
    """poll cond until it holds or the deadline passes"""
    deadline = time.time() + seconds
    while True:
        if cond():
            return True
        if time.time() > deadline:
            return False
        time.sleep(0.05)


def waited(cond, seconds, step=0.05):
    """seconds until cond held, or None when the deadline passed first"""
    t0 = time.time()
    while True:
        if cond():
            return time.time() - t0
        if time.time() - t0 > seconds:
            return None
        time.sleep(step)


def lists(path, token, photo_id):
    """GET path answers 200 with photo_id among its photos"""
    s, b, _ = call("GET", path, token=token)
    return s == 200 and any(x["id"] == photo_id for x in b["photos"])


def poster(name, password):
    """a new user, signed in, with one upload: (token, media id), checked"""
    s, b, _ = call("POST", "/v1/users", {"username": name, "password": password})
    s2, t, _ = call("POST", "/v1/sessions", {"username": name, "password": password})
    token = t.get("token") if s2 == 201 else None
    s3, m, _ = call("POST", "/v1/media", raw=png(8, 8), token=token, ctype="image/png")
    check("%s signs up and in, and uploads an image" % name, (s, s2, s3) == (201, 201, 201),
          (s, b, s2, t, s3, m))
    return token, (m.get("media_id", "1") if s3 == 201 else "1")


def png(w, h):
    """a real w x h RGB PNG"""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    raw = b"".join(b"\x00" + b"\x00\x80\xff" * w for _ in range(h))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


def media_link(path, expires):
    """path signed as contract/photo_media.h documents it (nginx's
    secure_link checks it), made here again from the stack's secret"""
    with open(os.path.join(RUN, "nginx", "media-link.secret"), "rb") as f:
        secret = f.read().rstrip(b"\r\n")
    d = hashlib.md5(b"%d%s %s" % (expires, path.encode(), secret)).digest()
    return "%s?e=%d&s=%s" % (path, expires, base64.urlsafe_b64encode(d).rstrip(b"=").decode())
