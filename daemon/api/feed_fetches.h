/* feed_fetches.h - the fetches of feeds one worker thread answered: which
 * feed (by token hash), which kind of client (from the User-Agent), what
 * answer, how many bytes. Recording one costs a feed's answer a lookup in a
 * small table of the thread's own; about once a second the table goes to
 * the database in one statement sent without waiting (sql/014:
 * feed_fetches, feed_fetch_counts), so no fetch waits on a write. What a
 * stop or a crash catches in memory (a second's worth) is lost, and so is
 * what arrives while the table is full (counted in
 * liaison_feed_fetches_unrecorded_total). Only its thread touches a log. */
#ifndef LIAISON_FEED_FETCHES_H
#define LIAISON_FEED_FETCHES_H

#include "macros.h"

#include <stddef.h>

struct dbpool;
struct event_base;
struct fetchlog;

enum fetch_client {
	FC_GOOGLE,
	FC_MICROSOFT,
	FC_APPLE,
	FC_THUNDERBIRD,
	FC_ICSX5,
	FC_OTHER,
	FC_COUNT
};
/* "google", "microsoft", "apple", "thunderbird", "icsx5", "other". */
extern const char *const fetch_client_names[FC_COUNT];
/* The kind of client a User-Agent names (NULL: other). */
enum fetch_client fetch_client_of(const char *user_agent);

struct fetchlog *fetchlog_new(struct event_base *base, struct dbpool *db) WUR;
/* A fetch of the feed of token hash `hash` answered status with bytes of
 * body; l may be NULL (nothing is recorded). */
void fetchlog_record(struct fetchlog *l, const char *hash, int status, size_t bytes,
                     const char *user_agent);
void fetchlog_free(struct fetchlog *l);

#endif
