/* The Solr stand-in for the index test and bench (see solr_client.h). */

#include "solr_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>


typedef struct {
    char    *buf;
    size_t   len;
} s_body_t;


static void s_die(const char *what) __attribute__((noreturn));
static char *s_http(const char *url, const char *post, long *status);


static void
s_die(const char *what)
{
    printf("Bail out! solr stand-in: %s\n", what);
    fflush(stdout);
    exit(2);
}


static size_t
s_on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    char      *p;
    s_body_t  *b;

    b = userdata;
    p = realloc(b->buf, b->len + size * nmemb + 1);
    if (p == NULL) {
        return 0;
    }

    memcpy(p + b->len, ptr, size * nmemb);
    b->buf = p;
    b->len += size * nmemb;
    b->buf[b->len] = '\0';

    return size * nmemb;
}


/* the answer's body (malloc), or NULL when nothing answered */
static char *
s_http(const char *url, const char *post, long *status)
{
    CURL               *c;
    CURLcode            rc;
    s_body_t            b = { NULL, 0 };
    struct curl_slist  *hdr;

    c = curl_easy_init();
    hdr = curl_slist_append(NULL, "Content-Type: application/json");
    if (c == NULL || hdr == NULL) {
        s_die("libcurl: out of memory");
    }

    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, s_on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);

    if (post) {
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, post);
    }

    rc = curl_easy_perform(c);
    *status = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);

    curl_slist_free_all(hdr);
    curl_easy_cleanup(c);

    if (rc != CURLE_OK) {
        free(b.buf);
        return NULL;
    }

    return b.buf ? b.buf : strdup("");
}


void
s_solr_start(h_t *h, s_solr_t *s)
{
    memset(s, 0, sizeof(*s));
    curl_global_init(CURL_GLOBAL_DEFAULT);

    s->port = h_free_port();
    snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
    snprintf(s->core_url, sizeof(s->core_url), "%s/solr/photos", s->base);
    snprintf(s->env, sizeof(s->env), "PHOTO_SOLR_URL=%s", s->core_url);

    s_solr_restart(h, s);
}


void
s_solr_restart(h_t *h, s_solr_t *s)
{
    int    i, fd;
    long   status;
    char   port[16], log[256], script[512], url[128], *body;

    snprintf(port, sizeof(port), "%d", s->port);
    snprintf(log, sizeof(log), "%s/solr.log", h->dir);
    snprintf(script, sizeof(script), "%s/t/solr/solr_standin.py",
             PHOTO_SOURCE_DIR);

    s->pid = fork();
    if (s->pid < 0) {
        s_die(strerror(errno));
    }

    if (s->pid == 0) {
        fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }

        execlp("python3", "python3", script, "--port", port, "--core",
               "photos", (char *) NULL);
        _exit(127);
    }

    snprintf(url, sizeof(url), "%s/_control", s->base);

    for (i = 0; i < 500; i++) {
        body = s_http(url, NULL, &status);
        free(body);

        if (status == 200) {
            return;
        }

        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = 0;
            s_die("exited at start (see solr.log)");
        }

        h_sleep_ms(20);
    }

    s_die("does not answer");
}


void
s_solr_kill(s_solr_t *s)
{
    if (s->pid > 0) {
        kill(s->pid, SIGTERM);
        waitpid(s->pid, NULL, 0);
        s->pid = 0;
    }
}


void
s_solr_stop(s_solr_t *s)
{
    s_solr_kill(s);
    curl_global_cleanup();
}


void
s_solr_fail(s_solr_t *s, int n, int status, const char *msg)
{
    char  body[512];

    snprintf(body, sizeof(body), "{\"fail_next\":%d,\"status\":%d,"
             "\"msg\":\"%s\"}", n, status, msg ? msg : "");
    s_solr_control(s, body);
}


void
s_solr_control(s_solr_t *s, const char *json)
{
    long   st;
    char   url[128], *answer;

    snprintf(url, sizeof(url), "%s/_control", s->base);

    answer = s_http(url, json, &st);
    free(answer);

    if (st != 200) {
        s_die("POST /_control failed");
    }
}


long
s_solr_stat(s_solr_t *s, const char *field)
{
    long         st, v;
    char         url[128], *answer;
    yajl_val     root, n;
    const char  *path[] = { field, NULL };

    snprintf(url, sizeof(url), "%s/_control", s->base);
    answer = s_http(url, NULL, &st);
    root = answer ? yajl_tree_parse(answer, NULL, 0) : NULL;
    n = root ? yajl_tree_get(root, path, yajl_t_number) : NULL;
    v = n ? (long) YAJL_GET_INTEGER(n) : -1;

    yajl_tree_free(root);
    free(answer);

    return v;
}


const char *
s_solr_near(s_solr_t *s, double lat, double lng, double km)
{
    long         st;
    char        *answer, *fq, url[512], filter[128];
    size_t       i, n;
    CURL        *c;
    yajl_val     root, docs, id;
    static char  ids[4096];

    static const char  *docs_path[] = { "response", "docs", NULL };
    static const char  *id_path[] = { "id", NULL };

    snprintf(filter, sizeof(filter),
             "{!geofilt sfield=location pt=%.6f,%.6f d=%g}", lat, lng, km);

    c = curl_easy_init();
    fq = curl_easy_escape(c, filter, 0);
    snprintf(url, sizeof(url), "%s/select?q=*:*&fq=%s&sfield=location"
             "&pt=%.6f,%.6f&sort=geodist()%%20asc&rows=100&fl=id&wt=json",
             s->core_url, fq, lat, lng);
    curl_free(fq);
    curl_easy_cleanup(c);

    answer = s_http(url, NULL, &st);
    root = answer && st == 200 ? yajl_tree_parse(answer, NULL, 0) : NULL;
    docs = root ? yajl_tree_get(root, docs_path, yajl_t_array) : NULL;

    if (docs == NULL) {
        printf("# select: HTTP %ld: %s\n", st, answer ? answer : "-");
        yajl_tree_free(root);
        free(answer);
        return NULL;
    }

    ids[0] = '\0';
    n = 0;

    for (i = 0; i < YAJL_GET_ARRAY(docs)->len; i++) {
        id = yajl_tree_get(YAJL_GET_ARRAY(docs)->values[i], id_path,
                           yajl_t_string);
        n += (size_t) snprintf(ids + n, sizeof(ids) - n, "%s%s",
                               i ? "," : "", id ? YAJL_GET_STRING(id) : "?");
        n = n < sizeof(ids) ? n : sizeof(ids) - 1;
    }

    yajl_tree_free(root);
    free(answer);

    return ids;
}


char *
s_solr_doc(s_solr_t *s, const char *id)
{
    long  st;
    char  url[256];

    snprintf(url, sizeof(url), "%s/select?q=id:%s&wt=json", s->core_url, id);

    return s_http(url, NULL, &st);
}
