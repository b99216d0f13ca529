/*
 * Media: the sized copies the media worker makes of an upload (photo_media
 * jobs), where they are kept in the bucket, and the signed, expiring links
 * the API gives out for every picture.
 *
 * An upload is stored by nginx under photo_media_root as its media path,
 * "<aa>/<name>.<jpg|png>" (photos.media_path), and linked as
 * "<photo_media_url>/<media path>" (photos.image_url).  The media worker
 * puts it into the bucket unchanged under "original/<media path>", and
 * each size of photo_media_sizes under "<size>/<aa>/<name>.jpg": a JPEG of
 * quality PHOTO_MEDIA_QUALITY, turned as its EXIF orientation says and
 * with every metadata block (EXIF, GPS, XMP, ICC) left out.  A size's URL
 * is the same path under the image_url's prefix:
 * "<photo_media_url>/<size>/<aa>/<name>.jpg".  photos.images holds their
 * widths and heights once they exist (null before).
 *
 * A link is signed for nginx's secure_link:
 *
 *   <path>?e=<expires>&s=<base64url of MD5("<expires><path> <secret>")>
 *
 * (secure_link $arg_s,$arg_e; secure_link_md5 "$secure_link_expires$uri
 * $photo_media_link_secret").  Links are made when the photo object is,
 * not per read: a link given out is good for at least
 * PHOTO_MEDIA_LINK_PERIOD, and at most twice that.  The cached object
 * holding them expires in memcached before its links come within one
 * period of expiring (photo_media_cache_until()), and each photo's period
 * starts at its own offset, so that the cache's objects do not all expire
 * in the same second.
 *
 * A link posted to another service (the share worker: a Tweet, a Facebook
 * post) lives as long as the post may be read: PHOTO_MEDIA_SHARE_PERIOD
 * from the day it is made.  Anyone who reads the post sees the picture,
 * which its owner chose to share; deleting the photo removes the files.
 */

#ifndef PHOTO_MEDIA_H
#define PHOTO_MEDIA_H

#include <stddef.h>
#include <stdint.h>


#define PHOTO_MEDIA_LINK_PERIOD  86400      /* seconds */
#define PHOTO_MEDIA_SHARE_PERIOD (10 * 365 * 86400LL)   /* seconds */
#define PHOTO_MEDIA_QUALITY      85         /* JPEG, of the sized copies */

#define PHOTO_MEDIA_ORIGINAL     "original"  /* the bucket's prefix */

/* the link's query: its two arguments */
#define PHOTO_MEDIA_ARG_EXPIRES  "e"
#define PHOTO_MEDIA_ARG_SIGN     "s"

typedef struct {
    const char     *name;    /* the API's name and the bucket's prefix */
    int             width;   /* at most this wide (never made larger) */
    int             square;  /* 1: cropped to width x width, centred */
} photo_media_size_t;

#define PHOTO_MEDIA_SIZES  4

/* thumbnail 150 x 150, low 320, standard 640, full 1080 wide */
extern const photo_media_size_t  photo_media_sizes[PHOTO_MEDIA_SIZES];

/* the longest name of photo_media_sizes, for buffers */
#define PHOTO_MEDIA_SIZE_NAME_MAX  9

/*
 * The bucket's key (or, after a URL prefix and '/', the URL path) of size
 * s of the upload at media path mp: "<size>/<mp without its extension>.jpg";
 * s == -1: the original, "original/<mp>".  Into buf (NUL-terminated); its
 * length, or 0 when it does not fit or mp has no extension.
 */
size_t photo_media_key(char *buf, size_t size, const char *mp,
    size_t mp_len, int s);

/* the links of photo id made at now expire then */
int64_t photo_media_link_expires(int64_t id, int64_t now);

/* the cached object with them: until then (memcached's absolute exptime) */
int64_t photo_media_cache_until(int64_t id, int64_t now);

/* a signed link's room beyond its path */
#define PHOTO_MEDIA_LINK_EXTRA  (sizeof("?e=&s=") + 20 + 24)

/*
 * path signed as above into buf: "<path>?e=<expires>&s=<sign>"; its
 * length, or 0 when it does not fit or the digest failed.
 */
size_t photo_media_link(char *buf, size_t size, const char *path,
    size_t path_len, int64_t expires, const unsigned char *secret,
    size_t secret_len);

/*
 * The links' secret: the text of the file at path (nginx's
 * photo_media_link_secret_file, the workers' PHOTO_MEDIA_LINK_SECRET_FILE),
 * its trailing newline left out: 16 to PHOTO_MEDIA_SECRET_MAX printable
 * characters (no spaces), e.g. made with `openssl rand -hex 32`.  Its
 * length, or 0 (errno, or EINVAL when it is not that).
 */
#define PHOTO_MEDIA_SECRET_MIN  16
#define PHOTO_MEDIA_SECRET_MAX  256
size_t photo_media_secret_read(const char *path, unsigned char *secret);

#endif /* PHOTO_MEDIA_H */
