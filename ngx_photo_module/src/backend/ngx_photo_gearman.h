
/*
 * The module's Gearman client: submits jobs to gearmand without blocking,
 * over nginx peer connections kept alive per worker process, one job per
 * connection at a time.  Background jobs (the write path) are answered
 * once gearmand has stored them in its persistent queue; foreground jobs
 * (sign-up, sign-in) once a worker has done them.
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
 * rc:
 *   NGX_OK        background: gearmand has stored the job (result: its
 *                 job handle); foreground: WORK_COMPLETE (result: the
 *                 worker's data, WORK_DATA before it included);
 *   NGX_DECLINED  foreground: WORK_FAIL (result empty) or WORK_EXCEPTION
 *                 (result: the exception's data);
 *   NGX_ERROR     gearmand unreachable, timed out, refused the job (an
 *                 ERROR packet) or broke the protocol, or no worker
 *                 answered in time: already logged at NGX_LOG_ERR, naming
 *                 the server (result empty).
 * result is in the request's pool, valid during the call at least.
 */
typedef void (*ngx_photo_gm_handler_pt)(void *data, ngx_int_t rc,
    ngx_str_t *result);


/*
 * photo_gearman, photo_gearman_timeout; ngx_photo_backend_conf_t first.
 * Each worker keeps its idle connections from init_process to
 * exit_process.
 */
extern ngx_module_t  ngx_http_photo_gearman_module;

/*
 * SUBMIT_JOB_BG (background = 1) or SUBMIT_JOB (background = 0) of
 * function with the unique key and payload (all copied).  Connecting,
 * sending and gearmand's JOB_CREATED are bounded by photo_gearman_timeout;
 * a foreground job's wait for the worker's answer after that by timeout
 * (0: photo_gearman_timeout too).  After a failure of gearmand, jobs fail
 * at once for a second, without trying to connect.
 *
 *   NGX_AGAIN  handler is called exactly once, later, from an event
 *              handler (never from inside this call), then
 *              ngx_http_run_posted_requests();
 *   NGX_ERROR  out of memory, a function name or unique key gearman
 *              cannot carry, or no "photo_gearman" (logged): handler is
 *              not called.
 *
 * If r->pool is destroyed first, the connection is closed (a job may have
 * been submitted: the unique key makes a retry the same job) and handler
 * is never called.
 */
ngx_int_t ngx_photo_gm_submit(ngx_http_request_t *r, ngx_str_t *function,
    ngx_str_t *unique, ngx_str_t *payload, ngx_uint_t background,
    ngx_msec_t timeout, ngx_photo_gm_handler_pt handler, void *data);


#endif /* _NGX_PHOTO_GEARMAN_H_INCLUDED_ */
