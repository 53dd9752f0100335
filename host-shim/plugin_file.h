/*
 * plugin_file.h - which file a --plugin path means right now, and the name
 * to dlopen() it by. SIGHUP compares the file behind --plugin with the one
 * the running build came from (resolved path, device and inode): a
 * deployment flips a symlink to a new build, or replaces the file under the
 * same name; either is a new build to swap in.
 *
 * Why a name to dlopen() by: the dynamic loader hands back an object it
 * already has when the name matches one it loaded, without looking at the
 * file again. So a build is opened by its resolved path (a flipped symlink
 * then never matches the old build's name), and a file replaced under the
 * very path of the running build is opened through /proc/self/fd/N, N a
 * descriptor held open for as long as the build is loaded (so that no
 * later build gets the same N, and the same name).
 */
#ifndef SHIM_PLUGIN_FILE_H
#define SHIM_PLUGIN_FILE_H

#include <limits.h>
#include <stddef.h>
#include <sys/types.h>

typedef struct shim_plugin_file {
    char path[PATH_MAX];        /* the resolved path (symlinks followed) */
    char dlopen_name[PATH_MAX]; /* path, or /proc/self/fd/N (see above) */
    dev_t dev;                  /* of the file opened, not of a later one */
    ino_t ino;
    int fd; /* open on the file while loaded; -1 = none */
} shim_plugin_file_t;

/*
 * Resolves given (a name without '/' is a file in the current directory)
 * and opens the file it names. busy_path is the resolved path of the build
 * running now (NULL at the first load): when the file is a new one at that
 * same path, dlopen_name goes through the descriptor. Returns 0, or -1 with
 * one line in err ("cannot load plugin <given>: <why>"), f->fd -1.
 */
int shim_plugin_file_open(const char *given, const char *busy_path, shim_plugin_file_t *f,
                          char *err, size_t err_size);

/* 1 when a and b are the same file at the same resolved path. */
int shim_plugin_file_same(const shim_plugin_file_t *a, const shim_plugin_file_t *b);

/* Closes the descriptor (after dlclose of the build). Safe twice. */
void shim_plugin_file_close(shim_plugin_file_t *f);

#endif /* SHIM_PLUGIN_FILE_H */
