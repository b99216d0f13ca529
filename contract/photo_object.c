/* The photo object (see photo_object.h). */

#include "photo_object.h"
#include "photo_contract.h"
#include "photo_id.h"

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
    char    stamp[PHOTO_OBJECT_TIME_LEN + 1];
    size_t  n;

    n = photo_object_time(stamp, p->created_at);
    if (n == 0) {
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
    photo_gen_try(photo_gen_lit(g, "image_url"));
    photo_gen_try(yajl_gen_string(g, (const unsigned char *) p->image_url,
                                  p->image_url_len));
    photo_gen_try(photo_gen_lit(g, "width"));
    photo_gen_try(yajl_gen_integer(g, p->width));
    photo_gen_try(photo_gen_lit(g, "height"));
    photo_gen_try(yajl_gen_integer(g, p->height));

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
    photo_gen_try(yajl_gen_string(g, (const unsigned char *) stamp, n));

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
