
/*
 * JPEG and PNG headers (see ngx_photo_image.h).
 */

#include "ngx_photo_image.h"

#include <string.h>


static ngx_photo_image_rc_e ngx_photo_image_png(const unsigned char *p,
    size_t len, ngx_photo_image_t *img);
static ngx_photo_image_rc_e ngx_photo_image_jpeg(const unsigned char *p,
    size_t len, ngx_photo_image_t *img);


static uint32_t
ngx_photo_be32(const unsigned char *p)
{
    return ((uint32_t) p[0] << 24) | ((uint32_t) p[1] << 16)
           | ((uint32_t) p[2] << 8) | p[3];
}


ngx_photo_image_rc_e
ngx_photo_image_probe(const unsigned char *p, size_t len,
    ngx_photo_image_t *img)
{
    if (len >= 8 && memcmp(p, "\x89PNG\r\n\x1a\n", 8) == 0) {
        return ngx_photo_image_png(p, len, img);
    }

    if (len >= 3 && p[0] == 0xff && p[1] == 0xd8 && p[2] == 0xff) {
        return ngx_photo_image_jpeg(p, len, img);
    }

    return NGX_PHOTO_IMAGE_UNKNOWN;
}


/*
 * PNG: the signature, then IHDR first (13 bytes: width, height, ...), and
 * the file ends with the IEND chunk.  Chunks in between are walked, so a
 * file cut anywhere is seen as cut.
 */

static ngx_photo_image_rc_e
ngx_photo_image_png(const unsigned char *p, size_t len,
    ngx_photo_image_t *img)
{
    size_t    off;
    uint32_t  n;

    if (len < 8 + 8 + 13 + 4) {
        return NGX_PHOTO_IMAGE_TRUNCATED;
    }

    if (ngx_photo_be32(p + 8) != 13 || memcmp(p + 12, "IHDR", 4) != 0) {
        return NGX_PHOTO_IMAGE_BAD;
    }

    img->type = "png";
    img->ext = ".png";
    img->width = ngx_photo_be32(p + 16);
    img->height = ngx_photo_be32(p + 20);

    if (img->width == 0 || img->height == 0
        || img->width > NGX_PHOTO_IMAGE_DIM_MAX
        || img->height > NGX_PHOTO_IMAGE_DIM_MAX)
    {
        return NGX_PHOTO_IMAGE_BAD;
    }

    for (off = 8; /* void */; off += 12 + (size_t) n) {

        if (len - off < 12) {
            return NGX_PHOTO_IMAGE_TRUNCATED;
        }

        n = ngx_photo_be32(p + off);

        if (n > len - off - 12) {
            return NGX_PHOTO_IMAGE_TRUNCATED;
        }

        if (memcmp(p + off + 4, "IEND", 4) == 0) {
            return (off + 12 + n == len) ? NGX_PHOTO_IMAGE_OK
                                         : NGX_PHOTO_IMAGE_BAD;
        }
    }
}


/*
 * JPEG: segments from SOI, each "FF marker length", until a frame header
 * (SOFn) gives the size; the file must end with EOI (FF D9).
 */

static ngx_photo_image_rc_e
ngx_photo_image_jpeg(const unsigned char *p, size_t len,
    ngx_photo_image_t *img)
{
    size_t         off, n;
    unsigned char  m;

    off = 2;

    for ( ;; ) {

        while (off < len && p[off] == 0xff) {   /* fill bytes */
            off++;
        }

        if (off + 3 > len) {
            return NGX_PHOTO_IMAGE_TRUNCATED;
        }

        if (p[off - 1] != 0xff) {
            return NGX_PHOTO_IMAGE_BAD;
        }

        m = p[off];
        n = ((size_t) p[off + 1] << 8) | p[off + 2];

        if (n < 2) {
            return NGX_PHOTO_IMAGE_BAD;
        }

        if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 && m != 0xcc) {

            if (n < 7 || off + 1 + n > len) {
                return NGX_PHOTO_IMAGE_TRUNCATED;
            }

            img->type = "jpeg";
            img->ext = ".jpg";
            img->height = ((uint32_t) p[off + 4] << 8) | p[off + 5];
            img->width = ((uint32_t) p[off + 6] << 8) | p[off + 7];

            if (img->width == 0 || img->height == 0) {
                return NGX_PHOTO_IMAGE_BAD;
            }

            break;
        }

        if (m == 0xd9 || m == 0xda) {
            /* image data or the end before any frame header */
            return NGX_PHOTO_IMAGE_BAD;
        }

        off += 1 + n;

        if (off >= len) {
            return NGX_PHOTO_IMAGE_TRUNCATED;
        }

        off++;
    }

    /* the last two bytes are EOI */
    if (len < 4 || p[len - 2] != 0xff || p[len - 1] != 0xd9) {
        return NGX_PHOTO_IMAGE_TRUNCATED;
    }

    return NGX_PHOTO_IMAGE_OK;
}
