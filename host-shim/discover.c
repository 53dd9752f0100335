/*
 * discover.c - capabilities of the machine the shim runs on (see
 * discover.h). GPU discovery is not implemented yet: no GPUs are reported.
 */
#include "discover.h"

#include <string.h>
#include <unistd.h>

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

int shim_discover_capabilities(shim_capabilities_t *out)
{
    memset(out, 0, sizeof(*out));
    out->cpu_cores = discover_cpu_cores();
    out->ram_total_bytes = discover_ram_bytes();
    return 0;
}
