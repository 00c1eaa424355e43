/* reports.h - /v1/reports: the cooperation report (reports.c). */
#ifndef LIAISON_REPORTS_H
#define LIAISON_REPORTS_H

struct req;

void reports_cooperation(struct req *r);

#endif
