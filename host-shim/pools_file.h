/*
 * pools_file.h - the node's pools as pmd-host-shim reports them: a JSON
 * array (the --pools file, also test_host_set_pools_json) parsed into a
 * list, pushed into a plugin's pool sink, and re-read when the file changes.
 *
 * Format: [{"pool_id": "p0", "ready": true, "draining": false,
 *           "slots_free": 3, "slots_total": 4, "vram_free_bytes": 123,
 *           "engine": "llamacpp"}, ...]
 * pool_id is required (non-empty string); engine is optional (string or
 * null); the others default to false / 0. Integers are non-negative and in
 * range (slots: 32 bits, vram: 64 bits). Unknown keys are errors, so that a
 * typo is not silently read as 0.
 */
#ifndef SHIM_POOLS_FILE_H
#define SHIM_POOLS_FILE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "pmd_plugin.h"

typedef struct shim_pool {
    char *pool_id;
    char *engine; /* NULL = none */
    uint8_t ready;
    uint8_t draining;
    uint32_t slots_free;
    uint32_t slots_total;
    uint64_t vram_free_bytes;
} shim_pool_t;

typedef struct shim_pool_list {
    shim_pool_t *items;
    size_t count;
} shim_pool_list_t;

/*
 * Pure: JSON text -> list. source names the text in messages (a path).
 * On success replaces nothing, fills *out (free with shim_pools_free) and
 * returns 0. On failure returns -1, leaves *out untouched and writes one
 * line "<source>: pool <index>: <field> <problem>" (or the syntax error).
 */
int shim_pools_parse(const char *json_text, const char *source, shim_pool_list_t *out, char *err,
                     size_t err_size);

void shim_pools_free(shim_pool_list_t *list);

/*
 * Pushes every pool into the sink (struct_size = sizeof(pmd_pool_status_t)),
 * carrying on after a refused record as the ABI allows. Returns PMD_OK when
 * every record was accepted, else the first non-OK result with its index
 * in *first_bad; PMD_ERR_INVALID_ARGUMENT when the sink itself is unusable.
 */
int32_t shim_pools_push(const shim_pool_list_t *list, const pmd_pool_sink_t *sink,
                        size_t *first_bad);

/* The --pools file with its last good list, re-read when it changes. */
typedef struct shim_pools_file {
    char *path;
    shim_pool_list_t list;  /* the last good list */
    int checked;            /* poll has stat()ed at least once */
    uint64_t last_check_ns; /* monotonic time of the last stat() */
    int have_stat;          /* stamp below is valid */
    dev_t dev;
    ino_t ino;
    off_t size;
    struct timespec mtime;
    char last_problem[512]; /* last reported problem; "" when none */
} shim_pools_file_t;

/* Minimum time between two stat() calls in shim_pools_file_poll. */
#define SHIM_POOLS_CHECK_NS (200ull * 1000 * 1000)

/* First load: the file must exist and be valid. -1 and err on failure. */
int shim_pools_file_open(shim_pools_file_t *pf, const char *path, char *err, size_t err_size);

/*
 * Called from the tick loop with CLOCK_MONOTONIC now_ns: at most every
 * SHIM_POOLS_CHECK_NS it stat()s the file, and when inode, size or mtime
 * changed it re-reads it. Returns 0 when nothing to report, 1 when a new
 * list was loaded (msg says so), -1 when there is a new problem to report
 * in msg (the last good list is kept). The same problem is reported once.
 */
int shim_pools_file_poll(shim_pools_file_t *pf, uint64_t now_ns, char *msg, size_t msg_size);

/*
 * Re-reads the file now, whether or not it changed (SIGHUP). Returns 1 and
 * "<path>: reloaded, N pool(s)" in msg when a new list was loaded; -1 and
 * the problem in msg (always, even when poll already reported it) when the
 * last good list is kept. Either way the next poll compares against the
 * file as it is now.
 */
int shim_pools_file_reload_now(shim_pools_file_t *pf, char *msg, size_t msg_size);

void shim_pools_file_close(shim_pools_file_t *pf);

#endif /* SHIM_POOLS_FILE_H */
