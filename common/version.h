/* version.h - the release, as --version, the start-up line and the
 * webhook User-Agent give it. */
#ifndef LIAISON_VERSION_H
#define LIAISON_VERSION_H

#define LIAISON_VERSION "0.1.0"

#endif
