/*
 * The sized copies of an upload, made with libvips (photo_media.h's
 * photo_media_sizes), each a JPEG in memory:
 *
 *   - decoded strictly: fail_on VIPS_FAIL_ON_WARNING, so that an upload
 *     cut short inside is an error, not a picture finished in grey.
 *     nginx takes only files that end as they should (a JPEG's EOI), so
 *     the cut ones that reach here end well and are damaged inside, and
 *     libjpeg calls that a warning ("premature end of data segment"):
 *     VIPS_FAIL_ON_TRUNCATED and _ERROR let them through.  The price: a
 *     JPEG with a harmless warning (stray bytes before a marker) is
 *     refused too;
 *   - turned upright as its EXIF orientation says (vips_thumbnail);
 *   - made smaller, never larger: a size is at most its width wide, the
 *     height by the aspect ratio (unbounded); an image narrower than a
 *     size stays its own width there (a 300 wide upload is 300 wide in
 *     "low", "standard" and "full");
 *   - the square size (thumbnail) cropped to width x width about the
 *     centre; an image smaller than that on a side gives the square of its
 *     shorter side, not enlarged;
 *   - an image with an ICC profile (a phone's Display P3) converted to
 *     sRGB, since the profile is not kept; one with transparency (PNG)
 *     flattened onto white;
 *   - saved at PHOTO_MEDIA_QUALITY, Huffman tables optimised, with no
 *     metadata at all (strip: no EXIF, GPS, XMP, IPTC or ICC).
 *
 * The same upload gives the same bytes every time (libvips's resize and
 * libjpeg's encoder are deterministic, and nothing time-dependent is
 * written), so a replayed job puts identical objects.
 *
 * Each size decodes the upload again: a JPEG is shrunk while it is
 * decoded (libjpeg's DCT scaling), which costs less than decoding it once
 * at full size and shrinking that four times.
 */

#ifndef PHOTO_VIPS_H
#define PHOTO_VIPS_H

#include <stddef.h>

#include "photo_media.h"

#define PHOTO_VIPS_ERROR  256

typedef struct {
    const void     *buf;                /* the upload, as stored */
    size_t          len;
    int             width;              /* upright */
    int             height;
    int             icc;                /* has a colour profile */
} photo_vips_src_t;

typedef struct {
    void           *data;               /* the JPEG (photo_vips_free) */
    size_t          len;
    int             width;
    int             height;
} photo_vips_out_t;


/*
 * libvips started once, before any job: concurrency 1 unless
 * VIPS_CONCURRENCY says otherwise (one job at a time per worker process:
 * run more workers for more cores), no operation cache (each upload is
 * seen once), its warnings into our log.  -1 (logged) when it cannot.
 */
int photo_vips_init(const char *argv0);
void photo_vips_done(void);

/*
 * The upload's header read (lazily: no pixels yet).  0, or -1 with err
 * holding libvips's reason: not an image it can read.
 */
int photo_vips_source(photo_vips_src_t *src, const void *buf, size_t len,
    char *err, size_t errlen);

/*
 * Size `size` of the upload.  0 with out set, or -1 with err holding
 * libvips's reason: it cannot be decoded (damaged), or no memory.
 */
int photo_vips_size(const photo_vips_src_t *src,
    const photo_media_size_t *size, photo_vips_out_t *out, char *err,
    size_t errlen);

void photo_vips_free(photo_vips_out_t *out);

#endif /* PHOTO_VIPS_H */
