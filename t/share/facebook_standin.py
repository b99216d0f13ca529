#!/usr/bin/python3
"""A stand-in for Facebook's Graph API, POST /<version>/<page id>/photos,
over TLS.  It checks what the Graph API checks: an access_token (form
field or query), that it is the page's (a token of another page, or none
known, is code 190), the page exists, and the photo's fields: url (an
absolute http(s) URL) and caption (a string).  It answers as Facebook
does: 200 {"id","post_id"}, or {"error":{"message","type","code",
["error_subcode",]"fbtrace_id"}}, and as the rules say (share_common.py),
keyed by the access token:

  {"status": 400, "code": 190, "subcode": 463}  the token expired
  {"status": 400, "code": 4}                    application request limit
  (17, 32, 613: user, page, hourly limits; "retry_after": N adds the
   header; {"status": 500}: code 1, {"status": 503}: code 2)

  facebook_standin.py --port P --cert server.crt --key server.key \\
      --pages pages.json --rules rules.json --records records.txt

pages.json (read per request): {"<page id>": "<its access token>", ...}.
"""

import argparse
import itertools
import json
import re
import secrets
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler

sys.dont_write_bytecode = True     # no __pycache__ in the checkout
from share_common import Book, TLSServer, load_json

ids = itertools.count(int(time.time()))
PATH = re.compile(r"^/v[0-9]+\.[0-9]+/([^/]+)/photos$")

MESSAGES = {
    1: ("OAuthException", "An unknown error has occurred."),
    2: ("OAuthException", "An unexpected error has occurred. Please retry "
        "your request later."),
    4: ("OAuthException", "(#4) Application request limit reached"),
    17: ("OAuthException", "(#17) User request limit reached"),
    32: ("OAuthException", "(#32) Page request limit reached"),
    100: ("GraphMethodException", "Unsupported post request."),
    190: ("OAuthException", "Invalid OAuth access token - Cannot parse "
          "access token"),
    324: ("OAuthException", "(#324) Requires upload file"),
    613: ("OAuthException", "(#613) Calls to this api have exceeded the "
          "rate limit."),
    2500: ("OAuthException", "An active access token must be used to query "
           "information about the current user."),
}
EXPIRED = ("Error validating access token: Session has expired on Friday, "
           "04-Dec-26 10:00:00 PST. The current time is Sunday, 06-Dec-26 "
           "04:00:00 PST.")


def log(*args):
    print("facebook:", *args, file=sys.stderr, flush=True)


def error(code, subcode=None, message=None):
    kind, text = MESSAGES.get(code, ("OAuthException", "Error"))
    err = {"message": message or text, "type": kind, "code": code}
    if subcode is not None:
        err["error_subcode"] = subcode
    if code in (1, 2, 4, 17, 32, 613):
        err["is_transient"] = True
    err["fbtrace_id"] = "A" + secrets.token_urlsafe(15)
    return {"error": err}


class Facebook:
    def __init__(self, args):
        self.args = args
        self.book = Book(args.rules, args.records)

    def photo(self, path, query, body, ctype):
        """(status, answer, extra headers, token, what it took)"""
        m = PATH.match(path)
        if m is None:
            return 400, error(100, message="Unknown path components"), [], \
                None, {"refused": "path " + path}
        page = urllib.parse.unquote(m.group(1))
        fields = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        if ctype.split(";")[0].strip() == "application/x-www-form-urlencoded":
            fields.update(urllib.parse.parse_qsl(body.decode(),
                                                 keep_blank_values=True))
        elif body:
            return 400, error(100, message="Unsupported content type"), [], \
                None, {"refused": "content type " + ctype}
        token = fields.get("access_token")
        if not token:
            return 400, error(2500), [], None, {"refused": "no access_token"}
        pages = load_json(self.args.pages, {})
        if page not in pages:
            return 400, error(100, 33, "Unsupported post request. Object "
                              "with ID '%s' does not exist, cannot be "
                              "loaded due to missing permissions, or does "
                              "not support this operation." % page), [], \
                token, {"refused": "no page " + page}
        if pages[page] != token:
            return 400, error(190), [], token, \
                {"refused": "not page %s's token" % page}
        url = fields.get("url", "")
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            return 400, error(324), [], token, {"refused": "url " + url}
        if "caption" not in fields:
            return 400, error(100, message="(#100) caption is missing"), \
                [], token, {"refused": "no caption"}
        took = {"page": page, "url": url, "caption": fields["caption"],
                "access_token": token}
        rule = self.book.answer(token)
        if rule:
            status = rule["status"]
            code = rule.get("code", {500: 1, 503: 2}.get(status, 1))
            message = EXPIRED if (code, rule.get("subcode")) == (190, 463) \
                else None
            extra = ([("Retry-After", str(rule["retry_after"]))]
                     if rule.get("retry_after") is not None else [])
            return status, error(code, rule.get("subcode"), message), extra, \
                token, took
        pid = str(next(ids))
        return 200, {"id": pid, "post_id": "%s_%s" % (page, pid)}, [], \
            token, dict(took, post_id="%s_%s" % (page, pid))


def handler_for(fb):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"        # keep-alive

        def answer(self, status, doc, extra=()):
            data = json.dumps(doc).encode()
            self.send_response(status)
            for k, v in extra:
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            parts = urllib.parse.urlsplit(self.path)
            status, doc, extra, token, took = fb.photo(
                parts.path, parts.query, body,
                self.headers.get("Content-Type", ""))
            log(status, token, json.dumps(took, ensure_ascii=False),
                json.dumps(doc))
            fb.book.record(status, token, took)
            self.answer(status, doc, extra)

        def do_GET(self):
            # not recorded: what the stack asks to see it is up
            self.answer(400, error(2500))

        def log_message(self, fmt, *args):
            pass

    return Handler


def main():
    p = argparse.ArgumentParser()
    for a in ("port", "cert", "key", "pages", "rules", "records"):
        p.add_argument("--" + a, required=True)
    args = p.parse_args()
    srv = TLSServer(args.port, handler_for(Facebook(args)), args.cert,
                    args.key)
    log("listening on", args.port)
    # no timeout: idle, it wakes for nothing (SIGTERM ends it)
    srv.serve_forever(poll_interval=None)


if __name__ == "__main__":
    main()
