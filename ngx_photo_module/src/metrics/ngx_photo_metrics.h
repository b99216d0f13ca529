
/*
 * The module's metrics (ngx_http_photo_metrics_module): counters and
 * histograms in a shared memory zone, served in Prometheus's text format
 * by a location with "photo_metrics", like stub_status; and the slow
 * request's line ("photo_slow_request").
 *
 * The zone holds one block of counters per worker slot (ngx_worker modulo
 * NGX_PHOTO_METRICS_SLOTS): a worker adds to its own block only, with
 * ngx_atomic_fetch_add() (an old and a new worker of one slot overlap
 * during a reload), so the request path takes no lock and shares no cache
 * line with the other workers; /metrics sums the blocks.
 *
 * Every call below is cheap and does nothing when neither photo_metrics
 * nor photo_slow_request is configured.
 */

#ifndef _NGX_PHOTO_METRICS_H_INCLUDED_
#define _NGX_PHOTO_METRICS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_photo_backend.h"


/* The API's endpoints, as the router tells them (the "endpoint" label). */
typedef enum {
    NGX_PHOTO_EP_OTHER = 0,     /* no endpoint: 404, 405, a bad id */
    NGX_PHOTO_EP_HEALTH,
    NGX_PHOTO_EP_FEED,
    NGX_PHOTO_EP_USER_PHOTOS,
    NGX_PHOTO_EP_PHOTO,
    NGX_PHOTO_EP_NEARBY,
    NGX_PHOTO_EP_SIGNUP,
    NGX_PHOTO_EP_SIGNIN,
    NGX_PHOTO_EP_SIGNOUT,
    NGX_PHOTO_EP_MEDIA,
    NGX_PHOTO_EP_POST,
    NGX_PHOTO_EP_DELETE,
    NGX_PHOTO_EP_FOLLOW,
    NGX_PHOTO_EP_DEVICE,
    NGX_PHOTO_EP_LIKE,          /* like, unlike */
    NGX_PHOTO_EP_COMMENT,       /* a comment made or deleted */
    NGX_PHOTO_EP_COMMENTS,      /* a photo's comments read */
    NGX_PHOTO_EP_ACTIVITY,
    NGX_PHOTO_EP_LINK,          /* an account linked or unlinked */
    NGX_PHOTO_EP_SHARE,
    NGX_PHOTO_EP_USER,          /* a profile read (/v1/users/{id}, /v1/me) */
    NGX_PHOTO_EP_N
} ngx_photo_endpoint_e;


/* The read and write paths' own counters. */
typedef enum {
    NGX_PHOTO_M_OBJECTS_REQUESTED = 0,  /* photo objects a page asked for */
    NGX_PHOTO_M_OBJECTS_OCACHE,         /* served from photo_object_cache */
    NGX_PHOTO_M_OBJECTS_MEMCACHED,      /* from memcached */
    NGX_PHOTO_M_OBJECTS_POSTGRES,       /* read through Postgres */
    NGX_PHOTO_M_OBJECTS_WRITTEN_BACK,   /* put into memcached after that */
    NGX_PHOTO_M_LIST_REBUILDS,          /* a user's list rebuilt from
                                           Postgres */
    NGX_PHOTO_M_JOBS_SUBMITTED,         /* writes handed to gearmand */
    NGX_PHOTO_M_JOBS_REFUSED,           /* gearmand away or refusing */
    NGX_PHOTO_M_JOBS_TIMEDOUT,          /* no answer within the timeout */
    NGX_PHOTO_M_N
} ngx_photo_counter_e;


/* What happened to a backend's connection (ngx_photo_metrics_conn()). */
typedef enum {
    NGX_PHOTO_CONN_OPENED = 0,  /* a new connection */
    NGX_PHOTO_CONN_CLOSED,      /* one closed (idle or not) */
    NGX_PHOTO_CONN_KEPT,        /* put into the keepalive cache */
    NGX_PHOTO_CONN_TAKEN,       /* taken from it again (or closed there:
                                   follow with NGX_PHOTO_CONN_CLOSED) */
    NGX_PHOTO_CONN_RECONNECT    /* a lost connection made again, or a
                                   retry on a fresh one after a stale one */
} ngx_photo_conn_event_e;


/* A backend call's start, for ngx_photo_metrics_backend(). */
typedef uint64_t  ngx_photo_usec_t;


extern ngx_module_t  ngx_http_photo_metrics_module;


/* Monotonic microseconds: what every duration here is measured with. */
ngx_photo_usec_t ngx_photo_metrics_now(void);

/*
 * The router: this request is the API's, at endpoint ep; its time counts
 * from here.  Called again when the endpoint is known better.
 */
void ngx_photo_metrics_request(ngx_http_request_t *r,
    ngx_photo_endpoint_e ep);

/* Who is signed in, for the slow request's line. */
void ngx_photo_metrics_user(ngx_http_request_t *r, int64_t user_id);

/* n more of a read or write path counter. */
void ngx_photo_metrics_add(ngx_http_request_t *r, ngx_photo_counter_e c,
    ngx_uint_t n);

/* A write's job handed to gearmand: submitted (NGX_PHOTO_DONE), timed out,
   or refused (any other, NGX_PHOTO_AWAY for one refused at once). */
void ngx_photo_metrics_job(ngx_http_request_t *r, ngx_photo_status_e status);

/*
 * A backend call ended (status as its callback got it, or AWAY for one
 * refused at once): counted for server (an index into bcf->servers), its
 * time from start into the histogram and, with r, into the request's
 * stages.  r may be NULL (a call of the worker's own).
 */
void ngx_photo_metrics_backend(ngx_http_request_t *r,
    ngx_photo_backend_conf_t *bcf, ngx_uint_t server,
    ngx_photo_status_e status, ngx_photo_usec_t start);

/*
 * The request's part only: r waited on server from start, with status.
 * For a call that several requests share (a memcached batch), counted
 * once by the call and waited on by each of them.
 */
void ngx_photo_metrics_wait(ngx_http_request_t *r,
    ngx_photo_backend_conf_t *bcf, ngx_uint_t server,
    ngx_photo_status_e status, ngx_photo_usec_t start);

/* Connections of server: open, idle in the keepalive cache, reconnects. */
void ngx_photo_metrics_conn(ngx_photo_backend_conf_t *bcf, ngx_uint_t server,
    ngx_photo_conn_event_e ev);

/* $request_id, which the error's JSON and the module's log lines carry:
   NGX_OK, or NGX_DECLINED */
ngx_int_t ngx_photo_metrics_request_id(ngx_http_request_t *r, ngx_str_t *id);


#endif /* _NGX_PHOTO_METRICS_H_INCLUDED_ */
