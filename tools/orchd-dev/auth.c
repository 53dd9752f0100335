/* auth.c - token source and constant-time comparison.
 *
 * The file is stat()ed on every check and re-read when its mtime, size or
 * inode changed: a rename-over rotation and an in-place rewrite are both
 * seen at the next request. */
#include "auth.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct od_auth {
    pthread_mutex_t mu;
    char *token;      /* current token; NULL = none usable */
    char *file;       /* NULL = fixed token */
    struct stat seen; /* the file's identity when last read */
    int have_seen;
};

od_auth_t *od_auth_new(const char *token, const char *token_file)
{
    od_auth_t *a;
    if (!token && !token_file)
        return NULL;
    a = calloc(1, sizeof *a);
    if (!a)
        return NULL;
    pthread_mutex_init(&a->mu, NULL);
    a->file = token_file ? strdup(token_file) : NULL;
    a->token = !token_file && token ? strdup(token) : NULL;
    return a;
}

static void wipe_free(char *s)
{
    if (s) {
        volatile char *p = s;
        while (*p)
            *p++ = 0;
        free(s);
    }
}

void od_auth_free(od_auth_t *a)
{
    if (!a)
        return;
    wipe_free(a->token);
    free(a->file);
    pthread_mutex_destroy(&a->mu);
    free(a);
}

int od_auth_enabled(const od_auth_t *a)
{
    return a != NULL;
}

const char *od_auth_name(enum od_auth_result r)
{
    return r == OD_AUTH_OK ? "ok" : r == OD_AUTH_WRONG ? "wrong" : "absent";
}

/* The whole file minus trailing whitespace, or NULL. */
static char *read_token_file(const char *path)
{
    char buf[4096];
    size_t n;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n > 0 && strchr(" \t\r\n", buf[n - 1]))
        n--;
    buf[n] = '\0';
    return n > 0 && strlen(buf) == n ? strdup(buf) : NULL;
}

/* Called with the mutex held. */
static void refresh(od_auth_t *a)
{
    struct stat st;
    if (!a->file)
        return;
    if (stat(a->file, &st) != 0) {
        wipe_free(a->token);
        a->token = NULL;
        a->have_seen = 0;
        return;
    }
    if (a->have_seen && st.st_mtim.tv_sec == a->seen.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == a->seen.st_mtim.tv_nsec && st.st_size == a->seen.st_size &&
        st.st_ino == a->seen.st_ino)
        return;
    wipe_free(a->token);
    a->token = read_token_file(a->file);
    a->seen = st;
    a->have_seen = 1;
}

/* Compare without an early exit, so timing does not reveal a prefix. */
static int same(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = la != lb;
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

enum od_auth_result od_auth_check(od_auth_t *a, const char *authorization)
{
    static const char SCHEME[] = "Bearer ";
    int ok;
    if (!authorization)
        return OD_AUTH_ABSENT;
    if (!a)
        return OD_AUTH_OK;
    if (strncmp(authorization, SCHEME, sizeof SCHEME - 1) != 0)
        return OD_AUTH_WRONG;
    pthread_mutex_lock(&a->mu);
    refresh(a);
    ok = a->token && same(authorization + sizeof SCHEME - 1, a->token);
    pthread_mutex_unlock(&a->mu);
    return ok ? OD_AUTH_OK : OD_AUTH_WRONG;
}
