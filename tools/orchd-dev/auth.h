/* auth.h - the bearer token the node API requires, from a fixed value or a
 * file re-read when it changes (so tests can rotate the token on the
 * server side without a restart). Thread-safe. The token never leaves this
 * module: callers get a verdict, not the secret. */
#ifndef OD_AUTH_H
#define OD_AUTH_H

typedef struct od_auth od_auth_t;

enum od_auth_result {
    OD_AUTH_ABSENT, /* no Authorization header */
    OD_AUTH_OK,     /* header matches (or present while no token is configured) */
    OD_AUTH_WRONG   /* header present but not "Bearer <token>" */
};

/* TOKEN and TOKEN_FILE both NULL = no auth. TOKEN_FILE wins over TOKEN. */
od_auth_t *od_auth_new(const char *token, const char *token_file);
void od_auth_free(od_auth_t *a);

/* 1 when a token is configured (requests without it get 401). */
int od_auth_enabled(const od_auth_t *a);

/* Classify an Authorization header value (NULL = absent). A token file
 * that is missing, unreadable or empty matches nothing (fail closed). */
enum od_auth_result od_auth_check(od_auth_t *a, const char *authorization);

/* "absent" / "ok" / "wrong". */
const char *od_auth_name(enum od_auth_result r);

#endif
