
/*
 * The photo objects a worker process served lately, kept in its own memory
 * for photo_object_cache's time: a page whose objects are all here is
 * served without a memcached round trip.  Photos are never edited, so an
 * object kept is the one memcached holds; a photo deleted meanwhile leaves
 * the lists at once, and could only be shown by id (or by nearby search)
 * until its time is up.  Least recently used objects go first when full.
 */

#ifndef _NGX_PHOTO_OBJECT_CACHE_H_INCLUDED_
#define _NGX_PHOTO_OBJECT_CACHE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_photo_module.h"


/* From init_process / exit_process: the worker's cache, if configured. */
ngx_int_t ngx_photo_ocache_init_process(ngx_cycle_t *cycle,
    ngx_http_photo_main_conf_t *pmcf);
void ngx_photo_ocache_exit_process(ngx_http_photo_main_conf_t *pmcf);

/* The object of photo id, copied into pool, or NGX_DECLINED (not kept,
 * or expired), or NGX_ERROR.  Without a pool, object points into the
 * cache: valid only until the cache is next used. */
ngx_int_t ngx_photo_ocache_get(ngx_http_photo_main_conf_t *pmcf,
    ngx_pool_t *pool, int64_t id, ngx_str_t *object);

/* The objects of a page are about to be asked for: their buckets, then
 * their entries, are fetched into the CPU's cache together, so that their
 * misses overlap instead of coming one after another (in a cache of
 * 100,000 objects each lookup misses). */
void ngx_photo_ocache_prefetch(ngx_http_photo_main_conf_t *pmcf,
    int64_t *ids, ngx_uint_t n);

/* Keep a copy of a checked object (nothing happens when it is off, or when
 * memory runs out: it is a cache). */
void ngx_photo_ocache_put(ngx_http_photo_main_conf_t *pmcf, ngx_log_t *log,
    int64_t id, ngx_str_t *object);


#endif /* _NGX_PHOTO_OBJECT_CACHE_H_INCLUDED_ */
