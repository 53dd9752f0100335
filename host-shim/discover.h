/*
 * discover.h - what this machine has, for a shim run without
 * --capabilities. Today: CPU cores and RAM from sysconf, no GPUs. NVML
 * discovery belongs here (dlopen libnvidia-ml.so.1, so the shim keeps
 * running on machines without a driver).
 */
#ifndef SHIM_DISCOVER_H
#define SHIM_DISCOVER_H

#include "capabilities.h"

/* Fills *out (free with shim_capabilities_free). Returns 0; fields that
 * cannot be found are left 0 (unknown). */
int shim_discover_capabilities(shim_capabilities_t *out);

#endif /* SHIM_DISCOVER_H */
