/* registry.c - node records keyed by node id, plus the NodeInfo view.
 *
 * A small linked list is enough: a dev control plane sees a handful of
 * nodes, and a list keeps registration order stable for tests. */
#include "registry.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct node {
    struct node *next;
    char *id;
    json_object *info;    /* normalized RegisterRequest */
    json_object *last_hb; /* normalized HeartbeatRequest or NULL */
    uint64_t registered_mono, registered_wall;
    uint64_t last_hb_mono, last_hb_wall;
    uint64_t heartbeats;
    uint64_t registrations; /* survives re-registration, not removal */
};

struct od_registry {
    pthread_mutex_t mu;
    struct node *head;
    uint64_t offline_ms;
};

od_registry_t *od_registry_new(uint64_t offline_timeout_ms)
{
    od_registry_t *r = calloc(1, sizeof *r);
    if (!r)
        return NULL;
    pthread_mutex_init(&r->mu, NULL);
    r->offline_ms = offline_timeout_ms;
    return r;
}

static void node_free(struct node *n)
{
    free(n->id);
    json_object_put(n->info);
    json_object_put(n->last_hb);
    free(n);
}

void od_registry_clear(od_registry_t *r)
{
    pthread_mutex_lock(&r->mu);
    while (r->head) {
        struct node *n = r->head;
        r->head = n->next;
        node_free(n);
    }
    pthread_mutex_unlock(&r->mu);
}

void od_registry_free(od_registry_t *r)
{
    if (!r)
        return;
    od_registry_clear(r);
    pthread_mutex_destroy(&r->mu);
    free(r);
}

/* The link pointing at NODE_ID's node (or at the list's end). */
static struct node **find(od_registry_t *r, const char *id)
{
    struct node **p = &r->head;
    while (*p && strcmp((*p)->id, id) != 0)
        p = &(*p)->next;
    return p;
}

void od_registry_register(od_registry_t *r, json_object *req, uint64_t mono, uint64_t wall)
{
    const char *id = json_object_get_string(json_object_object_get(req, "node_id"));
    struct node **p, *n;
    pthread_mutex_lock(&r->mu);
    p = find(r, id);
    n = *p;
    if (!n) {
        n = calloc(1, sizeof *n);
        if (!n || !(n->id = strdup(id))) {
            free(n);
            pthread_mutex_unlock(&r->mu);
            json_object_put(req);
            return;
        }
        *p = n;
    }
    json_object_put(n->info);
    json_object_put(n->last_hb);
    n->info = req;
    n->last_hb = NULL;
    n->heartbeats = 0;
    n->registered_mono = n->last_hb_mono = mono;
    n->registered_wall = wall;
    n->last_hb_wall = 0;
    n->registrations++;
    pthread_mutex_unlock(&r->mu);
}

int od_registry_heartbeat(od_registry_t *r, const char *node_id, json_object *hb, uint64_t mono,
                          uint64_t wall)
{
    struct node *n;
    pthread_mutex_lock(&r->mu);
    n = *find(r, node_id);
    if (n) {
        json_object_put(n->last_hb);
        n->last_hb = hb;
        n->last_hb_mono = mono;
        n->last_hb_wall = wall;
        n->heartbeats++;
    }
    pthread_mutex_unlock(&r->mu);
    if (!n)
        json_object_put(hb);
    return n ? 0 : -1;
}

int od_registry_remove(od_registry_t *r, const char *node_id)
{
    struct node **p, *n;
    pthread_mutex_lock(&r->mu);
    p = find(r, node_id);
    n = *p;
    if (n)
        *p = n->next;
    pthread_mutex_unlock(&r->mu);
    if (n)
        node_free(n);
    return n ? 0 : -1;
}

const char *od_registry_status(uint64_t heartbeats, uint64_t last_seen_mono, uint64_t now_mono,
                               uint64_t offline_timeout_ms, int all_draining)
{
    if (now_mono > last_seen_mono && now_mono - last_seen_mono > offline_timeout_ms)
        return "Offline";
    if (heartbeats == 0)
        return "Registering";
    return all_draining ? "Draining" : "Online";
}

static int all_draining(json_object *pools)
{
    size_t n = json_object_array_length(pools);
    for (size_t i = 0; i < n; i++)
        if (!json_object_get_boolean(
                json_object_object_get(json_object_array_get_idx(pools, i), "draining")))
            return 0;
    return n > 0;
}

static json_object *copy_field(json_object *o, const char *key)
{
    json_object *v = NULL;
    json_object_deep_copy(json_object_object_get(o, key), &v, NULL);
    return v;
}

static json_object *node_info(const struct node *n, uint64_t now, uint64_t offline_ms)
{
    static const char *const KEYS[] = {"node_id", "machine_id",   "address",
                                       "pools",   "capabilities", "version"};
    json_object *o = json_object_new_object();
    json_object *pools = n->last_hb ? json_object_object_get(n->last_hb, "pools") : NULL;
    for (size_t i = 0; i < sizeof KEYS / sizeof KEYS[0]; i++)
        json_object_object_add(o, KEYS[i], copy_field(n->info, KEYS[i]));
    json_object_object_add(
        o, "status",
        json_object_new_string(od_registry_status(n->heartbeats, n->last_hb_mono, now, offline_ms,
                                                  pools && all_draining(pools))));
    json_object_object_add(o, "registered_at_ms", json_object_new_uint64(n->registered_wall));
    json_object_object_add(o, "last_heartbeat_ms",
                           n->heartbeats ? json_object_new_uint64(n->last_hb_wall) : NULL);
    json_object_object_add(o, "pool_status",
                           pools ? copy_field(n->last_hb, "pools") : json_object_new_array());
    json_object_object_add(o, "last_heartbeat_timestamp",
                           n->last_hb ? copy_field(n->last_hb, "timestamp") : NULL);
    json_object_object_add(o, "heartbeats", json_object_new_uint64(n->heartbeats));
    json_object_object_add(o, "registrations", json_object_new_uint64(n->registrations));
    return o;
}

json_object *od_registry_list(od_registry_t *r, uint64_t mono)
{
    json_object *out = json_object_new_object(), *nodes = json_object_new_array();
    size_t count = 0;
    pthread_mutex_lock(&r->mu);
    for (struct node *n = r->head; n; n = n->next, count++)
        json_object_array_add(nodes, node_info(n, mono, r->offline_ms));
    pthread_mutex_unlock(&r->mu);
    json_object_object_add(out, "nodes", nodes);
    json_object_object_add(out, "count", json_object_new_uint64(count));
    return out;
}
