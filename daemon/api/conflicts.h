/* conflicts.h - the conflicts of an answer settled by occurrences. The
 * statement that answers (api/events_sql.h, EV_CONFLICTS) finds candidates
 * by their spans, with the GiST index; a series' span also covers the days
 * between its occurrences, so a candidate where either side is a series
 * comes marked with what expanding it takes, and is kept here only when
 * an occurrence of it meets one of the item's: the rule, rdates and
 * exdates as /v1/occurrences expands them (common/recur.h), less the
 * occurrences its overrides stand in for (a live one is a candidate of its
 * own; a cancelled or moved one frees its time). */
#ifndef LIAISON_CONFLICTS_H
#define LIAISON_CONFLICTS_H

#include "macros.h"
#include "recur.h"

#include <jansson.h>

/* Conflicts an answer names at most. */
#define CONFLICTS_MAX 50
/* Two series without end are compared over this much of their common
 * span: their rules repeat well within it, and it bounds the work. */
#define CONFLICTS_HORIZON ((int64_t)5 * 366 * 86400)

/* Settles one "conflicts" list in place (candidates in answer order, e's
 * own "_self" last when some are marked "_occ"), within budget b: what
 * cannot be decided within it is kept, a possible clash being named
 * rather than hidden. Leaves CONFLICTS_MAX at most, of the answer's
 * shape. 0, or -1 when out of memory. */
int conflicts_settle_list(json_t *list, struct recur_budget *b) WUR;

/* Settles the conflicts of an answer's text: an event's "conflicts", or
 * those of each item of a visit's "programme". *out is NULL when text is
 * the answer as it stands (nothing was marked), else the new text, to
 * free. 0, or -1 when out of memory or text is not JSON. */
int conflicts_settle(const char *text, char **out) WUR;

#endif
