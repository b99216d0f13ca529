/*
 * gearmand for workers: clients (to queue follow-up jobs) and workers; its
 * text admin protocol, and the queue's metrics read with it.
 */

#ifndef PHOTO_GEARMAN_H
#define PHOTO_GEARMAN_H

#include <libgearman/gearman.h>

#include "photo_config.h"

gearman_client_st *photo_gearman_client(photo_config_t *cf);
gearman_worker_st *photo_gearman_worker(photo_config_t *cf);

/*
 * One command of the admin protocol ("status\n", "workers\n"), its answer
 * up to the "." line, malloc'd; NULL when gearmand does not answer within
 * timeout_ms (each of connecting, and every read).
 */
char *photo_gearman_admin(const char *host, int port, const char *command,
    int timeout_ms);

/*
 * photo_gearman_jobs_queued{function}, photo_gearman_jobs_running,
 * photo_gearman_workers (and photo_gearman_up), from "status", asked of
 * gearmand at each scrape of this process's metrics.
 */
int photo_gearman_metrics(photo_config_t *cf);

#endif /* PHOTO_GEARMAN_H */
