
/*
 * The answers every endpoint shares (see ngx_photo_answer.h).
 */

#include "ngx_photo_answer.h"
#include "ngx_photo_json.h"


ngx_int_t
ngx_photo_unavailable(ngx_http_request_t *r, const char *what)
{
    return ngx_photo_json_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                "unavailable", "%s is unavailable, try again "
                                "shortly", what);
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
ngx_photo_wait(ngx_http_request_t *r, ngx_int_t rc, const char *backend)
{
    if (rc == NGX_AGAIN) {
        r->read_event_handler = ngx_http_test_reading;
        r->main->count++;

        return NGX_DONE;
    }

    return rc == NGX_DECLINED ? ngx_photo_unavailable(r, backend)
                              : NGX_HTTP_INTERNAL_SERVER_ERROR;
}


void
ngx_photo_wait_again(ngx_http_request_t *r, ngx_int_t rc,
    const char *backend)
{
    if (rc == NGX_AGAIN) {
        return;
    }

    ngx_http_finalize_request(r, rc == NGX_DECLINED
                                 ? ngx_photo_unavailable(r, backend)
                                 : NGX_HTTP_INTERNAL_SERVER_ERROR);
}


void
ngx_photo_backend_failed(ngx_http_request_t *r, ngx_photo_result_t *res)
{
    ngx_http_finalize_request(r, ngx_photo_unavailable(r, res->backend));
}
