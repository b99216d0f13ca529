
/*
 * Errors nginx answers by itself where photo_api serves (a failure inside
 * the module that ends a request with 500, a body over
 * client_max_body_size, a timeout...) would go out as nginx's HTML page.
 * This header filter turns them into the API's JSON error,
 * {"error":{"code","message"}}, the same status: it sends the JSON itself
 * and marks the request header_only, so that nginx sends no page after it
 * (ngx_http_send_special_response stops there).  Only HTML error pages of
 * the main request of a photo_api location are touched, and those nginx
 * answers before any location is chosen (a bad request line, 505, 501 for
 * a Transfer-Encoding it does not know...) in a server that has one; the
 * module's own JSON errors, error_page targets and other locations go by as
 * they are.
 */

#include "ngx_http_photo_module.h"
#include "ngx_photo_json.h"


/*
 * A 429 page here is limit_req's (limit_req_status 429): the client's
 * address is over its burst.  limit_req does not tell how long until there
 * is room; at the rates the sign-in and sign-up limits use (1 r/s or more,
 * README) room for one more request comes within a second, so that is the
 * Retry-After sent.
 */
#define NGX_PHOTO_ERROR_RETRY_AFTER  1


static ngx_int_t ngx_photo_error_header_filter(ngx_http_request_t *r);
static ngx_flag_t ngx_photo_error_api(ngx_http_request_t *r);
static const char *ngx_photo_error_code(ngx_uint_t status);


static ngx_http_output_header_filter_pt  ngx_photo_error_next_header_filter;


ngx_int_t
ngx_photo_error_init(ngx_conf_t *cf)
{
    ngx_photo_error_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_photo_error_header_filter;

    return NGX_OK;
}


static ngx_int_t
ngx_photo_error_header_filter(ngx_http_request_t *r)
{
    ngx_int_t          rc;
    ngx_str_t          message;
    ngx_uint_t         status;
    ngx_photo_json_t   j;
    u_char             text[64];

    status = r->headers_out.status;

    if (r != r->main
        || !ngx_photo_error_api(r)
        || status < NGX_HTTP_BAD_REQUEST
        || r->headers_out.content_type.len != sizeof("text/html") - 1
        || ngx_strncmp(r->headers_out.content_type.data, "text/html",
                       sizeof("text/html") - 1)
           != 0)
    {
        return ngx_photo_error_next_header_filter(r);
    }

    message.data = text;
    /* 501 and 505 are about what the client sent, not a failure */
    message.len = ngx_sprintf(text, "%s (HTTP %ui)",
                              status >= NGX_HTTP_INTERNAL_SERVER_ERROR
                              && status != NGX_HTTP_NOT_IMPLEMENTED
                              && status != NGX_HTTP_VERSION_NOT_SUPPORTED
                              ? "the server failed; its log says more"
                              : status == NGX_HTTP_TOO_MANY_REQUESTS
                              ? "too many requests; try again later"
                              : "the request was refused",
                              status)
                  - text;

    if (status == NGX_HTTP_TOO_MANY_REQUESTS
        && ngx_photo_retry_after(r, NGX_PHOTO_ERROR_RETRY_AFTER) != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ngx_photo_json_error_body(&j, r, ngx_photo_error_code(status),
                                  &message)
        != NGX_OK)
    {
        return ngx_photo_error_next_header_filter(r);    /* the page then */
    }

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;
    r->headers_out.content_length_n = j.length;

    if (r->headers_out.content_length) {
        r->headers_out.content_length->hash = 0;
        r->headers_out.content_length = NULL;
    }

    rc = ngx_photo_error_next_header_filter(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    j.buf->last_buf = 1;
    j.buf->last_in_chain = 1;

    rc = ngx_http_output_filter(r, j.out);

    /* the JSON is the body: nginx's page is not to follow */
    r->header_only = 1;

    return rc == NGX_ERROR ? NGX_ERROR : NGX_OK;
}


/* The request is photo_api's: its location's, or, with no location chosen
 * yet (its configuration is still its server's own), its server's. */

static ngx_flag_t
ngx_photo_error_api(ngx_http_request_t *r)
{
    ngx_http_photo_srv_conf_t  *pscf;
    ngx_http_photo_loc_conf_t  *plcf;
    ngx_http_core_srv_conf_t   *cscf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_photo_module);

    if (plcf == NULL) {
        return 0;
    }

    if (plcf->api == 1) {
        return 1;
    }

    pscf = ngx_http_get_module_srv_conf(r, ngx_http_photo_module);
    cscf = ngx_http_get_module_srv_conf(r, ngx_http_core_module);

    return pscf != NULL && pscf->api
           && r->loc_conf == cscf->ctx->loc_conf;
}


static const char *
ngx_photo_error_code(ngx_uint_t status)
{
    switch (status) {

    case NGX_HTTP_BAD_REQUEST:
        return "bad_request";

    case NGX_HTTP_NOT_FOUND:
        return "not_found";

    case NGX_HTTP_NOT_ALLOWED:
        return "method_not_allowed";

    case NGX_HTTP_REQUEST_TIME_OUT:
        return "timeout";

    case NGX_HTTP_REQUEST_ENTITY_TOO_LARGE:
        return "too_large";

    case NGX_HTTP_TOO_MANY_REQUESTS:
        return "too_many_requests";

    case NGX_HTTP_NOT_IMPLEMENTED:
        return "not_implemented";

    case NGX_HTTP_VERSION_NOT_SUPPORTED:
        return "version_not_supported";

    case NGX_HTTP_BAD_GATEWAY:
    case NGX_HTTP_SERVICE_UNAVAILABLE:
    case NGX_HTTP_GATEWAY_TIME_OUT:
        return "unavailable";

    default:
        return status >= NGX_HTTP_INTERNAL_SERVER_ERROR ? "internal_error"
                                                        : "refused";
    }
}
