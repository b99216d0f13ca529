
/*
 * A write's JSON body read strictly, beyond what yajl checks: an object or
 * an array with nothing but white space after it (yajl takes an
 * unterminated string there), no comments, no string
 * (value or member name) holds U+0000, no \u escape is half of a surrogate
 * pair without its other half, every string is valid UTF-8 (RFC 3629: no
 * overlong form, no surrogate), and no object gives a name twice, at any
 * depth.  yajl's tree turns the first two into other characters without a
 * word, takes the third as it comes, and keeps both members of the last.
 *
 * One pass of yajl's callback parser: strings are checked as yajl hands
 * them over (decoded), the \u escapes on the raw token, which yajl has just
 * lexed; member names are kept and compared at the end.  Plain C with yajl
 * and no nginx headers, so that it can be unit-tested and fuzzed on its own.
 */

#ifndef _NGX_PHOTO_JSON_STRICT_H_INCLUDED_
#define _NGX_PHOTO_JSON_STRICT_H_INCLUDED_


#include <stddef.h>


#define NGX_PHOTO_STRICT_NAME_MAX  64   /* bytes of a name kept for errors */


typedef enum {
    NGX_PHOTO_STRICT_OK = 0,
    NGX_PHOTO_STRICT_NUL,           /* a string holds U+0000 */
    NGX_PHOTO_STRICT_SURROGATE,     /* a \u escape of half a pair */
    NGX_PHOTO_STRICT_UTF8,          /* a string is not valid UTF-8 */
    NGX_PHOTO_STRICT_DUPLICATE,     /* an object gives a name twice */
    NGX_PHOTO_STRICT_INVALID,       /* not JSON, or not an object or an
                                       array, or a comment */
    NGX_PHOTO_STRICT_NOMEM
} ngx_photo_strict_rc_e;


/*
 * Where the problem is: in a member name itself (in_name), or in the value
 * of the innermost member named "name" (has_name; the values of a
 * top-level array have none).  For a duplicate, name is the name given twice.  name is cut at
 * NGX_PHOTO_STRICT_NAME_MAX bytes, on a character's boundary.
 */
typedef struct {
    int                         in_name;
    int                         has_name;
    size_t                      name_len;
    char                        name[NGX_PHOTO_STRICT_NAME_MAX];
} ngx_photo_strict_t;


ngx_photo_strict_rc_e ngx_photo_json_strict(const unsigned char *json,
    size_t len, ngx_photo_strict_t *where);


#endif /* _NGX_PHOTO_JSON_STRICT_H_INCLUDED_ */
