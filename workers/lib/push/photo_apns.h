/*
 * Apple Push Notification service over HTTP/2 (libcurl with nghttp2):
 * one connection, kept between jobs, with every request of a batch
 * multiplexed on it; token-based authentication (an ES256 provider token,
 * renewed well before Apple's one-hour limit).
 */

#ifndef PHOTO_APNS_H
#define PHOTO_APNS_H

#include <stddef.h>

#include "photo_push.h"

typedef struct {
    const char  *url;           /* PHOTO_APNS_URL: https://api.push.apple.com */
    const char  *key_file;      /* PHOTO_APNS_KEY_FILE: the team's .p8 */
    const char  *key_id;        /* PHOTO_APNS_KEY_ID */
    const char  *team_id;       /* PHOTO_APNS_TEAM_ID */
    const char  *topic;         /* PHOTO_APNS_TOPIC: the app's bundle id */
    const char  *ca_file;       /* PHOTO_APNS_CA_FILE, or NULL: the system's */
} photo_apns_conf_t;

typedef struct photo_apns_s  photo_apns_t;

/* NULL (logged) when the key cannot be loaded or a setting is missing */
photo_apns_t *photo_apns_create(const photo_apns_conf_t *conf);
void photo_apns_free(photo_apns_t *a);

/* msg to res[i].token for each i, all at once; fills each res[i] */
void photo_apns_send(photo_apns_t *a, const photo_push_msg_t *msg,
    photo_push_result_t *res, size_t n);

#endif /* PHOTO_APNS_H */
