/*
 * nr_fdtable.c - a private descriptor table for the network thread (see
 * nr_fdtable.h for why).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "nr_fdtable.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_UNSHARE
#define CLOSE_RANGE_UNSHARE (1U << 1)
#endif

/* Closes every descriptor of this thread's (now private) table but keep. */
static void close_all_but(int keep)
{
    if (keep > 0)
        close_range(0, (unsigned)keep - 1, 0);
    close_range(keep >= 0 ? (unsigned)keep + 1 : 0, ~0U, 0);
}

/* 0, 1 and 2 on /dev/null: a stray write to stderr by a library goes
 * nowhere instead of into whatever socket would otherwise get number 2. */
static void standard_fds_to_null(int keep)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fd == keep)
            continue;
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd >= 0 && null_fd != fd) {
            dup3(null_fd, fd, O_CLOEXEC);
            close(null_fd);
        }
    }
}

int nr_fdtable_make_private(int keep_fd)
{
    if (unshare(CLONE_FILES) != 0)
        return -1;
    close_all_but(keep_fd);
    standard_fds_to_null(keep_fd);
    return 0;
}
