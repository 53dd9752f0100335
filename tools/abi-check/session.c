/*
 * session.c - a plugin loaded through the shared loader (host-shim/loader.c)
 * together with the config the checks create instances from: --config FILE,
 * else the plugin's pmd.ext.conformance/1 template, else "{}"; "{{url}}" is
 * replaced by the control-plane URL the check chose.
 */
#include "abi_check.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *replace_all(const char *text, const char *needle, const char *with)
{
    size_t nlen = strlen(needle), wlen = strlen(with), count = 0;
    for (const char *p = strstr(text, needle); p != NULL; p = strstr(p + nlen, needle))
        count++;
    size_t size = strlen(text) + count * wlen + 1;
    char *out = malloc(size), *o = out;
    if (out == NULL)
        return NULL;
    const char *p = text, *hit;
    while ((hit = strstr(p, needle)) != NULL) {
        memcpy(o, p, (size_t)(hit - p));
        o += hit - p;
        memcpy(o, with, wlen);
        o += wlen;
        p = hit + nlen;
    }
    strcpy(o, p);
    return out;
}

static const char *conformance_template(const host_loaded_plugin_t *lp)
{
    if (!host_loader_has_extensions(lp))
        return NULL;
    const pmd_ext_conformance_t *ext = lp->plugin->get_extension(PMD_EXT_CONFORMANCE);
    if (ext == NULL || ext->struct_size < offsetof(pmd_ext_conformance_t, config_template) +
                                              sizeof(ext->config_template))
        return NULL;
    return ext->config_template;
}

char *ac_config_for(const ac_ctx_t *ctx, const host_loaded_plugin_t *lp, const char *url)
{
    const char *text = ctx->config_text;
    if (text == NULL)
        text = conformance_template(lp);
    if (text == NULL)
        text = "{}";
    return replace_all(text, "{{url}}", url != NULL ? url : "http://127.0.0.1:9");
}

int ac_session_open(const ac_ctx_t *ctx, ac_session_t *s, const char *url, ac_result_t *r)
{
    return ac_session_open_minor(ctx, s, PMD_ABI_VERSION_MINOR, url, r);
}

int ac_session_open_minor(const ac_ctx_t *ctx, ac_session_t *s, uint32_t host_minor,
                          const char *url, ac_result_t *r)
{
    char err[512];
    memset(s, 0, sizeof(*s));
    int32_t rc = host_loader_open(ctx->plugin_path, PMD_ABI_VERSION_MAJOR, host_minor, &s->lp, err,
                                  sizeof(err));
    if (rc != PMD_OK) {
        ac_fail(r, "%s", err);
        return -1;
    }
    s->p = s->lp.plugin;
    /* The conformance template is the validator's, not the session's: an
     * older session (no extensions) still gets it, from a second load at the
     * checker's own minor (dlopen counts references: the same image). */
    host_loaded_plugin_t own;
    if (!host_loader_has_extensions(&s->lp) && host_minor < PMD_ABI_VERSION_MINOR &&
        host_loader_open(ctx->plugin_path, PMD_ABI_VERSION_MAJOR, PMD_ABI_VERSION_MINOR, &own, err,
                         sizeof(err)) == PMD_OK) {
        s->config = ac_config_for(ctx, &own, url);
        host_loader_close(&own);
    } else {
        s->config = ac_config_for(ctx, &s->lp, url);
    }
    if (s->config == NULL) {
        host_loader_close(&s->lp);
        ac_fail(r, "out of memory building the config");
        return -1;
    }
    return 0;
}

void ac_session_close(ac_session_t *s)
{
    free(s->config);
    s->config = NULL;
    if (s->lp.dl_handle != NULL)
        host_loader_close(&s->lp);
    s->p = NULL;
}
