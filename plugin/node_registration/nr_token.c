/*
 * nr_token.c - token source and rotation (see nr_token.h). Old token values
 * are wiped before they are freed: a secret should not linger in the heap.
 */
#include "nr_token.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "nr_config.h"

static void wipe_free(char *s)
{
    if (s != NULL) {
        explicit_bzero(s, strlen(s));
        free(s);
    }
}

int nr_token_init(nr_token_t *t, const char *value, const char *file)
{
    memset(t, 0, sizeof(*t));
    if (value && (t->value = strdup(value)) == NULL)
        return -1;
    if (file && (t->file = strdup(file)) == NULL) {
        nr_token_free(t);
        return -1;
    }
    return 0;
}

static int file_changed(nr_token_t *t, const struct stat *st)
{
    int64_t mtime = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    int changed =
        !t->have_stat || st->st_ino != t->ino || st->st_size != t->size || mtime != t->mtime_ns;
    t->have_stat = 1;
    t->ino = st->st_ino;
    t->size = st->st_size;
    t->mtime_ns = mtime;
    return changed;
}

int nr_token_refresh(nr_token_t *t, uint64_t now_ns, int force)
{
    if (t->file == NULL)
        return 0;
    if (!force && t->have_stat && now_ns - t->last_check_ns < NR_TOKEN_CHECK_PERIOD_NS)
        return 0;
    t->last_check_ns = now_ns;
    struct stat st;
    if (stat(t->file, &st) != 0) {
        snprintf(t->last_error, sizeof(t->last_error), "api_token_file: cannot stat: %s",
                 strerror(errno));
        return -1;
    }
    if (!file_changed(t, &st) && !force)
        return 0;
    char err[200];
    char *fresh = nr_config_read_token_file(t->file, err, sizeof(err));
    if (fresh == NULL) {
        snprintf(t->last_error, sizeof(t->last_error), "%s", err);
        t->have_stat = 0; /* look again next period even if the file stays the same */
        return -1;
    }
    t->last_error[0] = '\0';
    int changed = t->value == NULL || strcmp(fresh, t->value) != 0;
    wipe_free(t->value);
    t->value = fresh;
    return changed;
}

void nr_token_free(nr_token_t *t)
{
    wipe_free(t->value);
    free(t->file);
    memset(t, 0, sizeof(*t));
}
