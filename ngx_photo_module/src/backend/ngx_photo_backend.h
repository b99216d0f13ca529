
/*
 * What every backend client shares: a server as configured, the head of
 * each backend module's configuration, and the one way a caller hears
 * from any backend.
 *
 * Each backend (Redis, memcached, PostgreSQL, gearmand) is an nginx module
 * of its own inside the same .so, as each of nginx's upstream protocols is
 * a module: its directives, its main conf (which begins with an
 * ngx_photo_backend_conf_t, as a protocol's conf holds an
 * ngx_http_upstream_conf_t), its create / init of that conf, its
 * init_process and exit_process.  A client finds its state through its own
 * module's main conf.
 */

#ifndef _NGX_PHOTO_BACKEND_H_INCLUDED_
#define _NGX_PHOTO_BACKEND_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


/* One backend server as configured: what it is called and where it is. */
typedef struct {
    ngx_str_t                   name;       /* as written in nginx.conf */
    ngx_str_t                   host;       /* its host, as written */
    in_port_t                   port;       /* as written, or the default */
    ngx_addr_t                 *addr;       /* first resolved address */
} ngx_photo_server_t;


/*
 * What the router (a photo_api location needs the backend, nginx -t names
 * it when it is missing) and /health (one probe a server) ask of any
 * backend.
 */
typedef struct {
    const char                 *name;       /* "redis": /health, the log */
    const char                 *directive;  /* "photo_redis" */
    ngx_array_t                *servers;    /* of ngx_photo_server_t; NULL:
                                               not configured */
    ngx_msec_t                  timeout;
    ngx_str_t                   ping;       /* /health's probe sends this */
    ngx_str_t                   pong;       /* and the answer begins so, */
    ngx_str_t                   pong_alt;   /* or so (as long) */
    ngx_flag_t                  pong_line;  /* after its first line (a
                                               Redis bulk reply's length) */
    ngx_flag_t                  health_any; /* up when one server is: a
                                               cluster's seeds, each of which
                                               answers for the cluster */
    ngx_flag_t                  used;       /* by a photo_api location: its
                                               init_process connects */
    ngx_uint_t                  metrics;    /* its first server's block in
                                               the metrics zone */
} ngx_photo_backend_conf_t;


#define ngx_photo_backend_conf(r, module)                                    \
    ((ngx_photo_backend_conf_t *) ngx_http_get_module_main_conf(r, module))


/*
 * Every client's start call (ngx_photo_redis_command(), ngx_photo_mc_get(),
 * ngx_photo_pg_query(), ngx_photo_gm_submit(), ngx_photo_probe_start())
 * returns
 *
 *   NGX_AGAIN     the callback comes later, exactly once, from an event
 *                 handler (never from inside the call), unless the
 *                 request went away first;
 *   NGX_DECLINED  the backend is away now (failed lately, or at once):
 *                 no callback; a request answers 503 at once;
 *   NGX_ERROR     out of memory, or a call the backend cannot take
 *                 (logged): no callback.
 *
 * and every callback gets an ngx_photo_result_t: the status, and the
 * backend's own reply, valid during the call.
 */

typedef enum {
    NGX_PHOTO_DONE = 0,         /* answered: the reply is there */
    NGX_PHOTO_AWAY,             /* unreachable, or the connection lost */
    NGX_PHOTO_BAD_REPLY,        /* an answer against the protocol, or a
                                   refusal (an error, not a reply) */
    NGX_PHOTO_TIMEDOUT
} ngx_photo_status_e;


typedef struct {
    ngx_photo_status_e          status;     /* failures are logged already */
    const char                 *backend;    /* "redis", as a 503 names it */
    ngx_uint_t                  index;      /* of commands sent together */

    union {
        struct redisReply               *redis;      /* redisReply */
        struct pg_result                *postgres;   /* PGresult */
        struct ngx_photo_mc_item_s      *memcached;  /* the items asked */
        struct ngx_photo_gm_result_s    *gearman;
    } reply;                                /* NULL unless NGX_PHOTO_DONE,
                                               but memcached's items */
} ngx_photo_result_t;


typedef void (*ngx_photo_result_pt)(void *data, ngx_photo_result_t *res);


/* the backend modules (ngx_http_photo_module.c lists them), NULL-terminated:
   a photo_api location needs each; their main confs begin with an
   ngx_photo_backend_conf_t */
extern ngx_module_t  *ngx_http_photo_backends[];


/*
 * "photo_redis address[:port] ...;": the servers into the conf's
 * ngx_photo_backend_conf_t (its first member), the default port in
 * cmd->post.
 */
char *ngx_photo_backend_servers(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);

/* One server more, parsed and resolved: NULL on error (said, naming the
 * directive). */
ngx_photo_server_t *ngx_photo_backend_add_server(ngx_conf_t *cf,
    ngx_photo_backend_conf_t *bcf, ngx_str_t *value, in_port_t default_port);

/* From init_process, exit_process: the backend module's main conf if a
 * photo_api location uses it, else NULL (nothing to connect to). */
void *ngx_photo_backend_used(ngx_cycle_t *cycle, ngx_module_t *module);


#endif /* _NGX_PHOTO_BACKEND_H_INCLUDED_ */
