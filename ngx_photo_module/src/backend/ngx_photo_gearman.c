
/*
 * The Gearman client: one job per connection at a time, on the connection
 * engine (ngx_photo_conn.c), which keeps idle connections to each gearmand
 * in each worker; replies parsed in place by ngx_photo_gearman_parser.c.
 *
 * With several gearmand, a job goes to the one its unique key hashes to
 * (photo_route_gearman(), as the workers' own submissions), and to the
 * next ones in the list when that one is away or refuses it before it is
 * stored: gearmand then never stored it, or (a crash between storing and
 * answering) stored it too, which the idempotent workers apply once.  A
 * timeout is not failed over: the job's fate is unknown, and its time is
 * spent.
 *
 * A new connection first asks for the "exceptions" option, in the same
 * write as its first job, so that a worker's WORK_EXCEPTION reaches us
 * with its data instead of as a bare WORK_FAIL; kept connections have it.
 */

#include "ngx_photo_gearman.h"
#include "ngx_photo_gearman_parser.h"
#include "ngx_photo_conn.h"
#include "photo_route.h"


#define NGX_PHOTO_GM_PORT          4730
#define NGX_PHOTO_GM_BUFFER_SIZE   1024    /* replies are small */
#define NGX_PHOTO_GM_KEEPALIVE     16      /* idle connections per worker */
#define NGX_PHOTO_GM_LOG_MAX       256     /* of gearmand's words logged */

/* a result and its job handle */
#define NGX_PHOTO_GM_PACKET_MAX    (NGX_PHOTO_GM_RESULT_MAX + 256)


typedef struct ngx_photo_gm_s  ngx_photo_gm_t;


typedef struct {
    ngx_photo_backend_conf_t    backend;     /* first */
    ngx_photo_gm_t             *state;       /* per worker process */
} ngx_photo_gm_conf_t;


/* One gearmand as the worker process sees it. */
typedef struct {
    ngx_photo_server_t         *server;
    char                       *action;      /* "submitting a job to ..." */
    ngx_photo_peer_t            peer;
} ngx_photo_gm_node_t;


/* The worker's client: every gearmand of photo_gearman, in its order. */
struct ngx_photo_gm_s {
    ngx_photo_gm_node_t        *nodes;
    ngx_uint_t                  nnodes;
};


typedef enum {
    ngx_photo_gm_st_option = 0,     /* OPTION_RES expected */
    ngx_photo_gm_st_created,        /* JOB_CREATED expected */
    ngx_photo_gm_st_result          /* the worker's WORK_* expected */
} ngx_photo_gm_state_e;


/* One submission: one connection at a time, one job. */
typedef struct {
    ngx_photo_conn_t            conn;        /* OPTION_REQ, SUBMIT_JOB* */
    ngx_http_request_t         *request;
    ngx_photo_gm_conf_t        *gmcf;
    ngx_uint_t                  first;       /* the node tried first */
    ngx_uint_t                  tries;       /* nodes tried so far */
    ngx_uint_t                  ntries;      /* at most (1: no failover) */
    ngx_str_t                   encoded;     /* what is sent, each node */
    size_t                      option_len;  /* not sent when kept alive */
    ngx_str_t                   function;    /* in the request, for logs */

    ngx_photo_gm_parser_t       parser;
    ngx_photo_gm_state_e        state;

    ngx_str_t                   handle;      /* from JOB_CREATED */
    ngx_str_t                   collected;   /* WORK_DATA so far */
    size_t                      collected_size;
    ngx_photo_gm_result_t       answer;
    ngx_photo_result_t          result;
    ngx_msec_t                  timeout;     /* of a worker's answer */

    ngx_photo_result_pt         handler;
    void                       *data;

    unsigned                    background:1;
    unsigned                    done:1;      /* handler called, or never */
} ngx_photo_gm_job_t;


static void *ngx_http_photo_gearman_create_conf(ngx_conf_t *cf);
static char *ngx_http_photo_gearman_init_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_http_photo_gearman_init_process(ngx_cycle_t *cycle);
static void ngx_http_photo_gearman_exit_process(ngx_cycle_t *cycle);

static ngx_int_t ngx_photo_gm_job(ngx_http_request_t *r, ngx_int_t node,
    ngx_str_t *function, ngx_str_t *unique, ngx_str_t *payload,
    ngx_uint_t background, ngx_msec_t timeout, ngx_photo_result_pt handler,
    void *data);
static ngx_int_t ngx_photo_gm_start(ngx_photo_gm_job_t *job);
static ngx_uint_t ngx_photo_gm_failover(ngx_photo_gm_job_t *job);
static ngx_int_t ngx_photo_gm_encode_job(ngx_photo_gm_job_t *job,
    ngx_str_t *function, ngx_str_t *unique, ngx_str_t *payload);
static ngx_int_t ngx_photo_gm_reinit(ngx_photo_conn_t *conn);
static ngx_int_t ngx_photo_gm_process(ngx_photo_conn_t *conn);
static ngx_int_t ngx_photo_gm_packet(ngx_photo_gm_job_t *job, u_char *w);
static ngx_int_t ngx_photo_gm_answer(ngx_photo_gm_job_t *job, u_char *w);
static ngx_int_t ngx_photo_gm_collect(ngx_photo_gm_job_t *job, u_char *data,
    size_t len);
static void ngx_photo_gm_finalize(ngx_photo_conn_t *conn,
    ngx_photo_status_e status);
static void ngx_photo_gm_cleanup(void *data);


static ngx_command_t  ngx_http_photo_gearman_commands[] = {

    { ngx_string("photo_gearman"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_photo_backend_servers,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      (void *) NGX_PHOTO_GM_PORT },

    { ngx_string("photo_gearman_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_msec_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_photo_gm_conf_t, backend.timeout),
      NULL },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_photo_gearman_module_ctx = {
    NULL,                                  /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_photo_gearman_create_conf,    /* create main configuration */
    ngx_http_photo_gearman_init_conf,      /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_photo_gearman_module = {
    NGX_MODULE_V1,
    &ngx_http_photo_gearman_module_ctx,    /* module context */
    ngx_http_photo_gearman_commands,       /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_photo_gearman_init_process,   /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_photo_gearman_exit_process,   /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_photo_gearman_create_conf(ngx_conf_t *cf)
{
    ngx_photo_gm_conf_t  *gmcf;

    gmcf = ngx_pcalloc(cf->pool, sizeof(ngx_photo_gm_conf_t));
    if (gmcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     gmcf->backend.servers = NULL;
     *     gmcf->backend.pong_alt = { 0, NULL };
     *     gmcf->backend.used = 0;
     *     gmcf->state = NULL;
     */

    gmcf->backend.name = "gearman";
    gmcf->backend.directive = "photo_gearman";
    gmcf->backend.timeout = NGX_CONF_UNSET_MSEC;

    /* gearmand's text admin protocol */
    ngx_str_set(&gmcf->backend.ping, "version\n");
    ngx_str_set(&gmcf->backend.pong, "OK ");

    return gmcf;
}


static char *
ngx_http_photo_gearman_init_conf(ngx_conf_t *cf, void *conf)
{
    ngx_photo_gm_conf_t *gmcf = conf;

    ngx_conf_init_msec_value(gmcf->backend.timeout, 1000);

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_photo_gearman_init_process(ngx_cycle_t *cycle)
{
    size_t                len;
    ngx_uint_t            i;
    ngx_photo_gm_t       *gm;
    ngx_photo_server_t   *server;
    ngx_photo_gm_node_t  *node;
    ngx_photo_gm_conf_t  *gmcf;

    gmcf = ngx_photo_backend_used(cycle, &ngx_http_photo_gearman_module);

    if (gmcf == NULL) {
        return NGX_OK;
    }

    server = gmcf->backend.servers->elts;

    gm = ngx_pcalloc(cycle->pool, sizeof(ngx_photo_gm_t));
    if (gm == NULL) {
        return NGX_ERROR;
    }

    gm->nnodes = gmcf->backend.servers->nelts;
    gm->nodes = ngx_pcalloc(cycle->pool,
                            gm->nnodes * sizeof(ngx_photo_gm_node_t));
    if (gm->nodes == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < gm->nnodes; i++) {
        node = &gm->nodes[i];

        len = sizeof("submitting a job to gearman ") + server[i].name.len;
        node->action = ngx_pnalloc(cycle->pool, len);
        if (node->action == NULL) {
            return NGX_ERROR;
        }

        ngx_sprintf((u_char *) node->action,
                    "submitting a job to gearman %V%Z", &server[i].name);

        /*
         * A gearmand that times out is not counted as failed: one slowed
         * down by its queue's disk is not a dead one, and skipping it would
         * turn a busy second into a second of refusals.
         */

        if (ngx_photo_peer_init(&node->peer, cycle, &gmcf->backend, i,
                                NGX_PHOTO_GM_KEEPALIVE)
            != NGX_OK)
        {
            return NGX_ERROR;
        }

        node->server = &server[i];
    }

    gmcf->state = gm;

    return NGX_OK;
}


static void
ngx_http_photo_gearman_exit_process(ngx_cycle_t *cycle)
{
    ngx_uint_t            i;
    ngx_photo_gm_conf_t  *gmcf;

    gmcf = ngx_photo_backend_used(cycle, &ngx_http_photo_gearman_module);

    if (gmcf == NULL || gmcf->state == NULL) {
        return;
    }

    for (i = 0; i < gmcf->state->nnodes; i++) {
        ngx_photo_peer_close(&gmcf->state->nodes[i].peer);
    }

    gmcf->state = NULL;
}


ngx_int_t
ngx_photo_gm_submit(ngx_http_request_t *r, ngx_str_t *function,
    ngx_str_t *unique, ngx_str_t *payload, ngx_uint_t background,
    ngx_msec_t timeout, ngx_photo_result_pt handler, void *data)
{
    return ngx_photo_gm_job(r, -1, function, unique, payload, background,
                            timeout, handler, data);
}


ngx_int_t
ngx_photo_gm_submit_to(ngx_http_request_t *r, ngx_uint_t server,
    ngx_str_t *function, ngx_str_t *unique, ngx_str_t *payload,
    ngx_photo_result_pt handler, void *data)
{
    return ngx_photo_gm_job(r, server, function, unique, payload, 1, 0,
                            handler, data);
}


/* A job for node (-1: the unique key's, then the others), submitted. */

static ngx_int_t
ngx_photo_gm_job(ngx_http_request_t *r, ngx_int_t node, ngx_str_t *function,
    ngx_str_t *unique, ngx_str_t *payload, ngx_uint_t background,
    ngx_msec_t timeout, ngx_photo_result_pt handler, void *data)
{
    ngx_photo_gm_t       *gm;
    ngx_pool_cleanup_t   *cln;
    ngx_photo_gm_job_t   *job;
    ngx_photo_gm_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_gearman_module);
    gm = gmcf->state;

    if (gm == NULL || (node >= 0 && (ngx_uint_t) node >= gm->nnodes)) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gearman: \"%V\" not submitted: no such "
                      "\"photo_gearman\"", function);
        return NGX_ERROR;
    }

    if (function->len == 0 || function->len > NGX_PHOTO_GM_FUNCTION_MAX
        || unique->len > NGX_PHOTO_GM_UNIQUE_MAX)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gearman: cannot submit \"%V\" with unique key \"%V\": "
                      "too long or empty", function, unique);
        return NGX_ERROR;
    }

    job = ngx_pcalloc(r->pool, sizeof(ngx_photo_gm_job_t));
    if (job == NULL) {
        return NGX_ERROR;
    }

    job->request = r;
    job->gmcf = gmcf;
    job->background = background ? 1 : 0;
    job->timeout = timeout ? timeout : gmcf->backend.timeout;
    job->handler = handler;
    job->data = data;
    job->result.backend = "gearmand";

    if (node >= 0) {
        job->first = node;
        job->ntries = 1;

    } else {
        job->first = photo_route_gearman(unique->data, unique->len,
                                         gm->nnodes);
        job->ntries = gm->nnodes;
    }

    switch (ngx_photo_gm_encode_job(job, function, unique, payload)) {

    case NGX_ERROR:
        return NGX_ERROR;

    case NGX_DECLINED:
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gearman: cannot submit \"%V\" with unique key \"%V\": "
                      "a NUL in either", function, unique);
        return NGX_ERROR;
    }

    /* a request that goes away first takes its connection with it */
    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    cln->handler = ngx_photo_gm_cleanup;
    cln->data = job;

    ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "photo gearman: %s \"%V\" \"%V\", %uz bytes",
                   background ? "SUBMIT_JOB_BG" : "SUBMIT_JOB",
                   function, unique, payload->len);

    if (ngx_photo_gm_start(job) != NGX_AGAIN) {
        job->done = 1;
        return NGX_DECLINED;
    }

    return NGX_AGAIN;
}


/*
 * The job on the next of its nodes that is not skipped: NGX_AGAIN, on its
 * way (finalize comes later); NGX_DECLINED, none took it (the last
 * failure in job->result, all logged).
 */

static ngx_int_t
ngx_photo_gm_start(ngx_photo_gm_job_t *job)
{
    ngx_http_request_t   *r;
    ngx_photo_gm_node_t  *node;

    r = job->request;
    node = NULL;

    while (job->tries < job->ntries) {
        node = &job->gmcf->state->nodes[(job->first + job->tries++)
                                        % job->gmcf->state->nnodes];

        if (ngx_photo_peer_skip(&node->peer)) {
            ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                           "photo gearman %V failed lately: \"%V\" not "
                           "submitted there", &node->server->name,
                           &job->function);

            /* refused at once: a call that failed, for the metrics */
            ngx_photo_metrics_backend(r, &job->gmcf->backend,
                                      node->peer.keepalive.index,
                                      NGX_PHOTO_AWAY,
                                      ngx_photo_metrics_now());

            job->result.status = NGX_PHOTO_AWAY;
            continue;
        }

        /* a fresh exchange: nothing of the last node's carries over */
        ngx_memzero(&job->conn, sizeof(ngx_photo_conn_t));

        job->conn.peer = &node->peer;
        job->conn.caller = r;
        job->conn.server = node->server;
        job->conn.backend = "gearman";
        job->conn.log = *r->connection->log;
        job->conn.log.action = node->action;
        job->conn.pool = r->pool;
        job->conn.buffer_size = NGX_PHOTO_GM_BUFFER_SIZE;
        job->conn.request = job->encoded;

        /* one timer for connect, send and JOB_CREATED, a retry included */
        job->conn.timeout = job->gmcf->backend.timeout;

        job->conn.reinit = ngx_photo_gm_reinit;
        job->conn.process = ngx_photo_gm_process;
        job->conn.finalize = ngx_photo_gm_finalize;
        job->conn.data = job;

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "photo gearman %V: \"%V\"", &node->server->name,
                       &job->function);

        if (ngx_photo_conn_start(&job->conn) == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        /* failed at once, and said why (finalize set the status) */
        if (!ngx_photo_gm_failover(job)) {
            return NGX_DECLINED;
        }
    }

    /* the last one was skipped: each failure before was logged already */
    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "gearman %V failed lately, the last of %ui tried: \"%V\" "
                  "not submitted", &node->server->name, job->ntries,
                  &job->function);

    return NGX_DECLINED;
}


/*
 * The job failed on its node before gearmand stored it (away, or refused
 * it: an ERROR, a bad reply) and another node is left to try.  Not after
 * a timeout (gearmand may be slow, not down: it may still store it) nor
 * once a foreground job was created (its worker may be at it).
 */

static ngx_uint_t
ngx_photo_gm_failover(ngx_photo_gm_job_t *job)
{
    return job->tries < job->ntries
           && job->result.status != NGX_PHOTO_DONE
           && job->result.status != NGX_PHOTO_TIMEDOUT
           && job->state != ngx_photo_gm_st_result;
}


/*
 * Writes the request: OPTION_REQ "exceptions", then the SUBMIT_JOB[_BG].
 * NGX_DECLINED: a NUL in the function or the unique key.
 */

static ngx_int_t
ngx_photo_gm_encode_job(ngx_photo_gm_job_t *job, ngx_str_t *function,
    ngx_str_t *unique, ngx_str_t *payload)
{
    u_char              *p;
    size_t               size;
    ngx_photo_gm_arg_t   option, args[3];

    option.data = (u_char *) "exceptions";
    option.len = sizeof("exceptions") - 1;

    args[0].data = function->data;
    args[0].len = function->len;
    args[1].data = unique->data;
    args[1].len = unique->len;
    args[2].data = payload->data;
    args[2].len = payload->len;

    size = ngx_photo_gm_packet_size(args, 3);
    if (size == 0) {
        return NGX_DECLINED;
    }

    job->option_len = ngx_photo_gm_packet_size(&option, 1);

    job->encoded.data = ngx_pnalloc(job->request->pool,
                                    job->option_len + size);
    if (job->encoded.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_photo_gm_encode(job->encoded.data, NGX_PHOTO_GM_OPTION_REQ,
                            &option, 1);

    job->function.data = p + NGX_PHOTO_GM_HEADER_SIZE;
    job->function.len = function->len;

    p = ngx_photo_gm_encode(p, job->background ? NGX_PHOTO_GM_SUBMIT_JOB_BG
                                               : NGX_PHOTO_GM_SUBMIT_JOB,
                            args, 3);

    job->encoded.len = p - job->encoded.data;

    return NGX_OK;
}


static ngx_int_t
ngx_photo_gm_reinit(ngx_photo_conn_t *conn)
{
    ngx_photo_gm_job_t *job = conn->data;

    ngx_photo_gm_parser_init(&job->parser, NGX_PHOTO_GM_PACKET_MAX);

    /* a kept connection has the option already */
    if (conn->pc.cached) {
        conn->sent = job->option_len;
        job->state = ngx_photo_gm_st_created;

    } else {
        job->state = ngx_photo_gm_st_option;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_photo_gm_process(ngx_photo_conn_t *conn)
{
    ngx_photo_gm_job_t *job = conn->data;

    u_char                 *w;
    ngx_int_t               rc;
    ngx_buf_t              *b;
    ngx_photo_gm_parser_t  *p;

    b = conn->buffer;
    p = &job->parser;

    for ( ;; ) {

        switch (ngx_photo_gm_parse(p, b->pos, b->last - b->pos)) {

        case NGX_PHOTO_GM_PARSE_AGAIN:
            conn->need = p->need;
            return NGX_AGAIN;

        case NGX_PHOTO_GM_PARSE_PACKET:
            /* consumed, but in place until the next read */
            w = b->pos;
            b->pos += p->consumed;

            rc = ngx_photo_gm_packet(job, w);

            if (rc != NGX_AGAIN) {
                return rc;
            }

            break;

        default: /* NGX_PHOTO_GM_PARSE_ERROR */
            conn->log.action = NULL;
            ngx_log_error(NGX_LOG_ERR, &conn->log, 0,
                          "gearman %V sent an invalid reply: %s",
                          &conn->server->name, p->error);
            return NGX_ERROR;
        }
    }
}


/*
 * One packet at w (args at the parser's offsets), in the job's state.
 * NGX_AGAIN: more to come; NGX_OK: answered; NGX_ERROR: logged.
 */

static ngx_int_t
ngx_photo_gm_packet(ngx_photo_gm_job_t *job, u_char *w)
{
    ngx_photo_gm_parser_t  *p;

    p = &job->parser;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, &job->conn.log, 0,
                   "photo gearman %V: %s, %uz bytes",
                   &job->conn.server->name, ngx_photo_gm_type_name(p->type),
                   p->consumed - NGX_PHOTO_GM_HEADER_SIZE);

    /* gearmand refused the option or the job: it is fine, the job is not */

    if (p->type == NGX_PHOTO_GM_ERROR) {
        job->conn.server_ok = 1;
        job->conn.log.action = NULL;
        ngx_log_error(NGX_LOG_ERR, &job->conn.log, 0,
                      "gearman %V refused \"%V\": %*s \"%*s\"",
                      &job->conn.server->name, &job->function,
                      ngx_min(p->arg_len[0], NGX_PHOTO_GM_LOG_MAX),
                      w + p->arg[0],
                      ngx_min(p->arg_len[1], NGX_PHOTO_GM_LOG_MAX),
                      w + p->arg[1]);
        return NGX_ERROR;
    }

    switch (job->state) {

    case ngx_photo_gm_st_option:
        if (p->type != NGX_PHOTO_GM_OPTION_RES) {
            break;
        }

        job->state = ngx_photo_gm_st_created;
        return NGX_AGAIN;

    case ngx_photo_gm_st_created:
        if (p->type != NGX_PHOTO_GM_JOB_CREATED) {
            break;
        }

        /* the handle outlives the receive buffer's next compaction */
        job->handle.len = p->arg_len[0];
        job->handle.data = ngx_pnalloc(job->request->pool, job->handle.len);
        if (job->handle.data == NULL) {
            job->conn.server_ok = 1;
            return NGX_ERROR;
        }

        ngx_memcpy(job->handle.data, w + p->arg[0], job->handle.len);

        if (job->background) {
            job->answer.data = job->handle;
            return NGX_OK;
        }

        /* stored: from now on it is the worker's time */
        job->state = ngx_photo_gm_st_result;
        job->conn.log.action = "waiting for a worker's answer";
        ngx_photo_conn_timer(&job->conn, job->timeout);

        return NGX_AGAIN;

    case ngx_photo_gm_st_result:
        return ngx_photo_gm_answer(job, w);
    }

    job->conn.log.action = NULL;
    ngx_log_error(NGX_LOG_ERR, &job->conn.log, 0,
                  "gearman %V sent an unexpected %s packet",
                  &job->conn.server->name, ngx_photo_gm_type_name(p->type));

    return NGX_ERROR;
}


/* The worker's packets about a foreground job. */

static ngx_int_t
ngx_photo_gm_answer(ngx_photo_gm_job_t *job, u_char *w)
{
    u_char                 *data;
    size_t                  len;
    ngx_photo_gm_parser_t  *p;

    p = &job->parser;

    switch (p->type) {

    case NGX_PHOTO_GM_WORK_COMPLETE:
    case NGX_PHOTO_GM_WORK_FAIL:
    case NGX_PHOTO_GM_WORK_EXCEPTION:
    case NGX_PHOTO_GM_WORK_DATA:
    case NGX_PHOTO_GM_WORK_WARNING:
    case NGX_PHOTO_GM_WORK_STATUS:
        break;

    default:
        goto unexpected;
    }

    /* one job per connection: every packet is about it */

    if (p->arg_len[0] != job->handle.len
        || ngx_memcmp(w + p->arg[0], job->handle.data, job->handle.len) != 0)
    {
        goto unexpected;
    }

    data = w + p->arg[p->nargs - 1];
    len = p->arg_len[p->nargs - 1];

    switch (p->type) {

    case NGX_PHOTO_GM_WORK_COMPLETE:
        if (job->collected.len) {
            if (ngx_photo_gm_collect(job, data, len) != NGX_OK) {
                return NGX_ERROR;
            }

            job->answer.data = job->collected;

        } else {
            /* the data stays where it was read */
            job->answer.data.data = data;
            job->answer.data.len = len;
        }

        return NGX_OK;

    case NGX_PHOTO_GM_WORK_FAIL:
        job->answer.failed = 1;
        return NGX_OK;

    case NGX_PHOTO_GM_WORK_EXCEPTION:
        job->answer.data.data = data;
        job->answer.data.len = len;
        job->answer.failed = 1;
        return NGX_OK;

    case NGX_PHOTO_GM_WORK_DATA:
        return ngx_photo_gm_collect(job, data, len) == NGX_OK ? NGX_AGAIN
                                                              : NGX_ERROR;

    case NGX_PHOTO_GM_WORK_WARNING:
        ngx_log_error(NGX_LOG_WARN, &job->conn.log, 0,
                      "gearman %V: warning from the worker of \"%V\": "
                      "\"%*s\"", &job->conn.server->name, &job->function,
                      ngx_min(len, NGX_PHOTO_GM_LOG_MAX), data);
        return NGX_AGAIN;

    default: /* NGX_PHOTO_GM_WORK_STATUS: progress, nothing to do */
        return NGX_AGAIN;
    }

unexpected:

    job->conn.log.action = NULL;
    ngx_log_error(NGX_LOG_ERR, &job->conn.log, 0,
                  "gearman %V sent an unexpected %s packet for \"%V\" (%V)",
                  &job->conn.server->name, ngx_photo_gm_type_name(p->type),
                  &job->function, &job->handle);

    return NGX_ERROR;
}


/*
 * Appends WORK_DATA (or the final data after some) to the result.  A
 * result too large (or no memory) fails the job, not gearmand.
 */

static ngx_int_t
ngx_photo_gm_collect(ngx_photo_gm_job_t *job, u_char *data, size_t len)
{
    u_char  *p;
    size_t   size;

    if (len == 0) {
        return NGX_OK;
    }

    job->conn.server_ok = 1;

    if (len > NGX_PHOTO_GM_RESULT_MAX - job->collected.len) {
        job->conn.log.action = NULL;
        ngx_log_error(NGX_LOG_ERR, &job->conn.log, 0,
                      "gearman %V: the result of \"%V\" is over %uz bytes",
                      &job->conn.server->name, &job->function,
                      (size_t) NGX_PHOTO_GM_RESULT_MAX);
        return NGX_ERROR;
    }

    if (job->collected.len + len > job->collected_size) {
        size = ngx_max(2 * job->collected_size, job->collected.len + len);
        size = ngx_min(size, NGX_PHOTO_GM_RESULT_MAX);

        p = ngx_pnalloc(job->request->pool, size);
        if (p == NULL) {
            return NGX_ERROR;
        }

        if (job->collected.len) {
            ngx_memcpy(p, job->collected.data, job->collected.len);
        }

        job->collected.data = p;
        job->collected_size = size;
    }

    ngx_memcpy(job->collected.data + job->collected.len, data, len);
    job->collected.len += len;

    return NGX_OK;
}


/* The job has ended; inside ngx_photo_gm_submit(), it says so itself. */

static void
ngx_photo_gm_finalize(ngx_photo_conn_t *conn, ngx_photo_status_e status)
{
    ngx_photo_gm_job_t *job = conn->data;

    ngx_connection_t  *c;

    job->result.status = status;
    job->result.reply.gearman = (status == NGX_PHOTO_DONE) ? &job->answer
                                                           : NULL;

    if (conn->starting) {
        return;
    }

    /* the next node, if any: this one is away or refused the job */
    if (ngx_photo_gm_failover(job) && ngx_photo_gm_start(job) == NGX_AGAIN) {
        return;
    }

    c = job->request->connection;
    job->done = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "photo gearman: \"%V\" done: %d", &job->function, status);

    /* the request may be gone after this: nothing may follow but this */
    job->handler(job->data, &job->result);

    ngx_http_run_posted_requests(c);
}


/* r->pool is going away: the handler must never be called now. */

static void
ngx_photo_gm_cleanup(void *data)
{
    ngx_photo_gm_job_t  *job = data;

    if (job->done) {
        return;
    }

    job->done = 1;

    ngx_log_debug1(NGX_LOG_DEBUG_HTTP, job->request->connection->log, 0,
                   "photo gearman: request gone, \"%V\" abandoned",
                   &job->function);

    /* an answer may still come: such a connection is never kept */
    ngx_photo_conn_close(&job->conn);
}
