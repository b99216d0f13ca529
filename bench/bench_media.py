#!/usr/bin/python3
"""scripts/bench write's last figure: how many uploads a second the stack's
media workers turn into sized copies. N distinct 1080 x 1350 pictures (PNG
gradients, each its own) uploaded and posted through the API as one user,
then timed from the first post until every photo lists its sizes
("images"), as a reader would see them.

    bench_media.py API TOKEN [N]
    bench_media.py --picture FILE     one such picture, for the write bench"""

import json, struct, sys, time, urllib.error, urllib.request, zlib

W, H = 1080, 1350


def call(api, token, method, path, body=None, raw=None, ctype="application/json"):
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(api + path, data=data, method=method)
    req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", ctype)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


def picture(k):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    xs = bytes((x * 255 // W + k * 37) % 256 for x in range(W))
    rows = []
    for y in range(H):
        row = bytearray(3 * W)
        row[0::3] = xs
        row[1::3] = bytes(((y * 255 // H + k * 11) % 256,)) * W
        row[2::3] = bytes(((k * 53) % 256,)) * W
        rows.append(b"\x00" + bytes(row))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", W, H, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 1)) + chunk(b"IEND", b""))


def main():
    if sys.argv[1] == "--picture":
        with open(sys.argv[2], "wb") as f:
            f.write(picture(0))
        return
    api, token = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 20
    media = []
    for k in range(n):
        s, m = call(api, token, "POST", "/v1/media", raw=picture(k + int(time.time()) % 1000),
                    ctype="image/png")
        if s != 201:
            sys.exit("bench media: upload %d: %s %s" % (k, s, m))
        media.append(m["media_id"])

    t0 = time.time()
    ids = []
    for m in media:
        s, p = call(api, token, "POST", "/v1/photos", {"media_id": m, "caption": "a bench picture"})
        if s != 202:
            sys.exit("bench media: post: %s %s" % (s, p))
        ids.append(p["id"])

    left = set(ids)
    while left and time.time() - t0 < 300:
        for i in list(left):
            s, o = call(api, token, "GET", "/v1/photos/%s" % i)
            if s == 200 and "images" in o:
                left.discard(i)
        time.sleep(0.1)
    t = time.time() - t0
    if left:
        sys.exit("bench media: %d of %d photos without sizes after 300 s" % (len(left), n))
    print("media: %d uploads of %dx%d posted, all with their 4 sizes %.1f s after the first post: "
          "%.1f uploads/s, %.1f sized copies/s" % (n, W, H, t, n / t, 4 * n / t))


if __name__ == "__main__":
    main()
