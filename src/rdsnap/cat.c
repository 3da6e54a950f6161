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
	int ind, r;

	memset(&o, 0, sizeof(o));
	parse("cat", " snapshot ", argc, argv, &o, &ind);
	if (argc - ind != 2)
		tool_usage(EX_USAGE);
	st = open_store(argv[ind], RD_OPEN_READ, 0);
	/* the bytes go straight to the descriptor: nothing may be buffered */
	if (fflush(stdout) == EOF)
		tool_die(EX_IOERR, "cannot write standard output");
	r = rd_snap_cat(st, o.version, argv[ind + 1], STDOUT_FILENO, NULL,
	    &err);
	rd_store_close(st);
	if (r == -1)
		tool_die_err(&err);
	return tool_exit(EX_OK);
}
