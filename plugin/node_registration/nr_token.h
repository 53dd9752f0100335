/*
 * nr_token.h - the API token: from config, environment or a file, and its
 * rotation without a restart (CLOUD-4011). A file-backed token is re-read
 * when the file changes (checked by stat, at most once per check period, so
 * the cost is one stat per second) and after every 401/403.
 * Owned by the network thread. The token's value is never logged.
 */
#ifndef NR_TOKEN_H
#define NR_TOKEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NR_TOKEN_CHECK_PERIOD_NS 900000000ull /* a little under the 1 s wake-up */

typedef struct nr_token {
    char *value; /* NULL = send no Authorization header */
    char *file;  /* NULL = not file-backed */
    uint64_t last_check_ns;
    int have_stat;
    ino_t ino;
    off_t size;
    int64_t mtime_ns;
    char last_error[200]; /* last reload problem, "" if none */
} nr_token_t;

/* Takes copies. value may be NULL; file may be NULL. */
int nr_token_init(nr_token_t *t, const char *value, const char *file);

/* Checks the file (if any) when force or the period passed; reloads on change.
 * Returns 1 when the token value changed, 0 when not, -1 when the file could
 * not be read (the old token is kept, last_error says why). */
int nr_token_refresh(nr_token_t *t, uint64_t now_ns, int force);

void nr_token_free(nr_token_t *t);

#endif /* NR_TOKEN_H */
