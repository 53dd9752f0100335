/* tls.h - HTTPS material for MHD and the mTLS client-certificate check. */
#ifndef OD_TLS_H
#define OD_TLS_H

#include <microhttpd.h>
#include <stddef.h>

/* Read a whole (PEM) file into a NUL-terminated buffer. NULL on error. */
char *od_tls_read_pem(const char *path);

/* 1 when the connection presented a client certificate that verifies
 * against the --tls-client-ca trust set (MHD loaded it with
 * MHD_OPTION_HTTPS_MEM_TRUST and asked the client for a certificate, but
 * does not itself refuse a connection without one). */
int od_tls_client_cert_ok(struct MHD_Connection *c);

#endif
