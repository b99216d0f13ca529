/* Media: sizes, bucket keys and signed links (see photo_media.h). */

#include "photo_media.h"
#include "photo_base64url.h"

#include <errno.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>


const photo_media_size_t  photo_media_sizes[PHOTO_MEDIA_SIZES] = {
    { "thumbnail", 150, 1 },
    { "low", 320, 0 },
    { "standard", 640, 0 },
    { "full", 1080, 0 },
};


size_t
photo_media_key(char *buf, size_t size, const char *mp, size_t mp_len, int s)
{
    int          n;
    const char  *dot;

    if (s < 0) {
        n = snprintf(buf, size, PHOTO_MEDIA_ORIGINAL "/%.*s", (int) mp_len,
                     mp);

    } else {
        dot = NULL;
        for (size_t i = mp_len; i > 0; i--) {
            if (mp[i - 1] == '.') {
                dot = mp + i - 1;
                break;
            }

            if (mp[i - 1] == '/') {
                break;
            }
        }

        if (dot == NULL || s >= PHOTO_MEDIA_SIZES) {
            return 0;
        }

        n = snprintf(buf, size, "%s/%.*s.jpg", photo_media_sizes[s].name,
                     (int) (dot - mp), mp);
    }

    return n < 0 || (size_t) n >= size ? 0 : (size_t) n;
}


/* each photo's periods start at its own offset into the day */
static int64_t
photo_media_period_end(int64_t id, int64_t now)
{
    int64_t  offset;

    offset = (int64_t) ((uint64_t) id % PHOTO_MEDIA_LINK_PERIOD);

    return ((now + offset) / PHOTO_MEDIA_LINK_PERIOD + 1)
           * PHOTO_MEDIA_LINK_PERIOD - offset;
}


int64_t
photo_media_link_expires(int64_t id, int64_t now)
{
    /* made at any time of a period: the same links (a rewrite of the
       object, its counts, changes no bytes of them) */
    return photo_media_period_end(id, now) + PHOTO_MEDIA_LINK_PERIOD;
}


int64_t
photo_media_cache_until(int64_t id, int64_t now)
{
    return photo_media_period_end(id, now);
}


size_t
photo_media_link(char *buf, size_t size, const char *path, size_t path_len,
    int64_t expires, const unsigned char *secret, size_t secret_len)
{
    int            n;
    char           e[24];
    size_t         m;
    unsigned int   dlen;
    unsigned char  digest[EVP_MAX_MD_SIZE];
    EVP_MD_CTX    *md;

    n = snprintf(e, sizeof(e), "%" PRId64, expires);
    if (n < 0 || (size_t) n >= sizeof(e)) {
        return 0;
    }

    md = EVP_MD_CTX_new();
    if (md == NULL) {
        return 0;
    }

    /* secure_link_md5 "$secure_link_expires$uri $photo_media_link_secret" */
    if (EVP_DigestInit_ex(md, EVP_md5(), NULL) != 1
        || EVP_DigestUpdate(md, e, (size_t) n) != 1
        || EVP_DigestUpdate(md, path, path_len) != 1
        || EVP_DigestUpdate(md, " ", 1) != 1
        || EVP_DigestUpdate(md, secret, secret_len) != 1
        || EVP_DigestFinal_ex(md, digest, &dlen) != 1)
    {
        EVP_MD_CTX_free(md);
        return 0;
    }

    EVP_MD_CTX_free(md);

    /* the encoder writes its padding and a NUL too */
    if (path_len + sizeof("?e=&s=") - 1 + (size_t) n
        + PHOTO_BASE64URL_BUF(dlen) > size)
    {
        return 0;
    }

    memcpy(buf, path, path_len);
    m = path_len;
    memcpy(buf + m, "?" PHOTO_MEDIA_ARG_EXPIRES "=", 3);
    m += 3;
    memcpy(buf + m, e, (size_t) n);
    m += (size_t) n;
    memcpy(buf + m, "&" PHOTO_MEDIA_ARG_SIGN "=", 3);
    m += 3;

    return m + photo_base64url_encode(buf + m, digest, dlen);
}


size_t
photo_media_secret_read(const char *path, unsigned char *secret)
{
    int     err;
    FILE   *f;
    size_t  n, i;
    unsigned char  buf[PHOTO_MEDIA_SECRET_MAX + 3];

    f = fopen(path, "rb");
    if (f == NULL) {
        return 0;
    }

    n = fread(buf, 1, sizeof(buf), f);
    err = ferror(f) ? EIO : 0;
    fclose(f);

    if (err) {
        errno = err;
        return 0;
    }

    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r')) {
        n--;
    }

    for (i = 0; i < n; i++) {
        if (buf[i] <= ' ' || buf[i] >= 0x7f) {
            break;
        }
    }

    if (i < n || n < PHOTO_MEDIA_SECRET_MIN || n > PHOTO_MEDIA_SECRET_MAX) {
        errno = EINVAL;
        return 0;
    }

    memcpy(secret, buf, n);

    return n;
}
