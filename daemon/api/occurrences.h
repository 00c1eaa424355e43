/* occurrences.h - GET /v1/occurrences: recurrences expanded in a window. */
#ifndef LIAISON_OCCURRENCES_H
#define LIAISON_OCCURRENCES_H

struct req;

void occurrences_list(struct req *r);

#endif
