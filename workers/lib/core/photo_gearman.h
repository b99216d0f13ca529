/* gearmand for workers: clients (to queue follow-up jobs) and workers. */

#ifndef PHOTO_GEARMAN_H
#define PHOTO_GEARMAN_H

#include <libgearman/gearman.h>

#include "photo_config.h"

gearman_client_st *photo_gearman_client(photo_config_t *cf);
gearman_worker_st *photo_gearman_worker(photo_config_t *cf);

#endif /* PHOTO_GEARMAN_H */
