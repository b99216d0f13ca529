
/*
 * Inside the memcached client: its configuration and each worker's state
 * (the servers, their connections, their open batches), shared by its two
 * halves: ngx_photo_memcached.c (directives, ketama, sets) and
 * ngx_photo_memcached_get.c (batched gets).
 */

#ifndef _NGX_PHOTO_MEMCACHED_POOL_H_INCLUDED_
#define _NGX_PHOTO_MEMCACHED_POOL_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <libmemcached/memcached.h>

#include "ngx_photo_memcached.h"
#include "ngx_photo_conn.h"


typedef struct ngx_photo_mc_pool_s   ngx_photo_mc_pool_t;
typedef struct ngx_photo_mc_batch_s  ngx_photo_mc_batch_t;


typedef struct {
    ngx_photo_backend_conf_t    backend;     /* first */
    ngx_uint_t                  keepalive;   /* idle connections a server */
    time_t                      ttl;         /* of write-backs */
    memcached_st               *hash;        /* ketama, no I/O */
    ngx_photo_mc_pool_t        *state;       /* per worker process */
} ngx_photo_mc_conf_t;


typedef struct {
    ngx_photo_server_t         *conf;
    ngx_uint_t                  index;       /* in the pool */
    char                       *get_action;  /* "querying memcached ..." */
    char                       *set_action;
    ngx_photo_peer_t            peer;
    ngx_photo_mc_batch_t       *open;        /* gets gathered, not sent */
} ngx_photo_mc_server_t;


struct ngx_photo_mc_pool_s {
    ngx_photo_mc_server_t      *servers;
    ngx_uint_t                  nservers;
    ngx_photo_mc_conf_t        *conf;
    ngx_log_t                  *log;         /* of sets and batches */
};


/* The index of the key's server: ketama, as libmemcached computes it. */
ngx_uint_t ngx_photo_mc_server(ngx_photo_mc_pool_t *mc, ngx_str_t *key);

/* What the text protocol can carry: 1-250 bytes, no spaces or controls. */
ngx_uint_t ngx_photo_mc_valid_key(ngx_str_t *key);


#endif /* _NGX_PHOTO_MEMCACHED_POOL_H_INCLUDED_ */
