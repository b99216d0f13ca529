/*
 * photo_signup and photo_signin against the real stack: sign up, then
 * sign in and get a session that Redis holds for PHOTO_SESSION_TTL; a
 * username is taken whatever its case; a wrong password and an unknown
 * user get the same answer; what the username rules refuse is "invalid";
 * the stored hash is Argon2id.
 */

#include "photo_check.h"
#include "photo_harness.h"
#include "photo_contract.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yajl/yajl_tree.h>


#define BASE  7350000000000000000LL


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


static int
token_ok(const char *t)
{
    size_t  i, n;

    n = strlen(t);

    for (i = 0; i < n; i++) {
        if (!strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                    "0123456789-_", t[i]))
        {
            return 0;
        }
    }

    return n == 43 && n >= PHOTO_SESSION_TOKEN_MIN
           && n <= PHOTO_SESSION_TOKEN_MAX;
}


int
main(void)
{
    h_t         h;
    char       *a, *b, id[32], token[64], token2[64];
    long long   ttl;
    PGresult   *res;

    h_init(&h, "auth");

    snprintf(name, sizeof(name), "Auth_Test.%d", (int) getpid());
    snprintf(other_case, sizeof(other_case), "aUTH_tEST.%d", (int) getpid());
    PQclear(h_sql(&h, "delete from users where lower(username) ="
                      " lower('%s')", name));
    h_forget(&h, BASE, 1);

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
    CHECK(token_ok(token) && strcmp(field(a, "user_id"), id) == 0,
          "sign-in answers a 43-character base64url token and the user id");
    free(a);

    ttl = h_redis_int(&h, "TTL session:%s", token);
    CHECK(h_redis_int(&h, "GET session:%s", token) == atoll(id)
          && ttl > PHOTO_SESSION_TTL - 60 && ttl <= PHOTO_SESSION_TTL,
          "Redis holds session:<token> = the user id, expiring in 30 days "
          "(%lld s)", ttl);

    a = call(&h, PHOTO_JOB_SIGNIN, other_case, "correct horse battery");
    snprintf(token2, sizeof(token2), "%s", field(a, "token"));
    CHECK(token_ok(token2) && strcmp(token, token2) != 0,
          "sign-in ignores the name's case; each sign-in is a new session");
    free(a);

    a = call(&h, PHOTO_JOB_SIGNIN, name, "correct horse battery!");
    b = call(&h, PHOTO_JOB_SIGNIN, "no_such_user_at_all", "whatever1");
    CHECK(a && strcmp(a, "{\"error\":\"invalid\"}") == 0
          && b && strcmp(a, b) == 0,
          "a wrong password and an unknown user get the same answer: %s", a);
    free(a);
    free(b);

    /* as the seeded demo accounts: "!" is no hash */
    h_users(&h, BASE, 1);
    a = call(&h, PHOTO_JOB_SIGNIN, "w7350000000000000000", "anything1");
    CHECK(a && strcmp(a, "{\"error\":\"invalid\"}") == 0,
          "an account without a usable hash cannot sign in");
    free(a);
    h_forget(&h, BASE, 1);

    freeReplyObject(h_redis(&h, "DEL session:%s session:%s", token, token2));
    PQclear(h_sql(&h, "delete from users where lower(username) ="
                      " lower('%s')", name));
    h_done(&h, photo_check_failed);

    return CHECK_DONE();
}
