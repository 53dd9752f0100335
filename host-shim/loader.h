/*
 * loader.h - the one place where a host opens a plugin and negotiates the
 * ABI. Shared by pmd-host-shim, pmd-abi-check, pmd-fleet, the benches and
 * the tests, so that every host in this repository loads plugins exactly the
 * way plugin.abi.md says. Prefix host_loader_: it is not installed, and pmd_
 * is kept for what include/ ships.
 */
#ifndef HOST_LOADER_H
#define HOST_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "pmd_plugin.h"

typedef struct host_loaded_plugin {
    void *dl_handle;            /* from dlopen(RTLD_NOW | RTLD_LOCAL) */
    const pmd_plugin_t *plugin; /* the plugin's static descriptor */
    uint32_t session_minor;     /* min(host minor, plugin minor) */
} host_loaded_plugin_t;

/*
 * Opens the plugin at path, calls pmd_plugin_entry with the given host ABI
 * version, and checks the descriptor (same major, sizes, non-empty name and
 * version, every mandatory function present). On failure returns non-zero,
 * closes what it opened, and writes one line saying why into err.
 * Returns PMD_OK or a pmd_result code (PMD_ERR_ABI_MAJOR, PMD_ERR_RESOURCE for
 * dlopen/dlsym failures, PMD_ERR_INVALID_ARGUMENT for a bad descriptor).
 */
int32_t host_loader_open(const char *path, uint32_t host_major, uint32_t host_minor,
                         host_loaded_plugin_t *out, char *err, size_t err_size);

/* True when the session may use the plugin's 1.1 get_extension. */
int host_loader_has_extensions(const host_loaded_plugin_t *loaded);

/*
 * True when the session may use the plugin's 1.2 handover (on_handover and
 * on_start_handed_over): session minor 2 or more, and both members inside
 * the descriptor's struct_size and non-NULL. A host hands over from an old
 * instance to a new one only when this holds for both plugins; otherwise it
 * falls back to on_stop + on_start (plugin.abi.md 5.17).
 */
int host_loader_offers_handover(const host_loaded_plugin_t *loaded);

/* dlclose()s the plugin. Every instance must have been destroyed first. */
void host_loader_close(host_loaded_plugin_t *loaded);

#endif /* PMD_LOADER_H */
