/*
 * discover.c - capabilities of the machine the shim runs on (see
 * discover.h): sysconf for CPUs and RAM, NVML (nvml.h) for GPUs.
 */
#include "discover.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log_line.h"
#include "nvml.h"

static uint32_t discover_cpu_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 && n <= (long)UINT32_MAX ? (uint32_t)n : 0;
}

static uint64_t discover_ram_bytes(void)
{
    long pages = sysconf(_SC_PHYS_PAGES);
    long page_size = sysconf(_SC_PAGESIZE);
    if (pages <= 0 || page_size <= 0)
        return 0;
    return (uint64_t)pages * (uint64_t)page_size;
}

static int gpu_error(const shim_nvml_t *n, unsigned index, const char *step, shim_nvml_return_t rc,
                     char *err, size_t err_size)
{
    char ebuf[32];
    snprintf(err, err_size, "gpu %u: %s: %s", index, step,
             shim_nvml_error(n, rc, ebuf, sizeof(ebuf)));
    return -1;
}

/* One GPU by NVML index into *g. 0, or -1 with why in err. */
static int describe_gpu(const shim_nvml_t *n, unsigned index, shim_gpu_t *g, char *err,
                        size_t err_size)
{
    shim_nvml_device_t dev = NULL;
    shim_nvml_memory_t mem = {0, 0, 0};
    char name[SHIM_NVML_NAME_SIZE] = "", cc[32];
    int major = 0, minor = 0;
    shim_nvml_return_t rc;
    if ((rc = n->device_get_handle_by_index_v2(index, &dev)) != 0)
        return gpu_error(n, index, "nvmlDeviceGetHandleByIndex_v2", rc, err, err_size);
    if ((rc = n->device_get_name(dev, name, sizeof(name))) != 0)
        return gpu_error(n, index, "nvmlDeviceGetName", rc, err, err_size);
    if ((rc = n->device_get_memory_info(dev, &mem)) != 0)
        return gpu_error(n, index, "nvmlDeviceGetMemoryInfo", rc, err, err_size);
    if ((rc = n->device_get_cuda_compute_capability(dev, &major, &minor)) != 0)
        return gpu_error(n, index, "nvmlDeviceGetCudaComputeCapability", rc, err, err_size);
    name[sizeof(name) - 1] = '\0';
    snprintf(cc, sizeof(cc), "%d.%d", major < 0 ? 0 : major, minor < 0 ? 0 : minor);
    g->device_id = index;
    g->vram_total_bytes = mem.total;
    g->name = strdup(name[0] ? name : "unknown NVIDIA GPU");
    g->compute_capability = strdup(cc);
    if (g->name == NULL || g->compute_capability == NULL) {
        snprintf(err, err_size, "gpu %u: out of memory", index);
        return -1;
    }
    return 0;
}

/* Every GPU NVML describes, into out->gpus. Writes the note's key=values. */
static int discover_gpus(const shim_nvml_t *n, shim_capabilities_t *out, char *note,
                         size_t note_size)
{
    unsigned count = 0, skipped = 0;
    char first_problem[256] = "", q[300], ebuf[32];
    shim_nvml_return_t rc = n->device_get_count_v2(&count);
    if (rc != 0) {
        snprintf(first_problem, sizeof(first_problem), "nvmlDeviceGetCount_v2: %s",
                 shim_nvml_error(n, rc, ebuf, sizeof(ebuf)));
        snprintf(note, note_size, "event=gpu_discovery result=none reason=%s",
                 log_line_quote(q, sizeof(q), first_problem));
        return 0;
    }
    out->gpus = calloc(count ? count : 1, sizeof(shim_gpu_t));
    if (out->gpus == NULL)
        return -1;
    for (unsigned i = 0; i < count; i++) {
        char why[256];
        shim_gpu_t *g = &out->gpus[out->gpu_count];
        if (describe_gpu(n, i, g, why, sizeof(why)) == 0) {
            out->gpu_count++;
            continue;
        }
        free(g->name);
        free(g->compute_capability);
        memset(g, 0, sizeof(*g));
        if (skipped++ == 0)
            snprintf(first_problem, sizeof(first_problem), "%s", why);
    }
    int len = snprintf(note, note_size, "event=gpu_discovery result=%s gpus=%zu library=%s",
                       out->gpu_count ? "ok" : "none", out->gpu_count, shim_nvml_library_name());
    if (skipped != 0 && len > 0 && (size_t)len < note_size)
        snprintf(note + len, note_size - (size_t)len, " skipped=%u reason=%s", skipped,
                 log_line_quote(q, sizeof(q), first_problem));
    else if (count == 0 && len > 0 && (size_t)len < note_size)
        snprintf(note + len, note_size - (size_t)len, " reason=\"NVML reports no GPUs\"");
    return 0;
}

int shim_discover_capabilities(shim_capabilities_t *out, char *note, size_t note_size)
{
    shim_nvml_t nvml;
    char why[512], q[600], ebuf[32];
    memset(out, 0, sizeof(*out));
    out->cpu_cores = discover_cpu_cores();
    out->ram_total_bytes = discover_ram_bytes();
    if (shim_nvml_open(&nvml, why, sizeof(why)) != 0) {
        snprintf(note, note_size, "event=gpu_discovery result=none reason=%s",
                 log_line_quote(q, sizeof(q), why));
        return 0;
    }
    int rc = 0;
    shim_nvml_return_t nrc = nvml.init_v2();
    if (nrc != 0) {
        snprintf(why, sizeof(why), "nvmlInit_v2: %s",
                 shim_nvml_error(&nvml, nrc, ebuf, sizeof(ebuf)));
        snprintf(note, note_size, "event=gpu_discovery result=none reason=%s",
                 log_line_quote(q, sizeof(q), why));
    } else {
        rc = discover_gpus(&nvml, out, note, note_size);
        nvml.shutdown();
    }
    shim_nvml_close(&nvml);
    if (rc != 0) {
        shim_capabilities_free(out);
        snprintf(note, note_size, "event=gpu_discovery result=none reason=\"out of memory\"");
    }
    return rc;
}
