
/*
 * Gearman packets: the request encoder and the streaming response parser;
 * see the header for how the caller feeds it.  A packet says its size in
 * its header, so the parser only waits for the header, then for the whole
 * packet; what is wrong with a packet is found in byte order (magic, type,
 * size, then arguments), so a reply gets the same verdict however it was
 * split.
 */

#include "ngx_photo_gearman_parser.h"

#include <string.h>


static const unsigned char  ngx_photo_gm_req[4] = { 0, 'R', 'E', 'Q' };
static const unsigned char  ngx_photo_gm_res[4] = { 0, 'R', 'E', 'S' };


typedef struct {
    const char          *name;
    int                  nargs;     /* of a response; -1: not a response */
} ngx_photo_gm_type_t;


/* Indexed by type: every packet type of the protocol, up to 42. */

static const ngx_photo_gm_type_t  ngx_photo_gm_types[] = {
    { "TEXT",                         -1 },
    { "CAN_DO",                       -1 },
    { "CANT_DO",                      -1 },
    { "RESET_ABILITIES",              -1 },
    { "PRE_SLEEP",                    -1 },
    { "UNUSED",                       -1 },
    { "NOOP",                          0 },
    { "SUBMIT_JOB",                   -1 },
    { "JOB_CREATED",                   1 },
    { "GRAB_JOB",                     -1 },
    { "NO_JOB",                        0 },
    { "JOB_ASSIGN",                    3 },
    { "WORK_STATUS",                   3 },
    { "WORK_COMPLETE",                 2 },
    { "WORK_FAIL",                     1 },
    { "GET_STATUS",                   -1 },
    { "ECHO_REQ",                     -1 },
    { "ECHO_RES",                      1 },
    { "SUBMIT_JOB_BG",                -1 },
    { "ERROR",                         2 },
    { "STATUS_RES",                    5 },
    { "SUBMIT_JOB_HIGH",              -1 },
    { "SET_CLIENT_ID",                -1 },
    { "CAN_DO_TIMEOUT",               -1 },
    { "ALL_YOURS",                    -1 },
    { "WORK_EXCEPTION",                2 },
    { "OPTION_REQ",                   -1 },
    { "OPTION_RES",                    1 },
    { "WORK_DATA",                     2 },
    { "WORK_WARNING",                  2 },
    { "GRAB_JOB_UNIQ",                -1 },
    { "JOB_ASSIGN_UNIQ",               4 },
    { "SUBMIT_JOB_HIGH_BG",           -1 },
    { "SUBMIT_JOB_LOW",               -1 },
    { "SUBMIT_JOB_LOW_BG",            -1 },
    { "SUBMIT_JOB_SCHED",             -1 },
    { "SUBMIT_JOB_EPOCH",             -1 },
    { "SUBMIT_REDUCE_JOB",            -1 },
    { "SUBMIT_REDUCE_JOB_BACKGROUND", -1 },
    { "GRAB_JOB_ALL",                 -1 },
    { "JOB_ASSIGN_ALL",                5 },
    { "GET_STATUS_UNIQUE",            -1 },
    { "STATUS_RES_UNIQUE",             6 }
};

#define NGX_PHOTO_GM_NTYPES                                                  \
    (sizeof(ngx_photo_gm_types) / sizeof(ngx_photo_gm_types[0]))


static int ngx_photo_gm_parse_args(ngx_photo_gm_parser_t *p,
    const unsigned char *w, size_t size, int nargs);
static uint32_t ngx_photo_gm_read32(const unsigned char *s);
static int ngx_photo_gm_fail(ngx_photo_gm_parser_t *p, const char *error);


size_t
ngx_photo_gm_packet_size(const ngx_photo_gm_arg_t *args, size_t nargs)
{
    size_t  i, n, size;

    size = 0;

    for (i = 0; i < nargs; i++) {

        /* only the last argument may hold a NUL: the others end at one */

        if (i + 1 < nargs
            && args[i].len
            && memchr(args[i].data, 0, args[i].len) != NULL)
        {
            return 0;
        }

        if (args[i].len > UINT32_MAX) {
            return 0;
        }

        n = args[i].len + (i + 1 < nargs);

        if (n > UINT32_MAX - size) {
            return 0;
        }

        size += n;
    }

    return NGX_PHOTO_GM_HEADER_SIZE + size;
}


unsigned char *
ngx_photo_gm_encode(unsigned char *p, uint32_t type,
    const ngx_photo_gm_arg_t *args, size_t nargs)
{
    size_t          i;
    uint32_t        size;
    unsigned char  *data;

    memcpy(p, ngx_photo_gm_req, 4);

    p[4] = (unsigned char) (type >> 24);
    p[5] = (unsigned char) (type >> 16);
    p[6] = (unsigned char) (type >> 8);
    p[7] = (unsigned char) type;

    data = p + NGX_PHOTO_GM_HEADER_SIZE;
    p = data;

    for (i = 0; i < nargs; i++) {
        if (args[i].len) {
            memcpy(p, args[i].data, args[i].len);
            p += args[i].len;
        }

        if (i + 1 < nargs) {
            *p++ = '\0';
        }
    }

    size = (uint32_t) (p - data);

    data[-4] = (unsigned char) (size >> 24);
    data[-3] = (unsigned char) (size >> 16);
    data[-2] = (unsigned char) (size >> 8);
    data[-1] = (unsigned char) size;

    return p;
}


void
ngx_photo_gm_parser_init(ngx_photo_gm_parser_t *p, size_t max_size)
{
    memset(p, 0, sizeof(ngx_photo_gm_parser_t));

    /* header + data must not overflow a size_t */
    if (max_size > SIZE_MAX - NGX_PHOTO_GM_HEADER_SIZE) {
        max_size = SIZE_MAX - NGX_PHOTO_GM_HEADER_SIZE;
    }

    p->max_size = max_size;
}


int
ngx_photo_gm_parse(ngx_photo_gm_parser_t *p, const unsigned char *w,
    size_t len)
{
    int       nargs;
    size_t    n;
    uint32_t  type, size;

    p->consumed = 0;
    p->nargs = 0;

    if (p->failed) {
        return NGX_PHOTO_GM_PARSE_ERROR;
    }

    /* the magic is checked as soon as its first bytes are in */

    n = len < 4 ? len : 4;

    if (n && memcmp(w, ngx_photo_gm_res, n) != 0) {
        return ngx_photo_gm_fail(p, memcmp(w, ngx_photo_gm_req, n) == 0
                                    ? "request magic in a response"
                                    : "bad magic");
    }

    if (len < 8) {
        p->need = NGX_PHOTO_GM_HEADER_SIZE;
        return NGX_PHOTO_GM_PARSE_AGAIN;
    }

    type = ngx_photo_gm_read32(w + 4);

    if (type >= NGX_PHOTO_GM_NTYPES || ngx_photo_gm_types[type].nargs < 0) {
        return ngx_photo_gm_fail(p, "not a response packet type");
    }

    nargs = ngx_photo_gm_types[type].nargs;

    if (len < NGX_PHOTO_GM_HEADER_SIZE) {
        p->need = NGX_PHOTO_GM_HEADER_SIZE;
        return NGX_PHOTO_GM_PARSE_AGAIN;
    }

    size = ngx_photo_gm_read32(w + 8);

    if (size > p->max_size) {
        return ngx_photo_gm_fail(p, "packet too large");
    }

    if (nargs == 0 && size != 0) {
        return ngx_photo_gm_fail(p, "data in a packet without arguments");
    }

    if (len - NGX_PHOTO_GM_HEADER_SIZE < size) {
        p->need = NGX_PHOTO_GM_HEADER_SIZE + (size_t) size;
        return NGX_PHOTO_GM_PARSE_AGAIN;
    }

    if (ngx_photo_gm_parse_args(p, w, size, nargs) != 0) {
        return ngx_photo_gm_fail(p, "missing argument");
    }

    p->type = type;
    p->consumed = NGX_PHOTO_GM_HEADER_SIZE + (size_t) size;

    return NGX_PHOTO_GM_PARSE_PACKET;
}


/*
 * Splits the data at its first nargs - 1 NULs; the last argument is the
 * rest.  Returns 0, or -1 when there are too few NULs.
 */

static int
ngx_photo_gm_parse_args(ngx_photo_gm_parser_t *p, const unsigned char *w,
    size_t size, int nargs)
{
    int                   i;
    size_t                at, end;
    const unsigned char  *nul;

    at = NGX_PHOTO_GM_HEADER_SIZE;
    end = at + size;

    for (i = 0; i < nargs - 1; i++) {
        nul = memchr(w + at, 0, end - at);

        if (nul == NULL) {
            return -1;
        }

        p->arg[i] = at;
        p->arg_len[i] = (size_t) (nul - w) - at;
        at = (size_t) (nul - w) + 1;
    }

    if (nargs > 0) {
        p->arg[i] = at;
        p->arg_len[i] = end - at;
    }

    p->nargs = (size_t) nargs;

    return 0;
}


const char *
ngx_photo_gm_type_name(uint32_t type)
{
    return type < NGX_PHOTO_GM_NTYPES ? ngx_photo_gm_types[type].name : "?";
}


static uint32_t
ngx_photo_gm_read32(const unsigned char *s)
{
    return (uint32_t) s[0] << 24 | (uint32_t) s[1] << 16
           | (uint32_t) s[2] << 8 | s[3];
}


static int
ngx_photo_gm_fail(ngx_photo_gm_parser_t *p, const char *error)
{
    p->failed = 1;
    p->error = error;
    p->consumed = 0;
    p->nargs = 0;

    return NGX_PHOTO_GM_PARSE_ERROR;
}
