/*
 * capabilities.h - the node's NodeCapabilities (protocol.md) as the shim
 * reports them through get_capabilities: from the --capabilities file, or
 * discovered on this machine (discover.c).
 *
 * Format: {"gpus": [{"device_id": 0, "name": "NVIDIA H200",
 *           "vram_total_bytes": N, "compute_capability": "9.0"}],
 *          "cpu_cores": N, "ram_total_bytes": N}
 * gpus is required (may be empty) and every GpuInfo field is required;
 * cpu_cores and ram_total_bytes are optional (absent = 0 = unknown).
 * Unknown keys are errors.
 */
#ifndef SHIM_CAPABILITIES_H
#define SHIM_CAPABILITIES_H

#include <stddef.h>
#include <stdint.h>

#include "pmd_plugin.h"

typedef struct shim_gpu {
    uint32_t device_id;
    uint64_t vram_total_bytes;
    char *name;
    char *compute_capability;
} shim_gpu_t;

typedef struct shim_capabilities {
    shim_gpu_t *gpus;
    size_t gpu_count;
    uint32_t cpu_cores;       /* 0 = unknown */
    uint64_t ram_total_bytes; /* 0 = unknown */
} shim_capabilities_t;

/* Pure: JSON text -> capabilities. 0, or -1 with one line in err naming
 * the field ("<source>: gpu 1: compute_capability ..."); *out untouched. */
int shim_capabilities_parse(const char *json_text, const char *source, shim_capabilities_t *out,
                            char *err, size_t err_size);

/* Reads and parses the --capabilities file. */
int shim_capabilities_load(const char *path, shim_capabilities_t *out, char *err, size_t err_size);

void shim_capabilities_free(shim_capabilities_t *caps);

/* Pure: struct -> NodeCapabilities JSON text in the format above (what
 * shim_capabilities_parse reads back), pretty-printed; malloc'd, NULL when
 * out of memory. cpu_cores / ram_total_bytes of 0 are left out. */
char *shim_capabilities_to_json(const shim_capabilities_t *caps);

/*
 * Pushes resources (set_resources, once) then every GPU (add_gpu) into the
 * sink, carrying on after a refused record. Returns PMD_OK when all were
 * accepted, else the first non-OK result; *first_bad is then the GPU index,
 * or SIZE_MAX for the resources record. PMD_ERR_INVALID_ARGUMENT when the
 * sink itself is unusable.
 */
int32_t shim_capabilities_push(const shim_capabilities_t *caps, const pmd_capability_sink_t *sink,
                               size_t *first_bad);

#endif /* SHIM_CAPABILITIES_H */
