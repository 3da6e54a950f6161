/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * cat.c: rdsnap cat: one file of a snapshot on standard output.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "rdsnap.h"

int
cmd_cat(int argc, char **argv)
{
	struct rd_err err = RD_ERR_INIT;
	struct opts o;
	struct rd_store *st;
	char **args;
	int nargs, r;

	memset(&o, 0, sizeof(o));
	args = parse("cat", " snapshot ", argc, argv, &o, &nargs);
	st = open_store(args[0], RD_OPEN_READ, 0);
	/* the bytes go straight to the descriptor: nothing may be buffered */
	if (fflush(stdout) == EOF)
		tool_die(EX_IOERR, "cannot write standard output");
	r = rd_snap_cat(st, o.version, args[1], STDOUT_FILENO, NULL, &err);
	rd_store_close(st);
	if (r == -1)
		tool_die_err(&err);
	return tool_exit(EX_OK);
}
