#!/usr/bin/python3
"""The stand-ins' own negative controls, so that a passing push test means
the worker's JWTs were really verified: a provider token or an OAuth
assertion signed with another key is refused, and so are a wrong topic
and a missing bearer token; the right key is accepted.  Exit status 0
when every check holds.  (HTTP/2 through the curl CLI, as the worker's
libcurl speaks it.)

  check_standins.py APNS_PORT FCM_PORT KEYS_DIR
"""

import base64
import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

apns_port, fcm_port, keys = sys.argv[1], sys.argv[2], sys.argv[3]
failed = 0


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def jwt(header, claims, sign):
    signed = b64(json.dumps(header).encode()) + "." \
        + b64(json.dumps(claims).encode())
    return signed + "." + b64(sign(signed.encode()))


def es256(key):
    def sign(data):
        r, s = utils.decode_dss_signature(key.sign(data,
                                                   ec.ECDSA(hashes.SHA256())))
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")
    return sign


def rs256(key):
    return lambda data: key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def check(what, got, want):
    global failed
    ok = got == want
    failed += not ok
    print("#  %s %s: %r%s" % ("ok" if ok else "NOT OK", what, got,
                              "" if ok else " (wanted %r)" % (want,)))


def apns(token, topic="com.example.photo"):
    out = subprocess.run(
        ["curl", "-s", "--http2", "--cacert", keys + "/ca.crt",
         "-o", "-", "-w", " %{http_code}",
         "-H", "authorization: bearer " + token,
         "-H", "apns-topic: " + topic, "-H", "apns-push-type: alert",
         "-H", "apns-priority: 10", "-H", "apns-expiration: 0",
         "--data", '{"aps":{"alert":{"title":"t","body":"b"}}}',
         "https://127.0.0.1:%s/3/device/selfcheck" % apns_port],
        capture_output=True, text=True, timeout=10).stdout
    body, _, status = out.rpartition(" ")
    return int(status), json.loads(body).get("reason") if body else None


def post(url, data, headers):
    req = urllib.request.Request(url, data=data, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


now = int(time.time())
with open(keys + "/apns.p8", "rb") as f:
    team_key = serialization.load_pem_private_key(f.read(), None)
other_ec = ec.generate_private_key(ec.SECP256R1())
hdr = {"alg": "ES256", "kid": "KEY123"}
claims = {"iss": "TEAM456", "iat": now}

check("apns: a provider token signed with another key",
      apns(jwt(hdr, claims, es256(other_ec))), (403, "InvalidProviderToken"))
check("apns: another team", apns(jwt(hdr, {"iss": "X", "iat": now},
                                     es256(team_key))),
      (403, "InvalidProviderToken"))
check("apns: a token older than an hour",
      apns(jwt(hdr, {"iss": "TEAM456", "iat": now - 4000},
               es256(team_key))), (403, "ExpiredProviderToken"))
check("apns: another topic", apns(jwt(hdr, claims, es256(team_key)),
                                  topic="com.example.other"),
      (400, "BadTopic"))
check("apns: the team key, right topic",
      apns(jwt(hdr, claims, es256(team_key))), (200, None))

with open(keys + "/fcm.json") as f:
    sa = json.load(f)
sa_key = serialization.load_pem_private_key(sa["private_key"].encode(), None)
other_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
assertion = {"iss": sa["client_email"],
             "scope": "https://www.googleapis.com/auth/firebase.messaging",
             "aud": sa["token_uri"], "iat": now, "exp": now + 3600}
form = {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer"}
ctype = {"Content-Type": "application/x-www-form-urlencoded"}


def grant(sign, claims_=assertion):
    data = dict(form, assertion=jwt({"alg": "RS256", "typ": "JWT"}, claims_,
                                    sign))
    return post(sa["token_uri"], urllib.parse.urlencode(data).encode(),
                ctype)


status, answer = grant(rs256(other_rsa))
check("fcm: an assertion signed with another key",
      (status, answer.get("error")), (400, "invalid_grant"))
status, answer = grant(rs256(sa_key), dict(assertion, scope="other"))
check("fcm: another scope", (status, answer.get("error")),
      (400, "invalid_grant"))
send = "http://127.0.0.1:%s/v1/projects/%s/messages:send" % (
    fcm_port, sa["project_id"])
msg = json.dumps({"message": {"token": "selfcheck", "notification": {
    "title": "t", "body": "b"}}}).encode()
status, answer = post(send, msg, {"Content-Type": "application/json"})
check("fcm: messages:send without a bearer token",
      (status, answer["error"]["status"]), (401, "UNAUTHENTICATED"))
status, answer = grant(rs256(sa_key))
check("fcm: the service account's key", status, 200)
status, answer = post(send, msg, {
    "Content-Type": "application/json",
    "Authorization": "Bearer " + answer.get("access_token", "")})
check("fcm: messages:send with its access token", status, 200)

sys.exit(1 if failed else 0)
