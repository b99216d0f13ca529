
/*
 * Who is signed in: the session token, from "Authorization: Bearer" or the
 * session cookie.  Looked up in Redis by the caller (PHOTO_REDIS_SESSION),
 * so a token is checked for shape first and a malformed one costs no I/O.
 */

#include "ngx_photo_read.h"
#include "ngx_photo_json.h"
#include "ngx_photo_redis.h"


typedef struct {
    ngx_http_request_t         *request;
    ngx_photo_session_pt        handler;
    void                       *data;
} ngx_photo_session_call_t;


static void ngx_photo_session_reply(void *data, redisReply *reply);


static ngx_str_t  ngx_photo_cookie = ngx_string(PHOTO_SESSION_COOKIE);


static ngx_int_t
ngx_photo_session_valid(ngx_str_t *token)
{
    u_char  *p, *end;

    if (token->len < PHOTO_SESSION_TOKEN_MIN
        || token->len > PHOTO_SESSION_TOKEN_MAX)
    {
        return NGX_DECLINED;
    }

    for (p = token->data, end = p + token->len; p < end; p++) {
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z')
              || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
        {
            return NGX_DECLINED;
        }
    }

    return NGX_OK;
}


ngx_int_t
ngx_photo_session_token(ngx_http_request_t *r, ngx_str_t *token)
{
    ngx_table_elt_t  *h;

    h = r->headers_in.authorization;

    if (h != NULL) {
        if (h->value.len > sizeof("Bearer ") - 1
            && ngx_strncasecmp(h->value.data, (u_char *) "Bearer ",
                               sizeof("Bearer ") - 1) == 0)
        {
            token->data = h->value.data + sizeof("Bearer ") - 1;
            token->len = h->value.len - (sizeof("Bearer ") - 1);

            return ngx_photo_session_valid(token);
        }

        /* another scheme: not ours, and no cookie overrides it */
        return NGX_DECLINED;
    }

#if (nginx_version >= 1023000)
    if (ngx_http_parse_multi_header_lines(r, r->headers_in.cookie,
                                          &ngx_photo_cookie, token)
        == NULL)
    {
        return NGX_DECLINED;
    }
#else
    if (ngx_http_parse_multi_header_lines(&r->headers_in.cookies,
                                          &ngx_photo_cookie, token)
        == NGX_DECLINED)
    {
        return NGX_DECLINED;
    }
#endif

    return ngx_photo_session_valid(token);
}


ngx_int_t
ngx_photo_unauthorized(ngx_http_request_t *r)
{
    r->headers_out.www_authenticate = ngx_list_push(&r->headers_out.headers);
    if (r->headers_out.www_authenticate == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    r->headers_out.www_authenticate->hash = 1;
    ngx_str_set(&r->headers_out.www_authenticate->key, "WWW-Authenticate");
    ngx_str_set(&r->headers_out.www_authenticate->value, "Bearer");

    return ngx_photo_json_error(r, NGX_HTTP_UNAUTHORIZED, "unauthorized",
                                "sign in first: no valid session");
}


ngx_int_t
ngx_photo_session_lookup(ngx_http_request_t *r, ngx_str_t *token,
    ngx_photo_session_pt handler, void *data)
{
    u_char                    *p;
    size_t                     argvlen[2];
    ngx_int_t                  rc;
    const char                *argv[2];
    ngx_photo_session_call_t  *call;

    call = ngx_palloc(r->pool, sizeof(ngx_photo_session_call_t));
    p = ngx_pnalloc(r->pool, sizeof(PHOTO_REDIS_SESSION) - 1 + token->len);
    if (call == NULL || p == NULL) {
        return NGX_ERROR;
    }

    call->request = r;
    call->handler = handler;
    call->data = data;

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (char *) p;
    p = ngx_cpymem(p, PHOTO_REDIS_SESSION, sizeof(PHOTO_REDIS_SESSION) - 1);
    p = ngx_cpymem(p, token->data, token->len);
    argvlen[1] = p - (u_char *) argv[1];

    rc = ngx_photo_redis_command(r, ngx_photo_session_reply, call, 2, argv,
                                 argvlen);

    return rc;
}


static void
ngx_photo_session_reply(void *data, redisReply *reply)
{
    ngx_photo_session_call_t  *call = data;

    int64_t              user_id;
    ngx_http_request_t  *r;

    r = call->request;

    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, "redis"));
        return;
    }

    if (reply->type != REDIS_REPLY_STRING
        || ngx_photo_parse_id((u_char *) reply->str, reply->len, &user_id)
           != NGX_OK)
    {
        ngx_http_finalize_request(r, ngx_photo_unauthorized(r));
        return;
    }

    call->handler(call->data, user_id);
}
