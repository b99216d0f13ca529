
/*
 * Accounts: sign-up (POST /v1/users), sign-in (POST /v1/sessions) and
 * sign-out (DELETE /v1/sessions).
 *
 * Passwords are hashed with a memory-hard KDF, which must never run on the
 * nginx event loop: sign-up and sign-in are foreground Gearman jobs to the
 * auth worker, awaited on nginx events.  The worker also creates the
 * session in Redis; nginx only sets the cookie.
 */

#include "ngx_photo_write.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_json.h"
#include "ngx_photo_session.h"
#include "ngx_photo_gearman.h"
#include "ngx_photo_metrics.h"
#include "ngx_photo_redis.h"


#define NGX_PHOTO_PASSWORD_MIN  8
#define NGX_PHOTO_PASSWORD_MAX  128
#define NGX_PHOTO_USERNAME_MAX  30


static void ngx_photo_account_body(ngx_photo_write_t *w, ngx_flag_t signup);
static void ngx_photo_signup_body(ngx_photo_write_t *w);
static void ngx_photo_signin_body(ngx_photo_write_t *w);
static void ngx_photo_account_done(void *data, ngx_photo_result_t *res);
static ngx_int_t ngx_photo_account_refused(ngx_http_request_t *r,
    yajl_val v, const char *error);
static void ngx_photo_signout_done(void *data, ngx_photo_result_t *res);
static ngx_int_t ngx_photo_account_cookie(ngx_http_request_t *r,
    ngx_str_t *token, ngx_uint_t max_age);


typedef struct {
    ngx_photo_write_t          *write;
    ngx_flag_t                  signup;
} ngx_photo_account_t;


static ngx_str_t  ngx_photo_job_signup = ngx_string(PHOTO_JOB_SIGNUP);
static ngx_str_t  ngx_photo_job_signin = ngx_string(PHOTO_JOB_SIGNIN);


ngx_int_t
ngx_photo_signup_handler(ngx_http_request_t *r)
{
    return ngx_photo_write_start(r, ngx_photo_signup_body, 0,
                                 NGX_PHOTO_BODY_JSON, 0);
}


ngx_int_t
ngx_photo_signin_handler(ngx_http_request_t *r)
{
    return ngx_photo_write_start(r, ngx_photo_signin_body, 0,
                                 NGX_PHOTO_BODY_JSON, 0);
}


static void
ngx_photo_signup_body(ngx_photo_write_t *w)
{
    ngx_photo_account_body(w, 1);
}


static void
ngx_photo_signin_body(ngx_photo_write_t *w)
{
    ngx_photo_account_body(w, 0);
}


static void
ngx_photo_account_body(ngx_photo_write_t *w, ngx_flag_t signup)
{
    u_char                      *p, *end;
    int64_t                      id;
    yajl_gen                     g;
    ngx_int_t                    rc;
    ngx_str_t                    username, password, payload, unique;
    ngx_photo_account_t         *acct;
    ngx_http_request_t          *r;
    ngx_http_photo_main_conf_t  *pmcf;

    r = w->request;
    pmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_module);

    if (ngx_photo_json_string(w, PHOTO_JOB_F_USERNAME, 1, 1,
                              NGX_PHOTO_USERNAME_MAX, &username)
        != NGX_OK
        || ngx_photo_json_string(w, PHOTO_JOB_F_PASSWORD, 1,
                                 NGX_PHOTO_PASSWORD_MIN,
                                 NGX_PHOTO_PASSWORD_MAX, &password)
           != NGX_OK)
    {
        return;
    }

    /* the rule of sql/001_users.sql, said before anything is done */
    for (p = username.data, end = p + username.len; p < end; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '_' || *p == '.'))
        {
            ngx_photo_write_fail(w, NGX_HTTP_BAD_REQUEST, "invalid_field",
                                 "\"username\" may hold only letters, "
                                 "digits, \"_\" and \".\"");
            return;
        }
    }

    g = ngx_photo_json_gen_alloc(r->pool);
    if (g == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    ngx_photo_json_pair(g, PHOTO_JOB_F_USERNAME, username.data, username.len);
    ngx_photo_json_pair(g, PHOTO_JOB_F_PASSWORD, password.data, password.len);
    yajl_gen_map_close(g);

    if (ngx_photo_json_take(g, &payload) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    /* a unique key per attempt: gearmand must not merge two sign-ins */
    id = ngx_photo_next_id(r);
    p = ngx_pnalloc(r->pool, NGX_INT64_LEN);
    acct = ngx_palloc(r->pool, sizeof(ngx_photo_account_t));
    if (id == 0 || p == NULL || acct == NULL) {
        ngx_http_finalize_request(r, id ? NGX_HTTP_INTERNAL_SERVER_ERROR
                                        : ngx_photo_unavailable(r, "ids"));
        return;
    }

    unique.data = p;
    unique.len = ngx_sprintf(p, "%L", id) - p;

    acct->write = w;
    acct->signup = signup;

    rc = ngx_photo_gm_submit(r, acct->signup ? &ngx_photo_job_signup
                                             : &ngx_photo_job_signin,
                             &unique, &payload, 0, pmcf->auth_timeout,
                             ngx_photo_account_done, acct);

    /* a client that leaves ends the request, and with it what it waits on */
    if (rc == NGX_AGAIN) {
        r->read_event_handler = ngx_http_test_reading;

    } else if (rc == NGX_DECLINED) {
        ngx_photo_metrics_job(r, NGX_PHOTO_AWAY);
    }

    ngx_photo_wait_again(r, rc, "sign-in");
}


/* The auth worker's answer: {"id","username"} / {"token","user_id"} or
 * {"error":"taken"|"invalid"|"too_many_attempts"[,"retry_after"]}. */

static void
ngx_photo_account_done(void *data, ngx_photo_result_t *res)
{
    ngx_photo_account_t  *acct = data;

    u_char              *p;
    yajl_val             v, e, a, b;
    yajl_gen             g;
    ngx_int_t            rc;
    ngx_str_t            json, token, *result;
    ngx_http_request_t  *r;
    const char          *path[2];

    r = acct->write->request;

    ngx_photo_metrics_job(r, res->status);

    /* the worker failed the job (WORK_FAIL, WORK_EXCEPTION): no answer */
    if (res->status != NGX_PHOTO_DONE || res->reply.gearman->failed) {
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "sign-in"));
        return;
    }

    result = &res->reply.gearman->data;

    p = ngx_pnalloc(r->pool, result->len + 1);
    if (p == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_memcpy(p, result->data, result->len);
    p[result->len] = '\0';

    v = yajl_tree_parse((char *) p, NULL, 0);
    if (v == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "photo: the auth worker answered \"%V\"", result);
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "sign-in"));
        return;
    }

    path[1] = NULL;

    path[0] = PHOTO_JOB_F_ERROR;
    e = yajl_tree_get(v, path, yajl_t_string);
    path[0] = acct->signup ? PHOTO_JOB_F_ID : PHOTO_JOB_F_TOKEN;
    a = yajl_tree_get(v, path, yajl_t_string);
    path[0] = acct->signup ? PHOTO_JOB_F_USERNAME : PHOTO_JOB_F_USER_ID;
    b = yajl_tree_get(v, path, yajl_t_string);

    if (e || a == NULL || b == NULL) {
        rc = e ? ngx_photo_account_refused(r, v, e->u.string) : NGX_DECLINED;

        if (rc == NGX_DECLINED) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "photo: the auth worker answered \"%V\"", result);
            rc = ngx_photo_unavailable(r, "sign-in");
        }

        yajl_tree_free(v);
        ngx_http_finalize_request(r, rc);
        return;
    }

    g = ngx_photo_json_gen_alloc(r->pool);
    if (g == NULL) {
        yajl_tree_free(v);
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    yajl_gen_map_open(g);
    yajl_gen_string(g, (u_char *) (acct->signup ? "id" : "token"),
                    acct->signup ? 2 : 5);
    yajl_gen_string(g, (u_char *) a->u.string, ngx_strlen(a->u.string));
    yajl_gen_string(g, (u_char *) (acct->signup ? "username" : "user_id"),
                    acct->signup ? 8 : 7);
    yajl_gen_string(g, (u_char *) b->u.string, ngx_strlen(b->u.string));
    yajl_gen_map_close(g);

    if (!acct->signup) {
        /* a->u.string lives as long as the tree, freed just below */
        token.len = ngx_strlen(a->u.string);
        token.data = ngx_pnalloc(r->pool, token.len);

        if (token.data == NULL
            || (ngx_memcpy(token.data, a->u.string, token.len),
                ngx_photo_account_cookie(r, &token, PHOTO_SESSION_TTL))
               != NGX_OK)
        {
            yajl_tree_free(v);
            ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
            return;
        }
    }

    yajl_tree_free(v);

    if (ngx_photo_json_take(g, &json) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    ngx_photo_write_answer(acct->write, NGX_HTTP_CREATED, &json);
}


/* The worker's "error" as the API's, or NGX_DECLINED: not one it sends. */

static ngx_int_t
ngx_photo_account_refused(ngx_http_request_t *r, yajl_val v,
    const char *error)
{
    yajl_val     s;
    ngx_int_t    seconds;
    const char  *path[] = { PHOTO_JOB_F_RETRY_AFTER, NULL };

    if (ngx_strcmp(error, PHOTO_AUTH_E_TAKEN) == 0) {
        return ngx_photo_json_error(r, NGX_HTTP_CONFLICT, "taken",
                                    "that username is taken");
    }

    if (ngx_strcmp(error, PHOTO_AUTH_E_INVALID) == 0) {
        return ngx_photo_json_error(r, NGX_HTTP_UNAUTHORIZED,
                                    "invalid_credentials",
                                    "wrong username or password");
    }

    if (ngx_strcmp(error, PHOTO_AUTH_E_WAIT) != 0) {
        return NGX_DECLINED;
    }

    /* the account's backoff: the KDF did not even run */
    s = yajl_tree_get(v, path, yajl_t_string);
    seconds = s ? ngx_atoi((u_char *) s->u.string, ngx_strlen(s->u.string))
                : NGX_ERROR;

    if (seconds <= 0) {
        return NGX_DECLINED;
    }

    if (ngx_photo_retry_after(r, seconds) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_photo_json_error(r, NGX_HTTP_TOO_MANY_REQUESTS,
                                "too_many_attempts",
                                "too many failed sign-ins for this account; "
                                "try again in %i s", seconds);
}


ngx_int_t
ngx_photo_signout_handler(ngx_http_request_t *r)
{
    ngx_int_t    rc;
    ngx_str_t    token, key;
    size_t       argvlen[2];
    const char  *argv[2], *why;

    if (ngx_photo_session_token(r, &token) != NGX_OK) {
        return ngx_photo_unauthorized(r);
    }

    why = ngx_photo_session_origin(r);
    if (why) {
        return ngx_photo_json_error(r, NGX_HTTP_FORBIDDEN, "forbidden_origin",
                                    "%s", why);
    }

    rc = ngx_http_discard_request_body(r);
    if (rc != NGX_OK) {
        return rc;
    }

    if (ngx_photo_session_key(r, &token, &key) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    argv[0] = "DEL";
    argvlen[0] = 3;
    argv[1] = (char *) key.data;
    argvlen[1] = key.len;

    rc = ngx_photo_redis_command(r, ngx_photo_signout_done, r, 2, argv,
                                 argvlen);

    return ngx_photo_wait(r, rc, "redis");
}


static void
ngx_photo_signout_done(void *data, ngx_photo_result_t *res)
{
    ngx_http_request_t  *r = data;

    ngx_str_t  empty = ngx_null_string;

    if (res->status != NGX_PHOTO_DONE
        || res->reply.redis->type != REDIS_REPLY_INTEGER)
    {
        ngx_photo_backend_failed(r, res);
        return;
    }

    /* signing out of a session that is gone is done, not an error */
    if (ngx_photo_account_cookie(r, &empty, 0) != NGX_OK) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    r->header_only = 1;
    r->headers_out.status = NGX_HTTP_NO_CONTENT;
    r->headers_out.content_length_n = 0;

    ngx_http_finalize_request(r, ngx_http_send_header(r));
}


static ngx_int_t
ngx_photo_account_cookie(ngx_http_request_t *r, ngx_str_t *token,
    ngx_uint_t max_age)
{
    u_char           *p;
    size_t            len;
    ngx_flag_t        secure;
    ngx_table_elt_t  *h;

    secure = ngx_photo_request_https(r);

    len = sizeof(PHOTO_SESSION_COOKIE "=; Path=/; Max-Age=; HttpOnly; "
                 "SameSite=Lax; Secure") + token->len + NGX_INT_T_LEN;

    p = ngx_pnalloc(r->pool, len);
    h = ngx_list_push(&r->headers_out.headers);
    if (p == NULL || h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    ngx_str_set(&h->key, "Set-Cookie");
    h->value.data = p;
    h->value.len = ngx_sprintf(p, PHOTO_SESSION_COOKIE "=%V; Path=/; "
                               "Max-Age=%ui; HttpOnly; SameSite=Lax%s",
                               token, max_age, secure ? "; Secure" : "")
                   - p;

    return NGX_OK;
}

