/*
 * Twitter's API v2, POST /2/tweets, on behalf of a user: OAuth 1.0a
 * (HMAC-SHA1, by liboauth) with the app's consumer key and the user's
 * access token.  The body is JSON, which is not part of the signature
 * base string (Twitter signs only the method, the URL, its query and the
 * oauth_* parameters then).
 */

#ifndef PHOTO_TWITTER_H
#define PHOTO_TWITTER_H

#include "photo_share_client.h"

#define PHOTO_TWITTER_MAX_WEIGHT  280   /* a tweet's text, weighed as
                                           Twitter does (a CJK character
                                           2, a link 23: photo_twitter.c) */
#define PHOTO_TWITTER_URL_WEIGHT  23    /* any link, shortened by t.co */

typedef struct {
    const char  *url;               /* PHOTO_TWITTER_URL:
                                       https://api.twitter.com */
    const char  *consumer_key;      /* PHOTO_TWITTER_CONSUMER_KEY */
    const char  *consumer_secret;   /* PHOTO_TWITTER_CONSUMER_SECRET */
    const char  *ca_file;           /* PHOTO_SHARE_CA_FILE, or NULL */
} photo_twitter_conf_t;

typedef struct photo_twitter_s  photo_twitter_t;

/* NULL (logged) when out of memory */
photo_twitter_t *photo_twitter_create(const photo_twitter_conf_t *conf);
void photo_twitter_free(photo_twitter_t *t);

/*
 * A tweet "<caption> <photo_url>", the caption cut (between characters,
 * with an ellipsis) so that the text fits PHOTO_TWITTER_MAX_WEIGHT, as the
 * user of token / token_secret; what became of it in *res.
 */
void photo_twitter_post(photo_twitter_t *t, const char *token,
    const char *token_secret, const char *caption, const char *photo_url,
    photo_share_result_t *res);

/* the text of such a tweet, malloc'd (tests call it too) */
char *photo_twitter_text(const char *caption, const char *photo_url);

#endif /* PHOTO_TWITTER_H */
