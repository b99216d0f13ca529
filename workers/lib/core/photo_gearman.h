/*
 * gearmand for workers: clients (to queue follow-up jobs) and workers; its
 * text admin protocol, and the queue's metrics read with it.
 */

#ifndef PHOTO_GEARMAN_H
#define PHOTO_GEARMAN_H

#include <libgearman/gearman.h>

#include "photo_config.h"

/* the most gearmand servers a worker takes */
#define PHOTO_GEARMAN_MAX  16

/* one gearmand as configured */
typedef struct {
    char                host[PHOTO_CONFIG_STR];
    int                 port;
    char                name[PHOTO_CONFIG_STR + 8];   /* "host:port" */
} photo_gearman_server_t;

/*
 * The gearmand servers, in the order of nginx.conf's photo_gearman:
 * PHOTO_GEARMAN_SERVERS, or PHOTO_GEARMAN_HOST with PHOTO_GEARMAN_PORT.
 * Their number (1 to max), or -1 (logged).
 */
int photo_gearman_servers(const photo_config_t *cf,
    photo_gearman_server_t *servers, int max);

/*
 * A client for follow-up jobs that submits to gearmand number first, and
 * to the next ones in order when it cannot connect (libgearman tries its
 * servers in the order they were added).  photo_ctx_submit() picks first
 * by the job's unique key, as the module does (photo_route_gearman()).
 */
gearman_client_st *photo_gearman_client(const photo_config_t *cf,
    unsigned first);

/* a worker of one gearmand (each thread of a worker takes from one) */
gearman_worker_st *photo_gearman_worker(const photo_gearman_server_t *server);

/*
 * One command of the admin protocol ("status\n", "workers\n"), its answer
 * up to the "." line, malloc'd; NULL when gearmand does not answer within
 * timeout_ms (each of connecting, and every read).
 */
char *photo_gearman_admin(const char *host, int port, const char *command,
    int timeout_ms);

/*
 * photo_gearman_jobs_queued{server,function}, photo_gearman_jobs_running,
 * photo_gearman_workers (and photo_gearman_up{server}), from "status",
 * asked of each gearmand at each scrape of this process's metrics.
 */
int photo_gearman_metrics(photo_config_t *cf);

#endif /* PHOTO_GEARMAN_H */
