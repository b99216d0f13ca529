/* PostgreSQL for workers. */

#include "photo_pg.h"
#include "photo_log.h"


PGconn *
photo_pg_connect(photo_config_t *cf)
{
    PGconn  *conn;

    conn = PQconnectdb(photo_config_pg_conninfo(cf));

    if (PQstatus(conn) != CONNECTION_OK) {
        photo_log_error("postgres: %s", conn ? PQerrorMessage(conn)
                                             : "out of memory");
        PQfinish(conn);
        return NULL;
    }

    return conn;
}


PGconn *
photo_pg_ensure(photo_config_t *cf, PGconn **conn)
{
    if (*conn != NULL && PQstatus(*conn) == CONNECTION_OK) {
        return *conn;
    }

    if (*conn != NULL) {
        photo_log_warn("postgres: connection lost, reconnecting");
        PQfinish(*conn);
    }

    *conn = photo_pg_connect(cf);

    return *conn;
}
