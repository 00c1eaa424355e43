/* values.h - the text forms settings take: durations, rates, host:port. */
#ifndef LIAISON_VALUES_H
#define LIAISON_VALUES_H

#include "macros.h"

#include <stddef.h>
#include <stdint.h>

/* "15s", "5m", "250ms", "5d": an integer and a unit, into milliseconds. */
int duration_parse(const char *s, int64_t *ms) WUR;
/* "5s,5m,30m": at most max entries. */
int duration_list_parse(const char *s, int64_t *out, size_t max, size_t *n) WUR;
/* "50/s", "600/m", "0": requests per second. */
int rate_parse(const char *s, double *per_sec) WUR;
/* "127.0.0.1:8080", "[::1]:8080", ":8080": host (may be empty) and port. */
int hostport_parse(const char *s, char *host, size_t hostlen, int *port) WUR;

#endif
