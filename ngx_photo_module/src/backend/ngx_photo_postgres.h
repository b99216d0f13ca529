
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

#include "ngx_photo_backend.h"


/*
 * res: the query's result (PGRES_TUPLES_OK or PGRES_COMMAND_OK), or NULL
 * when the query failed; the failure has then been logged already.  res is
 * freed by the client after the handler returns.
 */
typedef void (*ngx_photo_pg_handler_pt)(void *data, PGresult *res);


/*
 * photo_postgres, photo_postgres_timeout, photo_postgres_pool;
 * ngx_photo_backend_conf_t first.  Each worker's pool is made in
 * init_process, connected when first used, closed in exit_process.
 */
extern ngx_module_t  ngx_http_photo_postgres_module;

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
