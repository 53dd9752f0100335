/*
 * proc_usage.h - what this process holds, read from /proc/self: the figures
 * the soak and the hostile tests watch for growth.
 */
#ifndef PMD_PROC_USAGE_H
#define PMD_PROC_USAGE_H

/* VmRSS in KiB, or -1 when /proc cannot be read. */
long proc_rss_kb(void);

/* Open descriptors (not counting the one used to count them). */
int proc_fd_count(void);

/* Threads of this process. */
int proc_thread_count(void);

#endif /* PMD_PROC_USAGE_H */
