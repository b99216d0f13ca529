
/*
 * GET /v1/users/{id} and GET /v1/me: a user's profile for a signed-in
 * reader, with whether the reader follows them (a client's follow button).
 * The session is one Redis GET; the profile one Postgres query (the counts
 * are counted, on indexes: a profile is read far less often than a feed).
 * A follow is applied by the follow worker after its 202, so "following"
 * may lag a follow by the worker's delay.
 *
 *   {"id","username","photo_count","follower_count","following_count",
 *    "following":true|false}
 */

#include "ngx_photo_read.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_json.h"
#include "ngx_photo_postgres.h"
#include "ngx_photo_session.h"


/* no row: no such user */
static const char  ngx_photo_user_sql[] =
    "select u.id, u.username,"
    " (select count(*) from photos where user_id = u.id),"
    " (select count(*) from follows where followee = u.id),"
    " (select count(*) from follows where follower = u.id),"
    " exists (select 1 from follows where follower = $2"
    "  and followee = u.id)"
    " from users u where u.id = $1";


static void ngx_photo_user_session(void *data, int64_t user_id);
static void ngx_photo_user_row(void *data, ngx_photo_result_t *res);


/* user_id 0: the reader's own (GET /v1/me) */
ngx_int_t
ngx_photo_user_handler(ngx_http_request_t *r, int64_t user_id)
{
    ngx_int_t          rc;
    ngx_photo_read_t  *rd;

    rd = ngx_pcalloc(r->pool, sizeof(ngx_photo_read_t));
    if (rd == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    rd->request = r;
    rd->owner_id = user_id;

    if (ngx_photo_session_token(r, &rd->token) != NGX_OK) {
        return ngx_photo_unauthorized(r);
    }

    rc = ngx_photo_session_lookup(r, &rd->token, ngx_photo_user_session, rd);

    return ngx_photo_wait(r, rc, "redis");
}


static void
ngx_photo_user_session(void *data, int64_t user_id)
{
    ngx_photo_read_t  *rd = data;

    u_char              *p;
    ngx_int_t            rc;
    ngx_http_request_t  *r;
    const char          *params[2];

    r = rd->request;
    rd->user_id = user_id;

    if (rd->owner_id == 0) {
        rd->owner_id = user_id;
    }

    p = ngx_pnalloc(r->pool, 2 * (NGX_INT64_LEN + 1));
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    params[0] = (char *) p;
    p = ngx_sprintf(p, "%L", rd->owner_id);
    *p++ = '\0';
    params[1] = (char *) p;
    p = ngx_sprintf(p, "%L", rd->user_id);
    *p = '\0';

    rc = ngx_photo_pg_query(r, ngx_photo_user_sql, 2, params,
                            ngx_photo_user_row, rd);

    ngx_photo_wait_again(r, rc, "postgres");
}


static void
ngx_photo_user_row(void *data, ngx_photo_result_t *result)
{
    ngx_photo_read_t  *rd = data;

    int                  i;
    PGresult            *res;
    ngx_photo_json_t     j;
    ngx_http_request_t  *r;

    static const char  *counts[] = {
        "photo_count", "follower_count", "following_count"
    };

    r = rd->request;

    if (result->status != NGX_PHOTO_DONE) {
        ngx_photo_backend_failed(r, result);
        return;
    }

    res = result->reply.postgres;

    if (PQntuples(res) == 0) {
        ngx_http_finalize_request(r,
            ngx_photo_json_error(r, NGX_HTTP_NOT_FOUND, "not_found",
                                 "no user %L", rd->owner_id));
        return;
    }

    if (ngx_photo_json_init(&j, r->pool, 512) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_config(j.gen, yajl_gen_validate_utf8, 1);

    yajl_gen_map_open(j.gen);
    ngx_photo_json_id_pair(j.gen, "id", rd->owner_id);
    ngx_photo_json_pair(j.gen, "username", (u_char *) PQgetvalue(res, 0, 1),
                        PQgetlength(res, 0, 1));

    for (i = 0; i < 3; i++) {
        yajl_gen_string(j.gen, (const u_char *) counts[i],
                        ngx_strlen(counts[i]));
        yajl_gen_number(j.gen, PQgetvalue(res, 0, 2 + i),
                        PQgetlength(res, 0, 2 + i));
    }

    ngx_photo_json_lit(&j, "following");
    yajl_gen_bool(j.gen, PQgetvalue(res, 0, 5)[0] == 't');
    yajl_gen_map_close(j.gen);

    ngx_http_finalize_request(r, ngx_photo_json_send(r, NGX_HTTP_OK, &j));
}
