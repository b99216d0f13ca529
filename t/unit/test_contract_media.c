
/*
 * Unit tests of the pictures' contract (contract/photo_media.h): the
 * bucket's keys, the signed links (against a digest made outside, by
 * Python's hashlib, of the documented string), when they expire and how
 * long an object holding them is cached, and the photo object with its
 * sizes.
 */

#define _GNU_SOURCE  /* memmem */

#include "photo_media.h"
#include "photo_object.h"
#include "t_tap.h"

#include <stdio.h>
#include <string.h>
#include <yajl/yajl_gen.h>


static void
t_keys(void)
{
    char    buf[128];
    size_t  n;

    n = photo_media_key(buf, sizeof(buf), "ab/cdef.png", 11, -1);
    t_ok(n == 20 && strcmp(buf, "original/ab/cdef.png") == 0,
         "the upload's key: original/<media path>");

    n = photo_media_key(buf, sizeof(buf), "ab/cdef.png", 11, 0);
    t_ok(n && strcmp(buf, "thumbnail/ab/cdef.jpg") == 0,
         "a size's key: <size>/<path without its extension>.jpg");

    n = photo_media_key(buf, sizeof(buf), "ab/cdef.jpg", 11, 3);
    t_ok(n && strcmp(buf, "full/ab/cdef.jpg") == 0, "the full size's");

    t_ok(photo_media_key(buf, sizeof(buf), "ab/cdef", 7, 1) == 0,
         "a media path without an extension has no sizes");
    t_ok(photo_media_key(buf, sizeof(buf), "a.b/cdef", 8, 1) == 0,
         "a dot of a folder is not an extension");
    t_ok(photo_media_key(buf, 10, "ab/cdef.png", 11, 2) == 0,
         "a buffer too small: 0, not a key cut short");
    t_ok(photo_media_key(buf, sizeof(buf), "ab/cdef.png", 11, 4) == 0,
         "no size beyond the table");
}


static void
t_links(void)
{
    char           buf[256];
    size_t         n;
    const char    *want;
    const unsigned char  secret[] = "0123456789abcdef0123";

    /* python3: base64.urlsafe_b64encode(hashlib.md5(
       b'1790086400/media/ab/cdef.png 0123456789abcdef0123').digest()) */
    want = "/media/ab/cdef.png?e=1790086400&s=A8W03K5AxZvstcK6t4pA6A";

    n = photo_media_link(buf, sizeof(buf), "/media/ab/cdef.png", 18,
                         1790086400, secret, sizeof(secret) - 1);
    t_ok(n == strlen(want) && strcmp(buf, want) == 0,
         "a link is signed as secure_link_md5 "
         "\"$secure_link_expires$uri $secret\" checks it");

    t_ok(photo_media_link(buf, strlen(want), "/media/ab/cdef.png", 18,
                          1790086400, secret, sizeof(secret) - 1) == 0,
         "a buffer one byte too small: 0");
}


static void
t_expiry(void)
{
    int      ok_window, ok_same, ok_cache;
    int64_t  id, now, e, e2, until;

    ok_window = ok_same = ok_cache = 1;

    for (id = 7000000000000000000LL; id < 7000000000000000000LL + 500;
         id += 37)
    {
        for (now = 1790000000; now < 1790000000 + 3 * PHOTO_MEDIA_LINK_PERIOD;
             now += 3571)
        {
            e = photo_media_link_expires(id, now);
            until = photo_media_cache_until(id, now);

            if (e - now < PHOTO_MEDIA_LINK_PERIOD
                || e - now > 2 * PHOTO_MEDIA_LINK_PERIOD)
            {
                ok_window = 0;
            }

            /* cached while its links have a period left at least */
            if (until <= now || e - until < PHOTO_MEDIA_LINK_PERIOD) {
                ok_cache = 0;
            }

            /* made again before the cache expires: the same links */
            e2 = photo_media_link_expires(id, until - 1);
            if (e2 != e) {
                ok_same = 0;
            }
        }
    }

    t_ok(ok_window, "a link given out is good for one to two periods");
    t_ok(ok_cache, "its object is cached while its links have a period "
                   "left");
    t_ok(ok_same, "an object made again while cached has the same links");
    t_ok(photo_media_cache_until(7000000000000000000LL, 1790000000)
         != photo_media_cache_until(7000000000000000001LL, 1790000000),
         "two photos' objects do not expire in the same second");
}


static void
t_object(void)
{
    char                  want[512];
    size_t                len;
    yajl_gen              g;
    photo_object_t        o;
    const unsigned char  *out;
    static const char     sizes[] = "{150,150,320,400,640,800,1080,1350}";

    memset(&o, 0, sizeof(o));
    t_ok(photo_object_images(&o, sizes, sizeof(sizes) - 1) == 0
         && o.has_images && o.images[0] == 150 && o.images[7] == 1350,
         "photos.images as Postgres writes it");
    t_ok(photo_object_images(&o, "{150,150}", 9) == -1
         && photo_object_images(&o, "{1,2,3,4,5,6,7,8,9}", 19) == -1
         && photo_object_images(&o, "{0,150,320,400,640,800,1080,1350}", 34)
            == -1
         && photo_object_images(&o, "{150,150,320,400,640,800,1080,1350", 34)
            == -1,
         "and nothing else");

    o.id = 7000000000000000001LL;
    o.user_id = 42;
    o.username = "ann";
    o.username_len = 3;
    o.caption = "";
    o.image_url = "/media/ab/cdef.png";
    o.image_url_len = 18;
    o.media_path = "ab/cdef.png";
    o.media_path_len = 11;
    o.width = 1620;
    o.height = 2025;
    o.created_at = 1790000000;

    g = yajl_gen_alloc(NULL);
    t_ok(photo_object_gen(g, &o) == yajl_gen_status_ok
         && yajl_gen_get_buf(g, &out, &len) == yajl_gen_status_ok,
         "an object with sizes is written");
    snprintf(want, sizeof(want),
             "\"image_url\":\"/media/full/ab/cdef.jpg\",\"width\":1620,"
             "\"height\":2025,\"images\":{\"thumbnail\":{\"url\":"
             "\"/media/thumbnail/ab/cdef.jpg\",\"width\":150,\"height\":150},"
             "\"low\":{\"url\":\"/media/low/ab/cdef.jpg\",\"width\":320,"
             "\"height\":400},");
    t_ok(g && memmem(out, len, want, strlen(want)) != NULL,
         "image_url is the full size's, and each size has its url, width "
         "and height");
    yajl_gen_free(g);

    o.has_images = 0;
    o.link_secret = (const unsigned char *) "0123456789abcdef0123";
    o.link_secret_len = 20;
    o.link_expires = 1790086400;
    g = yajl_gen_alloc(NULL);
    t_ok(photo_object_gen(g, &o) == yajl_gen_status_ok
         && yajl_gen_get_buf(g, &out, &len) == yajl_gen_status_ok
         && memmem(out, len, "\"image_url\":\"/media/ab/cdef.png?e=1790086400"
                   "&s=A8W03K5AxZvstcK6t4pA6A\"", 69) != NULL
         && memmem(out, len, "\"images\"", 8) == NULL,
         "without sizes: the upload's link, signed");
    yajl_gen_free(g);

    o.has_images = 1;
    o.media_path = "zz/other.png";
    o.media_path_len = 12;
    g = yajl_gen_alloc(NULL);
    t_ok(photo_object_gen(g, &o) == yajl_gen_status_ok
         && yajl_gen_get_buf(g, &out, &len) == yajl_gen_status_ok
         && memmem(out, len, "\"images\"", 8) == NULL,
         "an image_url that is not of its media path: no sizes made up");
    yajl_gen_free(g);
}


int
main(void)
{
    t_keys();
    t_links();
    t_expiry();
    t_object();

    return t_done();
}
