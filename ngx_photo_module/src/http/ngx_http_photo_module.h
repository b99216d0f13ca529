
/*
 * ngx_http_photo_module: the read path of ngx_photo inside nginx.
 * Configuration shared by the module's files.
 */

#ifndef _NGX_HTTP_PHOTO_MODULE_H_INCLUDED_
#define _NGX_HTTP_PHOTO_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* One backend server as configured: what it is called and where it is. */
typedef struct {
    ngx_str_t                   name;       /* as written in nginx.conf */
    ngx_addr_t                 *addr;       /* first resolved address */
} ngx_photo_server_t;


typedef struct ngx_photo_redis_s      ngx_photo_redis_t;
typedef struct ngx_photo_mc_pool_s    ngx_photo_mc_pool_t;
typedef struct ngx_photo_pg_pool_s    ngx_photo_pg_pool_t;
typedef struct ngx_photo_ocache_s     ngx_photo_ocache_t;
typedef struct ngx_photo_shard_s      ngx_photo_shard_t;


/*
 * Backends live in the http block: one set per deployment, shared by all
 * locations.  The runtime state of each client (its connections, kept per
 * worker process) hangs off here too, made in init_process.
 */
typedef struct {
    ngx_photo_server_t         *redis;
    ngx_msec_t                  redis_timeout;
    ngx_photo_redis_t          *redis_state;

    ngx_array_t                *memcached;  /* of ngx_photo_server_t */
    ngx_msec_t                  memcached_timeout;
    ngx_uint_t                  memcached_keepalive;  /* idle per server */
    time_t                      memcached_ttl;        /* of write-backs */
    void                       *memcached_hash;       /* memcached_st */
    ngx_photo_mc_pool_t        *memcached_state;

    ngx_uint_t                  object_cache_max;     /* 0: off */
    ngx_msec_t                  object_cache_ttl;
    ngx_photo_ocache_t         *object_cache;         /* per worker */

    ngx_str_t                   postgres_conninfo;
    ngx_photo_server_t         *postgres;   /* host/port from the conninfo */
    ngx_msec_t                  postgres_timeout;
    ngx_uint_t                  postgres_pool;        /* per worker */
    ngx_photo_pg_pool_t        *postgres_state;

    ngx_photo_server_t         *gearman;
    ngx_msec_t                  gearman_timeout;
    ngx_msec_t                  auth_timeout;   /* sign-up / sign-in jobs */
    void                       *gearman_state;

    ngx_photo_shard_t          *shard;      /* photo ids, leased shard */

    ngx_uint_t                  feed_cap;
    ngx_str_t                   feed_script_sha;  /* EVALSHA of the reads */

    ngx_flag_t                  used;       /* some location has photo_api */
} ngx_http_photo_main_conf_t;


/* A server with photo_api in any of its locations: nginx's own errors
   that come before a location is chosen are JSON there too */
typedef struct {
    ngx_flag_t                  api;
} ngx_http_photo_srv_conf_t;


typedef struct {
    ngx_flag_t                  api;
    u_char                     *api_file;   /* where "photo_api" was, */
    ngx_uint_t                  api_line;   /* for errors found at merge */

    ngx_uint_t                  count;      /* default page size */
    ngx_uint_t                  max_count;

    ngx_str_t                   media_root; /* uploads: where, */
    ngx_str_t                   media_url;  /* served as, */
    size_t                      media_max;  /* at most, */
    ngx_str_t                   media_key;  /* names keyed with */
    ngx_array_t                *trusted;    /* of ngx_cidr_t: proxies whose
                                               X-Forwarded-Proto counts */
    ngx_array_t                *allowed_origins;  /* of ngx_str_t: other
                                               sites writing by cookie */
    ngx_str_t                   solr_location;  /* internal, to Solr */
#if (NGX_THREADS)
    ngx_thread_pool_t          *media_pool;     /* writes uploads, or NULL */
#endif
} ngx_http_photo_loc_conf_t;


extern ngx_module_t  ngx_http_photo_module;


ngx_int_t ngx_photo_health_handler(ngx_http_request_t *r);


#endif /* _NGX_HTTP_PHOTO_MODULE_H_INCLUDED_ */
