/* Redis for workers (hiredis, blocking: a worker does one job at a time). */

#ifndef PHOTO_REDIS_H
#define PHOTO_REDIS_H

#include <hiredis/hiredis.h>

#include "photo_config.h"

redisContext *photo_redis_connect(photo_config_t *cf);
redisContext *photo_redis_ensure(photo_config_t *cf, redisContext **rc);

#endif /* PHOTO_REDIS_H */
