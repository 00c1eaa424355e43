/* write_again.h - a write that lost a race. A change reads a row, works
 * out the new one and writes it at the version it read; when another
 * write came between, its UPDATE finds a newer version and writes nothing.
 * A request that gave If-Match asked for that version: 412. One that gave
 * none (or "*", which any current version meets) asked for no version, so the change is taken once
 * more from the start against the row as it is now (its route's handler, after a pause of random
 * length that grows with the tries: writers racing on one row that all read again at once would
 * mostly lose again), at most WRITE_TRIES times, then 409; not for a client that has gone. */
#ifndef LIAISON_WRITE_AGAIN_H
#define LIAISON_WRITE_AGAIN_H

struct req;

#define WRITE_TRIES 20

/* 1 when r is taken again: the caller frees what it holds of r's write
 * and returns without answering; 0 when it answers, with
 * write_lost_status(r). */
int write_again(struct req *r);
/* 412 (If-Match names versions) or 409 (the tries spent, or r cannot be taken
 * again). */
int write_lost_status(const struct req *r);
/* The problem's detail for that status. */
const char *write_lost_detail(const struct req *r);

#endif
