
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
 * photo_postgres, photo_postgres_timeout, photo_postgres_pool;
 * ngx_photo_backend_conf_t first.  Each worker's pool is made in
 * init_process, connected when first used, closed in exit_process.
 */
extern ngx_module_t  ngx_http_photo_postgres_module;

/*
 * Runs one query on a pooled connection; sql and values are copied.
 * Returns as every client's start call (ngx_photo_backend.h): NGX_DECLINED
 * when Postgres is known to be down, or too many queries wait.  The
 * handler gets the query's result in reply.postgres (PGRES_TUPLES_OK or
 * PGRES_COMMAND_OK), freed by the client after the handler returns; or a
 * failure, logged: NGX_PHOTO_AWAY, NGX_PHOTO_TIMEDOUT, NGX_PHOTO_BAD_REPLY
 * (the query failed).  The handler is followed by
 * ngx_http_run_posted_requests().
 */
ngx_int_t ngx_photo_pg_query(ngx_http_request_t *r, const char *sql,
    int nparams, const char *const *values, ngx_photo_result_pt handler,
    void *data);


#endif /* _NGX_PHOTO_POSTGRES_H_INCLUDED_ */
