/* tls.c - PEM loading and client-certificate verification (GnuTLS, the
 * library MHD was built with). */
#include "tls.h"

#include <gnutls/gnutls.h>
#include <stdio.h>
#include <stdlib.h>

char *od_tls_read_pem(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    long n;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && n < 1024 * 1024 &&
        fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) != NULL) {
        if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
            free(buf);
            buf = NULL;
        } else {
            buf[n] = '\0';
        }
    }
    fclose(f);
    return buf;
}

int od_tls_client_cert_ok(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_GNUTLS_SESSION);
    gnutls_session_t session;
    unsigned int n = 0, status = 0;
    if (!ci || !ci->tls_session)
        return 0;
    session = (gnutls_session_t)ci->tls_session;
    if (!gnutls_certificate_get_peers(session, &n) || n == 0)
        return 0;
    return gnutls_certificate_verify_peers2(session, &status) == 0 && status == 0;
}
