/*
 * nvml.h - the few NVML functions GPU discovery needs, found at run time
 * with dlopen, so that the shim has no build-time dependency on the NVIDIA
 * driver and runs unchanged on machines without one. The types below are
 * the ones of nvml.h that these functions use, declared here by hand.
 */
#ifndef SHIM_NVML_H
#define SHIM_NVML_H

#include <stddef.h>

#define SHIM_NVML_DEFAULT_LIBRARY "libnvidia-ml.so.1"
#define SHIM_NVML_LIBRARY_ENV "PMD_NVML_LIBRARY" /* overrides the name (tests) */
#define SHIM_NVML_NAME_SIZE 96                   /* NVML_DEVICE_NAME_V2_BUFFER_SIZE */

typedef int shim_nvml_return_t; /* nvmlReturn_t: 0 = NVML_SUCCESS */
typedef struct shim_nvml_device *shim_nvml_device_t;
typedef struct shim_nvml_memory {
    unsigned long long total, free, used; /* nvmlMemory_t, bytes */
} shim_nvml_memory_t;

typedef struct shim_nvml {
    void *dl;
    shim_nvml_return_t (*init_v2)(void);
    shim_nvml_return_t (*shutdown)(void);
    shim_nvml_return_t (*device_get_count_v2)(unsigned int *count);
    shim_nvml_return_t (*device_get_handle_by_index_v2)(unsigned int index,
                                                        shim_nvml_device_t *device);
    shim_nvml_return_t (*device_get_name)(shim_nvml_device_t device, char *name,
                                          unsigned int length);
    shim_nvml_return_t (*device_get_memory_info)(shim_nvml_device_t device,
                                                 shim_nvml_memory_t *memory);
    shim_nvml_return_t (*device_get_cuda_compute_capability)(shim_nvml_device_t device, int *major,
                                                             int *minor);
    const char *(*error_string)(shim_nvml_return_t result);
} shim_nvml_t;

/* The library to open: $PMD_NVML_LIBRARY if set and non-empty, else
 * libnvidia-ml.so.1. */
const char *shim_nvml_library_name(void);

/* dlopen(RTLD_NOW | RTLD_LOCAL) the library and look up every function.
 * 0, or -1 with why in err ("libnvidia-ml.so.1 not found", "... lacks
 * nvmlDeviceGetName"); nothing stays open on failure. */
int shim_nvml_open(shim_nvml_t *nvml, char *err, size_t err_size);

/* dlclose; the caller has called shutdown if init_v2 succeeded. */
void shim_nvml_close(shim_nvml_t *nvml);

/* nvmlErrorString(rc), or "NVML error N" when it gives nothing. */
const char *shim_nvml_error(const shim_nvml_t *nvml, shim_nvml_return_t rc, char *buf, size_t size);

#endif /* SHIM_NVML_H */
