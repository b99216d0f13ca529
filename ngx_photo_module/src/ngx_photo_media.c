
/*
 * POST /v1/media: the raw image as the body.  Checked (JPEG or PNG, by its
 * magic bytes and its header, not truncated, under photo_media_max), stored
 * under photo_media_root with a content-addressed name (SHA-1 of the bytes)
 * written atomically (temp file + rename), and remembered in Redis for the
 * uploader only until it is posted (PHOTO_REDIS_MEDIA, with an expiry).
 *
 * The file is written from the worker like nginx writes request bodies to
 * its temp files; a deployment that wants that off the event loop would use
 * a thread pool.
 */

#include "ngx_photo_write.h"
#include "ngx_photo_json.h"
#include "ngx_photo_read.h"
#include "ngx_photo_image.h"
#include "ngx_photo_redis.h"

#include <ngx_sha1.h>


typedef struct {
    ngx_photo_write_t          *write;
    ngx_str_t                   answer;
} ngx_photo_media_t;


static void ngx_photo_media_body(ngx_photo_write_t *w);
static ngx_int_t ngx_photo_media_store(ngx_photo_write_t *w,
    ngx_photo_image_t *img, ngx_str_t *path, ngx_str_t *url);
static void ngx_photo_media_remembered(void *data, redisReply *reply);


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
    u_char                *p;
    size_t                 len, argvlen[5];
    int64_t                id;
    yajl_gen               g;
    ngx_int_t              rc;
    ngx_str_t              path, url, media_key;
    const char            *argv[5];
    ngx_photo_media_t     *m;
    ngx_photo_image_t      img;
    ngx_http_request_t    *r;
    const unsigned char   *buf;
    u_char                 num[NGX_INT64_LEN], ttl[NGX_INT_T_LEN];

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

    id = ngx_photo_next_id(r);
    if (id == 0) {
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "ids"));
        return;
    }

    if (ngx_photo_media_store(w, &img, &path, &url) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    m = ngx_palloc(r->pool, sizeof(ngx_photo_media_t));
    g = ngx_photo_json_gen_alloc(r->pool);
    p = ngx_pnalloc(r->pool, sizeof(PHOTO_REDIS_MEDIA) + NGX_INT64_LEN);
    if (m == NULL || g == NULL || p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    media_key.data = p;
    media_key.len = ngx_sprintf(p, PHOTO_REDIS_MEDIA "%L", id) - p;

    /* what the post will need, for this user only */
    yajl_gen_map_open(g);
    yajl_gen_string(g, (u_char *) PHOTO_JOB_F_USER_ID,
                    sizeof(PHOTO_JOB_F_USER_ID) - 1);
    yajl_gen_string(g, num, ngx_sprintf(num, "%L", w->user_id) - num);
    yajl_gen_string(g, (u_char *) PHOTO_JOB_F_MEDIA_PATH,
                    sizeof(PHOTO_JOB_F_MEDIA_PATH) - 1);
    yajl_gen_string(g, path.data, path.len);
    yajl_gen_string(g, (u_char *) PHOTO_JOB_F_IMAGE_URL,
                    sizeof(PHOTO_JOB_F_IMAGE_URL) - 1);
    yajl_gen_string(g, url.data, url.len);
    yajl_gen_string(g, (u_char *) PHOTO_JOB_F_WIDTH,
                    sizeof(PHOTO_JOB_F_WIDTH) - 1);
    yajl_gen_integer(g, img.width);
    yajl_gen_string(g, (u_char *) PHOTO_JOB_F_HEIGHT,
                    sizeof(PHOTO_JOB_F_HEIGHT) - 1);
    yajl_gen_integer(g, img.height);
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

    yajl_gen_map_open(g);
    yajl_gen_string(g, (u_char *) "media_id", sizeof("media_id") - 1);
    yajl_gen_string(g, num, ngx_sprintf(num, "%L", id) - num);
    yajl_gen_string(g, (u_char *) PHOTO_JOB_F_IMAGE_URL,
                    sizeof(PHOTO_JOB_F_IMAGE_URL) - 1);
    yajl_gen_string(g, url.data, url.len);
    yajl_gen_string(g, (u_char *) PHOTO_JOB_F_WIDTH,
                    sizeof(PHOTO_JOB_F_WIDTH) - 1);
    yajl_gen_integer(g, img.width);
    yajl_gen_string(g, (u_char *) PHOTO_JOB_F_HEIGHT,
                    sizeof(PHOTO_JOB_F_HEIGHT) - 1);
    yajl_gen_integer(g, img.height);
    yajl_gen_map_close(g);

    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    m->write = w;
    m->answer.data = (u_char *) buf;
    m->answer.len = len;

    rc = ngx_photo_redis_command(r, ngx_photo_media_remembered, m, 5, argv,
                                 argvlen);

    if (rc == NGX_DECLINED) {
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "redis"));
        return;
    }

    if (rc != NGX_AGAIN) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
    }
}


static void
ngx_photo_media_remembered(void *data, redisReply *reply)
{
    ngx_photo_media_t  *m = data;

    ngx_http_request_t  *r;

    r = m->write->request;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "redis"));
        return;
    }

    ngx_photo_write_answer(m->write, NGX_HTTP_CREATED, &m->answer);
}


/*
 * <root>/<aa>/<sha1 hex><ext>, where aa are the first two hex digits: the
 * same bytes are one file whoever uploads them.  Written to a temp file in
 * the same directory, then renamed, so a reader never sees half a file.
 */

static ngx_int_t
ngx_photo_media_store(ngx_photo_write_t *w, ngx_photo_image_t *img,
    ngx_str_t *path, ngx_str_t *url)
{
    u_char                      *p, *name, *tmp;
    size_t                       len;
    ssize_t                      n;
    ngx_fd_t                     fd;
    ngx_err_t                    err;
    ngx_sha1_t                   sha1;
    ngx_http_request_t          *r;
    ngx_http_photo_loc_conf_t   *plcf;
    u_char                       digest[20], hex[41];

    r = w->request;
    plcf = ngx_http_get_module_loc_conf(r, ngx_http_photo_module);

    ngx_sha1_init(&sha1);
    ngx_sha1_update(&sha1, w->body.data, w->body.len);
    ngx_sha1_final(digest, &sha1);
    ngx_hex_dump(hex, digest, 20);
    hex[40] = '\0';

    /* the relative path: aa/<hex><ext> */
    len = 3 + 40 + ngx_strlen(img->ext);
    path->data = ngx_pnalloc(r->pool, len + 1);
    if (path->data == NULL) {
        return NGX_ERROR;
    }

    path->len = ngx_sprintf(path->data, "%*s/%s%s", (size_t) 2, hex, hex,
                            img->ext)
                - path->data;

    url->data = ngx_pnalloc(r->pool, plcf->media_url.len + 1 + path->len);
    if (url->data == NULL) {
        return NGX_ERROR;
    }

    url->len = ngx_sprintf(url->data, "%V/%V", &plcf->media_url, path)
               - url->data;

    name = ngx_pnalloc(r->pool, plcf->media_root.len + 1 + path->len + 1);
    tmp = ngx_pnalloc(r->pool, plcf->media_root.len + 1 + path->len
                               + sizeof(".tmp.") + NGX_INT64_LEN);
    if (name == NULL || tmp == NULL) {
        return NGX_ERROR;
    }

    p = ngx_sprintf(name, "%V/%*s", &plcf->media_root, (size_t) 2, hex);
    *p = '\0';

    if (ngx_create_dir(name, 0755) == NGX_FILE_ERROR) {
        err = ngx_errno;
        if (err != NGX_EEXIST) {
            ngx_log_error(NGX_LOG_CRIT, r->connection->log, err,
                          ngx_create_dir_n " \"%s\" failed", name);
            return NGX_ERROR;
        }
    }

    *ngx_sprintf(name, "%V/%V", &plcf->media_root, path) = '\0';
    *ngx_sprintf(tmp, "%s.tmp.%P.%M", name, ngx_pid, ngx_current_msec) = '\0';

    fd = ngx_open_file(tmp, NGX_FILE_WRONLY, NGX_FILE_CREATE_OR_OPEN
                       | NGX_FILE_TRUNCATE, 0644);
    if (fd == NGX_INVALID_FILE) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, ngx_errno,
                      ngx_open_file_n " \"%s\" failed", tmp);
        return NGX_ERROR;
    }

    n = ngx_write_fd(fd, w->body.data, w->body.len);
    err = ngx_errno;

    if (ngx_close_file(fd) == NGX_FILE_ERROR || n != (ssize_t) w->body.len)
    {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, err,
                      "writing \"%s\" failed", tmp);
        (void) ngx_delete_file(tmp);
        return NGX_ERROR;
    }

    if (ngx_rename_file(tmp, name) == NGX_FILE_ERROR) {
        ngx_log_error(NGX_LOG_CRIT, r->connection->log, ngx_errno,
                      ngx_rename_file_n " \"%s\" to \"%s\" failed", tmp,
                      name);
        (void) ngx_delete_file(tmp);
        return NGX_ERROR;
    }

    return NGX_OK;
}
