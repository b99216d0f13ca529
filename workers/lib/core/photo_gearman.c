/* gearmand for workers. */

#include "photo_gearman.h"
#include "photo_log.h"
#include "photo_metrics.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>


#define PHOTO_GEARMAN_TIMEOUT_MS  5000
#define PHOTO_GEARMAN_ADMIN_MAX   (1024 * 1024)

/* a scrape waits this long at most for gearmand */
#define PHOTO_GEARMAN_METRICS_MS  1000


static int photo_gearman_admin_connect(const char *host, int port,
    int timeout_ms);
static void photo_gearman_collect(photo_metrics_out_t *out, void *data);


int
photo_gearman_servers(const photo_config_t *cf,
    photo_gearman_server_t *servers, int max)
{
    int                      n, rc, port;
    size_t                   len;
    const char              *p, *host, *from;
    photo_gearman_server_t  *s;

    if (cf->gearman_servers[0] == '\0') {
        s = &servers[0];
        snprintf(s->host, sizeof(s->host), "%s",
                 photo_config_host(cf, gearman_host));
        s->port = cf->gearman_port;
        snprintf(s->name, sizeof(s->name), "%s:%d", s->host, s->port);
        return 1;
    }

    from = "PHOTO_GEARMAN_SERVERS";
    p = cf->gearman_servers;
    n = 0;

    while ((rc = photo_config_server_next(&p, &host, &len, &port,
                                          cf->gearman_port))
           == 1)
    {
        if (n == max) {
            photo_log_error("%s: more than %d servers", from, max);
            return -1;
        }

        s = &servers[n++];
        snprintf(s->host, sizeof(s->host), "%.*s", (int) len, host);
        s->port = port;
        snprintf(s->name, sizeof(s->name), "%s:%d", s->host, s->port);
    }

    /* photo_config_load_*() checked the list already */
    if (rc == -1 || n == 0) {
        photo_log_error("%s: no server", from);
        return -1;
    }

    return n;
}


gearman_client_st *
photo_gearman_client(const photo_config_t *cf, unsigned first)
{
    int                      i, n;
    gearman_client_st       *c;
    photo_gearman_server_t   servers[PHOTO_GEARMAN_MAX], *s;

    n = photo_gearman_servers(cf, servers, PHOTO_GEARMAN_MAX);
    if (n == -1) {
        return NULL;
    }

    c = gearman_client_create(NULL);
    if (c == NULL) {
        photo_log_error("gearman: out of memory");
        return NULL;
    }

    gearman_client_set_timeout(c, PHOTO_GEARMAN_TIMEOUT_MS);

    for (i = 0; i < n; i++) {
        s = &servers[(first + (unsigned) i) % (unsigned) n];

        if (gearman_client_add_server(c, s->host, (in_port_t) s->port)
            != GEARMAN_SUCCESS)
        {
            photo_log_error("gearman %s: %s", s->name,
                            gearman_client_error(c));
            gearman_client_free(c);
            return NULL;
        }
    }

    return c;
}


gearman_worker_st *
photo_gearman_worker(const photo_gearman_server_t *server)
{
    gearman_worker_st  *w;

    w = gearman_worker_create(NULL);
    if (w == NULL) {
        photo_log_error("gearman: out of memory");
        return NULL;
    }

    if (gearman_worker_add_server(w, server->host, (in_port_t) server->port)
        != GEARMAN_SUCCESS)
    {
        photo_log_error("gearman %s: %s", server->name,
                        gearman_worker_error(w));
        gearman_worker_free(w);
        return NULL;
    }

    return w;
}


char *
photo_gearman_admin(const char *host, int port, const char *command,
    int timeout_ms)
{
    int       fd;
    char     *buf, *p;
    size_t    len, size;
    ssize_t   n;

    fd = photo_gearman_admin_connect(host, port, timeout_ms);
    if (fd == -1) {
        return NULL;
    }

    if (write(fd, command, strlen(command)) != (ssize_t) strlen(command)) {
        close(fd);
        return NULL;
    }

    buf = NULL;
    len = 0;
    size = 0;

    for ( ;; ) {
        if (len + 4096 + 1 > size) {
            size = size ? size * 2 : 8192;

            p = size <= PHOTO_GEARMAN_ADMIN_MAX ? realloc(buf, size) : NULL;
            if (p == NULL) {
                break;
            }

            buf = p;
        }

        n = read(fd, buf + len, size - 1 - len);
        if (n <= 0) {
            break;
        }

        len += (size_t) n;
        buf[len] = '\0';

        if (strcmp(buf, ".\n") == 0
            || (len >= 3 && strcmp(buf + len - 3, "\n.\n") == 0))
        {
            close(fd);
            return buf;
        }
    }

    close(fd);
    free(buf);

    return NULL;
}


/* connected with every step bounded by timeout_ms (Linux's connect()
   honours SO_SNDTIMEO), or -1 */
static int
photo_gearman_admin_connect(const char *host, int port, int timeout_ms)
{
    int               fd;
    char              service[16];
    struct timeval    tv;
    struct addrinfo   hints, *ai, *a;

    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    snprintf(service, sizeof(service), "%d", port);

    if (getaddrinfo(host, service, &hints, &ai) != 0) {
        return -1;
    }

    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    fd = -1;

    for (a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC,
                    a->ai_protocol);
        if (fd == -1) {
            continue;
        }

        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));

        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            break;
        }

        close(fd);
        fd = -1;
    }

    freeaddrinfo(ai);

    return fd;
}


int
photo_gearman_metrics(photo_config_t *cf)
{
    return photo_metrics_collector(photo_gearman_collect, cf);
}


/*
 * "status": a line per function, FUNCTION TAB TOTAL TAB RUNNING TAB
 * AVAILABLE_WORKERS, where TOTAL counts the running jobs too.  Queued is
 * what waits for a worker: TOTAL - RUNNING.
 */
static void
photo_gearman_collect(photo_metrics_out_t *out, void *data)
{
    photo_config_t  *cf = data;

    int                      i, j, n;
    char                    *text[PHOTO_GEARMAN_MAX], *line, *next, *tab;
    size_t                   len;
    long                     v[3];
    photo_gearman_server_t   servers[PHOTO_GEARMAN_MAX];

    static const char  *names[3] = {
        "photo_gearman_jobs_queued", "photo_gearman_jobs_running",
        "photo_gearman_workers"
    };

    static const char  *help[3] = {
        "Jobs of the function waiting in gearmand's queue for a worker "
        "(gearmand's status: total less running).",
        "Jobs of the function that a worker holds now.",
        "Workers connected to gearmand that can take the function."
    };

    n = photo_gearman_servers(cf, servers, PHOTO_GEARMAN_MAX);
    if (n == -1) {
        return;
    }

    photo_metrics_family(out, "photo_gearman_up",
                         "Whether gearmand answered its admin protocol's "
                         "status at this scrape.", "gauge");

    for (j = 0; j < n; j++) {
        text[j] = photo_gearman_admin(servers[j].host, servers[j].port,
                                      "status\n", PHOTO_GEARMAN_METRICS_MS);

        photo_metrics_printf(out, "photo_gearman_up{server=\"");
        photo_metrics_label_value(out, servers[j].name,
                                  strlen(servers[j].name));
        photo_metrics_printf(out, "\"} %d\n", text[j] != NULL);
    }

    for (i = 0; i < 3; i++) {
        photo_metrics_family(out, names[i], help[i], "gauge");

        for (j = 0; j < n; j++) {
            if (text[j] == NULL) {
                continue;
            }

            for (line = text[j]; *line && *line != '.'; line = next) {
                next = strchr(line, '\n');
                next = next ? next + 1 : line + strlen(line);

                tab = memchr(line, '\t', (size_t) (next - line));
                if (tab == NULL
                    || sscanf(tab, "\t%ld\t%ld\t%ld", &v[0], &v[1], &v[2])
                       != 3)
                {
                    continue;
                }

                v[0] -= v[1];
                len = (size_t) (tab - line);

                photo_metrics_printf(out, "%s{server=\"", names[i]);
                photo_metrics_label_value(out, servers[j].name,
                                          strlen(servers[j].name));
                photo_metrics_printf(out, "\",function=\"");
                photo_metrics_label_value(out, line, len);
                photo_metrics_printf(out, "\"} %ld\n", v[i] > 0 ? v[i] : 0);
            }
        }
    }

    for (j = 0; j < n; j++) {
        free(text[j]);
    }
}
