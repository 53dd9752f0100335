/*
 * plugin_file.c - the file behind --plugin and the name to load it by
 * (see plugin_file.h).
 */
#include "plugin_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int failed(shim_plugin_file_t *f, char *err, size_t err_size, const char *given,
                  const char *what)
{
    snprintf(err, err_size, "cannot load plugin %s: %s", given, what);
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    return -1;
}

int shim_plugin_file_open(const char *given, const char *busy_path, shim_plugin_file_t *f,
                          char *err, size_t err_size)
{
    char here[PATH_MAX + 2], why[PATH_MAX + 64];
    struct stat st;
    memset(f, 0, sizeof(*f));
    f->fd = -1;
    if (strchr(given, '/') == NULL) { /* as dlopen() would not: a file here */
        snprintf(here, sizeof(here), "./%s", given);
        given = here;
    }
    if (realpath(given, f->path) == NULL)
        return failed(f, err, err_size, given, strerror(errno));
    f->fd = open(f->path, O_RDONLY | O_CLOEXEC);
    if (f->fd < 0 || fstat(f->fd, &st) != 0)
        return failed(f, err, err_size, given, strerror(errno));
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, sizeof(why), "%s is not a regular file", f->path);
        return failed(f, err, err_size, given, why);
    }
    f->dev = st.st_dev;
    f->ino = st.st_ino;
    if (busy_path != NULL && strcmp(busy_path, f->path) == 0)
        snprintf(f->dlopen_name, sizeof(f->dlopen_name), "/proc/self/fd/%d", f->fd);
    else
        snprintf(f->dlopen_name, sizeof(f->dlopen_name), "%s", f->path);
    return 0;
}

int shim_plugin_file_same(const shim_plugin_file_t *a, const shim_plugin_file_t *b)
{
    return a->dev == b->dev && a->ino == b->ino && strcmp(a->path, b->path) == 0;
}

void shim_plugin_file_close(shim_plugin_file_t *f)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
}
