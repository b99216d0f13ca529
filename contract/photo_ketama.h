/*
 * The memcached pool as the module and the workers both build it: the same
 * servers in the same order with libmemcached's ketama consistent hashing,
 * so that both pick the same server for every key (the module asks
 * memcached_generate_hash() and does its own non-blocking I/O).
 */

#ifndef PHOTO_KETAMA_H
#define PHOTO_KETAMA_H

#include <libmemcached/memcached.h>


static inline memcached_return_t
photo_ketama_configure(memcached_st *mc)
{
    memcached_return_t  rc;

    rc = memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_DISTRIBUTION,
                                MEMCACHED_DISTRIBUTION_CONSISTENT_KETAMA);
    if (rc != MEMCACHED_SUCCESS) {
        return rc;
    }

    /* ketama points placed with MD5, as in the original ketama */
    return memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_KETAMA_HASH,
                                  MEMCACHED_HASH_MD5);
}


#endif /* PHOTO_KETAMA_H */
