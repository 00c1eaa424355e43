/* instants.h - the instants of wall times that the daemon hands to the
 * triggers that write rows of their own (sql/029's overrides that follow
 * their series, sql/030's protocol deadlines), so that they convert as
 * common/tz.c does: the transaction's setting liaison.instants, a JSON
 * object {"<zone> <YYYY-MM-DDTHH:MM:SS>": epoch} that
 * liaison_local_instant reads. */
#ifndef LIAISON_INSTANTS_H
#define LIAISON_INSTANTS_H

#include "macros.h"
#include "tz.h"

#include <jansson.h>

/* clang-format off */
/* A condition that puts the hints (text parameter p, or NULL for none)
 * in liaison.instants for the rest of the transaction: true either way.
 * It belongs in the WHERE of the statement's first write, so that every
 * trigger of the statement reads it. */
#define INSTANTS_SET(p) \
	"(" p "::text IS NULL OR set_config('liaison.instants', " p "::text, true) IS NOT NULL)"
/* clang-format on */

/* hints[zone + wall time w] = its instant; nothing for a zone tz.c does
 * not know. 0, or -1 when out of memory. */
int instants_put(json_t *hints, const char *zone, const struct civil *w) WUR;

/* The hints of the midnights of days (a JSON text array of dates,
 * YYYY-MM-DD) and of the days after them, in zone: the start and end of
 * an all-day event on each. A JSON text to free; NULL when out of
 * memory. */
char *instants_of_days(const char *zone, const char *days);

#endif
