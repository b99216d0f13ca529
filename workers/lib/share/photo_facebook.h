/*
 * Facebook's Graph API, POST /{page-id}/photos: a photo by its URL, with
 * a caption, on the page the user linked, with the page's access token
 * (application/x-www-form-urlencoded).
 */

#ifndef PHOTO_FACEBOOK_H
#define PHOTO_FACEBOOK_H

#include "photo_share_client.h"

/* how long to wait after a rate limit that came without Retry-After */
#define PHOTO_FACEBOOK_RATE_WAIT  5             /* seconds */

typedef struct {
    const char  *url;           /* PHOTO_FACEBOOK_URL:
                                   https://graph.facebook.com/v19.0 */
    const char  *ca_file;       /* PHOTO_SHARE_CA_FILE, or NULL */
} photo_facebook_conf_t;

typedef struct photo_facebook_s  photo_facebook_t;

/* NULL (logged) when out of memory */
photo_facebook_t *photo_facebook_create(const photo_facebook_conf_t *conf);
void photo_facebook_free(photo_facebook_t *f);

/* the photo at photo_url, with caption, onto page_id; *res says how */
void photo_facebook_post(photo_facebook_t *f, const char *page_id,
    const char *access_token, const char *photo_url, const char *caption,
    photo_share_result_t *res);

#endif /* PHOTO_FACEBOOK_H */
