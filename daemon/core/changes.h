/* changes.h - the data generation and what each step of it could reach.
 * Every change to what feeds show bumps one generation (server.c on
 * NOTIFY liaison_changes, http.c after this instance's own writes); a
 * rendered feed is current while no change since its generation could
 * reach it. An events change heard by NOTIFY says whose feeds it can
 * reach (sql/020): the orgs that own the rows before and after, and the
 * partners named; a network event, or any other change, reaches every
 * feed. The last CHANGES_KEPT steps are kept; an older one counts as
 * reaching everything. */
#ifndef LIAISON_CHANGES_H
#define LIAISON_CHANGES_H

#include "macros.h"

/* Bumps *generation for a change that reaches the orgs named in reach (org
 * ids and slugs, comma-separated, as sql/020's payload gives them after
 * "events:"), or every feed when reach is NULL. Returns the new
 * generation. Safe from any thread. */
unsigned changes_bump(_Atomic unsigned *generation, const char *reach);

/* Whether a change after generation `from`, up to `to`, may reach the
 * feeds of the org with id `org` and slug `slug`: 1 (also when a step is
 * no longer known) or 0. Safe from any thread. */
int changes_reach(unsigned from, unsigned to, const char *org, const char *slug) WUR;

/* Whether the comma-separated list (a reach, a row's partners) names word
 * (never an empty one). */
int changes_names(const char *list, const char *word);

#endif
