/*
 * photo_share: a user's linked Twitter and Facebook accounts, and photos
 * shared to them (background jobs photo_link and photo_share, from nginx;
 * photo_contract.h).
 *
 * photo_link: the linked_accounts row set to the sealed secret (or, for an
 * unlink, to ''), only when the job's request id is newer than the row's
 * link_id: a job that gearmand replays late, after a newer one, changes
 * nothing.  The secret is checked before it is stored: one that does not
 * open with the key of PHOTO_LINK_KEY_FILE for this user and service
 * (photo_secret.h: sealed for another user, tampered, another key), or
 * whose JSON lacks the service's fields, is a dead letter.
 *
 * photo_share: the photo's caption and address posted to each service of
 * "to" that the user linked, each once:
 *
 *   posted               a shares row (the job's request id, the service)
 *                        with the service's id for the post; a replay, or
 *                        the retry of a job another service failed, skips
 *                        the services that have theirs;
 *   not linked           skipped, logged (info);
 *   token no longer      skipped, logged (warn): not retried, and the link
 *   good (Twitter 401,   is kept (the user links again);
 *   Facebook 190)
 *   throttled, or down   the job is retried, after Retry-After (at most 60
 *   (Twitter 429,        s) when the service said how long;
 *   Facebook 4/17/32/
 *   613, 5xx, network)
 *   refused otherwise    skipped, logged (warn).
 *
 * The row is written after the post, so the one window for a double post
 * is a Postgres failure between the two (logged).  Settings (environment
 * or --config): PHOTO_LINK_KEY_FILE, PHOTO_PUBLIC_URL (the photo's address
 * is it + image_url), PHOTO_TWITTER_URL, PHOTO_TWITTER_CONSUMER_KEY,
 * PHOTO_TWITTER_CONSUMER_SECRET (without them, shares to Twitter are left
 * out), PHOTO_FACEBOOK_URL, PHOTO_SHARE_CA_FILE.
 */

#include "photo_worker.h"
#include "photo_facebook.h"
#include "photo_id.h"
#include "photo_log.h"
#include "photo_object.h"
#include "photo_secret.h"
#include "photo_twitter.h"

#include <curl/curl.h>
#include <inttypes.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>


#define PHOTO_SHARE_FIELD            (4 * 1024 + 1)  /* a credential's
                                                field: nginx takes 1024
                                                characters, and a NUL */
#define PHOTO_SHARE_SEALED_MAX       (photo_secret_sealed_buf(PHOTO_SECRET_MAX)\
                                      - 1)
#define PHOTO_SHARE_AD               (PHOTO_ID_BUF + 16)
#define PHOTO_SHARE_RETRY_AFTER_MAX  60      /* seconds: a longer ask is
                                                served by more retries */

enum { PHOTO_TWITTER = 0, PHOTO_FACEBOOK, PHOTO_SERVICES };
enum { PHOTO_LINK = 0, PHOTO_UNLINK };

static const char  *photo_share_services[] = {
    PHOTO_SERVICE_TWITTER, PHOTO_SERVICE_FACEBOOK, NULL
};
static const char  *photo_link_actions[] = { "link", "unlink", NULL };

/* the fields of each service's secret: twitter {"token","token_secret"},
   facebook {"page_id","access_token"} */
static const char  *photo_share_fields[PHOTO_SERVICES][2] = {
    { "token", "token_secret" },
    { "page_id", "access_token" }
};

static const photo_backend_t  photo_share_backends[PHOTO_SERVICES] = {
    PHOTO_BACKEND_TWITTER, PHOTO_BACKEND_FACEBOOK
};

typedef struct {
    char  field[2][PHOTO_SHARE_FIELD];
} photo_share_cred_t;

/* the photo being shared */
typedef struct {
    const char  *caption;
    char        *url;               /* PHOTO_PUBLIC_URL + image_url */
    int64_t      id;
} photo_share_photo_t;

static unsigned char      photo_share_key[PHOTO_SECRET_KEY_LEN];
static const char        *photo_share_public_url;
static photo_twitter_t   *photo_share_twitter;
static photo_facebook_t  *photo_share_facebook;

/* photo_share_posts_total{service,outcome} */
enum { PHOTO_SHARE_M_POSTED = 0, PHOTO_SHARE_M_REVOKED,
       PHOTO_SHARE_M_REFUSED, PHOTO_SHARE_M_N };

static photo_metric_t  *photo_share_posts[PHOTO_SERVICES][PHOTO_SHARE_M_N];


static int photo_share_setup(const photo_config_t *cf);
static void photo_share_metrics(void);
static photo_job_rc_t photo_link(photo_ctx_t *ctx, photo_job_t *job);
static photo_job_rc_t photo_share(photo_ctx_t *ctx, photo_job_t *job);
static photo_job_rc_t photo_share_to(photo_job_t *job, int *to, int *n);
static photo_job_rc_t photo_share_photo(photo_ctx_t *ctx, photo_job_t *job,
    int64_t photo, int64_t user, PGresult **res, photo_share_photo_t *ph);
static photo_job_rc_t photo_share_one(photo_ctx_t *ctx, photo_job_t *job,
    int64_t request, int64_t user, int service, const char *sealed,
    const photo_share_photo_t *ph, long *retry_after);
static photo_job_rc_t photo_share_done(photo_ctx_t *ctx, photo_job_t *job,
    int64_t request, int service, const photo_share_photo_t *ph,
    const photo_share_result_t *res);
static photo_job_rc_t photo_share_open(photo_job_t *job, int64_t user,
    int service, const char *sealed, size_t len, photo_share_cred_t *cred);


static const photo_worker_function_t  photo_share_functions[] = {
    { .name = PHOTO_JOB_LINK, .handler = photo_link,
      .kind = PHOTO_JOB_BACKGROUND },
    { .name = PHOTO_JOB_SHARE, .handler = photo_share,
      .kind = PHOTO_JOB_BACKGROUND },
    { .name = NULL }
};


int
main(int argc, char **argv)
{
    int             rc;
    photo_worker_t  w;

    if (photo_worker_init(&w, argc, argv, "photo_share",
                          "Links users' Twitter and Facebook accounts, and "
                          "shares their photos there.",
                          photo_share_functions)
        != 0)
    {
        return w.exit_code;
    }

    curl_global_init(CURL_GLOBAL_DEFAULT);
    photo_share_metrics();

    rc = photo_share_setup(&w.cf) == 0 ? photo_worker_run(&w) : 1;

    photo_twitter_free(photo_share_twitter);
    photo_facebook_free(photo_share_facebook);
    OPENSSL_cleanse(photo_share_key, sizeof(photo_share_key));
    photo_worker_done(&w);
    curl_global_cleanup();

    return rc;
}


/* the link key, the photos' address, the clients */
static int
photo_share_setup(const photo_config_t *cf)
{
    const char             *ca;
    photo_twitter_conf_t    tw;
    photo_facebook_conf_t   fb;

    if (cf->link_key_file[0] == '\0'
        || photo_secret_key(cf->link_key_file, photo_share_key) != 0)
    {
        photo_log_error("PHOTO_LINK_KEY_FILE: cannot read \"%s\" (nginx's "
                        "photo_link_key_file)", cf->link_key_file);
        return -1;
    }

    if (cf->public_url[0] == '\0') {
        photo_log_error("PHOTO_PUBLIC_URL is not set: the photos' address "
                        "(e.g. https://photos.example.com)");
        return -1;
    }

    photo_share_public_url = cf->public_url;
    ca = cf->share_ca_file[0] ? cf->share_ca_file : NULL;

    if (cf->twitter_consumer_key[0] && cf->twitter_consumer_secret[0]) {
        tw.url = cf->twitter_url;
        tw.consumer_key = cf->twitter_consumer_key;
        tw.consumer_secret = cf->twitter_consumer_secret;
        tw.ca_file = ca;

        photo_share_twitter = photo_twitter_create(&tw);
        if (photo_share_twitter == NULL) {
            return -1;
        }

        photo_log_info("twitter: %s", tw.url);

    } else {
        photo_log_warn("twitter: no PHOTO_TWITTER_CONSUMER_KEY and "
                       "PHOTO_TWITTER_CONSUMER_SECRET: shares to Twitter "
                       "are left out");
    }

    fb.url = cf->facebook_url;
    fb.ca_file = ca;

    photo_share_facebook = photo_facebook_create(&fb);
    if (photo_share_facebook == NULL) {
        return -1;
    }

    photo_log_info("facebook: %s", fb.url);

    return 0;
}


static void
photo_share_metrics(void)
{
    int          s, o;
    char         labels[64];
    const char  *outcomes[] = { "posted", "revoked", "refused" };

    for (s = 0; s < PHOTO_SERVICES; s++) {
        for (o = 0; o < PHOTO_SHARE_M_N; o++) {
            snprintf(labels, sizeof(labels),
                     "service=\"%s\",outcome=\"%s\"",
                     photo_share_services[s], outcomes[o]);

            photo_share_posts[s][o] = photo_metrics_counter(
                "photo_share_posts_total",
                "Shares answered by Twitter or Facebook: posted; revoked "
                "(the user's token is no longer good: left out); refused "
                "(not retried).", labels);
        }
    }
}


/* ------------------------------------------------------------- photo_link */


static photo_job_rc_t
photo_link(photo_ctx_t *ctx, photo_job_t *job)
{
    int                  service, action;
    char                 user_s[PHOTO_ID_BUF], request_s[PHOTO_ID_BUF];
    size_t               len;
    int64_t              request, user;
    PGresult            *res;
    const char          *secret, *params[4], *applied;
    photo_job_rc_t       rc;
    photo_share_cred_t   cred;

    /* set only by a newer job: link_id orders a user's links and unlinks */
    static const char  *upsert =
        "insert into linked_accounts (user_id, service, secret, link_id)"
        " values ($1, $2, $3, $4)"
        " on conflict (user_id, service) do update"
        " set secret = excluded.secret, link_id = excluded.link_id,"
        " updated_at = now()"
        " where linked_accounts.link_id < excluded.link_id";

    if (photo_job_id(job, PHOTO_JOB_F_UNIQUE, &request)
        || photo_job_id(job, PHOTO_JOB_F_USER_ID, &user)
        || photo_job_oneof(job, PHOTO_JOB_F_SERVICE, photo_share_services,
                           &service)
        || photo_job_oneof(job, PHOTO_JOB_F_ACTION, photo_link_actions,
                           &action))
    {
        return PHOTO_JOB_DEAD;
    }

    secret = "";

    if (action == PHOTO_LINK) {
        if (photo_job_string(job, PHOTO_JOB_F_SECRET, 1,
                             PHOTO_SHARE_SEALED_MAX, &secret, &len))
        {
            return PHOTO_JOB_DEAD;
        }

        rc = photo_share_open(job, user, service, secret, len, &cred);
        if (rc != PHOTO_JOB_DONE) {
            return rc;
        }

        OPENSSL_cleanse(&cred, sizeof(cred));
    }

    photo_id_format(user_s, user);
    photo_id_format(request_s, request);
    params[0] = user_s;
    params[1] = photo_share_services[service];
    params[2] = secret;
    params[3] = request_s;

    /* an unknown user: a foreign key violation, a dead letter */
    res = photo_ctx_pg(ctx, job, upsert, 4, params, &rc);
    if (res == NULL) {
        return rc;
    }

    applied = PQcmdTuples(res);

    if (strcmp(applied, "1") == 0) {
        photo_log_info("user %s %ss %s", user_s, photo_link_actions[action],
                       photo_share_services[service]);

    } else {
        photo_log_info("user %s: %s of %s %s is older than the one "
                       "applied: nothing changed", user_s,
                       photo_link_actions[action],
                       photo_share_services[service], request_s);
    }

    PQclear(res);

    return PHOTO_JOB_DONE;
}


/*
 * The credentials in sealed, opened with the link key for this user and
 * service, both fields there and strings: DONE, or DEAD (reason set: it
 * never will open), or RETRY (out of memory).
 */
static photo_job_rc_t
photo_share_open(photo_job_t *job, int64_t user, int service,
    const char *sealed, size_t len, photo_share_cred_t *cred)
{
    int             i, n, rc;
    char            ad[PHOTO_SHARE_AD], user_s[PHOTO_ID_BUF];
    yajl_val        root, v;
    const char     *s;
    unsigned char  *plain;

    photo_id_format(user_s, user);
    snprintf(ad, sizeof(ad), "%s:%s", user_s, photo_share_services[service]);

    plain = malloc(len + 1);
    if (plain == NULL) {
        return photo_job_retry(job, "out of memory");
    }

    n = photo_secret_open(photo_share_key, ad, sealed, len, plain);
    if (n < 0) {
        free(plain);
        return photo_job_dead(job, "the %s secret does not open for user %s"
                              " (not sealed for them, tampered, or another"
                              " key)", photo_share_services[service],
                              user_s);
    }

    plain[n] = '\0';
    root = yajl_tree_parse((const char *) plain, NULL, 0);
    OPENSSL_cleanse(plain, (size_t) n);
    free(plain);

    rc = root != NULL && YAJL_IS_OBJECT(root) ? 0 : -1;

    for (i = 0; rc == 0 && i < 2; i++) {
        const char  *path[] = { photo_share_fields[service][i], NULL };

        v = yajl_tree_get(root, path, yajl_t_string);
        s = v ? YAJL_GET_STRING(v) : NULL;

        if (s == NULL || s[0] == '\0' || strlen(s) >= PHOTO_SHARE_FIELD) {
            rc = -1;
            break;
        }

        memcpy(cred->field[i], s, strlen(s) + 1);
    }

    yajl_tree_free(root);

    if (rc != 0) {
        OPENSSL_cleanse(cred, sizeof(*cred));
        return photo_job_dead(job, "the %s secret of user %s is not "
                              "{\"%s\",\"%s\"}",
                              photo_share_services[service], user_s,
                              photo_share_fields[service][0],
                              photo_share_fields[service][1]);
    }

    return PHOTO_JOB_DONE;
}


/* ------------------------------------------------------------ photo_share */


static photo_job_rc_t
photo_share(photo_ctx_t *ctx, photo_job_t *job)
{
    int                   to[PHOTO_SERVICES], n, i, s, r, done;
    char                  user_s[PHOTO_ID_BUF], request_s[PHOTO_ID_BUF];
    long                  retry_after;
    int64_t               request, user, photo;
    PGresult             *ph_res, *links, *shares;
    const char           *params[1], *sealed;
    photo_job_rc_t        rc, out;
    photo_share_photo_t   ph;

    static const char  *linked_sql =
        "select service, secret from linked_accounts"
        " where user_id = $1 and secret <> ''";
    static const char  *shared_sql =
        "select service from shares where share_id = $1";

    if (photo_job_id(job, PHOTO_JOB_F_UNIQUE, &request)
        || photo_job_id(job, PHOTO_JOB_F_USER_ID, &user)
        || photo_job_id(job, PHOTO_JOB_F_PHOTO_ID, &photo)
        || photo_share_to(job, to, &n) != PHOTO_JOB_DONE)
    {
        return PHOTO_JOB_DEAD;
    }

    photo_id_format(user_s, user);
    photo_id_format(request_s, request);

    links = shares = ph_res = NULL;
    memset(&ph, 0, sizeof(ph));

    rc = photo_share_photo(ctx, job, photo, user, &ph_res, &ph);
    if (rc != PHOTO_JOB_DONE || ph_res == NULL) {
        goto done;
    }

    params[0] = user_s;
    links = photo_ctx_pg(ctx, job, linked_sql, 1, params, &rc);
    if (links == NULL) {
        goto done;
    }

    params[0] = request_s;
    shares = photo_ctx_pg(ctx, job, shared_sql, 1, params, &rc);
    if (shares == NULL) {
        goto done;
    }

    rc = PHOTO_JOB_DONE;
    retry_after = 0;

    for (i = 0; i < n; i++) {
        s = to[i];

        for (done = 0, r = 0; r < PQntuples(shares); r++) {
            done |= strcmp(PQgetvalue(shares, r, 0),
                           photo_share_services[s]) == 0;
        }

        if (done) {
            photo_log_debug("share %s: %s posted before", request_s,
                            photo_share_services[s]);
            continue;
        }

        for (sealed = NULL, r = 0; r < PQntuples(links); r++) {
            if (strcmp(PQgetvalue(links, r, 0), photo_share_services[s])
                == 0)
            {
                sealed = PQgetvalue(links, r, 1);
            }
        }

        if (sealed == NULL) {
            photo_log_info("share %s: user %s has not linked %s: skipped",
                           request_s, user_s, photo_share_services[s]);
            continue;
        }

        out = photo_share_one(ctx, job, request, user, s, sealed, &ph,
                              &retry_after);
        if (out != PHOTO_JOB_DONE) {
            rc = out;
        }
    }

    if (rc == PHOTO_JOB_RETRY && retry_after > 0) {
        photo_worker_wait(retry_after, PHOTO_SHARE_RETRY_AFTER_MAX,
                          "the service");
    }

done:

    PQclear(ph_res);
    PQclear(links);
    PQclear(shares);
    free(ph.url);

    return rc;
}


/* "to": a non-empty list of known services, none twice */
static photo_job_rc_t
photo_share_to(photo_job_t *job, int *to, int *n)
{
    int          s, i;
    size_t       k;
    yajl_val     v, item;
    const char  *name;
    const char  *path[] = { PHOTO_JOB_F_TO, NULL };

    v = job->root ? yajl_tree_get(job->root, path, yajl_t_array) : NULL;

    if (v == NULL || YAJL_GET_ARRAY(v)->len == 0
        || YAJL_GET_ARRAY(v)->len > PHOTO_SERVICES)
    {
        return photo_job_dead(job, "field \"to\" is not a list of 1 to %d "
                              "services", PHOTO_SERVICES);
    }

    *n = 0;

    for (k = 0; k < YAJL_GET_ARRAY(v)->len; k++) {
        item = YAJL_GET_ARRAY(v)->values[k];
        name = YAJL_IS_STRING(item) ? item->u.string : NULL;

        for (s = 0; name != NULL && photo_share_services[s]; s++) {
            if (strcmp(name, photo_share_services[s]) == 0) {
                break;
            }
        }

        if (name == NULL || photo_share_services[s] == NULL) {
            return photo_job_dead(job, "field \"to\": item %zu is not one "
                                  "of twitter, facebook", k);
        }

        for (i = 0; i < *n; i++) {
            if (to[i] == s) {
                return photo_job_dead(job, "field \"to\": %s twice",
                                      photo_share_services[s]);
            }
        }

        to[(*n)++] = s;
    }

    return PHOTO_JOB_DONE;
}


/*
 * The photo of the job's field: its caption and address, *res holding
 * them (NULL: the photo is gone, nothing to share).  Another user's photo
 * is a dead letter: nginx shares only the user's own.
 */
static photo_job_rc_t
photo_share_photo(photo_ctx_t *ctx, photo_job_t *job, int64_t photo,
    int64_t user, PGresult **res, photo_share_photo_t *ph)
{
    char            id_s[PHOTO_ID_BUF], link[PHOTO_OBJECT_LINK_MAX];
    int64_t         owner;
    const char     *params[1], *image;
    photo_job_rc_t  rc;

    ph->id = photo;
    photo_id_format(id_s, ph->id);
    params[0] = id_s;

    *res = photo_ctx_pg(ctx, job, "select coalesce(caption, ''), image_url,"
                        " user_id from photos where id = $1", 1, params,
                        &rc);
    if (*res == NULL) {
        return rc;
    }

    if (PQntuples(*res) == 0) {
        photo_log_info("photo %s is gone: not shared", id_s);
        PQclear(*res);
        *res = NULL;
        return PHOTO_JOB_DONE;
    }

    owner = strtoll(PQgetvalue(*res, 0, 2), NULL, 10);
    if (owner != user) {
        return photo_job_dead(job, "photo %s is user %" PRId64 "'s, not "
                              "user %" PRId64 "'s", id_s, owner, user);
    }

    ph->caption = PQgetvalue(*res, 0, 0);
    image = PQgetvalue(*res, 0, 1);

    /* the picture's link, signed (photo_media.h) to live as long as the
       post that carries it may be read; from the start of the next day,
       so that a retried job makes the same one */
    if (image[0] == '/' && ctx->link_secret_len
        && photo_media_link(link, sizeof(link), image, strlen(image),
                            (time(NULL) / 86400 + 1) * 86400
                            + PHOTO_MEDIA_SHARE_PERIOD,
                            ctx->link_secret, ctx->link_secret_len) != 0)
    {
        image = link;
    }

    if (strncmp(image, "http://", 7) == 0
        || strncmp(image, "https://", 8) == 0)
    {
        ph->url = strdup(image);

    } else if (image[0] == '/') {
        ph->url = photo_share_url(photo_share_public_url, image);

    } else {
        ph->url = malloc(strlen(photo_share_public_url) + strlen(image) + 2);
        if (ph->url != NULL) {
            sprintf(ph->url, "%s/%s", photo_share_public_url, image);
        }
    }

    return ph->url ? PHOTO_JOB_DONE : photo_job_retry(job, "out of memory");
}


/* the photo posted to one service the user linked; what became of it */
static photo_job_rc_t
photo_share_one(photo_ctx_t *ctx, photo_job_t *job, int64_t request,
    int64_t user, int service, const char *sealed,
    const photo_share_photo_t *ph, long *retry_after)
{
    const char            *name;
    photo_job_t            check;
    photo_job_rc_t         rc;
    photo_share_cred_t     cred;
    photo_share_result_t   res;
    struct timespec        start;

    name = photo_share_services[service];

    if (service == PHOTO_TWITTER && photo_share_twitter == NULL) {
        photo_log_warn("share %" PRId64 ": twitter is not configured "
                       "(PHOTO_TWITTER_CONSUMER_KEY): skipped", request);
        return PHOTO_JOB_DONE;
    }

    /* a stored secret that does not open (another key file since?): the
       user links again; the job is not the one to blame */
    memset(&check, 0, sizeof(check));

    rc = photo_share_open(&check, user, service, sealed, strlen(sealed),
                          &cred);
    if (rc == PHOTO_JOB_RETRY) {
        return photo_job_retry(job, "%s", check.reason);
    }

    if (rc != PHOTO_JOB_DONE) {
        photo_log_warn("share %" PRId64 ": %s: %s: skipped", request, name,
                       check.reason);
        return PHOTO_JOB_DONE;
    }

    photo_metrics_call_begin(&start);

    if (service == PHOTO_TWITTER) {
        photo_twitter_post(photo_share_twitter, cred.field[0],
                           cred.field[1], ph->caption, ph->url, &res);
    } else {
        photo_facebook_post(photo_share_facebook, cred.field[0],
                            cred.field[1], ph->url, ph->caption, &res);
    }

    photo_metrics_call_end(photo_share_backends[service], &start);
    OPENSSL_cleanse(&cred, sizeof(cred));

    switch (res.rc) {

    case PHOTO_SHARE_POSTED:
        photo_metrics_inc(photo_share_posts[service][PHOTO_SHARE_M_POSTED]);
        return photo_share_done(ctx, job, request, service, ph, &res);

    case PHOTO_SHARE_RETRY:
        photo_metrics_backend_error(photo_share_backends[service]);

        if (res.retry_after > *retry_after) {
            *retry_after = res.retry_after;
        }

        return photo_job_retry(job, "%s: %s%s", name, res.reason,
                               res.retry_after ? " (rate limited)" : "");

    case PHOTO_SHARE_REVOKED:
        photo_metrics_inc(photo_share_posts[service][PHOTO_SHARE_M_REVOKED]);
        photo_log_warn("share %" PRId64 ": user %" PRId64 "'s %s token is "
                       "no longer good (%ld %s): skipped; they link again",
                       request, user, name, res.status, res.reason);
        return PHOTO_JOB_DONE;

    default:
        photo_metrics_inc(photo_share_posts[service][PHOTO_SHARE_M_REFUSED]);
        photo_log_warn("share %" PRId64 ": %s refused the post (%ld %s); "
                       "not retried", request, name, res.status, res.reason);
        return PHOTO_JOB_DONE;
    }
}


/* the shares row of a post taken: a replay or a retry skips it */
static photo_job_rc_t
photo_share_done(photo_ctx_t *ctx, photo_job_t *job, int64_t request,
    int service, const photo_share_photo_t *ph,
    const photo_share_result_t *res)
{
    char             request_s[PHOTO_ID_BUF], photo_s[PHOTO_ID_BUF];
    PGresult        *pg;
    const char      *params[4];
    photo_job_rc_t   rc;

    static const char  *insert =
        "insert into shares (share_id, service, photo_id, remote_id)"
        " values ($1, $2, $3, nullif($4, ''))"
        " on conflict do nothing";

    photo_id_format(request_s, request);
    photo_id_format(photo_s, ph->id);
    params[0] = request_s;
    params[1] = photo_share_services[service];
    params[2] = photo_s;
    params[3] = res->remote_id;

    pg = photo_ctx_pg(ctx, job, insert, 4, params, &rc);

    /* posted and not remembered: a retry would post it again */
    if (pg == NULL) {
        photo_log_error("share %s: posted to %s (%s) but not recorded",
                        request_s, photo_share_services[service],
                        res->remote_id);
        return rc;
    }

    PQclear(pg);
    photo_log_info("share %s: photo %s posted to %s (%s)", request_s,
                   photo_s, photo_share_services[service], res->remote_id);

    return PHOTO_JOB_DONE;
}
