/* memcached for workers. */

#include "photo_memcached.h"
#include "photo_ketama.h"
#include "photo_log.h"

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


static memcached_st *photo_memcached_make(photo_config_t *cf, int only);


memcached_st *
photo_memcached_pool(photo_config_t *cf)
{
    return photo_memcached_make(cf, -1);
}


memcached_st *
photo_memcached_server(photo_config_t *cf, unsigned n)
{
    return photo_memcached_make(cf, (int) n);
}


/* every server of the list (only -1), or its server number only */
static memcached_st *
photo_memcached_make(photo_config_t *cf, int only)
{
    int                  i, port, rc;
    char                 buf[PHOTO_CONFIG_LIST];
    size_t               len;
    const char          *list, *p, *host;
    memcached_st        *mc;
    memcached_return_t   mrc;

    list = photo_config_memcached_servers(cf, buf, sizeof(buf));
    if (list == NULL) {
        photo_log_error("memcached: PHOTO_HOST with PHOTO_MEMCACHED_PORTS "
                        "is too long a list of servers");
        return NULL;
    }

    mc = memcached_create(NULL);
    if (mc == NULL) {
        photo_log_error("memcached: out of memory");
        return NULL;
    }

    mrc = photo_ketama_configure(mc);
    if (mrc != MEMCACHED_SUCCESS) {
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

    /* named as the module names them: ketama hashes the names */
    p = list;
    i = 0;

    while ((rc = photo_config_server_next(&p, &host, &len, &port,
                                          MEMCACHED_DEFAULT_PORT))
           == 1)
    {
        if (only != -1 && i++ != only) {
            continue;
        }

        mrc = photo_ketama_add_server(mc, host, len, (in_port_t) port);
        if (mrc != MEMCACHED_SUCCESS) {
            goto failed;
        }
    }

    if (rc == -1) {
        photo_log_error("memcached: \"%.*s\" is not host[:port] (%s)",
                        (int) strcspn(p, PHOTO_CONFIG_SEP), p,
                        list == buf ? "PHOTO_HOST with PHOTO_MEMCACHED_PORTS"
                                    : "PHOTO_MEMCACHED_SERVERS");
        memcached_free(mc);
        return NULL;
    }

    if (memcached_server_count(mc) == 0) {
        memcached_free(mc);
        return NULL;
    }

    return mc;

failed:

    photo_log_error("memcached: %s", memcached_strerror(mc, mrc));
    memcached_free(mc);

    return NULL;
}
