/* Ids as text (see photo_id.h). */

#include "photo_id.h"

#include <inttypes.h>
#include <stdio.h>


int
photo_id_parse(const char *s, size_t len, int64_t *id)
{
    size_t    i;
    uint64_t  n;

    /* no sign, no spaces, no leading zero: one spelling per id */
    if (len == 0 || len > PHOTO_ID_MAX_DIGITS || s[0] == '0') {
        return -1;
    }

    n = 0;

    for (i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }

        n = n * 10 + (uint64_t) (s[i] - '0');   /* 19 digits fit in 2^64 */
    }

    if (n > INT64_MAX) {
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


void
photo_id_pad(char buf[PHOTO_ID_BUF], int64_t id)
{
    snprintf(buf, PHOTO_ID_BUF, "%0*" PRId64, PHOTO_ID_MAX_DIGITS, id);
}
