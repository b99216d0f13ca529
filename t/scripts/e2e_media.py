#!/usr/bin/env python3
"""The pictures end to end, through the stack's nginx and its real workers
and bucket (contract/photo_media.h):
  - a posted photo's links are signed and expire in one to two days; its
    upload is served to that link, byte for byte, with a long-lived cache
    header, and refused (403) unsigned, with another signature, another
    expiry, expired, or for another picture;
  - with a bucket (PHOTO_S3=1): the media worker makes the sized copies;
    the photo then lists them (thumbnail 150 x 150, low 320, standard 640,
    full 1080 wide), each served to its signed link as a JPEG of those
    dimensions, without EXIF; image_url is the full size's; a follower's
    feed shows them too;
  - the bucket down: a new post is still shown, with its upload; its media
    job waits and is retried; the bucket back, the sizes arrive: nothing
    lost;
  - the picture of an activity entry is linked signed too;
  - an upload cut short inside (it passed nginx's header check): the media
    job is a dead letter naming the decoder's error, the photo is still
    shown with its upload.
Prints 'N passed, N failed'."""

import os, signal, struct, subprocess, sys, time, urllib.error
import urllib.request, uuid, zlib

sys.dont_write_bytecode = True     # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import API, RUN, call, check, done, media_link, poster, redis_data, waited  # noqa: E402

S3 = os.environ.get("PHOTO_S3") == "1"
SIZES = [("thumbnail", 150, True), ("low", 320, False), ("standard", 640, False),
         ("full", 1080, False)]
PERIOD = 86400

tag = uuid.uuid4().hex[:8]


def png(w, h, cut=None):
    """a real w x h RGB PNG with a gradient (a picture worth resizing);
    cut: its compressed pixels cut to that many bytes"""
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d))
    xs = bytes(x * 255 // w for x in range(w))
    rows = []
    for y in range(h):
        row = bytearray(3 * w)
        row[0::3] = xs
        row[1::3] = bytes((y * 255 // h,)) * w
        row[2::3] = b"\x80" * w
        rows.append(b"\x00" + bytes(row))
    idat = zlib.compress(b"".join(rows), 6)
    if cut is not None:
        idat = idat[:cut]
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", idat) + chunk(b"IEND", b""))


def get(url, headers=None):
    """(status, bytes, headers) of a GET of a link the API gave"""
    req = urllib.request.Request(API + url if url.startswith("/") else url,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read(), r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.read(), e.headers


def split(link):
    path, _, query = link.partition("?")
    args = dict(a.split("=", 1) for a in query.split("&") if "=" in a)
    return path, args


sign = media_link


def jpeg_size(data):
    """(width, height) from a JPEG's SOF marker, or None"""
    if data[:2] != b"\xff\xd8":
        return None
    i = 2
    while i + 4 <= len(data):
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        seglen = struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            h, w = struct.unpack(">HH", data[i + 5:i + 9])
            return w, h
        i += 2 + seglen
    return None


def post(token, media_id, caption):
    s, b, _ = call("POST", "/v1/photos", {"media_id": media_id, "caption": caption}, token=token)
    check("the post of %s is accepted" % caption, s == 202, (s, b))
    return b.get("id") if s == 202 else None


def photo(pid, token):
    s, b, _ = call("GET", "/v1/photos/%s" % pid, token=token)
    return b if s == 200 else None


def upload(token, data):
    s, m, _ = call("POST", "/v1/media", raw=data, token=token, ctype="image/png")
    check("an upload of %d bytes is taken" % len(data), s == 201, (s, m))
    return m.get("media_id") if s == 201 else "1"


def s3_pid():
    try:
        with open(os.path.join(RUN, "s3", "s3.pid")) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError):
        return None


ann, _ = poster("me_a_" + tag, "media password")
bob, _ = poster("me_b_" + tag, "media password")
ann_id = ann.split("-")[0]
s, b, _ = call("POST", "/v1/users/%s/follow" % ann_id, token=bob)
check("bob follows ann", s in (200, 202, 204), (s, b))

W, H = 1620, 2025
upload_bytes = png(W, H)
pid = post(ann, upload(ann, upload_bytes), "a gradient " + tag)
obj = None
check("the photo is shown", waited(lambda: photo(pid, ann) is not None, 15) is not None)
obj = photo(pid, ann) or {}

# --- the upload's link
if not S3 or "images" not in obj:
    link = obj.get("image_url", "")
    path, args = split(link)
    now = int(time.time())
    check("its image_url is signed: e and s", set(args) == {"e", "s"}, link)
    e = int(args.get("e", "0"))
    check("and expires in one to two days", now + PERIOD - 5 <= e <= now + 2 * PERIOD + 5,
          (e - now))
    st, body, hd = get(link)
    check("the upload is served to it byte for byte", st == 200 and body == upload_bytes,
          (st, len(body)))
    check("with a long-lived cache header",
          "immutable" in (hd.get("Cache-Control") or ""), hd.get("Cache-Control"))
    check("the link made again from the documented scheme is the same", sign(path, e) == link,
          (sign(path, e), link))
    for what, bad in [("unsigned", path),
                      ("another signature", path + "?e=%d&s=%s" % (e, "A" * 22)),
                      ("another expiry", path + "?e=%d&s=%s" % (e + 1, args.get("s"))),
                      ("expired", sign(path, now - 10)),
                      ("for another picture", sign(path.replace(".png", ".jpg"), e)
                       .replace(".jpg", ".png"))]:
        st, _, _ = get(bad)
        check("a link %s is refused: 403" % what, st == 403, st)

# --- the activity's picture: signed as it is read (entries outlive links)
s, b, _ = call("POST", "/v1/photos/%s/likes" % pid, token=bob)
check("bob likes the photo", s == 202, (s, b))


def liked_entry():
    s, a, _ = call("GET", "/v1/activity?count=5", token=ann)
    return next((x for x in (a or {}).get("activity", []) if x.get("type") == "like"), None)


check("ann's activity shows the like", waited(lambda: liked_entry() is not None, 15) is not None)
entry = liked_entry() or {}
link = entry.get("photo", {}).get("image_url", "/")
st, _, _ = get(link)
check("with its photo's picture linked, signed, served", "&s=" in link and st == 200, (link, st))

if S3:
    def sized():
        o = photo(pid, ann)
        return o if o and "images" in o else None

    t = waited(lambda: sized() is not None, 30, 0.2)
    check("the sized copies are listed within 30 s", t is not None, t)
    obj = sized() or {}
    images = obj.get("images", {})
    check("as thumbnail, low, standard and full",
          sorted(images) == sorted(n for n, _, _ in SIZES), sorted(images))
    for name, width, square in SIZES:
        im = images.get(name, {})
        want = (width, width) if square else (width, round(H * width / W))
        got = (im.get("width"), im.get("height"))
        check("%s is %d x %d" % (name, want[0], want[1]),
              abs(got[0] - want[0]) <= 1 and abs(got[1] - want[1]) <= 1 if None not in got
              else False, got)
        st, body, hd = get(im.get("url", "/"))
        check("%s is served to its signed link as a JPEG of those dimensions" % name,
              st == 200 and hd.get("Content-Type") == "image/jpeg"
              and jpeg_size(body) == got, (st, hd.get("Content-Type"), jpeg_size(body), got))
        check("%s carries no EXIF" % name, b"Exif\x00" not in body[:65536])
        p, a = split(im.get("url", "/?"))
        st, _, _ = get(p)
        check("%s unsigned is refused: 403" % name, st == 403, st)
    check("image_url is the full size's", obj.get("image_url") == images.get("full", {}).get("url"),
          obj.get("image_url"))
    s, f, _ = call("GET", "/v1/feed?count=5", token=bob)
    mine = [x for x in (f or {}).get("photos", []) if x["id"] == pid]
    check("bob's feed shows the sizes too", mine and "images" in mine[0], mine)

    # --- the bucket down
    spid = s3_pid()
    check("the bucket's server runs", spid is not None)
    if spid:
        os.kill(spid, signal.SIGTERM)
        waited(lambda: not os.path.exists("/proc/%d" % spid), 5)
        media2 = upload(ann, png(400, 300))
        pid2 = post(ann, media2, "while the bucket is down " + tag)
        check("a post while the bucket is down is shown",
              waited(lambda: photo(pid2, ann) is not None, 15) is not None)
        o2 = photo(pid2, ann) or {}
        st, _, _ = get(o2.get("image_url", "/"))
        check("with its upload, served", "images" not in o2 and st == 200, (sorted(o2), st))
        time.sleep(2)
        check("its sizes wait for the bucket", "images" not in (photo(pid2, ann) or {}))
        subprocess.run([os.path.join(os.environ["PHOTO_ROOT"], "scripts", "stack"), "start"],
                       check=True, capture_output=True)
        t = waited(lambda: "images" in (photo(pid2, ann) or {}), 60, 0.5)
        check("the bucket back, the sizes arrive (retried, not lost)", t is not None, t)
        print("# sizes after the bucket came back: %s s" % (t if t is None else "%.1f" % t))

    # --- an upload cut short inside
    dead_before = redis_data("LLEN", "dead_letter:photo_media")
    cut = png(600, 400)
    cut = png(600, 400, cut=len(zlib.compress(b"x")) + (len(cut) // 3))
    pid3 = post(ann, upload(ann, cut), "cut short " + tag)
    t = waited(lambda: int(redis_data("LLEN", "dead_letter:photo_media") or 0)
               > int(dead_before or 0), 30, 0.2)
    check("a picture cut short is a dead letter of the media worker", t is not None)
    mine = [d for d in (redis_data("LRANGE", "dead_letter:photo_media", "0", "-1") or "")
            .splitlines() if pid3 in d]
    check("naming the decoder's error, of that photo",
          mine and ("decode" in mine[-1].lower() or "corrupt" in mine[-1].lower()
                    or "error" in mine[-1].lower()), mine[-1:] or None)
    o3 = photo(pid3, ann) or {}
    st, _, _ = get(o3.get("image_url", "/"))
    check("the photo is still shown, with its upload", o3 and "images" not in o3 and st == 200,
          (sorted(o3), st))

done()
