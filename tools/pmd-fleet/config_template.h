/* config_template.h - the plugin's JSON config, read once, rendered once per
 * hollow node with its own node_id (and, with --url, another control plane). */
#ifndef PF_CONFIG_TEMPLATE_H
#define PF_CONFIG_TEMPLATE_H

#include <stddef.h>
#include <stdint.h>

typedef struct pf_template pf_template_t;

/* Reads and parses PATH (a JSON object); url, when not NULL, replaces
 * orchestratord_url. NULL on error, with one line in err. */
pf_template_t *pf_template_load(const char *path, const char *url, char *err, size_t err_size);
void pf_template_free(pf_template_t *t);

/* The config of one node: the template with node_id set. The caller frees
 * it; NULL when out of memory. */
char *pf_template_render(pf_template_t *t, const char *node_id);

/* orchestratord_url (never NULL; "" when absent) and the heartbeat interval
 * in ms (heartbeat_interval_ms, else heartbeat_interval_secs, else 10000). */
const char *pf_template_url(const pf_template_t *t);
uint64_t pf_template_interval_ms(const pf_template_t *t);

#endif
