/* macros.h - attributes and small macros every file may use. */
#ifndef LIAISON_MACROS_H
#define LIAISON_MACROS_H

#define WUR               __attribute__((warn_unused_result))
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define UNUSED(x)         (void)(x)
#define ARRAY_LEN(a)      (sizeof(a) / sizeof((a)[0]))

#endif
