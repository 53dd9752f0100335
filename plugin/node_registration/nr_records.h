/*
 * nr_records.h - the plugin's own copies of what the host reports: pool
 * status and node capabilities. Filled on the host thread through the ABI's
 * sinks (nr_records.c validates and copies every record, since the host's
 * strings live only for the sink call), then handed to the network thread.
 */
#ifndef NR_RECORDS_H
#define NR_RECORDS_H

#include <stddef.h>
#include <stdint.h>

#include "pmd_plugin.h"

#define NR_MAX_POOLS 4096   /* pools per node; more are refused with PMD_ERR_LIMIT */
#define NR_MAX_GPUS 256
#define NR_MAX_STRING 1024  /* bytes of a host string (pool id, engine, names) */

typedef struct nr_pool {
    char *pool_id;          /* valid UTF-8, non-empty */
    char *engine;           /* NULL = not reported */
    uint8_t ready, draining;
    uint32_t slots_free, slots_total;
    uint64_t vram_free_bytes;
} nr_pool_t;

typedef struct nr_pool_list {
    nr_pool_t *items;
    size_t count, capacity;
    char first_error[160];  /* first record refused in this pull, "" if none */
    size_t refused;         /* records refused in this pull */
} nr_pool_list_t;

typedef struct nr_gpu {
    uint32_t device_id;
    uint64_t vram_total_bytes;
    char *name;
    char *compute_capability;
} nr_gpu_t;

typedef struct nr_capabilities {
    nr_gpu_t *gpus;
    size_t gpu_count, gpu_capacity;
    uint32_t cpu_cores;       /* 0 = not reported */
    uint64_t ram_total_bytes; /* 0 = not reported */
    char first_error[160];
    size_t refused;
} nr_capabilities_t;

/* A sink that validates and copies host records into list (host thread). */
pmd_pool_sink_t nr_pool_sink(nr_pool_list_t *list);
pmd_capability_sink_t nr_capability_sink(nr_capabilities_t *caps);

/* Validation used by the sinks, exposed for tests and fuzzing. Returns
 * PMD_OK, PMD_ERR_HOST_DATA (with why filled) or PMD_ERR_LIMIT. */
int32_t nr_pool_list_add(nr_pool_list_t *list, const pmd_pool_status_t *pool);
int32_t nr_capabilities_add_gpu(nr_capabilities_t *caps, const pmd_gpu_info_t *gpu);
int32_t nr_capabilities_set_resources(nr_capabilities_t *caps, const pmd_node_resources_t *res);

/* 1 when s is valid UTF-8 (no overlongs, no surrogates, <= U+10FFFF). */
int nr_utf8_valid(const char *s, size_t len);

/* Copies in[0..in_len) to out as valid UTF-8 without control characters:
 * each invalid sequence (maximal subpart, RFC 3629) becomes U+FFFD, C0
 * controls, DEL and C1 controls are dropped. Stops before a character that
 * would not fit; out is always NUL-terminated when out_size > 0. Returns the
 * bytes written (without the NUL). Used for descriptive host strings and for
 * text from the control plane that reaches a log line. */
size_t nr_utf8_sanitize(const char *in, size_t in_len, char *out, size_t out_size);

/* Why s[0..len) is not usable as descriptive text from a config (a GPU
 * name), or NULL when it is: non-empty, at most max bytes, valid UTF-8, no
 * byte below 0x20 and no 0x7f. The reason is a static phrase such as
 * "is not valid UTF-8", to follow a field name. */
const char *nr_text_problem(const char *s, size_t len, size_t max);

/* The same for an identity string (pool id, node id, machine id), which is
 * also refused when it holds a C1 control character (U+0080..U+009F) or
 * U+FFFD: a replacement character in an identity is never legitimate, and
 * is what json-c makes of a lone surrogate escape such as "\ud800". */
const char *nr_identity_problem(const char *s, size_t len, size_t max);

/* 1 when s is a compute capability "major.minor": ^[0-9]+\.[0-9]+$. */
int nr_compute_capability_valid(const char *s);

/* Deep copies and frees. A copy of an empty list is an empty list. */
int nr_pool_list_copy(nr_pool_list_t *dst, const nr_pool_list_t *src);
void nr_pool_list_clear(nr_pool_list_t *list);
int nr_capabilities_copy(nr_capabilities_t *dst, const nr_capabilities_t *src);
void nr_capabilities_clear(nr_capabilities_t *caps);

/* 1 when both lists hold the same records in the same order. */
int nr_pool_list_equal(const nr_pool_list_t *a, const nr_pool_list_t *b);

/* 1 when both lists name the same set of pool ids (order ignored). */
int nr_pool_ids_equal(const nr_pool_list_t *a, char *const *ids, size_t id_count);

#endif /* NR_RECORDS_H */
