
/*
 * The PostgreSQL client of the read path: libpq in non-blocking mode, driven
 * by nginx events, over a small pool of connections kept per worker process.
 * Parameters are sent as text and results come back as text (resultFormat
 * 0): read them with PQgetvalue(), PQgetisnull() and PQgetlength().
 */

#ifndef _NGX_PHOTO_POSTGRES_H_INCLUDED_
#define _NGX_PHOTO_POSTGRES_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <libpq-fe.h>

#include "ngx_http_photo_module.h"


/* For "photo_postgres_pool" when it is not set: connections per worker. */
#define NGX_PHOTO_PG_POOL_DEFAULT  4


/*
 * res: the query's result (PGRES_TUPLES_OK or PGRES_COMMAND_OK), or NULL
 * when the query failed; the failure has then been logged already.  res is
 * freed by the client after the handler returns.
 */
typedef void (*ngx_photo_pg_handler_pt)(void *data, PGresult *res);


/* From init_process: the worker's pool, connected lazily on first use. */
ngx_int_t ngx_photo_pg_init_process(ngx_cycle_t *cycle,
    ngx_http_photo_main_conf_t *pmcf);

/* From exit_process: closes every connection of the worker's pool. */
void ngx_photo_pg_exit_process(ngx_cycle_t *cycle,
    ngx_http_photo_main_conf_t *pmcf);

/*
 * Runs one query on a pooled connection; sql and values are copied.
 * NGX_AGAIN: the handler will be called exactly once, from an event handler,
 * followed by ngx_http_run_posted_requests(); NGX_ERROR: out of memory, the
 * handler will not be called.  If r->pool is destroyed first, the handler is
 * never called.
 */
ngx_int_t ngx_photo_pg_query(ngx_http_request_t *r, const char *sql,
    int nparams, const char *const *values, ngx_photo_pg_handler_pt handler,
    void *data);


#endif /* _NGX_PHOTO_POSTGRES_H_INCLUDED_ */
