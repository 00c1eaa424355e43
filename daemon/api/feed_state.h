/* feed_state.h - the rendered feeds kept across a restart: written to
 * feed_state_dir while running (feed_state_every) and at a clean stop,
 * read back at the next start, a crash's too, as the
 * bases their feeds' first renderings splice (api/feed_list.h), so that a
 * feed asked for just after a restart reads only what changed while the
 * daemon was away rather than its whole list and every text. A saved
 * rendering is never served as it is: like one that missed a change, its
 * feed is rendered again, from it. */
#ifndef LIAISON_FEED_STATE_H
#define LIAISON_FEED_STATE_H

#include <stdint.h>

/* What a saved rendering must have been made under to be read back: this
 * binary, its renderer and the database, as text without a newline
 * (malloc'd); NULL when it cannot be told (then nothing is saved or read).
 * db_identity names the database cluster, its timeline and the database
 * (a snapshot's transaction ids mean nothing in another). */
char *feed_state_stamp(const char *db_identity);
/* Reads back the renderings saved in dir under stamp as renderings of
 * generation (one before any this process makes), and removes their
 * files. Call before the threads start. */
void feed_state_restore(const char *dir, const char *stamp, unsigned generation);
/* Saves the renderings kept with their lists to dir under stamp. Call at
 * exit, once the threads are gone. */
void feed_state_save(const char *dir, const char *stamp);

/* While running, every every_ms, saves to dir the renderings made since
 * the last save (on a thread of its own, at a lower priority), so that a
 * start after a crash finds them too; and removes the files no start
 * could read back any more. NULL (nothing started) when dir or stamp is
 * unset or every_ms is 0. Stop it before feed_state_save. */
struct feed_saver *feed_state_saver_start(const char *dir, const char *stamp, int64_t every_ms);
void feed_state_saver_stop(struct feed_saver *fs);

#endif
