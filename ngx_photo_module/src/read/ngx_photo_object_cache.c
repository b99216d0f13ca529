
/*
 * The worker's cache of photo objects (see ngx_photo_object_cache.h): a
 * hash table by photo id (chained; as many buckets as entries, rounded up
 * to a power of two: one or two memory reads per lookup, where an rbtree's
 * twenty made the lookups of a 100-photo page most of a worker's profile)
 * and a queue from most to least recently used, where a hit moves an entry
 * to the head only once it has aged past half the cache (a stamp counts
 * insertions and moves): a hot entry costs no writes to other entries'
 * memory, which is cold in a cache of 100,000 objects.  Each
 * entry is one allocation, freed when it expires, is evicted, or when the
 * worker exits.  Objects are copied out (into the request's pool, or into
 * the response while nothing can change the cache), so that a response
 * still being sent never points into an entry that goes away.
 */

#include "ngx_photo_object_cache.h"


typedef struct ngx_photo_ocache_node_s  ngx_photo_ocache_node_t;

struct ngx_photo_ocache_node_s {
    ngx_photo_ocache_node_t    *next;       /* in its bucket */
    int64_t                     id;
    ngx_queue_t                 queue;
    ngx_uint_t                  stamp;      /* oc->stamp when put or moved */
    ngx_msec_t                  expires;
    size_t                      len;
    u_char                      data[1];
};


struct ngx_photo_ocache_s {
    ngx_photo_ocache_node_t   **buckets;
    ngx_uint_t                  mask;       /* buckets - 1 */
    ngx_queue_t                 lru;        /* head: most recently used */
    ngx_uint_t                  n;
    ngx_uint_t                  max;
    ngx_uint_t                  stamp;
    ngx_msec_t                  ttl;
};


/* Fibonacci hashing: ids that differ in their low bits only (a sequence,
   a shard) spread over all buckets */
#define ngx_photo_ocache_bucket(oc, id)                                      \
    (&(oc)->buckets[((uint64_t) (id) * 0x9E3779B97F4A7C15ULL) >> 32          \
                    & (oc)->mask])


static ngx_photo_ocache_node_t *ngx_photo_ocache_lookup(
    ngx_photo_ocache_t *oc, int64_t id);
static void ngx_photo_ocache_delete(ngx_photo_ocache_t *oc,
    ngx_photo_ocache_node_t *on);


ngx_int_t
ngx_photo_ocache_init_process(ngx_cycle_t *cycle,
    ngx_http_photo_main_conf_t *pmcf)
{
    ngx_uint_t           size;
    ngx_photo_ocache_t  *oc;

    if (pmcf->object_cache_max == 0) {
        return NGX_OK;
    }

    for (size = 16; size < pmcf->object_cache_max; size <<= 1) {
        /* void */
    }

    oc = ngx_pcalloc(cycle->pool, sizeof(ngx_photo_ocache_t));
    if (oc == NULL) {
        return NGX_ERROR;
    }

    oc->buckets = ngx_pcalloc(cycle->pool,
                              size * sizeof(ngx_photo_ocache_node_t *));
    if (oc->buckets == NULL) {
        return NGX_ERROR;
    }

    oc->mask = size - 1;
    ngx_queue_init(&oc->lru);
    oc->max = pmcf->object_cache_max;
    oc->ttl = pmcf->object_cache_ttl;

    pmcf->object_cache = oc;

    return NGX_OK;
}


void
ngx_photo_ocache_exit_process(ngx_http_photo_main_conf_t *pmcf)
{
    ngx_queue_t         *q;
    ngx_photo_ocache_t  *oc;

    oc = pmcf->object_cache;
    if (oc == NULL) {
        return;
    }

    while (!ngx_queue_empty(&oc->lru)) {
        q = ngx_queue_last(&oc->lru);
        ngx_photo_ocache_delete(oc, ngx_queue_data(q, ngx_photo_ocache_node_t,
                                                   queue));
    }

    pmcf->object_cache = NULL;
}


/*
 * Two passes: the buckets (independent loads, all in flight at once), then
 * the first entry of each with the lines its object spans (up to
 * NGX_PHOTO_OCACHE_PREFETCH_LINES), which the page's copy reads next.
 */

#define NGX_PHOTO_OCACHE_PREFETCH_LINES  6

void
ngx_photo_ocache_prefetch(ngx_http_photo_main_conf_t *pmcf, int64_t *ids,
    ngx_uint_t n)
{
#if defined(__GNUC__)
    ngx_uint_t                i, k;
    ngx_photo_ocache_t       *oc;
    ngx_photo_ocache_node_t  *on;

    oc = pmcf->object_cache;
    if (oc == NULL) {
        return;
    }

    for (i = 0; i < n; i++) {
        __builtin_prefetch(ngx_photo_ocache_bucket(oc, ids[i]));
    }

    for (i = 0; i < n; i++) {
        on = *ngx_photo_ocache_bucket(oc, ids[i]);

        for (k = 0; on && k < NGX_PHOTO_OCACHE_PREFETCH_LINES; k++) {
            __builtin_prefetch((u_char *) on + k * NGX_CPU_CACHE_LINE);
        }
    }
#endif
}


ngx_int_t
ngx_photo_ocache_get(ngx_http_photo_main_conf_t *pmcf, ngx_pool_t *pool,
    int64_t id, ngx_str_t *object)
{
    u_char                   *p;
    ngx_photo_ocache_t       *oc;
    ngx_photo_ocache_node_t  *on;

    oc = pmcf->object_cache;
    if (oc == NULL) {
        return NGX_DECLINED;
    }

    on = ngx_photo_ocache_lookup(oc, id);
    if (on == NULL) {
        return NGX_DECLINED;
    }

    if ((ngx_msec_int_t) (on->expires - ngx_current_msec) <= 0) {
        ngx_photo_ocache_delete(oc, on);
        return NGX_DECLINED;
    }

    if (pool == NULL) {
        object->data = on->data;

    } else {
        p = ngx_pnalloc(pool, on->len);
        if (p == NULL) {
            return NGX_ERROR;
        }

        ngx_memcpy(p, on->data, on->len);
        object->data = p;
    }

    object->len = on->len;

    if (oc->stamp - on->stamp > oc->max / 2) {
        ngx_queue_remove(&on->queue);
        ngx_queue_insert_head(&oc->lru, &on->queue);
        on->stamp = oc->stamp++;
    }

    return NGX_OK;
}


void
ngx_photo_ocache_put(ngx_http_photo_main_conf_t *pmcf, ngx_log_t *log,
    int64_t id, ngx_str_t *object)
{
    ngx_queue_t               *q;
    ngx_photo_ocache_t        *oc;
    ngx_photo_ocache_node_t   *on, **b;

    oc = pmcf->object_cache;
    if (oc == NULL) {
        return;
    }

    on = ngx_photo_ocache_lookup(oc, id);
    if (on != NULL) {
        /* served by two requests at once: the newer copy is as good */
        ngx_photo_ocache_delete(oc, on);
    }

    if (oc->n == oc->max) {
        q = ngx_queue_last(&oc->lru);
        ngx_photo_ocache_delete(oc, ngx_queue_data(q, ngx_photo_ocache_node_t,
                                                   queue));
    }

    on = ngx_alloc(offsetof(ngx_photo_ocache_node_t, data) + object->len,
                   log);
    if (on == NULL) {
        return;
    }

    on->id = id;
    on->stamp = oc->stamp++;
    on->expires = ngx_current_msec + oc->ttl;
    on->len = object->len;
    ngx_memcpy(on->data, object->data, object->len);

    b = ngx_photo_ocache_bucket(oc, id);
    on->next = *b;
    *b = on;
    ngx_queue_insert_head(&oc->lru, &on->queue);
    oc->n++;
}


static ngx_photo_ocache_node_t *
ngx_photo_ocache_lookup(ngx_photo_ocache_t *oc, int64_t id)
{
    ngx_photo_ocache_node_t  *on;

    for (on = *ngx_photo_ocache_bucket(oc, id); on; on = on->next) {
        if (on->id == id) {
            return on;
        }
    }

    return NULL;
}


static void
ngx_photo_ocache_delete(ngx_photo_ocache_t *oc, ngx_photo_ocache_node_t *on)
{
    ngx_photo_ocache_node_t  **b;

    for (b = ngx_photo_ocache_bucket(oc, on->id); *b != on; b = &(*b)->next) {
        /* void */
    }

    *b = on->next;
    ngx_queue_remove(&on->queue);
    oc->n--;
    ngx_free(on);
}
