/*
 * discover.h - what this machine has, for a shim run without
 * --capabilities (and for pmd-host-shim --discover): CPU cores and RAM from
 * sysconf, GPUs from NVML when the driver's libnvidia-ml.so.1 can be loaded
 * (nvml.h; none otherwise, so the shim runs on machines without a driver).
 */
#ifndef SHIM_DISCOVER_H
#define SHIM_DISCOVER_H

#include <stddef.h>

#include "capabilities.h"

/*
 * Fills *out (free with shim_capabilities_free). Fields that cannot be
 * found are left 0 (unknown); GPUs that NVML cannot describe are left out.
 * note gets the one log line's key=value part that says how GPU discovery
 * went: 'event=gpu_discovery result=ok gpus=2 library=libnvidia-ml.so.1',
 * or 'event=gpu_discovery result=none reason="libnvidia-ml.so.1 not found"'
 * (plus 'skipped=N reason="..."' when some GPUs were left out).
 * Returns 0, or -1 when out of memory (*out is then empty).
 */
int shim_discover_capabilities(shim_capabilities_t *out, char *note, size_t note_size);

#endif /* SHIM_DISCOVER_H */
