/* gearmand for workers. */

#include "photo_gearman.h"
#include "photo_log.h"


#define PHOTO_GEARMAN_TIMEOUT_MS  5000


gearman_client_st *
photo_gearman_client(photo_config_t *cf)
{
    const char         *host;
    gearman_client_st  *c;

    host = photo_config_host(cf, gearman_host);

    c = gearman_client_create(NULL);
    if (c == NULL) {
        photo_log_error("gearman: out of memory");
        return NULL;
    }

    gearman_client_set_timeout(c, PHOTO_GEARMAN_TIMEOUT_MS);

    if (gearman_client_add_server(c, host, (in_port_t) cf->gearman_port)
        != GEARMAN_SUCCESS)
    {
        photo_log_error("gearman %s:%d: %s", host, cf->gearman_port,
                        gearman_client_error(c));
        gearman_client_free(c);
        return NULL;
    }

    return c;
}


gearman_worker_st *
photo_gearman_worker(photo_config_t *cf)
{
    const char         *host;
    gearman_worker_st  *w;

    host = photo_config_host(cf, gearman_host);

    w = gearman_worker_create(NULL);
    if (w == NULL) {
        photo_log_error("gearman: out of memory");
        return NULL;
    }

    if (gearman_worker_add_server(w, host, (in_port_t) cf->gearman_port)
        != GEARMAN_SUCCESS)
    {
        photo_log_error("gearman %s:%d: %s", host, cf->gearman_port,
                        gearman_worker_error(w));
        gearman_worker_free(w);
        return NULL;
    }

    return w;
}
