/*
 * The memcached pool as the module and the workers both build it: the same
 * servers in the same order with libmemcached's ketama consistent hashing,
 * so that both pick the same server for every key (the module asks
 * memcached_generate_hash() and does its own non-blocking I/O).
 */

#ifndef PHOTO_KETAMA_H
#define PHOTO_KETAMA_H

#include <libmemcached/memcached.h>
#include <string.h>


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


/*
 * A server of the pool, as both sides name it: ketama hashes the name
 * (host and port) into its continuum, so the module and the workers must
 * give the same host string for the same server.  That string is the
 * host as the operator wrote it (nginx.conf's photo_memcached, the
 * workers' PHOTO_MEMCACHED_SERVERS), never an address resolved from it:
 * a host name resolved on one side only would put the same key on two
 * different servers.  host need not end with a NUL.
 */
static inline memcached_return_t
photo_ketama_add_server(memcached_st *mc, const char *host, size_t len,
    in_port_t port)
{
    char  name[256];

    if (len == 0 || len >= sizeof(name)) {
        return MEMCACHED_INVALID_ARGUMENTS;
    }

    memcpy(name, host, len);
    name[len] = '\0';

    return memcached_server_add(mc, name, port);
}


#endif /* PHOTO_KETAMA_H */
