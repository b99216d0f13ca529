/*
 * photo_media against a local S3: npm's s3rver (conf/s3) behind
 * t/s3/s3_check_proxy.py, which checks each request's AWS Signature V4
 * with botocore as S3 does (s3rver itself does not) and lets anyone read
 * the sized copies only.  The uploads are made here with libvips.
 *
 * A photo's job puts its upload unchanged and its four sizes; read back
 * (signed GETs): the original byte for byte, each size's dimensions
 * (thumbnail 150 x 150, the others 320, 640 and 1080 wide, the height by
 * the aspect ratio), upright for an upload with EXIF orientation 6 and
 * without its EXIF and GPS, never enlarged (a small upload, a square
 * thumbnail of its shorter side), a PNG's transparency on white, a colour
 * profile left out; photos.images and the cached object's "images" set; a
 * replay puts the same bytes and writes nothing to Postgres; the
 * virtual-host style; a request signed with another secret refused (403
 * SignatureDoesNotMatch) and the job retried, named in the log, until a
 * worker with the right secret applies it; the bucket away, then 503 and
 * 500, retried until it takes them; an upload damaged inside, a dead
 * letter with libvips's reason, the photo untouched; an upload missing, a
 * dead letter; a photo gone, nothing; a photo deleted while its job ran,
 * its objects taken out again; the delete job takes the five objects out,
 * but not while another photo uses the upload; a worker without its
 * settings does not start.  Last, how many uploads one worker makes into
 * sizes in a second (printed, not checked).
 *
 * s3rver is taken from PHOTO_S3RVER_DIR (where `npm ci` installed
 * conf/s3), by default where scripts/stack installs it,
 * $PHOTO_RUN_DIR/s3/app; without it (or without python3-botocore), the
 * test is skipped (77).
 */

#include "photo_check.h"
#include "photo_harness.h"
#include "photo_contract.h"
#include "photo_media.h"
#include "photo_s3.h"
#include "photo_vips.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vips/vips.h>


#define BASE      7480000000000000000LL
#define SPAN      1000
#define USERS     2
#define ANN       (BASE + 1)
#define P_BIG     (BASE + 101)          /* 1620 x 2025 */
#define P_ROT     (BASE + 102)          /* 1200 x 900, orientation 6, GPS */
#define P_PNG     (BASE + 103)          /* transparent PNG */
#define P_SMALL   (BASE + 104)          /* 100 x 80 */
#define P_ICC     (BASE + 105)          /* with a Display P3 profile */
#define P_VHOST   (BASE + 106)          /* put virtual-host style */
#define P_SIG     (BASE + 107)          /* a worker with the wrong secret */
#define P_DOWN    (BASE + 108)          /* the bucket away */
#define P_5XX     (BASE + 109)          /* 503, then 500 */
#define P_CUT     (BASE + 110)          /* damaged inside */
#define P_NOFILE  (BASE + 111)          /* its upload is not there */
#define P_GONE    (BASE + 112)          /* never made */
#define P_RACE    (BASE + 113)          /* deleted while its job runs */
#define P_DEL1    (BASE + 114)          /* two photos of one upload */
#define P_DEL2    (BASE + 115)
#define P_BENCH   (BASE + 200)          /* ... + BENCH - 1 */
#define BENCH     10

#define PROXY     PHOTO_SOURCE_DIR "/t/s3/s3_check_proxy.py"
#define PYTHON    "/usr/bin/python3"
#define BUCKET    "photo"
#define AKEY      "media-test-key"
#define SKEY      "media-test-secret/with+signs"
#define WAIT_MS   20000


typedef struct {
    h_t           *h;
    char           s3rver[400];     /* where conf/s3 is installed */
    char           data[300];       /* s3rver's objects */
    char           rules[300];
    char           records[300];
    char           root[300];       /* PHOTO_MEDIA_ROOT */
    char           url[64];
    int            port;
    pid_t          proxy;
    pid_t          worker;
    photo_s3_t    *s3;              /* signed with the right secret */
    photo_s3_t    *wrong;           /* with another secret */
    photo_s3_t    *anon;            /* not signed */
} media_t;

typedef struct {
    unsigned char  *data;
    size_t          len;
} blob_t;


/* ------------------------------------------------------------- the bucket */




static void
write_file(const char *path, const void *data, size_t len)
{
    FILE  *f;

    f = fopen(path, "w");
    if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
        printf("Bail out! cannot write %s\n", path);
        exit(2);
    }
}


static void
rules(media_t *m, const char *json)
{
    write_file(m->rules, json, strlen(json));
}


/* s3rver and the proxy on m->port; 0, or -1 when it did not come up */
static int
proxy_start(media_t *m)
{
    char    port[16];
    double  t0;
    char   *argv[] = {
        PYTHON, PROXY, "--port", port, "--s3rver", m->s3rver,
        "--data", m->data, "--bucket", BUCKET, "--access-key", AKEY,
        "--secret-key", SKEY, "--public-read", "thumbnail/",
        "--public-read", "low/", "--public-read", "standard/",
        "--public-read", "full/", "--rules", m->rules, "--records",
        m->records, NULL
    };

    snprintf(port, sizeof(port), "%d", m->port);

    t0 = h_now();

    m->proxy = h_spawn(m->h, "s3_check_proxy", argv);

    if (!h_wait(m->h, h_port_up, &m->port, 30000)) {
        return -1;
    }

    printf("# the local S3 (s3rver behind the proxy) answered in %.2f s\n",
           h_now() - t0);

    return 0;
}


static void
proxy_stop(media_t *m)
{
    if (m->proxy > 0) {
        kill(m->proxy, SIGTERM);
        waitpid(m->proxy, NULL, 0);
        m->proxy = 0;
    }
}


static photo_s3_t *
client(media_t *m, const char *url, const char *key, const char *secret,
    int vhost)
{
    photo_s3_t       *s3;
    photo_s3_conf_t   conf;

    conf.url = url;
    conf.region = "us-east-1";
    conf.bucket = BUCKET;
    conf.access_key = key;
    conf.secret_key = secret;
    conf.virtual_host = vhost;
    conf.ca_file = NULL;

    s3 = photo_s3_create(&conf);
    if (s3 == NULL) {
        printf("Bail out! photo_s3_create %s\n", url);
        exit(2);
    }

    return s3;
}


/* the records' lines with status (0: any), method and key holding needle */
static int
records(media_t *m, int status, const char *method, const char *needle)
{
    int    n, st;
    char   line[1024], meth[16], path[800];
    FILE  *f;

    f = fopen(m->records, "r");
    if (f == NULL) {
        return 0;
    }

    n = 0;

    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "%d %15s %799s", &st, meth, path) == 3
            && (status == 0 || st == status) && strcmp(meth, method) == 0
            && strstr(path, needle) != NULL)
        {
            n++;
        }
    }

    fclose(f);

    return n;
}


/* ----------------------------------------------------------------- images */


/* a picture with some detail, w x h, as a camera would give it */
static VipsImage *
picture(int w, int h)
{
    VipsImage  *n, *b, *j, *rgb, *u;
    VipsImage  *bands[3];

    if (vips_gaussnoise(&n, w, h, "sigma", 40.0, NULL)
        || vips_gaussblur(n, &b, 1.5, NULL))
    {
        printf("Bail out! libvips: %s\n", vips_error_buffer());
        exit(2);
    }

    bands[0] = b;
    bands[1] = b;
    bands[2] = b;

    if (vips_bandjoin(bands, &j, 3, NULL) || vips_cast_uchar(j, &u, NULL)
        || vips_copy(u, &rgb, "interpretation", VIPS_INTERPRETATION_sRGB,
                     NULL))
    {
        printf("Bail out! libvips: %s\n", vips_error_buffer());
        exit(2);
    }

    g_object_unref(n);
    g_object_unref(b);
    g_object_unref(j);
    g_object_unref(u);

    return rgb;
}


/* saved as a JPEG with its metadata (no strip) */
static blob_t
jpeg(VipsImage *img)
{
    void    *buf;
    size_t   len;
    blob_t   b;

    if (vips_jpegsave_buffer(img, &buf, &len, "Q", 90, NULL)) {
        printf("Bail out! libvips: %s\n", vips_error_buffer());
        exit(2);
    }

    b.data = malloc(len);
    memcpy(b.data, buf, len);
    b.len = len;
    g_free(buf);
    g_object_unref(img);

    return b;
}


static blob_t
plain_jpeg(int w, int h)
{
    return jpeg(picture(w, h));
}


/* stored 1200 x 900, to be shown turned (orientation 6), where it was */
static blob_t
rotated_jpeg(void)
{
    VipsImage  *img;

    img = picture(1200, 900);
    vips_image_set_int(img, VIPS_META_ORIENTATION, 6);
    vips_image_set_string(img, "exif-ifd0-Make", "PhotoTestCam");
    vips_image_set_string(img, "exif-ifd3-GPSLatitudeRef", "N");
    vips_image_set_string(img, "exif-ifd3-GPSLatitude", "48/1 51/1 30/1");
    vips_image_set_string(img, "exif-ifd3-GPSLongitudeRef", "E");
    vips_image_set_string(img, "exif-ifd3-GPSLongitude", "2/1 17/1 40/1");

    return jpeg(img);
}


static blob_t
p3_jpeg(void)
{
    VipsBlob   *profile;
    VipsImage  *img;

    img = picture(800, 600);

    if (vips_profile_load("p3", &profile, NULL)) {
        printf("Bail out! libvips: %s\n", vips_error_buffer());
        exit(2);
    }

    vips_image_set_blob_copy(img, VIPS_META_ICC_NAME,
                             VIPS_AREA(profile)->data,
                             VIPS_AREA(profile)->length);
    vips_area_unref(VIPS_AREA(profile));

    return jpeg(img);
}


/* 400 x 300, red and all transparent */
static blob_t
transparent_png(void)
{
    void       *buf;
    size_t      len;
    blob_t      b;
    VipsImage  *black, *rgba;
    double      ink[4] = { 255, 0, 0, 0 };

    if (vips_black(&black, 400, 300, "bands", 4, NULL)
        || vips_linear(black, &rgba, (double[]) { 0, 0, 0, 0 }, ink, 4,
                       "uchar", TRUE, NULL))
    {
        printf("Bail out! libvips: %s\n", vips_error_buffer());
        exit(2);
    }

    rgba->Type = VIPS_INTERPRETATION_sRGB;

    if (vips_pngsave_buffer(rgba, &buf, &len, NULL)) {
        printf("Bail out! libvips: %s\n", vips_error_buffer());
        exit(2);
    }

    b.data = malloc(len);
    memcpy(b.data, buf, len);
    b.len = len;
    g_free(buf);
    g_object_unref(black);
    g_object_unref(rgba);

    return b;
}


/*
 * Damaged inside as nginx lets it through: cut in the middle of its scan,
 * then ended with EOI, as a whole JPEG ends (nginx checks the end).
 */
static blob_t
cut_jpeg(void)
{
    blob_t  b;

    b = plain_jpeg(1620, 2025);
    b.len /= 2;
    b.data[b.len++] = 0xff;
    b.data[b.len++] = 0xd9;

    return b;
}


/* ----------------------------------------------------------------- photos */


/* "<aa>/<name><ext>", as nginx names an upload; into buf */
static const char *
media_path(char *buf, size_t size, long long id, const char *ext)
{
    char  name[40];

    snprintf(name, sizeof(name), "%016llx%016llx", (unsigned long long) id,
             ~(unsigned long long) id);
    snprintf(buf, size, "%.2s/%s%s", name, name, ext);

    return buf;
}


static void
upload(media_t *m, const char *path, const blob_t *b)
{
    char  file[700];

    snprintf(file, sizeof(file), "%s/%.2s", m->root, path);
    mkdir(file, 0755);
    snprintf(file, sizeof(file), "%s/%s", m->root, path);
    write_file(file, b->data, b->len);
}


static void
photo(media_t *m, long long id, const char *path, int w, int h)
{
    PQclear(h_sql(m->h, "insert into photos (id, user_id, media_path,"
                  " image_url, width, height) values (%lld, %lld, '%s',"
                  " '/media/%s', %d, %d)", id, ANN, path, path, w, h));
}


/* an upload of b posted as photo id; its media path into path */
static void
post(media_t *m, long long id, const char *ext, const blob_t *b, int w,
    int h, char *path, size_t size)
{
    media_path(path, size, id, ext);
    upload(m, path, b);
    photo(m, id, path, w, h);
}


static void
job(media_t *m, long long id)
{
    char  unique[64], payload[256];

    snprintf(unique, sizeof(unique), PHOTO_MEDIA_UNIQUE "%lld", id);
    snprintf(payload, sizeof(payload), "{\"unique\":\"%s\",\"id\":\"%lld\","
             "\"user_id\":\"%lld\"}", unique, id, ANN);

    if (h_submit(m->h, PHOTO_JOB_MEDIA, unique, payload) != 0) {
        printf("Bail out! cannot submit %s\n", unique);
        exit(2);
    }
}


static void
unjob(media_t *m, long long id)
{
    char  unique[64], payload[256];

    snprintf(unique, sizeof(unique), PHOTO_UNMEDIA_UNIQUE "%lld", id);
    snprintf(payload, sizeof(payload), "{\"unique\":\"%s\",\"id\":\"%lld\","
             "\"delete\":true}", unique, id);

    if (h_submit(m->h, PHOTO_JOB_MEDIA, unique, payload) != 0) {
        printf("Bail out! cannot submit %s\n", unique);
        exit(2);
    }
}


/* the photo out of photos and into photo_deletions, as photo_delete does */
static void
delete_row(media_t *m, long long id)
{
    PQclear(h_sql(m->h, "with d as (delete from photos where id = %lld"
                  " returning id, user_id, media_path)"
                  " insert into photo_deletions (id, user_id, media_path)"
                  " select id, user_id, media_path from d", id));
}


static int
has_images(h_t *h, void *id)
{
    return h_sql_int(h, "select count(*) from photos where id = %lld"
                     " and images is not null", *(long long *) id) == 1;
}


static int
wait_images(media_t *m, long long id)
{
    return h_wait(m->h, has_images, &id, WAIT_MS);
}


static int
drained(h_t *h, void *arg)
{
    return h_queued(h, PHOTO_JOB_MEDIA) == 0;
}


static char *
images(media_t *m, long long id)
{
    static char  buf[128];
    PGresult    *res;

    res = h_sql(m->h, "select coalesce(images::text, 'null') from photos"
                " where id = %lld", id);
    snprintf(buf, sizeof(buf), "%s",
             PQntuples(res) ? PQgetvalue(res, 0, 0) : "no row");
    PQclear(res);

    return buf;
}


/* ------------------------------------------------------------ the objects */


static int
get(media_t *m, photo_s3_t *s3, const char *path, int s, blob_t *b,
    photo_s3_result_t *r)
{
    char  key[700];

    photo_media_key(key, sizeof(key), path, strlen(path), s);
    photo_s3_get(s3, key, &b->data, &b->len, r);

    return r->rc == PHOTO_S3_OK ? 0 : -1;
}


/* how many of the upload's five objects the bucket has */
static int
objects(media_t *m, const char *path)
{
    int                s, n;
    blob_t             b;
    photo_s3_result_t  r;

    for (n = 0, s = -1; s < PHOTO_MEDIA_SIZES; s++) {
        if (get(m, m->s3, path, s, &b, &r) == 0) {
            n++;
            free(b.data);
        }
    }

    return n;
}


typedef struct {
    int   width;
    int   height;
    int   bands;
    int   exif;             /* libvips finds exif-data */
    int   icc;
    int   gps;              /* an exif-ifd3-GPS* field */
    int   app1;             /* the bytes hold an "Exif" APP1 */
    double  avg;
} dims_t;


static int
dims(const blob_t *b, dims_t *d)
{
    int          i;
    char       **fields;
    VipsImage   *img;

    memset(d, 0, sizeof(*d));

    img = vips_image_new_from_buffer(b->data, b->len, "", NULL);
    if (img == NULL) {
        printf("# libvips: %s\n", vips_error_buffer());
        vips_error_clear();
        return -1;
    }

    d->width = vips_image_get_width(img);
    d->height = vips_image_get_height(img);
    d->bands = vips_image_get_bands(img);
    d->exif = vips_image_get_typeof(img, VIPS_META_EXIF_NAME) != 0;
    d->icc = vips_image_get_typeof(img, VIPS_META_ICC_NAME) != 0;

    fields = vips_image_get_fields(img);
    for (i = 0; fields[i]; i++) {
        d->gps |= strncmp(fields[i], "exif-ifd3-GPS", 13) == 0;
    }
    g_strfreev(fields);

    if (vips_avg(img, &d->avg, NULL) != 0) {
        d->avg = -1;
        vips_error_clear();
    }

    g_object_unref(img);

    for (i = 0; (size_t) i + 10 <= b->len; i++) {
        if (b->data[i] == 0xff && b->data[i + 1] == 0xe1
            && memcmp(b->data + i + 4, "Exif\0\0", 6) == 0)
        {
            d->app1 = 1;
        }
    }

    return 0;
}


/* each size as it must be for an upright upload of w x h (never larger) */
static void
want_size(int s, int w, int h, int *ww, int *wh)
{
    int  max, m;

    max = photo_media_sizes[s].width;

    if (photo_media_sizes[s].square) {
        m = w < h ? w : h;
        *ww = *wh = m < max ? m : max;
        return;
    }

    if (w <= max) {
        *ww = w;
        *wh = h;
        return;
    }

    *ww = max;
    *wh = (int) ((double) h * max / w + 0.5);
}


/*
 * Photo id's five objects, each as it must be for an upload of up (type,
 * w x h upright), and photos.images saying their sizes; *sizes: their
 * bytes (for a replay's comparison; the caller frees them), or NULL.
 */
static void
check_objects(media_t *m, const char *what, long long id, const char *path,
    const blob_t *up, const char *type, int w, int h, blob_t *sizes)
{
    int                s, ok, ww, wh, n;
    char               want[128];
    blob_t             b;
    dims_t             d;
    photo_s3_result_t  r;

    ok = get(m, m->s3, path, -1, &b, &r) == 0;
    CHECK(ok && b.len == up->len && memcmp(b.data, up->data, b.len) == 0,
          "%s: the original is in the bucket byte for byte (%zu of %zu "
          "bytes)", what, ok ? b.len : 0, up->len);
    CHECK(ok && strcmp(r.type, type) == 0, "%s: the original is %s (%s)",
          what, type, r.type);
    if (ok) {
        free(b.data);
    }

    n = snprintf(want, sizeof(want), "{");

    for (s = 0; s < PHOTO_MEDIA_SIZES; s++) {
        want_size(s, w, h, &ww, &wh);
        n += snprintf(want + n, sizeof(want) - (size_t) n, "%s%d,%d",
                      s ? "," : "", ww, wh);

        ok = get(m, m->s3, path, s, &b, &r) == 0 && dims(&b, &d) == 0;
        CHECK(ok && d.width == ww && d.height == wh && d.bands == 3,
              "%s: %s is a %dx%d JPEG (%dx%d, %d bands)", what,
              photo_media_sizes[s].name, ww, wh, d.width, d.height, d.bands);
        CHECK(ok && strcmp(r.type, "image/jpeg") == 0 && !d.exif && !d.app1
              && !d.gps && !d.icc,
              "%s: %s is image/jpeg (%s), with no EXIF, GPS or ICC (%d %d "
              "%d %d)", what, photo_media_sizes[s].name, r.type, d.exif,
              d.app1, d.gps, d.icc);

        if (sizes) {
            sizes[s] = ok ? b : (blob_t) { NULL, 0 };

        } else if (ok) {
            free(b.data);
        }
    }

    snprintf(want + n, sizeof(want) - (size_t) n, "}");
    CHECK(strcmp(images(m, id), want) == 0, "%s: photos.images is %s (%s)",
          what, want, images(m, id));
}


/* ------------------------------------------------------------------ checks */


typedef struct {
    const char  *unique;
    char        *letter;
} letter_t;


static int
dead(h_t *h, void *arg)
{
    letter_t  *l = arg;

    if (l->letter == NULL) {
        l->letter = h_dead_letter(h, PHOTO_JOB_MEDIA, l->unique);
    }

    return l->letter != NULL;
}


/* the dead letter of photo id's media job, waited for (wait: ms) */
static char *
letter(media_t *m, long long id, int wait)
{
    char      unique[64];
    letter_t  l;

    snprintf(unique, sizeof(unique), "\"" PHOTO_MEDIA_UNIQUE "%lld\"", id);
    l.unique = unique;
    l.letter = NULL;

    if (wait) {
        h_wait(m->h, dead, &l, wait);

    } else {
        dead(m->h, &l);
    }

    return l.letter;
}


static pid_t
worker(media_t *m, const char *secret, int vhost)
{
    char  url[128], sk[256], root[400];

    snprintf(url, sizeof(url), "PHOTO_S3_URL=http://%s:%d",
             vhost ? "localhost" : "127.0.0.1", m->port);
    snprintf(sk, sizeof(sk), "PHOTO_S3_SECRET_KEY=%s", secret);
    snprintf(root, sizeof(root), "PHOTO_MEDIA_ROOT=%s", m->root);

    return h_worker(m->h, "photo_media", url, "PHOTO_S3_REGION=us-east-1",
                    "PHOTO_S3_BUCKET=" BUCKET, "PHOTO_S3_ACCESS_KEY=" AKEY,
                    sk, vhost ? "PHOTO_S3_STYLE=virtual"
                              : "PHOTO_S3_STYLE=path", root, NULL);
}


static int
log_has(media_t *m, pid_t pid, const char *text)
{
    return h_log_has(m->h, pid, "photo_media", text);
}


/* the upload's name, "<name>" of "<aa>/<name>.<ext>" */
static const char *
name_of(const char *path)
{
    return path + 3;
}


/* a worker that cannot work says so and exits 1 (no crash) */
static void
check_settings(media_t *m)
{
    int   st;
    char  cmd[1024];

    snprintf(cmd, sizeof(cmd), "env -u PHOTO_S3_URL %s/photo_media"
             " >>'%s/settings.log' 2>&1", PHOTO_WORKERS_BIN, m->h->dir);
    st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1,
          "without PHOTO_S3_URL the worker does not start (%d)", st);

    snprintf(cmd, sizeof(cmd), "env PHOTO_S3_URL=%s PHOTO_S3_ACCESS_KEY=k"
             " PHOTO_S3_SECRET_KEY=s PHOTO_MEDIA_ROOT=%s"
             " PHOTO_S3_STYLE=sideways %s/photo_media"
             " >>'%s/settings.log' 2>&1", m->url, m->root, PHOTO_WORKERS_BIN,
             m->h->dir);
    st = system(cmd);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 1,
          "nor with a PHOTO_S3_STYLE that is not path or virtual (%d)", st);
}


static blob_t  big;                     /* P_BIG's upload, kept for the */
static char    big_path[128];           /* replay */
static blob_t  big_sizes[PHOTO_MEDIA_SIZES];


static void
check_sizes(media_t *m)
{
    char               key[64], want[256], *obj;
    size_t             len;
    blob_t             b;
    uint32_t           flags;
    photo_s3_result_t  r;

    big = plain_jpeg(1620, 2025);
    post(m, P_BIG, ".jpg", &big, 1620, 2025, big_path, sizeof(big_path));
    job(m, P_BIG);

    CHECK(wait_images(m, P_BIG), "a photo's job sets photos.images (%s)",
          images(m, P_BIG));
    check_objects(m, "1620x2025 JPEG", P_BIG, big_path, &big, "image/jpeg",
                  1620, 2025, big_sizes);

    snprintf(key, sizeof(key), PHOTO_MC_PHOTO "%lld", P_BIG);
    obj = h_mc_get(m->h, key, &len, &flags);
    snprintf(want, sizeof(want), "\"images\":{\"thumbnail\":{\"url\":"
             "\"/media/thumbnail/%.*s.jpg", (int) (strlen(big_path) - 4),
             big_path);
    CHECK(obj != NULL && strstr(obj, want) != NULL
          && strstr(obj, "\"width\":150,\"height\":150") != NULL
          && strstr(obj, "\"full\":{") != NULL,
          "the cached object has \"images\" (photo_object_store): %.300s",
          obj ? obj : "(none)");
    free(obj);

    /* nginx's GETs of the sizes are not signed; the originals keep their
       EXIF and GPS: not for anyone */
    CHECK(get(m, m->anon, big_path, 0, &b, &r) == 0
          && b.len == big_sizes[0].len,
          "the bucket lets anyone read a size (%ld)", r.status);
    if (r.rc == PHOTO_S3_OK) {
        free(b.data);
    }

    CHECK(get(m, m->anon, big_path, -1, &b, &r) != 0 && r.status == 403
          && strcmp(r.code, "AccessDenied") == 0,
          "but not an original (%ld %s)", r.status, r.code);
}


static void
check_exif(media_t *m)
{
    char    path[128];
    blob_t  up;
    dims_t  d;

    up = rotated_jpeg();
    dims(&up, &d);
    CHECK(d.width == 1200 && d.height == 900 && d.exif && d.gps && d.app1,
          "the rotated upload is 1200x900 with EXIF and GPS (%dx%d %d %d)",
          d.width, d.height, d.exif, d.gps);

    post(m, P_ROT, ".jpg", &up, 1200, 900, path, sizeof(path));
    job(m, P_ROT);

    CHECK(wait_images(m, P_ROT), "the rotated photo's sizes are made (%s)",
          images(m, P_ROT));
    check_objects(m, "EXIF orientation 6, GPS", P_ROT, path, &up,
                  "image/jpeg", 900, 1200, NULL);
    free(up.data);
}


static void
check_small_png_icc(media_t *m)
{
    int     s;
    char    path[128];
    blob_t  up, sizes[PHOTO_MEDIA_SIZES];
    dims_t  d;

    /* never enlarged; the thumbnail the square of the shorter side */
    up = plain_jpeg(100, 80);
    post(m, P_SMALL, ".jpg", &up, 100, 80, path, sizeof(path));
    job(m, P_SMALL);
    CHECK(wait_images(m, P_SMALL), "a small photo's sizes are made (%s)",
          images(m, P_SMALL));
    check_objects(m, "100x80 JPEG", P_SMALL, path, &up, "image/jpeg", 100,
                  80, NULL);
    free(up.data);

    up = transparent_png();
    post(m, P_PNG, ".png", &up, 400, 300, path, sizeof(path));
    job(m, P_PNG);
    CHECK(wait_images(m, P_PNG), "a PNG's sizes are made (%s)",
          images(m, P_PNG));
    check_objects(m, "transparent PNG", P_PNG, path, &up, "image/png", 400,
                  300, sizes);
    CHECK(sizes[0].data && dims(&sizes[0], &d) == 0 && d.avg > 250,
          "its transparency is white (average %.1f)", d.avg);
    for (s = 0; s < PHOTO_MEDIA_SIZES; s++) {
        free(sizes[s].data);
    }
    free(up.data);

    up = p3_jpeg();
    dims(&up, &d);
    CHECK(d.icc, "the P3 upload has its profile");
    post(m, P_ICC, ".jpg", &up, 800, 600, path, sizeof(path));
    job(m, P_ICC);
    CHECK(wait_images(m, P_ICC), "a P3 photo's sizes are made (%s)",
          images(m, P_ICC));
    check_objects(m, "Display P3 JPEG", P_ICC, path, &up, "image/jpeg", 800,
                  600, NULL);
    free(up.data);
}


static void
check_replay(media_t *m)
{
    int                s, n, same;
    char               err[256];
    long long          xmin;
    photo_vips_src_t   src;
    photo_vips_out_t   out;

    n = records(m, 200, "PUT", name_of(big_path));
    xmin = h_sql_int(m->h, "select xmin::text::bigint from photos"
                     " where id = %lld", P_BIG);

    job(m, P_BIG);

    CHECK(h_wait(m->h, drained, NULL, WAIT_MS)
          && records(m, 200, "PUT", name_of(big_path)) == n,
          "a replay puts nothing again: its sizes are made (one query)");
    CHECK(h_sql_int(m->h, "select xmin::text::bigint from photos"
                    " where id = %lld", P_BIG) == xmin,
          "and the photo's row is not written again");

    /* made again (a bucket that lost them, another user's copy of the
       same picture): the same bytes as those in the bucket */
    same = photo_vips_source(&src, big.data, big.len, err, sizeof(err)) == 0;

    for (s = 0; same && s < PHOTO_MEDIA_SIZES; s++) {
        if (photo_vips_size(&src, &photo_media_sizes[s], &out, err,
                            sizeof(err)) != 0)
        {
            same = 0;
            break;
        }

        same = out.len == big_sizes[s].len
               && memcmp(out.data, big_sizes[s].data, out.len) == 0;
        photo_vips_free(&out);
    }

    CHECK(same, "the same bytes: libvips's output is the same for the same "
          "upload");
}


static void
check_vhost(media_t *m)
{
    char   path[128], want[128];
    pid_t  v;

    h_worker_stop(m->h, m->worker, SIGTERM, 5000);
    v = worker(m, SKEY, 1);

    snprintf(want, sizeof(want), "bucket http://" BUCKET ".localhost:%d/ "
             "(virtual style", m->port);
    CHECK(log_has(m, v, want), "the worker addresses %s", want);

    post(m, P_VHOST, ".jpg", &big, 1620, 2025, path, sizeof(path));
    job(m, P_VHOST);
    CHECK(wait_images(m, P_VHOST) && objects(m, path) == 5,
          "virtual-host style: the five objects are put (%s)",
          images(m, P_VHOST));

    h_worker_stop(m->h, v, SIGTERM, 5000);
    m->worker = worker(m, SKEY, 0);
}


static int
refused_seen(h_t *h, void *arg)
{
    void  **a = arg;

    return records(a[0], 403, "PUT", a[1]) >= 3;
}


static void
check_wrong_secret(media_t *m)
{
    int                st;
    char               path[128], *dl;
    void              *arg[2];
    pid_t              bad;
    blob_t             up;
    photo_s3_t        *nobody;
    photo_s3_result_t  r;

    /* the server: a request signed with another secret, another key */
    photo_s3_put(m->wrong, "low/00/probe.jpg", "x", 1, "image/jpeg", &r);
    CHECK(r.rc == PHOTO_S3_REFUSED && r.status == 403
          && strcmp(r.code, "SignatureDoesNotMatch") == 0,
          "a PUT signed with another secret is refused (%s)", r.reason);

    photo_s3_get(m->wrong, "original/00/none.jpg", &up.data, &up.len, &r);
    CHECK(r.status == 403 && strcmp(r.code, "SignatureDoesNotMatch") == 0,
          "so is a GET (%ld %s)", r.status, r.code);

    nobody = client(m, m->url, "nobody", SKEY, 0);
    photo_s3_put(nobody, "low/00/probe.jpg", "x", 1, "image/jpeg", &r);
    CHECK(r.rc == PHOTO_S3_REFUSED && r.status == 403
          && strcmp(r.code, "InvalidAccessKeyId") == 0,
          "and one with an unknown access key (%ld %s)", r.status, r.code);
    photo_s3_free(nobody);

    /* a worker set up with the wrong secret: retried, named, not lost */
    h_worker_stop(m->h, m->worker, SIGTERM, 5000);
    bad = worker(m, "not-the-secret", 0);

    up = plain_jpeg(640, 480);
    post(m, P_SIG, ".jpg", &up, 640, 480, path, sizeof(path));
    job(m, P_SIG);

    arg[0] = m;
    arg[1] = (void *) name_of(path);
    CHECK(h_wait(m->h, refused_seen, arg, WAIT_MS),
          "the worker's PUTs are refused, again and again (%d)",
          records(m, 403, "PUT", name_of(path)));
    CHECK(log_has(m, bad, "[error]") && log_has(m, bad,
                                                "403 SignatureDoesNotMatch")
          && log_has(m, bad, "PHOTO_S3_SECRET_KEY is not the secret")
          && log_has(m, bad, "An operator's error"),
          "its log names S3's error and the setting to fix");

    dl = letter(m, P_SIG, 0);
    CHECK(dl == NULL && strcmp(images(m, P_SIG), "null") == 0,
          "the job is not dead-lettered, nothing is set (%s)",
          dl ? dl : images(m, P_SIG));
    free(dl);

    st = h_worker_stop(m->h, bad, SIGTERM, 10000);
    CHECK(st == 0, "that worker stops at SIGTERM, the job given back (%d)",
          st);

    m->worker = worker(m, SKEY, 0);
    CHECK(wait_images(m, P_SIG) && objects(m, path) == 5,
          "a worker with the right secret applies it (%s)",
          images(m, P_SIG));
    free(up.data);
}


static int
refusals(h_t *h, void *arg)
{
    media_t  *m = arg;

    /* the framework logs the first three attempts' reasons */
    return h_log_count(h, m->worker, "photo_media", "Couldn't connect") >= 3;
}


static void
check_away(media_t *m)
{
    char    path[128], rule[512], *dl;
    blob_t  up;

    /* not answering */
    proxy_stop(m);

    up = plain_jpeg(640, 480);
    post(m, P_DOWN, ".jpg", &up, 640, 480, path, sizeof(path));
    job(m, P_DOWN);

    CHECK(h_wait(m->h, refusals, m, WAIT_MS),
          "the bucket away: the worker's attempts are refused (%d logged)",
          h_log_count(m->h, m->worker, "photo_media", "Couldn't connect"));

    dl = letter(m, P_DOWN, 0);
    CHECK(dl == NULL && strcmp(images(m, P_DOWN), "null") == 0,
          "the bucket away: the job is retried, not dead-lettered (%s)",
          dl ? dl : images(m, P_DOWN));
    free(dl);

    if (proxy_start(m) != 0) {
        printf("Bail out! the local S3 did not start again; see %s\n",
               m->h->dir);
        exit(2);
    }

    CHECK(wait_images(m, P_DOWN) && objects(m, path) == 5,
          "back: the job is applied (%s)", images(m, P_DOWN));
    CHECK(letter(m, P_DOWN, 0) == NULL, "and nothing was dead-lettered");

    /* 503 SlowDown, then 500 */
    post(m, P_5XX, ".jpg", &up, 640, 480, path, sizeof(path));
    snprintf(rule, sizeof(rule), "{\"faults\":["
             "{\"method\":\"PUT\",\"key\":\"%s\",\"status\":503,"
             "\"code\":\"SlowDown\"},"
             "{\"method\":\"PUT\",\"key\":\"low/%.2s/%s\",\"status\":500,"
             "\"code\":\"InternalError\"}]}", name_of(path), path,
             name_of(path));
    rules(m, rule);
    job(m, P_5XX);

    CHECK(wait_images(m, P_5XX) && objects(m, path) == 5
          && records(m, 503, "PUT", name_of(path)) == 1
          && records(m, 500, "PUT", name_of(path)) == 1,
          "503 SlowDown and 500 InternalError: retried, then applied (%s)",
          images(m, P_5XX));
    CHECK(log_has(m, m->worker, "503 SlowDown")
          && log_has(m, m->worker, "500 InternalError"),
          "the retries' reasons are logged");
    CHECK(letter(m, P_5XX, 0) == NULL, "no dead letter");
    rules(m, "{}");
    free(up.data);
}


static void
check_damaged(media_t *m)
{
    char    path[128], *dl;
    blob_t  up;

    up = cut_jpeg();
    post(m, P_CUT, ".jpg", &up, 1620, 2025, path, sizeof(path));
    job(m, P_CUT);

    dl = letter(m, P_CUT, WAIT_MS);
    CHECK(dl != NULL && strstr(dl, "cannot be decoded: libvips") != NULL
          && strstr(dl, "Corrupt JPEG data: premature end of data segment")
             != NULL,
          "an upload damaged inside: a dead letter with libvips's reason: "
          "%.400s", dl ? dl : "(none)");
    CHECK(h_sql_int(m->h, "select count(*) from photos where id = %lld"
                    " and images is null", P_CUT) == 1,
          "the photo stays, images null (%s)", images(m, P_CUT));
    free(dl);
    free(up.data);

    /* its upload not there while the photo is */
    media_path(path, sizeof(path), P_NOFILE, ".jpg");
    photo(m, P_NOFILE, path, 640, 480);
    job(m, P_NOFILE);

    dl = letter(m, P_NOFILE, WAIT_MS);
    CHECK(dl != NULL && strstr(dl, "is not there") != NULL,
          "an upload not in PHOTO_MEDIA_ROOT: a dead letter: %.300s",
          dl ? dl : "(none)");
    free(dl);

    /* a photo that is gone: nothing */
    job(m, P_GONE);
    media_path(path, sizeof(path), P_GONE, ".jpg");
    CHECK(h_wait(m->h, drained, NULL, WAIT_MS)
          && records(m, 0, "PUT", name_of(path)) == 0
          && letter(m, P_GONE, 0) == NULL
          && log_has(m, m->worker, "is gone: no sized copies"),
          "a photo that is gone: nothing is put, no dead letter");
}


static void
check_race(media_t *m)
{
    char    path[128], rule[256];
    blob_t  up;

    up = plain_jpeg(640, 480);
    post(m, P_RACE, ".jpg", &up, 640, 480, path, sizeof(path));

    /* the original's PUT held for a second and a half: the photo is
       deleted meanwhile */
    snprintf(rule, sizeof(rule), "{\"faults\":[{\"method\":\"PUT\","
             "\"key\":\"original/%s\",\"delay\":1.5}]}", path);
    rules(m, rule);

    job(m, P_RACE);
    h_sleep_ms(500);
    delete_row(m, P_RACE);

    CHECK(h_wait(m->h, drained, NULL, WAIT_MS)
          && log_has(m, m->worker, "was deleted meanwhile: its objects "
                     "taken out again")
          && objects(m, path) == 0,
          "a photo deleted while its job ran: what it put is taken out");

    unjob(m, P_RACE);
    CHECK(h_wait(m->h, drained, NULL, WAIT_MS) && objects(m, path) == 0
          && letter(m, P_RACE, 0) == NULL,
          "and its delete job finds nothing to take out");
    rules(m, "{}");
    free(up.data);
}


static void
check_delete(media_t *m)
{
    int     n;
    char    path[128];
    blob_t  up;

    up = plain_jpeg(640, 480);
    post(m, P_DEL1, ".jpg", &up, 640, 480, path, sizeof(path));
    photo(m, P_DEL2, path, 640, 480);          /* the same upload again */
    job(m, P_DEL1);
    job(m, P_DEL2);
    CHECK(wait_images(m, P_DEL1) && wait_images(m, P_DEL2)
          && objects(m, path) == 5, "two photos of one upload are put");

    delete_row(m, P_DEL1);
    unjob(m, P_DEL1);
    CHECK(h_wait(m->h, drained, NULL, WAIT_MS) && objects(m, path) == 5
          && log_has(m, m->worker, "kept: another photo uses it"),
          "deleting one keeps the objects the other uses");

    n = records(m, 204, "DELETE", name_of(path));
    delete_row(m, P_DEL2);
    unjob(m, P_DEL2);
    CHECK(h_wait(m->h, drained, NULL, WAIT_MS) && objects(m, path) == 0
          && records(m, 204, "DELETE", name_of(path)) == n + 5,
          "deleting the last takes the five objects out (%d DELETEs)",
          records(m, 204, "DELETE", name_of(path)) - n);

    unjob(m, P_DEL2);
    CHECK(h_wait(m->h, drained, NULL, WAIT_MS)
          && letter(m, P_DEL2, 0) == NULL,
          "a replayed delete: keys already gone are no error");
    free(up.data);
}


/* how fast: libvips alone, then one worker through the bucket */
static void
bench(media_t *m)
{
    int                i, s;
    char               path[128], err[PHOTO_VIPS_ERROR];
    blob_t             up;
    double             t0, t;
    photo_vips_src_t   src;
    photo_vips_out_t   out;

    up = plain_jpeg(1080, 1350);

    photo_vips_source(&src, up.data, up.len, err, sizeof(err));
    t0 = h_now();
    for (i = 0; i < BENCH; i++) {
        for (s = 0; s < PHOTO_MEDIA_SIZES; s++) {
            if (photo_vips_size(&src, &photo_media_sizes[s], &out, err,
                                sizeof(err))
                == 0)
            {
                photo_vips_free(&out);
            }
        }
    }
    t = h_now() - t0;
    printf("# libvips, one thread: %d uploads of 1080x1350 (%zu bytes) in "
           "%.2f s: %.1f uploads/s, %.1f sized copies/s\n", BENCH, up.len,
           t, BENCH / t, BENCH * PHOTO_MEDIA_SIZES / t);

    for (i = 0; i < BENCH; i++) {
        post(m, P_BENCH + i, ".jpg", &up, 1080, 1350, path, sizeof(path));
    }

    t0 = h_now();
    for (i = 0; i < BENCH; i++) {
        job(m, P_BENCH + i);
    }

    CHECK(h_wait(m->h, drained, NULL, 60000)
          && h_sql_int(m->h, "select count(*) from photos where id between"
                       " %lld and %lld and images is not null", P_BENCH,
                       P_BENCH + BENCH - 1) == BENCH,
          "%d photos made into sizes by one worker", BENCH);
    t = h_now() - t0;
    printf("# one worker through the bucket: %d uploads of 1080x1350 in "
           "%.2f s: %.1f uploads/s, %.1f sized copies/s\n", BENCH, t,
           BENCH / t, BENCH * PHOTO_MEDIA_SIZES / t);

    free(up.data);
}


/* ----------------------------------------------------------------- set up */


static void
forget(h_t *h)
{
    int    i;
    char   key[64], *dl;

    PQclear(h_sql(h, "delete from photos where id between %lld and %lld",
                  BASE, BASE + SPAN));
    PQclear(h_sql(h, "delete from photo_deletions where id between %lld"
                     " and %lld", BASE, BASE + SPAN));
    h_forget(h, BASE, USERS);

    for (i = 100; i < 100 + BENCH + 200; i++) {
        snprintf(key, sizeof(key), PHOTO_MC_PHOTO "%lld", BASE + i);
        memcached_delete(h->mc, key, strlen(key), 0);
    }

    /* a failed run's dead letters */
    while ((dl = h_dead_letter(h, PHOTO_JOB_MEDIA, "\"748000000000000"))
           != NULL)
    {
        free(dl);
    }
}




/* where `npm ci` installed conf/s3: 0, or -1 (skip) */
static int
find_s3rver(media_t *m)
{
    char         bin[600];
    const char  *dir, *run;
    struct stat  st;

    dir = getenv("PHOTO_S3RVER_DIR");
    run = getenv("PHOTO_RUN_DIR");

    if (dir != NULL && dir[0] != '\0') {
        snprintf(m->s3rver, sizeof(m->s3rver), "%s", dir);

    } else {
        snprintf(m->s3rver, sizeof(m->s3rver), "%s/s3/app",
                 run ? run : PHOTO_SOURCE_DIR "/run");
    }

    snprintf(bin, sizeof(bin), "%s/node_modules/s3rver/bin/s3rver.js",
             m->s3rver);

    if (stat(bin, &st) != 0) {
        printf("1..0 # SKIP no s3rver in %s (npm ci of conf/s3 there, or "
               "PHOTO_S3RVER_DIR)\n", m->s3rver);
        return -1;
    }

    if (system(PYTHON " -c 'import botocore' 2>/dev/null") != 0) {
        printf("1..0 # SKIP no python3-botocore (scripts/setup)\n");
        return -1;
    }

    return 0;
}


int
main(int argc, char **argv)
{
    h_t      h;
    media_t  m;

    h_init(&h, "media");

    memset(&m, 0, sizeof(m));
    m.h = &h;

    if (find_s3rver(&m) != 0) {
        h_done(&h, 0);
        h_forget_queue(&h);
        return 77;
    }

    if (VIPS_INIT(argv[0]) != 0) {
        printf("Bail out! libvips: %s\n", vips_error_buffer());
        return 2;
    }

    vips_concurrency_set(1);

    snprintf(m.root, sizeof(m.root), "%s/media", h.dir);
    snprintf(m.data, sizeof(m.data), "%s/s3data", h.dir);
    snprintf(m.rules, sizeof(m.rules), "%s/s3rules.json", h.dir);
    snprintf(m.records, sizeof(m.records), "%s/s3records.txt", h.dir);
    mkdir(m.root, 0755);
    rules(&m, "{}");

    m.port = h_free_port();
    snprintf(m.url, sizeof(m.url), "http://127.0.0.1:%d", m.port);

    if (proxy_start(&m) != 0) {
        printf("Bail out! the local S3 did not start; see %s\n", h.dir);
        return 2;
    }

    m.s3 = client(&m, m.url, AKEY, SKEY, 0);
    m.wrong = client(&m, m.url, AKEY, "not-the-secret", 0);
    m.anon = client(&m, m.url, "", "", 0);

    forget(&h);
    h_users(&h, BASE, USERS);

    check_settings(&m);
    m.worker = worker(&m, SKEY, 0);

    check_sizes(&m);
    check_exif(&m);
    check_small_png_icc(&m);
    check_replay(&m);
    check_vhost(&m);
    check_wrong_secret(&m);
    check_away(&m);
    check_damaged(&m);
    check_race(&m);
    check_delete(&m);
    bench(&m);

    forget(&h);
    proxy_stop(&m);
    h_done(&h, photo_check_failed);
    h_forget_queue(&h);

    photo_s3_free(m.s3);
    photo_s3_free(m.wrong);
    photo_s3_free(m.anon);

    return CHECK_DONE();
}
