/*
 * Redis keys that carry a hash tag, built alike by the module and the
 * workers (photo_contract.h names the prefixes).  A user's feed, own photos
 * and sessions share the tag {<user id>}: with Redis Cluster they are in
 * one slot, so a feed read (the session, the list's marker, the page) is
 * one round trip to one node.
 */

#ifndef PHOTO_KEYS_H
#define PHOTO_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "photo_contract.h"


/* room for any key these build */
#define PHOTO_KEY_MAX            (32 + PHOTO_SESSION_TOKEN_MAX)


/*
 * "<prefix>{<owner>}": PHOTO_REDIS_FEED or PHOTO_REDIS_USER_PHOTOS and a
 * user id.  The length written (a NUL after it), or -1 when size is short.
 */
int photo_key_list(char *buf, size_t size, const char *prefix,
    int64_t owner);

/*
 * A session's key: "session:{<user id>}-<rest>" for a token
 * "<user id>-<rest>" (PHOTO_SESSION_TOKEN_SEP), the token with its user's
 * id in braces; "session:<token>" for a token that begins otherwise (no
 * session is ever stored so: such a token finds none).  The length
 * written (a NUL after it), or -1 when size is short.
 */
int photo_key_session(char *buf, size_t size, const char *token,
    size_t len);


#endif /* PHOTO_KEYS_H */
