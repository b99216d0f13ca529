
/*
 * The module's memcached client: multi-key gets (one "get" per server, all
 * servers at once, batched with the other requests of the same turn of the
 * event loop) and fire-and-forget sets, non-blocking, on the connection
 * engine (nginx peer connections kept alive per server in each worker).
 * Keys go to servers by libmemcached's ketama, exactly as the workers
 * place them.
 */

#ifndef _NGX_PHOTO_MEMCACHED_H_INCLUDED_
#define _NGX_PHOTO_MEMCACHED_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_photo_backend.h"


/* memcached's own default item size limit: a larger value is refused */
#define NGX_PHOTO_MC_VALUE_MAX  (1024 * 1024)


typedef struct ngx_photo_mc_item_s {
    ngx_str_t                   key;        /* in: e.g. "photo:123" */
    ngx_str_t                   value;      /* out: valid until the request
                                               ends */
    uint32_t                    flags;      /* out */
    unsigned                    found:1;    /* out */
    unsigned                    error:1;    /* out: its server failed, timed
                                               out or was skipped, or the
                                               key is not a memcached key:
                                               unknown, not a miss */
} ngx_photo_mc_item_t;


/*
 * photo_memcached, photo_memcached_timeout, photo_memcached_keepalive,
 * photo_memcached_ttl; ngx_photo_backend_conf_t first
 */
extern ngx_module_t  ngx_http_photo_memcached_module;


/*
 * Fetches all items: the keys of each server join the batch that server's
 * gets of this turn of the event loop share, sent as one multi-key "get"
 * once the turn's events are handled, each batch bounded by
 * photo_memcached_timeout.  Items of a server that fails get error = 1,
 * unless already found (values parsed before the failure are complete and
 * kept).  As every client's start call (ngx_photo_backend.h): NGX_AGAIN,
 * the handler's result has the items (reply.memcached) and NGX_PHOTO_DONE
 * when every server answered, else the failure of one that did not;
 * NGX_DECLINED, no server could be asked (each failed lately), and the
 * items say so; NGX_ERROR.  The handler is never called from inside this
 * call.  If r->pool is destroyed first, the request leaves its batches,
 * which go on for the other requests.
 */
ngx_int_t ngx_photo_mc_get(ngx_http_request_t *r, ngx_photo_mc_item_t *items,
    ngx_uint_t n, ngx_photo_result_pt handler, void *data);

/*
 * Fire and forget: "set|add <key> <flags> <exptime> <bytes> noreply" ("add"
 * stores only where the key is absent), exptime photo_memcached_ttl, or
 * less when until (Unix seconds, 0: none) comes before it.  Key
 * and value are copied (the caller may be gone before it is sent); log is
 * used only during the call.  Failures are logged at NGX_LOG_WARN.
 */
void ngx_photo_mc_set(ngx_log_t *log, ngx_flag_t add, ngx_str_t *key,
    ngx_str_t *value, uint32_t flags, time_t until);


#endif /* _NGX_PHOTO_MEMCACHED_H_INCLUDED_ */
