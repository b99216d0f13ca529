#!/usr/bin/env python3
"""Sharing end to end, through the stack's nginx, its share worker and the
Twitter and Facebook stand-ins (PHOTO_SHARE_STANDIN=1; skipped without
them), which check the OAuth 1.0a signature and the Graph API token as
the services do: a user links both accounts (PUT /v1/me/links/...), posts
a photo and shares it to both; each stand-in takes one post, signed,
with the caption and the photo's address; the same share retried with
its Idempotency-Key posts nothing more; Postgres holds the credentials
sealed, never in the clear; after an unlink, a share to that service
posts nothing. Prints 'N passed, N failed'."""

import json, os, sys, time, urllib.parse, urllib.request, uuid

sys.dont_write_bytecode = True     # no __pycache__ in the checkout
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from e2e_lib import API, call, check, done, poster, sql, waited  # noqa: E402

if os.environ.get("PHOTO_SHARE_STANDIN") != "1":
    print("skipped: the stack runs no share stand-ins (PHOTO_SHARE_STANDIN=1 scripts/stack start)")
    sys.exit(77)

tag = uuid.uuid4().hex[:8]
TW_TOKEN, TW_SECRET = "tw-%s" % tag, "tws-%s" % tag
FB_PAGE, FB_TOKEN = "1%d" % (int(tag, 16) % 10**9), "fb-%s" % tag


def merge(path, add):
    """the stand-in's users or pages, with these (rewritten atomically)"""
    try:
        with open(path) as f:
            cur = json.load(f)
    except (OSError, ValueError):
        cur = {}
    cur.update(add)
    tmp = "%s.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        json.dump(cur, f)
    os.rename(tmp, path)


def taken(path, token):
    """what a stand-in took (status 2xx) for token: the JSON of each"""
    out = []
    try:
        with open(path) as f:
            for line in f:
                w = line.split(" ", 3)
                if len(w) == 4 and w[0].startswith("2") and w[1] == token:
                    out.append(json.loads(w[3]))
    except (OSError, ValueError):
        pass
    return out


merge(os.environ["PHOTO_TWITTER_USERS"], {TW_TOKEN: TW_SECRET})
merge(os.environ["PHOTO_FACEBOOK_PAGES"], {FB_PAGE: FB_TOKEN})
TW_REC, FB_REC = os.environ["PHOTO_TWITTER_RECORDS"], os.environ["PHOTO_FACEBOOK_RECORDS"]

token, media = poster("sh_" + tag, "share password")
uid = token.split("-")[0]

s1, _, _ = call("PUT", "/v1/me/links/twitter", {"token": TW_TOKEN, "token_secret": TW_SECRET},
                token=token)
s2, _, _ = call("PUT", "/v1/me/links/facebook", {"page_id": FB_PAGE, "access_token": FB_TOKEN},
                token=token)
check("both accounts linked: 202, 202", (s1, s2) == (202, 202), (s1, s2))
check("Postgres holds them sealed, never in the clear",
      waited(lambda: sql("select count(*) from linked_accounts where user_id = %s and secret <> ''"
                         % uid) == "2", 10) is not None
      and TW_SECRET not in sql("select string_agg(secret, ' ') from linked_accounts "
                               "where user_id = %s" % uid)
      and FB_TOKEN not in sql("select string_agg(secret, ' ') from linked_accounts "
                              "where user_id = %s" % uid))

caption = "shared " + tag
s, b, _ = call("POST", "/v1/photos", {"media_id": media, "caption": caption}, token=token)
pid = b.get("id")
check("a photo: 202", s == 202 and pid, (s, b))
check("it is stored", waited(lambda: sql("select count(*) from photos where id = %s" % pid) == "1",
                             10) is not None)
url = sql("select image_url from photos where id = %s" % pid)

key = "share-" + tag
s, b, h = call("POST", "/v1/photos/%s/share" % pid, {"to": ["twitter", "facebook"]},
               token=token, headers={"Idempotency-Key": key})
check("shared to both: 202", s == 202, (s, b))
check("Twitter took one Tweet, signed, with the caption and the photo's address",
      waited(lambda: len(taken(TW_REC, TW_TOKEN)) == 1, 15) is not None
      and caption in taken(TW_REC, TW_TOKEN)[0].get("text", "")
      and url in taken(TW_REC, TW_TOKEN)[0].get("text", ""), taken(TW_REC, TW_TOKEN))
check("Facebook took one photo, with the page's token, its address and caption",
      waited(lambda: len(taken(FB_REC, FB_TOKEN)) == 1, 15) is not None
      and taken(FB_REC, FB_TOKEN)[0].get("caption") == caption
      and url in taken(FB_REC, FB_TOKEN)[0].get("url", ""), taken(FB_REC, FB_TOKEN))
# the picture's link in the Tweet lives as long as the Tweet may be read
# (years, contract/photo_media.h), and nginx serves it
link = [w for w in taken(TW_REC, TW_TOKEN)[0].get("text", "").split() if url in w]
q = urllib.parse.parse_qs(urllib.parse.urlsplit(link[0]).query) if link else {}
check("the Tweet's link is signed for years, not for the day or two the API's are",
      "s" in q and int(q.get("e", ["0"])[0]) - time.time() > 9 * 365 * 86400, link)
if link:
    parts = urllib.parse.urlsplit(link[0])
    try:
        with urllib.request.urlopen(API + parts.path + "?" + parts.query, timeout=10) as r:
            got = (r.status, len(r.read()))
    except OSError as e:
        got = (getattr(e, "code", None), str(e))
    check("and nginx serves the picture by it", got[0] == 200 and got[1] > 0, (got, link))

check("two shares rows", waited(
    lambda: sql("select count(*) from shares where photo_id = %s" % pid) == "2", 10) is not None)

s2, b2, _ = call("POST", "/v1/photos/%s/share" % pid, {"to": ["twitter", "facebook"]},
                 token=token, headers={"Idempotency-Key": key})
time.sleep(2)
check("the same share retried with its key: the same 202, nothing posted again",
      (s2, b2) == (s, b) and len(taken(TW_REC, TW_TOKEN)) == 1
      and len(taken(FB_REC, FB_TOKEN)) == 1, (s2, b2, taken(TW_REC, TW_TOKEN)))

s, _, _ = call("DELETE", "/v1/me/links/facebook", token=token)
check("Facebook unlinked: 202, its secret emptied", s == 202 and waited(
    lambda: sql("select secret from linked_accounts where user_id = %s and service = 'facebook'"
                % uid) == "", 10) is not None)
s, _, _ = call("POST", "/v1/photos/%s/share" % pid, {"to": ["facebook", "twitter"]}, token=token)
check("a new share: 202; Twitter takes a second Tweet, Facebook nothing",
      s == 202 and waited(lambda: len(taken(TW_REC, TW_TOKEN)) == 2, 15) is not None
      and len(taken(FB_REC, FB_TOKEN)) == 1, (taken(TW_REC, TW_TOKEN), taken(FB_REC, FB_TOKEN)))

done()
