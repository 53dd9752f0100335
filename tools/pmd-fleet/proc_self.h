/* proc_self.h - what this process costs, from /proc/self: CPU time,
 * threads, resident and private dirty memory, descriptors in the host's
 * table (the plugin's network threads have their own tables, not counted).
 * The files are opened once, before the plugin runs, so that the readings
 * still work when the instances have used up the descriptor limit. */
#ifndef PF_PROC_SELF_H
#define PF_PROC_SELF_H

#include <stdint.h>

typedef struct pf_usage {
    double cpu_s; /* user + system, all threads */
    uint32_t threads;
    uint64_t rss_kib;
    uint64_t private_dirty_kib;
    uint32_t fds;
} pf_usage_t;

/* Opens the /proc files (call once, early). 0, or -1 if any is missing. */
int pf_usage_open(void);

/* Fills what it can read; unreadable values are 0. */
void pf_usage_read(pf_usage_t *u);

#endif
