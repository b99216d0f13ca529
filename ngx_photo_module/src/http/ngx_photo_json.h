
/*
 * JSON responses: a yajl generator that allocates from the request pool and
 * prints straight into an nginx buffer chain, so nothing is copied twice
 * and nothing has to be freed by hand.
 */

#ifndef _NGX_PHOTO_JSON_H_INCLUDED_
#define _NGX_PHOTO_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <yajl/yajl_gen.h>


typedef struct {
    yajl_gen                    gen;
    ngx_pool_t                 *pool;
    ngx_chain_t                *out;
    ngx_chain_t               **last;
    ngx_buf_t                  *buf;
    size_t                      chunk;      /* size of each new buffer */
    off_t                       length;     /* bytes printed so far */
    ngx_flag_t                  failed;     /* an allocation failed */
} ngx_photo_json_t;


/* Literal keys and values without strlen(). */
#define ngx_photo_json_lit(j, s)                                             \
    yajl_gen_string((j)->gen, (const unsigned char *) s, sizeof(s) - 1)

#define ngx_photo_json_str(j, str)                                           \
    yajl_gen_string((j)->gen, (str)->data, (str)->len)


ngx_int_t ngx_photo_json_init(ngx_photo_json_t *j, ngx_pool_t *pool,
    size_t chunk);

/* A generator with its own contiguous buffer (yajl_gen_get_buf), in pool. */
yajl_gen ngx_photo_json_gen_alloc(ngx_pool_t *pool);

/* yajl's allocations from pool, freed with it (a parser's: no malloc and
   free for each of a page's objects) */
void ngx_photo_json_alloc_funcs(ngx_pool_t *pool, yajl_alloc_funcs *afs);
ngx_int_t ngx_photo_json_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_photo_json_t *j);

/* Send a JSON body already in buffers: headers, then the chain. */
ngx_int_t ngx_photo_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_chain_t *out, off_t length);

/* "name":"value" and "name":"<id>" (ids are strings) into an open map */
void ngx_photo_json_pair(yajl_gen g, const char *name, u_char *value,
    size_t len);
void ngx_photo_json_id_pair(yajl_gen g, const char *name, int64_t id);

/* What a ngx_photo_json_gen_alloc() generator made: NGX_OK or NGX_ERROR. */
ngx_int_t ngx_photo_json_take(yajl_gen g, ngx_str_t *out);

/* {"error":{"code":CODE,"message":MESSAGE,"request_id":$request_id}} with
   the given status. */
ngx_int_t ngx_photo_json_error(ngx_http_request_t *r, ngx_uint_t status,
    const char *code, const char *fmt, ...);

/* Retry-After: seconds, for a refusal that may be tried again later. */
ngx_int_t ngx_photo_retry_after(ngx_http_request_t *r, ngx_uint_t seconds);

/* That body alone, into j's chain (j->out, j->length): NGX_OK or NGX_ERROR. */
ngx_int_t ngx_photo_json_error_body(ngx_photo_json_t *j,
    ngx_http_request_t *r, const char *code, ngx_str_t *message);

/* ngx_photo_error.c: nginx's own error pages as that JSON, where photo_api
   answers (postconfiguration) */
ngx_int_t ngx_photo_error_init(ngx_conf_t *cf);


#endif /* _NGX_PHOTO_JSON_H_INCLUDED_ */
