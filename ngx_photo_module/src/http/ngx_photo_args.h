
/*
 * Ids as the API writes them (positive 64-bit decimals), and as the Redis
 * lists hold them (zero-padded, so that lexical order is id order).
 */

#ifndef _NGX_PHOTO_ARGS_H_INCLUDED_
#define _NGX_PHOTO_ARGS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* NGX_OK and *id, or NGX_ERROR: not a positive 64-bit integer */
ngx_int_t ngx_photo_parse_id(u_char *p, size_t len, int64_t *id);

/* PHOTO_ID_MAX_DIGITS digits into buf; returns how many */
ngx_int_t ngx_photo_format_list_id(u_char *buf, int64_t id);


#endif /* _NGX_PHOTO_ARGS_H_INCLUDED_ */
