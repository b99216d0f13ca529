
/*
 * A JSON body read strictly; see the header.
 *
 * yajl hands a string over decoded, where U+0000 is still there (its length
 * counts it) but a lone surrogate is not: a high one became "?", or was
 * merged with whatever \u escape followed it.  So the escapes are looked at
 * in the raw text of the token yajl has just lexed: from the end of the
 * previous token (yajl_get_bytes_consumed() then) to the end of this one.
 * Only separators and white space lie between two tokens, and a backslash
 * in JSON text is always inside a string, so every backslash in that span
 * is an escape of this string.  Comments, which could hold backslashes,
 * are refused, and so is anything after the top-level object or array
 * (yajl takes an unterminated string there).
 */

#include "ngx_photo_json_strict.h"

#include <stdlib.h>
#include <string.h>

#include <yajl/yajl_parse.h>


#define NGX_PHOTO_STRICT_NONE  ((size_t) -1)


typedef struct {
    size_t                      object;     /* the object's number */
    const unsigned char        *data;       /* in ctx->bytes */
    size_t                      len;
    size_t                      order;      /* in the body */
} ngx_photo_strict_name_t;


typedef struct {
    int                         object;     /* else an array */
    size_t                      number;     /* of an object */
    size_t                      member;     /* its current member's name,
                                               in ctx->names, or NONE */
} ngx_photo_strict_frame_t;


typedef struct {
    yajl_handle                 yajl;
    const unsigned char        *json;
    size_t                      len;
    size_t                      last;       /* where the last token ended */
    size_t                      end;        /* where the top level ended */

    ngx_photo_strict_frame_t   *frames;     /* the open objects, arrays */
    size_t                      depth;
    size_t                      frames_max;
    size_t                      objects;    /* numbered so far */

    ngx_photo_strict_name_t    *names;      /* every member name */
    size_t                      nnames;
    size_t                      names_max;
    unsigned char              *bytes;      /* their bytes, decoded */
    size_t                      nbytes;

    ngx_photo_strict_rc_e       rc;
    ngx_photo_strict_t         *where;
} ngx_photo_strict_ctx_t;


static int ngx_photo_strict_scalar(void *data);
static int ngx_photo_strict_bool(void *data, int value);
static int ngx_photo_strict_number(void *data, const char *s, size_t len);
static int ngx_photo_strict_value(void *data, const unsigned char *s,
    size_t len);
static int ngx_photo_strict_key(void *data, const unsigned char *s,
    size_t len);
static int ngx_photo_strict_start_map(void *data);
static int ngx_photo_strict_start_array(void *data);
static int ngx_photo_strict_end(void *data);
static int ngx_photo_strict_push(ngx_photo_strict_ctx_t *ctx, int object);
static int ngx_photo_strict_trailing(ngx_photo_strict_ctx_t *ctx);
static int ngx_photo_strict_string(ngx_photo_strict_ctx_t *ctx,
    const unsigned char *s, size_t len, int in_name);
static int ngx_photo_strict_surrogates(const unsigned char *p,
    const unsigned char *end);
static int ngx_photo_strict_utf8(const unsigned char *p, size_t len);
static int ngx_photo_strict_duplicates(ngx_photo_strict_ctx_t *ctx);
static int ngx_photo_strict_cmp(const void *one, const void *two);
static void ngx_photo_strict_name(ngx_photo_strict_ctx_t *ctx,
    const ngx_photo_strict_name_t *name);
static void *ngx_photo_strict_grow(void *a, size_t *max, size_t n,
    size_t size);


static const yajl_callbacks  ngx_photo_strict_callbacks = {
    ngx_photo_strict_scalar,                /* null */
    ngx_photo_strict_bool,
    NULL,                                   /* integer: see number */
    NULL,                                   /* double */
    ngx_photo_strict_number,                /* any number, as text */
    ngx_photo_strict_value,
    ngx_photo_strict_start_map,
    ngx_photo_strict_key,
    ngx_photo_strict_end,
    ngx_photo_strict_start_array,
    ngx_photo_strict_end
};


ngx_photo_strict_rc_e
ngx_photo_json_strict(const unsigned char *json, size_t len,
    ngx_photo_strict_t *where)
{
    yajl_status             st;
    ngx_photo_strict_ctx_t  ctx;

    memset(&ctx, 0, sizeof(ngx_photo_strict_ctx_t));
    memset(where, 0, sizeof(ngx_photo_strict_t));

    ctx.json = json;
    ctx.len = len;
    ctx.end = NGX_PHOTO_STRICT_NONE;
    ctx.where = where;

    /* a name decodes to no more bytes than its token: all fit in len */
    ctx.bytes = malloc(len ? len : 1);
    ctx.yajl = yajl_alloc(&ngx_photo_strict_callbacks, NULL, &ctx);

    if (ctx.bytes == NULL || ctx.yajl == NULL) {
        ctx.rc = NGX_PHOTO_STRICT_NOMEM;
        goto done;
    }

    /* strings are checked here (ngx_photo_strict_utf8), so that one that
       is not UTF-8 is named rather than a lexical error */
    yajl_config(ctx.yajl, yajl_dont_validate_strings, 1);

    st = yajl_parse(ctx.yajl, json, len);

    if (st == yajl_status_ok) {
        st = yajl_complete_parse(ctx.yajl);
    }

    if (st == yajl_status_client_canceled) {
        goto done;                          /* ctx.rc says why */
    }

    if (st != yajl_status_ok || ngx_photo_strict_trailing(&ctx) != 0) {
        ctx.rc = NGX_PHOTO_STRICT_INVALID;
        goto done;
    }

    if (ngx_photo_strict_duplicates(&ctx) != 0) {
        ctx.rc = NGX_PHOTO_STRICT_NOMEM;
    }

done:

    if (ctx.yajl) {
        yajl_free(ctx.yajl);
    }

    free(ctx.frames);
    free(ctx.names);
    free(ctx.bytes);

    return ctx.rc;
}


/* null, true, false, numbers: nothing to check, but they are tokens (and
 * at the top level, not a body) */

static int
ngx_photo_strict_scalar(void *data)
{
    ngx_photo_strict_ctx_t  *ctx = data;

    if (ctx->depth == 0) {
        ctx->rc = NGX_PHOTO_STRICT_INVALID;
        return 0;
    }

    ctx->last = yajl_get_bytes_consumed(ctx->yajl);

    return 1;
}


static int
ngx_photo_strict_bool(void *data, int value)
{
    (void) value;

    return ngx_photo_strict_scalar(data);
}


static int
ngx_photo_strict_number(void *data, const char *s, size_t len)
{
    (void) s;
    (void) len;

    return ngx_photo_strict_scalar(data);
}


static int
ngx_photo_strict_value(void *data, const unsigned char *s, size_t len)
{
    return ngx_photo_strict_string(data, s, len, 0);
}


/* a member name: checked as any string, then kept for the duplicates */

static int
ngx_photo_strict_key(void *data, const unsigned char *s, size_t len)
{
    ngx_photo_strict_ctx_t  *ctx = data;

    ngx_photo_strict_name_t   *name;
    ngx_photo_strict_frame_t  *top;

    if (!ngx_photo_strict_string(ctx, s, len, 1)) {
        return 0;
    }

    name = ngx_photo_strict_grow(ctx->names, &ctx->names_max, ctx->nnames,
                                 sizeof(ngx_photo_strict_name_t));
    if (name == NULL) {
        ctx->rc = NGX_PHOTO_STRICT_NOMEM;
        return 0;
    }

    ctx->names = name;
    name += ctx->nnames;

    /* yajl calls this only inside an object: depth >= 1 */
    top = &ctx->frames[ctx->depth - 1];

    name->object = top->number;
    name->data = ctx->bytes + ctx->nbytes;
    name->len = len;
    name->order = ctx->nnames;

    if (len) {
        memcpy(ctx->bytes + ctx->nbytes, s, len);
    }

    ctx->nbytes += len;
    top->member = ctx->nnames++;

    return 1;
}


static int
ngx_photo_strict_start_map(void *data)
{
    return ngx_photo_strict_push(data, 1);
}


static int
ngx_photo_strict_start_array(void *data)
{
    return ngx_photo_strict_push(data, 0);
}


static int
ngx_photo_strict_end(void *data)
{
    ngx_photo_strict_ctx_t  *ctx = data;

    ctx->last = yajl_get_bytes_consumed(ctx->yajl);

    if (--ctx->depth == 0) {
        ctx->end = ctx->last;
    }

    return 1;
}


static int
ngx_photo_strict_push(ngx_photo_strict_ctx_t *ctx, int object)
{
    ngx_photo_strict_frame_t  *f;

    f = ngx_photo_strict_grow(ctx->frames, &ctx->frames_max, ctx->depth,
                              sizeof(ngx_photo_strict_frame_t));
    if (f == NULL) {
        ctx->rc = NGX_PHOTO_STRICT_NOMEM;
        return 0;
    }

    ctx->frames = f;
    f += ctx->depth++;

    f->object = object;
    f->number = object ? ctx->objects++ : 0;
    f->member = NGX_PHOTO_STRICT_NONE;

    ctx->last = yajl_get_bytes_consumed(ctx->yajl);

    return 1;
}


/* only white space after the top level: 0, or -1 */

static int
ngx_photo_strict_trailing(ngx_photo_strict_ctx_t *ctx)
{
    size_t  i;

    if (ctx->end == NGX_PHOTO_STRICT_NONE) {
        return -1;
    }

    for (i = ctx->end; i < ctx->len; i++) {
        if (ctx->json[i] != ' ' && ctx->json[i] != '\t'
            && ctx->json[i] != '\n' && ctx->json[i] != '\r')
        {
            return -1;
        }
    }

    return 0;
}


/* A string as yajl decoded it, s[0..len), and its raw token: 1 when it is
 * fine, else 0 with ctx->rc and ctx->where set (the parse stops). */

static int
ngx_photo_strict_string(ngx_photo_strict_ctx_t *ctx, const unsigned char *s,
    size_t len, int in_name)
{
    size_t                     end, i;
    ngx_photo_strict_frame_t  *f;

    if (ctx->depth == 0) {
        ctx->rc = NGX_PHOTO_STRICT_INVALID;
        return 0;
    }

    end = yajl_get_bytes_consumed(ctx->yajl);

    /* a string token always ends inside the text given to yajl_parse() */
    if (end < ctx->last || end > ctx->len) {
        end = ctx->last;
    }

    if (ngx_photo_strict_surrogates(ctx->json + ctx->last, ctx->json + end)
        != 0)
    {
        ctx->rc = NGX_PHOTO_STRICT_SURROGATE;

    } else if (len && memchr(s, '\0', len) != NULL) {
        ctx->rc = NGX_PHOTO_STRICT_NUL;

    } else if (ngx_photo_strict_utf8(s, len) != 0) {
        ctx->rc = NGX_PHOTO_STRICT_UTF8;

    } else {
        ctx->last = end;
        return 1;
    }

    ctx->where->in_name = in_name;

    if (in_name) {
        return 0;
    }

    /* the innermost member around the value */
    for (i = ctx->depth; i > 0; i--) {
        f = &ctx->frames[i - 1];

        if (f->object && f->member != NGX_PHOTO_STRICT_NONE) {
            ngx_photo_strict_name(ctx, &ctx->names[f->member]);
            break;
        }
    }

    return 0;
}


/* The \u escapes in [p, end): 0, or -1 when one is half of a surrogate
 * pair whose other half does not come next (yajl checked the syntax). */

static int
ngx_photo_strict_surrogates(const unsigned char *p, const unsigned char *end)
{
    int       high;
    unsigned  u, d, i;

    high = 0;           /* the escape before was a high surrogate */

    while (p < end) {

        if (*p != '\\' || end - p < 6 || p[1] != 'u') {
            if (high) {
                return -1;
            }

            p += (*p == '\\') ? 2 : 1;
            continue;
        }

        for (u = 0, i = 2; i < 6; i++) {
            d = p[i];
            d = (d >= '0' && d <= '9') ? d - '0' : (d | 0x20) - 'a' + 10;
            u = u << 4 | d;
        }

        p += 6;

        if (u >= 0xdc00 && u <= 0xdfff) {
            if (!high) {
                return -1;
            }

            high = 0;
            continue;
        }

        if (high) {
            return -1;
        }

        high = (u >= 0xd800 && u <= 0xdbff);
    }

    return high ? -1 : 0;
}


/* RFC 3629 UTF-8 (yajl only checks the bytes' shape): 0, or -1 for an
 * overlong form, a surrogate, or anything over U+10FFFF. */

static int
ngx_photo_strict_utf8(const unsigned char *p, size_t len)
{
    size_t          n;
    unsigned char   c, lo, hi;

    while (len) {
        c = *p++;
        len--;

        if (c < 0x80) {
            continue;
        }

        /* the range of the second byte; the others are 80..BF */
        lo = 0x80;
        hi = 0xbf;

        if (c >= 0xc2 && c <= 0xdf) {
            n = 1;

        } else if (c >= 0xe0 && c <= 0xef) {
            n = 2;
            lo = (c == 0xe0) ? 0xa0 : 0x80;     /* overlong */
            hi = (c == 0xed) ? 0x9f : 0xbf;     /* surrogates */

        } else if (c >= 0xf0 && c <= 0xf4) {
            n = 3;
            lo = (c == 0xf0) ? 0x90 : 0x80;     /* overlong */
            hi = (c == 0xf4) ? 0x8f : 0xbf;     /* over U+10FFFF */

        } else {
            return -1;
        }

        if (len < n || p[0] < lo || p[0] > hi) {
            return -1;
        }

        for (len -= n; n; n--, p++) {
            if ((*p & 0xc0) != 0x80) {
                return -1;
            }
        }
    }

    return 0;
}


/* The first name, in body order, that its object gives twice: rc and
 * where set.  0, or -1 when out of memory. */

static int
ngx_photo_strict_duplicates(ngx_photo_strict_ctx_t *ctx)
{
    size_t                    i, first;
    ngx_photo_strict_name_t  *a, *b;

    if (ctx->nnames < 2) {
        return 0;
    }

    qsort(ctx->names, ctx->nnames, sizeof(ngx_photo_strict_name_t),
          ngx_photo_strict_cmp);

    first = NGX_PHOTO_STRICT_NONE;

    for (i = 1; i < ctx->nnames; i++) {
        a = &ctx->names[i - 1];
        b = &ctx->names[i];

        if (a->object == b->object && a->len == b->len
            && memcmp(a->data, b->data, a->len) == 0
            && (first == NGX_PHOTO_STRICT_NONE
                || b->order < ctx->names[first].order))
        {
            first = i;
        }
    }

    if (first != NGX_PHOTO_STRICT_NONE) {
        ctx->rc = NGX_PHOTO_STRICT_DUPLICATE;
        ngx_photo_strict_name(ctx, &ctx->names[first]);
    }

    return 0;
}


/* by object, then name, then body order: equal names are neighbours, the
 * first given before the others */

static int
ngx_photo_strict_cmp(const void *one, const void *two)
{
    const ngx_photo_strict_name_t  *a = one, *b = two;

    int  rc;

    if (a->object != b->object) {
        return a->object < b->object ? -1 : 1;
    }

    if (a->len != b->len) {
        return a->len < b->len ? -1 : 1;
    }

    rc = memcmp(a->data, b->data, a->len);
    if (rc != 0) {
        return rc;
    }

    return a->order < b->order ? -1 : (a->order > b->order);
}


/* where->name: the name, cut on a character's boundary if too long */

static void
ngx_photo_strict_name(ngx_photo_strict_ctx_t *ctx,
    const ngx_photo_strict_name_t *name)
{
    size_t  n;

    n = name->len;

    if (n > NGX_PHOTO_STRICT_NAME_MAX) {
        n = NGX_PHOTO_STRICT_NAME_MAX;

        while (n && (name->data[n] & 0xc0) == 0x80) {
            n--;
        }
    }

    ctx->where->has_name = 1;
    ctx->where->name_len = n;

    if (n) {
        memcpy(ctx->where->name, name->data, n);
    }
}


/* a with room for n + 1 elements of size, grown by doubling: the array
 * (perhaps moved), or NULL (a is then still valid) */

static void *
ngx_photo_strict_grow(void *a, size_t *max, size_t n, size_t size)
{
    size_t  m;

    if (n < *max) {
        return a;
    }

    m = *max ? *max * 2 : 16;

    a = realloc(a, m * size);
    if (a != NULL) {
        *max = m;
    }

    return a;
}
