
/*
 * Request arguments of the read path: ids in paths, count and max_id.
 * Everything a client sends is checked here; what is wrong is said in
 * err (a buffer of the caller's) in words that name the argument, for the
 * caller's 400.
 */

#include "ngx_photo_read.h"
#include "ngx_photo_args.h"
#include "photo_id.h"


/* A positive 64-bit id in decimal: the contract's rule (photo_id.h). */

ngx_int_t
ngx_photo_parse_id(u_char *p, size_t len, int64_t *id)
{
    return photo_id_parse((char *) p, len, id) == 0 ? NGX_OK : NGX_ERROR;
}


/* An id as a member of a Redis list: PHOTO_ID_MAX_DIGITS digits, padded. */

ngx_int_t
ngx_photo_format_list_id(u_char *buf, int64_t id)
{
    return photo_id_pad((char *) buf, id);
}


/*
 * ?count=N&max_id=ID.  Each at most once: a repeated argument is refused
 * rather than one of its values picked silently.  Other arguments are
 * ignored, as clients add cache-busters and the like.
 */

ngx_int_t
ngx_photo_parse_page(ngx_http_request_t *r, ngx_photo_read_t *rd,
    ngx_str_t *err)
{
    u_char                     *p, *end, *name, *eq, *amp;
    size_t                      nlen, vlen;
    int64_t                     n;
    ngx_uint_t                  seen_count, seen_max;
    ngx_http_photo_loc_conf_t  *plcf;

    plcf = ngx_http_get_module_loc_conf(r, ngx_http_photo_module);

    rd->count = plcf->count;
    rd->max_id = 0;

    seen_count = 0;
    seen_max = 0;

    p = r->args.data;
    end = p + r->args.len;

    while (p < end) {
        name = p;

        amp = ngx_strlchr(p, end, '&');
        if (amp == NULL) {
            amp = end;
        }

        eq = ngx_strlchr(p, amp, '=');

        nlen = (eq ? eq : amp) - name;
        vlen = eq ? (size_t) (amp - eq - 1) : 0;

        p = amp + 1;

        if (nlen == sizeof("count") - 1
            && ngx_strncmp(name, "count", nlen) == 0)
        {
            if (seen_count++) {
                ngx_str_set(err, "count is given more than once");
                return NGX_ERROR;
            }

            if (eq == NULL
                || ngx_photo_parse_id(eq + 1, vlen, &n) != NGX_OK
                || (uint64_t) n > plcf->max_count)
            {
                err->len = ngx_snprintf(err->data, err->len,
                                        "count must be a whole number "
                                        "from 1 to %ui", plcf->max_count)
                           - err->data;
                return NGX_ERROR;
            }

            rd->count = (ngx_uint_t) n;

        } else if (nlen == sizeof("max_id") - 1
                   && ngx_strncmp(name, "max_id", nlen) == 0)
        {
            if (seen_max++) {
                ngx_str_set(err, "max_id is given more than once");
                return NGX_ERROR;
            }

            if (eq == NULL
                || ngx_photo_parse_id(eq + 1, vlen, &rd->max_id) != NGX_OK)
            {
                ngx_str_set(err, "max_id must be a photo id "
                               "(a positive 64-bit integer)");
                return NGX_ERROR;
            }
        }
    }

    return NGX_OK;
}
