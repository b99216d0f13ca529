
/*
 * POST /v1/media: the raw image as the body.  Checked (JPEG or PNG, by its
 * magic bytes and its header, not truncated, under photo_media_max), stored
 * under photo_media_root with a name keyed on the bytes and the uploader
 * (HMAC-SHA256, see ngx_photo_media_names) written atomically (temp file +
 * rename), and remembered in Redis for the uploader only until it is
 * posted (PHOTO_REDIS_MEDIA, with an expiry).
 *
 * With photo_media_thread_pool, the bytes are hashed and the file written
 * by a thread of that pool (directory, temp file, write, rename), so the
 * worker goes on serving meanwhile; without it, by the worker itself, as
 * nginx writes request bodies to its temp files.
 */

#include "ngx_photo_write.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_json.h"
#include "ngx_photo_image.h"
#include "ngx_photo_redis.h"
#include "photo_media.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>


#define NGX_PHOTO_MEDIA_HASH  32            /* bytes of HMAC-SHA256 */


typedef struct {
    ngx_photo_write_t          *write;
    ngx_photo_image_t           img;
    ngx_msec_t                  started;    /* for the temp file's name */
    ngx_str_t                   path;       /* aa/<hmac><ext> */
    ngx_str_t                   url;
    u_char                     *dir;        /* these three NUL-terminated */
    u_char                     *name;
    u_char                     *tmp;
    ngx_str_t                   answer;
} ngx_photo_media_t;


static void ngx_photo_media_body(ngx_photo_write_t *w);
static ngx_int_t ngx_photo_media_names(ngx_photo_media_t *m);
static void ngx_photo_media_store(ngx_photo_write_t *w, ngx_log_t *log);
static ngx_int_t ngx_photo_media_hash(ngx_photo_media_t *m, ngx_log_t *log);
static void ngx_photo_media_file(ngx_photo_media_t *m);
static void ngx_photo_media_failed(ngx_photo_media_t *m, const char *what,
    u_char *on, ngx_err_t err);
static void ngx_photo_media_stored(ngx_photo_write_t *w);
static void ngx_photo_media_image(yajl_gen g, ngx_photo_media_t *m,
    ngx_str_t *url);
static void ngx_photo_media_remembered(void *data, ngx_photo_result_t *res);


ngx_int_t
ngx_photo_media_handler(ngx_http_request_t *r)
{
    ngx_http_photo_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_photo_module);

    if (plcf->media_root.len == 0) {
        return ngx_photo_json_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                    "uploads are not enabled here");
    }

    if (r->headers_in.content_length_n > (off_t) plcf->media_max) {
        return ngx_photo_json_error(r, NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                    "too_large", "the image is over %uz bytes",
                                    plcf->media_max);
    }

    return ngx_photo_write_start(r, ngx_photo_media_body, 1,
                                 NGX_PHOTO_BODY_RAW, 0);
}


static void
ngx_photo_media_body(ngx_photo_write_t *w)
{
    ngx_photo_media_t   *m;
    ngx_photo_image_t    img;
    ngx_http_request_t  *r;

    r = w->request;

    switch (ngx_photo_image_probe(w->body.data, w->body.len, &img)) {

    case NGX_PHOTO_IMAGE_OK:
        break;

    case NGX_PHOTO_IMAGE_TRUNCATED:
        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_image",
                             "the image is truncated");
        return;

    case NGX_PHOTO_IMAGE_BAD:
        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_image",
                             "the image's header is not valid");
        return;

    default:
        ngx_photo_write_fail(w, NGX_HTTP_UNSUPPORTED_MEDIA_TYPE,
                             "invalid_image",
                             "the body must be a JPEG or PNG image");
        return;
    }

    m = ngx_pcalloc(r->pool, sizeof(ngx_photo_media_t));
    if (m == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    m->write = w;
    m->img = img;
    w->data = m;

    if (ngx_photo_media_names(m) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_photo_write_task(w, ngx_photo_media_store, ngx_photo_media_stored);
}


/* the file is there: remember it in Redis, then answer */
static void
ngx_photo_media_stored(ngx_photo_write_t *w)
{
    u_char                      *p;
    size_t                       len, argvlen[5];
    int64_t                      id;
    yajl_gen                     g;
    ngx_int_t                    rc;
    ngx_str_t                    media_key, link;
    const char                  *argv[5];
    ngx_photo_media_t           *m;
    ngx_http_request_t          *r;
    const unsigned char         *buf;
    ngx_http_photo_loc_conf_t   *plcf;
    u_char                       ttl[NGX_INT_T_LEN];

    m = w->data;
    r = w->request;
    plcf = ngx_http_get_module_loc_conf(r, ngx_http_photo_module);

    m->url.data = ngx_pnalloc(r->pool,
                              plcf->media_url.len + 1 + m->path.len);
    if (m->url.data == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    m->url.len = ngx_sprintf(m->url.data, "%V/%V", &plcf->media_url,
                             &m->path)
                 - m->url.data;

    id = ngx_photo_next_id(r);
    if (id == 0) {
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "ids"));
        return;
    }

    g = ngx_photo_json_gen_alloc(r->pool);
    p = ngx_pnalloc(r->pool, sizeof(PHOTO_REDIS_MEDIA) + NGX_INT64_LEN);
    if (g == NULL || p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    media_key.data = p;
    media_key.len = ngx_sprintf(p, PHOTO_REDIS_MEDIA "%L", id) - p;

    /* what the post will need, for this user only */
    yajl_gen_map_open(g);
    ngx_photo_json_id_pair(g, PHOTO_JOB_F_USER_ID, w->user_id);
    ngx_photo_json_pair(g, PHOTO_JOB_F_MEDIA_PATH, m->path.data, m->path.len);
    ngx_photo_media_image(g, m, &m->url);
    yajl_gen_map_close(g);
    yajl_gen_get_buf(g, &buf, &len);

    argv[0] = "SET";
    argvlen[0] = 3;
    argv[1] = (char *) media_key.data;
    argvlen[1] = media_key.len;
    argv[2] = (char *) buf;
    argvlen[2] = len;
    argv[3] = "EX";
    argvlen[3] = 2;
    argv[4] = (char *) ttl;
    argvlen[4] = ngx_sprintf(ttl, "%d", PHOTO_MEDIA_TTL) - ttl;

    /* the answer, ready for when Redis has the record */
    g = ngx_photo_json_gen_alloc(r->pool);
    if (g == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* the uploader sees it by a signed link, as everyone sees photos */
    link = m->url;

    if (plcf->media_link_secret.len) {
        link.data = ngx_pnalloc(r->pool, m->url.len + PHOTO_MEDIA_LINK_EXTRA);
        if (link.data == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        link.len = photo_media_link((char *) link.data,
                                    m->url.len + PHOTO_MEDIA_LINK_EXTRA,
                                    (char *) m->url.data, m->url.len,
                                    photo_media_link_expires(id, ngx_time()),
                                    plcf->media_link_secret.data,
                                    plcf->media_link_secret.len);
        if (link.len == 0) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    yajl_gen_map_open(g);
    ngx_photo_json_id_pair(g, "media_id", id);
    ngx_photo_media_image(g, m, &link);
    yajl_gen_map_close(g);

    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    m->answer.data = (u_char *) buf;
    m->answer.len = len;

    rc = ngx_photo_redis_command(r, ngx_photo_media_remembered, m, 5, argv,
                                 argvlen);

    ngx_photo_wait_again(r, rc, "redis");
}


/* "image_url","width","height": in the Redis record (the path) and in the
   answer (its link) */
static void
ngx_photo_media_image(yajl_gen g, ngx_photo_media_t *m, ngx_str_t *url)
{
    ngx_photo_json_pair(g, PHOTO_JOB_F_IMAGE_URL, url->data, url->len);
    yajl_gen_string(g, (u_char *) PHOTO_JOB_F_WIDTH,
                    sizeof(PHOTO_JOB_F_WIDTH) - 1);
    yajl_gen_integer(g, m->img.width);
    yajl_gen_string(g, (u_char *) PHOTO_JOB_F_HEIGHT,
                    sizeof(PHOTO_JOB_F_HEIGHT) - 1);
    yajl_gen_integer(g, m->img.height);
}


static void
ngx_photo_media_remembered(void *data, ngx_photo_result_t *res)
{
    ngx_photo_media_t  *m = data;

    ngx_http_request_t  *r;
    redisReply          *reply;

    /* NULL: Redis failed (said in the log) */
    reply = res->reply.redis;

    r = m->write->request;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "redis"));
        return;
    }

    ngx_photo_write_answer(m->write, NGX_HTTP_CREATED, &m->answer);
}


/*
 * <root>/<aa>/<hex><ext>, where hex is the HMAC-SHA256 of the bytes under a
 * key of the uploader's own (the HMAC of their user id under
 * photo_media_key_file's secret), and aa its first two digits.  A plain
 * hash would let anyone holding an image ask whether it was uploaded; so
 * the same bytes are one file per user, and two users' are two files.
 * Written to a temp file in the same directory, then renamed, so a reader
 * never sees half a file.  The names' room, here; the names themselves
 * once the bytes are hashed (ngx_photo_media_hash).
 */

static ngx_int_t
ngx_photo_media_names(ngx_photo_media_t *m)
{
    size_t                       len;
    ngx_http_request_t          *r;
    ngx_http_photo_loc_conf_t   *plcf;

    r = m->write->request;
    plcf = ngx_http_get_module_loc_conf(r, ngx_http_photo_module);

    len = 3 + 2 * NGX_PHOTO_MEDIA_HASH + ngx_strlen(m->img.ext);

    m->path.data = ngx_pnalloc(r->pool, len + 1);
    m->dir = ngx_pnalloc(r->pool, plcf->media_root.len + 4);
    m->name = ngx_pnalloc(r->pool, plcf->media_root.len + 1 + len + 1);
    m->tmp = ngx_pnalloc(r->pool, plcf->media_root.len + 1 + len
                                  + sizeof(".tmp.") + 2 * NGX_INT64_LEN);
    if (m->path.data == NULL || m->dir == NULL || m->name == NULL
        || m->tmp == NULL)
    {
        return NGX_ERROR;
    }

    m->started = ngx_current_msec;

    return NGX_OK;
}


/* A task (see ngx_photo_write_task): the bytes hashed, then the file. */

static void
ngx_photo_media_store(ngx_photo_write_t *w, ngx_log_t *log)
{
    ngx_photo_media_t  *m = w->data;

    if (ngx_photo_media_hash(m, log) == NGX_OK) {
        ngx_photo_media_file(m);
    }
}


static ngx_int_t
ngx_photo_media_hash(ngx_photo_media_t *m, ngx_log_t *log)
{
    u_char                      *p;
    unsigned int                 n;
    ngx_photo_write_t           *w;
    ngx_http_photo_loc_conf_t   *plcf;
    u_char                       user[NGX_INT64_LEN];
    u_char                       key[EVP_MAX_MD_SIZE];
    u_char                       digest[EVP_MAX_MD_SIZE];
    u_char                       hex[2 * NGX_PHOTO_MEDIA_HASH];

    w = m->write;
    plcf = ngx_http_get_module_loc_conf(w->request, ngx_http_photo_module);

    p = ngx_sprintf(user, "%L", w->user_id);

    if (HMAC(EVP_sha256(), plcf->media_key.data, (int) plcf->media_key.len,
             user, p - user, key, &n)
        == NULL
        || HMAC(EVP_sha256(), key, (int) n, w->body.data, w->body.len,
                digest, &n)
           == NULL
        || n != NGX_PHOTO_MEDIA_HASH)
    {
        w->failed.level = NGX_LOG_ALERT;
        w->failed.what = "HMAC-SHA256 of an upload";
        return NGX_ERROR;
    }

    ngx_explicit_memzero(key, sizeof(key));
    ngx_hex_dump(hex, digest, NGX_PHOTO_MEDIA_HASH);

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, log, 0,
                   "photo media: %uz bytes hashed", w->body.len);

    /* the relative path: aa/<hex><ext> */
    m->path.len = ngx_sprintf(m->path.data, "%*s/%*s%s", (size_t) 2, hex,
                              sizeof(hex), hex, m->img.ext)
                  - m->path.data;

    p = ngx_sprintf(m->dir, "%V/%*s", &plcf->media_root, (size_t) 2, hex);
    *p = '\0';

    *ngx_sprintf(m->name, "%V/%V", &plcf->media_root, &m->path) = '\0';
    *ngx_sprintf(m->tmp, "%s.tmp.%P.%M", m->name, ngx_pid, m->started)
        = '\0';

    return NGX_OK;
}


/* the file itself: system calls only */
static void
ngx_photo_media_file(ngx_photo_media_t *m)
{
    ssize_t             n;
    ngx_fd_t            fd;
    ngx_err_t           err;
    ngx_photo_write_t  *w;

    w = m->write;

    if (ngx_create_dir(m->dir, 0755) == NGX_FILE_ERROR
        && ngx_errno != NGX_EEXIST)
    {
        ngx_photo_media_failed(m, ngx_create_dir_n, m->dir, ngx_errno);
        return;
    }

    fd = ngx_open_file(m->tmp, NGX_FILE_WRONLY, NGX_FILE_CREATE_OR_OPEN
                       | NGX_FILE_TRUNCATE, 0644);
    if (fd == NGX_INVALID_FILE) {
        ngx_photo_media_failed(m, ngx_open_file_n, m->tmp, ngx_errno);
        return;
    }

    n = ngx_write_fd(fd, w->body.data, w->body.len);
    err = ngx_errno;

    if (ngx_close_file(fd) == NGX_FILE_ERROR || n != (ssize_t) w->body.len) {
        ngx_photo_media_failed(m, "writing", m->tmp, err);
        (void) ngx_delete_file(m->tmp);
        return;
    }

    if (ngx_rename_file(m->tmp, m->name) == NGX_FILE_ERROR) {
        ngx_photo_media_failed(m, ngx_rename_file_n, m->tmp, ngx_errno);
        (void) ngx_delete_file(m->tmp);
    }
}


static void
ngx_photo_media_failed(ngx_photo_media_t *m, const char *what, u_char *on,
    ngx_err_t err)
{
    ngx_photo_failed_t  *f;

    f = &m->write->failed;

    f->level = NGX_LOG_CRIT;
    f->what = what;
    f->on = on;
    f->err = err;
}
