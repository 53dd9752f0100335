/*
 * nvml.c - NVML's dispatch table from dlopen (see nvml.h).
 */
#include "nvml.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

const char *shim_nvml_library_name(void)
{
    const char *env = getenv(SHIM_NVML_LIBRARY_ENV);
    return env != NULL && env[0] != '\0' ? env : SHIM_NVML_DEFAULT_LIBRARY;
}

/* dlsym into a function pointer slot (POSIX guarantees the conversion). */
static int bind_symbol(shim_nvml_t *n, void *slot, const char *symbol, const char *lib, char *err,
                       size_t err_size)
{
    void *p = dlsym(n->dl, symbol);
    if (p == NULL) {
        snprintf(err, err_size, "%s lacks %s", lib, symbol);
        return -1;
    }
    memcpy(slot, &p, sizeof(p));
    return 0;
}

/* "not found" when dlopen could not find the file, else dlerror's text. */
static void open_error(const char *lib, char *err, size_t err_size)
{
    const char *why = dlerror();
    struct stat st;
    int missing = strchr(lib, '/') != NULL ? stat(lib, &st) != 0
                                           : why == NULL || strstr(why, "No such file") != NULL;
    if (missing || why == NULL)
        snprintf(err, err_size, "%s not found", lib);
    else
        snprintf(err, err_size, "cannot load %s: %s", lib, why);
}

int shim_nvml_open(shim_nvml_t *n, char *err, size_t err_size)
{
    const char *lib = shim_nvml_library_name();
    memset(n, 0, sizeof(*n));
    n->dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    if (n->dl == NULL) {
        open_error(lib, err, err_size);
        return -1;
    }
    if (bind_symbol(n, &n->init_v2, "nvmlInit_v2", lib, err, err_size) != 0 ||
        bind_symbol(n, &n->shutdown, "nvmlShutdown", lib, err, err_size) != 0 ||
        bind_symbol(n, &n->device_get_count_v2, "nvmlDeviceGetCount_v2", lib, err, err_size) != 0 ||
        bind_symbol(n, &n->device_get_handle_by_index_v2, "nvmlDeviceGetHandleByIndex_v2", lib, err,
                    err_size) != 0 ||
        bind_symbol(n, &n->device_get_name, "nvmlDeviceGetName", lib, err, err_size) != 0 ||
        bind_symbol(n, &n->device_get_memory_info, "nvmlDeviceGetMemoryInfo", lib, err, err_size) !=
            0 ||
        bind_symbol(n, &n->device_get_cuda_compute_capability, "nvmlDeviceGetCudaComputeCapability",
                    lib, err, err_size) != 0 ||
        bind_symbol(n, &n->error_string, "nvmlErrorString", lib, err, err_size) != 0) {
        shim_nvml_close(n);
        return -1;
    }
    return 0;
}

void shim_nvml_close(shim_nvml_t *n)
{
    if (n->dl != NULL)
        dlclose(n->dl);
    memset(n, 0, sizeof(*n));
}

const char *shim_nvml_error(const shim_nvml_t *n, shim_nvml_return_t rc, char *buf, size_t size)
{
    const char *s = n->error_string != NULL ? n->error_string(rc) : NULL;
    if (s != NULL && s[0] != '\0')
        return s;
    snprintf(buf, size, "NVML error %d", rc);
    return buf;
}
