/* feed_rows_sql.h - how a feed (api/feed_serve.c) reads its events when
 * the VEVENT cache holds their texts: the rows of f (feed_select.h), but
 * ordered by the statement rather than numbered, with f itself left
 * unreferenced (PostgreSQL then never evaluates it). f materialises m once
 * more, sorts it again and numbers it by a window: as much work again as
 * selecting m, once per rendering, and a rendering follows every write
 * under a mixed load. Same rows, same order; the position is the row's. */
#ifndef LIAISON_FEED_ROWS_SQL_H
#define LIAISON_FEED_ROWS_SQL_H

#include "api/feeds_sql.h"

/* clang-format off */

/* After feed_select_sql: SQL_FEED_EVENTS_LIVE's rows, id and stamp, in
 * feed order. */
#define SQL_FEED_ROWS_ORDERED \
	"SELECT x.id, x.stamp" \
	"  FROM " SQL_FEED_EVENTS_LIVE \
	" ORDER BY x.start_utc, x.id"

/* clang-format on */

#endif
