/* memcached for workers. */

#include "photo_memcached.h"
#include "photo_ketama.h"
#include "photo_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/*
 * A memcached that is down must cost a job next to nothing: the cache is
 * an optimization the module reads through (photo_ctx_cache()).  A
 * refused connection fails at once; a server that takes a connection but
 * does not answer costs PHOTO_MEMCACHED_TIMEOUT_MS once, after which it is
 * skipped (libmemcached answers "temporarily disabled" without I/O) for
 * PHOTO_MEMCACHED_RETRY_S, then tried again.  It is never removed from the
 * pool: keys must stay on the server ketama gives them, as the module
 * looks for them there.
 */
#define PHOTO_MEMCACHED_TIMEOUT_MS  50
#define PHOTO_MEMCACHED_RETRY_S     1


memcached_st *
photo_memcached_pool(photo_config_t *cf)
{
    char                 ports[PHOTO_CONFIG_STR], *port, *save, *end;
    long                 n;
    memcached_st        *mc;
    memcached_return_t   rc;

    mc = memcached_create(NULL);
    if (mc == NULL) {
        photo_log_error("memcached: out of memory");
        return NULL;
    }

    rc = photo_ketama_configure(mc);
    if (rc != MEMCACHED_SUCCESS) {
        goto failed;
    }

    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_CONNECT_TIMEOUT,
                           PHOTO_MEMCACHED_TIMEOUT_MS);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_POLL_TIMEOUT,
                           PHOTO_MEMCACHED_TIMEOUT_MS);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SERVER_FAILURE_LIMIT, 1);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_SERVER_TIMEOUT_LIMIT, 1);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_RETRY_TIMEOUT,
                           PHOTO_MEMCACHED_RETRY_S);
    memcached_behavior_set(mc, MEMCACHED_BEHAVIOR_REMOVE_FAILED_SERVERS, 0);

    snprintf(ports, sizeof(ports), "%s", cf->memcached_ports);

    for (port = strtok_r(ports, " ,", &save); port;
         port = strtok_r(NULL, " ,", &save))
    {
        n = strtol(port, &end, 10);
        if (*end != '\0' || n < 1 || n > 65535) {
            photo_log_error("memcached: bad port \"%s\" in "
                            "PHOTO_MEMCACHED_PORTS", port);
            memcached_free(mc);
            return NULL;
        }

        rc = memcached_server_add(mc, cf->host, (in_port_t) n);
        if (rc != MEMCACHED_SUCCESS) {
            goto failed;
        }
    }

    return mc;

failed:

    photo_log_error("memcached: %s", memcached_strerror(mc, rc));
    memcached_free(mc);

    return NULL;
}
