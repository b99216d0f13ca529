/* memcached for workers. */

#include "photo_memcached.h"
#include "photo_ketama.h"
#include "photo_log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define PHOTO_MEMCACHED_TIMEOUT_MS  1000


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
