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

#define NR_MAX_POOLS 4096 /* pools per node; more are refused with PMD_ERR_LIMIT */
#define NR_MAX_GPUS 256
#define NR_MAX_STRING 1024 /* bytes of a host string (pool id, engine, names) */

typedef struct nr_pool {
    char *pool_id; /* valid UTF-8, non-empty */
    char *engine;  /* NULL = not reported */
    uint8_t ready, draining;
    uint32_t slots_free, slots_total;
    uint64_t vram_free_bytes;
} nr_pool_t;

typedef struct nr_pool_list {
    nr_pool_t *items;
    size_t count, capacity;
    char first_error[160]; /* first record refused in this pull, "" if none */
    size_t refused;        /* records refused in this pull */
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

/* Strings are checked with the text module (text/txt.h): identities with
 * txt_identity_problem, descriptions sanitised with txt_utf8_sanitize. */

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
