
/*
 * GET /v1/photos/{id}: one photo, for a signed-in user.  The session is one
 * Redis GET; the photo comes through the same path as a feed's.
 */

#include "ngx_photo_read.h"
#include "ngx_photo_redis.h"


static void ngx_photo_photo_session(void *data, redisReply *reply);


ngx_int_t
ngx_photo_photo_handler(ngx_http_request_t *r, int64_t photo_id)
{
    u_char            *p;
    ngx_int_t          rc;
    ngx_photo_read_t  *rd;
    const char        *argv[2];
    size_t             argvlen[2];

    rd = ngx_pcalloc(r->pool, sizeof(ngx_photo_read_t));
    if (rd == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rd->request = r;
    rd->kind = NGX_PHOTO_READ_PHOTO;
    rd->photo_id = photo_id;

    if (ngx_photo_session_token(r, &rd->token) != NGX_OK) {
        return ngx_photo_unauthorized(r);
    }

    p = ngx_pnalloc(r->pool, sizeof(PHOTO_REDIS_SESSION) - 1 + rd->token.len);
    if (p == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (char *) p;
    p = ngx_cpymem(p, PHOTO_REDIS_SESSION, sizeof(PHOTO_REDIS_SESSION) - 1);
    p = ngx_cpymem(p, rd->token.data, rd->token.len);
    argvlen[1] = p - (u_char *) argv[1];

    rc = ngx_photo_redis_command(r, ngx_photo_photo_session, rd, 2, argv,
                                 argvlen);

    if (rc == NGX_DECLINED) {
        return ngx_photo_unavailable(r, "redis");
    }

    if (rc != NGX_AGAIN) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* a client that leaves ends the request, and with it what it waits on */
    r->read_event_handler = ngx_http_test_reading;
    r->main->count++;

    return NGX_DONE;
}


static void
ngx_photo_photo_session(void *data, redisReply *reply)
{
    ngx_photo_read_t  *rd = data;

    ngx_http_request_t  *r;

    r = rd->request;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "redis"));
        return;
    }

    if (reply->type != REDIS_REPLY_STRING
        || ngx_photo_parse_id((u_char *) reply->str, reply->len,
                              &rd->user_id)
           != NGX_OK)
    {
        ngx_http_finalize_request(r, ngx_photo_unauthorized(r));
        return;
    }

    rd->ids = &rd->photo_id;
    rd->nids = 1;

    ngx_photo_hydrate(rd);
}
