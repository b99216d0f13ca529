
/*
 * DELETE /v1/photos/{id}: a photo deleted by its poster.  Whose photo it
 * is comes from Postgres (one indexed lookup, non-blocking), so that the
 * client hears 404 or 403 now; the rest is the persist worker's
 * photo_delete job.  202 {"id","status":"queued"} once gearmand holds it.
 */

#include "ngx_photo_write.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_json.h"
#include "ngx_photo_postgres.h"


static void ngx_photo_delete_body(ngx_photo_write_t *w);
static void ngx_photo_delete_owner(void *data, ngx_photo_result_t *res);


ngx_int_t
ngx_photo_delete_handler(ngx_http_request_t *r, int64_t photo_id)
{
    return ngx_photo_write_start(r, ngx_photo_delete_body, 1,
                                 NGX_PHOTO_BODY_NONE, photo_id);
}


static void
ngx_photo_delete_body(ngx_photo_write_t *w)
{
    ngx_photo_write_lookup(w, "select user_id from photos where id = $1",
                           ngx_photo_delete_owner);
}


static void
ngx_photo_delete_owner(void *data, ngx_photo_result_t *result)
{
    ngx_photo_write_t  *w = data;

    int64_t              owner;
    yajl_gen             g;
    PGresult            *res;
    ngx_str_t            payload;
    ngx_http_request_t  *r;

    r = w->request;

    if (result->status != NGX_PHOTO_DONE) {
        ngx_photo_backend_failed(r, result);
        return;
    }

    res = result->reply.postgres;

    if (PQntuples(res) != 1) {
        ngx_photo_write_fail(w, NGX_HTTP_NOT_FOUND, "not_found",
                             "no such photo");
        return;
    }

    owner = ngx_atoof((u_char *) PQgetvalue(res, 0, 0),
                      PQgetlength(res, 0, 0));

    if (owner != w->user_id) {
        ngx_photo_write_fail(w, NGX_HTTP_FORBIDDEN, "forbidden",
                             "only its poster can delete a photo");
        return;
    }

    g = ngx_photo_json_gen_alloc(r->pool);
    if (g == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* the contract's photo_delete payload; unique: the photo, so that
       deletes of one photo queued together are one job */
    yajl_gen_map_open(g);
    ngx_photo_json_id_pair(g, PHOTO_JOB_F_UNIQUE, w->target_id);
    ngx_photo_json_id_pair(g, PHOTO_JOB_F_ID, w->target_id);
    ngx_photo_json_id_pair(g, PHOTO_JOB_F_USER_ID, owner);
    yajl_gen_map_close(g);

    if (ngx_photo_json_take(g, &payload) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_photo_job_submit(w, PHOTO_JOB_DELETE, w->target_id, &payload);
}
