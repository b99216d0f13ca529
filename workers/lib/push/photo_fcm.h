/*
 * Firebase Cloud Messaging, HTTP v1 API: messages:send with an OAuth 2.0
 * access token that the service account's key obtains from Google's token
 * endpoint (an RS256 JWT assertion, RFC 7523), kept until it expires.
 */

#ifndef PHOTO_FCM_H
#define PHOTO_FCM_H

#include <stddef.h>

#include "photo_push.h"

typedef struct {
    const char  *url;           /* PHOTO_FCM_URL: https://fcm.googleapis.com */
    const char  *key_file;      /* PHOTO_FCM_KEY_FILE: the service account's
                                   JSON key (client_email, private_key,
                                   token_uri, project_id) */
    const char  *ca_file;       /* PHOTO_FCM_CA_FILE, or NULL: the system's */
} photo_fcm_conf_t;

typedef struct photo_fcm_s  photo_fcm_t;

/* NULL (logged) when the key file is missing a field or unreadable */
photo_fcm_t *photo_fcm_create(const photo_fcm_conf_t *conf);
void photo_fcm_free(photo_fcm_t *f);

/* msg to res[i].token for each i, on one kept-alive connection */
void photo_fcm_send(photo_fcm_t *f, const photo_push_msg_t *msg,
    photo_push_result_t *res, size_t n);

#endif /* PHOTO_FCM_H */
