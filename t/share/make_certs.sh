#!/bin/sh
# Throwaway TLS for the share stand-ins, made at start (nothing secret is
# committed): a CA (the workers' PHOTO_SHARE_CA_FILE) and a certificate for
# 127.0.0.1 signed by it, good for two days.
#
#   make_certs.sh DIR
set -eu
mkdir -p "$1"
cd "$1"

openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt \
    -days 2 -subj /CN=photo-share-test-ca 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
    -subj /CN=127.0.0.1 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' > server.ext
openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial \
    -out server.crt -days 2 -extfile server.ext 2>/dev/null
rm -f server.csr server.ext ca.srl
