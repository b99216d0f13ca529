
/*
 * GET /v1/photos/{id}/comments?count&max_id: a photo's comments, newest
 * first, paged as feeds are, for a signed-in user.  The session is one
 * Redis GET; the page is one Postgres query on (photo_id, id desc), which
 * also says whether the photo exists (404 when it does not).  Comments are
 * read far less often than feeds, and Postgres has them as they are
 * written: no list in Redis to keep.
 *
 *   {"comments":[{"id","user":{"id","username"},"text","created_at"}...],
 *    "next_max_id":"<id>"|null}
 */

#include "ngx_photo_read.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_args.h"
#include "ngx_photo_json.h"
#include "ngx_photo_postgres.h"
#include "ngx_photo_session.h"

#include "photo_object.h"


/* one row for an existing photo with no comment (the comment columns
   null), none for a photo that does not exist */
static const char  ngx_photo_comments_sql[] =
    "select c.id, c.user_id, u.username, c.text,"
    " extract(epoch from c.created_at)::bigint"
    " from photos p left join lateral"
    " (select * from comments where photo_id = p.id"
    "  and ($2 = 0 or id < $2) order by id desc limit $3) c on true"
    " left join users u on u.id = c.user_id"
    " where p.id = $1 order by c.id desc";


static void ngx_photo_comments_session(void *data, int64_t user_id);
static void ngx_photo_comments_rows(void *data, ngx_photo_result_t *res);


ngx_int_t
ngx_photo_comments_handler(ngx_http_request_t *r, int64_t photo_id)
{
    u_char             buf[128];
    ngx_int_t          rc;
    ngx_str_t          err;
    ngx_photo_read_t  *rd;

    rd = ngx_pcalloc(r->pool, sizeof(ngx_photo_read_t));
    if (rd == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rd->request = r;
    rd->photo_id = photo_id;

    err.data = buf;
    err.len = sizeof(buf);

    if (ngx_photo_parse_page(r, rd, &err) != NGX_OK) {
        return ngx_photo_json_error(r, NGX_HTTP_BAD_REQUEST,
                                    "invalid_argument", "%V", &err);
    }

    if (ngx_photo_session_token(r, &rd->token) != NGX_OK) {
        return ngx_photo_unauthorized(r);
    }

    rc = ngx_photo_session_lookup(r, &rd->token, ngx_photo_comments_session,
                                  rd);

    return ngx_photo_wait(r, rc, "redis");
}


static void
ngx_photo_comments_session(void *data, int64_t user_id)
{
    ngx_photo_read_t  *rd = data;

    u_char              *p;
    ngx_int_t            rc;
    ngx_http_request_t  *r;
    const char          *params[3];

    r = rd->request;
    rd->user_id = user_id;

    p = ngx_pnalloc(r->pool, 3 * (NGX_INT64_LEN + 1));
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    params[0] = (char *) p;
    p = ngx_sprintf(p, "%L", rd->photo_id);
    *p++ = '\0';
    params[1] = (char *) p;
    p = ngx_sprintf(p, "%L", rd->max_id);
    *p++ = '\0';
    params[2] = (char *) p;
    p = ngx_sprintf(p, "%ui", rd->count + 1);   /* whether more follow */
    *p = '\0';

    rc = ngx_photo_pg_query(r, ngx_photo_comments_sql, 3, params,
                            ngx_photo_comments_rows, rd);

    ngx_photo_wait_again(r, rc, "postgres");
}


static void
ngx_photo_comments_rows(void *data, ngx_photo_result_t *result)
{
    ngx_photo_read_t  *rd = data;

    int                  row, rows, n;
    u_char               stamp[PHOTO_OBJECT_TIME_LEN + 1];
    size_t               len;
    int64_t              last;
    PGresult            *res;
    ngx_photo_json_t     j;
    ngx_http_request_t  *r;

    r = rd->request;

    if (result->status != NGX_PHOTO_DONE) {
        ngx_photo_backend_failed(r, result);
        return;
    }

    res = result->reply.postgres;
    rows = PQntuples(res);

    if (rows == 0) {
        ngx_http_finalize_request(r,
            ngx_photo_json_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                 "no photo %L", rd->photo_id));
        return;
    }

    if (ngx_photo_json_init(&j, r->pool, 4096) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* what Postgres holds is UTF-8 the module checked on the way in */
    yajl_gen_config(j.gen, yajl_gen_validate_utf8, 1);

    yajl_gen_map_open(j.gen);
    ngx_photo_json_lit(&j, "comments");
    yajl_gen_array_open(j.gen);

    n = 0;
    last = 0;

    for (row = 0; row < rows && (ngx_uint_t) n < rd->count; row++) {
        if (PQgetisnull(res, row, 0)) {
            continue;           /* the photo, without comments */
        }

        last = ngx_atoof((u_char *) PQgetvalue(res, row, 0),
                         PQgetlength(res, row, 0));

        yajl_gen_map_open(j.gen);
        ngx_photo_json_id_pair(j.gen, "id", last);

        ngx_photo_json_lit(&j, "user");
        yajl_gen_map_open(j.gen);
        ngx_photo_json_id_pair(j.gen, "id",
                               ngx_atoof((u_char *) PQgetvalue(res, row, 1),
                                         PQgetlength(res, row, 1)));
        ngx_photo_json_pair(j.gen, "username",
                            (u_char *) PQgetvalue(res, row, 2),
                            PQgetlength(res, row, 2));
        yajl_gen_map_close(j.gen);

        ngx_photo_json_pair(j.gen, "text", (u_char *) PQgetvalue(res, row, 3),
                            PQgetlength(res, row, 3));

        len = photo_object_time((char *) stamp,
                                ngx_atoof((u_char *) PQgetvalue(res, row, 4),
                                          PQgetlength(res, row, 4)));

        ngx_photo_json_pair(j.gen, "created_at", stamp, len);
        yajl_gen_map_close(j.gen);

        n++;
    }

    yajl_gen_array_close(j.gen);
    ngx_photo_json_lit(&j, "next_max_id");

    /* one row more than the page came: there is a next page */
    if (n == (int) rd->count && row < rows && !PQgetisnull(res, row, 0)) {
        len = ngx_sprintf(stamp, "%L", last) - stamp;
        yajl_gen_string(j.gen, stamp, len);

    } else {
        yajl_gen_null(j.gen);
    }

    yajl_gen_map_close(j.gen);

    ngx_http_finalize_request(r, ngx_photo_json_send(r, NGX_HTTP_OK, &j));
}
