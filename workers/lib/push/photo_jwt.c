/* JSON Web Tokens, ES256 and RS256 (see photo_jwt.h). */

#include "photo_jwt.h"
#include "photo_base64url.h"
#include "photo_log.h"

#include <openssl/bio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define PHOTO_JWT_ES256_PART  32            /* P-256: r and s, 32 bytes */


static int photo_jwt_es256_raw(const unsigned char *der, size_t der_len,
    unsigned char *raw);


EVP_PKEY *
photo_jwt_key_file(const char *path)
{
    FILE      *f;
    EVP_PKEY  *key;

    f = fopen(path, "r");
    if (f == NULL) {
        photo_log_error("jwt: cannot open key %s", path);
        return NULL;
    }

    key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
    fclose(f);

    if (key == NULL) {
        photo_log_error("jwt: %s is not a PEM private key: %s", path,
                        ERR_reason_error_string(ERR_get_error()));
    }

    return key;
}


EVP_PKEY *
photo_jwt_key_pem(const char *pem, size_t len)
{
    BIO       *bio;
    EVP_PKEY  *key;

    bio = BIO_new_mem_buf(pem, (int) len);
    if (bio == NULL) {
        return NULL;
    }

    key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
    BIO_free(bio);

    if (key == NULL) {
        photo_log_error("jwt: not a PEM private key: %s",
                        ERR_reason_error_string(ERR_get_error()));
    }

    return key;
}


char *
photo_jwt_sign(EVP_PKEY *key, const unsigned char *header,
    size_t header_len, const unsigned char *claims, size_t claims_len)
{
    int             es256;
    char           *jwt, *p;
    size_t          sig_len, input_len;
    EVP_MD_CTX     *md;
    unsigned char  *sig, raw[2 * PHOTO_JWT_ES256_PART];

    es256 = EVP_PKEY_base_id(key) == EVP_PKEY_EC;

    /* base64 grows 3 bytes into 4; the signature is at most the key's size */
    jwt = malloc((header_len + claims_len + EVP_PKEY_size(key)) * 4 / 3 + 16);
    sig = malloc(EVP_PKEY_size(key));
    md = EVP_MD_CTX_new();

    if (jwt == NULL || sig == NULL || md == NULL) {
        goto failed;
    }

    p = jwt;
    p += photo_base64url_encode(p, header, header_len);
    *p++ = '.';
    p += photo_base64url_encode(p, claims, claims_len);
    input_len = (size_t) (p - jwt);

    sig_len = EVP_PKEY_size(key);

    if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key) != 1
        || EVP_DigestSign(md, sig, &sig_len, (unsigned char *) jwt,
                          input_len) != 1)
    {
        photo_log_error("jwt: signing failed: %s",
                        ERR_reason_error_string(ERR_get_error()));
        goto failed;
    }

    *p++ = '.';

    if (es256) {
        /* OpenSSL writes ECDSA-Sig-Value (DER); JOSE wants r || s */
        if (photo_jwt_es256_raw(sig, sig_len, raw) != 0) {
            goto failed;
        }

        p += photo_base64url_encode(p, raw, sizeof(raw));

    } else {
        p += photo_base64url_encode(p, sig, sig_len);
    }

    *p = '\0';

    EVP_MD_CTX_free(md);
    free(sig);

    return jwt;

failed:

    EVP_MD_CTX_free(md);
    free(sig);
    free(jwt);

    return NULL;
}


static int
photo_jwt_es256_raw(const unsigned char *der, size_t der_len,
    unsigned char *raw)
{
    int                   rc;
    ECDSA_SIG            *sig;
    const BIGNUM         *r, *s;
    const unsigned char  *p;

    p = der;
    sig = d2i_ECDSA_SIG(NULL, &p, (long) der_len);
    if (sig == NULL) {
        photo_log_error("jwt: the ECDSA signature is not DER");
        return -1;
    }

    ECDSA_SIG_get0(sig, &r, &s);

    rc = BN_bn2binpad(r, raw, PHOTO_JWT_ES256_PART) == PHOTO_JWT_ES256_PART
         && BN_bn2binpad(s, raw + PHOTO_JWT_ES256_PART, PHOTO_JWT_ES256_PART)
            == PHOTO_JWT_ES256_PART
         ? 0 : -1;

    ECDSA_SIG_free(sig);

    if (rc != 0) {
        photo_log_error("jwt: the key is not P-256");
    }

    return rc;
}
