/* The sized copies of an upload, with libvips (see photo_vips.h). */

#include "photo_vips.h"
#include "photo_log.h"

#include <stdlib.h>
#include <string.h>
#include <vips/vips.h>


#define PHOTO_VIPS_HEIGHT_MAX  10000000     /* thumbnail's "unbounded" */


static int  photo_vips_started;


static void photo_vips_log(const gchar *domain, GLogLevelFlags level,
    const gchar *message, gpointer data);
static int photo_vips_failed(char *err, size_t errlen, const char *what);
static int photo_vips_square(VipsImage **in, char *err, size_t errlen);
static int photo_vips_flatten(VipsImage **in, char *err, size_t errlen);


int
photo_vips_init(const char *argv0)
{
    if (VIPS_INIT(argv0) != 0) {
        photo_log_error("libvips: %s", vips_error_buffer());
        return -1;
    }

    photo_vips_started = 1;

    /* a worker applies one job at a time: more cores, more workers */
    if (getenv("VIPS_CONCURRENCY") == NULL) {
        vips_concurrency_set(1);
    }

    /* each upload is seen once: a cache would only hold its memory */
    vips_cache_set_max(0);

    g_log_set_handler("VIPS", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE
                      | G_LOG_LEVEL_CRITICAL, photo_vips_log, NULL);

    photo_log_info("libvips %s, %d thread%s per image", vips_version_string(),
                   vips_concurrency_get(),
                   vips_concurrency_get() == 1 ? "" : "s");

    return 0;
}


void
photo_vips_done(void)
{
    /* libvips's shutdown crashes when it never started */
    if (photo_vips_started) {
        vips_shutdown();
        photo_vips_started = 0;
    }
}


/* libvips's own warnings ("read gave 2 warnings") as our log lines */
static void
photo_vips_log(const gchar *domain, GLogLevelFlags level,
    const gchar *message, gpointer data)
{
    photo_log_warn("libvips: %s", message);
}


int
photo_vips_source(photo_vips_src_t *src, const void *buf, size_t len,
    char *err, size_t errlen)
{
    VipsImage  *img;

    vips_error_clear();

    memset(src, 0, sizeof(*src));
    src->buf = buf;
    src->len = len;

    /* the header only: the pixels are decoded by each size */
    img = vips_image_new_from_buffer(buf, len, "", "access",
                                     VIPS_ACCESS_SEQUENTIAL, NULL);
    if (img == NULL) {
        return photo_vips_failed(err, errlen, "cannot read the header");
    }

    src->icc = vips_image_get_typeof(img, VIPS_META_ICC_NAME) != 0;

    if (vips_image_get_orientation_swap(img)) {
        src->width = vips_image_get_height(img);
        src->height = vips_image_get_width(img);

    } else {
        src->width = vips_image_get_width(img);
        src->height = vips_image_get_height(img);
    }

    g_object_unref(img);

    return 0;
}


int
photo_vips_size(const photo_vips_src_t *src, const photo_media_size_t *size,
    photo_vips_out_t *out, char *err, size_t errlen)
{
    int         rc;
    void       *data;
    size_t      len;
    VipsImage  *in;

    memset(out, 0, sizeof(*out));
    in = NULL;

    vips_error_clear();

    /*
     * Decoding is lazy: a damaged upload fails in jpegsave, when its
     * pixels are read.  thumbnail_buffer does not hand its own fail_on
     * to the loader (only thumbnail of a file does, 8.14 to 8.17): the
     * loader's option string does; fail_on is set too for a libvips
     * that will.  An image with a profile is converted to sRGB
     * (export_profile), one without is taken as sRGB already: for it, the
     * NULL name ends the options there.
     */
    rc = vips_thumbnail_buffer((void *) src->buf, src->len, &in,
                               size->width,
                               "height", size->square ? size->width
                                                      : PHOTO_VIPS_HEIGHT_MAX,
                               "size", VIPS_SIZE_DOWN,
                               "crop", size->square ? VIPS_INTERESTING_CENTRE
                                                    : VIPS_INTERESTING_NONE,
                               "option_string", "fail_on=warning",
                               "fail_on", VIPS_FAIL_ON_WARNING,
                               src->icc ? "export_profile" : NULL, "srgb",
                               NULL);
    if (rc != 0) {
        return photo_vips_failed(err, errlen, size->name);
    }

    if ((size->square && photo_vips_square(&in, err, errlen) != 0)
        || photo_vips_flatten(&in, err, errlen) != 0)
    {
        g_object_unref(in);
        return -1;
    }

    rc = vips_jpegsave_buffer(in, &data, &len,
                              "Q", PHOTO_MEDIA_QUALITY,
                              "strip", TRUE,
                              "optimize_coding", TRUE,
                              NULL);
    if (rc != 0) {
        g_object_unref(in);
        return photo_vips_failed(err, errlen, size->name);
    }

    out->data = data;
    out->len = len;
    out->width = vips_image_get_width(in);
    out->height = vips_image_get_height(in);

    g_object_unref(in);

    return 0;
}


void
photo_vips_free(photo_vips_out_t *out)
{
    g_free(out->data);
    out->data = NULL;
}


/* a thumbnail smaller than its square: the square of its shorter side */
static int
photo_vips_square(VipsImage **in, char *err, size_t errlen)
{
    int         w, h, m;
    VipsImage  *c;

    w = vips_image_get_width(*in);
    h = vips_image_get_height(*in);

    if (w == h) {
        return 0;
    }

    m = w < h ? w : h;

    if (vips_crop(*in, &c, (w - m) / 2, (h - m) / 2, m, m, NULL) != 0) {
        return photo_vips_failed(err, errlen, "crop");
    }

    g_object_unref(*in);
    *in = c;

    return 0;
}


/* transparency onto white: JPEG has none */
static int
photo_vips_flatten(VipsImage **in, char *err, size_t errlen)
{
    int              rc;
    double           max;
    VipsImage       *f;
    VipsArrayDouble  *bg;

    if (!vips_image_hasalpha(*in)) {
        return 0;
    }

    max = vips_image_get_format(*in) == VIPS_FORMAT_USHORT ? 65535 : 255;

    bg = vips_array_double_newv(1, max);
    rc = vips_flatten(*in, &f, "background", bg, "max_alpha", max, NULL);
    vips_area_unref(VIPS_AREA(bg));

    if (rc != 0) {
        return photo_vips_failed(err, errlen, "flatten");
    }

    g_object_unref(*in);
    *in = f;

    return 0;
}


/* libvips's error text, its lines joined, into err; then cleared */
static int
photo_vips_failed(char *err, size_t errlen, const char *what)
{
    size_t       n;
    const char  *p;

    n = (size_t) snprintf(err, errlen, "%s: ", what);
    n = n < errlen ? n : errlen - 1;

    for (p = vips_error_buffer(); *p && n + 1 < errlen; p++) {
        if (*p == '\n') {
            if (p[1] != '\0' && n + 3 < errlen) {
                err[n++] = ';';
                err[n++] = ' ';
            }
            continue;
        }

        err[n++] = *p;
    }

    if (n < errlen) {
        err[n] = '\0';
    }

    vips_error_clear();

    return -1;
}
