/* Sealed credentials (photo_secret.h). */

#include "photo_secret.h"
#include "photo_base64url.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


static int photo_secret_decode(const char *in, size_t len,
    unsigned char *out);


int
photo_secret_key(const char *path, unsigned char *key)
{
    int             ok;
    size_t          n, total;
    FILE           *f;
    EVP_MD_CTX     *md;
    unsigned char   buf[4096];

    f = fopen(path, "rb");
    md = EVP_MD_CTX_new();

    ok = f != NULL && md != NULL
         && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1;
    total = 0;

    while (ok && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
        ok = EVP_DigestUpdate(md, buf, n) == 1;
        total += n;
    }

    ok = ok && !ferror(f) && total > 0
         && EVP_DigestFinal_ex(md, key, NULL) == 1;

    if (f) {
        fclose(f);
    }

    EVP_MD_CTX_free(md);

    return ok ? 0 : -1;
}


int
photo_secret_seal(const unsigned char *key, const char *ad,
    const unsigned char *in, size_t len, char *out)
{
    int              n, ok;
    unsigned char   *raw, *p;
    EVP_CIPHER_CTX  *ctx;

    if (len > PHOTO_SECRET_MAX) {
        return -1;
    }

    raw = malloc(PHOTO_SECRET_NONCE_LEN + len + PHOTO_SECRET_TAG_LEN);
    ctx = EVP_CIPHER_CTX_new();

    ok = raw != NULL && ctx != NULL
         && RAND_bytes(raw, PHOTO_SECRET_NONCE_LEN) == 1
         && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw) == 1
         && EVP_EncryptUpdate(ctx, NULL, &n, (const unsigned char *) ad,
                              (int) strlen(ad)) == 1;

    p = raw + PHOTO_SECRET_NONCE_LEN;

    ok = ok && EVP_EncryptUpdate(ctx, p, &n, in, (int) len) == 1
         && EVP_EncryptFinal_ex(ctx, p + n, &n) == 1
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG,
                                PHOTO_SECRET_TAG_LEN, p + len) == 1;

    n = ok ? (int) photo_base64url_encode(out, raw, PHOTO_SECRET_NONCE_LEN
                                                   + len
                                                   + PHOTO_SECRET_TAG_LEN)
           : -1;

    EVP_CIPHER_CTX_free(ctx);
    free(raw);

    return n;
}


int
photo_secret_open(const unsigned char *key, const char *ad,
    const char *sealed, size_t len, unsigned char *out)
{
    int              n, m, ok, plain;
    unsigned char   *raw;
    EVP_CIPHER_CTX  *ctx;

    if (len > photo_secret_sealed_buf(PHOTO_SECRET_MAX)) {
        return -1;
    }

    raw = malloc(len + 3);
    if (raw == NULL) {
        return -1;
    }

    n = photo_secret_decode(sealed, len, raw);
    plain = n - PHOTO_SECRET_NONCE_LEN - PHOTO_SECRET_TAG_LEN;

    if (n < 0 || plain < 0) {
        free(raw);
        return -1;
    }

    ctx = EVP_CIPHER_CTX_new();

    ok = ctx != NULL
         && EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, raw) == 1
         && EVP_DecryptUpdate(ctx, NULL, &m, (const unsigned char *) ad,
                              (int) strlen(ad)) == 1
         && EVP_DecryptUpdate(ctx, out, &m, raw + PHOTO_SECRET_NONCE_LEN,
                              plain) == 1
         && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG,
                                PHOTO_SECRET_TAG_LEN,
                                raw + PHOTO_SECRET_NONCE_LEN + plain) == 1
         /* the tag is checked here: another key, ad or a changed byte */
         && EVP_DecryptFinal_ex(ctx, out + m, &m) == 1;

    EVP_CIPHER_CTX_free(ctx);
    free(raw);

    return ok ? plain : -1;
}


/* base64url without padding -> bytes (OpenSSL's decoder, on the standard
   alphabet with its padding put back); their number, or -1 */
static int
photo_secret_decode(const char *in, size_t len, unsigned char *out)
{
    int      n;
    char    *b64;
    size_t   i, pad;

    if (len % 4 == 1) {
        return -1;
    }

    pad = (4 - len % 4) % 4;

    b64 = malloc(len + pad + 1);
    if (b64 == NULL) {
        return -1;
    }

    for (i = 0; i < len; i++) {
        if (!photo_base64url_char((unsigned char) in[i])) {
            free(b64);
            return -1;
        }

        b64[i] = in[i] == '-' ? '+' : in[i] == '_' ? '/' : in[i];
    }

    memset(b64 + len, '=', pad);
    b64[len + pad] = '\0';

    n = EVP_DecodeBlock(out, (unsigned char *) b64, (int) (len + pad));
    free(b64);

    /* EVP_DecodeBlock counts the padding's bytes as zeros */
    return n < 0 ? -1 : n - (int) pad;
}
