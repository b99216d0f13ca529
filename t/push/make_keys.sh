#!/bin/sh
# Throwaway keys for the push tests, made at test time (nothing secret is
# committed): a CA and the APNs stand-in's TLS certificate for 127.0.0.1,
# an APNs team key (P-256, PKCS#8 like Apple's .p8) and a Google service
# account (RSA 2048, in the JSON key file's own shape).
#
#   make_keys.sh DIR FCM_PORT
set -eu
dir=$1
port=$2
cd "$dir"

openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt \
    -days 2 -subj /CN=photo-push-test-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
    -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -out server.crt -days 2 -extfile server.ext 2>/dev/null

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out apns.p8
openssl pkey -in apns.p8 -pubout -out apns.pub

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out fcm.key 2>/dev/null
openssl pkey -in fcm.key -pubout -out fcm.pub

/usr/bin/python3 - "$port" <<'PY'
import json, sys
port = sys.argv[1]
with open("fcm.key") as f:
    key = f.read()
json.dump({"type": "service_account", "project_id": "photo-test",
           "private_key_id": "test", "private_key": key,
           "client_email": "push@photo-test.iam.gserviceaccount.com",
           "token_uri": "http://127.0.0.1:%s/token" % port},
          open("fcm.json", "w"))
PY
echo '{}' > rules.json
