
/*
 * The answers every endpoint shares: a backend that is away (503), no
 * session (401).  JSON errors, as ngx_photo_json_error() writes them.
 */

#ifndef _NGX_PHOTO_ANSWER_H_INCLUDED_
#define _NGX_PHOTO_ANSWER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* 503 unavailable: "<what> is unavailable, try again shortly" */
ngx_int_t ngx_photo_unavailable(ngx_http_request_t *r, const char *what);

/* 401 unauthorized, with WWW-Authenticate: Bearer */
ngx_int_t ngx_photo_unauthorized(ngx_http_request_t *r);


#endif /* _NGX_PHOTO_ANSWER_H_INCLUDED_ */
