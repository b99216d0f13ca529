
/*
 * The replies of memcached's text protocol to a multi-key "get":
 *
 *     VALUE <key> <flags> <bytes>\r\n<data>\r\n    (zero or more)
 *     END\r\n
 *
 * Plain C with no nginx headers, so that it can be unit-tested and fuzzed
 * on its own.
 *
 * The parser never copies and never keeps a pointer.  The caller keeps a
 * "window": the bytes received and not yet consumed, contiguous, and calls
 * ngx_photo_mc_parse() with it after every read.  Each call reports at most
 * one element, as offsets from the window's start, and how many bytes it
 * used; the caller drops those from the window.  Between calls the window
 * may move (the caller compacts or grows its buffer) and may gain bytes at
 * its end, but must start at the same reply byte.  So a value is returned
 * as a pointer into the caller's own receive buffer, and a value that spans
 * the end of that buffer is reported once the caller has made room for
 * "need" bytes and read them.
 */

#ifndef _NGX_PHOTO_MEMCACHED_PARSER_H_INCLUDED_
#define _NGX_PHOTO_MEMCACHED_PARSER_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_PHOTO_MC_KEY_MAX   250   /* memcached's own limit */

/*
 * The longest line taken, CRLF included: "VALUE", a longest key and two
 * numbers fit with room to spare; anything longer is not memcached.
 */
#define NGX_PHOTO_MC_LINE_MAX  512


enum {
    NGX_PHOTO_MC_PARSE_AGAIN = 0,   /* the window must grow to "need" */
    NGX_PHOTO_MC_PARSE_VALUE,       /* one VALUE: key, flags, value */
    NGX_PHOTO_MC_PARSE_END,         /* END: the reply is complete */
    NGX_PHOTO_MC_PARSE_ERROR        /* see "error" and "line" */
};


typedef struct {
    /* in: set by ngx_photo_mc_parser_init() */
    size_t               max_value; /* larger <bytes> is an error */

    /* out: offsets and sizes are from the window's start */
    size_t               consumed;  /* VALUE, END: the element's size */
    size_t               need;      /* AGAIN: window size worth a new call */

    size_t               key;       /* VALUE */
    size_t               key_len;
    uint32_t             flags;
    size_t               value;
    size_t               value_len;

    const char          *error;     /* ERROR: a static reason */
    size_t               line_len;  /* ERROR: the line at the window's start,
                                       CRLF excluded, when it was complete
                                       (memcached's own words), else 0 */

    /* private */
    int                  state;
    size_t               scanned;   /* of the line: no CRLF in these */
    size_t               header;    /* the VALUE line with its CRLF */
} ngx_photo_mc_parser_t;


void ngx_photo_mc_parser_init(ngx_photo_mc_parser_t *p, size_t max_value);

/*
 * Parses the element at the start of the window [w, w + len), w may be NULL
 * when len is 0.  Returns an NGX_PHOTO_MC_PARSE_* code.  After END and
 * ERROR the parser is done and returns the same again (END with consumed
 * 0): bytes left after END are the caller's business.
 */
int ngx_photo_mc_parse(ngx_photo_mc_parser_t *p, const unsigned char *w,
    size_t len);


#endif /* _NGX_PHOTO_MEMCACHED_PARSER_H_INCLUDED_ */
