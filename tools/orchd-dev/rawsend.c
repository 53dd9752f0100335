/* rawsend.c - the raw socket answers of rawsend.h.
 *
 * With one thread per connection, the handler owns the socket while it runs,
 * so writing to it here does not race MHD; MHD only closes it afterwards. */
#include "rawsend.h"

#include "stop.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 204: return "No Content";
    case 404: return "Not Found";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    default: return "Status";
    }
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int send_tiny(int fd, const char *p, size_t n)
{
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    for (size_t i = 0; i < n; i++) {
        if (send_all(fd, p + i, 1) != 0)
            return -1;
        if (i + 1 < n && od_stop_sleep_ms(1))
            return -1;
    }
    return 0;
}

int od_raw_send(int fd, const od_raw_answer_t *a, int tiny)
{
    char head[512], retry[48] = "";
    size_t len = a->body ? a->len : 0;
    char *all;
    int n, rc;
    if (a->retry_after >= 0)
        snprintf(retry, sizeof retry, "Retry-After: %lld\r\n", (long long)a->retry_after);
    n = snprintf(head, sizeof head,
                 "HTTP/1.1 %d %s\r\n%sContent-Length: %zu\r\nX-Correlation-Id: %s\r\n%s"
                 "Connection: close\r\n\r\n",
                 a->status, reason(a->status),
                 a->is_json ? "Content-Type: application/json\r\n" : "", len,
                 a->correlation_id ? a->correlation_id : "-", retry);
    if (n < 0 || (size_t)n >= sizeof head || !(all = malloc((size_t)n + len + 1)))
        return -1;
    memcpy(all, head, (size_t)n);
    if (len)
        memcpy(all + n, a->body, len);
    rc = tiny ? send_tiny(fd, all, (size_t)n + len) : send_all(fd, all, (size_t)n + len);
    free(all);
    return rc;
}

/* MHD shuts the socket down (FIN) before it closes it, so waiting for its
 * close would not reset anything: connect() to AF_UNSPEC disconnects a TCP
 * socket at once, and with SO_LINGER 0 Linux does that with an RST. */
int od_raw_reset(int fd)
{
    struct linger lg = {1, 0};
    struct sockaddr sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_family = AF_UNSPEC;
    if (setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg) != 0)
        return -1;
    return connect(fd, &sa, sizeof sa);
}
