/* readfloor.h - when a streaming standby may answer a read: the WAL
 * position it must have replayed (the floor), for one instance.
 *
 * The floor is the primary's WAL insert position read after the changes
 * this instance knows of, and after every read it served from the primary
 * (dbpool reads it behind each such read, in the same transaction), or
 * the standby's replay position after a read it answered, whichever is
 * furthest. A
 * read goes to the standby, behind a guard on that position, only when:
 *  - the floor covers every change the instance was told of
 *    (readfloor_changed: its own writes, NOTIFY from other writers);
 *  - the floor was read less than READFLOOR_MAX_AGE_MS before the read
 *    (a change nobody told this instance of, another instance's write to
 *    a table without NOTIFY, shows within that); readfloor_refresh, every
 *    READFLOOR_REFRESH_MS, keeps it younger than that, so that reads
 *    need not go to the primary for it;
 *  - the standby was not found behind a moment ago (a hold of 10 ms,
 *    doubling while it stays behind, up to a second, so that a lagging
 *    standby costs a failed guard now and then, not one per read).
 * Otherwise it goes to the primary, whose answer then raises the floor.
 * So no read an instance serves shows an older state than one it served
 * before, than a write it acknowledged, than a change it was told of, or
 * than the primary's a second ago.
 *
 * All of it is atomic: workers route and sample at once, the main thread
 * marks changes. */
#ifndef LIAISON_READFLOOR_H
#define LIAISON_READFLOOR_H

#include "dbpool.h"
#include "macros.h"

#include <stdint.h>

#define READFLOOR_MAX_AGE_MS  1000
#define READFLOOR_REFRESH_MS  250
#define READFLOOR_HOLD_MIN_MS 10
#define READFLOOR_HOLD_MAX_MS 1000

struct readfloor;

struct readfloor *readfloor_new(void) WUR;
void readfloor_free(struct readfloor *f);

/* A change this instance knows of committed: the next reads go to the
 * primary until the floor is read again after it. Safe from any thread;
 * f may be NULL (no standby). */
void readfloor_changed(struct readfloor *f);

/* Reads the floor again on the primary's pool (one reading at a time;
 * nothing when one is under way). From the loop that owns pool. */
void readfloor_refresh(struct readfloor *f, struct dbpool *pool);

/* The policy a standby's pool follows (dbpool_options.floor). */
const struct dbpool_floor *readfloor_policy(struct readfloor *f);

/* What the policy does, at a given monotonic time (tests give their own):
 * route says whether a read submitted now may go to the standby (1, the
 * floor into lsn) or not (0); either way *token is handed to sampled with
 * the primary's position read behind the read, and when it was submitted;
 * seen gives the position a standby had replayed after answering one (the
 * floor rises to it: what a read showed, the next shows too, whichever
 * standby answers it); behind says the standby's guard stopped a read. */
int readfloor_route(struct readfloor *f, int64_t now_us, char *lsn, size_t len, uint64_t *token);
void readfloor_sampled(struct readfloor *f, const char *lsn, uint64_t token, int64_t submitted_us);
void readfloor_seen(struct readfloor *f, const char *lsn);
void readfloor_behind(struct readfloor *f, int64_t now_us);

/* The floor (0: never read), and the position's text form both ways
 * ("16/B374D848"; -1 when malformed). */
uint64_t readfloor_lsn(const struct readfloor *f);
int readfloor_parse_lsn(const char *s, uint64_t *out);
void readfloor_format_lsn(uint64_t lsn, char *buf, size_t len);

#endif
