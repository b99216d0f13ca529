/*
 * The metrics endpoint: GET /metrics on host:port, answered with
 * photo_metrics_text() by libmicrohttpd's own thread, which waits in
 * epoll_wait() with no timeout while nobody asks (a connection kept
 * alive between scrapes is closed after PHOTO_METRICS_HTTP_IDLE_S).
 * Signals are blocked in that thread: SIGTERM reaches the worker's.
 */

#ifndef PHOTO_METRICS_HTTP_H
#define PHOTO_METRICS_HTTP_H

#define PHOTO_METRICS_HTTP_IDLE_S  30

/* 0, or -1 (logged): the address cannot be had */
int photo_metrics_http_start(const char *host, int port);
void photo_metrics_http_stop(void);

#endif /* PHOTO_METRICS_HTTP_H */
