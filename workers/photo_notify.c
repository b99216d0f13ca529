/*
 * photo_notify: a push notification to every device of one user
 * (background job, from the follow, fan-out and social workers).
 *
 * The recipient's tokens come from device_tokens; iOS ones go to APNs
 * (HTTP/2, all multiplexed on one connection), Android ones to FCM.
 * Whatever the service answers is acted on per token:
 *
 *   taken (200)          notified:<unique>:<token> is set in Redis, so
 *                        that a replay or a retry of this job skips it:
 *                        a notification is never sent twice for an event;
 *   the app is gone      the token row is deleted;
 *   (APNs 410 or 400
 *   BadDeviceToken, FCM
 *   404 UNREGISTERED /
 *   400 INVALID_ARGUMENT)
 *   throttled, or down   the job is retried, after Retry-After when the
 *   (429, 5xx, network)  service said how long, and only the tokens not
 *                        yet taken are sent again.
 *
 * The mark is set after the 200, so the one window for a double push is
 * a Redis failure between the two (logged).  Settings (environment or
 * --config, as every worker's): PHOTO_APNS_URL, PHOTO_APNS_KEY_FILE,
 * PHOTO_APNS_KEY_ID, PHOTO_APNS_TEAM_ID, PHOTO_APNS_TOPIC,
 * PHOTO_APNS_CA_FILE; PHOTO_FCM_URL, PHOTO_FCM_KEY_FILE, PHOTO_FCM_CA_FILE.
 * Either service may be left out.
 */

#include "photo_worker.h"
#include "photo_apns.h"
#include "photo_fcm.h"
#include "photo_id.h"
#include "photo_log.h"
#include "photo_notify_event.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#define PHOTO_NOTIFY_UNIQUE_MAX       128
#define PHOTO_NOTIFY_TOKEN_MAX        4096     /* device_tokens' check */
#define PHOTO_NOTIFY_KEY_MAX          (sizeof(PHOTO_REDIS_NOTIFIED)          \
                                       + PHOTO_NOTIFY_UNIQUE_MAX + 1         \
                                       + PHOTO_NOTIFY_TOKEN_MAX)
#define PHOTO_NOTIFY_TEXT             256
#define PHOTO_NOTIFY_RETRY_AFTER_MAX  60       /* seconds: a longer ask is
                                                  served by gearmand's
                                                  requeue, not a sleep */

enum { PHOTO_NOTIFY_FOLLOW = 0, PHOTO_NOTIFY_PHOTO, PHOTO_NOTIFY_LIKE,
       PHOTO_NOTIFY_COMMENT };
enum { PHOTO_NOTIFY_IOS = 0, PHOTO_NOTIFY_ANDROID, PHOTO_NOTIFY_PLATFORMS };

static const char  *photo_notify_events[] = {
    "follow", "photo", "like", "comment", NULL
};
static const char  *photo_notify_platforms[] = { "ios", "android" };

static photo_apns_t  *photo_notify_apns;
static photo_fcm_t   *photo_notify_fcm;

/* photo_notify_pushes_total{service,outcome}: by platform, then outcome */
enum { PHOTO_NOTIFY_SENT = 0, PHOTO_NOTIFY_REFUSED, PHOTO_NOTIFY_DELETED,
       PHOTO_NOTIFY_OUTCOMES };

static photo_metric_t  *photo_notify_pushes[2][PHOTO_NOTIFY_OUTCOMES];
static const photo_backend_t  photo_notify_services[] = {
    PHOTO_BACKEND_APNS, PHOTO_BACKEND_FCM
};


static int photo_notify_setup(const photo_config_t *cf);
static const char *photo_notify_opt(const char *v);
static photo_job_rc_t photo_notify(photo_ctx_t *ctx, photo_job_t *job);
static void photo_notify_text(photo_job_t *job, int event, const char *actor,
    const char *text, char *title, char *body);
static redisContext *photo_notify_redis(photo_ctx_t *ctx, photo_job_t *job,
    const char *unique, const char *token, char *key, size_t size);
static int photo_notify_sent(photo_ctx_t *ctx, photo_job_t *job,
    const char *unique, const char *token);
static photo_job_rc_t photo_notify_outcome(photo_ctx_t *ctx,
    photo_job_t *job, const char *unique, const char *user, int platform,
    photo_push_result_t *res, size_t n, long *retry_after);
static void photo_notify_metrics(void);


static const photo_worker_function_t  photo_notify_functions[] = {
    { .name = PHOTO_JOB_NOTIFY, .handler = photo_notify,
      .kind = PHOTO_JOB_BACKGROUND },
    { .name = NULL }
};


int
main(int argc, char **argv)
{
    int             rc;
    photo_worker_t  w;

    if (photo_worker_init(&w, argc, argv, "photo_notify",
                          "Sends push notifications through APNs and FCM "
                          "to every device of a user.",
                          photo_notify_functions)
        != 0)
    {
        return w.exit_code;
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    photo_notify_metrics();

    rc = photo_notify_setup(&w.cf) == 0 ? photo_worker_run(&w) : 1;

    photo_apns_free(photo_notify_apns);
    photo_fcm_free(photo_notify_fcm);
    photo_worker_done(&w);
    curl_global_cleanup();

    return rc;
}


static void
photo_notify_metrics(void)
{
    int          p, o;
    char         labels[64];
    const char  *outcomes[] = { "sent", "refused", "token_deleted" };

    for (p = 0; p < PHOTO_NOTIFY_PLATFORMS; p++) {
        for (o = 0; o < PHOTO_NOTIFY_OUTCOMES; o++) {
            snprintf(labels, sizeof(labels),
                     "service=\"%s\",outcome=\"%s\"",
                     photo_backend_names[photo_notify_services[p]],
                     outcomes[o]);

            photo_notify_pushes[p][o] = photo_metrics_counter(
                "photo_notify_pushes_total",
                "Pushes answered by APNs or FCM: sent (taken), refused (not "
                "retried), token_deleted (the app is gone: the token was "
                "deleted).", labels);
        }
    }
}


/* the push clients the settings configure: at least one */
static int
photo_notify_setup(const photo_config_t *cf)
{
    photo_fcm_conf_t   fcm;
    photo_apns_conf_t  apns;

    if (cf->apns_url[0]) {
        apns.url = cf->apns_url;
        apns.key_file = photo_notify_opt(cf->apns_key_file);
        apns.key_id = photo_notify_opt(cf->apns_key_id);
        apns.team_id = photo_notify_opt(cf->apns_team_id);
        apns.topic = photo_notify_opt(cf->apns_topic);
        apns.ca_file = photo_notify_opt(cf->apns_ca_file);

        photo_notify_apns = photo_apns_create(&apns);
        if (photo_notify_apns == NULL) {
            return -1;
        }

        photo_log_info("apns: %s, topic %s", apns.url, apns.topic);
    }

    if (cf->fcm_url[0]) {
        fcm.url = cf->fcm_url;
        fcm.key_file = photo_notify_opt(cf->fcm_key_file);
        fcm.ca_file = photo_notify_opt(cf->fcm_ca_file);

        photo_notify_fcm = photo_fcm_create(&fcm);
        if (photo_notify_fcm == NULL) {
            return -1;
        }

        photo_log_info("fcm: %s", fcm.url);
    }

    if (photo_notify_apns == NULL && photo_notify_fcm == NULL) {
        photo_log_error("neither PHOTO_APNS_URL nor PHOTO_FCM_URL is set: "
                        "nothing to send with");
        return -1;
    }

    return 0;
}


/* an unset setting is "": NULL to the clients */
static const char *
photo_notify_opt(const char *v)
{
    return v[0] != '\0' ? v : NULL;
}


static photo_job_rc_t
photo_notify(photo_ctx_t *ctx, photo_job_t *job)
{
    int                   event, i, rows, p;
    char                  user[PHOTO_ID_BUF], actor[PHOTO_ID_BUF],
                          title[PHOTO_NOTIFY_TEXT], body[PHOTO_NOTIFY_TEXT];
    long                  retry_after;
    size_t                n[PHOTO_NOTIFY_PLATFORMS], skipped;
    int64_t               user_id, actor_id, photo_id = 0;
    PGresult             *res;
    const char           *unique, *params[2], *token, *platform, *text,
                         *path[2];
    photo_job_rc_t        rc, out;
    photo_push_msg_t      msg;
    photo_push_result_t  *results[PHOTO_NOTIFY_PLATFORMS];
    struct timespec       start;

    static const char  *devices =
        "select d.platform, d.token, u.username"
        " from users u left join device_tokens d on d.user_id = $1"
        " where u.id = $2 order by d.id";

    if (photo_job_string(job, PHOTO_JOB_F_UNIQUE, 1, PHOTO_NOTIFY_UNIQUE_MAX,
                         &unique, NULL)
        || photo_job_id(job, PHOTO_JOB_F_USER_ID, &user_id)
        || photo_job_oneof(job, PHOTO_JOB_F_EVENT, photo_notify_events,
                           &event)
        || photo_job_id(job, PHOTO_JOB_F_ACTOR, &actor_id)
        || (event != PHOTO_NOTIFY_FOLLOW
            && photo_job_id(job, PHOTO_JOB_F_PHOTO_ID, &photo_id)))
    {
        return PHOTO_JOB_DEAD;
    }

    /* a comment's start, when its worker gave one (optional) */
    text = "";
    path[0] = PHOTO_JOB_F_TEXT;
    path[1] = NULL;

    if (event == PHOTO_NOTIFY_COMMENT
        && yajl_tree_get(job->root, path, yajl_t_any) != NULL
        && photo_job_string(job, PHOTO_JOB_F_TEXT, 0, PHOTO_NOTIFY_TEXT_MAX,
                            &text, NULL) != 0)
    {
        return PHOTO_JOB_DEAD;
    }

    photo_id_format(user, user_id);
    photo_id_format(actor, actor_id);
    params[0] = user;
    params[1] = actor;

    /* the actor's name for the text, and the recipient's devices */
    res = photo_ctx_pg(ctx, job, devices, 2, params, &rc);
    if (res == NULL) {
        return rc;
    }

    rows = PQntuples(res);
    if (rows == 0) {
        PQclear(res);
        return photo_job_dead(job, "unknown user %s", actor);
    }

    photo_notify_text(job, event, PQgetvalue(res, 0, 2), text, title, body);
    msg.title = title;
    msg.body = body;

    results[0] = calloc((size_t) rows, sizeof(photo_push_result_t));
    results[1] = calloc((size_t) rows, sizeof(photo_push_result_t));
    n[0] = n[1] = 0;
    skipped = 0;

    if (results[0] == NULL || results[1] == NULL) {
        rc = photo_job_retry(job, "out of memory");
        goto done;
    }

    for (i = 0; i < rows; i++) {
        if (PQgetisnull(res, i, 0)) {
            continue;                           /* no device at all */
        }

        platform = PQgetvalue(res, i, 0);
        token = PQgetvalue(res, i, 1);
        p = strcmp(platform, "ios") == 0 ? PHOTO_NOTIFY_IOS
                                         : PHOTO_NOTIFY_ANDROID;

        switch (photo_notify_sent(ctx, job, unique, token)) {
        case 1:
            skipped++;
            continue;
        case -1:
            rc = PHOTO_JOB_RETRY;
            goto done;
        }

        if ((p == PHOTO_NOTIFY_IOS && photo_notify_apns == NULL)
            || (p == PHOTO_NOTIFY_ANDROID && photo_notify_fcm == NULL))
        {
            photo_log_debug("%s: no %s push configured", unique, platform);
            continue;
        }

        results[p][n[p]++].token = token;
    }

    if (n[PHOTO_NOTIFY_IOS]) {
        photo_metrics_call_begin(&start);
        photo_apns_send(photo_notify_apns, &msg, results[PHOTO_NOTIFY_IOS],
                        n[PHOTO_NOTIFY_IOS]);
        photo_metrics_call_end(PHOTO_BACKEND_APNS, &start);
    }

    if (n[PHOTO_NOTIFY_ANDROID]) {
        photo_metrics_call_begin(&start);
        photo_fcm_send(photo_notify_fcm, &msg, results[PHOTO_NOTIFY_ANDROID],
                       n[PHOTO_NOTIFY_ANDROID]);
        photo_metrics_call_end(PHOTO_BACKEND_FCM, &start);
    }

    rc = PHOTO_JOB_DONE;
    retry_after = 0;

    for (p = 0; p < PHOTO_NOTIFY_PLATFORMS; p++) {
        out = photo_notify_outcome(ctx, job, unique, user, p, results[p],
                                   n[p], &retry_after);
        if (out != PHOTO_JOB_DONE) {
            rc = out;
        }
    }

    if (rc == PHOTO_JOB_DONE) {
        photo_log_info("%s: user %s: %zu ios, %zu android%s", unique, user,
                       n[PHOTO_NOTIFY_IOS], n[PHOTO_NOTIFY_ANDROID],
                       skipped ? " (others sent before)" : "");

    } else if (retry_after > 0) {
        photo_worker_wait(retry_after, PHOTO_NOTIFY_RETRY_AFTER_MAX,
                          "the push service");
    }

done:

    PQclear(res);
    free(results[0]);
    free(results[1]);

    return rc;
}


static void
photo_notify_text(photo_job_t *job, int event, const char *actor,
    const char *text, char *title, char *body)
{
    if (actor[0] == '\0') {
        actor = "Someone";
    }

    switch (event) {

    case PHOTO_NOTIFY_FOLLOW:
        snprintf(title, PHOTO_NOTIFY_TEXT, "New follower");
        snprintf(body, PHOTO_NOTIFY_TEXT, "%.200s started following you",
                 actor);
        break;

    case PHOTO_NOTIFY_LIKE:
        snprintf(title, PHOTO_NOTIFY_TEXT, "New like");
        snprintf(body, PHOTO_NOTIFY_TEXT, "%.100s liked your photo", actor);
        break;

    case PHOTO_NOTIFY_COMMENT:
        /* the social worker cut the text between characters, to at most
           PHOTO_NOTIFY_TEXT_MAX bytes: all of it fits */
        snprintf(title, PHOTO_NOTIFY_TEXT, "New comment");
        snprintf(body, PHOTO_NOTIFY_TEXT, text[0] ? "%.100s commented: %s"
                                                  : "%.100s commented%s",
                 actor, text);
        break;

    default:
        snprintf(title, PHOTO_NOTIFY_TEXT, "New photo");
        snprintf(body, PHOTO_NOTIFY_TEXT, "%.200s posted a photo", actor);
    }
}


/*
 * The connection serving the mark of a push taken, notified:<unique>:
 * <token> (written into key), or NULL (reason set).  One key per device,
 * so, with a Redis Cluster, the marks of one job are on several nodes.
 */
static redisContext *
photo_notify_redis(photo_ctx_t *ctx, photo_job_t *job, const char *unique,
    const char *token, char *key, size_t size)
{
    int  len;

    len = snprintf(key, size, "%s%s:%s", PHOTO_REDIS_NOTIFIED, unique,
                   token);

    if (len < 0 || (size_t) len >= size) {
        photo_job_retry(job, "a device token of %zu bytes", strlen(token));
        return NULL;
    }

    return photo_ctx_redis_key(ctx, job, key, (size_t) len);
}


/* 1: taken before, 0: not yet, -1: Redis failed (reason set) */
static int
photo_notify_sent(photo_ctx_t *ctx, photo_job_t *job, const char *unique,
    const char *token)
{
    int            rc;
    char           key[PHOTO_NOTIFY_KEY_MAX];
    redisReply    *r;
    redisContext  *c;

    c = photo_notify_redis(ctx, job, unique, token, key, sizeof(key));
    if (c == NULL) {
        return -1;
    }

    r = redisCommand(c, "EXISTS %s", key);

    if (r == NULL || r->type != REDIS_REPLY_INTEGER) {
        (void) photo_redis_failed(&ctx->redis, r);
        photo_ctx_failed(job, PHOTO_BACKEND_REDIS, "%s",
                         r == NULL ? c->errstr
                         : r->type == REDIS_REPLY_ERROR ? r->str
                         : "unexpected reply");
        freeReplyObject(r);
        return -1;
    }

    rc = r->integer > 0;
    freeReplyObject(r);

    return rc;
}


/* each token's answer acted on; RETRY when one is to be sent again */
static photo_job_rc_t
photo_notify_outcome(photo_ctx_t *ctx, photo_job_t *job, const char *unique,
    const char *user, int platform, photo_push_result_t *res, size_t n,
    long *retry_after)
{
    char             key[PHOTO_NOTIFY_KEY_MAX];
    size_t           i;
    PGresult        *pg;
    redisReply      *r;
    redisContext    *c;
    const char      *params[2], *name;
    photo_job_rc_t   rc, drc;

    static const char  *forget =
        "delete from device_tokens where platform = $1 and token = $2";

    rc = PHOTO_JOB_DONE;
    name = photo_notify_platforms[platform];

    for (i = 0; i < n; i++) {

        switch (res[i].rc) {

        case PHOTO_PUSH_SENT:
            c = photo_notify_redis(ctx, job, unique, res[i].token, key,
                                   sizeof(key));
            r = c ? redisCommand(c, "SET %s 1 EX %d", key,
                                 PHOTO_NOTIFIED_TTL)
                  : NULL;

            /* sent and not remembered: a retry would send it again */
            if (r == NULL || r->type == REDIS_REPLY_ERROR) {
                if (c != NULL) {
                    (void) photo_redis_failed(&ctx->redis, r);
                }

                photo_log_error("%s push sent but not remembered", name);
            }

            freeReplyObject(r);
            photo_metrics_inc(photo_notify_pushes[platform]
                                                 [PHOTO_NOTIFY_SENT]);
            photo_log_debug("%s: %s push taken", unique, name);
            break;

        case PHOTO_PUSH_DEAD_TOKEN:
            params[0] = name;
            params[1] = res[i].token;

            pg = photo_ctx_pg(ctx, job, forget, 2, params, &drc);
            if (pg == NULL) {
                rc = PHOTO_JOB_RETRY;
                break;
            }

            PQclear(pg);
            photo_metrics_inc(photo_notify_pushes[platform]
                                                 [PHOTO_NOTIFY_DELETED]);
            photo_log_info("%s: user %s: %s token is dead (%ld %s): "
                           "deleted", unique, user, name, res[i].status,
                           res[i].reason);
            break;

        case PHOTO_PUSH_RETRY:
            photo_metrics_backend_error(photo_notify_services[platform]);

            if (res[i].retry_after > *retry_after) {
                *retry_after = res[i].retry_after;
            }

            photo_job_retry(job, "%s: %s", name, res[i].reason);
            rc = PHOTO_JOB_RETRY;
            break;

        default:
            photo_metrics_inc(photo_notify_pushes[platform]
                                                 [PHOTO_NOTIFY_REFUSED]);
            photo_log_warn("user %s: %s refused the push (%ld %s); not "
                           "retried", user, name, res[i].status,
                           res[i].reason);
        }
    }

    return rc;
}
