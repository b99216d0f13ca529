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
#define PHOTO_CONFIG_LIST  (4 * PHOTO_CONFIG_STR)
#define PHOTO_CONFIG_SEP   " ,"    /* between the items of a list */
#define PHOTO_CONFIG_COUNT_MAX  1000000   /* PHOTO_FEED_CAP and the like */

/*
 * Each backend has a host of its own, as nginx.conf gives each its own
 * address; one left unset is PHOTO_HOST's (photo_config_host()), so that a
 * stack on one machine needs PHOTO_HOST only.
 */
typedef struct {
    char               host[PHOTO_CONFIG_STR];           /* PHOTO_HOST */
    char               pg_conninfo[PHOTO_CONFIG_LIST];   /* PHOTO_PG_CONNINFO,
                                                            or built from: */
    char               pg_host[PHOTO_CONFIG_STR];        /* PHOTO_PG_HOST */
    int                pg_port;                          /* PHOTO_PG_PORT */
    char               pg_user[PHOTO_CONFIG_STR];        /* PHOTO_PG_USER */
    char               pg_db[PHOTO_CONFIG_STR];          /* PHOTO_PG_DB */
    char               redis_host[PHOTO_CONFIG_STR];     /* PHOTO_REDIS_HOST */
    int                redis_port;                       /* PHOTO_REDIS_PORT */
    /* PHOTO_REDIS_CLUSTER_SERVERS: "host:port ...", seed nodes of a Redis
       Cluster, used instead of the one above; "" = that one (photo_redis.h) */
    char               redis_cluster[PHOTO_CONFIG_LIST];
    /* PHOTO_MEMCACHED_SERVERS: "host[:port] ...", as nginx.conf's
       photo_memcached; "" = PHOTO_HOST with each of PHOTO_MEMCACHED_PORTS */
    char               memcached_servers[PHOTO_CONFIG_LIST];
    char               memcached_ports[PHOTO_CONFIG_STR];/* PHOTO_MEMCACHED_PORTS */
    char               gearman_host[PHOTO_CONFIG_STR];   /* PHOTO_GEARMAN_HOST */
    int                gearman_port;                     /* PHOTO_GEARMAN_PORT */
    /* PHOTO_GEARMAN_SERVERS: "host[:port] ...", as nginx.conf's
       photo_gearman, in its order; "" = PHOTO_GEARMAN_HOST's one */
    char               gearman_servers[PHOTO_CONFIG_LIST];
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
    /* the bucket of the uploads and their sized copies (photo_media) */
    char               s3_url[PHOTO_CONFIG_STR];         /* PHOTO_S3_URL:
                                                            the endpoint,
                                                            http(s)://host
                                                            [:port]; "" =
                                                            no media jobs */
    char               s3_region[PHOTO_CONFIG_STR];      /* PHOTO_S3_REGION */
    char               s3_bucket[PHOTO_CONFIG_STR];      /* PHOTO_S3_BUCKET */
    char               s3_access_key[PHOTO_CONFIG_STR];  /* PHOTO_S3_ACCESS_KEY */
    char               s3_secret_key[PHOTO_CONFIG_STR];  /* PHOTO_S3_SECRET_KEY */
    char               s3_style[16];                     /* PHOTO_S3_STYLE:
                                                            "path" or
                                                            "virtual" (the
                                                            bucket in the
                                                            host name) */
    char               media_link_secret_file[PHOTO_CONFIG_STR];
                                          /* PHOTO_MEDIA_LINK_SECRET_FILE:
                                             nginx's
                                             photo_media_link_secret_file:
                                             the objects' links signed
                                             (photo_media.h); "" = not */
    photo_log_level_t  log_level;                        /* PHOTO_LOG_LEVEL */
    int                slow_job_ms;                      /* PHOTO_SLOW_JOB_MS:
                                                            a job that took
                                                            longer is logged */

    /* the metrics endpoint (photo_metrics_http.h) */
    char               metrics_host[PHOTO_CONFIG_STR];   /* PHOTO_METRICS_HOST */
    int                metrics_port;                     /* PHOTO_METRICS_PORT:
                                                            0 = none */
    char               metrics_gearman[8];               /* PHOTO_METRICS_GEARMAN:
                                                            "1" = gearmand's
                                                            queue too */

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

    /* sharing to Twitter and Facebook (photo_share) */
    char               link_key_file[PHOTO_CONFIG_STR];  /* PHOTO_LINK_KEY_FILE:
                                                            nginx's
                                                            photo_link_key_file
                                                            (photo_secret.h) */
    char               public_url[PHOTO_CONFIG_STR];     /* PHOTO_PUBLIC_URL:
                                                            + image_url = the
                                                            photo's address */
    char               twitter_url[PHOTO_CONFIG_STR];    /* PHOTO_TWITTER_URL */
    char               twitter_consumer_key[PHOTO_CONFIG_STR];
                                               /* PHOTO_TWITTER_CONSUMER_KEY */
    char               twitter_consumer_secret[PHOTO_CONFIG_STR];
                                            /* PHOTO_TWITTER_CONSUMER_SECRET */
    char               facebook_url[PHOTO_CONFIG_STR];   /* PHOTO_FACEBOOK_URL */
    char               share_ca_file[PHOTO_CONFIG_STR];  /* PHOTO_SHARE_CA_FILE */
} photo_config_t;

void photo_config_defaults(photo_config_t *cf);

/* 0 on success; -1 with a message naming the key and where it came from. */
int photo_config_load_file(photo_config_t *cf, const char *path,
    char *err, size_t errlen);
int photo_config_load_env(photo_config_t *cf, char *err, size_t errlen);

/* the libpq conninfo: PHOTO_PG_CONNINFO as given, or built from the parts */
const char *photo_config_pg_conninfo(photo_config_t *cf);

/* a backend's host (pg_host, redis_host, gearman_host), else PHOTO_HOST */
#define photo_config_host(cf, backend)                                       \
    ((cf)->backend[0] ? (cf)->backend : (cf)->host)

/*
 * The memcached servers as nginx.conf lists them, in its order:
 * PHOTO_MEMCACHED_SERVERS, or PHOTO_HOST with each of PHOTO_MEMCACHED_PORTS
 * (written into buf).  NULL when that does not fit in size.
 */
const char *photo_config_memcached_servers(const photo_config_t *cf,
    char *buf, size_t size);

/*
 * The next server of such a list (spaces or commas between) at *p:
 * "host[:port]", an IPv6 address in brackets ("[::1]:11211", the host
 * then given without them), port default_port when not given.  1 with
 * host[0..len) and port set, and *p past it; 0 at the end of the list;
 * -1 when it is not host[:port] (*p then at it).
 */
int photo_config_server_next(const char **p, const char **host, size_t *len,
    int *port, int default_port);

#endif /* PHOTO_CONFIG_H */
