/* PostgreSQL for workers: a connection that comes back after it went away. */

#ifndef PHOTO_PG_H
#define PHOTO_PG_H

#include <libpq-fe.h>

#include "photo_config.h"

/* NULL (logged) when Postgres cannot be reached now. */
PGconn *photo_pg_connect(photo_config_t *cf);

/* The connection, reconnected if it was lost; NULL while Postgres is away. */
PGconn *photo_pg_ensure(photo_config_t *cf, PGconn **conn);

#endif /* PHOTO_PG_H */
