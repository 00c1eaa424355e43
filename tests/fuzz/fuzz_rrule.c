/* fuzz_rrule.c - libFuzzer target: arbitrary RRULE and duration text;
 * a rule that validates is expanded, and must stay within the bounds. */
#include "recur.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int count(const struct civil *s, int64_t u, void *arg)
{
	(void)s;
	(void)u;
	return ++*(long *)arg > RECUR_MAX_ITERATIONS;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 600)
		return 0;
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	int64_t secs;
	(void)ical_duration_parse(s, &secs);
	char err[160];
	if (recur_validate(s, 0, err, sizeof(err)) == 0) {
		struct civil start = {2026, 3, 1, 1, 30, 0};
		long n = 0;
		long got = recur_expand(s, "America/Toronto", &start, 0, 4102444800LL, count, &n);
		if (got > RECUR_MAX_ITERATIONS || n > RECUR_MAX_ITERATIONS)
			__builtin_trap();
	}
	free(s);
	return 0;
}
