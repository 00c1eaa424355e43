/* log.h - leveled, line-oriented logging to stderr or a file. */
#ifndef LIAISON_LOG_H
#define LIAISON_LOG_H

#include "macros.h"

#include <stddef.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

int log_level_parse(const char *s, enum log_level *out) WUR;
void log_set_level(enum log_level level);
/* Sends logs to path (NULL or "" for stderr); reopened on SIGHUP. */
int log_open(const char *path) WUR;
void log_msg(enum log_level level, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Whether a line of that level is written: to spare making one that is not. */
int log_enabled(enum log_level level);
/* A client's string made safe for a quoted log field: at most max bytes of
 * s, with '"' and '\\' escaped by a backslash and control characters and
 * bytes of 0x7f and above as \xHH, so that it can neither end its field
 * nor forge another. out is always terminated (4 * max + 1 bytes suffice). */
void log_escape(const char *s, size_t max, char *out, size_t outlen);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
