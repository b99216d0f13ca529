/*
 * photo_notify against stand-ins of APNs (HTTP/2 over TLS, with the ES256
 * provider token verified) and FCM (OAuth token endpoint with the RS256
 * assertion verified, messages:send), t/push/, with keys and a CA made
 * for this run: a follow reaches each of the followee's iOS and Android
 * devices exactly once, and a replay sends nothing more; a dead token
 * (APNs 410 / 400 BadDeviceToken, FCM 404 UNREGISTERED) is deleted; a
 * service answering 500 / 429 / 503 delays the push but loses nothing and
 * sends nothing twice; an FCM access token is renewed before it expires,
 * and an APNs provider token APNs calls expired is replaced at once.  A
 * like (photo_social) reaches the photo's owner once, like, unlike and
 * like again too, and so does a comment.
 */

#include "photo_check.h"
#include "photo_harness.h"
#include "photo_contract.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>


#define BASE    7450000000000000000LL
#define USERS   10
#define ANN     (BASE + 1)                  /* follows the others */
#define BEN     (BASE + 2)                  /* healthy devices */
#define CAT     (BASE + 3)                  /* dead devices */
#define DAN     (BASE + 4)                  /* a flaky push service */
#define PHOTO   (BASE + 100)                /* BEN's, seen by ANN */
#define LIKED   (BASE + 101)                /* BEN's, liked by ANN */

#define PUSH    PHOTO_SOURCE_DIR "/t/push"
#define PYTHON  "/usr/bin/python3"          /* Debian's, with h2 */


typedef struct {
    h_t    *h;
    char    keys[256];
    char    records[2][300];            /* apns, fcm */
    char    rules[300];
    char    grants[300];
    int     apns_port;
    int     fcm_port;
    pid_t   standins[2];
    int     pid;                        /* in the tokens: this run's own */
} push_t;

typedef struct {
    push_t      *p;
    int          service;
    const char  *token;
    int          status;
    int          times;
} want_t;






static void
push_start(h_t *h, push_t *p)
{
    char   cmd[600], port[2][16];
    char  *apns[] = {
        PYTHON, PUSH "/apns_standin.py", "--port", port[0],
        "--cert", NULL, "--key", NULL, "--auth-pub", NULL,
        "--key-id", "KEY123", "--team-id", "TEAM456",
        "--topic", "com.example.photo", "--rules", p->rules,
        "--records", p->records[0], NULL
    };
    char  *fcm[] = {
        PYTHON, PUSH "/fcm_standin.py", "--port", port[1],
        "--sa-pub", NULL, "--client-email",
        "push@photo-test.iam.gserviceaccount.com", "--project",
        "photo-test", "--rules", p->rules, "--records", p->records[1],
        "--grants", p->grants, NULL
    };
    char   cert[300], key[300], apub[300], fpub[300];

    memset(p, 0, sizeof(*p));
    p->h = h;
    p->pid = (int) getpid();
    p->apns_port = h_free_port();
    p->fcm_port = h_free_port();

    snprintf(p->keys, sizeof(p->keys), "%s/keys", h->dir);
    snprintf(p->records[0], sizeof(p->records[0]), "%s/apns.txt", h->dir);
    snprintf(p->records[1], sizeof(p->records[1]), "%s/fcm.txt", h->dir);
    snprintf(p->rules, sizeof(p->rules), "%s/rules.json", p->keys);
    snprintf(p->grants, sizeof(p->grants), "%s/grants.txt", h->dir);
    snprintf(cert, sizeof(cert), "%s/server.crt", p->keys);
    snprintf(key, sizeof(key), "%s/server.key", p->keys);
    snprintf(apub, sizeof(apub), "%s/apns.pub", p->keys);
    snprintf(fpub, sizeof(fpub), "%s/fcm.pub", p->keys);
    snprintf(port[0], sizeof(port[0]), "%d", p->apns_port);
    snprintf(port[1], sizeof(port[1]), "%d", p->fcm_port);

    snprintf(cmd, sizeof(cmd), "mkdir -p '%s' && '%s/make_keys.sh' '%s' %d",
             p->keys, PUSH, p->keys, p->fcm_port);
    if (system(cmd) != 0) {
        printf("Bail out! %s failed\n", cmd);
        exit(2);
    }

    apns[5] = cert;
    apns[7] = key;
    apns[9] = apub;
    fcm[5] = fpub;

    p->standins[0] = h_spawn(p->h, "apns_standin", apns);
    p->standins[1] = h_spawn(p->h, "fcm_standin", fcm);

    if (!h_wait(h, h_port_up, &p->apns_port, 10000)
        || !h_wait(h, h_port_up, &p->fcm_port, 10000))
    {
        printf("Bail out! the push stand-ins did not start; see %s\n",
               h->dir);
        exit(2);
    }
}


static void
push_stop(push_t *p)
{
    int  i;

    for (i = 0; i < 2; i++) {
        if (p->standins[i] > 0) {
            kill(p->standins[i], SIGTERM);
            waitpid(p->standins[i], NULL, 0);
        }
    }
}


/* how many requests for token a stand-in answered with status */
static int
answered(push_t *p, int service, const char *token, int status)
{
    int     n, st;
    char    tok[512], conn[64];
    FILE   *f;
    double  at;

    f = fopen(p->records[service], "r");
    if (f == NULL) {
        return 0;
    }

    n = 0;

    while (fscanf(f, "%d %511s %63s %lf", &st, tok, conn, &at) == 4) {
        n += strcmp(tok, token) == 0 && (status == 0 || st == status);
    }

    fclose(f);

    return n;
}


/* distinct HTTP/2 connections the APNs stand-in saw */
static int
apns_connections(push_t *p)
{
    int     n, st, i, seen;
    char    tok[512], conn[64], conns[16][64];
    FILE   *f;
    double  at;

    f = fopen(p->records[0], "r");
    if (f == NULL) {
        return 0;
    }

    n = 0;

    while (fscanf(f, "%d %511s %63s %lf", &st, tok, conn, &at) == 4) {
        for (seen = 0, i = 0; i < n; i++) {
            seen |= strcmp(conns[i], conn) == 0;
        }

        if (!seen && n < 16) {
            snprintf(conns[n++], sizeof(conns[0]), "%s", conn);
        }
    }

    fclose(f);

    return n;
}


/* seconds between the answer status to token and the next request for it */
static double
waited_after(push_t *p, int service, const char *token, int status)
{
    int     st, found;
    char    tok[512], conn[64];
    FILE   *f;
    double  at, then;

    f = fopen(p->records[service], "r");
    if (f == NULL) {
        return -1;
    }

    found = 0;
    then = -1;

    while (fscanf(f, "%d %511s %63s %lf", &st, tok, conn, &at) == 4) {
        if (strcmp(tok, token) != 0) {
            continue;
        }

        if (found) {
            fclose(f);
            return at - then;
        }

        if (st == status) {
            found = 1;
            then = at;
        }
    }

    fclose(f);

    return -1;
}


static int
lines(const char *path)
{
    int    n, c;
    FILE  *f;

    f = fopen(path, "r");
    if (f == NULL) {
        return 0;
    }

    for (n = 0; (c = getc(f)) != EOF; n += c == '\n') { /* void */ }

    fclose(f);

    return n;
}


static int
got(h_t *h, void *arg)
{
    want_t  *w = arg;

    return answered(w->p, w->service, w->token, w->status) >= w->times;
}


static int
tokens_left(h_t *h, void *arg)
{
    return h_sql_int(h, "select count(*) from device_tokens where user_id"
                        " = %lld", *(long long *) arg) == 1;
}


static const char *
tok(push_t *p, const char *name)
{
    static char  buf[8][128];
    static int   n;

    n = (n + 1) % 8;
    snprintf(buf[n], sizeof(buf[n]), "%s-%d", name, p->pid);

    return buf[n];
}


static void
device(h_t *h, long long user, const char *platform, const char *token)
{
    PQclear(h_sql(h, "insert into device_tokens (user_id, platform, token)"
                     " values (%lld, '%s', '%s')", user, platform, token));
}


static void
notify(h_t *h, const char *unique, long long user, long long actor)
{
    char  payload[512];

    snprintf(payload, sizeof(payload),
             "{\"unique\":\"%s\",\"user_id\":\"%lld\",\"event\":\"follow\","
             "\"actor\":\"%lld\"}", unique, user, actor);
    h_submit(h, PHOTO_JOB_NOTIFY, unique, payload);
}


static void
rules(push_t *p, const char *json)
{
    FILE  *f;

    f = fopen(p->rules, "w");
    fputs(json, f);
    fclose(f);
}


static void
social(h_t *h, const char *function, const char *fmt, long long id,
    const char *tail)
{
    char  unique[32], json[512];

    snprintf(unique, sizeof(unique), "%lld", id);
    snprintf(json, sizeof(json), fmt, id, ANN, LIKED, tail);
    h_submit(h, function, unique, json);
}


/* 7: likes and comments, through photo_social */
static void
check_social(h_t *h, push_t *p)
{
    int          n, taken;
    want_t       w;
    const char  *ben_ios;

    static const char  *like =
        "{\"unique\":\"%lld\",\"user_id\":\"%lld\",\"photo_id\":\"%lld\","
        "\"action\":\"%s\"}";
    static const char  *comment =
        "{\"unique\":\"%1$lld\",\"id\":\"%1$lld\",\"user_id\":\"%2$lld\","
        "\"photo_id\":\"%3$lld\",\"text\":\"%4$s\",\"created_at\":1}";

    PQclear(h_sql(h, "insert into photos (id, user_id, media_path,"
                     " image_url, width, height) values (%lld, %lld, 'm',"
                     " 'i', 1, 1)", LIKED, BEN));
    h_worker(h, "photo_social", "PHOTO_NOTIFY_ENABLED=1", NULL);

    /* what the iPhone was sent so far, and how much of it was taken */
    ben_ios = tok(p, "ios-ben");
    n = answered(p, 0, ben_ios, 0);
    taken = answered(p, 0, ben_ios, 200);

    social(h, PHOTO_JOB_LIKE, like, BASE + 600, "like");
    w = (want_t) { p, 0, ben_ios, 200, taken + 1 };
    CHECK(h_wait(h, got, &w, 10000), "like: the photo's owner got a push");

    social(h, PHOTO_JOB_LIKE, like, BASE + 601, "unlike");
    social(h, PHOTO_JOB_LIKE, like, BASE + 602, "like");
    CHECK(h_wait_drained(h, PHOTO_JOB_LIKE, 10000)
          && h_wait_drained(h, PHOTO_JOB_NOTIFY, 10000)
          && answered(p, 0, ben_ios, 0) == n + 1,
          "like, unlike, like again: one push (%d)",
          answered(p, 0, ben_ios, 0) - n);

    social(h, PHOTO_JOB_COMMENT, comment, BASE + 700,
           "caf\\u00e9 \\\"au lait\\\"");
    w = (want_t) { p, 0, ben_ios, 200, taken + 2 };
    CHECK(h_wait(h, got, &w, 10000) && h_wait_drained(h, PHOTO_JOB_NOTIFY,
                                                      10000)
          && answered(p, 0, ben_ios, 0) == n + 2,
          "comment: the photo's owner got one push");
}


int
main(void)
{
    int           rc, n;
    char          env[8][400], json[1024], unique[64], dead[5][128];
    h_t           h;
    pid_t         notifier;
    push_t        p;
    want_t        w;
    long long     user;
    const char   *ben_ios, *ben_and, *dan_ios, *dan_and, *dan_ok, *ann_ios;

    h_init(&h, "notify");
    h_forget(&h, BASE, USERS);
    h_users(&h, BASE, USERS);

    push_start(&h, &p);

    /* the stand-ins refuse what Apple and Google would */
    snprintf(json, sizeof(json), "%s %s/check_standins.py %d %d '%s'",
             PYTHON, PUSH, p.apns_port, p.fcm_port, p.keys);
    CHECK(system(json) == 0, "stand-ins: a JWT signed with another key, "
          "another topic or no bearer token is refused");

    /* what follows counts the worker's requests only */
    fclose(fopen(p.records[0], "w"));
    fclose(fopen(p.records[1], "w"));
    fclose(fopen(p.grants, "w"));

    snprintf(env[0], sizeof(env[0]), "PHOTO_APNS_URL=https://127.0.0.1:%d",
             p.apns_port);
    snprintf(env[1], sizeof(env[1]), "PHOTO_APNS_KEY_FILE=%s/apns.p8",
             p.keys);
    snprintf(env[2], sizeof(env[2]), "PHOTO_APNS_CA_FILE=%s/ca.crt", p.keys);
    snprintf(env[3], sizeof(env[3]), "PHOTO_FCM_URL=http://127.0.0.1:%d",
             p.fcm_port);
    snprintf(env[4], sizeof(env[4]), "PHOTO_FCM_KEY_FILE=%s/fcm.json",
             p.keys);

    notifier = h_worker(&h, "photo_notify", env[0], env[1], env[2], env[3],
                        env[4], "PHOTO_APNS_KEY_ID=KEY123",
                        "PHOTO_APNS_TEAM_ID=TEAM456",
                        "PHOTO_APNS_TOPIC=com.example.photo", NULL);
    h_worker(&h, "photo_follow", "PHOTO_NOTIFY_ENABLED=1", NULL);

    /* 1: a follow, to one iPhone and one Android phone, once */
    ben_ios = tok(&p, "ios-ben");
    ben_and = tok(&p, "and-ben");
    device(&h, BEN, "ios", ben_ios);
    device(&h, BEN, "android", ben_and);

    snprintf(json, sizeof(json),
             "{\"unique\":\"%lld\",\"follower\":\"%lld\",\"followee\":"
             "\"%lld\",\"action\":\"follow\"}", BASE + 500, ANN, BEN);
    snprintf(unique, sizeof(unique), "%lld", BASE + 500);
    h_submit(&h, PHOTO_JOB_FOLLOW, unique, json);

    w = (want_t) { &p, 0, ben_ios, 200, 1 };
    CHECK(h_wait(&h, got, &w, 10000), "follow: the iPhone got a push");
    w = (want_t) { &p, 1, ben_and, 200, 1 };
    CHECK(h_wait(&h, got, &w, 10000), "follow: the Android phone got one");

    /* the same follow again (a replayed job): nothing more is sent */
    h_submit(&h, PHOTO_JOB_FOLLOW, unique, json);
    CHECK(h_wait_drained(&h, PHOTO_JOB_FOLLOW, 10000)
          && h_wait_drained(&h, PHOTO_JOB_NOTIFY, 10000),
          "replay: follow and notify jobs applied");
    h_sleep_ms(300);
    CHECK(answered(&p, 0, ben_ios, 0) == 1
          && answered(&p, 1, ben_and, 0) == 1,
          "replay: still exactly one request per device (apns %d, fcm %d)",
          answered(&p, 0, ben_ios, 0), answered(&p, 1, ben_and, 0));
    CHECK(answered(&p, 0, "-", 0) == 0 && answered(&p, 1, "-", 0) == 0,
          "every request was well-formed and authenticated");

    /* 2: dead tokens are deleted, the living one kept */
    snprintf(dead[0], sizeof(dead[0]), "%s", tok(&p, "ios-cat-gone"));
    snprintf(dead[1], sizeof(dead[1]), "%s", tok(&p, "ios-cat-bad"));
    snprintf(dead[2], sizeof(dead[2]), "%s", tok(&p, "and-cat-gone"));
    snprintf(dead[3], sizeof(dead[3]), "%s", tok(&p, "and-cat-bad"));
    snprintf(dead[4], sizeof(dead[4]), "%s", tok(&p, "and-cat-ok"));
    snprintf(json, sizeof(json),
             "{\"%s\":[{\"status\":410,\"reason\":\"Unregistered\"}],"
             "\"%s\":[{\"status\":400,\"reason\":\"BadDeviceToken\"}],"
             "\"%s\":[{\"status\":404}],"
             "\"%s\":[{\"status\":400}]}",
             dead[0], dead[1], dead[2], dead[3]);
    rules(&p, json);

    device(&h, CAT, "ios", dead[0]);
    device(&h, CAT, "ios", dead[1]);
    device(&h, CAT, "android", dead[2]);
    device(&h, CAT, "android", dead[3]);
    device(&h, CAT, "android", dead[4]);

    snprintf(unique, sizeof(unique), "notify:test-cat-%d", p.pid);
    notify(&h, unique, CAT, ANN);

    user = CAT;
    CHECK(h_wait(&h, tokens_left, &user, 10000),
          "dead tokens: APNs 410 and 400 BadDeviceToken, FCM 404 "
          "UNREGISTERED and 400 INVALID_ARGUMENT deleted");
    CHECK(h_sql_int(&h, "select count(*) from device_tokens where token ="
                        " '%s'", dead[4]) == 1,
          "dead tokens: the living one kept");
    w = (want_t) { &p, 1, dead[4], 200, 1 };
    CHECK(h_wait(&h, got, &w, 5000) && answered(&p, 1, dead[4], 0) == 1,
          "dead tokens: the living one got its push, once");

    /* 3: 500, 429 with Retry-After, 503: delayed, then delivered once */
    dan_ios = tok(&p, "ios-dan-flaky");
    dan_and = tok(&p, "and-dan-flaky");
    dan_ok = tok(&p, "ios-dan-ok");
    snprintf(json, sizeof(json),
             "{\"%s\":[{\"status\":500},{\"status\":429,\"retry_after\":1}],"
             "\"%s\":[{\"status\":503},{\"status\":429,\"retry_after\":1},"
             "{\"status\":500}]}", dan_ios, dan_and);
    rules(&p, json);

    device(&h, DAN, "ios", dan_ios);
    device(&h, DAN, "ios", dan_ok);
    device(&h, DAN, "android", dan_and);

    snprintf(unique, sizeof(unique), "notify:test-dan-%d", p.pid);
    notify(&h, unique, DAN, ANN);

    w = (want_t) { &p, 0, dan_ios, 200, 1 };
    CHECK(h_wait(&h, got, &w, 15000), "flaky: the iPhone got its push");
    w = (want_t) { &p, 1, dan_and, 200, 1 };
    CHECK(h_wait(&h, got, &w, 15000), "flaky: the Android phone got its");
    CHECK(h_wait_drained(&h, PHOTO_JOB_NOTIFY, 10000), "flaky: job done");
    CHECK(answered(&p, 0, dan_ios, 0) == 3 && answered(&p, 1, dan_and, 0) == 4
          && answered(&p, 0, dan_ios, 200) == 1
          && answered(&p, 1, dan_and, 200) == 1,
          "flaky: retried until taken, then never again (apns %d, fcm %d)",
          answered(&p, 0, dan_ios, 0), answered(&p, 1, dan_and, 0));
    CHECK(waited_after(&p, 0, dan_ios, 429) >= 0.95
          && waited_after(&p, 1, dan_and, 429) >= 0.95,
          "flaky: Retry-After: 1 was honoured (apns %.2f s, fcm %.2f s)",
          waited_after(&p, 0, dan_ios, 429),
          waited_after(&p, 1, dan_and, 429));
    CHECK(answered(&p, 0, dan_ok, 0) == 1,
          "flaky: a device served on the first try is not sent again "
          "(%d)", answered(&p, 0, dan_ok, 0));
    CHECK(h_sql_int(&h, "select count(*) from device_tokens where user_id ="
                        " %lld", DAN) == 3,
          "flaky: no token deleted for a passing failure");

    /* 4: a new photo notifies its poster's followers when asked to */
    h_worker(&h, "photo_fanout", "PHOTO_NOTIFY_ENABLED=1",
             "PHOTO_NOTIFY_PHOTOS=1", NULL);
    ann_ios = tok(&p, "ios-ann");
    device(&h, ANN, "ios", ann_ios);

    snprintf(unique, sizeof(unique), "fanout:%lld", PHOTO);
    snprintf(json, sizeof(json),
             "{\"unique\":\"%s\",\"id\":\"%lld\",\"user_id\":\"%lld\"}",
             unique, PHOTO, BEN);
    h_submit(&h, PHOTO_JOB_FANOUT, unique, json);

    w = (want_t) { &p, 0, ann_ios, 200, 1 };
    CHECK(h_wait(&h, got, &w, 10000),
          "photo: the poster's follower got a push");
    CHECK(h_wait_drained(&h, PHOTO_JOB_FANOUT, 10000)
          && h_wait_drained(&h, PHOTO_JOB_NOTIFY, 10000)
          && answered(&p, 0, ann_ios, 0) == 1,
          "photo: exactly one (%d)", answered(&p, 0, ann_ios, 0));

    /* the worker's connections and credentials were kept */
    CHECK(apns_connections(&p) == 1,
          "apns: every push on one HTTP/2 connection (%d)",
          apns_connections(&p));
    CHECK(lines(p.grants) == 1, "fcm: one OAuth access token for all (%d)",
          lines(p.grants));

    /* 5: an access token is renewed before it expires (the stand-in
       refuses an expired one with 401): 62 s, less the worker's 60 s of
       margin, is 2 s of use */
    rules(&p, "{\"_expires_in\":62}");
    fclose(fopen(p.grants, "w"));

    /* a new worker, whose first token is such a short one */
    h_worker_stop(&h, notifier, SIGTERM, 5000);
    h_worker(&h, "photo_notify", env[0], env[1], env[2], env[3], env[4],
             "PHOTO_APNS_KEY_ID=KEY123", "PHOTO_APNS_TEAM_ID=TEAM456",
             "PHOTO_APNS_TOPIC=com.example.photo", NULL);

    ben_and = tok(&p, "and-ben");           /* tok()'s buffers rotate */
    n = answered(&p, 1, ben_and, 200);

    snprintf(unique, sizeof(unique), "notify:test-renew1-%d", p.pid);
    notify(&h, unique, BEN, ANN);
    w = (want_t) { &p, 1, ben_and, 200, n + 1 };
    CHECK(h_wait(&h, got, &w, 10000), "renewal: a push with the token");
    h_sleep_ms(2500);

    snprintf(unique, sizeof(unique), "notify:test-renew2-%d", p.pid);
    notify(&h, unique, BEN, ANN);
    w = (want_t) { &p, 1, ben_and, 200, n + 2 };
    CHECK(h_wait(&h, got, &w, 10000), "renewal: a push 2.5 s later");
    CHECK(lines(p.grants) == 2 && answered(&p, 1, "-", 401) == 0,
          "renewal: the token about to expire was replaced before the "
          "second push, none was refused (tokens %d, 401s %d)",
          lines(p.grants), answered(&p, 1, "-", 401));

    /* 6: APNs refusing a provider token as too old (403
       ExpiredProviderToken, which Apple answers past an hour): a new one,
       and the push goes through, once */
    rules(&p, "{\"_apns_max_age\":1}");
    ben_ios = tok(&p, "ios-ben");
    n = answered(&p, 0, ben_ios, 200);
    h_sleep_ms(2100);

    snprintf(unique, sizeof(unique), "notify:test-renew3-%d", p.pid);
    notify(&h, unique, BEN, ANN);
    w = (want_t) { &p, 0, ben_ios, 200, n + 1 };
    CHECK(h_wait(&h, got, &w, 10000) && h_wait_drained(&h, PHOTO_JOB_NOTIFY,
                                                       10000),
          "apns renewal: the push went through");
    CHECK(answered(&p, 0, ben_ios, 403) >= 1
          && answered(&p, 0, ben_ios, 200) == n + 1,
          "apns renewal: refused as ExpiredProviderToken first (%d), then "
          "taken once with a new token (%d)", answered(&p, 0, ben_ios, 403),
          answered(&p, 0, ben_ios, 200) - n);
    rules(&p, "{}");

    check_social(&h, &p);

    rc = CHECK_DONE();

    /* this run's idempotency marks */
    h_redis_del_keys(&h, "notified:*-%d", p.pid);
    h_redis_del_keys(&h, "like_notified:{%lld}:*", BEN);
    snprintf(unique, sizeof(unique), "photo:%lld", LIKED);
    memcached_delete(h.mc, unique, strlen(unique), 0);

    h_forget(&h, BASE, USERS);
    h_done(&h, rc != 0);
    push_stop(&p);

    return rc;
}
