
/*
 * Photo id shards, leased from Redis (photo_contract.h,
 * PHOTO_REDIS_ID_SHARD): each worker process gives ids in a shard that no
 * other live generator holds, whatever runs beside it: the workers of a
 * reload or of a binary upgrade still finishing their requests, other
 * nginx on this machine or on others.  There is nothing to configure.
 *
 * A write waits, before its handler runs, until its worker holds a lease
 * with at least NGX_PHOTO_SHARD_MARGIN left.  When the worker holds none
 * (its first write, or the hour is nearly over), one Lua script leases the
 * next free shard, and every write of the worker that comes meanwhile
 * waits for that same answer.  No timers, no renewals: a worker that
 * writes nothing leases nothing.
 */

#include "ngx_photo_write.h"
#include "ngx_photo_answer.h"
#include "ngx_photo_redis.h"
#include "ngx_photo_id.h"


/*
 * A write that begins with less of the lease left waits for a new one:
 * what it does before it takes its id (backend calls, each bounded by its
 * timeout) fits in this.
 */
#define NGX_PHOTO_SHARD_MARGIN   60000

/* how far ids may run ahead of the clock (ngx_photo_id.h), at most 1 s:
   the lease's slack covers it */
#define NGX_PHOTO_SHARD_AHEAD    1000

#define NGX_PHOTO_SHARD_ARGS     8


typedef struct {
    ngx_queue_t                 queue;
    ngx_photo_write_t          *write;
    ngx_photo_write_pt          next;
    ngx_flag_t                  queued;
} ngx_photo_shard_waiter_t;


struct ngx_photo_shard_s {
    ngx_photo_id_gen_t          gen;
    ngx_flag_t                  leased;     /* gen has a shard */
    ngx_msec_t                  until;      /* ngx_current_msec it ends at */
    ngx_msec_t                  asked;      /* when the one out was asked */
    ngx_flag_t                  asking;
    ngx_queue_t                 waiting;    /* of ngx_photo_shard_waiter_t */
    ngx_log_t                  *log;
    ngx_str_t                   holder;     /* "<host>:<pid>", in Redis */
};


static ngx_int_t ngx_photo_shard_ask(ngx_photo_shard_t *s);
static void ngx_photo_shard_leased(void *data, ngx_photo_result_t *res);
static void ngx_photo_shard_gone(void *data);


/*
 * KEYS[1] the counter; ARGV: lease key prefix, holder, number of shards,
 * the lease key's expiry (ms).  Returns the shard, from the counter on, the
 * first whose lease key was free; an error when none is.
 */
static ngx_str_t  ngx_photo_shard_script = ngx_string(
    "local n = tonumber(ARGV[3]) "
    "for i = 1, n do "
    "local s = redis.call('INCR', KEYS[1]) % n "
    "if redis.call('SET', ARGV[1] .. s, ARGV[2], 'NX', 'PX', ARGV[4]) then "
    "return s end "
    "end "
    "return redis.error_reply('every id shard is leased')");


ngx_int_t
ngx_photo_shard_init_process(ngx_cycle_t *cycle,
    ngx_http_photo_main_conf_t *pmcf)
{
    ngx_photo_shard_t  *s;

    s = ngx_pcalloc(cycle->pool, sizeof(ngx_photo_shard_t));
    if (s == NULL) {
        return NGX_ERROR;
    }

    s->holder.data = ngx_pnalloc(cycle->pool,
                                 cycle->hostname.len + 1 + NGX_INT64_LEN);
    if (s->holder.data == NULL) {
        return NGX_ERROR;
    }

    s->holder.len = ngx_sprintf(s->holder.data, "%V:%P", &cycle->hostname,
                                ngx_pid)
                    - s->holder.data;

    ngx_queue_init(&s->waiting);
    s->log = cycle->log;

    pmcf->shard = s;

    return NGX_OK;
}


void
ngx_photo_shard_wait(ngx_photo_write_t *w, ngx_photo_write_pt next)
{
    ngx_int_t                    rc;
    ngx_photo_shard_t           *s;
    ngx_pool_cleanup_t          *cln;
    ngx_http_request_t          *r;
    ngx_photo_shard_waiter_t    *waiter;
    ngx_http_photo_main_conf_t  *pmcf;

    r = w->request;
    pmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_module);
    s = pmcf->shard;

    if (s->leased
        && (ngx_msec_int_t) (s->until - ngx_current_msec)
           >= NGX_PHOTO_SHARD_MARGIN)
    {
        next(w);
        return;
    }

    waiter = ngx_palloc(r->pool, sizeof(ngx_photo_shard_waiter_t));
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (waiter == NULL || cln == NULL) {
        ngx_http_finalize_request(r, NGX_HTTP_INTERNAL_SERVER_ERROR);
        return;
    }

    waiter->write = w;
    waiter->next = next;
    waiter->queued = 1;
    ngx_queue_insert_tail(&s->waiting, &waiter->queue);

    cln->handler = ngx_photo_shard_gone;
    cln->data = waiter;

    if (s->asking) {
        return;
    }

    rc = ngx_photo_shard_ask(s);

    if (rc == NGX_AGAIN) {
        return;
    }

    /* no lease was out, so this write is the only one waiting */
    ngx_queue_remove(&waiter->queue);
    waiter->queued = 0;

    ngx_photo_wait_again(r, rc, "redis");
}


static ngx_int_t
ngx_photo_shard_ask(ngx_photo_shard_t *s)
{
    u_char      *p;
    ngx_int_t    rc;
    size_t       argvlen[NGX_PHOTO_SHARD_ARGS];
    const char  *argv[NGX_PHOTO_SHARD_ARGS];
    u_char       num[2 * NGX_INT_T_LEN];

    /* EVAL script 1 counter prefix holder shards expiry */

    argv[0] = "EVAL";
    argvlen[0] = 4;
    argv[1] = (char *) ngx_photo_shard_script.data;
    argvlen[1] = ngx_photo_shard_script.len;
    argv[2] = "1";
    argvlen[2] = 1;
    argv[3] = PHOTO_REDIS_ID_SHARD_NEXT;
    argvlen[3] = sizeof(PHOTO_REDIS_ID_SHARD_NEXT) - 1;
    argv[4] = PHOTO_REDIS_ID_SHARD;
    argvlen[4] = sizeof(PHOTO_REDIS_ID_SHARD) - 1;
    argv[5] = (char *) s->holder.data;
    argvlen[5] = s->holder.len;

    p = num;
    argv[6] = (char *) p;
    p = ngx_sprintf(p, "%ui", (ngx_uint_t) NGX_PHOTO_ID_SHARD_MAX + 1);
    argvlen[6] = p - (u_char *) argv[6];

    argv[7] = (char *) p;
    p = ngx_sprintf(p, "%ui", (ngx_uint_t) (PHOTO_ID_LEASE_MS
                                            + PHOTO_ID_LEASE_SLACK_MS));
    argvlen[7] = p - (u_char *) argv[7];

    /* the lease is counted from before it is asked for */
    s->asked = ngx_current_msec;

    rc = ngx_photo_redis_worker_command(ngx_photo_shard_leased, s,
                                        NGX_PHOTO_SHARD_ARGS, argv, argvlen);

    if (rc == NGX_AGAIN) {
        s->asking = 1;
    }

    return rc;
}


static void
ngx_photo_shard_leased(void *data, ngx_photo_result_t *res)
{
    ngx_photo_shard_t  *s = data;

    ngx_int_t                  ok;
    ngx_queue_t               *q;
    ngx_http_request_t        *r;
    ngx_photo_shard_waiter_t  *waiter;
    redisReply                *reply;

    /* NULL: Redis failed (said in the log) */
    reply = res->reply.redis;

    s->asking = 0;

    ok = reply != NULL && reply->type == REDIS_REPLY_INTEGER
         && reply->integer >= 0 && reply->integer <= NGX_PHOTO_ID_SHARD_MAX;

    if (ok) {
        if (s->leased) {
            (void) ngx_photo_id_set_shard(&s->gen, (uint32_t) reply->integer);

        } else {
            (void) ngx_photo_id_init(&s->gen, (uint32_t) reply->integer,
                                     NGX_PHOTO_SHARD_AHEAD);
        }

        s->leased = 1;
        s->until = s->asked + PHOTO_ID_LEASE_MS;

        ngx_log_error(NGX_LOG_NOTICE, s->log, 0,
                      "photo: id shard %L leased by %V for %d s",
                      (int64_t) reply->integer, &s->holder,
                      PHOTO_ID_LEASE_MS / 1000);

    } else if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "photo: no id shard leased: %*s", reply->len,
                      reply->str);

    } else if (reply != NULL) {
        ngx_log_error(NGX_LOG_ERR, s->log, 0,
                      "photo: no id shard leased: a reply of type %d",
                      reply->type);
    }

    /* each waiting write goes on, or is answered 503 */

    while (!ngx_queue_empty(&s->waiting)) {
        q = ngx_queue_head(&s->waiting);
        ngx_queue_remove(q);

        waiter = ngx_queue_data(q, ngx_photo_shard_waiter_t, queue);
        waiter->queued = 0;

        if (ok) {
            waiter->next(waiter->write);
            continue;
        }

        r = waiter->write->request;
        ngx_http_finalize_request(r, ngx_photo_unavailable(r, reply ? "ids"
                                                                   : "redis"));
    }
}


/* A waiting write whose request ended (the client left). */

static void
ngx_photo_shard_gone(void *data)
{
    ngx_photo_shard_waiter_t  *waiter = data;

    if (waiter->queued) {
        ngx_queue_remove(&waiter->queue);
        waiter->queued = 0;
    }
}


int64_t
ngx_photo_next_id(ngx_http_request_t *r)
{
    int64_t                      id;
    uint64_t                     now;
    ngx_time_t                  *tp;
    ngx_photo_shard_t           *s;
    ngx_http_photo_main_conf_t  *pmcf;

    pmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_module);
    s = pmcf->shard;

    /* never past the lease: by then the shard may be somebody else's */
    if (!s->leased || (ngx_msec_int_t) (s->until - ngx_current_msec) <= 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "photo: no id can be given now: this worker's id "
                      "shard lease is over");
        return 0;
    }

    tp = ngx_timeofday();
    now = (uint64_t) tp->sec * 1000 + tp->msec;

    if (ngx_photo_id_next(&s->gen, now, &id) != 0) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "photo: no id can be given now: the clock is behind "
                      "the ids already given by more than a second");
        return 0;
    }

    return id;
}
