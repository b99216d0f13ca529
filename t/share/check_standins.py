#!/usr/bin/python3
"""The share stand-ins' own controls, so that a passing share test means
the worker's OAuth 1.0a signatures were really checked: the Twitter
stand-in's signature code gives the signature of Twitter's own worked
example ("Creating a signature"); it refuses a request signed with another
consumer secret or token secret, an unknown token, a nonce used twice, an
old timestamp, a missing header, and a text that weighs over 280 (CJK 2,
links 23), and takes
a good one.  The Facebook stand-in refuses another page's token, no token,
no url.  Exit status 0 when every check holds.

  check_standins.py TWITTER_PORT FACEBOOK_PORT CA_FILE CONSUMER_KEY \\
      CONSUMER_SECRET TOKEN TOKEN_SECRET PAGE_ID PAGE_TOKEN
"""

import json
import os
import secrets
import ssl
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from twitter_standin import pct, sign, signature_base   # noqa: E402

(tw_port, fb_port, ca, ckey, csecret, token, tsecret, page,
 page_token) = sys.argv[1:10]
ctx = ssl.create_default_context(cafile=ca)
failed = 0


def check(ok, what):
    global failed
    print(("ok - " if ok else "not ok - ") + what)
    failed += not ok


def post(url, body, headers):
    req = urllib.request.Request(url, data=body, headers=headers,
                                 method="POST")
    try:
        with urllib.request.urlopen(req, context=ctx, timeout=5) as r:
            return r.status, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


# Twitter's worked example, https://developer.twitter.com/en/docs/
# authentication/oauth-1-0a/creating-a-signature
base = signature_base(
    "POST", "https://api.twitter.com/1.1/statuses/update.json",
    [("include_entities", "true"),
     ("status", "Hello Ladies + Gentlemen, a signed OAuth request!"),
     ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
     ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
     ("oauth_signature_method", "HMAC-SHA1"),
     ("oauth_timestamp", "1318622958"),
     ("oauth_token", "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
     ("oauth_version", "1.0")])
check(sign(base, "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
           "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE")
      == "hCtSmYh+iHYCEqBWrE7C7hYmtUk=",
      "twitter: the signature of Twitter's worked example")

TW = "https://127.0.0.1:%s/2/tweets" % tw_port
URL = "https://127.0.0.1:%s/2/tweets" % tw_port


def tweet(text, consumer_secret=csecret, token_secret=tsecret, tok=token,
          nonce=None, ts=None, auth=True):
    oauth = {"oauth_consumer_key": ckey, "oauth_token": tok,
             "oauth_nonce": nonce or secrets.token_hex(16),
             "oauth_signature_method": "HMAC-SHA1",
             "oauth_timestamp": str(ts or int(time.time())),
             "oauth_version": "1.0"}
    oauth["oauth_signature"] = sign(
        signature_base("POST", URL, list(oauth.items())), consumer_secret,
        token_secret)
    headers = {"Content-Type": "application/json"}
    if auth:
        headers["Authorization"] = "OAuth " + ", ".join(
            '%s="%s"' % (pct(k), pct(v)) for k, v in sorted(oauth.items()))
    return post(TW, json.dumps({"text": text}).encode(), headers)


st, doc = tweet("check: a good one")
check(st == 201 and doc["data"]["text"] == "check: a good one",
      "twitter: a good signature is taken (%s)" % st)
nonce = secrets.token_hex(16)
tweet("check: first", nonce=nonce)
st, doc = tweet("check: second", nonce=nonce)
check(st == 401 and doc == {"title": "Unauthorized", "type": "about:blank",
                            "status": 401, "detail": "Unauthorized"},
      "twitter: a nonce used twice is refused, as Twitter words it")
check(tweet("check", consumer_secret="other")[0] == 401,
      "twitter: another consumer secret is refused")
check(tweet("check", token_secret="other")[0] == 401,
      "twitter: another token secret is refused")
check(tweet("check", tok="unknown-token")[0] == 401,
      "twitter: an unknown token is refused")
check(tweet("check", ts=int(time.time()) - 900)[0] == 401,
      "twitter: a timestamp 15 minutes old is refused")
check(tweet("check", auth=False)[0] == 401,
      "twitter: no Authorization header is refused")
check(tweet("x" * 281)[0] == 400 and tweet("\u00e9" * 280)[0] == 201,
      "twitter: 281 characters are refused, 280 taken")
check(tweet("\u4e2d" * 141)[0] == 400 and tweet("\u4e2d" * 140)[0] == 201,
      "twitter: CJK characters weigh 2: 141 are refused, 140 taken")
LONG = "https://example.com/" + "p" * 200
check(tweet("x" * 256 + " " + LONG)[0] == 201
      and tweet("x" * 257 + " " + LONG)[0] == 400,
      "twitter: a link of 220 characters weighs 23")

FB = "https://127.0.0.1:%s/v19.0/%s/photos" % (fb_port, page)
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def photo(**fields):
    return post(FB, urllib.parse.urlencode(fields).encode(), FORM)


st, doc = photo(url="http://127.0.0.1/p.jpg", caption="check",
                access_token=page_token)
check(st == 200 and doc.get("post_id", "").startswith(page + "_"),
      "facebook: the page's token is taken (%s)" % st)
st, doc = photo(url="http://127.0.0.1/p.jpg", caption="check",
                access_token="another-page")
check(st == 400 and doc["error"]["code"] == 190
      and doc["error"]["type"] == "OAuthException",
      "facebook: another token is refused with code 190")
st, doc = photo(url="http://127.0.0.1/p.jpg", caption="check")
check(st == 400 and doc["error"]["code"] == 2500, "facebook: no token")
st, doc = photo(caption="check", access_token=page_token)
check(st == 400 and doc["error"]["code"] == 324, "facebook: no url")

sys.exit(1 if failed else 0)
