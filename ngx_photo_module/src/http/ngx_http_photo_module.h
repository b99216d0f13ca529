
/*
 * ngx_http_photo_module: the API's router, and the configuration of the
 * read and write paths.  The backends are modules of their own, in the
 * same .so (backend/ngx_photo_backend.h).
 */

#ifndef _NGX_HTTP_PHOTO_MODULE_H_INCLUDED_
#define _NGX_HTTP_PHOTO_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


typedef struct ngx_photo_ocache_s     ngx_photo_ocache_t;
typedef struct ngx_photo_shard_s      ngx_photo_shard_t;


/*
 * What the read and write paths share per deployment, in the http block;
 * the per-worker parts made in init_process.
 */
typedef struct {
    ngx_uint_t                  object_cache_max;     /* 0: off */
    ngx_msec_t                  object_cache_ttl;
    ngx_photo_ocache_t         *object_cache;         /* per worker */

    ngx_msec_t                  auth_timeout;   /* sign-up / sign-in jobs */
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
    ngx_str_t                   link_key;   /* linked accounts sealed with
                                               (PHOTO_SECRET_KEY_LEN) */
    ngx_str_t                   media_link_secret;  /* pictures' links
                                               signed with (photo_media.h) */
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
