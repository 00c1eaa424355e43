/* occurrences.h - GET /v1/occurrences: recurrences expanded in a window;
 * and the same expansion for other callers (free/busy feeds). */
#ifndef LIAISON_OCCURRENCES_H
#define LIAISON_OCCURRENCES_H

#include <libpq-fe.h>
#include <stdint.h>

struct req;

void occurrences_list(struct req *r);

/* The occurrences of rows res (OCC_COLUMNS of api/occurrences_sql.h, maybe
 * more after them: series and their overrides) that overlap [from, to),
 * as /v1/occurrences gives them: recurrences expanded in each event's zone,
 * exdates removed, rdates added, an override in place of the occurrence
 * it replaces (a cancelled one too: its row says so). The work is cut into
 * slices between which the loop of base turns, as /v1/occurrences does.
 * Then each() is called for each occurrence with the row that describes
 * it and its instants; cut() for each series whose expansion ran out of
 * its budget (its occurrences in the window are not all known); and
 * done() last, with 0, or -1 when there are more occurrences than one
 * request may have, or memory ran out. All the expansions together have
 * the budget of one request. res must live until done() is called, which
 * is never before occurrences_expand returns. 0, or -1 (out of memory,
 * nothing will be called). */
typedef void (*occ_each_fn)(const PGresult *res, int row, int64_t start_utc, int64_t end_utc,
                            void *arg);
typedef void (*occ_cut_fn)(const PGresult *res, int row, void *arg);
typedef void (*occ_done_fn)(int rc, void *arg);
struct event_base;
int occurrences_expand(struct event_base *base, const PGresult *res, int64_t from, int64_t to,
                       occ_each_fn each, occ_cut_fn cut, occ_done_fn done, void *arg);

#endif
