/*
 * nr_fdtable.h - the network thread's own descriptor table.
 *
 * pool-managerd forks and execs inference engines. Every descriptor the
 * plugin holds in the host's table (libcurl's sockets, its multi handle's
 * wake-up socket pair, the threaded resolver's pair) would be inherited by
 * each child unless it is close-on-exec, and libcurl 7.88 creates its socket
 * pairs without SOCK_CLOEXEC, with no option to ask for it.
 *
 * So the network thread unshares its descriptor table (unshare(CLONE_FILES),
 * no privilege needed) before it creates anything: what libcurl opens from
 * then on lives in a table that the host's fork never copies. The copies of
 * the host's descriptors that unshare makes are closed at once (a copy would
 * keep a host's pipe or socket open after the host closed it), and 0, 1 and
 * 2 become /dev/null so that nothing the thread writes can reach the host's
 * stdout or stderr or land on a socket. Threads the network thread creates
 * (libcurl's resolver) share its table.
 *
 * Rule for callers: a descriptor opened on the network thread must be closed
 * on the network thread; the only descriptor shared with the host thread is
 * the one passed as keep_fd (the wake-up eventfd).
 */
#ifndef NR_FDTABLE_H
#define NR_FDTABLE_H

/* Call on the network thread before it opens anything. Returns 0 when the
 * thread now has a private table, -1 (errno set) when the kernel or a
 * seccomp filter refused: the caller then shares the host's table and falls
 * back to close-on-exec on the sockets it opens itself. */
int nr_fdtable_make_private(int keep_fd);

#endif /* NR_FDTABLE_H */
