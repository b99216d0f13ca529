#!/usr/bin/env python3
"""The memcached pool grown by a server and shrunk back, live, through the
stack's nginx and workers (scripts/stack reload: nginx reloaded, each
worker restarted in turn).

Where each side puts a key: the workers' side is the server where the
persist worker stored a new photo's object; the module's side is found by
putting, on every server, an object of that photo whose caption names the
server, and reading the photo through nginx. Both must agree on every key
checked, before and after each change. Growing from two servers to three
moves about a third of the keys, all of them to the new server (ketama);
the share is printed. A photo whose key moved, with its old copy still on
the server it left, is deleted: it is not served again, from the new
server nor, once the pool shrinks back, from the old one.
Prints 'N passed, N failed'."""

import json, os, socket, subprocess, sys, time, uuid, zlib

sys.dont_write_bytecode = True     # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import HOST, ROOT, call, check, done, poster, sql, waited  # noqa: E402

PORTS = [int(p) for p in os.environ["PHOTO_MEMCACHED_PORTS"].split()]
K = 150                              # photos whose keys are followed


def mc(port, line, data=None):
    """one memcached text command; its reply, up to its end"""
    with socket.create_connection((HOST, port), timeout=5) as s:
        s.sendall(line.encode() + b"\r\n" + (data + b"\r\n" if data is not None else b""))
        buf = b""
        while not (buf.endswith(b"END\r\n") or buf in (b"STORED\r\n", b"DELETED\r\n",
                                                        b"NOT_FOUND\r\n", b"NOT_STORED\r\n")
                   or buf.startswith(b"ERROR") or buf.startswith(b"SERVER_ERROR")):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return buf


def mc_get(port, key):
    """(flags, bytes) of key on that server, or None"""
    r = mc(port, "get " + key)
    if not r.startswith(b"VALUE "):
        return None
    head, rest = r.split(b"\r\n", 1)
    _, _, flags, n = head.split()
    return int(flags), rest[:int(n)]


def mc_set(port, key, value, flags):
    return mc(port, "set %s %d 0 %d" % (key, flags, len(value)), value) == b"STORED\r\n"


def flags_of(value):
    """the cached object's flags (contract/photo_object.c): kind 3 (the
    format with counts), CRC-32"""
    return (zlib.crc32(value) & 0xffffff00) | 3


def stack(ports, *args):
    env = dict(os.environ, PHOTO_MEMCACHED_PORTS=" ".join(str(p) for p in ports))
    return subprocess.run([os.path.join(ROOT, "scripts", "stack")] + list(args), env=env,
                          capture_output=True, text=True)


def free_port():
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def post_many(n, what):
    """n photos posted and stored, each object cached by a worker: ids"""
    ids = []
    for i in range(n):
        s, b, _ = call("POST", "/v1/photos", {"media_id": media, "caption": "%s %s %d" % (tag, what, i)},
                       token=token)
        if s == 202:
            ids.append(b["id"])
    check("%d photos posted (%s)" % (n, what), len(ids) == n, len(ids))
    stored = waited(lambda: int(sql("select count(*) from photos where id in (%s)" % ",".join(ids)))
                    == len(ids), 30, 0.2)
    check("and stored (%.1f s)" % (stored or -1), stored is not None)
    return ids


def workers_side(ids, ports):
    """{id: the one server holding its object}, as the persist worker put it"""
    out = {}

    def found():
        for i in ids:
            if i in out:
                continue
            on = [p for p in ports if mc_get(p, "photo:" + i)]
            if len(on) == 1:
                out[i] = on[0]
        return len(out) == len(ids)
    waited(found, 10, 0.2)
    return out


def module_side(ids, ports):
    """{id: the server nginx reads it from}: on every server an object of
    the photo whose caption names the server, then the photo read through
    nginx; the marked objects are deleted again"""
    out = {}
    for i in ids:
        real = None
        for p in ports:
            v = mc_get(p, "photo:" + i)
            if v and v[0] & 0xff == 1:
                real = v[1]
        if real is None:          # not cached anywhere: its row, as the module caches it
            s, b, _ = call("GET", "/v1/photos/%s" % i, token=token)
            real = json.dumps(b, separators=(",", ":")).encode()
        obj = json.loads(real)
        for p in ports:
            obj["caption"] = "on %d" % p
            v = json.dumps(obj, separators=(",", ":")).encode()
            mc_set(p, "photo:" + i, v, flags_of(v))
        s, b, _ = call("GET", "/v1/photos/%s" % i, token=token)
        if s == 200 and b.get("caption", "").startswith("on "):
            out[i] = int(b["caption"][3:])
        for p in ports:
            mc(p, "delete photo:" + i)
    return out


def agree(what, ids, ports):
    w = workers_side(ids, ports)
    m = module_side(ids, ports)
    bad = [i for i in ids if w.get(i) is None or w.get(i) != m.get(i)]
    check("%s: the module and the workers put each of %d keys on the same server (%s)"
          % (what, len(ids), ", ".join("%d: %d" % (p, list(w.values()).count(p)) for p in ports)),
          not bad, [(i, w.get(i), m.get(i)) for i in bad[:5]])
    return m


tag = "grow" + uuid.uuid4().hex[:8]
token, media = poster(tag, "grow password")
new = free_port()
grown = PORTS + [new]

# -- two servers: both sides agree ---------------------------------------------
first = post_many(K, "before")
before = agree("%d servers" % len(PORTS), first, PORTS)

# -- a third, by reload: about a third of the keys move, all to it ----------------
r = stack(grown, "reload")
check("scripts/stack reload with memcached %d added" % new, r.returncode == 0, r.stdout + r.stderr)
after = module_side(first, grown)
moved = [i for i in first if after.get(i) != before.get(i)]
share = len(moved) / float(K)
print("# moved: %d of %d keys (%.0f %%), to %s" % (len(moved), K, share * 100,
                                                 sorted({after.get(i) for i in moved})))
check("about a third of the keys moved (%.0f %%), every one to the new server"
      % (share * 100), 0.2 <= share <= 0.47 and all(after.get(i) == new for i in moved),
      [(i, before.get(i), after.get(i)) for i in moved if after.get(i) != new][:5])
agree("%d servers" % len(grown), post_many(60, "grown"), grown)

# -- a moved key's old copy is never served after its photo is deleted -----------
victim = moved[0] if moved else first[0]
s, b, _ = call("GET", "/v1/photos/%s" % victim, token=token)
copy = json.dumps(b, separators=(",", ":")).encode()
mc_set(before[victim], "photo:" + victim, copy, flags_of(copy))   # as the move left it
s, _, _ = call("DELETE", "/v1/photos/%s" % victim, token=token)
check("a photo whose key moved is deleted: 202", s == 202, s)
gone = waited(lambda: call("GET", "/v1/photos/%s" % victim, token=token)[0] == 404, 10, 0.1)
check("and not served any more (404 after %.2f s)" % (gone or -1), gone is not None)
# nginx answers 404 at once; the persist worker tombstones every server after
t = waited(lambda: (mc_get(before[victim], "photo:" + victim) or (None,))[0] == 2, 10, 0.05)
old = mc_get(before[victim], "photo:" + victim)
check("its old copy, on the server it moved from, is a tombstone now (after %.2f s)" % (t or -1),
      old is not None and old[0] == 2, old)

# -- shrunk back ------------------------------------------------------------------
r = stack(PORTS, "reload")
check("scripts/stack reload without it: %s" % r.stdout.strip().splitlines()[-1:],
      r.returncode == 0 and "memcached:%d: stopped" % new in r.stdout, r.stdout + r.stderr)
s, _, _ = call("GET", "/v1/photos/%s" % victim, token=token)
check("shrunk back, the deleted photo is still not served: %d" % s, s == 404, s)
agree("%d servers again" % len(PORTS), post_many(40, "shrunk"), PORTS)
s, b, _ = call("GET", "/v1/photos/%s" % first[-1], token=token)
check("a photo from before reads as it was", s == 200 and b.get("caption") == "%s before %d" % (tag, K - 1),
      (s, b))

done(" (moved %d of %d keys)" % (len(moved), K))
