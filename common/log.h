/* log.h - leveled, line-oriented logging to stderr or a file. */
#ifndef LIAISON_LOG_H
#define LIAISON_LOG_H

#include "compat.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

int log_level_parse(const char *s, enum log_level *out) WUR;
void log_set_level(enum log_level level);
/* Sends logs to path (NULL or "" for stderr); reopened on SIGHUP. */
int log_open(const char *path) WUR;
void log_msg(enum log_level level, const char *fmt, ...) PRINTF_LIKE(2, 3);

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
