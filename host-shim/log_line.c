/*
 * log_line.c - timestamped (or journald-prefixed), sanitised, level-filtered
 * stderr lines for pmd-host-shim (see log_line.h). Plugin text is untrusted: it must not be able to
 * split a line, forge a timestamp on a line of its own, or send terminal escapes.
 */
#include "log_line.h"

#include "txt.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/stat.h>

/* Lines that could not be written; read by the metrics (any thread). */
static _Atomic uint64_t write_failures;
/* Set once at start, before any thread; atomic because any thread reads. */
static _Atomic int32_t max_level = LOG_LEVEL_DEBUG;
static _Atomic int journal_mode;

/* txt_utf8_seq_len for a NUL-terminated string: the NUL ends any sequence
 * early (it is no continuation byte), so reading past it is never needed. */
size_t shim_utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80)
        return 1;
    return txt_utf8_seq_len(s, strnlen((const char *)s, 4));
}

/* Length of a valid multi-byte UTF-8 sequence at s that is not a C1
 * control (U+0080..U+009F, encoded as C2 80..C2 9F), 0 otherwise. */
static size_t utf8_printable_len(const unsigned char *s)
{
    size_t len = shim_utf8_len(s);
    if (len == 2 && s[0] == 0xc2 && s[1] <= 0x9f)
        return 0;
    return len;
}

/* The text one input character becomes: itself, or an escape in buf. */
static size_t render_one(const unsigned char *s, char *buf, const char **piece)
{
    size_t n;
    if (s[0] >= 0x20 && s[0] < 0x7f) {
        *piece = (const char *)s;
        return 1;
    }
    if (s[0] >= 0x80 && (n = utf8_printable_len(s)) != 0) {
        *piece = (const char *)s;
        return n;
    }
    *piece = buf;
    if (s[0] == '\n')
        return (size_t)snprintf(buf, 8, "\\n");
    if (s[0] == '\r')
        return (size_t)snprintf(buf, 8, "\\r");
    if (s[0] == '\t')
        return (size_t)snprintf(buf, 8, "\\t");
    return (size_t)snprintf(buf, 8, "\\x%02x", s[0]);
}

size_t log_line_sanitize(char *out, size_t out_size, const char *message)
{
    const unsigned char *s = (const unsigned char *)(message ? message : "(null)");
    size_t len = 0, safe = 0; /* safe: a character boundary with room for "..." */
    if (out_size < 4) {
        if (out_size > 0)
            out[0] = '\0';
        return 0;
    }
    while (*s != '\0') {
        char buf[8];
        const char *piece;
        size_t n = render_one(s, buf, &piece);
        if (len + n > out_size - 1) {
            memcpy(out + safe, "...", 4);
            return safe + 3;
        }
        memcpy(out + len, piece, n);
        len += n;
        s += piece == buf ? 1 : n;
        if (len + 3 <= out_size - 1)
            safe = len;
    }
    out[len] = '\0';
    return len;
}

void log_line_timestamp(char *out, size_t out_size, const struct timespec *wall)
{
    struct tm tm;
    char date[32];
    time_t secs = wall->tv_sec;
    gmtime_r(&secs, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, out_size, "%.20s.%03dZ", date, (int)((wall->tv_nsec / 1000000) % 1000));
}

size_t log_line_format(char *out, size_t out_size, const struct timespec *wall, const char *tag,
                       const char *message)
{
    char stamp[40];
    log_line_timestamp(stamp, sizeof(stamp), wall);
    int head = snprintf(out, out_size, "%s %-5.8s ", stamp, tag ? tag : "");
    if (head < 0 || (size_t)head + 2 >= out_size) {
        out[0] = '\0';
        return 0;
    }
    size_t len = (size_t)head;
    len += log_line_sanitize(out + len, out_size - len - 1, message);
    out[len++] = '\n';
    out[len] = '\0';
    return len;
}

const char *log_line_level_tag(int32_t level)
{
    switch (level) {
    case 1: return "ERROR";
    case 2: return "WARN";
    case 3: return "INFO";
    case 4: return "DEBUG";
    default: return "LOG?";
    }
}

/* Not empty, and no space, quote, '=', backslash or control character. */
static int is_bare_word(const char *v)
{
    if (*v == '\0')
        return 0;
    for (const unsigned char *p = (const unsigned char *)v; *p != '\0'; p++)
        if (*p <= 0x20 || *p == 0x7f || *p == '"' || *p == '=' || *p == '\\')
            return 0;
    return 1;
}

const char *log_line_quote(char *out, size_t out_size, const char *value)
{
    const char *v = value ? value : "";
    size_t len = 0;
    if (out_size < 3) {
        if (out_size > 0)
            out[0] = '\0';
        return out;
    }
    if (is_bare_word(v)) {
        snprintf(out, out_size, "%s", v);
        return out;
    }
    out[len++] = '"';
    for (; *v != '\0'; v++) {
        size_t n = (*v == '"' || *v == '\\') ? 2 : 1;
        if (len + n + 2 > out_size) /* room for the closing quote and NUL */
            break;
        if (n == 2)
            out[len++] = '\\';
        out[len++] = *v;
    }
    out[len++] = '"';
    out[len] = '\0';
    return out;
}

/* The level a tag stands for: ERROR 1 .. DEBUG 4; STATUS 0 (never
 * filtered: --status-every governs it); an unknown tag counts as WARN. */
static int32_t tag_level(const char *tag)
{
    static const char *const names[] = {"STATUS", "ERROR", "WARN", "INFO", "DEBUG"};
    for (int32_t i = 0; i < 5; i++)
        if (tag != NULL && strcmp(tag, names[i]) == 0)
            return i;
    return LOG_LEVEL_WARN;
}

int log_line_syslog_priority(const char *tag)
{
    static const int priority[] = {6, 3, 4, 6, 7}; /* STATUS ERROR WARN INFO DEBUG */
    int32_t level = tag_level(tag);
    if (level == LOG_LEVEL_WARN && (tag == NULL || strcmp(tag, "WARN") != 0))
        return 5; /* notice: a level the shim does not know */
    return priority[level];
}

size_t log_line_format_journal(char *out, size_t out_size, const char *tag, const char *message)
{
    int head =
        snprintf(out, out_size, "<%d>%-5.8s ", log_line_syslog_priority(tag), tag ? tag : "");
    if (head < 0 || (size_t)head + 2 >= out_size) {
        out[0] = '\0';
        return 0;
    }
    size_t len = (size_t)head;
    len += log_line_sanitize(out + len, out_size - len - 1, message);
    out[len++] = '\n';
    out[len] = '\0';
    return len;
}

int log_line_parse_level(const char *name)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (name != NULL && strcmp(name, names[i]) == 0)
            return i + 1;
    return -1;
}

void log_line_set_max_level(int32_t level)
{
    atomic_store(&max_level, level);
}

int log_line_enabled(const char *tag)
{
    return tag_level(tag) <= atomic_load_explicit(&max_level, memory_order_relaxed);
}

int log_line_is_journal(const char *journal_stream, int fd)
{
    unsigned long long dev, ino;
    char end;
    struct stat st;
    if (journal_stream == NULL || sscanf(journal_stream, "%llu:%llu%c", &dev, &ino, &end) != 2 ||
        fstat(fd, &st) != 0)
        return 0;
    return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void log_line_set_journal(int on)
{
    atomic_store(&journal_mode, on != 0);
}

void log_line_emit(FILE *stream, const char *tag, const char *message)
{
    char line[LOG_LINE_MAX];
    struct timespec now;
    size_t len;
    if (!log_line_enabled(tag))
        return;
    int saved_errno = errno; /* a failed write must not change the caller's errno */
    if (atomic_load_explicit(&journal_mode, memory_order_relaxed)) {
        len = log_line_format_journal(line, sizeof(line), tag, message);
    } else {
        clock_gettime(CLOCK_REALTIME, &now);
        len = log_line_format(line, sizeof(line), &now, tag, message);
    }
    int failed = fwrite(line, 1, len, stream) != len;
    failed |= fflush(stream) != 0;
    if (failed) {
        clearerr(stream);
        atomic_fetch_add_explicit(&write_failures, 1, memory_order_relaxed);
    }
    errno = saved_errno;
}

uint64_t log_line_write_failures(void)
{
    return atomic_load_explicit(&write_failures, memory_order_relaxed);
}

void log_line_emitf(FILE *stream, const char *tag, const char *fmt, ...)
{
    char message[LOG_LINE_MAX];
    va_list ap;
    if (!log_line_enabled(tag))
        return;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    log_line_emit(stream, tag, message);
}
