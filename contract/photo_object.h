/*
 * The photo object: one JSON object per photo, exactly as the API returns it
 * and as memcached caches it under PHOTO_MC_PHOTO<id>.  Generated here and
 * only here, by the workers (on persist) and the module (on a cache miss).
 *
 *   {"id":"<id>","user":{"id":"<user id>","username":"..."},
 *    "caption":"...","image_url":"...","width":W,"height":H,
 *    ["images":{"thumbnail":{"url":"...","width":W,"height":H},
 *               "low":{...},"standard":{...},"full":{...}},]
 *    ["lat":LAT,"lng":LNG,]"like_count":L,"comment_count":C,
 *    "created_at":"YYYY-MM-DDTHH:MM:SSZ"}
 *
 * "images" once the media worker made the sized copies (photo_media.h);
 * "image_url" is then the "full" one's, before it the upload's.  The
 * links are signed (photo_media_link()) when a secret is given, and the
 * object is cached until photo_media_cache_until().
 *
 * The counts change (photo_like, photo_comment: the workers rewrite the
 * object by compare-and-swap); the rest never does.  A signed-in reader's
 * "liked" is not in it: the module adds it to the copy it sends.
 *
 * "id" comes first, so a reader can check a cached value is the photo it
 * asked for without parsing it into a tree.
 */

#ifndef PHOTO_OBJECT_H
#define PHOTO_OBJECT_H

#include <stddef.h>
#include <stdint.h>
#include <yajl/yajl_gen.h>
#include <yajl/yajl_parse.h>

#include "photo_media.h"


/* the longest link (image_url and the sizes' urls, signed) it writes */
#define PHOTO_OBJECT_LINK_MAX  1024

typedef struct {
    int64_t         id;
    int64_t         user_id;
    const char     *username;
    size_t          username_len;
    const char     *caption;
    size_t          caption_len;
    const char     *image_url;
    size_t          image_url_len;
    int             width;
    int             height;
    int             has_location;
    double          lat;
    double          lng;
    int64_t         like_count;
    int64_t         comment_count;
    int64_t         created_at;     /* seconds since the Unix epoch */

    /* the upload's media path: the sized copies' links are made from it */
    const char     *media_path;
    size_t          media_path_len;
    /* the sized copies exist: each one's width and height in images,
       photo_media_sizes' order */
    int             has_images;
    int             images[2 * PHOTO_MEDIA_SIZES];
    /* NULL: links unsigned; else signed to expire at link_expires */
    const unsigned char  *link_secret;
    size_t          link_secret_len;
    int64_t         link_expires;
} photo_object_t;


/*
 * Writes the object with g, which it sets to check UTF-8 (so whatever it
 * writes is valid JSON); anything but yajl_gen_status_ok is an error.
 */
yajl_gen_status photo_object_gen(yajl_gen g, const photo_object_t *p);

/*
 * The memcached flags to store an object's bytes with: PHOTO_MC_FLAGS in
 * the low byte, and above it the top 24 bits of the bytes' CRC-32 (zlib's).
 * A reader whose value matches them has the bytes a writer made with
 * photo_object_gen(), and need not parse them again (a yajl pass cost a
 * feed read without photo_object_cache a quarter of nginx's time).
 */
uint32_t photo_object_flags(const unsigned char *json, size_t len);

/*
 * Postgres's text form of photos.images, "{w,h,w,h,...}", into p (its
 * has_images and images); 0, or -1 when it is not that.
 */
int photo_object_images(photo_object_t *p, const char *text, size_t len);

/*
 * The API's times ("created_at" of photos, comments, activity entries):
 * Unix seconds as YYYY-MM-DDTHH:MM:SSZ into buf (PHOTO_OBJECT_TIME_LEN + 1
 * bytes, NUL-terminated); its length, or 0 for a time gmtime cannot take.
 */
#define PHOTO_OBJECT_TIME_LEN  20
size_t photo_object_time(char *buf, int64_t seconds);

/*
 * A cached value is usable when it starts with {"id":"<id>" and ends with
 * '}', and either its flags are photo_object_flags() of its bytes, or
 * they are PHOTO_MC_FLAGS alone (written before the checksum, or a CRC
 * whose top bits are 0) and yajl finds it one complete JSON value.  afs
 * may be NULL (malloc).  1 usable, 0 not.
 */
int photo_object_check(const unsigned char *json, size_t len, int64_t id,
    uint32_t flags, yajl_alloc_funcs *afs);

#endif /* PHOTO_OBJECT_H */
