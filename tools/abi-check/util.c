/*
 * util.c - facts about the checker's own process (threads, descriptors,
 * resident memory), clocks, guard pages, and the loopback control-plane
 * stand-ins the network-facing checks point a plugin at.
 */
#include "abi_check.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

uint64_t ac_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void ac_sleep_us(uint64_t us)
{
    struct timespec ts = {(time_t)(us / 1000000), (long)(us % 1000000) * 1000};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Entries of a /proc directory, "." and ".." and skip_fd aside. */
static int count_dir(const char *path)
{
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    int n = 0, self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (atoi(e->d_name) == self && strcmp(path, "/proc/self/fd") == 0)
            continue;
        n++;
    }
    closedir(d);
    return n;
}

int ac_count_threads(void)
{
    return count_dir("/proc/self/task");
}

int ac_count_fds(void)
{
    return count_dir("/proc/self/fd");
}

void ac_list_fds(char *buf, size_t size, const int *skip_fds, int nskip)
{
    buf[0] = '\0';
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return;
    int self = dirfd(d);
    size_t used = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        int fd = atoi(e->d_name), skip = fd == self;
        for (int i = 0; i < nskip; i++)
            skip |= fd == skip_fds[i];
        if (skip)
            continue;
        char link[64], target[256];
        snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
        ssize_t n = readlink(link, target, sizeof(target) - 1);
        target[n > 0 ? n : 0] = '\0';
        if (used < size)
            used +=
                (size_t)snprintf(buf + used, size - used, "%s%d->%s", used ? ", " : "", fd, target);
    }
    closedir(d);
}

long ac_rss_kib(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (f == NULL)
        return -1;
    long size = 0, resident = 0;
    int ok = fscanf(f, "%ld %ld", &size, &resident) == 2;
    fclose(f);
    return ok ? resident * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}

int ac_memory_bounds_apply(const ac_ctx_t *ctx)
{
#if defined(__SANITIZE_ADDRESS__)
    (void)ctx;
    return 0; /* the quarantine holds freed memory: RSS grows by design */
#else
    return !ctx->valgrind_safe;
#endif
}

int ac_guard_map(ac_guard_t *g)
{
    g->page = (size_t)sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, 2 * g->page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        g->base = NULL;
        return -1;
    }
    g->base = p;
    if (mprotect(g->base + g->page, g->page, PROT_NONE) != 0) {
        ac_guard_unmap(g);
        return -1;
    }
    return 0;
}

void *ac_guard_tail(ac_guard_t *g, size_t n)
{
    if (g->base == NULL || n > g->page)
        return NULL;
    mprotect(g->base, g->page, PROT_READ | PROT_WRITE);
    return g->base + g->page - n;
}

void ac_guard_seal(ac_guard_t *g)
{
    if (g->base != NULL)
        mprotect(g->base, g->page, PROT_NONE);
}

pmd_host_t *ac_guard_host(ac_guard_t *g, const pmd_host_t *full, uint32_t size, uint32_t minor)
{
    unsigned char *h = ac_guard_tail(g, size);
    memset(h, 0xA5, size);
    memcpy(h, full, size < sizeof(*full) ? size : sizeof(*full));
    pmd_host_t *host = (pmd_host_t *)h;
    host->struct_size = size;
    host->abi_minor = minor;
    return host;
}

void ac_guard_unmap(ac_guard_t *g)
{
    if (g->base != NULL)
        munmap(g->base, 2 * g->page);
    g->base = NULL;
}

/* A TCP socket bound to 127.0.0.1 on a free port; fd, port in *port. */
static int bind_loopback(int *port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a;
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(a);
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(a.sin_port);
    return fd;
}

int ac_url_closed_port(char *url, size_t size)
{
    int port = 0, fd = bind_loopback(&port);
    if (fd < 0)
        return -1;
    close(fd);
    snprintf(url, size, "http://127.0.0.1:%d", port);
    return 0;
}

int ac_blackhole_open(char *url, size_t size)
{
    int port = 0, fd = bind_loopback(&port);
    if (fd < 0)
        return -1;
    if (listen(fd, 128) != 0) {
        close(fd);
        return -1;
    }
    snprintf(url, size, "http://127.0.0.1:%d", port);
    return fd;
}

void ac_fd_list_take(ac_fd_list_t *l)
{
    l->n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return;
    int self = dirfd(d);
    struct dirent *e;
    while ((e = readdir(d)) != NULL && l->n < AC_MAX_FDS)
        if (e->d_name[0] != '.' && atoi(e->d_name) != self)
            l->fd[l->n++] = atoi(e->d_name);
    closedir(d);
}

int ac_fd_list_has(const ac_fd_list_t *l, int fd)
{
    for (int i = 0; i < l->n; i++)
        if (l->fd[i] == fd)
            return 1;
    return 0;
}

void ac_fd_target(int fd, char *out, size_t size)
{
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t k = size > 0 ? readlink(link, out, size - 1) : -1;
    if (size > 0)
        out[k > 0 ? k : 0] = '\0';
}

int ac_capture_fd(int fd, int *mem)
{
    *mem = memfd_create("pmd-abi-check-capture", MFD_CLOEXEC);
    int saved = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (*mem < 0 || saved < 0 || dup2(*mem, fd) < 0) {
        if (*mem >= 0)
            close(*mem);
        if (saved >= 0)
            close(saved);
        return -1;
    }
    return saved;
}

void ac_release_fd(int fd, int saved, int mem, const char *name, ac_result_t *r)
{
    dup2(saved, fd);
    close(saved);
    struct stat st;
    if (fstat(mem, &st) == 0 && st.st_size > 0) {
        char head[81] = "";
        ssize_t k = pread(mem, head, sizeof(head) - 1, 0);
        head[k > 0 ? k : 0] = '\0';
        for (char *c = head; *c; c++)
            if (*c == '\n' || *c == '\r')
                *c = ' ';
        ac_fail(r, "the plugin wrote %lld byte(s) to %s: \"%s\"", (long long)st.st_size, name,
                head);
    }
    close(mem);
}
