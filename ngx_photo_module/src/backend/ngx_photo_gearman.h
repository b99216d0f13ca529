
/*
 * The module's Gearman client: submits jobs to gearmand without blocking,
 * on the connection engine (nginx peer connections kept alive per worker
 * process), one job per connection at a time.  Background jobs (the write
 * path) are answered once gearmand has stored them in its persistent
 * queue; foreground jobs (sign-up, sign-in) once a worker has done them.
 */

#ifndef _NGX_PHOTO_GEARMAN_H_INCLUDED_
#define _NGX_PHOTO_GEARMAN_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_photo_backend.h"


/* the largest result (or exception) taken from a worker */
#define NGX_PHOTO_GM_RESULT_MAX  (1024 * 1024)


/*
 * A job's answer, reply.gearman of an NGX_PHOTO_DONE result: background,
 * gearmand has stored the job (data: its job handle); foreground, the
 * worker's WORK_COMPLETE (data: its data, WORK_DATA before it included),
 * or WORK_FAIL (failed, no data) or WORK_EXCEPTION (failed, data: the
 * exception's).  In the request's pool, valid during the call at least.
 * Otherwise the status says: gearmand unreachable (NGX_PHOTO_AWAY), timed
 * out or no worker answered in time (NGX_PHOTO_TIMEDOUT), refused the job
 * (an ERROR packet) or broke the protocol (NGX_PHOTO_BAD_REPLY), logged
 * at NGX_LOG_ERR naming the server.
 */
typedef struct ngx_photo_gm_result_s {
    ngx_str_t                   data;
    unsigned                    failed:1;
} ngx_photo_gm_result_t;


/*
 * photo_gearman, photo_gearman_timeout; ngx_photo_backend_conf_t first.
 * Each worker keeps its idle connections from init_process to
 * exit_process.
 */
extern ngx_module_t  ngx_http_photo_gearman_module;

/*
 * SUBMIT_JOB_BG (background = 1) or SUBMIT_JOB (background = 0) of
 * function with the unique key and payload (all copied), to the gearmand
 * the unique key routes to (photo_route_gearman()), and to the next ones
 * in photo_gearman's order when that one is away or refuses the job before
 * storing it.  Connecting, sending and gearmand's JOB_CREATED are bounded
 * by photo_gearman_timeout, on each gearmand tried; a foreground job's
 * wait for the worker's answer after that by timeout (0:
 * photo_gearman_timeout too).  Returns as every client's start call
 * (ngx_photo_backend.h): NGX_DECLINED when no gearmand took it at once
 * (each that failed in the last second is skipped without trying to
 * connect); NGX_ERROR also for a function name or unique key gearman
 * cannot carry.  The handler is followed by ngx_http_run_posted_requests().
 * If r->pool is destroyed first, the connection is closed (a job may have
 * been submitted: the unique key makes a retry the same job).
 */
ngx_int_t ngx_photo_gm_submit(ngx_http_request_t *r, ngx_str_t *function,
    ngx_str_t *unique, ngx_str_t *payload, ngx_uint_t background,
    ngx_msec_t timeout, ngx_photo_result_pt handler, void *data);

/*
 * A background job to photo_gearman's server'th gearmand alone, never
 * another (/health asks each whether its queue stores jobs).
 */
ngx_int_t ngx_photo_gm_submit_to(ngx_http_request_t *r, ngx_uint_t server,
    ngx_str_t *function, ngx_str_t *unique, ngx_str_t *payload,
    ngx_photo_result_pt handler, void *data);


#endif /* _NGX_PHOTO_GEARMAN_H_INCLUDED_ */
