
/*
 * The streaming parser of memcached "get" replies; see the header for how
 * the caller feeds it.  Each call either finishes one element or says how
 * big the window must get, remembering how far it looked, so feeding a
 * reply byte by byte costs no rescans.
 */

#include "ngx_photo_memcached_parser.h"

#include <string.h>


enum {
    ngx_photo_mc_st_line = 0,       /* before a line's CRLF */
    ngx_photo_mc_st_data,           /* after a VALUE line */
    ngx_photo_mc_st_end,
    ngx_photo_mc_st_failed
};


static int ngx_photo_mc_parse_line(ngx_photo_mc_parser_t *p,
    const unsigned char *w, size_t n);
static int ngx_photo_mc_parse_header(ngx_photo_mc_parser_t *p,
    const unsigned char *w, size_t n);
static int ngx_photo_mc_parse_data(ngx_photo_mc_parser_t *p,
    const unsigned char *w, size_t len);
static const unsigned char *ngx_photo_mc_number(const unsigned char *s,
    const unsigned char *end, uint64_t max, uint64_t *value);
static int ngx_photo_mc_fail(ngx_photo_mc_parser_t *p, const char *error);


#define ngx_photo_mc_prefix(w, n, s)                                         \
    ((n) >= sizeof(s) - 1 && memcmp(w, s, sizeof(s) - 1) == 0)

#define ngx_photo_mc_exact(w, n, s)                                          \
    ((n) == sizeof(s) - 1 && memcmp(w, s, sizeof(s) - 1) == 0)


void
ngx_photo_mc_parser_init(ngx_photo_mc_parser_t *p, size_t max_value)
{
    memset(p, 0, sizeof(ngx_photo_mc_parser_t));

    /* header + value + CRLF must not overflow a size_t */
    if (max_value > SIZE_MAX - NGX_PHOTO_MC_LINE_MAX - 2) {
        max_value = SIZE_MAX - NGX_PHOTO_MC_LINE_MAX - 2;
    }

    p->max_value = max_value;
    p->state = ngx_photo_mc_st_line;
}


int
ngx_photo_mc_parse(ngx_photo_mc_parser_t *p, const unsigned char *w,
    size_t len)
{
    size_t  i, end;

    p->consumed = 0;

    switch (p->state) {

    case ngx_photo_mc_st_data:
        return ngx_photo_mc_parse_data(p, w, len);

    case ngx_photo_mc_st_end:
        return NGX_PHOTO_MC_PARSE_END;

    case ngx_photo_mc_st_failed:
        return NGX_PHOTO_MC_PARSE_ERROR;
    }

    /*
     * A line ends with CRLF; a CR or LF anywhere else is not memcached,
     * and is an error at once rather than after a timeout.  Nothing past
     * the longest line is looked at, so a reply gets the same verdict
     * however it was split.
     */

    end = len < NGX_PHOTO_MC_LINE_MAX ? len : NGX_PHOTO_MC_LINE_MAX;

    for (i = p->scanned; i < end; i++) {

        if (w[i] == '\n') {
            return ngx_photo_mc_fail(p, "LF without CR");
        }

        if (w[i] != '\r') {
            continue;
        }

        if (i + 2 > NGX_PHOTO_MC_LINE_MAX) {
            return ngx_photo_mc_fail(p, "line too long");
        }

        if (i + 1 == len) {
            break;
        }

        if (w[i + 1] != '\n') {
            return ngx_photo_mc_fail(p, "CR without LF");
        }

        p->scanned = 0;

        if (ngx_photo_mc_parse_line(p, w, i) != NGX_PHOTO_MC_PARSE_AGAIN) {
            return p->state == ngx_photo_mc_st_end ? NGX_PHOTO_MC_PARSE_END
                                                   : NGX_PHOTO_MC_PARSE_ERROR;
        }

        /* a VALUE line: its data may be in the window already */
        return ngx_photo_mc_parse_data(p, w, len);
    }

    if (i >= NGX_PHOTO_MC_LINE_MAX) {
        return ngx_photo_mc_fail(p, "line too long");
    }

    p->scanned = i;
    p->need = len + 1;

    return NGX_PHOTO_MC_PARSE_AGAIN;
}


/*
 * A whole line of n bytes (CRLF not counted) is at the window's start.
 * Returns END, ERROR, or AGAIN after a VALUE line (the data comes next).
 */

static int
ngx_photo_mc_parse_line(ngx_photo_mc_parser_t *p, const unsigned char *w,
    size_t n)
{
    if (ngx_photo_mc_exact(w, n, "END")) {
        p->state = ngx_photo_mc_st_end;
        p->consumed = n + 2;
        return NGX_PHOTO_MC_PARSE_END;
    }

    if (ngx_photo_mc_prefix(w, n, "VALUE ")) {
        return ngx_photo_mc_parse_header(p, w, n);
    }

    if (ngx_photo_mc_exact(w, n, "ERROR")
        || ngx_photo_mc_prefix(w, n, "CLIENT_ERROR ")
        || ngx_photo_mc_prefix(w, n, "SERVER_ERROR "))
    {
        (void) ngx_photo_mc_fail(p, "error reply");
        p->line_len = n;
        return NGX_PHOTO_MC_PARSE_ERROR;
    }

    return ngx_photo_mc_fail(p, "unexpected line");
}


/* "VALUE <key> <flags> <bytes>", single spaces, as memcached writes it. */

static int
ngx_photo_mc_parse_header(ngx_photo_mc_parser_t *p, const unsigned char *w,
    size_t n)
{
    uint64_t              flags, bytes;
    const unsigned char  *s, *end, *key, *key_end;

    end = w + n;
    key = w + sizeof("VALUE ") - 1;

    for (s = key; s < end && *s != ' '; s++) {
        if (*s < 0x21 || *s == 0x7f) {
            return ngx_photo_mc_fail(p, "bad key");
        }
    }

    if (s == key || s - key > NGX_PHOTO_MC_KEY_MAX || s == end) {
        return ngx_photo_mc_fail(p, "bad key");
    }

    key_end = s;

    s = ngx_photo_mc_number(s + 1, end, UINT32_MAX, &flags);
    if (s == NULL || s == end || *s != ' ') {
        return ngx_photo_mc_fail(p, "bad flags");
    }

    s = ngx_photo_mc_number(s + 1, end, UINT64_MAX, &bytes);
    if (s == NULL || s != end) {
        return ngx_photo_mc_fail(p, "bad length");
    }

    if (bytes > p->max_value) {
        return ngx_photo_mc_fail(p, "value too large");
    }

    p->key = key - w;
    p->key_len = key_end - key;
    p->flags = (uint32_t) flags;
    p->header = n + 2;
    p->value = p->header;
    p->value_len = (size_t) bytes;
    p->state = ngx_photo_mc_st_data;

    return NGX_PHOTO_MC_PARSE_AGAIN;
}


static int
ngx_photo_mc_parse_data(ngx_photo_mc_parser_t *p, const unsigned char *w,
    size_t len)
{
    size_t  crlf;

    crlf = p->value + p->value_len;

    /* check the CRLF's bytes as soon as they come, not all at the end */

    if (len > crlf && w[crlf] != '\r') {
        return ngx_photo_mc_fail(p, "data not followed by CRLF");
    }

    if (len > crlf + 1 && w[crlf + 1] != '\n') {
        return ngx_photo_mc_fail(p, "data not followed by CRLF");
    }

    if (len < crlf + 2) {
        p->need = crlf + 2;
        return NGX_PHOTO_MC_PARSE_AGAIN;
    }

    p->state = ngx_photo_mc_st_line;
    p->consumed = crlf + 2;

    return NGX_PHOTO_MC_PARSE_VALUE;
}


/* One or more digits, at most max: the byte after them, or NULL. */

static const unsigned char *
ngx_photo_mc_number(const unsigned char *s, const unsigned char *end,
    uint64_t max, uint64_t *value)
{
    uint64_t              n, d;
    const unsigned char  *start;

    n = 0;

    for (start = s; s < end && *s >= '0' && *s <= '9'; s++) {
        d = *s - '0';

        if (n > (max - d) / 10) {
            return NULL;
        }

        n = n * 10 + d;
    }

    if (s == start) {
        return NULL;
    }

    *value = n;

    return s;
}


static int
ngx_photo_mc_fail(ngx_photo_mc_parser_t *p, const char *error)
{
    p->state = ngx_photo_mc_st_failed;
    p->error = error;
    p->line_len = 0;

    return NGX_PHOTO_MC_PARSE_ERROR;
}
