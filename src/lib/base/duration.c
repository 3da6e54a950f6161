/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * duration.c: the one parser of durations ("30", "2.5", "10m", "7d",
 * "1w") that the tools' options and the probes' max-age share.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>

#include "rd_int.h"

int
rd_parse_duration(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (end == s || errno != 0)
		return -1;
	if (*end != '\0') {
		if (end[1] != '\0')
			return -1;
		switch (*end) {
		case 's':
			break;
		case 'm':
			v *= 60;
			break;
		case 'h':
			v *= 3600;
			break;
		case 'd':
			v *= 86400;
			break;
		case 'w':
			v *= 7 * 86400;
			break;
		default:
			return -1;
		}
	}
	*out = v;
	return 0;
}
