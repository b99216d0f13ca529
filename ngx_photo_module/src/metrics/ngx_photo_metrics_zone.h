
/*
 * Inside the metrics zone: what ngx_photo_metrics.c counts into and
 * ngx_photo_metrics_handler.c reads out.  Nothing else includes this.
 */

#ifndef _NGX_PHOTO_METRICS_ZONE_H_INCLUDED_
#define _NGX_PHOTO_METRICS_ZONE_H_INCLUDED_


#include "ngx_photo_metrics.h"


/* more slots than worker processes this service runs with; workers past
   that share a slot (their adds stay atomic) */
#define NGX_PHOTO_METRICS_SLOTS    32

/* the histograms' upper bounds, 0.5 ms ... 2.5 s, and +Inf */
#define NGX_PHOTO_METRICS_BUCKETS  12

#define NGX_PHOTO_METRICS_BOUNDS                                             \
    { 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000,    \
      1000000, 2500000 }

#define NGX_PHOTO_METRICS_BOUND_NAMES                                        \
    { "0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1",  \
      "0.25", "0.5", "1", "2.5" }


typedef struct {
    ngx_atomic_t                bucket[NGX_PHOTO_METRICS_BUCKETS + 1];
    ngx_atomic_t                sum;        /* microseconds */
} ngx_photo_histogram_t;


typedef struct {
    ngx_atomic_t                requests[5];    /* 1xx ... 5xx */
    ngx_atomic_t                slow;           /* over photo_slow_request */
    ngx_photo_histogram_t       duration;
} ngx_photo_metrics_ep_t;


/* One backend server. */
typedef struct {
    ngx_atomic_t                calls;
    ngx_atomic_t                errors;     /* away, or a bad reply */
    ngx_atomic_t                timeouts;
    ngx_atomic_t                reconnects;
    ngx_atomic_t                open;       /* gauges: added +1 and -1 */
    ngx_atomic_t                idle;
    ngx_photo_histogram_t       duration;
} ngx_photo_metrics_server_t;


/* One worker slot; slot_size apart in the zone. */
typedef struct {
    ngx_photo_metrics_ep_t      endpoint[NGX_PHOTO_EP_N];
    ngx_atomic_t                counter[NGX_PHOTO_M_N];
    ngx_photo_metrics_server_t  server[1];  /* nservers of them */
} ngx_photo_metrics_slot_t;


/* The zone's head; the slots follow it. */
typedef struct {
    uint32_t                    layout;     /* crc32 of the servers' names,
                                               in the zone's name */
    ngx_uint_t                  nservers;
    size_t                      slot_size;
} ngx_photo_metrics_shm_t;


/* A backend server by its place in the zone: what its labels say. */
typedef struct {
    const char                 *backend;    /* "memcached" */
    ngx_str_t                  *name;       /* as written */
} ngx_photo_metrics_peer_t;


typedef struct {
    ngx_flag_t                  enabled;    /* a photo_metrics location */
    ngx_msec_t                  slow;       /* photo_slow_request, 0: off */
    ngx_int_t                   request_id; /* $request_id's index */

    ngx_shm_zone_t             *zone;
    ngx_photo_metrics_shm_t    *shm;        /* in it */
    size_t                      slot_size;
    ngx_uint_t                  nservers;   /* of every backend */
    ngx_photo_metrics_peer_t   *peers;      /* nservers of them, by zone
                                               place (bcf->metrics + i) */
    uint32_t                    layout;

    ngx_photo_metrics_slot_t   *slot;       /* this worker's */
    ngx_http_log_handler_pt     log_handler;    /* nginx's, wrapped */
} ngx_photo_metrics_main_conf_t;


extern const char  *ngx_photo_endpoint_names[NGX_PHOTO_EP_N];

ngx_int_t ngx_photo_metrics_handler(ngx_http_request_t *r);


#define ngx_photo_metrics_slot(shm, n)                                       \
    ((ngx_photo_metrics_slot_t *) ((u_char *) (shm)                          \
                                   + sizeof(ngx_photo_metrics_shm_t)         \
                                   + (n) * (shm)->slot_size))


#endif /* _NGX_PHOTO_METRICS_ZONE_H_INCLUDED_ */
