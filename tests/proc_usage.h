/*
 * proc_usage.h - what this process holds, read from /proc/self: the figures
 * the soak and the hostile tests watch for growth.
 */
#ifndef PMD_PROC_USAGE_H
#define PMD_PROC_USAGE_H

/* VmRSS in KiB, or -1 when /proc cannot be read. */
long proc_rss_kb(void);

/* Open descriptors summed over every descriptor table of the process, each
 * table counted once (not counting the one used to count them), or -1 when
 * /proc cannot be read. A thread that ran unshare(CLONE_FILES), as the
 * node-registration plugin's network thread does (nr_fdtable.h), has a table
 * of its own that /proc/self/fd (the calling thread's table) does not show;
 * it is counted here. See proc_usage.c for how tables are told apart. */
int proc_fd_count(void);

/* Threads of this process. */
int proc_thread_count(void);

#endif /* PMD_PROC_USAGE_H */
