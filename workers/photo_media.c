/*
 * photo_media: a photo's upload and its sized copies into the bucket, and
 * out again once no photo uses them (background job photo_media, from the
 * persist worker; photo_contract.h, photo_media.h).
 *
 * {"unique":"media:<id>","id","user_id"}:
 *
 *   1. the photo's media path (none: the photo is gone, nothing to do);
 *      when another photo of the same upload has its sizes already, on to
 *      5 with them (the keys are the upload's);
 *   2. its upload read from PHOTO_MEDIA_ROOT, the folder nginx writes;
 *   3. put unchanged as "original/<media path>", first: while the bucket
 *      is away no image is decoded for nothing;
 *   4. each size of photo_media_sizes made with libvips (photo_vips.h)
 *      and put as "<size>/<aa>/<name>.jpg";
 *   5. photos.images set to their widths and heights, and the photo
 *      object rewritten (photo_object_store(): it now has "images").
 *
 * A replay makes the same bytes again (photo_vips.h) and puts them over
 * the same keys: nothing changes.  The photo deleted meanwhile: step 5
 * finds no row, and what was put is taken out again (below), so that an
 * unmedia job that ran before the puts leaves nothing behind; a delete
 * committed after step 5 began sends its unmedia job after the puts.
 *
 * {"unique":"unmedia:<id>","id","delete":true}: the deleted photo's media
 * path (photo_deletions), and, unless another photo still uses that
 * upload (one upload may be posted twice), its five keys deleted (a key
 * that is not there is no error).
 *
 * What becomes of a job that fails:
 *
 *   the bucket away (not answering, timed out, 5xx, 429, SlowDown):
 *       retried, with the framework's backoff (100 ms doubling to 2 s);
 *   the bucket refusing (403 SignatureDoesNotMatch, InvalidAccessKeyId,
 *   AccessDenied, NoSuchBucket...): retried too, and logged as an error
 *       naming S3's code and the setting to fix, on the first attempt
 *       and every 30th: a wrong key is an operator's error, not the
 *       job's, and the job must not be lost while it is fixed (restart
 *       the worker with the right settings: the job goes back to
 *       gearmand and is applied);
 *   PHOTO_MEDIA_ROOT unreadable (not mounted, no permission): retried,
 *       logged as an error;
 *   the upload not in PHOTO_MEDIA_ROOT while its photo still is: a dead
 *       letter, after three attempts (a shared folder's late view).  nginx
 *       writes the file before it accepts the post, so it never will
 *       appear: it was removed (the delete of another photo of the same
 *       upload, a known window of the persist worker) or the folder is not
 *       nginx's.  A file missing because the photo was deleted meanwhile:
 *       done, nothing to do;
 *   an upload libvips cannot decode (damaged inside): a dead letter with
 *       libvips's reason; the photo stays, shown with its upload (its
 *       original, put first, stays in the bucket until the photo's
 *       delete job takes it out).
 *
 * Settings (environment or --config): PHOTO_S3_URL, PHOTO_S3_REGION,
 * PHOTO_S3_BUCKET, PHOTO_S3_ACCESS_KEY, PHOTO_S3_SECRET_KEY,
 * PHOTO_S3_STYLE ("path" or "virtual"), PHOTO_MEDIA_ROOT; VIPS_CONCURRENCY
 * (libvips's threads per image, 1 unless set).
 */

#include "photo_worker.h"
#include "photo_id.h"
#include "photo_log.h"
#include "photo_media.h"
#include "photo_object_store.h"
#include "photo_s3.h"
#include "photo_vips.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>


#define PHOTO_MEDIA_PATH_MAX    512         /* nginx writes ~70 bytes */
#define PHOTO_MEDIA_KEY_MAX     (PHOTO_MEDIA_PATH_MAX + 16)
#define PHOTO_MEDIA_FILE_MAX    (256 * 1024 * 1024)   /* far over nginx's
                                                 photo_media_max_size */
#define PHOTO_MEDIA_LOG_EVERY   30          /* attempts between errors of
                                               a bucket that refuses */
#define PHOTO_MEDIA_MISSING_ATTEMPTS  3     /* an upload not there: tried
                                               again, ~0.3 s in all */

static photo_s3_t    *photo_media_s3;
static const char    *photo_media_root;

/* photo_media_*_total: what the bucket took, and what it did not */
static photo_metric_t  *photo_media_puts;
static photo_metric_t  *photo_media_deletes;
static photo_metric_t  *photo_media_away;
static photo_metric_t  *photo_media_refused;
static photo_metric_t  *photo_media_undecodable;
static photo_metric_t  *photo_media_resize;

/* the upload being made into sizes */
typedef struct {
    int64_t            id;
    char               sid[PHOTO_ID_BUF];
    char               path[PHOTO_MEDIA_PATH_MAX + 1];    /* media path */
    const char        *type;          /* its Content-Type */
    unsigned char     *data;          /* its bytes (malloc) */
    size_t             len;
    int                images[2 * PHOTO_MEDIA_SIZES];
} photo_media_upload_t;


static int photo_media_setup(const photo_config_t *cf, const char *argv0);
static void photo_media_metrics(void);
static photo_job_rc_t photo_media(photo_ctx_t *ctx, photo_job_t *job);
static photo_job_rc_t photo_media_make(photo_ctx_t *ctx, photo_job_t *job,
    photo_media_upload_t *up);
static photo_job_rc_t photo_media_path(photo_ctx_t *ctx, photo_job_t *job,
    const char *sql, int64_t id, char *path, int *found);
static photo_job_rc_t photo_media_made(photo_ctx_t *ctx, photo_job_t *job,
    photo_media_upload_t *up, int *made);
static photo_job_rc_t photo_media_type(photo_job_t *job,
    photo_media_upload_t *up);
static photo_job_rc_t photo_media_read(photo_job_t *job,
    photo_media_upload_t *up, int *missing);
static photo_job_rc_t photo_media_sizes_put(photo_job_t *job,
    photo_media_upload_t *up);
static photo_job_rc_t photo_media_images(photo_ctx_t *ctx, photo_job_t *job,
    photo_media_upload_t *up, int *gone);
static photo_job_rc_t photo_unmedia(photo_ctx_t *ctx, photo_job_t *job,
    int64_t id);
static photo_job_rc_t photo_media_remove(photo_ctx_t *ctx, photo_job_t *job,
    const char *path, int *removed);
static photo_job_rc_t photo_media_put(photo_job_t *job, const char *path,
    int s, const void *data, size_t len, const char *type);
static photo_job_rc_t photo_media_s3_rc(photo_job_t *job,
    const photo_s3_result_t *res);
static const char *photo_media_hint(const char *code);
static int photo_media_path_ok(const char *path);


static const photo_worker_function_t  photo_media_functions[] = {
    { .name = PHOTO_JOB_MEDIA, .handler = photo_media,
      .kind = PHOTO_JOB_BACKGROUND },
    { .name = NULL }
};


int
main(int argc, char **argv)
{
    int             rc;
    photo_worker_t  w;

    if (photo_worker_init(&w, argc, argv, "photo_media",
                          "Puts each photo's upload and its sized copies "
                          "(libvips) into the S3 bucket,\nand takes them "
                          "out once no photo uses them.",
                          photo_media_functions)
        != 0)
    {
        return w.exit_code;
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    photo_media_metrics();

    rc = photo_media_setup(&w.cf, argv[0]) == 0 ? photo_worker_run(&w) : 1;

    photo_s3_free(photo_media_s3);
    photo_worker_done(&w);
    photo_vips_done();
    curl_global_cleanup();

    return rc;
}


/* the bucket's client, the uploads' folder, libvips */
static int
photo_media_setup(const photo_config_t *cf, const char *argv0)
{
    photo_s3_conf_t  conf;

    if (cf->s3_url[0] == '\0') {
        photo_log_error("PHOTO_S3_URL is not set: the bucket's endpoint, "
                        "e.g. https://s3.eu-west-1.amazonaws.com");
        return -1;
    }

    if (cf->s3_access_key[0] == '\0' || cf->s3_secret_key[0] == '\0') {
        photo_log_error("PHOTO_S3_ACCESS_KEY and PHOTO_S3_SECRET_KEY must "
                        "be set: the bucket's writes are signed");
        return -1;
    }

    if (strcmp(cf->s3_style, "path") != 0
        && strcmp(cf->s3_style, "virtual") != 0)
    {
        photo_log_error("PHOTO_S3_STYLE \"%s\" is not \"path\" or "
                        "\"virtual\"", cf->s3_style);
        return -1;
    }

    if (cf->media_root[0] == '\0') {
        photo_log_error("PHOTO_MEDIA_ROOT is not set: nginx's "
                        "photo_media_root, as this worker sees it");
        return -1;
    }

    photo_media_root = cf->media_root;

    conf.url = cf->s3_url;
    conf.region = cf->s3_region;
    conf.bucket = cf->s3_bucket;
    conf.access_key = cf->s3_access_key;
    conf.secret_key = cf->s3_secret_key;
    conf.virtual_host = strcmp(cf->s3_style, "virtual") == 0;
    conf.ca_file = NULL;

    photo_media_s3 = photo_s3_create(&conf);
    if (photo_media_s3 == NULL) {
        return -1;
    }

    if (photo_vips_init(argv0) != 0) {
        return -1;
    }

    photo_log_info("bucket %s (%s style, %s), uploads from %s",
                   photo_s3_url(photo_media_s3, ""), cf->s3_style,
                   cf->s3_region, photo_media_root);

    return 0;
}


static void
photo_media_metrics(void)
{
    static const char  *errors =
        "Requests the bucket did not take: away (not answering, 5xx, "
        "throttled) or refused (4xx: the worker's settings), each attempt "
        "counted.";

    photo_media_puts = photo_metrics_counter("photo_media_puts_total",
        "Objects the bucket took: originals and sized copies, replays "
        "included.", "");
    photo_media_deletes = photo_metrics_counter("photo_media_deletes_total",
        "Objects deleted from the bucket (a key already gone counted "
        "too).", "");
    photo_media_away = photo_metrics_counter("photo_media_s3_errors_total",
                                             errors, "kind=\"away\"");
    photo_media_refused = photo_metrics_counter(
        "photo_media_s3_errors_total", errors, "kind=\"refused\"");
    photo_media_undecodable = photo_metrics_counter(
        "photo_media_undecodable_total",
        "Uploads libvips could not decode (dead letters).", "");
    photo_media_resize = photo_metrics_histogram(
        "photo_media_resize_seconds",
        "The time libvips took to make one sized copy.", "");
}


static photo_job_rc_t
photo_media(photo_ctx_t *ctx, photo_job_t *job)
{
    int                    del;
    int64_t                id, user;
    photo_job_rc_t         rc;
    photo_media_upload_t   up;

    if (photo_job_id(job, PHOTO_JOB_F_ID, &id)
        || photo_job_flag(job, PHOTO_JOB_F_DELETE, &del))
    {
        return PHOTO_JOB_DEAD;
    }

    if (del) {
        return photo_unmedia(ctx, job, id);
    }

    if (photo_job_id(job, PHOTO_JOB_F_USER_ID, &user)) {
        return PHOTO_JOB_DEAD;
    }

    memset(&up, 0, sizeof(up));
    up.id = id;
    photo_id_format(up.sid, id);

    rc = photo_media_make(ctx, job, &up);

    free(up.data);

    return rc;
}


/* steps 1 to 5 (above) */
static photo_job_rc_t
photo_media_make(photo_ctx_t *ctx, photo_job_t *job,
    photo_media_upload_t *up)
{
    int              found, missing, gone, removed;
    photo_job_rc_t   rc;
    struct timespec  start;

    static const char  *row =
        "select media_path from photos where id = $1";

    clock_gettime(CLOCK_MONOTONIC, &start);

    rc = photo_media_path(ctx, job, row, up->id, up->path, &found);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    if (!found) {
        photo_log_info("photo %s is gone: no sized copies", up->sid);
        return PHOTO_JOB_DONE;
    }

    /* an upload posted again: its copies are in the bucket already */
    rc = photo_media_made(ctx, job, up, &found);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    if (found) {
        goto images;
    }

    rc = photo_media_type(job, up);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    rc = photo_media_read(job, up, &missing);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    if (missing) {
        /* deleted meanwhile (its file with it), or never to be found */
        rc = photo_media_path(ctx, job, row, up->id, up->path, &found);
        if (rc != PHOTO_JOB_DONE) {
            return rc;
        }

        if (!found) {
            photo_log_info("photo %s was deleted meanwhile: no sized "
                           "copies", up->sid);
            return PHOTO_JOB_DONE;
        }

        /* a shared folder's late view of a new file: a few tries */
        if (job->attempt < PHOTO_MEDIA_MISSING_ATTEMPTS) {
            return photo_job_retry(job, "photo %s: its upload %s/%s is not "
                                   "there (yet?)", up->sid, photo_media_root,
                                   up->path);
        }

        return photo_job_dead(job, "photo %s: its upload %s/%s is not "
                              "there (removed with another photo of the "
                              "same upload, or PHOTO_MEDIA_ROOT is not "
                              "nginx's photo_media_root)", up->sid,
                              photo_media_root, up->path);
    }

    rc = photo_media_put(job, up->path, -1, up->data, up->len, up->type);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    rc = photo_media_sizes_put(job, up);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

images:

    rc = photo_media_images(ctx, job, up, &gone);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    if (gone) {
        rc = photo_media_remove(ctx, job, up->path, &removed);

        if (rc == PHOTO_JOB_DONE) {
            photo_log_info("photo %s was deleted meanwhile: %s", up->sid,
                           removed ? "its objects taken out again"
                           : "its objects kept (another photo uses them)");
        }

        return rc;
    }

    rc = photo_object_store(ctx, job, up->id);

    if (rc == PHOTO_JOB_DONE) {
        photo_log_info("photo %s: %s and %d sizes in the bucket "
                       "(%dx%d, %dx%d, %dx%d, %dx%d) in %ld ms", up->sid,
                       up->path, PHOTO_MEDIA_SIZES, up->images[0],
                       up->images[1], up->images[2], up->images[3],
                       up->images[4], up->images[5], up->images[6],
                       up->images[7], photo_worker_ms_since(&start));
    }

    return rc;
}


/*
 * The sizes of another photo of the same upload, made before: the same
 * keys hold them (photo_media_key()), and they stay while a photo of the
 * upload does (photo_unmedia: this one's row is there).  A client posting
 * one upload many times (and the tests' loads) costs a query each.
 */
static photo_job_rc_t
photo_media_made(photo_ctx_t *ctx, photo_job_t *job, photo_media_upload_t *up,
    int *made)
{
    int              i;
    PGresult        *res;
    const char      *params[1];
    photo_object_t   o;
    photo_job_rc_t   rc;

    *made = 0;
    params[0] = up->path;

    res = photo_ctx_pg(ctx, job, "select images from photos"
                       " where media_path = $1 and images is not null"
                       " limit 1", 1, params, &rc);
    if (res == NULL) {
        return rc;
    }

    memset(&o, 0, sizeof(o));

    if (PQntuples(res) == 1
        && photo_object_images(&o, PQgetvalue(res, 0, 0),
                               (size_t) PQgetlength(res, 0, 0)) == 0)
    {
        for (i = 0; i < 2 * PHOTO_MEDIA_SIZES; i++) {
            up->images[i] = o.images[i];
        }

        *made = 1;
        photo_log_debug("photo %s: %s was sized before", up->sid, up->path);
    }

    PQclear(res);

    return PHOTO_JOB_DONE;
}


/*
 * The media path a query of id answers (sql: one text column, $1 the
 * id): *found 0 when it answers no row or null.
 */
static photo_job_rc_t
photo_media_path(photo_ctx_t *ctx, photo_job_t *job, const char *sql,
    int64_t id, char *path, int *found)
{
    int              len;
    char             sid[PHOTO_ID_BUF];
    PGresult        *res;
    const char      *params[1];
    photo_job_rc_t   rc;

    photo_id_format(sid, id);
    params[0] = sid;
    *found = 0;

    res = photo_ctx_pg(ctx, job, sql, 1, params, &rc);
    if (res == NULL) {
        return rc;
    }

    if (PQntuples(res) == 0 || PQgetisnull(res, 0, 0)) {
        PQclear(res);
        return PHOTO_JOB_DONE;
    }

    len = PQgetlength(res, 0, 0);

    if (len > PHOTO_MEDIA_PATH_MAX || !photo_media_path_ok(PQgetvalue(res,
                                                                 0, 0)))
    {
        rc = photo_job_dead(job, "photo %s: media path \"%.64s\" is not one "
                            "nginx writes (<aa>/<name>.<jpg|png>)", sid,
                            PQgetvalue(res, 0, 0));
        PQclear(res);
        return rc;
    }

    memcpy(path, PQgetvalue(res, 0, 0), (size_t) len + 1);
    *found = 1;
    PQclear(res);

    return PHOTO_JOB_DONE;
}


/*
 * Only what nginx writes, "<aa>/<hex name>.<ext>": nothing outside
 * PHOTO_MEDIA_ROOT is read, and no key of the bucket is made from
 * anything else.
 */
static int
photo_media_path_ok(const char *path)
{
    const char  *p;

    if (path[0] == '\0' || path[0] == '/' || strstr(path, "..") != NULL
        || strstr(path, "//") != NULL)
    {
        return 0;
    }

    for (p = path; *p; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_'
              || *p == '-' || *p == '/'))
        {
            return 0;
        }
    }

    return 1;
}


/* the upload's Content-Type, by its extension, as nginx serves it */
static photo_job_rc_t
photo_media_type(photo_job_t *job, photo_media_upload_t *up)
{
    const char  *ext;

    ext = strrchr(up->path, '.');

    if (ext != NULL && strchr(ext, '/') == NULL) {
        if (strcmp(ext, ".jpg") == 0 || strcmp(ext, ".jpeg") == 0) {
            up->type = "image/jpeg";
            return PHOTO_JOB_DONE;
        }

        if (strcmp(ext, ".png") == 0) {
            up->type = "image/png";
            return PHOTO_JOB_DONE;
        }
    }

    return photo_job_dead(job, "photo %s: %s is not a .jpg or .png upload",
                          up->sid, up->path);
}


/*
 * The upload's bytes.  *missing: it is not there while PHOTO_MEDIA_ROOT
 * is (the caller asks whether the photo still is); the folder itself
 * missing or unreadable is the machine's trouble: retried.
 */
static photo_job_rc_t
photo_media_read(photo_job_t *job, photo_media_upload_t *up, int *missing)
{
    int          fd, err;
    char         file[PHOTO_CONFIG_STR + PHOTO_MEDIA_PATH_MAX + 2];
    size_t       got;
    ssize_t      n;
    struct stat  st;

    *missing = 0;
    snprintf(file, sizeof(file), "%s/%s", photo_media_root, up->path);

    fd = open(file, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        err = errno;

        if (err == ENOENT && stat(photo_media_root, &st) == 0
            && S_ISDIR(st.st_mode))
        {
            *missing = 1;
            return PHOTO_JOB_DONE;
        }

        photo_log_error("cannot read %s: %s (PHOTO_MEDIA_ROOT not mounted, "
                        "or not readable by this worker?)", file,
                        strerror(err));
        return photo_job_retry(job, "%s: %s", file, strerror(err));
    }

    if (fstat(fd, &st) != 0) {
        err = errno;
        close(fd);
        return photo_job_retry(job, "%s: %s", file, strerror(err));
    }

    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return photo_job_dead(job, "photo %s: %s is not a file", up->sid,
                              file);
    }

    if (st.st_size == 0 || st.st_size > PHOTO_MEDIA_FILE_MAX) {
        close(fd);
        return photo_job_dead(job, "photo %s: %s has %lld bytes", up->sid,
                              file, (long long) st.st_size);
    }

    up->len = (size_t) st.st_size;
    up->data = malloc(up->len);

    if (up->data == NULL) {
        close(fd);
        return photo_job_retry(job, "out of memory for %s", file);
    }

    for (got = 0; got < up->len; got += (size_t) n) {
        n = read(fd, up->data + got, up->len - got);

        if (n <= 0) {
            err = n < 0 ? errno : EIO;

            if (n < 0 && err == EINTR) {
                n = 0;
                continue;
            }

            close(fd);
            return photo_job_retry(job, "%s: %s", file,
                                   n == 0 ? "shorter than it was"
                                          : strerror(err));
        }
    }

    close(fd);

    return PHOTO_JOB_DONE;
}


/* step 4: each size made and put, its dims into up->images */
static photo_job_rc_t
photo_media_sizes_put(photo_job_t *job, photo_media_upload_t *up)
{
    int                s;
    char               err[PHOTO_VIPS_ERROR];
    photo_job_rc_t     rc;
    photo_vips_src_t   src;
    photo_vips_out_t   out;
    struct timespec    start;

    if (photo_vips_source(&src, up->data, up->len, err, sizeof(err)) != 0) {
        photo_metrics_inc(photo_media_undecodable);
        return photo_job_dead(job, "photo %s: %s: libvips: %s", up->sid,
                              up->path, err);
    }

    for (s = 0; s < PHOTO_MEDIA_SIZES; s++) {
        clock_gettime(CLOCK_MONOTONIC, &start);

        if (photo_vips_size(&src, &photo_media_sizes[s], &out, err,
                            sizeof(err))
            != 0)
        {
            photo_metrics_inc(photo_media_undecodable);
            return photo_job_dead(job, "photo %s: %s cannot be decoded: "
                                  "libvips: %s", up->sid, up->path, err);
        }

        photo_metrics_observe(photo_media_resize,
                              photo_worker_ms_since(&start) / 1000.0);

        rc = photo_media_put(job, up->path, s, out.data, out.len,
                             "image/jpeg");

        up->images[2 * s] = out.width;
        up->images[2 * s + 1] = out.height;
        photo_vips_free(&out);

        if (rc != PHOTO_JOB_DONE) {
            return rc;
        }
    }

    return PHOTO_JOB_DONE;
}


/*
 * Step 5: photos.images, written only when it differs (a replay writes
 * nothing).  *gone: the photo left photos before this statement began.
 */
static photo_job_rc_t
photo_media_images(photo_ctx_t *ctx, photo_job_t *job,
    photo_media_upload_t *up, int *gone)
{
    int              i;
    char             images[2 * PHOTO_MEDIA_SIZES * 12 + 3];
    size_t           n;
    PGresult        *res;
    const char      *params[2];
    photo_job_rc_t   rc;

    static const char  *set =
        "with u as (update photos set images = $2::integer[]"
        " where id = $1 and images is distinct from $2::integer[]"
        " returning 1)"
        " select exists (select 1 from photos where id = $1),"
        " (select count(*) from u)";

    *gone = 0;
    n = 0;
    images[n++] = '{';

    for (i = 0; i < 2 * PHOTO_MEDIA_SIZES; i++) {
        n += (size_t) snprintf(images + n, sizeof(images) - n, "%s%d",
                               i ? "," : "", up->images[i]);
    }

    images[n++] = '}';
    images[n] = '\0';

    params[0] = up->sid;
    params[1] = images;

    res = photo_ctx_pg(ctx, job, set, 2, params, &rc);
    if (res == NULL) {
        return rc;
    }

    *gone = PQgetvalue(res, 0, 0)[0] != 't';

    if (!*gone) {
        photo_log_debug("photo %s: images %s%s", up->sid, images,
                        PQgetvalue(res, 0, 1)[0] == '0'
                        ? " (as they were)" : "");
    }

    PQclear(res);

    return PHOTO_JOB_DONE;
}


/* ------------------------------------------------------------ unmedia */


static photo_job_rc_t
photo_unmedia(photo_ctx_t *ctx, photo_job_t *job, int64_t id)
{
    int              found, removed;
    char             path[PHOTO_MEDIA_PATH_MAX + 1];
    photo_job_rc_t   rc;

    rc = photo_media_path(ctx, job, "select media_path from photo_deletions"
                          " where id = $1", id, path, &found);
    if (rc != PHOTO_JOB_DONE) {
        return rc;
    }

    if (!found) {
        photo_log_info("photo %" PRId64 ": no deletion with a media path: "
                       "nothing to take out", id);
        return PHOTO_JOB_DONE;
    }

    rc = photo_media_remove(ctx, job, path, &removed);

    if (rc == PHOTO_JOB_DONE) {
        photo_log_info("photo %" PRId64 " deleted: %s %s", id, path,
                       removed ? "and its sizes taken out of the bucket"
                       : "kept: another photo uses it");
    }

    return rc;
}


/*
 * The upload's keys out of the bucket, unless a photo uses it.  Asked in
 * a statement of its own, after the deleted row left photos: of two
 * deletes of the last two photos of one upload, the one asking last sees
 * the other's row gone.
 */
static photo_job_rc_t
photo_media_remove(photo_ctx_t *ctx, photo_job_t *job, const char *path,
    int *removed)
{
    int                 s, used;
    char                key[PHOTO_MEDIA_KEY_MAX];
    PGresult           *res;
    const char         *params[1];
    photo_job_rc_t      rc;
    photo_s3_result_t   r;

    *removed = 0;
    params[0] = path;

    res = photo_ctx_pg(ctx, job, "select exists (select 1 from photos"
                       " where media_path = $1)", 1, params, &rc);
    if (res == NULL) {
        return rc;
    }

    used = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
    PQclear(res);

    if (used) {
        return PHOTO_JOB_DONE;
    }

    for (s = -1; s < PHOTO_MEDIA_SIZES; s++) {
        if (photo_media_key(key, sizeof(key), path, strlen(path), s) == 0) {
            return photo_job_dead(job, "media path %s makes no key", path);
        }

        photo_s3_delete(photo_media_s3, key, &r);

        rc = photo_media_s3_rc(job, &r);
        if (rc != PHOTO_JOB_DONE) {
            return rc;
        }

        photo_metrics_inc(photo_media_deletes);
    }

    *removed = 1;

    return PHOTO_JOB_DONE;
}


/* --------------------------------------------------------- the bucket */


/* size s of the upload at path (-1: the original) into the bucket */
static photo_job_rc_t
photo_media_put(photo_job_t *job, const char *path, int s, const void *data,
    size_t len, const char *type)
{
    char               key[PHOTO_MEDIA_KEY_MAX];
    photo_job_rc_t     rc;
    photo_s3_result_t  r;

    if (photo_media_key(key, sizeof(key), path, strlen(path), s) == 0) {
        return photo_job_dead(job, "media path %s makes no key", path);
    }

    photo_s3_put(photo_media_s3, key, data, len, type, &r);

    rc = photo_media_s3_rc(job, &r);

    if (rc == PHOTO_JOB_DONE) {
        photo_metrics_inc(photo_media_puts);
        photo_log_debug("put %s (%zu bytes)", key, len);
    }

    return rc;
}


/* what the bucket's answer makes of the job (above: always a retry) */
static photo_job_rc_t
photo_media_s3_rc(photo_job_t *job, const photo_s3_result_t *res)
{
    switch (res->rc) {

    case PHOTO_S3_OK:
        return PHOTO_JOB_DONE;

    case PHOTO_S3_RETRY:
        photo_metrics_inc(photo_media_away);
        return photo_job_retry(job, "the bucket: %s", res->reason);

    default:
        photo_metrics_inc(photo_media_refused);

        if (job->attempt == 1 || job->attempt % PHOTO_MEDIA_LOG_EVERY == 0) {
            photo_log_error("the bucket refuses the worker's requests: %s: "
                            "%s. An operator's error: fix the setting and "
                            "restart the worker; the job is retried until "
                            "then, not lost", res->reason,
                            photo_media_hint(res->code));
        }

        return photo_job_retry(job, "the bucket refused: %s", res->reason);
    }
}


/* the setting S3's error code points at */
static const char *
photo_media_hint(const char *code)
{
    size_t  i;

    static const char  *hints[][2] = {
        { "SignatureDoesNotMatch", "PHOTO_S3_SECRET_KEY is not the secret "
          "of PHOTO_S3_ACCESS_KEY" },
        { "InvalidAccessKeyId", "PHOTO_S3_ACCESS_KEY is not a key the "
          "service knows" },
        { "AccessDenied", "the key may not write to PHOTO_S3_BUCKET" },
        { "NoSuchBucket", "PHOTO_S3_BUCKET does not exist at PHOTO_S3_URL" },
        { "AuthorizationHeaderMalformed", "PHOTO_S3_REGION is not the "
          "bucket's region" },
        { "PermanentRedirect", "the bucket is elsewhere: PHOTO_S3_URL, "
          "PHOTO_S3_REGION, PHOTO_S3_STYLE" },
        { "InvalidBucketName", "PHOTO_S3_BUCKET is not a bucket's name" },
        { "RequestTimeTooSkewed", "this machine's clock is 15 minutes or "
          "more off (NTP?)" },
    };

    for (i = 0; i < sizeof(hints) / sizeof(hints[0]); i++) {
        if (strcmp(code, hints[i][0]) == 0) {
            return hints[i][1];
        }
    }

    return "check the PHOTO_S3_* settings";
}
