/* compat.h - project-wide macros: attributes and small helpers. */
#ifndef LIAISON_COMPAT_H
#define LIAISON_COMPAT_H

#define WUR               __attribute__((warn_unused_result))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define UNUSED(x)         (void)(x)
#define ARRAY_LEN(a)      (sizeof(a) / sizeof((a)[0]))

#define LIAISON_VERSION "0.1.0"

#endif
