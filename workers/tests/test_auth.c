/*
 * photo_signup and photo_signin against the real stack: sign up, then
 * sign in and get a session that Redis holds for PHOTO_SESSION_TTL; a
 * username is taken whatever its case; a wrong password and an unknown
 * user get the same answer, after the same time, and so does an account
 * without a usable hash; what the username rules refuse is "invalid"; the
 * stored hash is Argon2id.  Past PHOTO_SIGNIN_FREE attempts an account
 * waits, longer each time, also with the right password and in another
 * worker, and a success forgets the count.
 */

#include "photo_check.h"
#include "photo_harness.h"
#include "photo_contract.h"

#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>


#define BASE    7350000000000000000LL
#define NOHASH  "w7350000000000000000"      /* h_users' name of BASE */
#define ROUNDS  5                           /* timed attempts of each kind */


static char  name[32], other_case[32];


/* the answer's field, or "" (a static copy) */
static const char *
field(const char *json, const char *key)
{
    yajl_val     root, v;
    const char  *path[2] = { key, NULL };
    static char  buf[4][256];
    static int   n;

    n = (n + 1) % 4;
    buf[n][0] = '\0';

    root = json ? yajl_tree_parse(json, NULL, 0) : NULL;
    v = root ? yajl_tree_get(root, path, yajl_t_string) : NULL;

    if (v) {
        snprintf(buf[n], sizeof(buf[n]), "%s", YAJL_GET_STRING(v));
    }

    yajl_tree_free(root);

    return buf[n];
}


static char *
call(h_t *h, const char *function, const char *username,
    const char *password)
{
    char  payload[512];

    snprintf(payload, sizeof(payload),
             "{\"username\":\"%s\",\"password\":\"%s\"}", username, password);

    return h_call(h, function, payload);
}


/* a sign-in: its answer's error ("" for a session) and how long it took */
static const char *
signin(h_t *h, const char *username, const char *password, double *took,
    long long *retry_after)
{
    char        *a;
    double       t0;
    const char  *e;

    t0 = h_now();
    a = call(h, PHOTO_JOB_SIGNIN, username, password);

    if (took) {
        *took = h_now() - t0;
    }

    if (retry_after) {
        *retry_after = atoll(field(a, PHOTO_JOB_F_RETRY_AFTER));
    }

    e = a ? field(a, PHOTO_JOB_F_ERROR) : "no answer";
    free(a);

    return e;
}


/* usernames are keyed in lowercase (a static copy) */
static const char *
lowercase(const char *username)
{
    size_t       i;
    static char  buf[32];

    for (i = 0; username[i] && i < sizeof(buf) - 1; i++) {
        buf[i] = (char) tolower((unsigned char) username[i]);
    }

    buf[i] = '\0';

    return buf;
}


/* how many of the account's count and wait Redis holds */
static long long
backoff_keys(h_t *h, const char *username)
{
    const char  *k = lowercase(username);

    return h_redis_int(h, "EXISTS %s{%s} %s{%s}", PHOTO_REDIS_SIGNIN_FAILS, k,
                       PHOTO_REDIS_SIGNIN_WAIT, k);
}


/* the account's count and wait, gone */
static void
forgive(h_t *h, const char *username)
{
    const char  *k = lowercase(username);

    freeReplyObject(h_redis(h, "DEL %s{%s} %s{%s}", PHOTO_REDIS_SIGNIN_FAILS, k,
                            PHOTO_REDIS_SIGNIN_WAIT, k));
}


static int
by_value(const void *a, const void *b)
{
    double  x = *(const double *) a, y = *(const double *) b;

    return (x > y) - (x < y);
}


static double
median(double *v, int n)
{
    qsort(v, n, sizeof(double), by_value);

    return v[n / 2];
}


/* "<user id>-" and 43 characters of base64url (PHOTO_SESSION_TOKEN_SEP) */
static int
token_ok(const char *t, const char *id)
{
    size_t  i, n, k;

    k = strlen(id);

    if (strncmp(t, id, k) != 0 || t[k] != PHOTO_SESSION_TOKEN_SEP) {
        return 0;
    }

    n = strlen(t);

    for (i = k + 1; i < n; i++) {
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789-_", t[i]))
        {
            return 0;
        }
    }

    return n - k - 1 == 43 && n >= PHOTO_SESSION_TOKEN_MIN
           && n <= PHOTO_SESSION_TOKEN_MAX;
}


int
main(void)
{
    int          i, n;
    h_t          h;
    char        *a, *b, id[32], token[64], token2[64], token3[64],
                 unknown[48];
    double       wrong[ROUNDS], nouser[ROUNDS], nohash[ROUNDS], t_wrong,
                 t_nouser, t_nohash, t, fast;
    long long    ttl, wait1, wait2;
    PGresult    *res;
    const char  *e, *e2;

    h_init(&h, "auth");

    snprintf(name, sizeof(name), "Auth_Test.%d", (int) getpid());
    snprintf(other_case, sizeof(other_case), "aUTH_tEST.%d", (int) getpid());
    PQclear(h_sql(&h, "delete from users where lower(username) ="
                      " lower('%s')", name));
    h_forget(&h, BASE, 1);
    forgive(&h, name);

    h_worker(&h, "photo_auth", NULL);

    a = call(&h, PHOTO_JOB_SIGNUP, name, "correct horse battery");
    snprintf(id, sizeof(id), "%s", field(a, "id"));
    CHECK(id[0] && strcmp(field(a, "username"), name) == 0,
          "sign-up answers the new user's id and name: %s", a);
    free(a);

    res = h_sql(&h, "select password_hash from users where id = %s",
                id[0] ? id : "0");
    CHECK(PQntuples(res) == 1
          && strncmp(PQgetvalue(res, 0, 0), "$argon2id$v=19$m=19456,t=2,p=1$",
                     31) == 0
          && strstr(PQgetvalue(res, 0, 0), "correct") == NULL,
          "the password is stored as an Argon2id hash: %.40s...",
          PQntuples(res) ? PQgetvalue(res, 0, 0) : "");
    PQclear(res);

    a = call(&h, PHOTO_JOB_SIGNUP, other_case, "another password");
    CHECK(a && strcmp(a, "{\"error\":\"taken\"}") == 0,
          "the same name in another case is taken: %s", a);
    free(a);

    a = call(&h, PHOTO_JOB_SIGNUP, "has space", "correct horse battery");
    b = call(&h, PHOTO_JOB_SIGNUP, "Auth_Short", "short");
    CHECK(a && strcmp(a, "{\"error\":\"invalid\"}") == 0
          && b && strcmp(b, "{\"error\":\"invalid\"}") == 0,
          "a name the rules refuse, or a short password: invalid");
    free(a);
    free(b);

    a = h_call(&h, PHOTO_JOB_SIGNUP, "{\"username\":\"x\"}");
    CHECK(a && strcmp(a, "{\"error\":\"invalid\"}") == 0,
          "a payload without password: invalid");
    free(a);

    a = call(&h, PHOTO_JOB_SIGNIN, name, "correct horse battery");
    snprintf(token, sizeof(token), "%s", field(a, "token"));
    CHECK(token_ok(token, id) && strcmp(field(a, "user_id"), id) == 0,
          "sign-in answers the user id and a token: the id, '-', 43 "
          "characters of base64url");
    free(a);

    ttl = h_redis_int(&h, "TTL session:{%s}%s", id, token + strlen(id));
    CHECK(h_redis_int(&h, "GET session:{%s}%s", id, token + strlen(id))
          == atoll(id)
          && ttl > PHOTO_SESSION_TTL - 60 && ttl <= PHOTO_SESSION_TTL,
          "Redis holds session:{<user id>}-<rest of the token> = the user "
          "id, expiring in 30 days (%lld s)", ttl);

    a = call(&h, PHOTO_JOB_SIGNIN, other_case, "correct horse battery");
    snprintf(token2, sizeof(token2), "%s", field(a, "token"));
    CHECK(token_ok(token2, id) && strcmp(token, token2) != 0,
          "sign-in ignores the name's case; each sign-in is a new session");
    free(a);

    snprintf(unknown, sizeof(unknown), "no_such_user.%d", (int) getpid());

    a = call(&h, PHOTO_JOB_SIGNIN, name, "correct horse battery!");
    b = call(&h, PHOTO_JOB_SIGNIN, unknown, "whatever1");
    CHECK(a && strcmp(a, "{\"error\":\"invalid\"}") == 0
          && b && strcmp(a, b) == 0,
          "a wrong password and an unknown user get the same answer: %s", a);
    free(a);
    free(b);

    /* as the seeded demo accounts: "!" is no hash */
    h_users(&h, BASE, 1);
    forgive(&h, NOHASH);
    a = call(&h, PHOTO_JOB_SIGNIN, NOHASH, "anything1");
    CHECK(a && strcmp(a, "{\"error\":\"invalid\"}") == 0,
          "an account without a usable hash cannot sign in");
    free(a);

    /*
     * The time of a refusal tells nothing: an unknown name and an account
     * without a usable hash cost the KDF as a wrong password does.  The
     * kinds take turns, so that the machine's other work slows them alike;
     * medians, and a generous factor, for a shared machine.
     */
    for (i = 0; i < ROUNDS; i++) {
        forgive(&h, name);
        forgive(&h, NOHASH);
        snprintf(unknown, sizeof(unknown), "no_such_user.%d.%d",
                 (int) getpid(), i);

        signin(&h, name, "not the password", &wrong[i], NULL);
        signin(&h, unknown, "not the password", &nouser[i], NULL);
        signin(&h, NOHASH, "not the password", &nohash[i], NULL);
    }

    t_wrong = median(wrong, ROUNDS);
    t_nouser = median(nouser, ROUNDS);
    t_nohash = median(nohash, ROUNDS);

    CHECK(t_nouser >= 0.5 * t_wrong && t_nohash >= 0.5 * t_wrong,
          "a refusal takes as long whoever asks: wrong password %.1f ms, "
          "unknown user %.1f ms, no usable hash %.1f ms (medians)",
          t_wrong * 1000, t_nouser * 1000, t_nohash * 1000);

    forgive(&h, NOHASH);
    h_forget(&h, BASE, 1);

    /*
     * The backoff.  The worker that counted the first attempts is replaced
     * before the last free one: the count is in Redis, whoever takes the
     * job (and whichever nginx, connection or address sent it).
     */
    forgive(&h, name);

    for (i = 0, n = 0; i < PHOTO_SIGNIN_FREE; i++) {
        if (i == PHOTO_SIGNIN_FREE - 1) {
            h_worker_stop(&h, h.workers[0], SIGTERM, 5000);
            h_worker(&h, "photo_auth", NULL);
        }

        n += strcmp(signin(&h, name, "guess", NULL, NULL),
                    PHOTO_AUTH_E_INVALID) == 0;
    }

    e = signin(&h, name, "guess", NULL, &wait1);
    CHECK(n == PHOTO_SIGNIN_FREE && strcmp(e, PHOTO_AUTH_E_WAIT) == 0
          && wait1 == 1,
          "%d wrong passwords are tried (%d \"invalid\"), the last in a new "
          "worker; the next one waits: \"%s\", retry after %lld s",
          PHOTO_SIGNIN_FREE, n, e, wait1);

    for (i = 0, n = 0, fast = 1e9; i < 3; i++) {
        e = signin(&h, i ? name : other_case, "correct horse battery", &t,
                   NULL);
        n += strcmp(e, PHOTO_AUTH_E_WAIT) == 0;
        fast = t < fast ? t : fast;
    }

    CHECK(n == 3 && fast < 0.5 * t_wrong,
          "the right password waits too, in any case of the name, and is "
          "not hashed: %d of 3 refused, the fastest in %.1f ms",
          n, fast * 1000);

    h_sleep_ms(1000 * (wait1 > 0 ? (int) wait1 : 1) + 100);

    e = signin(&h, name, "guess", NULL, NULL);
    e2 = signin(&h, name, "guess", NULL, &wait2);
    CHECK(strcmp(e, PHOTO_AUTH_E_INVALID) == 0
          && strcmp(e2, PHOTO_AUTH_E_WAIT) == 0 && wait2 == 2 * wait1,
          "after the wait one more is tried (\"%s\"), and the wait doubles "
          "(\"%s\", retry after %lld s)", e, e2, wait2);

    h_sleep_ms(1000 * (wait2 > 0 ? (int) wait2 : 2) + 100);

    a = call(&h, PHOTO_JOB_SIGNIN, name, "correct horse battery");
    snprintf(token3, sizeof(token3), "%s", field(a, "token"));
    CHECK(token_ok(token3, id) && backoff_keys(&h, name) == 0,
          "after that wait the right password signs in, and the count is "
          "forgotten: %s", a);
    free(a);

    for (i = 0, n = 0; i < PHOTO_SIGNIN_FREE; i++) {
        n += strcmp(signin(&h, name, "guess", NULL, NULL),
                    PHOTO_AUTH_E_INVALID) == 0;
    }

    CHECK(n == PHOTO_SIGNIN_FREE, "and the count starts again: %d wrong "
          "passwords tried", n);

    /* long after: the wait stops growing, the count is kept an hour */
    forgive(&h, name);
    freeReplyObject(h_redis(&h, "SET %s{%s} 40", PHOTO_REDIS_SIGNIN_FAILS,
                            lowercase(name)));
    e = signin(&h, name, "guess", NULL, NULL);
    e2 = signin(&h, name, "guess", NULL, &wait2);
    ttl = h_redis_int(&h, "TTL %s{%s}", PHOTO_REDIS_SIGNIN_FAILS,
                      lowercase(name));
    CHECK(strcmp(e, PHOTO_AUTH_E_INVALID) == 0
          && wait2 == PHOTO_SIGNIN_WAIT_MAX
          && ttl > PHOTO_SIGNIN_FAILS_TTL - 60 && ttl <= PHOTO_SIGNIN_FAILS_TTL,
          "the 41st waits at most %d s (%lld s), and the count is kept for "
          "%lld s", PHOTO_SIGNIN_WAIT_MAX, wait2, ttl);

    forgive(&h, name);
    freeReplyObject(h_redis(&h, "DEL session:{%s}%s session:{%s}%s "
                            "session:{%s}%s", id, token + strlen(id), id,
                            token2 + strlen(id), id, token3 + strlen(id)));
    PQclear(h_sql(&h, "delete from users where lower(username) ="
                      " lower('%s')", name));
    h_done(&h, photo_check_failed);

    return CHECK_DONE();
}
