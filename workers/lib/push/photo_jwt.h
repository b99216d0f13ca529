/*
 * JSON Web Tokens for the push services (RFC 7519, compact form): APNs
 * wants an ES256 provider token, Google's OAuth endpoint an RS256
 * assertion.  The signing is OpenSSL's (EVP); the JSON is the caller's,
 * written with yajl.
 */

#ifndef PHOTO_JWT_H
#define PHOTO_JWT_H

#include <stddef.h>
#include <openssl/evp.h>

/* a PEM private key (PKCS#8, as Apple's .p8 and Google's JSON key hold) */
EVP_PKEY *photo_jwt_key_file(const char *path);
EVP_PKEY *photo_jwt_key_pem(const char *pem, size_t len);

/*
 * base64url(header) "." base64url(claims) "." base64url(signature), with
 * ES256 for an EC key and RS256 for an RSA key.  malloc'd, or NULL.
 */
char *photo_jwt_sign(EVP_PKEY *key, const unsigned char *header,
    size_t header_len, const unsigned char *claims, size_t claims_len);

#endif /* PHOTO_JWT_H */
