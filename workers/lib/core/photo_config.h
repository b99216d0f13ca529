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
    char               solr_url[PHOTO_CONFIG_STR];       /* PHOTO_SOLR_URL: the
                                                            core, e.g.
                                                            http://h:8983/solr/photos;
                                                            "" = no index */
    int                index_batch;                      /* PHOTO_INDEX_BATCH:
                                                            documents per
                                                            Solr update */
    int                index_delay_ms;                   /* PHOTO_INDEX_DELAY_MS:
                                                            the longest a
                                                            document waits for
                                                            its batch */
    int                persist_batch;                    /* PHOTO_PERSIST_BATCH:
                                                            posts a persist
                                                            worker holds and
                                                            stores at once */
    int                fanout_inline;                    /* PHOTO_FANOUT_INLINE:
                                                            followers the
                                                            persist worker
                                                            fans out itself */
    char               media_root[PHOTO_CONFIG_STR];     /* PHOTO_MEDIA_ROOT:
                                                            nginx's
                                                            photo_media_root,
                                                            where this worker
                                                            sees it; "" =
                                                            files are left */
    photo_log_level_t  log_level;                        /* PHOTO_LOG_LEVEL */

    /* push notifications (photo_notify; see photo_notify_event.h) */
    char               notify_enabled[8];                /* PHOTO_NOTIFY_ENABLED */
    char               notify_photos[8];                 /* PHOTO_NOTIFY_PHOTOS */
    char               apns_url[PHOTO_CONFIG_STR];       /* PHOTO_APNS_URL */
    char               apns_key_file[PHOTO_CONFIG_STR];  /* PHOTO_APNS_KEY_FILE */
    char               apns_key_id[PHOTO_CONFIG_STR];    /* PHOTO_APNS_KEY_ID */
    char               apns_team_id[PHOTO_CONFIG_STR];   /* PHOTO_APNS_TEAM_ID */
    char               apns_topic[PHOTO_CONFIG_STR];     /* PHOTO_APNS_TOPIC */
    char               apns_ca_file[PHOTO_CONFIG_STR];   /* PHOTO_APNS_CA_FILE */
    char               fcm_url[PHOTO_CONFIG_STR];        /* PHOTO_FCM_URL */
    char               fcm_key_file[PHOTO_CONFIG_STR];   /* PHOTO_FCM_KEY_FILE */
    char               fcm_ca_file[PHOTO_CONFIG_STR];    /* PHOTO_FCM_CA_FILE */
} photo_config_t;

void photo_config_defaults(photo_config_t *cf);

/* 0 on success; -1 with a message naming the key and where it came from. */
int photo_config_load_file(photo_config_t *cf, const char *path,
    char *err, size_t errlen);
int photo_config_load_env(photo_config_t *cf, char *err, size_t errlen);

/* the libpq conninfo: PHOTO_PG_CONNINFO as given, or built from the parts */
const char *photo_config_pg_conninfo(photo_config_t *cf);

#endif /* PHOTO_CONFIG_H */
