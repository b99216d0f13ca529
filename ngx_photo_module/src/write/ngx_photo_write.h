
/*
 * The write path: requests are checked in nginx, given ids, and handed to
 * gearmand as jobs; the client's answer never waits on Postgres or on the
 * fan-out.
 *
 *   ngx_photo_body.c      the request body, read and parsed as JSON (yajl)
 *   ngx_photo_account.c   sign-up, sign-in, sign-out (auth worker jobs)
 *   ngx_photo_post.c      POST /v1/photos
 *   ngx_photo_delete.c    DELETE /v1/photos/{id}
 *   ngx_photo_media.c     POST /v1/media (image checked, stored)
 *   ngx_photo_social.c    follow / unfollow, device tokens
 *   ngx_photo_like.c      like / unlike a photo
 *   ngx_photo_comment.c   a comment made, a comment deleted
 *   ngx_photo_share.c     accounts linked, photos shared to them
 *   ngx_photo_job.c       a job's JSON payload, submitted to gearmand; the
 *                         steps every write takes before its endpoint
 *   ngx_photo_idempotency.c   Idempotency-Key: a retry gets the first answer
 *   ngx_photo_shard.c     photo ids, in a shard leased from Redis
 */

#ifndef _NGX_PHOTO_WRITE_H_INCLUDED_
#define _NGX_PHOTO_WRITE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include <yajl/yajl_gen.h>
#include <yajl/yajl_tree.h>

#include "ngx_http_photo_module.h"
#include "ngx_photo_backend.h"
#include "photo_contract.h"


typedef struct ngx_photo_write_s  ngx_photo_write_t;
typedef struct ngx_photo_idem_s   ngx_photo_idem_t;

typedef enum {
    NGX_PHOTO_BODY_JSON = 0,
    NGX_PHOTO_BODY_RAW,         /* an image */
    NGX_PHOTO_BODY_NONE
} ngx_photo_body_e;

typedef void (*ngx_photo_write_pt)(ngx_photo_write_t *w);
typedef void (*ngx_photo_write_task_pt)(ngx_photo_write_t *w, ngx_log_t *log);


/* what failed in a write's task, logged once it is back in the event loop */
typedef struct {
    ngx_uint_t                  level;
    const char                 *what;       /* the call, or NULL */
    u_char                     *on;         /* its file, or NULL */
    ngx_err_t                   err;
} ngx_photo_failed_t;


struct ngx_photo_write_s {
    ngx_http_request_t         *request;
    ngx_photo_write_pt          handler;    /* once body (and session) are in */
    ngx_flag_t                  signed_in;  /* a session is required */

    ngx_str_t                   token;
    int64_t                     user_id;    /* who is signed in */
    int64_t                     target_id;  /* from the path, if any */

    ngx_photo_body_e            body_type;
    yajl_val                    json;       /* the body, parsed */
    ngx_str_t                   body;       /* the body as received */
    void                       *data;       /* the handler's own */
    ngx_photo_idem_t           *idem;       /* its Idempotency-Key, or NULL */

    ngx_photo_write_task_pt     task;       /* ngx_photo_write_task() */
    ngx_photo_write_pt          done;
    ngx_photo_failed_t          failed;
};


/* Read the body, check the session if signed_in, then call handler;
 * answers 400/401/413 itself.  A content handler's return value. */
ngx_int_t ngx_photo_write_start(ngx_http_request_t *r,
    ngx_photo_write_pt handler, ngx_flag_t signed_in,
    ngx_photo_body_e body_type, int64_t target_id);

/*
 * ngx_photo_job.c: the body (and session) are in: the Idempotency-Key's
 * record, an id shard, then w->handler.  Called by ngx_photo_body.c.
 */
void ngx_photo_write_ready(ngx_photo_write_t *w);

/*
 * ngx_photo_shard.c.  ngx_photo_shard_wait: next(w) once this worker holds
 * an id shard lease (at once when it does), or the request answered 503.
 * ngx_photo_next_id: the next photo / request id of this worker, or 0
 * (logged), for a write that has waited.
 */
ngx_int_t ngx_photo_shard_init_process(ngx_cycle_t *cycle,
    ngx_http_photo_main_conf_t *pmcf);
void ngx_photo_shard_wait(ngx_photo_write_t *w, ngx_photo_write_pt next);
int64_t ngx_photo_next_id(ngx_http_request_t *r);

/*
 * ngx_photo_idempotency.c.
 *
 * ngx_photo_idem_key: the request's Idempotency-Key (empty without one):
 * NGX_OK, or NGX_ERROR when it is malformed or given twice.
 *
 * ngx_photo_idem_begin: next(w) for a write without a key, or with a key
 * first seen (or whose last attempt ended without a final answer);
 * otherwise answers the request itself: the kept answer, 409 while
 * another attempt runs, 422 for another body, 503 when Redis fails.
 *
 * ngx_photo_idem_keep: kept(data) once the job is in the key's record
 * (at once without a key); answers the request itself when it cannot be.
 *
 * ngx_photo_idem_answer: from ngx_photo_send, for every JSON answer:
 * NGX_DECLINED (send it now) or NGX_DONE (it is sent once stored).
 */
ngx_int_t ngx_photo_idem_key(ngx_http_request_t *r, ngx_str_t *key);
void ngx_photo_idem_begin(ngx_photo_write_t *w, ngx_photo_write_pt next);
void ngx_photo_idem_keep(ngx_photo_write_t *w, ngx_str_t *function,
    int64_t id, ngx_str_t *payload, void (*kept)(void *data), void *data);
ngx_int_t ngx_photo_idem_answer(ngx_http_request_t *r, ngx_uint_t status,
    ngx_chain_t *out, off_t length);

/*
 * ngx_photo_body.c: task(w, log), then done(w).  The task runs in a thread
 * of photo_media_thread_pool when there is one (the request waits for it as
 * for nginx's own thread tasks), else here; so it only does I/O and
 * computes: no allocation from the request's pool, no logging but debug to
 * log.  What it left in w->failed is logged, and the request ends with a
 * 500, instead of done(w).
 */
void ngx_photo_write_task(ngx_photo_write_t *w, ngx_photo_write_task_pt task,
    ngx_photo_write_pt done);

/* Ends the request with a JSON error. */
void ngx_photo_write_fail(ngx_photo_write_t *w, ngx_uint_t status,
    const char *code, const char *fmt, ...);

/*
 * Members of the body, checked: NGX_OK, NGX_DECLINED (absent and optional)
 * or NGX_ERROR (the request is already answered with a 400 naming the
 * field).
 */
ngx_int_t ngx_photo_json_string(ngx_photo_write_t *w, const char *name,
    ngx_flag_t required, size_t min, size_t max, ngx_str_t *value);
ngx_int_t ngx_photo_json_number(ngx_photo_write_t *w, const char *name,
    ngx_flag_t required, double min, double max, double *value);

/* ngx_photo_job.c: submit; the answer is 202 {"id","status":"queued"} */
void ngx_photo_job_submit(ngx_photo_write_t *w, const char *function,
    int64_t id, ngx_str_t *payload);

/*
 * A background write's payload: ngx_photo_job_begin gives the write its id
 * (its gearman unique key) and a generator with the map open and "unique"
 * in it, or NULL with the request answered (503 without an id shard);
 * ngx_photo_job_end closes the map and submits it as function.
 */
yajl_gen ngx_photo_job_begin(ngx_photo_write_t *w, int64_t *id);
void ngx_photo_job_end(ngx_photo_write_t *w, yajl_gen g,
    const char *function, int64_t id);

/* Postgres asked sql with the write's target id as $1: handler(w, ...) */
void ngx_photo_write_lookup(ngx_photo_write_t *w, const char *sql,
    ngx_photo_result_pt handler);
void ngx_photo_write_answer(ngx_photo_write_t *w, ngx_uint_t status,
    ngx_str_t *json);

/* the handlers behind the routes */
ngx_int_t ngx_photo_signup_handler(ngx_http_request_t *r);
ngx_int_t ngx_photo_signin_handler(ngx_http_request_t *r);
ngx_int_t ngx_photo_signout_handler(ngx_http_request_t *r);
ngx_int_t ngx_photo_post_handler(ngx_http_request_t *r);
ngx_int_t ngx_photo_delete_handler(ngx_http_request_t *r, int64_t photo_id);
ngx_int_t ngx_photo_media_handler(ngx_http_request_t *r);
ngx_int_t ngx_photo_follow_handler(ngx_http_request_t *r, int64_t followee);
ngx_int_t ngx_photo_device_handler(ngx_http_request_t *r);
ngx_int_t ngx_photo_like_handler(ngx_http_request_t *r, int64_t photo_id);
ngx_int_t ngx_photo_comment_handler(ngx_http_request_t *r, int64_t photo_id);
ngx_int_t ngx_photo_uncomment_handler(ngx_http_request_t *r,
    int64_t comment_id);
ngx_int_t ngx_photo_link_handler(ngx_http_request_t *r, ngx_str_t *service);
ngx_int_t ngx_photo_share_handler(ngx_http_request_t *r, int64_t photo_id);

/*
 * ngx_photo_like.c: found(w, owner) once Postgres says the photo w->target_id
 * exists, with its poster's id; else the request answered 404 (or 503).
 */
void ngx_photo_photo_exists(ngx_photo_write_t *w,
    void (*found)(ngx_photo_write_t *w, int64_t owner));


#endif /* _NGX_PHOTO_WRITE_H_INCLUDED_ */
