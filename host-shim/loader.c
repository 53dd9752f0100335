/*
 * loader.c - dlopen a plugin, call its entry, negotiate the ABI version and
 * vet the descriptor before any host calls into it (plugin.abi.md,
 * "Loading a plugin").
 */
#include "loader.h"

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static int is_nonempty(const char *s)
{
    return s != NULL && s[0] != '\0';
}

static int32_t fail(host_loaded_plugin_t *out, char *err, size_t err_size, int32_t code,
                    const char *what, const char *path)
{
    if (err != NULL && err_size > 0)
        snprintf(err, err_size, "cannot load plugin %s: %s", path, what);
    if (out->dl_handle != NULL)
        dlclose(out->dl_handle);
    memset(out, 0, sizeof(*out));
    return code;
}

/* Checks what the loader needs before any call: sizes, names, functions. */
static const char *descriptor_problem(const pmd_plugin_t *p)
{
    if (p->struct_size < PMD_PLUGIN_SIZE_1_0)
        return "descriptor struct_size is smaller than an ABI 1.0 descriptor";
    if (!is_nonempty(p->name))
        return "descriptor has no name";
    if (!is_nonempty(p->version))
        return "descriptor has no version";
    if (p->init == NULL || p->on_start == NULL || p->on_tick == NULL || p->on_stop == NULL ||
        p->destroy == NULL || p->result_string == NULL)
        return "descriptor lacks a mandatory function (init, start, tick, stop, "
               "destroy, result_string)";
    return NULL;
}

int32_t host_loader_open(const char *path, uint32_t host_major, uint32_t host_minor,
                         host_loaded_plugin_t *out, char *err, size_t err_size)
{
    char why[512];
    memset(out, 0, sizeof(*out));
    if (path == NULL)
        return fail(out, err, err_size, PMD_ERR_INVALID_ARGUMENT, "no path given", "(null)");
    out->dl_handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (out->dl_handle == NULL) {
        const char *e = dlerror();
        snprintf(why, sizeof(why), "dlopen failed: %s", e ? e : "unknown error");
        return fail(out, err, err_size, PMD_ERR_RESOURCE, why, path);
    }
    pmd_plugin_entry_fn entry;
    *(void **)(&entry) = dlsym(out->dl_handle, PMD_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL)
        return fail(out, err, err_size, PMD_ERR_RESOURCE,
                    "no exported symbol " PMD_PLUGIN_ENTRY_SYMBOL, path);
    const pmd_plugin_t *plugin = NULL;
    int32_t rc = entry(host_major, host_minor, &plugin);
    if (plugin == NULL) {
        snprintf(why, sizeof(why), "%s returned no descriptor (result %d)", PMD_PLUGIN_ENTRY_SYMBOL,
                 (int)rc);
        return fail(out, err, err_size, rc != PMD_OK ? rc : PMD_ERR_INVALID_ARGUMENT, why, path);
    }
    if (plugin->struct_size < PMD_PLUGIN_FROZEN_SIZE)
        return fail(out, err, err_size, PMD_ERR_INVALID_ARGUMENT,
                    "descriptor struct_size is smaller than the frozen prefix", path);
    if (rc == PMD_ERR_ABI_MAJOR || plugin->abi_major != host_major) {
        snprintf(why, sizeof(why),
                 "ABI major mismatch: plugin %s speaks ABI %u.%u, this host speaks %u.%u",
                 is_nonempty(plugin->name) ? plugin->name : "(unnamed)",
                 (unsigned)plugin->abi_major, (unsigned)plugin->abi_minor, (unsigned)host_major,
                 (unsigned)host_minor);
        return fail(out, err, err_size, PMD_ERR_ABI_MAJOR, why, path);
    }
    if (rc != PMD_OK) {
        snprintf(why, sizeof(why), "%s failed with result %d", PMD_PLUGIN_ENTRY_SYMBOL, (int)rc);
        return fail(out, err, err_size, rc, why, path);
    }
    const char *problem = descriptor_problem(plugin);
    if (problem != NULL)
        return fail(out, err, err_size, PMD_ERR_INVALID_ARGUMENT, problem, path);
    out->plugin = plugin;
    out->session_minor = plugin->abi_minor < host_minor ? plugin->abi_minor : host_minor;
    return PMD_OK;
}

int host_loader_has_extensions(const host_loaded_plugin_t *loaded)
{
    const pmd_plugin_t *p = loaded->plugin;
    return loaded->session_minor >= 1 &&
           p->struct_size >= offsetof(pmd_plugin_t, get_extension) + sizeof(p->get_extension) &&
           p->get_extension != NULL;
}

int host_loader_offers_handover(const host_loaded_plugin_t *loaded)
{
    const pmd_plugin_t *p = loaded->plugin;
    return p != NULL && loaded->session_minor >= 2 &&
           p->struct_size >=
               offsetof(pmd_plugin_t, on_start_handed_over) + sizeof(p->on_start_handed_over) &&
           p->on_handover != NULL && p->on_start_handed_over != NULL;
}

void host_loader_close(host_loaded_plugin_t *loaded)
{
    if (loaded->dl_handle != NULL)
        dlclose(loaded->dl_handle);
    memset(loaded, 0, sizeof(*loaded));
}
