#!/usr/bin/python3
"""A stand-in for Twitter's API v2, POST /2/tweets, over TLS.  It checks
what Twitter checks: the OAuth 1.0a Authorization header (the HMAC-SHA1
signature computed again here from the method, the URL, its query and the
oauth_* parameters — and the body's, for a form body only: a JSON body is
not signed — with the app's consumer secret and the user's token secret),
the consumer key, a known token, a timestamp within 5 minutes, a nonce not
seen before; then a JSON body {"text"} that weighs 1 to 280 as Twitter
weighs text (twitter-text's configuration v3: a code point in its light
ranges 1, any other 2, a link 23, see weight()).  It answers
as Twitter does: 201 {"data":{"id","text"}}, 401 {"title":"Unauthorized",
...} for a bad signature or an unknown token, 400 for a bad body, and as
the rules say (share_common.py): 429 with retry-after or x-rate-limit-reset
({"reset_in": N}: that many seconds from now), 401, 403, 5xx.

  twitter_standin.py --port P --cert server.crt --key server.key \\
      --consumer-key K --consumer-secret S --users users.json \\
      --rules rules.json --records records.txt

users.json (read per request): {"<access token>": "<token secret>", ...}.
"""

import argparse
import base64
import hashlib
import hmac
import itertools
import json
import re
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

sys.dont_write_bytecode = True     # no __pycache__ in the checkout
from share_common import Book, TLSServer, load_json

MAX_SKEW = 300                     # seconds, as Twitter
MAX_WEIGHT = 280
URL_WEIGHT = 23                    # any link, shortened by t.co
# twitter-text v3's code point ranges of weight 1 (100 on its scale of 100)
LIGHT = ((0x0, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
LINK = re.compile(r"https?://\S+")
ids = itertools.count(int(time.time() * 1000) << 22)


def log(*args):
    print("twitter:", *args, file=sys.stderr, flush=True)


def weight(text):
    """a tweet's weight as Twitter counts it: links 23 each, the other
    code points 1 in the light ranges and 2 elsewhere"""
    w = 0
    for part in LINK.split(text):
        w += sum(1 if any(a <= ord(c) <= b for a, b in LIGHT) else 2
                 for c in part)
    return w + URL_WEIGHT * len(LINK.findall(text))


def pct(s):
    """RFC 3986 percent-encoding, as OAuth 1.0a (RFC 5849 3.6) wants it"""
    return urllib.parse.quote(s, safe="~")


def parse_authorization(value):
    """the parameters of an "OAuth k="v", ..." header, or None"""
    if not value.startswith("OAuth "):
        return None
    params = {}
    for part in value[6:].split(","):
        part = part.strip()
        if not part:
            continue
        k, sep, v = part.partition("=")
        if not sep or len(v) < 2 or v[0] != '"' or v[-1] != '"':
            return None
        params[urllib.parse.unquote(k)] = urllib.parse.unquote(v[1:-1])
    return params


def base_url(scheme, host, path):
    """scheme and host in lower case, the default port left out"""
    host = host.lower()
    if (scheme, host.rsplit(":", 1)[-1]) in (("https", "443"), ("http", "80")):
        host = host.rsplit(":", 1)[0]
    return "%s://%s%s" % (scheme, host, path)


def signature_base(method, url, params):
    """RFC 5849 3.4.1: METHOD&url&the sorted, encoded parameters; params a
    list of (name, value), oauth_signature left out"""
    pairs = sorted((pct(k), pct(v)) for k, v in params
                   if k not in ("oauth_signature", "realm"))
    norm = "&".join("%s=%s" % kv for kv in pairs)
    return "&".join((method.upper(), pct(url), pct(norm)))


def sign(base, consumer_secret, token_secret):
    key = (pct(consumer_secret) + "&" + pct(token_secret)).encode()
    return base64.b64encode(hmac.new(key, base.encode(),
                                     hashlib.sha1).digest()).decode()


def problem(status):
    title = {400: "Invalid Request", 401: "Unauthorized", 403: "Forbidden",
             429: "Too Many Requests", 500: "Internal Server Error",
             503: "Service Unavailable"}.get(status, "Error")
    if status == 400:
        return {"errors": [{"message": "The `text` field is invalid"}],
                "title": title, "detail": "One or more parameters to your "
                "request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request"}
    return {"title": title, "type": "about:blank", "status": status,
            "detail": title}


class Twitter:
    def __init__(self, args):
        self.args = args
        self.book = Book(args.rules, args.records)
        self.nonces = set()
        self.lock = threading.Lock()

    def authenticate(self, method, url, query, headers, body, ctype):
        """(token, None) when the signature holds, else (token, why)"""
        oauth = parse_authorization(headers.get("Authorization", ""))
        if oauth is None:
            return None, "no OAuth Authorization header"
        token = oauth.get("oauth_token")
        for k in ("oauth_consumer_key", "oauth_token", "oauth_nonce",
                  "oauth_signature", "oauth_signature_method",
                  "oauth_timestamp"):
            if k not in oauth:
                return token, "no " + k
        if oauth["oauth_signature_method"] != "HMAC-SHA1":
            return token, "signature method " + oauth["oauth_signature_method"]
        if oauth.get("oauth_version", "1.0") != "1.0":
            return token, "oauth_version " + oauth["oauth_version"]
        if oauth["oauth_consumer_key"] != self.args.consumer_key:
            return token, "unknown consumer key"
        secret = load_json(self.args.users, {}).get(token)
        if not isinstance(secret, str):
            return token, "unknown token"
        try:
            ts = int(oauth["oauth_timestamp"])
        except ValueError:
            return token, "timestamp not a number"
        if abs(time.time() - ts) > MAX_SKEW:
            return token, "timestamp out of bounds"
        params = list(urllib.parse.parse_qsl(query, keep_blank_values=True))
        params += [(k, v) for k, v in oauth.items() if k != "realm"]
        if ctype.split(";")[0].strip() == "application/x-www-form-urlencoded":
            params += urllib.parse.parse_qsl(body.decode(),
                                             keep_blank_values=True)
        base = signature_base(method, url, params)
        want = sign(base, self.args.consumer_secret, secret)
        if not hmac.compare_digest(want, oauth["oauth_signature"]):
            log("bad signature; base string:", base)
            return token, "bad signature"
        with self.lock:
            seen = (self.args.consumer_key, token, oauth["oauth_nonce"])
            if seen in self.nonces:
                return token, "nonce used before"
            self.nonces.add(seen)
        return token, None

    def tweet(self, handler, body):
        """(status, answer, extra headers, token, what it took)"""
        parts = urllib.parse.urlsplit(handler.path)
        url = base_url("https", handler.headers.get("Host", ""), parts.path)
        ctype = handler.headers.get("Content-Type", "")
        token, why = self.authenticate("POST", url, parts.query,
                                       handler.headers, body, ctype)
        if why:
            log("401", token, why)
            return 401, problem(401), [], token, {"refused": why}
        try:
            if ctype.split(";")[0].strip() != "application/json":
                raise ValueError("content type " + ctype)
            text = json.loads(body)["text"]
            if not isinstance(text, str) or not 1 <= weight(text) <= MAX_WEIGHT:
                raise ValueError("text of weight %s"
                                 % (weight(text) if isinstance(text, str)
                                    else "none"))
        except (ValueError, KeyError, TypeError) as e:
            log("400", token, e)
            return 400, problem(400), [], token, {"refused": str(e)}
        took = {"text": text}
        rule = self.book.answer(token)
        if rule:
            status = rule["status"]
            extra = []
            if rule.get("retry_after") is not None:
                extra.append(("retry-after", str(rule["retry_after"])))
            if rule.get("reset_in") is not None:
                extra.append(("x-rate-limit-reset",
                              str(int(time.time()) + rule["reset_in"])))
            if status == 429:
                extra += [("x-rate-limit-limit", "200"),
                          ("x-rate-limit-remaining", "0")]
            return status, problem(status), extra, token, took
        tid = str(next(ids))
        return 201, {"data": {"id": tid, "text": text}}, [], token, \
            dict(took, id=tid)


def handler_for(tw):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"        # keep-alive

        def answer(self, status, doc, extra=()):
            data = json.dumps(doc).encode()
            self.send_response(status)
            for k, v in extra:
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if urllib.parse.urlsplit(self.path).path != "/2/tweets":
                return self.answer(404, {"title": "Not Found Error",
                                         "type": "about:blank",
                                         "status": 404})
            status, doc, extra, token, took = tw.tweet(self, body)
            log(status, token, json.dumps(took, ensure_ascii=False))
            tw.book.record(status, token, took)
            self.answer(status, doc, extra)

        def do_GET(self):
            # not recorded: what the stack asks to see it is up
            self.answer(401, problem(401))

        def log_message(self, fmt, *args):
            pass

    return Handler


def main():
    p = argparse.ArgumentParser()
    for a in ("port", "cert", "key", "consumer-key", "consumer-secret",
              "users", "rules", "records"):
        p.add_argument("--" + a, required=True)
    args = p.parse_args()
    srv = TLSServer(args.port, handler_for(Twitter(args)), args.cert,
                    args.key)
    log("listening on", args.port)
    # no timeout: idle, it wakes for nothing (SIGTERM ends it)
    srv.serve_forever(poll_interval=None)


if __name__ == "__main__":
    main()
