/* Redis for workers. */

#include "photo_redis.h"
#include "photo_log.h"


#define PHOTO_REDIS_TIMEOUT_S  5


redisContext *
photo_redis_connect(photo_config_t *cf)
{
    const char      *host;
    redisContext    *c;
    struct timeval   tv = { PHOTO_REDIS_TIMEOUT_S, 0 };

    host = photo_config_host(cf, redis_host);
    c = redisConnectWithTimeout(host, cf->redis_port, tv);

    if (c == NULL || c->err) {
        photo_log_error("redis %s:%d: %s", host, cf->redis_port,
                        c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }

    /* a reply that never comes is an error, not a hang */
    if (redisSetTimeout(c, tv) != REDIS_OK) {
        photo_log_error("redis: cannot set timeout: %s", c->errstr);
        redisFree(c);
        return NULL;
    }

    return c;
}


redisContext *
photo_redis_ensure(photo_config_t *cf, redisContext **rc)
{
    if (*rc != NULL && (*rc)->err == 0) {
        return *rc;
    }

    if (*rc != NULL) {
        photo_log_warn("redis: connection lost (%s), reconnecting",
                       (*rc)->errstr);
        redisFree(*rc);
    }

    *rc = photo_redis_connect(cf);

    return *rc;
}
