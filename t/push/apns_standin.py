#!/usr/bin/python3
"""A stand-in for Apple's APNs provider API: HTTP/2 over TLS (python3-h2,
ssl), POST /3/device/<token>.  It checks what Apple checks: the provider
token (an ES256 JWT whose signature is verified with the team key's public
half, its kid and iss), apns-topic, apns-push-type, apns-priority,
apns-expiration and the payload's aps.alert; it answers as Apple does
({"reason": ...} with 400/403/410/429/500), and as the rules say (see
push_common.py).

  apns_standin.py --port P --cert server.crt --key server.key \\
      --auth-pub apns.pub --key-id K --team-id T --topic com.example.app \\
      --rules rules.json --records records.txt
"""

import argparse
import itertools
import json
import socket
import ssl
import sys
import threading
import time
import uuid

import h2.config
import h2.connection
import h2.events
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

sys.dont_write_bytecode = True     # no __pycache__ in the checkout
from push_common import Book, jwt_parts

conn_ids = itertools.count(1)


def log(*args):
    print("apns:", *args, file=sys.stderr, flush=True)


class Apns:
    def __init__(self, args):
        self.args = args
        with open(args.auth_pub, "rb") as f:
            self.pub = serialization.load_pem_public_key(f.read())
        self.book = Book(args.rules, args.records)

    def check_jwt(self, auth):
        """None when the provider token is good, else Apple's reason"""
        if not auth.startswith("bearer "):
            return "MissingProviderToken"
        try:
            header, claims, signed, sig = jwt_parts(auth[7:])
        except ValueError:
            return "InvalidProviderToken"
        if (header.get("alg") != "ES256"
                or header.get("kid") != self.args.key_id
                or claims.get("iss") != self.args.team_id
                or not isinstance(claims.get("iat"), int)
                or len(sig) != 64):
            return "InvalidProviderToken"
        # an hour, as Apple; the rules' "_apns_max_age" for a test
        if time.time() - claims["iat"] > self.book.setting("_apns_max_age",
                                                           3600):
            return "ExpiredProviderToken"
        der = utils.encode_dss_signature(int.from_bytes(sig[:32], "big"),
                                         int.from_bytes(sig[32:], "big"))
        try:
            self.pub.verify(der, signed, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            return "InvalidProviderToken"
        return None

    def check(self, headers, body):
        """(status, reason) of a bad request, or None"""
        if headers.get(":method") != "POST":
            return 405, "MethodNotAllowed"
        if not headers.get(":path", "").startswith("/3/device/"):
            return 404, "BadPath"
        why = self.check_jwt(headers.get("authorization", ""))
        if why:
            return 403, why
        if headers.get("apns-topic") != self.args.topic:
            return 400, "BadTopic"
        if headers.get("apns-push-type") != "alert":
            return 400, "InvalidPushType"
        if headers.get("apns-priority") != "10":
            return 400, "BadPriority"
        if not headers.get("apns-expiration", "").isdigit():
            return 400, "BadExpirationDate"
        try:
            alert = json.loads(body)["aps"]["alert"]
            if not (isinstance(alert["title"], str)
                    and isinstance(alert["body"], str)):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return 400, "PayloadEmpty"
        return None

    def respond(self, h2c, sid, conn_id, headers, body):
        token = headers.get(":path", "")[len("/3/device/"):]
        bad = self.check(headers, body)
        rule = None if bad else self.book.answer(token)
        extra = []
        if bad:
            status, reason = bad
        elif rule:
            status = rule["status"]
            reason = rule.get("reason", {410: "Unregistered",
                                         429: "TooManyRequests"}.get(
                                             status, "InternalServerError"))
            if rule.get("retry_after") is not None:
                extra = [("retry-after", str(rule["retry_after"]))]
        else:
            status, reason = 200, None
        log(status, token, reason or "", body.decode(errors="replace"))
        self.book.record(status, token, conn_id)
        data = b"" if status == 200 else json.dumps(
            {"reason": reason, **({"timestamp": int(time.time() * 1000)}
                                  if status == 410 else {})}).encode()
        h2c.send_headers(sid, [(":status", str(status)),
                               ("apns-id", str(uuid.uuid4()))] + extra
                         + ([("content-type", "application/json"),
                             ("content-length", str(len(data)))]
                            if data else []),
                         end_stream=not data)
        if data:
            h2c.send_data(sid, data, end_stream=True)

    def serve(self, sock):
        conn_id = "c%d" % next(conn_ids)
        h2c = h2.connection.H2Connection(config=h2.config.H2Configuration(
            client_side=False, header_encoding="utf-8"))
        h2c.initiate_connection()
        sock.sendall(h2c.data_to_send())
        streams = {}
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                for ev in h2c.receive_data(data):
                    if isinstance(ev, h2.events.RequestReceived):
                        streams[ev.stream_id] = (dict(ev.headers), [])
                    elif isinstance(ev, h2.events.DataReceived):
                        streams[ev.stream_id][1].append(ev.data)
                        h2c.acknowledge_received_data(
                            ev.flow_controlled_length, ev.stream_id)
                    elif isinstance(ev, h2.events.StreamEnded):
                        headers, parts = streams.pop(ev.stream_id)
                        self.respond(h2c, ev.stream_id, conn_id, headers,
                                     b"".join(parts))
                    elif isinstance(ev, h2.events.ConnectionTerminated):
                        return
                sock.sendall(h2c.data_to_send())
        except (OSError, ssl.SSLError) as e:
            log("connection", conn_id, "ended:", e)
        finally:
            sock.close()


def main():
    p = argparse.ArgumentParser()
    for a in ("port", "cert", "key", "auth-pub", "key-id", "team-id",
              "topic", "rules", "records"):
        p.add_argument("--" + a, required=True)
    args = p.parse_args()
    apns = Apns(args)

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.set_alpn_protocols(["h2"])

    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(args.port)))
    srv.listen(16)
    log("listening on", args.port)

    while True:
        raw, _ = srv.accept()
        try:
            sock = ctx.wrap_socket(raw, server_side=True)
        except (OSError, ssl.SSLError) as e:
            log("handshake failed:", e)
            raw.close()
            continue
        if sock.selected_alpn_protocol() != "h2":
            log("client did not negotiate h2")
            sock.close()
            continue
        threading.Thread(target=apns.serve, args=(sock,), daemon=True).start()


if __name__ == "__main__":
    main()
