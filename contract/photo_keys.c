/* Tagged Redis keys (photo_keys.h). */

#include "photo_keys.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>


int
photo_key_list(char *buf, size_t size, const char *prefix, int64_t owner)
{
    int  n;

    n = snprintf(buf, size, "%s{%" PRId64 "}", prefix, owner);

    return (n < 0 || (size_t) n >= size) ? -1 : n;
}


int
photo_key_session(char *buf, size_t size, const char *token, size_t len)
{
    size_t  k, pre, need;

    /* the user id: 1 to 19 digits, then the separator */
    for (k = 0; k < len && k <= PHOTO_ID_MAX_DIGITS
                && token[k] >= '0' && token[k] <= '9'; k++)
    {
        /* void */
    }

    pre = sizeof(PHOTO_REDIS_SESSION) - 1;

    if (k == 0 || k > PHOTO_ID_MAX_DIGITS || k == len
        || token[k] != PHOTO_SESSION_TOKEN_SEP)
    {
        if (pre + len >= size) {
            return -1;
        }

        memcpy(buf, PHOTO_REDIS_SESSION, pre);
        memcpy(buf + pre, token, len);
        buf[pre + len] = '\0';

        return (int) (pre + len);
    }

    need = pre + 1 + k + 1 + (len - k);

    if (need >= size) {
        return -1;
    }

    memcpy(buf, PHOTO_REDIS_SESSION, pre);
    buf[pre] = '{';
    memcpy(buf + pre + 1, token, k);
    buf[pre + 1 + k] = '}';
    memcpy(buf + pre + 2 + k, token + k, len - k);
    buf[need] = '\0';

    return (int) need;
}
