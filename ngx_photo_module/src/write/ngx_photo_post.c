
/*
 * POST /v1/photos {"media_id","caption","lat"?,"lng"?}: a new photo.
 * The media must be the signed-in user's own upload (PHOTO_REDIS_MEDIA);
 * the photo gets its id here, and the persist worker does the rest.
 * 202 {"id","status":"queued"} once gearmand holds the job.
 */

#include "ngx_photo_write.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_args.h"
#include "ngx_photo_json.h"
#include "ngx_photo_redis.h"


#define NGX_PHOTO_CAPTION_MAX  2200


typedef struct {
    ngx_photo_write_t          *write;
    ngx_str_t                   caption;
    double                      lat;
    double                      lng;
    ngx_flag_t                  has_location;
} ngx_photo_post_t;


static void ngx_photo_post_body(ngx_photo_write_t *w);
static void ngx_photo_post_media(void *data, ngx_photo_result_t *res);


ngx_int_t
ngx_photo_post_handler(ngx_http_request_t *r)
{
    return ngx_photo_write_start(r, ngx_photo_post_body, 1,
                                 NGX_PHOTO_BODY_JSON, 0);
}


static void
ngx_photo_post_body(ngx_photo_write_t *w)
{
    u_char              *p;
    int64_t              media_id;
    ngx_int_t            rc, rlat, rlng;
    ngx_str_t            media;
    size_t               argvlen[2];
    const char          *argv[2];
    ngx_photo_post_t    *post;
    ngx_http_request_t  *r;

    r = w->request;

    post = ngx_pcalloc(r->pool, sizeof(ngx_photo_post_t));
    if (post == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    post->write = w;

    if (ngx_photo_json_string(w, "media_id", 1, 1, PHOTO_ID_MAX_DIGITS,
                              &media) != NGX_OK)
    {
        return;
    }

    if (ngx_photo_parse_id(media.data, media.len, &media_id) != NGX_OK) {
        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_field",
                             "\"media_id\" must be the id of an upload");
        return;
    }

    rc = ngx_photo_json_string(w, PHOTO_JOB_F_CAPTION, 0, 0,
                               NGX_PHOTO_CAPTION_MAX, &post->caption);
    if (rc == NGX_ERROR) {
        return;
    }

    rlat = ngx_photo_json_number(w, PHOTO_JOB_F_LAT, 0, -90, 90, &post->lat);
    if (rlat == NGX_ERROR) {
        return;
    }

    rlng = ngx_photo_json_number(w, PHOTO_JOB_F_LNG, 0, -180, 180,
                                 &post->lng);
    if (rlng == NGX_ERROR) {
        return;
    }

    if (rlat != rlng) {
        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_field",
                             "\"lat\" and \"lng\" go together");
        return;
    }

    post->has_location = (rlat == NGX_OK);

    p = ngx_pnalloc(r->pool, sizeof(PHOTO_REDIS_MEDIA) + NGX_INT64_LEN);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (char *) p;
    argvlen[1] = ngx_sprintf(p, PHOTO_REDIS_MEDIA "%L", media_id) - p;

    rc = ngx_photo_redis_command(r, ngx_photo_post_media, post, 2, argv,
                                 argvlen);

    ngx_photo_wait_again(r, rc, "redis");
}


static void
ngx_photo_post_media(void *data, ngx_photo_result_t *res)
{
    ngx_photo_post_t  *post = data;

    u_char              *p;
    int64_t              id, owner;
    yajl_val             rec, uid, path, url, width, height;
    yajl_gen             g;
    ngx_str_t            payload;
    ngx_photo_write_t   *w;
    ngx_http_request_t  *r;
    const char          *key[2];
    redisReply          *reply;

    /* NULL: Redis failed (said in the log) */
    reply = res->reply.redis;

    w = post->write;
    r = w->request;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "redis"));
        return;
    }

    rec = NULL;

    if (reply->type == REDIS_REPLY_STRING) {
        p = ngx_pnalloc(r->pool, reply->len + 1);
        if (p == NULL) {
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }

        *ngx_cpymem(p, reply->str, reply->len) = '\0';
        rec = yajl_tree_parse((char *) p, NULL, 0);
    }

    key[1] = NULL;
    key[0] = PHOTO_JOB_F_USER_ID;
    uid = yajl_tree_get(rec, key, yajl_t_string);
    key[0] = PHOTO_JOB_F_MEDIA_PATH;
    path = yajl_tree_get(rec, key, yajl_t_string);
    key[0] = PHOTO_JOB_F_IMAGE_URL;
    url = yajl_tree_get(rec, key, yajl_t_string);
    key[0] = PHOTO_JOB_F_WIDTH;
    width = yajl_tree_get(rec, key, yajl_t_number);
    key[0] = PHOTO_JOB_F_HEIGHT;
    height = yajl_tree_get(rec, key, yajl_t_number);

    /* unknown, expired and somebody else's look the same from outside */
    if (uid == NULL || path == NULL || url == NULL || width == NULL
        || height == NULL
        || ngx_photo_parse_id((u_char *) uid->u.string,
                              ngx_strlen(uid->u.string), &owner) != NGX_OK
        || owner != w->user_id)
    {
        if (rec) {
            yajl_tree_free(rec);
        }

        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_field",
                             "\"media_id\" is not an upload of yours");
        return;
    }

    id = ngx_photo_next_id(r);
    g = ngx_photo_json_gen_alloc(r->pool);
    if (id == 0 || g == NULL) {
        yajl_tree_free(rec);
        ngx_http_finalize_request(r, id ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                        : ngx_photo_unavailable(r, "ids"));
        return;
    }

    /* the contract's photo_persist payload */
    yajl_gen_map_open(g);
    ngx_photo_json_id_pair(g, PHOTO_JOB_F_UNIQUE, id);
    ngx_photo_json_id_pair(g, PHOTO_JOB_F_ID, id);
    ngx_photo_json_id_pair(g, PHOTO_JOB_F_USER_ID, w->user_id);
    ngx_photo_json_pair(g, PHOTO_JOB_F_CAPTION, post->caption.data,
                        post->caption.len);
    ngx_photo_json_pair(g, PHOTO_JOB_F_MEDIA_PATH, (u_char *) path->u.string,
                        ngx_strlen(path->u.string));
    ngx_photo_json_pair(g, PHOTO_JOB_F_IMAGE_URL, (u_char *) url->u.string,
                        ngx_strlen(url->u.string));
    yajl_gen_string(g, (u_char *) PHOTO_JOB_F_WIDTH,
                    sizeof(PHOTO_JOB_F_WIDTH) - 1);
    yajl_gen_integer(g, YAJL_GET_INTEGER(width));
    yajl_gen_string(g, (u_char *) PHOTO_JOB_F_HEIGHT,
                    sizeof(PHOTO_JOB_F_HEIGHT) - 1);
    yajl_gen_integer(g, YAJL_GET_INTEGER(height));

    if (post->has_location) {
        yajl_gen_string(g, (u_char *) PHOTO_JOB_F_LAT,
                        sizeof(PHOTO_JOB_F_LAT) - 1);
        yajl_gen_double(g, post->lat);
        yajl_gen_string(g, (u_char *) PHOTO_JOB_F_LNG,
                        sizeof(PHOTO_JOB_F_LNG) - 1);
        yajl_gen_double(g, post->lng);
    }

    yajl_gen_string(g, (u_char *) PHOTO_JOB_F_CREATED_AT,
                    sizeof(PHOTO_JOB_F_CREATED_AT) - 1);
    yajl_gen_integer(g, ngx_time());
    yajl_gen_map_close(g);

    yajl_tree_free(rec);

    if (ngx_photo_json_take(g, &payload) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_photo_job_submit(w, PHOTO_JOB_PERSIST, id, &payload);
}
