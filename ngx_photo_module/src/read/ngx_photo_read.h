
/*
 * The read path: what the feed, a user's photos and one photo share.
 *
 *   ngx_photo_args.c      count / max_id (http/)
 *   ngx_photo_feed.c      a list of ids from Redis (rebuilt from Postgres)
 *   ngx_photo_photo.c     one photo
 *   ngx_photo_nearby.c    ids near a place, from Solr
 *   ngx_photo_hydrate.c   ids -> photo objects (memcached, then Postgres)
 *                         -> the JSON response
 *   ngx_photo_liked.c     which of them the reader likes
 *   ngx_photo_comments.c  a photo's comments, from Postgres
 *   ngx_photo_activity.c  the reader's activity, from Redis
 */

#ifndef _NGX_PHOTO_READ_H_INCLUDED_
#define _NGX_PHOTO_READ_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_photo_module.h"
#include "ngx_photo_memcached.h"
#include "ngx_photo_redis.h"
#include "photo_contract.h"


typedef enum {
    NGX_PHOTO_READ_FEED = 0,
    NGX_PHOTO_READ_USER_PHOTOS,
    NGX_PHOTO_READ_PHOTO,
    NGX_PHOTO_READ_NEARBY           /* a page without next_max_id */
} ngx_photo_read_kind_e;


typedef struct {
    ngx_http_request_t         *request;
    ngx_photo_read_kind_e       kind;

    ngx_str_t                   token;      /* session token */
    int64_t                     user_id;    /* who is signed in */
    int64_t                     owner_id;   /* whose photos (user photos) */
    int64_t                     photo_id;   /* one photo */

    ngx_uint_t                  count;
    int64_t                     max_id;     /* 0: from the newest */

    int64_t                    *ids;        /* the page, newest first */
    ngx_uint_t                  nids;
    ngx_flag_t                  more;       /* a next page exists */

    ngx_str_t                  *objects;    /* the JSON of each, or empty */
    ngx_photo_mc_item_t        *items;      /* those asked of memcached */
    ngx_uint_t                 *item_ids;   /* item -> its place in ids */
    ngx_uint_t                  nitems;
    ngx_uint_t                  missing;    /* to read from Postgres */

    u_char                     *liked;      /* per id, for the reader */
    int64_t                     liked_reader;   /* whose window was asked */
    int64_t                    *window;     /* its newest liked ids up to
                                               max_id, newest first */
    ngx_uint_t                  nwindow;
    ngx_uint_t                  window_limit;   /* asked for */
    unsigned                    window_full:1;  /* more are there */
    unsigned                    likes_complete:1;
    unsigned                    liked_done:1;
} ngx_photo_read_t;


ngx_int_t ngx_photo_feed_init_conf(ngx_conf_t *cf,
    ngx_http_photo_main_conf_t *pmcf);

/* routing targets, called by ngx_http_photo_module.c */
ngx_int_t ngx_photo_feed_handler(ngx_http_request_t *r,
    ngx_photo_read_kind_e kind, int64_t owner_id);
ngx_int_t ngx_photo_photo_handler(ngx_http_request_t *r, int64_t photo_id);
ngx_int_t ngx_photo_nearby_handler(ngx_http_request_t *r);
ngx_int_t ngx_photo_comments_handler(ngx_http_request_t *r,
    int64_t photo_id);
ngx_int_t ngx_photo_activity_handler(ngx_http_request_t *r);
ngx_int_t ngx_photo_user_handler(ngx_http_request_t *r, int64_t user_id);

/* ngx_photo_args.c: ?count=N&max_id=ID into rd, or NGX_ERROR and why */
ngx_int_t ngx_photo_parse_page(ngx_http_request_t *r, ngx_photo_read_t *rd,
    ngx_str_t *err);

/* ngx_photo_hydrate.c: fetch rd->ids and answer; finalizes the request */
void ngx_photo_hydrate(ngx_photo_read_t *rd);

/*
 * ngx_photo_liked.c.  ngx_photo_liked_cmds: the command that asks for the
 * reader's liked window up to max (a ZREVRANGEBYLEX bound), limit ids, to
 * send with a page; ngx_photo_liked_reply: its reply; ngx_photo_liked:
 * rd->liked for the page, then ngx_photo_hydrate().
 */
ngx_int_t ngx_photo_liked_cmds(ngx_photo_read_t *rd, int64_t reader,
    u_char *max, size_t maxlen, ngx_uint_t limit, ngx_photo_redis_cmd_t *cmd);
void ngx_photo_liked_reply(ngx_photo_read_t *rd, redisReply *reply);
void ngx_photo_liked(ngx_photo_read_t *rd);


/* a non-empty range of a list, read down to "-", ends with the list's
   completeness marker (photo_contract.h): it reached the list's end */
static ngx_inline ngx_flag_t
ngx_photo_list_ends(redisReply *ids)
{
    redisReply  *e;

    e = ids->element[ids->elements - 1];

    return e->type == REDIS_REPLY_STRING
           && e->len == sizeof(PHOTO_LIST_COMPLETE) - 1
           && ngx_strncmp(e->str, PHOTO_LIST_COMPLETE, e->len) == 0;
}


#endif /* _NGX_PHOTO_READ_H_INCLUDED_ */
