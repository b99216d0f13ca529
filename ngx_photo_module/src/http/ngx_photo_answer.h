
/*
 * The answers every endpoint shares: a backend that is away (503), no
 * session (401), JSON errors as ngx_photo_json_error() writes them; and
 * how a request waits for any backend (ngx_photo_backend.h's convention).
 */

#ifndef _NGX_PHOTO_ANSWER_H_INCLUDED_
#define _NGX_PHOTO_ANSWER_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_photo_backend.h"


/* 503 unavailable: "<what> is unavailable, try again shortly" */
ngx_int_t ngx_photo_unavailable(ngx_http_request_t *r, const char *what);

/* 401 unauthorized, with WWW-Authenticate: Bearer */
ngx_int_t ngx_photo_unauthorized(ngx_http_request_t *r);

/*
 * A content handler's return after a backend client's start call rc:
 * NGX_AGAIN, the request waits for the callback (NGX_DONE; a client that
 * leaves ends the request, and with it what it waits on); NGX_DECLINED,
 * 503 naming backend; else 500.
 */
ngx_int_t ngx_photo_wait(ngx_http_request_t *r, ngx_int_t rc,
    const char *backend);

/* The same from an event handler, for a request that waits already:
   unless rc is NGX_AGAIN, the request is finalized with that answer. */
void ngx_photo_wait_again(ngx_http_request_t *r, ngx_int_t rc,
    const char *backend);

/* A callback's result other than NGX_PHOTO_DONE: the request finalized
   with a 503 naming the result's backend. */
void ngx_photo_backend_failed(ngx_http_request_t *r, ngx_photo_result_t *res);


#endif /* _NGX_PHOTO_ANSWER_H_INCLUDED_ */
