/* Ids as text (see photo_id.h). */

#include "photo_id.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>


int
photo_id_parse(const char *s, size_t len, int64_t *id)
{
    size_t    i;
    uint64_t  n;

    if (len == 0 || len > PHOTO_ID_MAX_DIGITS) {
        return -1;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        n = n * 10 + (uint64_t) (s[i] - '0');   /* 19 digits fit in 2^64 */
    }

    /* zero is no id (it is the complete-list marker), and 19 digits may
       still exceed INT64_MAX */
    if (n == 0 || n > INT64_MAX) {
        return -1;
    }

    *id = (int64_t) n;

    return 0;
}


size_t
photo_id_format(char buf[PHOTO_ID_BUF], int64_t id)
{
    return (size_t) snprintf(buf, PHOTO_ID_BUF, "%" PRId64, id);
}


size_t
photo_id_pad(char *buf, int64_t id)
{
    char  padded[PHOTO_ID_BUF];

    /* the list's buffers have no room for snprintf's NUL */
    snprintf(padded, sizeof(padded), "%0*" PRId64, PHOTO_ID_MAX_DIGITS, id);
    memcpy(buf, padded, PHOTO_ID_MAX_DIGITS);

    return PHOTO_ID_MAX_DIGITS;
}
