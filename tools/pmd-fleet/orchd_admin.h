/* orchd_admin.h - the few calls pmd-fleet makes to orchd-dev's /_dev/ API
 * (never to the node API): is it orchd-dev, forget every node, drop every
 * request, clear the faults, read the request journal. Plain HTTP on the
 * URL given; every call is bounded (2 s, 5 s for the journal). */
#ifndef PF_ORCHD_ADMIN_H
#define PF_ORCHD_ADMIN_H

/* 1 when GET base/_dev/stats answers 200 with JSON, else 0. */
int pf_orchd_detect(const char *base);

/* POST /_dev/restart. 0, or -1. */
int pf_orchd_restart(const char *base);

/* POST /_dev/fault {"match":"any","drop":true}. 0, or -1. */
int pf_orchd_drop_all(const char *base);

/* DELETE /_dev/fault. 0, or -1. */
int pf_orchd_clear_faults(const char *base);

/* GET /_dev/requests: the body (caller frees), NULL on failure. */
char *pf_orchd_requests(const char *base);

#endif
