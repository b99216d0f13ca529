
/*
 * POST /v1/photos/{id}/comments {"text"}: a comment, whose id is made here
 * as a photo's is; DELETE /v1/comments/{id}: a comment deleted by its
 * author or by the photo's poster.  Both ask Postgres first (the photo
 * exists; whose comment on whose photo it is), so that the client hears
 * 404 or 403 now; the rest is the social worker's photo_comment job.
 */

#include "ngx_photo_write.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_json.h"
#include "ngx_photo_postgres.h"


static void ngx_photo_comment_body(ngx_photo_write_t *w);
static void ngx_photo_comment_found(ngx_photo_write_t *w, int64_t owner);
static void ngx_photo_uncomment_body(ngx_photo_write_t *w);
static void ngx_photo_uncomment_owners(void *data, ngx_photo_result_t *res);


ngx_int_t
ngx_photo_comment_handler(ngx_http_request_t *r, int64_t photo_id)
{
    return ngx_photo_write_start(r, ngx_photo_comment_body, 1,
                                 NGX_PHOTO_BODY_JSON, photo_id);
}


static void
ngx_photo_comment_body(ngx_photo_write_t *w)
{
    u_char     *p, *end;
    ngx_str_t   text;

    /* characters, as a user counts them; the body is valid UTF-8 already */
    if (ngx_photo_json_string(w, PHOTO_JOB_F_TEXT, 1, 1,
                              PHOTO_COMMENT_MAX_CHARS, &text)
        != NGX_OK)
    {
        return;
    }

    end = text.data + text.len;

    for (p = text.data; p < end; p++) {
        if (*p != ' ' && *p != '\t' && *p != '\r' && *p != '\n') {
            break;
        }
    }

    if (p == end) {
        ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_field",
                             "\"text\" must not be blank");
        return;
    }

    ngx_photo_photo_exists(w, ngx_photo_comment_found);
}


static void
ngx_photo_comment_found(ngx_photo_write_t *w, int64_t owner)
{
    int64_t     id;
    yajl_gen    g;
    ngx_str_t   text;

    /* checked in ngx_photo_comment_body() */
    if (ngx_photo_json_string(w, PHOTO_JOB_F_TEXT, 1, 1,
                              PHOTO_COMMENT_MAX_CHARS, &text)
        != NGX_OK)
    {
        return;
    }

    /* the comment's id is the write's */
    g = ngx_photo_job_begin(w, &id);
    if (g == NULL) {
        return;
    }

    ngx_photo_json_id_pair(g, PHOTO_JOB_F_ID, id);
    ngx_photo_json_id_pair(g, PHOTO_JOB_F_USER_ID, w->user_id);
    ngx_photo_json_id_pair(g, PHOTO_JOB_F_PHOTO_ID, w->target_id);
    ngx_photo_json_pair(g, PHOTO_JOB_F_TEXT, text.data, text.len);
    yajl_gen_string(g, (u_char *) PHOTO_JOB_F_CREATED_AT,
                    sizeof(PHOTO_JOB_F_CREATED_AT) - 1);
    yajl_gen_integer(g, ngx_time());

    ngx_photo_job_end(w, g, PHOTO_JOB_COMMENT, id);
}


ngx_int_t
ngx_photo_uncomment_handler(ngx_http_request_t *r, int64_t comment_id)
{
    return ngx_photo_write_start(r, ngx_photo_uncomment_body, 1,
                                 NGX_PHOTO_BODY_NONE, comment_id);
}


static void
ngx_photo_uncomment_body(ngx_photo_write_t *w)
{
    ngx_photo_write_lookup(w, "select c.user_id, p.user_id from comments c"
                              " left join photos p on p.id = c.photo_id"
                              " where c.id = $1",
                           ngx_photo_uncomment_owners);
}


static void
ngx_photo_uncomment_owners(void *data, ngx_photo_result_t *result)
{
    ngx_photo_write_t  *w = data;

    int64_t              author, poster, id;
    yajl_gen             g;
    PGresult            *res;
    ngx_http_request_t  *r;

    r = w->request;

    if (result->status != NGX_PHOTO_DONE) {
        ngx_photo_backend_failed(r, result);
        return;
    }

    res = result->reply.postgres;

    if (PQntuples(res) != 1) {
        ngx_photo_write_fail(w, NGX_HTTP_NOT_FOUND, "not_found",
                             "no comment %L", w->target_id);
        return;
    }

    author = ngx_atoof((u_char *) PQgetvalue(res, 0, 0),
                       PQgetlength(res, 0, 0));
    poster = PQgetisnull(res, 0, 1)
             ? 0 : ngx_atoof((u_char *) PQgetvalue(res, 0, 1),
                             PQgetlength(res, 0, 1));

    if (w->user_id != author && w->user_id != poster) {
        ngx_photo_write_fail(w, NGX_HTTP_FORBIDDEN, "forbidden",
                             "only its author or the photo's poster can "
                             "delete a comment");
        return;
    }

    g = ngx_photo_job_begin(w, &id);
    if (g == NULL) {
        return;
    }

    ngx_photo_json_id_pair(g, PHOTO_JOB_F_ID, w->target_id);
    ngx_photo_json_id_pair(g, PHOTO_JOB_F_USER_ID, w->user_id);
    yajl_gen_string(g, (u_char *) PHOTO_JOB_F_DELETE,
                    sizeof(PHOTO_JOB_F_DELETE) - 1);
    yajl_gen_bool(g, 1);

    ngx_photo_job_end(w, g, PHOTO_JOB_COMMENT, id);
}
