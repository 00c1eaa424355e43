/* tz.h - IANA zone names checked against the system's tz database. */
#ifndef LIAISON_TZ_H
#define LIAISON_TZ_H

/* True when name is a well-formed IANA name with a TZif file under
 * /usr/share/zoneinfo. Names with "..", a leading '/', or other
 * characters are refused before any file is opened. */
int tz_valid(const char *name);

#endif
