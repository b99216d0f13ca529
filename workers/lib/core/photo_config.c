/* Worker configuration. */

#include "photo_config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


typedef enum {
    PHOTO_CF_STR, PHOTO_CF_SERVERS, PHOTO_CF_PORT, PHOTO_CF_PORT_OFF,
    PHOTO_CF_COUNT, PHOTO_CF_LEVEL
} photo_cf_type_t;

typedef struct {
    const char       *key;
    photo_cf_type_t   type;
    size_t            offset;
    size_t            size;
} photo_cf_key_t;


#define photo_cf_field(type, field)                                          \
    type, offsetof(photo_config_t, field),                                   \
    sizeof(((photo_config_t *) 0)->field)


static const photo_cf_key_t  photo_cf_keys[] = {
    { "PHOTO_HOST", photo_cf_field(PHOTO_CF_STR, host) },
    { "PHOTO_PG_CONNINFO", photo_cf_field(PHOTO_CF_STR, pg_conninfo) },
    { "PHOTO_PG_HOST", photo_cf_field(PHOTO_CF_STR, pg_host) },
    { "PHOTO_PG_PORT", photo_cf_field(PHOTO_CF_PORT, pg_port) },
    { "PHOTO_PG_USER", photo_cf_field(PHOTO_CF_STR, pg_user) },
    { "PHOTO_PG_DB", photo_cf_field(PHOTO_CF_STR, pg_db) },
    { "PHOTO_REDIS_HOST", photo_cf_field(PHOTO_CF_STR, redis_host) },
    { "PHOTO_REDIS_PORT", photo_cf_field(PHOTO_CF_PORT, redis_port) },
    { "PHOTO_REDIS_CLUSTER_SERVERS",
      photo_cf_field(PHOTO_CF_SERVERS, redis_cluster) },
    { "PHOTO_MEMCACHED_SERVERS",
      photo_cf_field(PHOTO_CF_SERVERS, memcached_servers) },
    { "PHOTO_MEMCACHED_PORTS", photo_cf_field(PHOTO_CF_STR, memcached_ports) },
    { "PHOTO_GEARMAN_HOST", photo_cf_field(PHOTO_CF_STR, gearman_host) },
    { "PHOTO_GEARMAN_PORT", photo_cf_field(PHOTO_CF_PORT, gearman_port) },
    { "PHOTO_GEARMAN_SERVERS",
      photo_cf_field(PHOTO_CF_SERVERS, gearman_servers) },
    { "PHOTO_FEED_CAP", photo_cf_field(PHOTO_CF_COUNT, feed_cap) },
    { "PHOTO_SOLR_URL", photo_cf_field(PHOTO_CF_STR, solr_url) },
    { "PHOTO_INDEX_BATCH", photo_cf_field(PHOTO_CF_COUNT, index_batch) },
    { "PHOTO_INDEX_DELAY_MS", photo_cf_field(PHOTO_CF_COUNT, index_delay_ms) },
    { "PHOTO_PERSIST_BATCH", photo_cf_field(PHOTO_CF_COUNT, persist_batch) },
    { "PHOTO_FANOUT_INLINE", photo_cf_field(PHOTO_CF_COUNT, fanout_inline) },
    { "PHOTO_MEDIA_ROOT", photo_cf_field(PHOTO_CF_STR, media_root) },
    { "PHOTO_S3_URL", photo_cf_field(PHOTO_CF_STR, s3_url) },
    { "PHOTO_S3_REGION", photo_cf_field(PHOTO_CF_STR, s3_region) },
    { "PHOTO_S3_BUCKET", photo_cf_field(PHOTO_CF_STR, s3_bucket) },
    { "PHOTO_S3_ACCESS_KEY", photo_cf_field(PHOTO_CF_STR, s3_access_key) },
    { "PHOTO_S3_SECRET_KEY", photo_cf_field(PHOTO_CF_STR, s3_secret_key) },
    { "PHOTO_S3_STYLE", photo_cf_field(PHOTO_CF_STR, s3_style) },
    { "PHOTO_MEDIA_LINK_SECRET_FILE",
      photo_cf_field(PHOTO_CF_STR, media_link_secret_file) },
    { "PHOTO_LOG_LEVEL", photo_cf_field(PHOTO_CF_LEVEL, log_level) },
    { "PHOTO_SLOW_JOB_MS", photo_cf_field(PHOTO_CF_COUNT, slow_job_ms) },
    { "PHOTO_METRICS_HOST", photo_cf_field(PHOTO_CF_STR, metrics_host) },
    { "PHOTO_METRICS_PORT", photo_cf_field(PHOTO_CF_PORT_OFF, metrics_port) },
    { "PHOTO_METRICS_GEARMAN", photo_cf_field(PHOTO_CF_STR, metrics_gearman) },
    { "PHOTO_NOTIFY_ENABLED", photo_cf_field(PHOTO_CF_STR, notify_enabled) },
    { "PHOTO_NOTIFY_PHOTOS", photo_cf_field(PHOTO_CF_STR, notify_photos) },
    { "PHOTO_APNS_URL", photo_cf_field(PHOTO_CF_STR, apns_url) },
    { "PHOTO_APNS_KEY_FILE", photo_cf_field(PHOTO_CF_STR, apns_key_file) },
    { "PHOTO_APNS_KEY_ID", photo_cf_field(PHOTO_CF_STR, apns_key_id) },
    { "PHOTO_APNS_TEAM_ID", photo_cf_field(PHOTO_CF_STR, apns_team_id) },
    { "PHOTO_APNS_TOPIC", photo_cf_field(PHOTO_CF_STR, apns_topic) },
    { "PHOTO_APNS_CA_FILE", photo_cf_field(PHOTO_CF_STR, apns_ca_file) },
    { "PHOTO_FCM_URL", photo_cf_field(PHOTO_CF_STR, fcm_url) },
    { "PHOTO_FCM_KEY_FILE", photo_cf_field(PHOTO_CF_STR, fcm_key_file) },
    { "PHOTO_FCM_CA_FILE", photo_cf_field(PHOTO_CF_STR, fcm_ca_file) },
    { "PHOTO_LINK_KEY_FILE", photo_cf_field(PHOTO_CF_STR, link_key_file) },
    { "PHOTO_PUBLIC_URL", photo_cf_field(PHOTO_CF_STR, public_url) },
    { "PHOTO_TWITTER_URL", photo_cf_field(PHOTO_CF_STR, twitter_url) },
    { "PHOTO_TWITTER_CONSUMER_KEY",
      photo_cf_field(PHOTO_CF_STR, twitter_consumer_key) },
    { "PHOTO_TWITTER_CONSUMER_SECRET",
      photo_cf_field(PHOTO_CF_STR, twitter_consumer_secret) },
    { "PHOTO_FACEBOOK_URL", photo_cf_field(PHOTO_CF_STR, facebook_url) },
    { "PHOTO_SHARE_CA_FILE", photo_cf_field(PHOTO_CF_STR, share_ca_file) },
    { NULL, PHOTO_CF_STR, 0, 0 }
};


void
photo_config_defaults(photo_config_t *cf)
{
    memset(cf, 0, sizeof(*cf));

    snprintf(cf->host, sizeof(cf->host), "127.0.0.1");
    snprintf(cf->pg_user, sizeof(cf->pg_user), "photo");
    snprintf(cf->pg_db, sizeof(cf->pg_db), "photo");
    snprintf(cf->memcached_ports, sizeof(cf->memcached_ports), "11211");
    snprintf(cf->metrics_host, sizeof(cf->metrics_host), "127.0.0.1");
    snprintf(cf->twitter_url, sizeof(cf->twitter_url),
             "https://api.twitter.com");
    snprintf(cf->facebook_url, sizeof(cf->facebook_url),
             "https://graph.facebook.com/v19.0");
    snprintf(cf->s3_region, sizeof(cf->s3_region), "us-east-1");
    snprintf(cf->s3_bucket, sizeof(cf->s3_bucket), "photo");
    snprintf(cf->s3_style, sizeof(cf->s3_style), "path");
    cf->pg_port = 5432;
    cf->redis_port = 6379;
    cf->gearman_port = 4730;
    cf->feed_cap = PHOTO_FEED_CAP_DEFAULT;
    cf->index_batch = 100;
    cf->index_delay_ms = 200;
    cf->persist_batch = 32;
    cf->fanout_inline = 1000;
    cf->log_level = PHOTO_LOG_INFO;
    cf->slow_job_ms = 1000;
}


static int
photo_config_set(photo_config_t *cf, const photo_cf_key_t *k,
    const char *value, const char *from, char *err, size_t errlen)
{
    int          port;
    char        *end, *field;
    long         n;
    size_t       len;
    const char  *p, *host;

    field = (char *) cf + k->offset;

    switch (k->type) {

    case PHOTO_CF_SERVERS:
        p = value;

        while ((n = photo_config_server_next(&p, &host, &len, &port, 1))
               == 1)
        { /* void */ }

        if (n == -1) {
            snprintf(err, errlen, "%s: %s: \"%.*s\" is not host[:port]",
                     from, k->key, (int) strcspn(p, PHOTO_CONFIG_SEP), p);
            return -1;
        }

        /* fall through */

    case PHOTO_CF_STR:
        if (strlen(value) >= k->size) {
            snprintf(err, errlen, "%s: %s is too long", from, k->key);
            return -1;
        }

        memcpy(field, value, strlen(value) + 1);
        return 0;

    case PHOTO_CF_PORT:
    case PHOTO_CF_PORT_OFF:
        if (k->type == PHOTO_CF_PORT_OFF && value[0] == '\0') {
            *(int *) field = 0;                         /* unset: none */
            return 0;
        }

        errno = 0;
        n = strtol(value, &end, 10);
        if (errno || end == value || *end != '\0' || n > 65535
            || n < (k->type == PHOTO_CF_PORT_OFF ? 0 : 1))
        {
            snprintf(err, errlen, "%s: %s=\"%s\" is not a port (%s-65535)",
                     from, k->key, value,
                     k->type == PHOTO_CF_PORT_OFF ? "0 for none, 1" : "1");
            return -1;
        }

        *(int *) field = (int) n;
        return 0;

    case PHOTO_CF_COUNT:
        errno = 0;
        n = strtol(value, &end, 10);
        if (errno || end == value || *end != '\0' || n < 1
            || n > PHOTO_CONFIG_COUNT_MAX)
        {
            snprintf(err, errlen, "%s: %s=\"%s\" is not a count (1-%d)",
                     from, k->key, value, PHOTO_CONFIG_COUNT_MAX);
            return -1;
        }

        *(int *) field = (int) n;
        return 0;

    case PHOTO_CF_LEVEL:
        if (photo_log_level_parse(value, (photo_log_level_t *) field) != 0) {
            snprintf(err, errlen, "%s: %s=\"%s\" is not one of "
                     "error, warn, info, debug", from, k->key, value);
            return -1;
        }

        return 0;
    }

    return -1;
}


int
photo_config_load_env(photo_config_t *cf, char *err, size_t errlen)
{
    const char            *v;
    const photo_cf_key_t  *k;

    for (k = photo_cf_keys; k->key; k++) {
        v = getenv(k->key);
        if (v != NULL && photo_config_set(cf, k, v, "environment", err,
                                          errlen) != 0)
        {
            return -1;
        }
    }

    return 0;
}


int
photo_config_load_file(photo_config_t *cf, const char *path, char *err,
    size_t errlen)
{
    int                    lineno, rc;
    char                   line[1024], from[PHOTO_CONFIG_STR + 32], *p, *eq;
    FILE                  *f;
    size_t                 len;
    const photo_cf_key_t  *k;

    f = fopen(path, "r");
    if (f == NULL) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }

    rc = 0;
    lineno = 0;

    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        snprintf(from, sizeof(from), "%.*s:%d", PHOTO_CONFIG_STR, path,
                 lineno);

        len = strcspn(line, "\r\n");
        line[len] = '\0';

        for (p = line; *p == ' ' || *p == '\t'; p++) { /* void */ }

        if (*p == '\0' || *p == '#') {
            continue;
        }

        eq = strchr(p, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "%s: expected KEY=VALUE", from);
            rc = -1;
            break;
        }

        *eq = '\0';

        for (k = photo_cf_keys; k->key; k++) {
            if (strcmp(k->key, p) == 0) {
                break;
            }
        }

        if (k->key == NULL) {
            snprintf(err, errlen, "%s: unknown key \"%s\"", from, p);
            rc = -1;
            break;
        }

        rc = photo_config_set(cf, k, eq + 1, from, err, errlen);
    }

    fclose(f);

    return rc;
}


const char *
photo_config_pg_conninfo(photo_config_t *cf)
{
    if (cf->pg_conninfo[0] == '\0') {
        snprintf(cf->pg_conninfo, sizeof(cf->pg_conninfo),
                 "host=%s port=%d user=%s dbname=%s connect_timeout=5",
                 photo_config_host(cf, pg_host), cf->pg_port, cf->pg_user,
                 cf->pg_db);
    }

    return cf->pg_conninfo;
}


const char *
photo_config_memcached_servers(const photo_config_t *cf, char *buf,
    size_t size)
{
    int          v6;
    size_t       n, len;
    const char  *port;

    if (cf->memcached_servers[0] != '\0') {
        return cf->memcached_servers;
    }

    /* an IPv6 address is written in brackets, as in nginx.conf */
    v6 = strchr(cf->host, ':') != NULL;
    n = 0;
    buf[0] = '\0';

    for (port = cf->memcached_ports; *port; port += len) {
        port += strspn(port, PHOTO_CONFIG_SEP);
        len = strcspn(port, PHOTO_CONFIG_SEP);

        if (len == 0) {
            break;
        }

        n += (size_t) snprintf(buf + n, size - n, "%s%s%s%s:%.*s",
                               n ? " " : "", v6 ? "[" : "", cf->host,
                               v6 ? "]" : "", (int) len, port);
        if (n >= size) {
            return NULL;
        }
    }

    return buf;
}


int
photo_config_server_next(const char **p, const char **host, size_t *len,
    int *port, int default_port)
{
    long         n;
    char        *end;
    const char  *s, *h, *rest;

    s = *p + strspn(*p, PHOTO_CONFIG_SEP);
    *p = s;

    if (*s == '\0') {
        return 0;
    }

    if (*s == '[') {
        h = s + 1;
        rest = strchr(h, ']');
        if (rest == NULL || rest == h
            || strcspn(h, PHOTO_CONFIG_SEP) < (size_t) (rest - h))
        {
            return -1;
        }

        *len = (size_t) (rest - h);
        rest++;

    } else {
        h = s;
        *len = strcspn(h, PHOTO_CONFIG_SEP ":");
        rest = h + *len;

        if (*len == 0) {
            return -1;
        }
    }

    if (*rest == ':') {
        /* digits only: strtol would take a sign or spaces */
        if (rest[1] < '0' || rest[1] > '9') {
            return -1;
        }

        n = strtol(rest + 1, &end, 10);
        if (n < 1 || n > 65535) {
            return -1;
        }

        rest = end;

    } else {
        n = default_port;
    }

    if (*rest != '\0' && strchr(PHOTO_CONFIG_SEP, *rest) == NULL) {
        return -1;
    }

    *host = h;
    *port = (int) n;
    *p = rest;

    return 1;
}
