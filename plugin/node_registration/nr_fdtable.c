/*
 * nr_fdtable.c - a private descriptor table for the network thread (see
 * nr_fdtable.h for why).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "nr_fdtable.h"

#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

/* Closes every descriptor of this thread's (now private) table except the
 * two it keeps (either may be -1): one close_range per gap. */
static void close_all_except(int keep_a, int keep_b)
{
    int keep[2] = {keep_a < keep_b ? keep_a : keep_b, keep_a < keep_b ? keep_b : keep_a};
    unsigned from = 0;
    for (int i = 0; i < 2; i++) {
        if (keep[i] < 0 || (unsigned)keep[i] < from)
            continue;
        if ((unsigned)keep[i] > from)
            close_range(from, (unsigned)keep[i] - 1, 0);
        from = (unsigned)keep[i] + 1;
    }
    close_range(from, ~0U, 0);
}

/* 0 and 1 on /dev/null, so that no socket the thread opens later takes
 * their numbers and a stray library write goes nowhere. 2 stays the host's
 * stderr: what a dying process prints there (a sanitizer's report, glibc's
 * "double free" line) must not be lost because it happened on this thread;
 * when the host has no stderr, 2 gets /dev/null too. */
static void standard_fds_safe(int keep)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fd == keep || (fd == STDERR_FILENO && fcntl(fd, F_GETFD) != -1))
            continue;
        int null_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
        if (null_fd >= 0 && null_fd != fd) {
            dup3(null_fd, fd, O_CLOEXEC);
            close(null_fd);
        }
    }
}

#if defined(__SANITIZE_THREAD__)
#define NR_FDTABLE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define NR_FDTABLE_TSAN 1
#endif
#endif

int nr_fdtable_make_private(int keep_fd)
{
#ifdef NR_FDTABLE_TSAN
    /* ThreadSanitizer models descriptors as one table per process: the same
     * number in two tables reads to it as a race. TSan builds test the
     * shared-table fallback instead. */
    (void)keep_fd;
    return -1;
#endif
    if (unshare(CLONE_FILES) != 0)
        return -1;
    close_all_except(keep_fd, STDERR_FILENO);
    standard_fds_safe(keep_fd);
    return 0;
}
