/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * err.c: the one error pattern of librd.  A failing function fills a
 * caller-owned "struct rd_err" once, where the failure happened, and
 * returns -1; callers pass it up unchanged.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rd_int.h"

static void vset(struct rd_err *err, enum rd_code code, int errnum,
    const char *fmt, va_list ap) RD_PRINTF(4, 0);

static void
vset(struct rd_err *err, enum rd_code code, int errnum, const char *fmt,
    va_list ap)
{
	int n;

	err->code = code;
	err->sys_errno = errnum;
	n = vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	if (n < 0)
		err->msg[0] = '\0';
}

int
rd_err_set(struct rd_err *err, enum rd_code code, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vset(err, code, 0, fmt, ap);
	va_end(ap);
	return -1;
}

int
rd_err_sys(struct rd_err *err, enum rd_code code, const char *fmt, ...)
{
	va_list ap;
	int saved = errno;
	size_t len;

	if (err == NULL)
		return -1;
	va_start(ap, fmt);
	vset(err, code, saved, fmt, ap);
	va_end(ap);
	len = strlen(err->msg);
	if (len < sizeof(err->msg))
		snprintf(err->msg + len, sizeof(err->msg) - len, ": %s",
		    strerror(saved));
	if (code == RD_EIO) {
		switch (saved) {
		case ENOENT:
		case ENOTDIR:
			err->code = RD_ENOENT;
			break;
		case EACCES:
		case EPERM:
			err->code = RD_EPERM;
			break;
		case ENOMEM:
			err->code = RD_ENOMEM;
			break;
		default:
			break;
		}
	}
	errno = saved;
	return -1;
}

void
rd_err_clear(struct rd_err *err)
{
	err->code = RD_OK;
	err->sys_errno = 0;
	err->msg[0] = '\0';
}

const char *
rd_code_name(enum rd_code code)
{
	switch (code) {
	case RD_OK:
		return "ok";
	case RD_EUSAGE:
		return "usage";
	case RD_ECORRUPT:
		return "corrupt";
	case RD_ENOENT:
		return "not-found";
	case RD_EUNAVAIL:
		return "unavailable";
	case RD_EINTERNAL:
		return "internal";
	case RD_ENOMEM:
		return "no-memory";
	case RD_ECANTCREAT:
		return "cannot-create";
	case RD_EIO:
		return "io";
	case RD_EBUSY:
		return "busy";
	case RD_EPERM:
		return "not-permitted";
	}
	return "unknown";
}

void
rdi_vnotice(void (*fn)(void *arg, const char *msg), void *arg, const char *fmt,
    va_list ap)
{
	char msg[1024];

	if (fn == NULL)
		return;
	if (vsnprintf(msg, sizeof(msg), fmt, ap) < 0)
		msg[0] = '\0';
	fn(arg, msg);
}
