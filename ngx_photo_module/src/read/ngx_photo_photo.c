
/*
 * GET /v1/photos/{id}: one photo, for a signed-in user.  The session is one
 * Redis GET; the photo comes through the same path as a feed's.
 */

#include "ngx_photo_read.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_session.h"


static void ngx_photo_photo_session(void *data, int64_t user_id);


ngx_int_t
ngx_photo_photo_handler(ngx_http_request_t *r, int64_t photo_id)
{
    ngx_int_t          rc;
    ngx_photo_read_t  *rd;

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

    rc = ngx_photo_session_lookup(r, &rd->token, ngx_photo_photo_session,
                                  rd);

    return ngx_photo_wait(r, rc, "redis");
}


static void
ngx_photo_photo_session(void *data, int64_t user_id)
{
    ngx_photo_read_t  *rd = data;

    rd->user_id = user_id;

    rd->ids = &rd->photo_id;
    rd->nids = 1;

    ngx_photo_hydrate(rd);
}
