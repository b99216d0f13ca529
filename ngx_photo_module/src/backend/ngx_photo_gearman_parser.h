
/*
 * Gearman's binary protocol (gearman.org/protocol): request packets made,
 * response packets parsed.  A packet is
 *
 *     "\0REQ" or "\0RES"    magic, 4 bytes
 *     type                  uint32, big-endian
 *     size                  uint32, big-endian: bytes of data that follow
 *     data                  the arguments, each but the last ended by a
 *                           NUL; the last one runs to the end and may hold
 *                           any byte (a job's payload or result)
 *
 * Plain C with no nginx headers, so that it can be unit-tested and fuzzed
 * on its own.
 *
 * The parser is fed like the memcached one: the caller keeps a "window",
 * the bytes received and not yet consumed, contiguous, and calls
 * ngx_photo_gm_parse() with it after every read.  Each call reports at
 * most one whole packet, its arguments as offsets from the window's start,
 * and how many bytes it used; the caller drops those from the window.
 * Between calls the window may move and may gain bytes at its end, but
 * must start at the same packet byte.  The parser never copies and never
 * keeps a pointer.
 */

#ifndef _NGX_PHOTO_GEARMAN_PARSER_H_INCLUDED_
#define _NGX_PHOTO_GEARMAN_PARSER_H_INCLUDED_


#include <stddef.h>
#include <stdint.h>


#define NGX_PHOTO_GM_HEADER_SIZE     12
#define NGX_PHOTO_GM_ARGS_MAX        6       /* STATUS_RES_UNIQUE's */

/* gearmand's own limits: longer ones it refuses */
#define NGX_PHOTO_GM_FUNCTION_MAX    512
#define NGX_PHOTO_GM_UNIQUE_MAX      64


/* Packet types (the protocol's numbers) */
#define NGX_PHOTO_GM_NOOP               6
#define NGX_PHOTO_GM_SUBMIT_JOB         7
#define NGX_PHOTO_GM_JOB_CREATED        8
#define NGX_PHOTO_GM_NO_JOB             10
#define NGX_PHOTO_GM_JOB_ASSIGN         11
#define NGX_PHOTO_GM_WORK_STATUS        12
#define NGX_PHOTO_GM_WORK_COMPLETE      13
#define NGX_PHOTO_GM_WORK_FAIL          14
#define NGX_PHOTO_GM_ECHO_REQ           16
#define NGX_PHOTO_GM_ECHO_RES           17
#define NGX_PHOTO_GM_SUBMIT_JOB_BG      18
#define NGX_PHOTO_GM_ERROR              19
#define NGX_PHOTO_GM_STATUS_RES         20
#define NGX_PHOTO_GM_WORK_EXCEPTION     25
#define NGX_PHOTO_GM_OPTION_REQ         26
#define NGX_PHOTO_GM_OPTION_RES         27
#define NGX_PHOTO_GM_WORK_DATA          28
#define NGX_PHOTO_GM_WORK_WARNING       29
#define NGX_PHOTO_GM_JOB_ASSIGN_UNIQ    31
#define NGX_PHOTO_GM_JOB_ASSIGN_ALL     40
#define NGX_PHOTO_GM_STATUS_RES_UNIQUE  42


typedef struct {
    const unsigned char *data;
    size_t               len;
} ngx_photo_gm_arg_t;


/*
 * The size of a request packet of these arguments, or 0 when they cannot
 * make one: an argument but the last holding a NUL, or more data than the
 * 32-bit size can say.
 */
size_t ngx_photo_gm_packet_size(const ngx_photo_gm_arg_t *args,
    size_t nargs);

/*
 * Writes the request packet (ngx_photo_gm_packet_size() bytes, which must
 * not be 0) at p; returns the byte after it.
 */
unsigned char *ngx_photo_gm_encode(unsigned char *p, uint32_t type,
    const ngx_photo_gm_arg_t *args, size_t nargs);


enum {
    NGX_PHOTO_GM_PARSE_AGAIN = 0,   /* the window must grow to "need" */
    NGX_PHOTO_GM_PARSE_PACKET,      /* one packet: type, args */
    NGX_PHOTO_GM_PARSE_ERROR        /* see "error" */
};


typedef struct {
    /* in: set by ngx_photo_gm_parser_init() */
    size_t               max_size;  /* more data is an error */

    /* out: offsets are from the window's start */
    size_t               consumed;  /* PACKET: header and data */
    size_t               need;      /* AGAIN: window size worth a new call */

    uint32_t             type;      /* PACKET */
    size_t               nargs;     /* PACKET: as the type has */
    size_t               arg[NGX_PHOTO_GM_ARGS_MAX];
    size_t               arg_len[NGX_PHOTO_GM_ARGS_MAX];

    const char          *error;     /* ERROR: a static reason */

    /* private */
    int                  failed;
} ngx_photo_gm_parser_t;


void ngx_photo_gm_parser_init(ngx_photo_gm_parser_t *p, size_t max_size);

/*
 * Parses the packet at the start of the window [w, w + len), w may be NULL
 * when len is 0.  Returns an NGX_PHOTO_GM_PARSE_* code.  Only response
 * packets ("\0RES") of the types a server sends are taken, with the
 * number of arguments their type has; anything else is an error as soon
 * as its bytes show it, however the reply was split.  After ERROR the
 * parser returns ERROR again.
 */
int ngx_photo_gm_parse(ngx_photo_gm_parser_t *p, const unsigned char *w,
    size_t len);

/* The protocol's name of a packet type, e.g. "JOB_CREATED", or "?". */
const char *ngx_photo_gm_type_name(uint32_t type);


#endif /* _NGX_PHOTO_GEARMAN_PARSER_H_INCLUDED_ */
