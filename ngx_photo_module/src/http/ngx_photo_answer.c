
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
