/* The metrics endpoint, with libmicrohttpd (see photo_metrics_http.h). */

#include "photo_metrics_http.h"
#include "photo_metrics.h"
#include "photo_log.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#define PHOTO_METRICS_HTTP_TYPE  "text/plain; version=0.0.4; charset=utf-8"


static struct MHD_Daemon  *photo_metrics_http;


static enum MHD_Result photo_metrics_http_answer(void *cls,
    struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *body, size_t *body_len, void **state);
static enum MHD_Result photo_metrics_http_send(struct MHD_Connection *c,
    unsigned status, char *text, size_t len, enum MHD_ResponseMemoryMode mode);
static void photo_metrics_http_log(void *cls, const char *fmt, va_list ap);


int
photo_metrics_http_start(const char *host, int port)
{
    int                       rc;
    sigset_t                  block, saved;
    struct addrinfo           hints, *ai;
    struct sockaddr_storage   addr;

    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;

    rc = getaddrinfo(host, "0", &hints, &ai);
    if (rc != 0) {
        photo_log_error("metrics: %s: %s", host, gai_strerror(rc));
        return -1;
    }

    memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);

    if (addr.ss_family == AF_INET6) {
        ((struct sockaddr_in6 *) &addr)->sin6_port = htons((uint16_t) port);
    } else {
        ((struct sockaddr_in *) &addr)->sin_port = htons((uint16_t) port);
    }

    /* the daemon's thread inherits this mask: no signal handled there */
    sigfillset(&block);
    pthread_sigmask(SIG_BLOCK, &block, &saved);

    photo_metrics_http = MHD_start_daemon(
        MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG
        | (addr.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
        (uint16_t) port, NULL, NULL, photo_metrics_http_answer, NULL,
        /* first: libmicrohttpd logs the options after it through it */
        MHD_OPTION_EXTERNAL_LOGGER, photo_metrics_http_log, NULL,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *) &addr,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned) PHOTO_METRICS_HTTP_IDLE_S,
        MHD_OPTION_CONNECTION_LIMIT, 16u,
        MHD_OPTION_END);

    pthread_sigmask(SIG_SETMASK, &saved, NULL);

    if (photo_metrics_http == NULL) {
        photo_log_error("metrics: cannot listen on %s:%d", host, port);
        return -1;
    }

    photo_log_info("metrics on http://%s%s%s:%d/metrics",
                   addr.ss_family == AF_INET6 ? "[" : "", host,
                   addr.ss_family == AF_INET6 ? "]" : "", port);

    return 0;
}


void
photo_metrics_http_stop(void)
{
    if (photo_metrics_http) {
        MHD_stop_daemon(photo_metrics_http);
        photo_metrics_http = NULL;
    }
}


static enum MHD_Result
photo_metrics_http_answer(void *cls, struct MHD_Connection *c,
    const char *url, const char *method, const char *version,
    const char *body, size_t *body_len, void **state)
{
    char    *text;
    size_t   len;

    static char  not_found[] = "metrics are at /metrics\n";
    static char  not_allowed[] = "GET or HEAD only\n";
    static char  no_memory[] = "out of memory\n";

    if (strcmp(url, "/metrics") != 0) {
        return photo_metrics_http_send(c, MHD_HTTP_NOT_FOUND, not_found,
                                       sizeof(not_found) - 1,
                                       MHD_RESPMEM_PERSISTENT);
    }

    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0
        && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
    {
        return photo_metrics_http_send(c, MHD_HTTP_METHOD_NOT_ALLOWED,
                                       not_allowed, sizeof(not_allowed) - 1,
                                       MHD_RESPMEM_PERSISTENT);
    }

    text = photo_metrics_text(&len);
    if (text == NULL) {
        return photo_metrics_http_send(c, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                       no_memory, sizeof(no_memory) - 1,
                                       MHD_RESPMEM_PERSISTENT);
    }

    return photo_metrics_http_send(c, MHD_HTTP_OK, text, len,
                                   MHD_RESPMEM_MUST_FREE);
}


static enum MHD_Result
photo_metrics_http_send(struct MHD_Connection *c, unsigned status,
    char *text, size_t len, enum MHD_ResponseMemoryMode mode)
{
    enum MHD_Result        rc;
    struct MHD_Response   *r;

    r = MHD_create_response_from_buffer(len, text, mode);
    if (r == NULL) {
        if (mode == MHD_RESPMEM_MUST_FREE) {
            free(text);
        }

        return MHD_NO;
    }

    MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                            status == MHD_HTTP_OK ? PHOTO_METRICS_HTTP_TYPE
                                                  : "text/plain");
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) {
        MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    }

    rc = MHD_queue_response(c, status, r);
    MHD_destroy_response(r);

    return rc;
}


static void
photo_metrics_http_log(void *cls, const char *fmt, va_list ap)
{
    char  line[512];

    vsnprintf(line, sizeof(line), fmt, ap);
    line[strcspn(line, "\n")] = '\0';

    photo_log_warn("metrics: %s", line);
}
