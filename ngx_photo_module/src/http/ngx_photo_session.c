
/*
 * Who is signed in: the session token, from "Authorization: Bearer" or the
 * session cookie.  Looked up in Redis by the caller (PHOTO_REDIS_SESSION),
 * so a token is checked for shape first and a malformed one costs no I/O.
 * And where the cookie may be used from: the request's own origin (its
 * scheme, its Host) or one of photo_allowed_origin.
 */

#include "ngx_http_photo_module.h"
#include "ngx_photo_session.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_args.h"
#include "ngx_photo_metrics.h"
#include "photo_keys.h"
#include "ngx_photo_redis.h"
#include "photo_contract.h"
#include "photo_base64url.h"


typedef struct {
    ngx_http_request_t         *request;
    ngx_photo_session_pt        handler;
    void                       *data;
} ngx_photo_session_call_t;


static void ngx_photo_session_reply(void *data, ngx_photo_result_t *res);
static ngx_table_elt_t *ngx_photo_session_header(ngx_http_request_t *r,
    ngx_str_t *name);
static struct sockaddr *ngx_photo_session_peer(ngx_http_request_t *r);
static ngx_flag_t ngx_photo_origin_host_eq(ngx_flag_t https, ngx_str_t *a,
    ngx_str_t *b);


static ngx_str_t  ngx_photo_cookie = ngx_string(PHOTO_SESSION_COOKIE);
static ngx_str_t  ngx_photo_origin = ngx_string("Origin");
static ngx_str_t  ngx_photo_forwarded_proto =
    ngx_string("X-Forwarded-Proto");
static ngx_str_t  ngx_photo_realip_remote_addr =
    ngx_string("realip_remote_addr");


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
        if (!photo_base64url_char(*p)) {
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


/* the token's Redis key (photo_keys.h), in the request's pool */

ngx_int_t
ngx_photo_session_key(ngx_http_request_t *r, ngx_str_t *token,
    ngx_str_t *key)
{
    int      n;
    size_t   size;

    size = sizeof(PHOTO_REDIS_SESSION) + 2 + token->len;

    key->data = ngx_pnalloc(r->pool, size);
    if (key->data == NULL) {
        return NGX_ERROR;
    }

    n = photo_key_session((char *) key->data, size, (char *) token->data,
                          token->len);
    if (n < 0) {
        return NGX_ERROR;
    }

    key->len = n;

    return NGX_OK;
}


ngx_int_t
ngx_photo_session_lookup(ngx_http_request_t *r, ngx_str_t *token,
    ngx_photo_session_pt handler, void *data)
{
    size_t                     argvlen[2];
    ngx_str_t                  key;
    const char                *argv[2];
    ngx_photo_session_call_t  *call;

    call = ngx_palloc(r->pool, sizeof(ngx_photo_session_call_t));
    if (call == NULL || ngx_photo_session_key(r, token, &key) != NGX_OK) {
        return NGX_ERROR;
    }

    call->request = r;
    call->handler = handler;
    call->data = data;

    argv[0] = "GET";
    argvlen[0] = 3;
    argv[1] = (char *) key.data;
    argvlen[1] = key.len;

    return ngx_photo_redis_command(r, ngx_photo_session_reply, call, 2, argv,
                                   argvlen);
}


static void
ngx_photo_session_reply(void *data, ngx_photo_result_t *res)
{
    ngx_photo_session_call_t  *call = data;

    int64_t              user_id;
    redisReply          *reply;
    ngx_http_request_t  *r;

    r = call->request;
    reply = res->reply.redis;

    if (res->status != NGX_PHOTO_DONE || reply->type == REDIS_REPLY_ERROR) {
        ngx_photo_backend_failed(r, res);
        return;
    }

    if (reply->type != REDIS_REPLY_STRING
        || ngx_photo_parse_id((u_char *) reply->str, reply->len, &user_id)
           != NGX_OK)
    {
        ngx_http_finalize_request(r, ngx_photo_unauthorized(r));
        return;
    }

    ngx_photo_metrics_user(r, user_id);

    call->handler(call->data, user_id);
}


/*
 * The client spoke TLS: to nginx itself, or to the load balancer, which
 * says so in X-Forwarded-Proto -- believed only from the addresses of
 * photo_trusted_proxy.
 */

ngx_flag_t
ngx_photo_request_https(ngx_http_request_t *r)
{
    ngx_table_elt_t            *h;
    ngx_http_photo_loc_conf_t  *plcf;

#if (NGX_HTTP_SSL)
    if (r->connection->ssl) {
        return 1;
    }
#endif

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_photo_module);

    if (plcf->trusted == NULL
        || ngx_cidr_match(ngx_photo_session_peer(r), plcf->trusted) != NGX_OK)
    {
        return 0;
    }

    h = ngx_photo_session_header(r, &ngx_photo_forwarded_proto);

    return h != NULL
           && h->value.len == 5
           && ngx_strncasecmp(h->value.data, (u_char *) "https", 5) == 0;
}


/*
 * A browser sends the session cookie with whatever page makes the request,
 * another site's form or script included, but says in Origin which site
 * that page is from: a write signed in by cookie goes on only from this
 * site's pages (the request's own scheme and Host) or those of
 * photo_allowed_origin.  A Bearer token is never sent by a browser on its
 * own, and is not checked.  NULL when the write may go on, else why not.
 */

const char *
ngx_photo_session_origin(ngx_http_request_t *r)
{
    ngx_str_t                  *allowed, host, own;
    ngx_uint_t                  i;
    ngx_flag_t                  https, allowed_https;
    ngx_table_elt_t            *h;
    ngx_http_photo_loc_conf_t  *plcf;

    /* ngx_photo_session_token() took the cookie only without this */
    if (r->headers_in.authorization != NULL) {
        return NULL;
    }

    h = ngx_photo_session_header(r, &ngx_photo_origin);

    if (h == NULL) {
        return "a write signed in by cookie must come with an Origin header";
    }

    if (ngx_photo_origin_parse(&h->value, &https, &host) == NGX_OK) {

        if (r->headers_in.host && https == ngx_photo_request_https(r)) {
            own = r->headers_in.host->value;

            if (ngx_photo_origin_host_eq(https, &host, &own)) {
                return NULL;
            }
        }

        plcf = ngx_http_get_module_loc_conf(r, ngx_http_photo_module);

        if (plcf->allowed_origins) {
            allowed = plcf->allowed_origins->elts;

            for (i = 0; i < plcf->allowed_origins->nelts; i++) {
                /* checked by photo_allowed_origin */
                (void) ngx_photo_origin_parse(&allowed[i], &allowed_https,
                                              &own);

                if (https == allowed_https
                    && ngx_photo_origin_host_eq(https, &host, &own))
                {
                    return NULL;
                }
            }
        }
    }

    return "writes signed in by cookie are not taken from this Origin";
}


/* "http://host[:port]" or "https://...", any case: NGX_OK or NGX_ERROR */

ngx_int_t
ngx_photo_origin_parse(ngx_str_t *origin, ngx_flag_t *https,
    ngx_str_t *host)
{
    size_t  n;

    if (origin->len > sizeof("https://") - 1
        && ngx_strncasecmp(origin->data, (u_char *) "https://",
                           sizeof("https://") - 1) == 0)
    {
        n = sizeof("https://") - 1;
        *https = 1;

    } else if (origin->len > sizeof("http://") - 1
               && ngx_strncasecmp(origin->data, (u_char *) "http://",
                                  sizeof("http://") - 1) == 0)
    {
        n = sizeof("http://") - 1;
        *https = 0;

    } else {
        return NGX_ERROR;
    }

    host->data = origin->data + n;
    host->len = origin->len - n;

    /* an origin has no path, no user, no query */
    if (ngx_strlchr(host->data, host->data + host->len, '/') != NULL
        || ngx_strlchr(host->data, host->data + host->len, '@') != NULL
        || ngx_strlchr(host->data, host->data + host->len, '?') != NULL)
    {
        return NGX_ERROR;
    }

    return NGX_OK;
}


/* host[:port] == host[:port], any case, the scheme's port given or not */

static ngx_flag_t
ngx_photo_origin_host_eq(ngx_flag_t https, ngx_str_t *a, ngx_str_t *b)
{
    size_t       n;
    ngx_str_t    s[2];
    ngx_uint_t   i;
    const char  *port;

    port = https ? ":443" : ":80";
    n = https ? sizeof(":443") - 1 : sizeof(":80") - 1;

    s[0] = *a;
    s[1] = *b;

    for (i = 0; i < 2; i++) {
        if (s[i].len > n
            && ngx_strncmp(s[i].data + s[i].len - n, port, n) == 0)
        {
            s[i].len -= n;
        }
    }

    return s[0].len == s[1].len
           && ngx_strncasecmp(s[0].data, s[1].data, s[0].len) == 0;
}


/*
 * The address of the peer itself: with set_real_ip_from, the realip module
 * has put the client's address (from the proxy's X-Forwarded-For) in its
 * place, and keeps the proxy's in $realip_remote_addr.
 */

static struct sockaddr *
ngx_photo_session_peer(ngx_http_request_t *r)
{
    ngx_addr_t                  addr;
    ngx_http_variable_value_t  *vv;

    vv = ngx_http_get_variable(r, &ngx_photo_realip_remote_addr,
                               ngx_hash_key(ngx_photo_realip_remote_addr.data,
                                            ngx_photo_realip_remote_addr.len));

    if (vv == NULL || vv->not_found || vv->len == 0
        || ngx_parse_addr(r->pool, &addr, vv->data, vv->len) != NGX_OK)
    {
        return r->connection->sockaddr;     /* no realip, or a Unix socket */
    }

    return addr.sockaddr;
}


/* the first request header of that name, or NULL */

static ngx_table_elt_t *
ngx_photo_session_header(ngx_http_request_t *r, ngx_str_t *name)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    part = &r->headers_in.headers.part;
    h = part->elts;

    for (i = 0; /* void */; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                return NULL;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (h[i].key.len == name->len
            && ngx_strncasecmp(h[i].key.data, name->data, name->len) == 0)
        {
            return &h[i];
        }
    }
}


/* the user id a session token begins with, or 0 */
int64_t
ngx_photo_session_token_user(ngx_str_t *token)
{
    u_char   *sep;
    int64_t   id;

    sep = ngx_strlchr(token->data, token->data + ngx_min(token->len,
                                                         PHOTO_ID_MAX_DIGITS
                                                         + 1),
                      PHOTO_SESSION_TOKEN_SEP);

    if (sep == NULL
        || ngx_photo_parse_id(token->data, sep - token->data, &id) != NGX_OK)
    {
        return 0;
    }

    return id;
}
