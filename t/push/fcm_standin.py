#!/usr/bin/python3
"""A stand-in for Firebase Cloud Messaging's HTTP v1 API and Google's
OAuth 2.0 token endpoint (plain HTTP on loopback).

  POST /token    grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer,
                 assertion=<RS256 JWT>: the signature is verified with the
                 service account's public key, and iss, scope, aud, iat and
                 exp are checked; answers {"access_token", "expires_in"}
                 (3599 s, or the rules' "_expires_in"); an access token
                 used after that is refused (401 UNAUTHENTICATED).
  POST /v1/projects/<project>/messages:send
                 needs "Authorization: Bearer <a token it issued>" and
                 {"message":{"token","notification":{"title","body"}}};
                 answers {"name": ...}, or as the rules say (404
                 UNREGISTERED, 429, 500, 503; see push_common.py).

  fcm_standin.py --port P --sa-pub fcm.pub --client-email E --project P \\
      --rules rules.json --records records.txt --grants grants.txt
"""

import argparse
import json
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

sys.dont_write_bytecode = True     # no __pycache__ in the checkout
from push_common import Book, jwt_parts

SCOPE = "https://www.googleapis.com/auth/firebase.messaging"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 404: "NOT_FOUND",
          429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}


def log(*args):
    print("fcm:", *args, file=sys.stderr, flush=True)


class Fcm:
    def __init__(self, args):
        self.args = args
        with open(args.sa_pub, "rb") as f:
            self.pub = serialization.load_pem_public_key(f.read())
        self.book = Book(args.rules, args.records)
        self.tokens = {}                 # access token -> when it expires
        self.lock = threading.Lock()

    def grant(self, form, token_uri):
        """(status, answer)"""
        if form.get("grant_type") != [GRANT] or "assertion" not in form:
            return 400, {"error": "unsupported_grant_type"}
        try:
            header, claims, signed, sig = jwt_parts(form["assertion"][0])
            self.pub.verify(sig, signed, padding.PKCS1v15(), hashes.SHA256())
        except (ValueError, InvalidSignature) as e:
            log("bad assertion:", repr(e))
            return 400, {"error": "invalid_grant",
                         "error_description": "Invalid JWT Signature."}
        now = time.time()
        if (header.get("alg") != "RS256"
                or claims.get("iss") != self.args.client_email
                or claims.get("scope") != SCOPE
                or claims.get("aud") != token_uri
                or not isinstance(claims.get("iat"), int)
                or not isinstance(claims.get("exp"), int)
                or claims["exp"] - claims["iat"] > 3600
                or claims["exp"] < now or claims["iat"] > now + 60):
            log("bad claims:", header, claims)
            return 400, {"error": "invalid_grant",
                         "error_description": "Invalid JWT claims."}
        token = "ya29." + secrets.token_urlsafe(32)
        expires_in = self.book.setting("_expires_in", 3599)
        with self.lock:
            self.tokens[token] = time.time() + expires_in
            with open(self.args.grants, "a") as f:
                f.write(token + "\n")
        return 200, {"access_token": token, "expires_in": expires_in,
                     "token_type": "Bearer"}

    def send(self, headers, body):
        """(status, answer, extra headers, device token)"""
        auth = headers.get("Authorization", "")
        with self.lock:
            known = (auth.startswith("Bearer ")
                     and self.tokens.get(auth[7:], 0) > time.time())
        if not known:
            return 401, self.error(401, "invalid authentication"), [], "-"
        try:
            msg = json.loads(body)["message"]
            token = msg["token"]
            n = msg["notification"]
            if not (isinstance(token, str) and isinstance(n["title"], str)
                    and isinstance(n["body"], str)):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return 400, self.error(400, "bad message"), [], "-"
        rule = self.book.answer(token)
        if rule is None:
            return 200, {"name": "projects/%s/messages/%d"
                                 % (self.args.project, time.time_ns())}, \
                [], token
        status = rule["status"]
        extra = ([("Retry-After", str(rule["retry_after"]))]
                 if rule.get("retry_after") is not None else [])
        return status, self.error(status, rule.get("reason")), extra, token

    @staticmethod
    def error(status, message):
        err = {"code": status, "message": message or STATUS.get(status, ""),
               "status": STATUS.get(status, "UNKNOWN")}
        if status == 404:
            err["details"] = [{
                "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                "errorCode": "UNREGISTERED"}]
        return {"error": err}


def handler_for(fcm):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"        # keep-alive, as Google does

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            path = self.path
            extra = []
            if path == "/token":
                uri = "http://%s%s" % (self.headers.get("Host"), path)
                status, answer = fcm.grant(
                    urllib.parse.parse_qs(body.decode()), uri)
                log("token", status)
            elif path == "/v1/projects/%s/messages:send" % fcm.args.project:
                status, answer, extra, token = fcm.send(self.headers, body)
                log(status, token, body.decode(errors="replace"))
                fcm.book.record(status, token, "-")
            else:
                status, answer = 404, fcm.error(404, "no such path")
            data = json.dumps(answer).encode()
            self.send_response(status)
            for k, v in extra:
                self.send_header(k, v)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, fmt, *args):
            pass

    return Handler


def main():
    p = argparse.ArgumentParser()
    for a in ("port", "sa-pub", "client-email", "project", "rules",
              "records", "grants"):
        p.add_argument("--" + a, required=True)
    args = p.parse_args()
    srv = ThreadingHTTPServer(("127.0.0.1", int(args.port)),
                              handler_for(Fcm(args)))
    srv.daemon_threads = True
    log("listening on", args.port)
    srv.serve_forever()


if __name__ == "__main__":
    main()
