/*
 * log_line.h - how pmd-host-shim writes one line of its stderr: an RFC 3339
 * UTC timestamp with milliseconds, a five-column tag, and the message with
 * every control character escaped, so that one plugin call is one line.
 * Pure formatting plus one thin "emit" that writes the line in one call.
 */
#ifndef SHIM_LOG_LINE_H
#define SHIM_LOG_LINE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

/* Longest line the shim writes, newline included; longer messages are cut
 * on a character boundary and end in "...". */
#define LOG_LINE_MAX 4096

/*
 * Copies message into out (NUL-terminated, at most out_size - 1 bytes) with
 * newline, CR and tab written as \n \r \t, every other ASCII or C1 control
 * character and every byte that is not part of valid UTF-8 as \xHH. Cuts on
 * a character boundary and appends "..." when the result does not fit.
 * NULL reads as "(null)". Returns the length written.
 */
size_t log_line_sanitize(char *out, size_t out_size, const char *message);

/* "2026-11-27T07:00:00.123Z" from a CLOCK_REALTIME time; out needs 25 bytes. */
void log_line_timestamp(char *out, size_t out_size, const struct timespec *wall);

/*
 * One full line: "<timestamp> <tag padded to 5> <sanitised message>\n"
 * (a tag is cut at 8 characters: "STATUS" is the one longer than 5).
 * Returns the length written (always < out_size, out_size >= 64).
 */
size_t log_line_format(char *out, size_t out_size, const struct timespec *wall, const char *tag,
                       const char *message);

/* Tag for a pmd_log_level: "ERROR", "WARN", "INFO", "DEBUG"; "LOG?" otherwise. */
const char *log_line_level_tag(int32_t level);

/* Levels as pmd_log_level numbers them; --log-level picks the highest
 * one written. */
#define LOG_LEVEL_ERROR 1
#define LOG_LEVEL_WARN 2
#define LOG_LEVEL_INFO 3
#define LOG_LEVEL_DEBUG 4

/* "error", "warn", "info", "debug" -> 1..4; -1 for anything else. */
int log_line_parse_level(const char *name);

/* From now on, lines above level are dropped (the default writes every
 * level). A STATUS line is never dropped; an unknown tag counts as WARN.
 * Call before threads start. */
void log_line_set_max_level(int32_t level);

/* 1 when a line with this tag would be written now. Any thread. */
int log_line_enabled(const char *tag);

/*
 * journald: systemd sets JOURNAL_STREAM to "<dev>:<ino>" of the stream it
 * connected to stdout/stderr. 1 when journal_stream (that variable, may be
 * NULL) names the file open on fd, else 0: a stderr redirected elsewhere by
 * the unit or a shell keeps the timestamped format.
 */
int log_line_is_journal(const char *journal_stream, int fd);

/* From now on, write lines in the journal format below. Call before
 * threads start. */
void log_line_set_journal(int on);

/* syslog priority of a tag: ERROR 3, WARN 4, INFO 6, DEBUG 7, STATUS 6,
 * any other 5 (notice). */
int log_line_syslog_priority(const char *tag);

/* One line for journald, which stamps its own time: "<N><tag padded to 5>
 * <sanitised message>\n", e.g. "<4>WARN  plugin=...". Returns the length. */
size_t log_line_format_journal(char *out, size_t out_size, const char *tag, const char *message);

/* Drops the line when its level is off; formats it with the current
 * CLOCK_REALTIME (or for the journal) and writes it with one fwrite (stdio locks the stream, so
 * lines from threads do not mix). A write that fails (stderr a closed pipe, a closed descriptor, a
 * hung-up terminal) is dropped and counted, and the stream's error flag cleared: losing the log
 * never stops the caller. Any thread. */
void log_line_emit(FILE *stream, const char *tag, const char *message);

/* Lines log_line_emit could not write, since the process started. Any thread. */
uint64_t log_line_write_failures(void);

/*
 * The shape of an event line's message: "plugin=<source> [node=<id>]
 * event=<name> key=value ...". The shim's own lines use source
 * LOG_SELF; values with spaces or quotes go through log_line_quote.
 */
#define LOG_SELF "plugin=pmd-host-shim"

/* value as the value of a key=value pair: as it is when it is a bare word
 * (not empty; no space, '"', '=', backslash or control character), else in
 * double quotes with backslash and '"' escaped; cut to fit out. Other
 * control characters are left for log_line_sanitize. Returns out. */
const char *log_line_quote(char *out, size_t out_size, const char *value);

/* printf-style log_line_emit for the shim's own lines. */
void log_line_emitf(FILE *stream, const char *tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Length of the valid UTF-8 sequence at NUL-terminated s (1 for ASCII and
 * for the NUL), 0 when it is not one (strict: text/txt.h decides). Shared by
 * the log line and metrics label sanitisers. */
size_t shim_utf8_len(const unsigned char *s);

#endif /* SHIM_LOG_LINE_H */
