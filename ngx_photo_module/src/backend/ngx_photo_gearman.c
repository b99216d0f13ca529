
/*
 * The Gearman client on nginx peer connections: a per-worker keepalive
 * cache of idle connections to gearmand (as nginx's upstream keepalive
 * module keeps them), one job per connection at a time, replies parsed in
 * place by ngx_photo_gearman_parser.c.
 *
 * A new connection first asks for the "exceptions" option, in the same
 * write as its first job, so that a worker's WORK_EXCEPTION reaches us
 * with its data instead of as a bare WORK_FAIL; kept connections have it.
 */

#include "ngx_photo_gearman.h"
#include "ngx_photo_gearman_parser.h"
#include "ngx_photo_keepalive.h"


#define NGX_PHOTO_GM_PORT          4730
#define NGX_PHOTO_GM_BUFFER_SIZE   1024    /* replies are small */
#define NGX_PHOTO_GM_KEEPALIVE     16      /* idle connections per worker */

/*
 * After gearmand failed (no connection, timed out, broke the protocol),
 * jobs fail at once for this long, with no connect, so that a dead
 * gearmand costs nothing per request and is not hammered.
 */
#define NGX_PHOTO_GM_RETRY_AFTER   1000

#define NGX_PHOTO_GM_LOG_MAX       256     /* of gearmand's words logged */

/* a result and its job handle */
#define NGX_PHOTO_GM_PACKET_MAX    (NGX_PHOTO_GM_RESULT_MAX + 256)


typedef struct ngx_photo_gm_s  ngx_photo_gm_t;


typedef struct {
    ngx_photo_backend_conf_t    backend;     /* first */
    ngx_photo_gm_t             *state;       /* per worker process */
} ngx_photo_gm_conf_t;


/* The worker's client. */
struct ngx_photo_gm_s {
    ngx_photo_server_t         *server;
    ngx_photo_gm_conf_t        *conf;
    char                       *action;      /* "submitting a job to ..." */
    ngx_photo_keepalive_t       keepalive;
    ngx_msec_t                  failed_at;
    unsigned                    failed:1;
};


typedef enum {
    ngx_photo_gm_st_option = 0,     /* OPTION_RES expected */
    ngx_photo_gm_st_created,        /* JOB_CREATED expected */
    ngx_photo_gm_st_result          /* the worker's WORK_* expected */
} ngx_photo_gm_state_e;


/* One submission: one connection, one job. */
typedef struct {
    ngx_http_request_t         *request;
    ngx_photo_gm_t             *gm;
    ngx_peer_connection_t       peer;
    ngx_log_t                   log;
    ngx_event_t                 ev;          /* calls handler when the job
                                                ends inside submit */

    ngx_str_t                   cmd;         /* OPTION_REQ, SUBMIT_JOB* */
    size_t                      option_len;  /* not sent when kept alive */
    ngx_str_t                   function;    /* in cmd, for the log */
    size_t                      sent;
    size_t                      received;

    ngx_buf_t                  *buf;         /* pos..last: parser window */
    ngx_photo_gm_parser_t       parser;
    ngx_photo_gm_state_e        state;

    ngx_str_t                   handle;      /* from JOB_CREATED */
    ngx_str_t                   collected;   /* WORK_DATA so far */
    size_t                      collected_size;
    ngx_str_t                   result;

    ngx_msec_t                  start;
    ngx_msec_t                  timeout;     /* of a worker's answer */
    ngx_int_t                   rc;

    ngx_photo_gm_handler_pt     handler;
    void                       *data;

    unsigned                    background:1;
    unsigned                    starting:1;  /* inside ngx_photo_gm_submit */
    unsigned                    retried:1;
    unsigned                    broken:1;    /* gearmand failed, not the job */
    unsigned                    done:1;      /* handler called, or never */
} ngx_photo_gm_job_t;


static void *ngx_http_photo_gearman_create_conf(ngx_conf_t *cf);
static char *ngx_http_photo_gearman_init_conf(ngx_conf_t *cf, void *conf);
static ngx_int_t ngx_http_photo_gearman_init_process(ngx_cycle_t *cycle);
static void ngx_http_photo_gearman_exit_process(ngx_cycle_t *cycle);

static ngx_int_t ngx_photo_gm_encode_job(ngx_photo_gm_job_t *job,
    ngx_str_t *function, ngx_str_t *unique, ngx_str_t *payload);
static void ngx_photo_gm_start(ngx_photo_gm_job_t *job);
static void ngx_photo_gm_handler(ngx_event_t *ev);
static ngx_int_t ngx_photo_gm_recv(ngx_photo_gm_job_t *job,
    ngx_connection_t *c);
static ngx_int_t ngx_photo_gm_process(ngx_photo_gm_job_t *job);
static ngx_int_t ngx_photo_gm_packet(ngx_photo_gm_job_t *job, u_char *w);
static ngx_int_t ngx_photo_gm_answer(ngx_photo_gm_job_t *job, u_char *w);
static ngx_int_t ngx_photo_gm_collect(ngx_photo_gm_job_t *job, u_char *data,
    size_t len);
static ngx_int_t ngx_photo_gm_room(ngx_photo_gm_job_t *job);
static void ngx_photo_gm_finish(ngx_photo_gm_job_t *job, ngx_int_t rc,
    ngx_uint_t keep);
static void ngx_photo_gm_posted_handler(ngx_event_t *ev);
static void ngx_photo_gm_call(ngx_photo_gm_job_t *job);
static void ngx_photo_gm_cleanup(void *data);

static ngx_uint_t ngx_photo_gm_skip(ngx_photo_gm_t *gm);
static ngx_msec_t ngx_photo_gm_time_left(ngx_msec_t start,
    ngx_msec_t timeout);


static ngx_command_t  ngx_http_photo_gearman_commands[] = {

    { ngx_string("photo_gearman"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
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
    ngx_photo_gm_t       *gm;
    ngx_photo_gm_conf_t  *gmcf;
    ngx_photo_server_t   *server;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_photo_gearman_module);

    if (gmcf == NULL || !gmcf->backend.used) {
        return NGX_OK;
    }

    server = gmcf->backend.servers->elts;

    gm = ngx_pcalloc(cycle->pool, sizeof(ngx_photo_gm_t));
    if (gm == NULL) {
        return NGX_ERROR;
    }

    len = sizeof("submitting a job to gearman ") + server->name.len;
    gm->action = ngx_pnalloc(cycle->pool, len);
    if (gm->action == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf((u_char *) gm->action, "submitting a job to gearman %V%Z",
                &server->name);

    if (ngx_photo_keepalive_init(&gm->keepalive, cycle, server, "gearman",
                                 NGX_PHOTO_GM_KEEPALIVE)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    gm->server = server;
    gm->conf = gmcf;

    gmcf->state = gm;

    return NGX_OK;
}


static void
ngx_http_photo_gearman_exit_process(ngx_cycle_t *cycle)
{
    ngx_photo_gm_conf_t  *gmcf;

    gmcf = ngx_http_cycle_get_module_main_conf(cycle,
                                               ngx_http_photo_gearman_module);

    if (gmcf == NULL || gmcf->state == NULL) {
        return;
    }

    ngx_photo_keepalive_close_all(&gmcf->state->keepalive);

    gmcf->state = NULL;
}


ngx_int_t
ngx_photo_gm_submit(ngx_http_request_t *r, ngx_str_t *function,
    ngx_str_t *unique, ngx_str_t *payload, ngx_uint_t background,
    ngx_msec_t timeout, ngx_photo_gm_handler_pt handler, void *data)
{
    ngx_photo_gm_t       *gm;
    ngx_pool_cleanup_t   *cln;
    ngx_photo_gm_job_t   *job;
    ngx_photo_gm_conf_t  *gmcf;

    gmcf = ngx_http_get_module_main_conf(r, ngx_http_photo_gearman_module);
    gm = gmcf->state;

    if (gm == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gearman: \"%V\" not submitted: no \"photo_gearman\"",
                      function);
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
    job->gm = gm;
    job->log = *r->connection->log;
    job->log.action = gm->action;
    job->background = background ? 1 : 0;
    job->start = ngx_current_msec;
    job->timeout = timeout ? timeout : gmcf->backend.timeout;
    job->handler = handler;
    job->data = data;

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

    job->ev.handler = ngx_photo_gm_posted_handler;
    job->ev.data = job;
    job->ev.log = r->connection->log;

    /* jobs that end at once must not call handler from in here */
    job->starting = 1;

    if (ngx_photo_gm_skip(gm)) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "gearman %V failed lately: \"%V\" not submitted",
                      &gm->server->name, function);
        ngx_photo_gm_finish(job, NGX_ERROR, 0);

    } else {
        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "photo gearman %V: %s \"%V\", %uz bytes",
                       &gm->server->name,
                       background ? "SUBMIT_JOB_BG" : "SUBMIT_JOB",
                       function, payload->len);

        ngx_photo_gm_start(job);
    }

    job->starting = 0;

    return NGX_AGAIN;
}


/*
 * Writes job->cmd: OPTION_REQ "exceptions", then the SUBMIT_JOB[_BG].
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

    job->cmd.data = ngx_pnalloc(job->request->pool, job->option_len + size);
    if (job->cmd.data == NULL) {
        return NGX_ERROR;
    }

    p = ngx_photo_gm_encode(job->cmd.data, NGX_PHOTO_GM_OPTION_REQ,
                            &option, 1);

    job->function.data = p + NGX_PHOTO_GM_HEADER_SIZE;
    job->function.len = function->len;

    p = ngx_photo_gm_encode(p, job->background ? NGX_PHOTO_GM_SUBMIT_JOB_BG
                                               : NGX_PHOTO_GM_SUBMIT_JOB,
                            args, 3);

    job->cmd.len = p - job->cmd.data;

    return NGX_OK;
}


static void
ngx_photo_gm_start(ngx_photo_gm_job_t *job)
{
    ngx_int_t          rc;
    ngx_photo_gm_t    *gm;
    ngx_connection_t  *c;

    gm = job->gm;

    rc = ngx_photo_keepalive_connect(&gm->keepalive, &job->peer, &job->log,
                                     !job->retried);

    if (rc == NGX_ERROR) {
        /* nginx has said why, naming the server in the log's action */
        job->broken = 1;
        ngx_photo_gm_finish(job, NGX_ERROR, 0);
        return;
    }

    c = job->peer.connection;
    c->data = job;
    c->read->handler = ngx_photo_gm_handler;
    c->write->handler = ngx_photo_gm_handler;

    ngx_photo_gm_parser_init(&job->parser, NGX_PHOTO_GM_PACKET_MAX);

    /* a kept connection has the option already */
    if (job->peer.cached) {
        job->sent = job->option_len;
        job->state = ngx_photo_gm_st_created;

    } else {
        job->sent = 0;
        job->state = ngx_photo_gm_st_option;
    }

    /* one timer for connect, send and JOB_CREATED, retry included */
    ngx_add_timer(c->write,
                  ngx_photo_gm_time_left(job->start,
                                         gm->conf->backend.timeout));

    if (rc == NGX_OK) {
        /* connected at once, or kept alive: send now */
        ngx_photo_gm_handler(c->write);
    }
}


static void
ngx_photo_gm_handler(ngx_event_t *ev)
{
    ngx_int_t            rc;
    ngx_connection_t    *c;
    ngx_photo_gm_job_t  *job;

    c = ev->data;
    job = c->data;

    if (ev->timedout) {
        job->log.action = NULL;

        if (job->state == ngx_photo_gm_st_result) {
            ngx_log_error(NGX_LOG_ERR, &job->log, NGX_ETIMEDOUT,
                          "gearman %V: no answer to \"%V\" (%V) in %M ms",
                          &job->gm->server->name, &job->function,
                          &job->handle, job->timeout);

        } else {
            /*
             * Not "broken": a gearmand slowed down by its queue's disk is
             * not a dead one, and skipping it would turn a busy second
             * into a second of refusals.
             */
            ngx_log_error(NGX_LOG_ERR, &job->log, NGX_ETIMEDOUT,
                          "gearman %V timed out submitting \"%V\"",
                          &job->gm->server->name, &job->function);
        }

        ngx_photo_gm_finish(job, NGX_ERROR, 0);
        return;
    }

    if (job->sent < job->cmd.len) {
        rc = ngx_photo_keepalive_send(c, &job->cmd, &job->sent);

        if (rc == NGX_OK) {
            rc = ngx_photo_gm_recv(job, c);

        } else if (rc == NGX_ERROR) {
            job->broken = 1;
        }

    } else if (!ev->write) {
        rc = ngx_photo_gm_recv(job, c);

    } else {
        return;
    }

    if (rc == NGX_AGAIN) {
        return;
    }

    if (rc == NGX_DONE) {
        /* answered; a connection with more to read is not kept */
        ngx_photo_gm_finish(job, job->rc, job->buf->pos == job->buf->last);
        return;
    }

    if (job->peer.cached && job->received == 0) {

        /*
         * A kept-alive connection that gearmand had closed (restarted)
         * before we knew: once more on a new one.  Nothing was answered,
         * and the unique key makes a job submitted twice one job.
         */

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, &job->log, 0,
                       "photo gearman %V: stale keepalive connection",
                       &job->gm->server->name);

        ngx_close_connection(c);
        job->peer.connection = NULL;
        job->retried = 1;
        job->broken = 0;

        ngx_photo_gm_start(job);
        return;
    }

    if (rc == NGX_DECLINED) {
        job->broken = 1;
        job->log.action = NULL;
        ngx_log_error(NGX_LOG_ERR, &job->log, 0,
                      "gearman %V closed the connection prematurely",
                      &job->gm->server->name);
    }

    ngx_photo_gm_finish(job, NGX_ERROR, 0);
}


/*
 * Reads and parses until the job is answered or the socket is drained.
 * NGX_DONE: answered (job->rc, job->result); NGX_AGAIN: more to come;
 * NGX_ERROR: failed and logged (I/O errors by nginx itself); NGX_DECLINED:
 * closed by gearmand, not logged yet.
 */

static ngx_int_t
ngx_photo_gm_recv(ngx_photo_gm_job_t *job, ngx_connection_t *c)
{
    ssize_t    n;
    ngx_int_t  rc;

    for ( ;; ) {

        if (job->buf) {
            rc = ngx_photo_gm_process(job);

            if (rc != NGX_AGAIN) {
                return rc;
            }
        }

        if (ngx_photo_gm_room(job) != NGX_OK) {
            return NGX_ERROR;
        }

        n = ngx_photo_keepalive_recv(c, job->buf);

        if (n == NGX_AGAIN) {
            return NGX_AGAIN;
        }

        if (n == NGX_ERROR) {
            job->broken = 1;
            return NGX_ERROR;
        }

        if (n == 0) {
            return NGX_DECLINED;
        }

        job->received += n;
    }
}


static ngx_int_t
ngx_photo_gm_process(ngx_photo_gm_job_t *job)
{
    u_char                 *w;
    ngx_int_t               rc;
    ngx_buf_t              *b;
    ngx_photo_gm_parser_t  *p;

    b = job->buf;
    p = &job->parser;

    for ( ;; ) {

        switch (ngx_photo_gm_parse(p, b->pos, b->last - b->pos)) {

        case NGX_PHOTO_GM_PARSE_AGAIN:
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
            job->broken = 1;
            job->log.action = NULL;
            ngx_log_error(NGX_LOG_ERR, &job->log, 0,
                          "gearman %V sent an invalid reply: %s",
                          &job->gm->server->name, p->error);
            return NGX_ERROR;
        }
    }
}


/*
 * One packet at w (args at the parser's offsets), in the job's state.
 * NGX_AGAIN: more to come; NGX_DONE: answered; NGX_ERROR: logged.
 */

static ngx_int_t
ngx_photo_gm_packet(ngx_photo_gm_job_t *job, u_char *w)
{
    ngx_photo_gm_parser_t  *p;

    p = &job->parser;

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, &job->log, 0,
                   "photo gearman %V: %s, %uz bytes",
                   &job->gm->server->name, ngx_photo_gm_type_name(p->type),
                   p->consumed - NGX_PHOTO_GM_HEADER_SIZE);

    /* gearmand refused the option or the job: it is fine, the job is not */

    if (p->type == NGX_PHOTO_GM_ERROR) {
        job->log.action = NULL;
        ngx_log_error(NGX_LOG_ERR, &job->log, 0,
                      "gearman %V refused \"%V\": %*s \"%*s\"",
                      &job->gm->server->name, &job->function,
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
            return NGX_ERROR;
        }

        ngx_memcpy(job->handle.data, w + p->arg[0], job->handle.len);

        if (job->background) {
            job->rc = NGX_OK;
            job->result = job->handle;
            return NGX_DONE;
        }

        /* stored: from now on it is the worker's time */
        job->state = ngx_photo_gm_st_result;
        ngx_add_timer(job->peer.connection->write, job->timeout);

        return NGX_AGAIN;

    case ngx_photo_gm_st_result:
        return ngx_photo_gm_answer(job, w);
    }

    job->broken = 1;
    job->log.action = NULL;
    ngx_log_error(NGX_LOG_ERR, &job->log, 0,
                  "gearman %V sent an unexpected %s packet",
                  &job->gm->server->name, ngx_photo_gm_type_name(p->type));

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

            job->result = job->collected;

        } else {
            /* the data stays where it was read */
            job->result.data = data;
            job->result.len = len;
        }

        job->rc = NGX_OK;
        return NGX_DONE;

    case NGX_PHOTO_GM_WORK_FAIL:
        job->rc = NGX_DECLINED;
        return NGX_DONE;

    case NGX_PHOTO_GM_WORK_EXCEPTION:
        job->result.data = data;
        job->result.len = len;
        job->rc = NGX_DECLINED;
        return NGX_DONE;

    case NGX_PHOTO_GM_WORK_DATA:
        return ngx_photo_gm_collect(job, data, len) == NGX_OK ? NGX_AGAIN
                                                              : NGX_ERROR;

    case NGX_PHOTO_GM_WORK_WARNING:
        ngx_log_error(NGX_LOG_WARN, &job->log, 0,
                      "gearman %V: warning from the worker of \"%V\": "
                      "\"%*s\"", &job->gm->server->name, &job->function,
                      ngx_min(len, NGX_PHOTO_GM_LOG_MAX), data);
        return NGX_AGAIN;

    default: /* NGX_PHOTO_GM_WORK_STATUS: progress, nothing to do */
        return NGX_AGAIN;
    }

unexpected:

    job->broken = 1;
    job->log.action = NULL;
    ngx_log_error(NGX_LOG_ERR, &job->log, 0,
                  "gearman %V sent an unexpected %s packet for \"%V\" (%V)",
                  &job->gm->server->name, ngx_photo_gm_type_name(p->type),
                  &job->function, &job->handle);

    return NGX_ERROR;
}


/* Appends WORK_DATA (or the final data after some) to the result. */

static ngx_int_t
ngx_photo_gm_collect(ngx_photo_gm_job_t *job, u_char *data, size_t len)
{
    u_char  *p;
    size_t   size;

    if (len == 0) {
        return NGX_OK;
    }

    if (len > NGX_PHOTO_GM_RESULT_MAX - job->collected.len) {
        job->log.action = NULL;
        ngx_log_error(NGX_LOG_ERR, &job->log, 0,
                      "gearman %V: the result of \"%V\" is over %uz bytes",
                      &job->gm->server->name, &job->function,
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


/*
 * Makes room to read into, with the parser's window (b->pos..b->last)
 * whole and at least parser.need bytes long.  Nothing points into the
 * buffer between reads, so the window may move.
 */

static ngx_int_t
ngx_photo_gm_room(ngx_photo_gm_job_t *job)
{
    size_t       size, window;
    ngx_buf_t   *b, *nb;
    ngx_pool_t  *pool;

    b = job->buf;
    pool = job->request->pool;
    size = ngx_max(job->parser.need, NGX_PHOTO_GM_BUFFER_SIZE);

    if (b == NULL) {
        job->buf = ngx_create_temp_buf(pool, size);
        return job->buf ? NGX_OK : NGX_ERROR;
    }

    if (b->last < b->end && (size_t) (b->end - b->pos) >= job->parser.need) {
        return NGX_OK;
    }

    window = b->last - b->pos;

    if ((size_t) (b->end - b->start) >= size) {
        b->last = ngx_movemem(b->start, b->pos, window);
        b->pos = b->start;
        return NGX_OK;
    }

    nb = ngx_create_temp_buf(pool, size);
    if (nb == NULL) {
        return NGX_ERROR;
    }

    nb->last = ngx_cpymem(nb->pos, b->pos, window);
    ngx_pfree(pool, b->start);

    job->buf = nb;

    return NGX_OK;
}


/*
 * The job has ended: its connection is kept (keep: answered, nothing more
 * to read) or closed, and the handler is called, now or, inside
 * ngx_photo_gm_submit(), from a posted event.
 */

static void
ngx_photo_gm_finish(ngx_photo_gm_job_t *job, ngx_int_t rc, ngx_uint_t keep)
{
    ngx_photo_gm_t  *gm;

    gm = job->gm;

    /* gearmand's own failures start the skip window, its answers end it */

    if (job->broken) {
        gm->failed = 1;
        gm->failed_at = ngx_current_msec;

    } else if (job->received) {
        gm->failed = 0;
    }

    ngx_photo_keepalive_free(&gm->keepalive, &job->peer, keep);

    if (rc == NGX_ERROR) {
        ngx_str_null(&job->result);
    }

    job->rc = rc;

    if (job->starting) {
        ngx_post_event(&job->ev, &ngx_posted_events);
        return;
    }

    ngx_photo_gm_call(job);
}


static void
ngx_photo_gm_posted_handler(ngx_event_t *ev)
{
    ngx_photo_gm_call(ev->data);
}


static void
ngx_photo_gm_call(ngx_photo_gm_job_t *job)
{
    ngx_connection_t  *c;

    c = job->request->connection;
    job->done = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, c->log, 0,
                   "photo gearman: \"%V\" done: %i", &job->function, job->rc);

    /* the request may be gone after this: nothing may follow but this */
    job->handler(job->data, job->rc, &job->result);

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

    if (job->ev.posted) {
        ngx_delete_posted_event(&job->ev);
    }

    /* an answer may still come: such a connection is never kept */
    if (job->peer.connection) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, job->request->connection->log, 0,
                       "photo gearman: request gone, \"%V\" abandoned",
                       &job->function);

        ngx_close_connection(job->peer.connection);
        job->peer.connection = NULL;
    }
}


static ngx_uint_t
ngx_photo_gm_skip(ngx_photo_gm_t *gm)
{
    return gm->failed
           && (ngx_msec_int_t) (ngx_current_msec - gm->failed_at)
              < NGX_PHOTO_GM_RETRY_AFTER;
}


static ngx_msec_t
ngx_photo_gm_time_left(ngx_msec_t start, ngx_msec_t timeout)
{
    ngx_msec_t  elapsed;

    elapsed = ngx_current_msec - start;

    return elapsed < timeout ? timeout - elapsed : 1;
}
