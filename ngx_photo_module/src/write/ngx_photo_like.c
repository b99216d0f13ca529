
/*
 * POST / DELETE /v1/photos/{id}/likes: like or unlike a photo.  Whether the
 * photo exists comes from Postgres (one indexed lookup, non-blocking), so
 * that a like of a photo that never was, or was deleted, is a 404 now;
 * the rest is the social worker's photo_like job, whose request id orders
 * it against the same user's other likes and unlikes of that photo.
 */

#include "ngx_photo_write.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_json.h"
#include "ngx_photo_postgres.h"


typedef void (*ngx_photo_found_pt)(ngx_photo_write_t *w, int64_t owner);


static void ngx_photo_like_body(ngx_photo_write_t *w);
static void ngx_photo_like_found(ngx_photo_write_t *w, int64_t owner);
static void ngx_photo_photo_owner(void *data, ngx_photo_result_t *res);


ngx_int_t
ngx_photo_like_handler(ngx_http_request_t *r, int64_t photo_id)
{
    /* the body is not used: an empty one is what clients send */
    return ngx_photo_write_start(r, ngx_photo_like_body, 1,
                                 NGX_PHOTO_BODY_NONE, photo_id);
}


static void
ngx_photo_like_body(ngx_photo_write_t *w)
{
    ngx_photo_photo_exists(w, ngx_photo_like_found);
}


static void
ngx_photo_like_found(ngx_photo_write_t *w, int64_t owner)
{
    int64_t      id;
    yajl_gen     g;
    const char  *action;

    g = ngx_photo_job_begin(w, &id);
    if (g == NULL) {
        return;
    }

    action = (w->request->method == NGX_HTTP_DELETE) ? "unlike" : "like";

    ngx_photo_json_id_pair(g, PHOTO_JOB_F_USER_ID, w->user_id);
    ngx_photo_json_id_pair(g, PHOTO_JOB_F_PHOTO_ID, w->target_id);
    ngx_photo_json_pair(g, PHOTO_JOB_F_ACTION, (u_char *) action,
                        ngx_strlen(action));

    ngx_photo_job_end(w, g, PHOTO_JOB_LIKE, id);
}


void
ngx_photo_photo_exists(ngx_photo_write_t *w, ngx_photo_found_pt found)
{
    /* the endpoint's own data is not needed past this point */
    w->data = (void *) found;

    ngx_photo_write_lookup(w, "select user_id from photos where id = $1",
                           ngx_photo_photo_owner);
}


static void
ngx_photo_photo_owner(void *data, ngx_photo_result_t *result)
{
    ngx_photo_write_t  *w = data;

    PGresult            *res;
    ngx_photo_found_pt   found;

    if (result->status != NGX_PHOTO_DONE) {
        ngx_photo_backend_failed(w->request, result);
        return;
    }

    res = result->reply.postgres;

    if (PQntuples(res) != 1) {
        ngx_photo_write_fail(w, NGX_HTTP_NOT_FOUND, "not_found",
                             "no photo %L", w->target_id);
        return;
    }

    found = (ngx_photo_found_pt) w->data;

    found(w, ngx_atoof((u_char *) PQgetvalue(res, 0, 0),
                       PQgetlength(res, 0, 0)));
}
