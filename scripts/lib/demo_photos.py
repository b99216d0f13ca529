#!/usr/bin/python3
"""Demo pictures through the API, as a person would post them: two users,
'demo' and 'demo_friend' (both with the password 'photo-demo-1'); the friend
posts nine pictures with captions and places, the demo user follows the
friend. Run again, it only signs in. Prints what it did."""

import json, os, struct, sys, urllib.error, urllib.request, zlib

API = "http://%s:%s" % (os.environ.get("PHOTO_HOST", "127.0.0.1"), os.environ["PHOTO_NGINX_PORT"])
PASSWORD = "photo-demo-1"
PLACES = [("Lisbon", 38.7223, -9.1393), ("Paris", 48.8566, 2.3522), ("Kyoto", 35.0116, 135.7681),
          ("Oslo", 59.9139, 10.7522), ("Lima", -12.0464, -77.0428), ("Cairo", 30.0444, 31.2357),
          ("Quebec", 46.8139, -71.2080), ("Hobart", -42.8821, 147.3272), ("Reykjavik", 64.1466, -21.9426)]


def call(method, path, body=None, token=None, raw=None, ctype="application/json"):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(API + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", ctype)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def picture(w, h, a, b):
    """a w x h PNG, a gradient from colour a to colour b"""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    rows = []
    for y in range(h):
        row = bytearray(3 * w)
        for c in range(3):
            row[c::3] = bytes(min(255, (a[c] * (2 * w - x) + b[c] * x) // (2 * w)
                                  + y * 60 // h) for x in range(w))
        rows.append(b"\x00" + bytes(row))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 6)) + chunk(b"IEND", b""))


def user(name):
    s, b = call("POST", "/v1/users", {"username": name, "password": PASSWORD})
    if s not in (201, 409):
        sys.exit("demo: sign-up of %s: %s %s" % (name, s, b))
    s, b = call("POST", "/v1/sessions", {"username": name, "password": PASSWORD})
    if s != 201:
        sys.exit("demo: sign-in of %s: %s %s" % (name, s, b))
    return b["token"], b["user_id"]


me, me_id = user("demo")
friend, friend_id = user("demo_friend")
s, b = call("POST", "/v1/users/%s/follow" % friend_id, token=me)
s, mine = call("GET", "/v1/users/%s/photos?count=1" % friend_id, token=friend)
if s == 200 and mine["photos"]:
    print("demo: demo_friend has posted already")
    sys.exit(0)
for i, (name, lat, lng) in enumerate(PLACES):
    a = ((i * 70) % 200 + 40, (i * 130) % 200 + 30, (i * 50) % 200 + 50)
    img = picture(960, 720 if i % 3 else 960, a, (250 - a[0] // 2, 220 - a[1] // 3, 240 - a[2] // 2))
    s, m = call("POST", "/v1/media", raw=img, token=friend, ctype="image/png")
    if s != 201:
        sys.exit("demo: upload: %s %s" % (s, m))
    s, p = call("POST", "/v1/photos", {"media_id": m["media_id"], "caption": "An evening in " + name,
                                       "lat": lat, "lng": lng}, token=friend)
    if s != 202:
        sys.exit("demo: post: %s %s" % (s, p))
print("demo: demo_friend posted %d pictures; demo follows demo_friend" % len(PLACES))
