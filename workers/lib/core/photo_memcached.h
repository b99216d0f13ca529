/* memcached for workers: the ketama pool the module reads from. */

#ifndef PHOTO_MEMCACHED_H
#define PHOTO_MEMCACHED_H

#include <libmemcached/memcached.h>

#include "photo_config.h"

/*
 * The pool over PHOTO_MEMCACHED_SERVERS (by default PHOTO_HOST with each of
 * PHOTO_MEMCACHED_PORTS), in that order: nginx.conf's photo_memcached.
 */
memcached_st *photo_memcached_pool(photo_config_t *cf);

/* The pool's server number n (in that order) alone, or NULL (logged, or
   no such server). */
memcached_st *photo_memcached_server(photo_config_t *cf, unsigned n);

#endif /* PHOTO_MEMCACHED_H */
