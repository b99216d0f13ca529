/*
 * Worker configuration: defaults, then a KEY=VALUE file (--config), then the
 * environment. The keys are those of conf/stack.env, so a worker started by
 * scripts/stack finds every backend without any flag.
 */

#ifndef PHOTO_CONFIG_H
#define PHOTO_CONFIG_H

#include <stddef.h>

#include "photo_log.h"
#include "photo_contract.h"

#define PHOTO_CONFIG_STR  256
#define PHOTO_CONFIG_COUNT_MAX  1000000   /* PHOTO_FEED_CAP and the like */

typedef struct {
    char               host[PHOTO_CONFIG_STR];           /* PHOTO_HOST */
    char               pg_conninfo[4 * PHOTO_CONFIG_STR];/* PHOTO_PG_CONNINFO,
                                                            or built from: */
    int                pg_port;                          /* PHOTO_PG_PORT */
    char               pg_user[PHOTO_CONFIG_STR];        /* PHOTO_PG_USER */
    char               pg_db[PHOTO_CONFIG_STR];          /* PHOTO_PG_DB */
    int                redis_port;                       /* PHOTO_REDIS_PORT */
    char               memcached_ports[PHOTO_CONFIG_STR];/* PHOTO_MEMCACHED_PORTS */
    int                gearman_port;                     /* PHOTO_GEARMAN_PORT */
    int                feed_cap;                         /* PHOTO_FEED_CAP */
    photo_log_level_t  log_level;                        /* PHOTO_LOG_LEVEL */
} photo_config_t;

void photo_config_defaults(photo_config_t *cf);

/* 0 on success; -1 with a message naming the key and where it came from. */
int photo_config_load_file(photo_config_t *cf, const char *path,
    char *err, size_t errlen);
int photo_config_load_env(photo_config_t *cf, char *err, size_t errlen);

/* the libpq conninfo: PHOTO_PG_CONNINFO as given, or built from the parts */
const char *photo_config_pg_conninfo(photo_config_t *cf);

#endif /* PHOTO_CONFIG_H */
