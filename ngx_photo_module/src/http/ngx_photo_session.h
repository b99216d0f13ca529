
/*
 * Who is signed in: the session token (Authorization: Bearer, or the
 * session cookie), the user Redis has for it, and where a write signed in
 * by the cookie may come from.
 */

#ifndef _NGX_PHOTO_SESSION_H_INCLUDED_
#define _NGX_PHOTO_SESSION_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* The request's token, checked for shape: NGX_OK, or NGX_DECLINED */
ngx_int_t ngx_photo_session_token(ngx_http_request_t *r, ngx_str_t *token);

/* The token's session key in Redis (photo_keys.h), from the request's pool */
ngx_int_t ngx_photo_session_key(ngx_http_request_t *r, ngx_str_t *token,
    ngx_str_t *key);

/*
 * The user of a session, from Redis: handler(data, user id) when there is
 * one; otherwise the request is answered here (401, or 503 when Redis
 * failed).  Returns NGX_AGAIN, or NGX_DECLINED when Redis is away (answer
 * 503 at once), or NGX_ERROR.
 */
/* the user id a token begins with (PHOTO_SESSION_TOKEN_SEP), or 0: only
   a hint, until the session says whose it is */
int64_t ngx_photo_session_token_user(ngx_str_t *token);

typedef void (*ngx_photo_session_pt)(void *data, int64_t user_id);

ngx_int_t ngx_photo_session_lookup(ngx_http_request_t *r, ngx_str_t *token,
    ngx_photo_session_pt handler, void *data);

/* over TLS, to nginx or to a photo_trusted_proxy (X-Forwarded-Proto) */
ngx_flag_t ngx_photo_request_https(ngx_http_request_t *r);

/* A write signed in by the cookie comes from an allowed Origin: NULL, or
 * why not (answer 403 forbidden_origin) */
const char *ngx_photo_session_origin(ngx_http_request_t *r);

/* "http[s]://host[:port]": NGX_OK and its parts, or NGX_ERROR */
ngx_int_t ngx_photo_origin_parse(ngx_str_t *origin, ngx_flag_t *https,
    ngx_str_t *host);


#endif /* _NGX_PHOTO_SESSION_H_INCLUDED_ */
