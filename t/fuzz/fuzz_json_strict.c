
/*
 * libFuzzer target for the strict JSON reading.
 *
 * The input is the body.  The verdict is checked against what is found
 * another way: yajl's tree (syntax, and names given twice, by walking the
 * objects) and a plain walk over the text's strings (\u escapes: U+0000
 * and the surrogate halves; raw bytes: UTF-8 by decoding each character).
 * The body is copied to an allocation of its exact size, so that a read
 * past its end shows under ASan.
 */

#include "ngx_photo_json_strict.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_tree.h>


#define f_check(cond)                                                        \
    if (!(cond)) {                                                           \
        fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);           \
        abort();                                                             \
    }


typedef struct {
    int              nul;           /* a \u0000 */
    int              surrogate;     /* a half with no other half */
    int              utf8;          /* raw bytes that are not UTF-8 */
} f_scan_t;


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);


/* one character of raw UTF-8 at p: its length, or 0 if it is not UTF-8 */

static size_t
f_utf8_char(const uint8_t *p, const uint8_t *end)
{
    size_t    n, i;
    uint32_t  c;

    if (p[0] < 0x80) {
        return 1;
    }

    n = (p[0] & 0xe0) == 0xc0 ? 2 : (p[0] & 0xf0) == 0xe0 ? 3
        : (p[0] & 0xf8) == 0xf0 ? 4 : 0;

    if (n == 0 || (size_t) (end - p) < n) {
        return 0;
    }

    c = p[0] & (0x7f >> n);

    for (i = 1; i < n; i++) {
        if ((p[i] & 0xc0) != 0x80) {
            return 0;
        }

        c = c << 6 | (p[i] & 0x3f);
    }

    if ((n == 2 && c < 0x80) || (n == 3 && c < 0x800)
        || (n == 4 && c < 0x10000) || c > 0x10ffff
        || (c >= 0xd800 && c <= 0xdfff))
    {
        return 0;
    }

    return n;
}


/* The strings of JSON text (no comments), walked from quote to quote. */

static void
f_scan(const uint8_t *p, const uint8_t *end, f_scan_t *s)
{
    int       in, high;
    char      hex[5];
    size_t    n;
    uint32_t  u;

    memset(s, 0, sizeof(f_scan_t));
    in = 0;
    high = 0;

    while (p < end) {

        if (!in) {
            in = (*p++ == '"');
            continue;
        }

        if (*p == '\\' && end - p >= 6 && p[1] == 'u') {
            memcpy(hex, p + 2, 4);
            hex[4] = '\0';
            u = (uint32_t) strtoul(hex, NULL, 16);
            p += 6;

            if (u == 0) {
                s->nul = 1;
            }

            if (u >= 0xdc00 && u <= 0xdfff) {
                s->surrogate |= !high;
                high = 0;

            } else {
                s->surrogate |= high;
                high = (u >= 0xd800 && u <= 0xdbff);
            }

            continue;
        }

        s->surrogate |= high;
        high = 0;

        if (*p == '\\') {
            p += 2;
            continue;
        }

        if (*p == '"') {
            in = 0;
            p++;
            continue;
        }

        n = f_utf8_char(p, end);

        if (n == 0) {
            s->utf8 = 1;
            n = 1;
        }

        p += n;
    }
}


/* some object of the tree gives a name twice */

static int
f_duplicates(yajl_val v)
{
    size_t  i, j;

    if (YAJL_IS_ARRAY(v)) {
        for (i = 0; i < v->u.array.len; i++) {
            if (f_duplicates(v->u.array.values[i])) {
                return 1;
            }
        }
    }

    if (YAJL_IS_OBJECT(v)) {
        for (i = 0; i < v->u.object.len; i++) {
            for (j = 0; j < i; j++) {
                if (strcmp(v->u.object.keys[i], v->u.object.keys[j]) == 0) {
                    return 1;
                }
            }

            if (f_duplicates(v->u.object.values[i])) {
                return 1;
            }
        }
    }

    return 0;
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                    dup;
    char                  *text;
    uint8_t               *json;
    f_scan_t               s;
    yajl_val               tree;
    ngx_photo_strict_t     where;
    ngx_photo_strict_rc_e  rc;

    json = malloc(size ? size : 1);
    text = malloc(size + 1);
    f_check(json != NULL && text != NULL);

    memcpy(json, data, size);
    memcpy(text, data, size);
    text[size] = '\0';

    rc = ngx_photo_json_strict(json, size, &where);

    f_check(rc != NGX_PHOTO_STRICT_NOMEM);
    f_check(where.name_len <= NGX_PHOTO_STRICT_NAME_MAX);
    f_check(!(where.in_name && where.has_name));

    /* what the tree refuses is refused (it takes more: comments, a
       top-level scalar, garbage after the value) */
    tree = (strlen(text) == size) ? yajl_tree_parse(text, NULL, 0) : NULL;

    if (rc == NGX_PHOTO_STRICT_INVALID) {
        goto done;
    }

    /* what comes before the point where a problem stopped the parse is
       JSON without comments, so its strings are walked right */
    f_scan(data, data + size, &s);

    switch (rc) {

    case NGX_PHOTO_STRICT_OK:
    case NGX_PHOTO_STRICT_DUPLICATE:
        f_check(tree != NULL);
        dup = f_duplicates(tree);
        f_check(!s.nul && !s.surrogate && !s.utf8);
        f_check(dup == (rc == NGX_PHOTO_STRICT_DUPLICATE));
        f_check(where.has_name == dup && !where.in_name);
        break;

    case NGX_PHOTO_STRICT_NUL:
        f_check(s.nul);
        break;

    case NGX_PHOTO_STRICT_SURROGATE:
        f_check(s.surrogate);
        break;

    case NGX_PHOTO_STRICT_UTF8:
        f_check(s.utf8);
        break;

    default:
        f_check(0);
    }

done:

    if (tree) {
        yajl_tree_free(tree);
    }

    free(json);
    free(text);

    return 0;
}
