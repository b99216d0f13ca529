/* The photo object (see photo_object.h). */

#include "photo_object.h"
#include "photo_contract.h"
#include "photo_id.h"
#include "photo_media.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zlib.h>


#define photo_gen_lit(g, s)                                                  \
    yajl_gen_string(g, (const unsigned char *) s, sizeof(s) - 1)

#define photo_gen_try(expr)                                                  \
    do {                                                                     \
        yajl_gen_status  s_ = (expr);                                        \
        if (s_ != yajl_gen_status_ok) {                                      \
            return s_;                                                       \
        }                                                                    \
    } while (0)


static yajl_gen_status
photo_gen_id(yajl_gen g, int64_t id)
{
    char  buf[24];
    int   n;

    /* ids are strings: JSON numbers above 2^53 do not survive JavaScript */
    n = snprintf(buf, sizeof(buf), "%" PRId64, id);

    return yajl_gen_string(g, (const unsigned char *) buf, (size_t) n);
}


static yajl_gen_status
photo_gen_coord(yajl_gen g, double v)
{
    char  buf[32];
    int   n;

    /* %.10g: about 1 cm, without yajl's %.20g noise (48.85660000000000025) */
    n = snprintf(buf, sizeof(buf), "%.10g", v);

    return yajl_gen_number(g, buf, (size_t) n);
}


/* a link: path as is, or signed (photo_media.h) */
static yajl_gen_status
photo_gen_link(yajl_gen g, const photo_object_t *p, const char *path,
    size_t len)
{
    char    buf[PHOTO_OBJECT_LINK_MAX];
    size_t  n;

    if (p->link_secret == NULL) {
        return yajl_gen_string(g, (const unsigned char *) path, len);
    }

    n = photo_media_link(buf, sizeof(buf), path, len, p->link_expires,
                         p->link_secret, p->link_secret_len);
    if (n == 0) {
        return yajl_gen_invalid_string;
    }

    return yajl_gen_string(g, (const unsigned char *) buf, n);
}


/*
 * The URL path of size s (-1: the upload itself) into buf: the sized
 * copy's key under the prefix image_url has before the media path.
 */
static size_t
photo_object_size_path(char *buf, size_t size, const photo_object_t *p,
    int s)
{
    size_t  prefix, n;

    if (s < 0) {
        if (p->image_url_len >= size) {
            return 0;
        }

        memcpy(buf, p->image_url, p->image_url_len);
        return p->image_url_len;
    }

    if (p->media_path_len == 0 || p->image_url_len <= p->media_path_len
        || memcmp(p->image_url + p->image_url_len - p->media_path_len,
                  p->media_path, p->media_path_len) != 0)
    {
        return 0;
    }

    prefix = p->image_url_len - p->media_path_len;
    if (prefix >= size) {
        return 0;
    }

    memcpy(buf, p->image_url, prefix);
    n = photo_media_key(buf + prefix, size - prefix, p->media_path,
                        p->media_path_len, s);

    return n == 0 ? 0 : prefix + n;
}


static yajl_gen_status
photo_gen_images(yajl_gen g, const photo_object_t *p)
{
    int     s;
    char    path[PHOTO_OBJECT_LINK_MAX];
    size_t  n;

    photo_gen_try(photo_gen_lit(g, "images"));
    photo_gen_try(yajl_gen_map_open(g));

    for (s = 0; s < PHOTO_MEDIA_SIZES; s++) {
        n = photo_object_size_path(path, sizeof(path), p, s);
        if (n == 0) {
            return yajl_gen_invalid_string;
        }

        photo_gen_try(yajl_gen_string(g,
                          (const unsigned char *) photo_media_sizes[s].name,
                          strlen(photo_media_sizes[s].name)));
        photo_gen_try(yajl_gen_map_open(g));
        photo_gen_try(photo_gen_lit(g, "url"));
        photo_gen_try(photo_gen_link(g, p, path, n));
        photo_gen_try(photo_gen_lit(g, "width"));
        photo_gen_try(yajl_gen_integer(g, p->images[2 * s]));
        photo_gen_try(photo_gen_lit(g, "height"));
        photo_gen_try(yajl_gen_integer(g, p->images[2 * s + 1]));
        photo_gen_try(yajl_gen_map_close(g));
    }

    return yajl_gen_map_close(g);
}


int
photo_object_images(photo_object_t *p, const char *text, size_t len)
{
    int          v, n;
    const char  *c, *end;

    end = text + len;
    c = text;

    if (c == end || *c++ != '{') {
        return -1;
    }

    for (n = 0; n < 2 * PHOTO_MEDIA_SIZES; n++) {
        if (c == end || *c < '0' || *c > '9') {
            return -1;
        }

        for (v = 0; c < end && *c >= '0' && *c <= '9'; c++) {
            if (v > 100000) {
                return -1;
            }
            v = v * 10 + (*c - '0');
        }

        if (v == 0 || c == end
            || *c++ != (n == 2 * PHOTO_MEDIA_SIZES - 1 ? '}' : ','))
        {
            return -1;
        }

        p->images[n] = v;
    }

    if (c != end) {
        return -1;
    }

    p->has_images = 1;

    return 0;
}


size_t
photo_object_time(char *buf, int64_t seconds)
{
    time_t     t;
    struct tm  tm;

    t = (time_t) seconds;
    if (gmtime_r(&t, &tm) == NULL) {
        return 0;
    }

    return strftime(buf, PHOTO_OBJECT_TIME_LEN + 1, "%Y-%m-%dT%H:%M:%SZ",
                    &tm);
}


yajl_gen_status
photo_object_gen(yajl_gen g, const photo_object_t *p)
{
    int     images;
    char    stamp[PHOTO_OBJECT_TIME_LEN + 1];
    char    path[PHOTO_OBJECT_LINK_MAX];
    size_t  n, ns;

    ns = photo_object_time(stamp, p->created_at);
    if (ns == 0) {
        return yajl_gen_invalid_number;
    }

    /* valid UTF-8 by construction: readers trust the checksum, not a parse */
    if (!yajl_gen_config(g, yajl_gen_validate_utf8, 1)) {
        return yajl_gen_invalid_string;
    }

    photo_gen_try(yajl_gen_map_open(g));

    photo_gen_try(photo_gen_lit(g, "id"));
    photo_gen_try(photo_gen_id(g, p->id));

    photo_gen_try(photo_gen_lit(g, "user"));
    photo_gen_try(yajl_gen_map_open(g));
    photo_gen_try(photo_gen_lit(g, "id"));
    photo_gen_try(photo_gen_id(g, p->user_id));
    photo_gen_try(photo_gen_lit(g, "username"));
    photo_gen_try(yajl_gen_string(g, (const unsigned char *) p->username,
                                  p->username_len));
    photo_gen_try(yajl_gen_map_close(g));

    photo_gen_try(photo_gen_lit(g, "caption"));
    photo_gen_try(yajl_gen_string(g, (const unsigned char *) p->caption,
                                  p->caption_len));
    images = p->has_images
             && photo_object_size_path(path, sizeof(path), p,
                                       PHOTO_MEDIA_SIZES - 1) != 0;

    /* the largest size once there are sizes: stripped of its metadata */
    n = photo_object_size_path(path, sizeof(path), p,
                               images ? PHOTO_MEDIA_SIZES - 1 : -1);
    if (n == 0) {
        return yajl_gen_invalid_string;
    }

    photo_gen_try(photo_gen_lit(g, "image_url"));
    photo_gen_try(photo_gen_link(g, p, path, n));
    photo_gen_try(photo_gen_lit(g, "width"));
    photo_gen_try(yajl_gen_integer(g, p->width));
    photo_gen_try(photo_gen_lit(g, "height"));
    photo_gen_try(yajl_gen_integer(g, p->height));

    if (images) {
        photo_gen_try(photo_gen_images(g, p));
    }

    if (p->has_location) {
        photo_gen_try(photo_gen_lit(g, "lat"));
        photo_gen_try(photo_gen_coord(g, p->lat));
        photo_gen_try(photo_gen_lit(g, "lng"));
        photo_gen_try(photo_gen_coord(g, p->lng));
    }

    photo_gen_try(photo_gen_lit(g, "like_count"));
    photo_gen_try(yajl_gen_integer(g, p->like_count));
    photo_gen_try(photo_gen_lit(g, "comment_count"));
    photo_gen_try(yajl_gen_integer(g, p->comment_count));

    photo_gen_try(photo_gen_lit(g, "created_at"));
    photo_gen_try(yajl_gen_string(g, (const unsigned char *) stamp, ns));

    return yajl_gen_map_close(g);
}


uint32_t
photo_object_flags(const unsigned char *json, size_t len)
{
    uint32_t  crc;

    crc = (uint32_t) crc32(0L, json, (uInt) len);

    return (crc & ~(uint32_t) PHOTO_MC_KIND_MASK) | PHOTO_MC_FLAGS;
}


int
photo_object_check(const unsigned char *json, size_t len, int64_t id,
    uint32_t flags, yajl_alloc_funcs *afs)
{
    int                   ok;
    size_t                n;
    int64_t               got;
    yajl_handle           h;
    const unsigned char  *q;

    if ((flags & PHOTO_MC_KIND_MASK) != PHOTO_MC_FLAGS) {
        return 0;
    }

    /* {"id":"<id>" first, as photo_object_gen() writes it: the id read
       (one rule, photo_id_parse()) rather than printed, a page asks 20 */
    n = sizeof("{\"id\":\"") - 1;

    if (len <= n + 2 || memcmp(json, "{\"id\":\"", n) != 0
        || json[len - 1] != '}')
    {
        return 0;
    }

    q = memchr(json + n, '"', len - n);

    /* as written: no leading zero (the list's padded form has them) */
    if (q == NULL || json[n] == '0'
        || photo_id_parse((const char *) json + n, (size_t) (q - json) - n,
                          &got) != 0
        || got != id)
    {
        return 0;
    }

    if (flags != PHOTO_MC_FLAGS) {
        /* the checksum: the bytes photo_object_gen() wrote, or not */
        return photo_object_flags(json, len) == flags;
    }

    /* no checksum: no callbacks, yajl only validates (syntax and UTF-8) */
    h = yajl_alloc(NULL, afs, NULL);
    if (h == NULL) {
        return 0;
    }

    ok = yajl_parse(h, json, len) == yajl_status_ok
         && yajl_complete_parse(h) == yajl_status_ok;

    yajl_free(h);

    return ok;
}
