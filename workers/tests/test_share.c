/*
 * photo_share against stand-ins of Twitter's API v2 (the OAuth 1.0a
 * signature computed again and checked, as Twitter does) and Facebook's
 * Graph API (the page's access token, Graph API errors), t/share/, over
 * TLS with a CA made for this run: a link, then a share, posts once to
 * each service, signed correctly, with the caption and the photo's
 * address; a replay posts nothing; a Twitter rate limit (429 with
 * retry-after, or x-rate-limit-reset), a 503 and a Facebook rate limit
 * (code 4) delay the share, which is then posted once, and the service
 * that took it the first time is not posted to again; an expired Facebook
 * token (190/463) leaves Facebook out and Twitter is posted to; a secret
 * sealed for another user, tampered, or without its fields is a dead
 * letter; an older link applied after a newer unlink changes nothing; a
 * service not linked is not posted to; a long caption is cut to fit.
 */

#include "photo_check.h"
#include "photo_harness.h"
#include "photo_contract.h"
#include "photo_secret.h"

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


#define BASE    7460000000000000000LL
#define USERS   21
#define ANN     (BASE + 1)                  /* links both, shares */
#define BEN     (BASE + 2)                  /* Twitter rate limits her */
#define CAT     (BASE + 3)                  /* her Facebook token expired */
#define DAN     (BASE + 4)                  /* bad secrets */
#define EVE     (BASE + 5)                  /* unlinks, a link replayed */
#define FAY     (BASE + 6)                  /* links nothing */
#define GIL     (BASE + 7)                  /* Facebook rate limits him */
#define HAL     (BASE + 8)                  /* Twitter fails, then waits */
#define PHOTO(u)  ((u) + 10)                /* each user's photo */
#define LONG      (BASE + 19)               /* ANN's, a long caption */
#define CJK       (BASE + 20)               /* ANN's, a long one in CJK */
#define REQ(n)    (BASE + 1000 + (n))       /* request ids */

#define SHARE   PHOTO_SOURCE_DIR "/t/share"
#define PYTHON  "/usr/bin/python3"
#define PUBLIC  "http://127.0.0.1:18080"
#define CKEY    "consumer-key-photo"
#define CSECRET "consumer-secret-photo"

enum { TW = 0, FB };


typedef struct {
    h_t            *h;
    char            keys[256];
    char            records[2][300];        /* twitter, facebook */
    char            rules[300];
    char            users[300];             /* twitter's tokens */
    char            pages[300];             /* facebook's pages */
    char            link_key[300];
    unsigned char   key[PHOTO_SECRET_KEY_LEN];
    int             port[2];
    pid_t           standins[2];
} share_t;

typedef struct {
    share_t     *s;
    int          service;
    const char  *token;
    int          status;
    int          times;
} want_t;






static void
write_file(const char *path, const char *text)
{
    FILE  *f;

    f = fopen(path, "w");
    if (f == NULL) {
        printf("Bail out! cannot write %s\n", path);
        exit(2);
    }

    fputs(text, f);
    fclose(f);
}


static void
share_start(h_t *h, share_t *s)
{
    char   cmd[700], port[2][16], cert[300], key[300];
    char  *tw[] = {
        PYTHON, SHARE "/twitter_standin.py", "--port", port[0],
        "--cert", cert, "--key", key, "--consumer-key", CKEY,
        "--consumer-secret", CSECRET, "--users", s->users,
        "--rules", s->rules, "--records", s->records[TW], NULL
    };
    char  *fb[] = {
        PYTHON, SHARE "/facebook_standin.py", "--port", port[1],
        "--cert", cert, "--key", key, "--pages", s->pages,
        "--rules", s->rules, "--records", s->records[FB], NULL
    };

    memset(s, 0, sizeof(*s));
    s->h = h;
    s->port[TW] = h_free_port();
    s->port[FB] = h_free_port();

    snprintf(s->keys, sizeof(s->keys), "%s/keys", h->dir);
    snprintf(s->records[TW], sizeof(s->records[TW]), "%s/twitter.txt",
             h->dir);
    snprintf(s->records[FB], sizeof(s->records[FB]), "%s/facebook.txt",
             h->dir);
    snprintf(s->rules, sizeof(s->rules), "%s/rules.json", h->dir);
    snprintf(s->users, sizeof(s->users), "%s/users.json", h->dir);
    snprintf(s->pages, sizeof(s->pages), "%s/pages.json", h->dir);
    snprintf(s->link_key, sizeof(s->link_key), "%s/link.key", h->dir);
    snprintf(cert, sizeof(cert), "%s/server.crt", s->keys);
    snprintf(key, sizeof(key), "%s/server.key", s->keys);
    snprintf(port[0], sizeof(port[0]), "%d", s->port[TW]);
    snprintf(port[1], sizeof(port[1]), "%d", s->port[FB]);

    /* the stand-ins' TLS, and the link key nginx and the worker share */
    snprintf(cmd, sizeof(cmd), "'%s/make_certs.sh' '%s' && (umask 077 &&"
             " openssl rand -out '%s' 32)", SHARE, s->keys, s->link_key);
    if (system(cmd) != 0 || photo_secret_key(s->link_key, s->key) != 0) {
        printf("Bail out! %s failed\n", cmd);
        exit(2);
    }

    write_file(s->rules, "{}");
    write_file(s->users, "{}");
    write_file(s->pages, "{}");

    s->standins[TW] = h_spawn(s->h, "twitter_standin", tw);
    s->standins[FB] = h_spawn(s->h, "facebook_standin", fb);

    if (!h_wait(h, h_port_up, &s->port[TW], 10000)
        || !h_wait(h, h_port_up, &s->port[FB], 10000))
    {
        printf("Bail out! the share stand-ins did not start; see %s\n",
               h->dir);
        exit(2);
    }
}


static void
share_stop(share_t *s)
{
    int  i;

    for (i = 0; i < 2; i++) {
        if (s->standins[i] > 0) {
            kill(s->standins[i], SIGTERM);
            waitpid(s->standins[i], NULL, 0);
        }
    }
}


/*
 * The records' lines for token (with status, or any when 0) whose JSON
 * holds needle (or any when NULL): how many; *first_at and *next_at: when
 * the first such came, and the next request of token after it (-1: none).
 */
static int
records(share_t *s, int service, const char *token, int status,
    const char *needle, double *first_at, double *next_at)
{
    int     n, st, off;
    char    line[16384], tok[512];
    FILE   *f;
    double  at;

    if (first_at) {
        *first_at = -1;
    }

    if (next_at) {
        *next_at = -1;
    }

    f = fopen(s->records[service], "r");
    if (f == NULL) {
        return 0;
    }

    n = 0;

    while (fgets(line, sizeof(line), f) != NULL) {
        if (sscanf(line, "%d %511s %lf %n", &st, tok, &at, &off) != 3
            || strcmp(tok, token) != 0)
        {
            continue;
        }

        if (n > 0 && next_at && *next_at < 0) {
            *next_at = at;
        }

        if ((status == 0 || st == status)
            && (needle == NULL || strstr(line + off, needle) != NULL))
        {
            if (n++ == 0 && first_at) {
                *first_at = at;
            }
        }
    }

    fclose(f);

    return n;
}


static int
count(share_t *s, int service, const char *token, int status)
{
    return records(s, service, token, status, NULL, NULL, NULL);
}


/* seconds from the first answer status to token's next request */
static double
waited(share_t *s, int service, const char *token, int status)
{
    double  first, next;

    if (records(s, service, token, status, NULL, &first, &next) == 0
        || next < 0)
    {
        return -1;
    }

    return next - first;
}


static int
got(h_t *h, void *arg)
{
    want_t  *w = arg;

    return count(w->s, w->service, w->token, w->status) >= w->times;
}


static int
shares_rows(h_t *h, void *arg)
{
    long long  *want = arg;

    return h_sql_int(h, "select count(*) from shares where share_id = %lld",
                     want[0]) == want[1];
}


/* the sealed form of plain for (user, service), or a copy to tamper with */
static char *
seal(share_t *s, long long user, const char *service, const char *plain)
{
    char  ad[64], *out;

    snprintf(ad, sizeof(ad), "%lld:%s", user, service);
    out = malloc(photo_secret_sealed_buf(strlen(plain)));

    if (out == NULL
        || photo_secret_seal(s->key, ad, (const unsigned char *) plain,
                             strlen(plain), out) < 0)
    {
        printf("Bail out! cannot seal\n");
        exit(2);
    }

    return out;
}


static void
link_raw(h_t *h, long long req, long long user, const char *service,
    const char *sealed)
{
    char  unique[32], json[8192];

    snprintf(unique, sizeof(unique), "%lld", req);

    if (sealed) {
        snprintf(json, sizeof(json),
                 "{\"unique\":\"%lld\",\"user_id\":\"%lld\",\"service\":"
                 "\"%s\",\"action\":\"link\",\"secret\":\"%s\"}", req, user,
                 service, sealed);
    } else {
        snprintf(json, sizeof(json),
                 "{\"unique\":\"%lld\",\"user_id\":\"%lld\",\"service\":"
                 "\"%s\",\"action\":\"unlink\"}", req, user, service);
    }

    h_submit(h, PHOTO_JOB_LINK, unique, json);
}


/* user links twitter (token tw) and facebook (page fb), the stand-ins
   knowing both */
static void
link_both(h_t *h, share_t *s, long long req, long long user, const char *tw,
    const char *fb)
{
    char  plain[512], *sealed;

    if (tw) {
        snprintf(plain, sizeof(plain),
                 "{\"token\":\"%s\",\"token_secret\":\"%s-secret\"}", tw, tw);
        sealed = seal(s, user, PHOTO_SERVICE_TWITTER, plain);
        link_raw(h, req, user, PHOTO_SERVICE_TWITTER, sealed);
        free(sealed);
    }

    if (fb) {
        snprintf(plain, sizeof(plain),
                 "{\"page_id\":\"page-%s\",\"access_token\":\"%s\"}", fb, fb);
        sealed = seal(s, user, PHOTO_SERVICE_FACEBOOK, plain);
        link_raw(h, req + 1, user, PHOTO_SERVICE_FACEBOOK, sealed);
        free(sealed);
    }
}


static void
share(h_t *h, long long req, long long user, long long photo, const char *to)
{
    char  unique[32], json[512];

    snprintf(unique, sizeof(unique), "%lld", req);
    snprintf(json, sizeof(json),
             "{\"unique\":\"%lld\",\"user_id\":\"%lld\",\"photo_id\":\"%lld\","
             "\"to\":%s}", req, user, photo, to);
    h_submit(h, PHOTO_JOB_SHARE, unique, json);
}


static void
photo(h_t *h, long long id, long long user, const char *caption)
{
    PQclear(h_sql(h, "insert into photos (id, user_id, caption, media_path,"
                     " image_url, width, height) values (%lld, %lld, '%s',"
                     " 'm', '/media/%lld.jpg', 1, 1)", id, user, caption,
                  id));
}


static int
shared_to(h_t *h, long long req, long long want, int timeout_ms)
{
    long long  arg[2];

    arg[0] = req;
    arg[1] = want;

    return h_wait(h, shares_rows, arg, timeout_ms);
}


/* 3: the dead letters */
static void
check_bad_secrets(h_t *h, share_t *s)
{
    char  *sealed, *dead, unique[32];

    /* sealed for ANN: does not open as DAN's */
    sealed = seal(s, ANN, PHOTO_SERVICE_TWITTER,
                  "{\"token\":\"dan-tw\",\"token_secret\":\"x\"}");
    link_raw(h, REQ(300), DAN, PHOTO_SERVICE_TWITTER, sealed);
    free(sealed);

    /* DAN's own, one character changed */
    sealed = seal(s, DAN, PHOTO_SERVICE_FACEBOOK,
                  "{\"page_id\":\"p\",\"access_token\":\"dan-fb\"}");
    sealed[20] = sealed[20] == 'A' ? 'B' : 'A';
    link_raw(h, REQ(301), DAN, PHOTO_SERVICE_FACEBOOK, sealed);
    free(sealed);

    /* DAN's own, for Twitter, without the token's secret */
    sealed = seal(s, DAN, PHOTO_SERVICE_TWITTER, "{\"token\":\"dan-tw\"}");
    link_raw(h, REQ(302), DAN, PHOTO_SERVICE_TWITTER, sealed);
    free(sealed);

    /* a Facebook secret sealed as DAN's Twitter one */
    sealed = seal(s, DAN, PHOTO_SERVICE_TWITTER,
                  "{\"page_id\":\"p\",\"access_token\":\"dan-fb\"}");
    link_raw(h, REQ(303), DAN, PHOTO_SERVICE_TWITTER, sealed);
    free(sealed);

    CHECK(h_wait_drained(h, PHOTO_JOB_LINK, 10000), "bad secrets: applied");

    snprintf(unique, sizeof(unique), "%lld", REQ(300));
    dead = h_dead_letter(h, PHOTO_JOB_LINK, unique);
    CHECK(dead && strstr(dead, "does not open"),
          "a secret sealed for another user: dead letter (%s)",
          dead ? dead : "none");
    free(dead);

    snprintf(unique, sizeof(unique), "%lld", REQ(301));
    dead = h_dead_letter(h, PHOTO_JOB_LINK, unique);
    CHECK(dead && strstr(dead, "does not open"),
          "a tampered secret: dead letter");
    free(dead);

    snprintf(unique, sizeof(unique), "%lld", REQ(302));
    dead = h_dead_letter(h, PHOTO_JOB_LINK, unique);
    CHECK(dead && strstr(dead, "token_secret"),
          "a Twitter secret without token_secret: dead letter (%s)",
          dead ? dead : "none");
    free(dead);

    snprintf(unique, sizeof(unique), "%lld", REQ(303));
    dead = h_dead_letter(h, PHOTO_JOB_LINK, unique);
    CHECK(dead != NULL, "a Facebook secret given as Twitter's: dead letter");
    free(dead);

    CHECK(h_sql_int(h, "select count(*) from linked_accounts where user_id"
                       " = %lld", DAN) == 0,
          "bad secrets: nothing stored");
}


/* 4: ordered by request id; not linked: not posted */
static void
check_order(h_t *h, share_t *s, pid_t worker)
{
    char  plain[256], unique[32], *sealed, *dead;

    /* EVE linked Twitter (request 400), unlinked it (402); the link is
       replayed late (400 again), and an older one (401) comes too */
    snprintf(plain, sizeof(plain),
             "{\"token\":\"eve-tw\",\"token_secret\":\"eve-tw-secret\"}");
    sealed = seal(s, EVE, PHOTO_SERVICE_TWITTER, plain);

    link_raw(h, REQ(400), EVE, PHOTO_SERVICE_TWITTER, sealed);
    CHECK(h_wait_drained(h, PHOTO_JOB_LINK, 10000)
          && h_sql_int(h, "select count(*) from linked_accounts where"
                          " user_id = %lld and secret <> ''", EVE) == 1,
          "order: EVE linked Twitter");

    link_raw(h, REQ(402), EVE, PHOTO_SERVICE_TWITTER, NULL);
    CHECK(h_wait_drained(h, PHOTO_JOB_LINK, 10000), "order: unlink applied");
    link_raw(h, REQ(400), EVE, PHOTO_SERVICE_TWITTER, sealed);
    link_raw(h, REQ(401), EVE, PHOTO_SERVICE_TWITTER, sealed);
    CHECK(h_wait_drained(h, PHOTO_JOB_LINK, 10000), "order: links applied");
    free(sealed);

    CHECK(h_sql_int(h, "select count(*) from linked_accounts where user_id"
                       " = %lld and service = 'twitter' and secret = ''"
                       " and link_id = %lld", EVE, REQ(402)) == 1,
          "order: an older link after a newer unlink changed nothing");

    /* an unlink before any link is kept, and the older link after it
       changes nothing either */
    link_raw(h, REQ(411), EVE, PHOTO_SERVICE_FACEBOOK, NULL);
    CHECK(h_wait_drained(h, PHOTO_JOB_LINK, 10000), "order: unlink first");
    sealed = seal(s, EVE, PHOTO_SERVICE_FACEBOOK,
                  "{\"page_id\":\"page-eve\",\"access_token\":\"eve-fb\"}");
    link_raw(h, REQ(410), EVE, PHOTO_SERVICE_FACEBOOK, sealed);
    free(sealed);
    CHECK(h_wait_drained(h, PHOTO_JOB_LINK, 10000)
          && h_sql_int(h, "select count(*) from linked_accounts where"
                          " user_id = %lld and secret <> ''", EVE) == 0,
          "order: an older link after an unlink of nothing: still "
          "unlinked");

    /* EVE (unlinked) and FAY (never linked) share: nothing is posted */
    photo(h, PHOTO(EVE), EVE, "eve");
    photo(h, PHOTO(FAY), FAY, "fay");
    share(h, REQ(420), EVE, PHOTO(EVE), "[\"twitter\",\"facebook\"]");
    share(h, REQ(421), FAY, PHOTO(FAY), "[\"facebook\",\"twitter\"]");
    CHECK(h_wait_drained(h, PHOTO_JOB_SHARE, 10000),
          "not linked: the shares were applied");
    h_sleep_ms(200);
    CHECK(count(s, TW, "eve-tw", 0) == 0 && count(s, FB, "eve-fb", 0) == 0
          && h_sql_int(h, "select count(*) from shares where share_id in"
                          " (%lld, %lld)", REQ(420), REQ(421)) == 0,
          "not linked: nothing posted, nothing recorded");
    CHECK(h_log_count(h, worker, "photo_share", "has not linked") >= 4,
          "not linked: logged (%d)",
          h_log_count(h, worker, "photo_share", "has not linked"));

    /* a photo that is gone: nothing, no dead letter */
    share(h, REQ(430), FAY, BASE + 500, "[\"twitter\"]");
    CHECK(h_wait_drained(h, PHOTO_JOB_SHARE, 10000)
          && h_log_has(h, worker, "photo_share", "is gone: not shared"),
          "a photo that is gone: nothing to share");
    snprintf(unique, sizeof(unique), "%lld", REQ(430));
    dead = h_dead_letter(h, PHOTO_JOB_SHARE, unique);
    CHECK(dead == NULL, "a photo that is gone: no dead letter");
    free(dead);

    /* another's photo (nginx shares the user's own): a dead letter */
    share(h, REQ(431), FAY, PHOTO(ANN), "[\"twitter\"]");
    CHECK(h_wait_drained(h, PHOTO_JOB_SHARE, 10000), "another's: applied");
    snprintf(unique, sizeof(unique), "%lld", REQ(431));
    dead = h_dead_letter(h, PHOTO_JOB_SHARE, unique);
    CHECK(dead && strstr(dead, "not user"),
          "another user's photo: dead letter, nothing posted (%s)",
          dead ? dead : "none");
    free(dead);
}


int
main(void)
{
    int          rc;
    char         env[8][400], cmd[1200], text[600], caption[700];
    h_t          h;
    pid_t        worker;
    share_t      s;
    want_t       w;
    double       wait;
    char        *dead, unique[32];
    size_t       i;

    h_init(&h, "share");
    PQclear(h_sql(&h, "delete from shares where share_id between %lld and"
                      " %lld", BASE, BASE + 1000000));
    h_forget(&h, BASE, USERS);
    h_users(&h, BASE, USERS);

    /* the dead letters an earlier run left: this run looks for its own */
    while ((dead = h_dead_letter(&h, PHOTO_JOB_LINK, "\"74600000000")))
    {
        free(dead);
    }

    while ((dead = h_dead_letter(&h, PHOTO_JOB_SHARE, "\"74600000000")))
    {
        free(dead);
    }

    share_start(&h, &s);

    write_file(s.users, "{\"control-tw\":\"control-tw-secret\","
               "\"ann-tw\":\"ann-tw-secret\",\"ben-tw\":\"ben-tw-secret\","
               "\"cat-tw\":\"cat-tw-secret\",\"gil-tw\":\"gil-tw-secret\","
               "\"hal-tw\":\"hal-tw-secret\",\"eve-tw\":\"eve-tw-secret\"}");
    write_file(s.pages, "{\"page-control\":\"control-fb\","
               "\"page-ann-fb\":\"ann-fb\",\"page-ben-fb\":\"ben-fb\","
               "\"page-cat-fb\":\"cat-fb\",\"page-gil-fb\":\"gil-fb\","
               "\"page-eve\":\"eve-fb\"}");

    /* the stand-ins refuse what Twitter and Facebook would */
    snprintf(cmd, sizeof(cmd), "%s %s/check_standins.py %d %d '%s/ca.crt' "
             "%s %s control-tw control-tw-secret page-control control-fb",
             PYTHON, SHARE, s.port[TW], s.port[FB], s.keys, CKEY, CSECRET);
    CHECK(system(cmd) == 0, "stand-ins: Twitter's worked example signs "
          "alike; another secret, nonce, token or old timestamp is "
          "refused, and so is another page's token");

    /* what follows counts the worker's requests only */
    fclose(fopen(s.records[TW], "w"));
    fclose(fopen(s.records[FB], "w"));

    snprintf(env[0], sizeof(env[0]), "PHOTO_LINK_KEY_FILE=%s", s.link_key);
    snprintf(env[1], sizeof(env[1]), "PHOTO_PUBLIC_URL=%s", PUBLIC);
    snprintf(env[2], sizeof(env[2]), "PHOTO_TWITTER_URL=https://127.0.0.1:%d",
             s.port[TW]);
    snprintf(env[3], sizeof(env[3]),
             "PHOTO_FACEBOOK_URL=https://127.0.0.1:%d/v19.0", s.port[FB]);
    snprintf(env[4], sizeof(env[4]), "PHOTO_SHARE_CA_FILE=%s/ca.crt", s.keys);

    worker = h_worker(&h, "photo_share", env[0], env[1], env[2], env[3],
                      env[4], "PHOTO_TWITTER_CONSUMER_KEY=" CKEY,
                      "PHOTO_TWITTER_CONSUMER_SECRET=" CSECRET, NULL);

    /* 1: ANN links both, then shares: one post each, signed */
    link_both(&h, &s, REQ(100), ANN, "ann-tw", "ann-fb");
    CHECK(h_wait_drained(&h, PHOTO_JOB_LINK, 10000)
          && h_sql_int(&h, "select count(*) from linked_accounts where"
                           " user_id = %lld and secret <> ''", ANN) == 2,
          "link: both of ANN's accounts stored");
    CHECK(h_sql_int(&h, "select count(*) from linked_accounts where user_id"
                        " = %lld and secret like '%%ann-%%'", ANN) == 0,
          "link: stored sealed, never in the clear");

    photo(&h, PHOTO(ANN), ANN, "sunset over the bay");
    share(&h, REQ(110), ANN, PHOTO(ANN), "[\"twitter\",\"facebook\"]");

    CHECK(shared_to(&h, REQ(110), 2, 10000),
          "share: a shares row per service");
    snprintf(text, sizeof(text), "\"text\":\"sunset over the bay "
             PUBLIC "/media/%lld.jpg\"", PHOTO(ANN));
    CHECK(records(&s, TW, "ann-tw", 201, text, NULL, NULL) == 1
          && count(&s, TW, "ann-tw", 0) == 1,
          "share: Twitter took one tweet, signed (201), with the caption and "
          "the photo's address");
    snprintf(text, sizeof(text), "\"url\":\"" PUBLIC "/media/%lld.jpg\","
             "\"caption\":\"sunset over the bay\",\"access_token\":\"ann-fb\"",
             PHOTO(ANN));
    CHECK(records(&s, FB, "ann-fb", 200, text, NULL, NULL) == 1
          && count(&s, FB, "ann-fb", 0) == 1
          && records(&s, FB, "ann-fb", 200, "\"page\":\"page-ann-fb\"", NULL,
                     NULL) == 1,
          "share: Facebook took one photo on ANN's page, with its url, "
          "caption and token");
    CHECK(h_sql_int(&h, "select count(*) from shares where share_id = %lld"
                        " and photo_id = %lld and remote_id is not null",
                    REQ(110), PHOTO(ANN)) == 2
          && h_sql_int(&h, "select count(*) from shares where share_id ="
                           " %lld and remote_id like 'page-ann-fb\\_%%'",
                       REQ(110)) == 1,
          "share: each row holds the service's id for the post");

    /* 2: the same share again (a replayed job): nothing more */
    CHECK(h_wait_drained(&h, PHOTO_JOB_SHARE, 10000), "share: applied");
    share(&h, REQ(110), ANN, PHOTO(ANN), "[\"twitter\",\"facebook\"]");
    CHECK(h_wait_drained(&h, PHOTO_JOB_SHARE, 10000), "replay: applied");
    h_sleep_ms(200);
    CHECK(count(&s, TW, "ann-tw", 0) == 1 && count(&s, FB, "ann-fb", 0) == 1,
          "replay: still one post each (twitter %d, facebook %d)",
          count(&s, TW, "ann-tw", 0), count(&s, FB, "ann-fb", 0));

    /* a caption too long for a tweet is cut to fit, the address kept */
    for (i = 0; i < 300; i++) {
        memcpy(caption + 2 * i, "\xc3\xa9", 2);       /* é */
    }

    caption[600] = '\0';
    photo(&h, LONG, ANN, caption);
    share(&h, REQ(120), ANN, LONG, "[\"twitter\"]");
    snprintf(text, sizeof(text), "\xc3\xa9\xe2\x80\xa6 " PUBLIC
             "/media/%lld.jpg\"", LONG);
    CHECK(shared_to(&h, REQ(120), 1, 10000)
          && records(&s, TW, "ann-tw", 201, text, NULL, NULL) == 1,
          "a long caption: cut with an ellipsis, the tweet taken (280 "
          "characters at most)");

    /* CJK characters weigh 2, the link 23: 127 of them, the ellipsis (2),
       a space and the link make 280 */
    for (i = 0; i < 200; i++) {
        memcpy(caption + 3 * i, "\xe4\xb8\xad", 3);   /* U+4E2D */
    }

    caption[600] = '\0';
    photo(&h, CJK, ANN, caption);
    share(&h, REQ(122), ANN, CJK, "[\"twitter\"]");
    snprintf(text, sizeof(text), "\"text\":\"%.*s\xe2\x80\xa6 " PUBLIC
             "/media/%lld.jpg\"", 3 * 127, caption, CJK);
    CHECK(shared_to(&h, REQ(122), 1, 10000)
          && records(&s, TW, "ann-tw", 201, text, NULL, NULL) == 1,
          "a long caption in Chinese: cut to Twitter's weight (2 a "
          "character), the tweet taken");

    /* 3: Twitter's 429 with retry-after: 1: posted once after a second;
       Facebook, which took it the first time, is not posted to again */
    write_file(s.rules, "{\"ben-tw\":[{\"status\":429,\"retry_after\":1}],"
               "\"gil-fb\":[{\"status\":400,\"code\":4}],"
               "\"hal-tw\":[{\"status\":503},{\"status\":429,"
               "\"reset_in\":2}],"
               "\"cat-fb\":[{\"status\":400,\"code\":190,"
               "\"subcode\":463}]}");

    link_both(&h, &s, REQ(200), BEN, "ben-tw", "ben-fb");
    link_both(&h, &s, REQ(202), CAT, "cat-tw", "cat-fb");
    link_both(&h, &s, REQ(204), GIL, "gil-tw", "gil-fb");
    link_both(&h, &s, REQ(206), HAL, "hal-tw", NULL);
    CHECK(h_wait_drained(&h, PHOTO_JOB_LINK, 10000), "rate limits: linked");

    photo(&h, PHOTO(BEN), BEN, "ben");
    share(&h, REQ(210), BEN, PHOTO(BEN), "[\"twitter\",\"facebook\"]");
    CHECK(shared_to(&h, REQ(210), 2, 15000),
          "twitter 429: both posted in the end");
    wait = waited(&s, TW, "ben-tw", 429);
    CHECK(count(&s, TW, "ben-tw", 429) == 1
          && count(&s, TW, "ben-tw", 201) == 1 && wait >= 0.95,
          "twitter 429: retried after its retry-after (%.2f s), taken once",
          wait);
    CHECK(count(&s, FB, "ben-fb", 0) == 1,
          "twitter 429: Facebook not posted to again on the retry (%d)",
          count(&s, FB, "ben-fb", 0));

    /* Facebook's code 4 (no Retry-After): the default wait, then once */
    photo(&h, PHOTO(GIL), GIL, "gil");
    share(&h, REQ(220), GIL, PHOTO(GIL), "[\"facebook\",\"twitter\"]");
    CHECK(shared_to(&h, REQ(220), 2, 20000),
          "facebook code 4: both posted in the end");
    wait = waited(&s, FB, "gil-fb", 400);
    CHECK(count(&s, FB, "gil-fb", 200) == 1 && wait >= 4.9,
          "facebook code 4: retried after %.2f s, taken once", wait);
    CHECK(count(&s, TW, "gil-tw", 0) == 1,
          "facebook code 4: Twitter posted to once (%d)",
          count(&s, TW, "gil-tw", 0));

    /* Twitter 503, then 429 with x-rate-limit-reset two seconds on */
    photo(&h, PHOTO(HAL), HAL, "hal");
    share(&h, REQ(230), HAL, PHOTO(HAL), "[\"twitter\",\"facebook\"]");
    CHECK(shared_to(&h, REQ(230), 1, 15000),
          "twitter 503 then 429: posted in the end");
    wait = waited(&s, TW, "hal-tw", 429);
    CHECK(count(&s, TW, "hal-tw", 0) == 3
          && count(&s, TW, "hal-tw", 201) == 1 && wait >= 0.95,
          "twitter 503 then 429: retried, after x-rate-limit-reset (%.2f "
          "s), taken once (%d requests)", wait, count(&s, TW, "hal-tw", 0));

    /* 4: CAT's Facebook token expired: Facebook left out, Twitter posted */
    photo(&h, PHOTO(CAT), CAT, "cat");
    share(&h, REQ(240), CAT, PHOTO(CAT), "[\"facebook\",\"twitter\"]");
    CHECK(shared_to(&h, REQ(240), 1, 10000)
          && h_wait_drained(&h, PHOTO_JOB_SHARE, 10000),
          "expired token: the share was applied");
    CHECK(count(&s, TW, "cat-tw", 201) == 1
          && count(&s, FB, "cat-fb", 400) == 1
          && count(&s, FB, "cat-fb", 0) == 1
          && h_sql_int(&h, "select count(*) from shares where share_id ="
                           " %lld and service = 'twitter'", REQ(240)) == 1,
          "expired token: Twitter posted, Facebook tried once and left out");
    snprintf(unique, sizeof(unique), "%lld", REQ(240));
    dead = h_dead_letter(&h, PHOTO_JOB_SHARE, unique);
    CHECK(dead == NULL && h_log_has(&h, worker, "photo_share",
                                    "token is no longer good"),
          "expired token: logged, not a dead letter");
    free(dead);

    /* 5, 6 */
    check_bad_secrets(&h, &s);
    check_order(&h, &s, worker);

    CHECK(count(&s, TW, "-", 0) == 0 && count(&s, FB, "-", 0) == 0
          && records(&s, TW, "ann-tw", 401, NULL, NULL, NULL) == 0,
          "every request carried a token, none was refused as unsigned");

    w = (want_t) { &s, TW, "ann-tw", 201, 2 };
    CHECK(got(&h, &w), "ANN's tweets: two in all");

    rc = CHECK_DONE();

    PQclear(h_sql(&h, "delete from shares where share_id between %lld and"
                      " %lld", BASE, BASE + 1000000));
    h_forget(&h, BASE, USERS);
    h_done(&h, rc != 0);
    share_stop(&s);

    return rc;
}
