/*
 * Ids as text, the one rule of both sides: the decimal form of URLs, JSON
 * payloads, session tokens and SQL parameters, and the zero-padded form
 * of Redis list members (photo_contract.h: padded, lexical order is id
 * order).
 *
 * An id is 1 to PHOTO_ID_MAX_DIGITS decimal digits and nothing else (no
 * sign, no spaces), of value 1 to INT64_MAX.  Leading zeros are accepted:
 * the padded form of a list member reads with the same function, and
 * "/v1/photos/042" has always been photo 42.  So an id has more than one
 * spelling on the way in; on the way out it is always photo_id_format()'s
 * (or photo_id_pad()'s in a list).
 *
 * Plain C (no nginx, no libc types beyond stdint and stddef): the module
 * and the workers compile it.
 */

#ifndef PHOTO_ID_H
#define PHOTO_ID_H

#include <stddef.h>
#include <stdint.h>

#include "photo_contract.h"

#define PHOTO_ID_BUF  (PHOTO_ID_MAX_DIGITS + 2)   /* a sign and the NUL */

/* s[0..len) as an id; 0, or -1 when it is not one (*id unchanged) */
int photo_id_parse(const char *s, size_t len, int64_t *id);

/* decimal, NUL-terminated; returns the length */
size_t photo_id_format(char buf[PHOTO_ID_BUF], int64_t id);

/*
 * A list member: exactly PHOTO_ID_MAX_DIGITS digits, zero-padded, with no
 * NUL after them (id >= 0: 0 is PHOTO_LIST_COMPLETE); returns
 * PHOTO_ID_MAX_DIGITS.
 */
size_t photo_id_pad(char *buf, int64_t id);

#endif /* PHOTO_ID_H */
