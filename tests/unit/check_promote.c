/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check_promote.c: the promotion journal (promote_journal.c): a new
 * promotion and its options, written and read back, compared, and
 * refused when the catalog holds what no option is; steps begun, done
 * and discarded; a fall-back in one transaction; kept trees and events;
 * the history and its items; the migration that turns the old targets
 * of earlier promotions into kept trees.  Also the options check and the
 * time parser of promote_check.c, and the tree helpers of
 * promote_tree.c that never replace a directory.
 */
#include "config.h"

#include <sys/xattr.h>
#include <errno.h>
#include <fcntl.h>
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "promote/promote_int.h"
#include "unit.h"

static void
setup(void)
{
	unit_tmp_setup();
}

static void
teardown(void)
{
	unit_tmp_teardown();
}

static const char *
catalog(void)
{
	return unit_path("store/catalog.db");
}

/* A promotion of snapshot 3 into /srv/app with "o"; its id. */
static int64_t
new_promotion(struct rd_store *st, const struct rd_promote_opts *o)
{
	struct rd_err err = RD_ERR_INIT;
	struct rdi_pjrow row;
	int64_t id = 0;

	memset(&row, 0, sizeof(row));
	row.version = 3;
	snprintf(row.target, sizeof(row.target), "/srv/app");
	snprintf(row.staging, sizeof(row.staging), "/srv/.app.rdpromote");
	row.started = 1000.5;
	unit_ok(rdi_pj_create(st->db, &row, o, &id, &err), err);
	return id;
}

/* Options with a value of every kind. */
static struct rd_promote_opts
full_opts(void)
{
	struct rd_promote_opts o = RD_PROMOTE_OPTS_INIT;

	o.version = 3;
	o.primary = "tcp://db1:5432";
	o.fence = "ssh ipmi power-off db1";
	o.validate = "app-check \"$RDPROMOTE_COPY\"";
	o.start = "systemctl start app";
	o.stop = "systemctl stop app";
	o.check = "http://localhost:8080/health";
	o.heartbeat = "var/heartbeat";
	o.failed_at = 1796450000.25;
	o.check_timeout = 90.5;
	o.hook_timeout = 120;
	o.probe_timeout = 2;
	o.allow_partial = 1;
	o.quick_verify = 1;
	return o;
}

START_TEST(test_create_open)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_promote_opts o = full_opts();
	struct rd_store *st = unit_new_store(0);
	struct rdi_pjrow row;
	int64_t id;

	ck_assert_int_eq(rdi_pj_open(st->db, &row, &err), 0);
	id = new_promotion(st, &o);
	ck_assert_int_eq(id, 1);
	ck_assert_int_eq(rdi_pj_open(st->db, &row, &err), 1);
	ck_assert_int_eq(row.id, 1);
	ck_assert_int_eq(row.drill, 0);
	ck_assert_int_eq(row.version, 3);
	ck_assert_str_eq(row.target, "/srv/app");
	ck_assert_str_eq(row.staging, "/srv/.app.rdpromote");
	ck_assert_str_eq(row.state, "running");
	ck_assert_str_eq(row.aside, "");
	ck_assert_int_eq(row.epoch_raised, 0);
	ck_assert_int_eq(row.validated, -1);
	ck_assert_int_eq(row.has_options, 1);
	/* the newest unfinished one; a finished one is not */
	unit_ok(rdi_pj_finish(st->db, id, "failed", "refused", &err), err);
	ck_assert_int_eq(rdi_pj_open(st->db, &row, &err), 0);
	ck_assert_int_eq(unit_sql_int(catalog(),
	                     "SELECT finished > 0 AND message = 'refused'"
	                     " FROM promotions WHERE id = 1"),
	    1);
	rd_store_close(st);
}
END_TEST

START_TEST(test_options_roundtrip)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_promote_opts o = full_opts(), d = RD_PROMOTE_OPTS_INIT;
	struct rd_store *st = unit_new_store(0);
	struct rdi_pjopts jo;
	char name[32];
	int64_t id;

	id = new_promotion(st, &o);
	ck_assert_int_eq(unit_sql_int(catalog(),
	                     "SELECT count(*) FROM promotion_options"),
	    14);
	unit_ok(rdi_pj_opts_load(st->db, id, &jo, &err), err);
	ck_assert_int_eq(jo.o.version, 3);
	ck_assert_str_eq(jo.o.primary, "tcp://db1:5432");
	ck_assert_str_eq(jo.o.fence, "ssh ipmi power-off db1");
	ck_assert_str_eq(jo.o.validate, "app-check \"$RDPROMOTE_COPY\"");
	ck_assert_str_eq(jo.o.start, "systemctl start app");
	ck_assert_str_eq(jo.o.stop, "systemctl stop app");
	ck_assert_str_eq(jo.o.check, "http://localhost:8080/health");
	ck_assert_str_eq(jo.o.heartbeat, "var/heartbeat");
	ck_assert(jo.o.failed_at == 1796450000.25);
	ck_assert(jo.o.check_timeout == 90.5);
	ck_assert(jo.o.hook_timeout == 120);
	ck_assert(jo.o.probe_timeout == 2);
	ck_assert_int_eq(jo.o.allow_partial, 1);
	ck_assert_int_eq(jo.o.quick_verify, 1);
	ck_assert_int_eq(jo.o.force, 0);
	ck_assert_int_eq(jo.o.no_fence, 0);
	ck_assert_int_eq(rdi_pj_opts_diff(&o, &jo.o, name, sizeof(name)), 0);
	rdi_pj_opts_release(&jo);

	/* unset options are not written, and read back as the defaults */
	d.force = 1;
	d.no_fence = 1;
	id = new_promotion(st, &d);
	unit_ok(rdi_pj_opts_load(st->db, id, &jo, &err), err);
	ck_assert_ptr_null(jo.o.fence);
	ck_assert_ptr_null(jo.o.primary);
	ck_assert_int_eq(jo.o.version, 0);
	ck_assert(jo.o.failed_at == 0);
	ck_assert_int_eq(jo.o.force, 1);
	ck_assert_int_eq(jo.o.no_fence, 1);
	ck_assert_int_eq(rdi_pj_opts_diff(&d, &jo.o, name, sizeof(name)), 0);
	rdi_pj_opts_release(&jo);
	ck_assert_int_eq(
	    unit_sql_int(catalog(),
	        "SELECT count(*) FROM promotion_options WHERE promotion = 2"),
	    6);
	rd_store_close(st);
}
END_TEST

START_TEST(test_options_diff)
{
	struct rd_promote_opts a = full_opts(), b = full_opts();
	char name[32];

	b.fence = "true";
	ck_assert_int_eq(rdi_pj_opts_diff(&a, &b, name, sizeof(name)), 1);
	ck_assert_str_eq(name, "fence");
	b = full_opts();
	b.check = NULL;
	ck_assert_int_eq(rdi_pj_opts_diff(&a, &b, name, sizeof(name)), 1);
	ck_assert_str_eq(name, "check");
	b = full_opts();
	b.hook_timeout = 121;
	ck_assert_int_eq(rdi_pj_opts_diff(&a, &b, name, sizeof(name)), 1);
	ck_assert_str_eq(name, "hook-timeout");
	b = full_opts();
	b.version = 0;
	ck_assert_int_eq(rdi_pj_opts_diff(&a, &b, name, sizeof(name)), 1);
	ck_assert_str_eq(name, "snapshot");
	/* what is not journaled does not count */
	b = full_opts();
	b.dry_run = 1;
	b.resume = 1;
	b.step_arg = &a;
	ck_assert_int_eq(rdi_pj_opts_diff(&a, &b, name, sizeof(name)), 0);
}
END_TEST

START_TEST(test_options_corrupt)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_promote_opts o = full_opts();
	struct rd_store *st = unit_new_store(0);
	struct rdi_pjopts jo;
	int64_t id;

	id = new_promotion(st, &o);
	unit_sql(catalog(),
	    "INSERT INTO promotion_options VALUES (1, 'exec', 'rm -rf /')");
	ck_assert_int_eq(rdi_pj_opts_load(st->db, id, &jo, &err), -1);
	rdi_pj_opts_release(&jo);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "promotion 1 has an unknown option in its journal");
	rd_err_clear(&err);
	unit_sql(catalog(),
	    "DELETE FROM promotion_options WHERE name = 'exec';"
	    "UPDATE promotion_options SET value = 'soon'"
	    " WHERE name = 'check-timeout'");
	ck_assert_int_eq(rdi_pj_opts_load(st->db, id, &jo, &err), -1);
	rdi_pj_opts_release(&jo);
	ck_assert_int_eq(err.code, RD_ECORRUPT);
	ck_assert_str_eq(err.msg,
	    "promotion 1 has an invalid --check-timeout in its journal");
	rd_err_clear(&err);
	unit_sql(catalog(),
	    "UPDATE promotion_options SET value = '60'"
	    " WHERE name = 'check-timeout';"
	    "UPDATE promotion_options SET value = '2' WHERE name = 'allow-partial'");
	ck_assert_int_eq(rdi_pj_opts_load(st->db, id, &jo, &err), -1);
	rdi_pj_opts_release(&jo);
	ck_assert_str_eq(err.msg,
	    "promotion 1 has an invalid --allow-partial in its journal");
	rd_err_clear(&err);
	unit_sql(catalog(),
	    "UPDATE promotion_options SET value = '1' WHERE name = 'allow-partial';"
	    "UPDATE promotion_options SET value = '-4' WHERE name = 'snapshot'");
	ck_assert_int_eq(rdi_pj_opts_load(st->db, id, &jo, &err), -1);
	rdi_pj_opts_release(&jo);
	ck_assert_str_eq(err.msg,
	    "promotion 1 has an invalid --snapshot in its journal");
	rd_store_close(st);
}
END_TEST

START_TEST(test_steps)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_promote_opts o = full_opts();
	struct rd_store *st = unit_new_store(0);
	int done[RD_PROMOTE_NSTEPS], begun[RD_PROMOTE_NSTEPS];
	int64_t id;

	id = new_promotion(st, &o);
	unit_ok(rdi_pj_step_begin(st->db, id, RDI_S_PREFLIGHT, &err), err);
	unit_ok(rdi_pj_step_end(st->db, id, RDI_S_PREFLIGHT, "ok", "fine",
	            &err),
	    err);
	unit_ok(rdi_pj_step_begin(st->db, id, RDI_S_FENCE, &err), err);
	unit_ok(rdi_pj_step_end(st->db, id, RDI_S_FENCE, "ok", NULL, &err),
	    err);
	unit_ok(rdi_pj_step_begin(st->db, id, RDI_S_MATERIALIZE, &err), err);
	unit_ok(rdi_pj_step_end(st->db, id, RDI_S_MATERIALIZE, "discarded",
	            "it failed verify", &err),
	    err);
	unit_ok(rdi_pj_step_begin(st->db, id, RDI_S_VERIFY, &err), err);
	unit_ok(rdi_pj_steps(st->db, id, done, begun, &err), err);
	ck_assert_int_eq(done[RDI_S_PREFLIGHT], 1);
	ck_assert_int_eq(done[RDI_S_FENCE], 1);
	ck_assert_int_eq(done[RDI_S_MATERIALIZE], 0);
	ck_assert_int_eq(begun[RDI_S_MATERIALIZE], 1);
	ck_assert_int_eq(done[RDI_S_VERIFY], 0);
	ck_assert_int_eq(begun[RDI_S_VERIFY], 1);
	ck_assert_int_eq(begun[RDI_S_VALIDATE], 0);
	ck_assert_int_eq(begun[RDI_S_RECORD], 0);
	ck_assert_int_eq(unit_sql_int(catalog(),
	                     "SELECT step = 'verify' FROM promotions"),
	    1);
	ck_assert_int_eq(unit_sql_int(catalog(),
	                     "SELECT count(*) FROM promotion_steps"
	                     " WHERE detail = '' AND step = 'fence'"),
	    1);
	/* a step begun again starts over */
	unit_ok(rdi_pj_step_begin(st->db, id, RDI_S_FENCE, &err), err);
	unit_ok(rdi_pj_steps(st->db, id, done, begun, &err), err);
	ck_assert_int_eq(done[RDI_S_FENCE], 0);
	ck_assert_int_eq(begun[RDI_S_FENCE], 1);
	rd_store_close(st);
}
END_TEST

START_TEST(test_columns)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_promote_opts o = full_opts();
	struct rd_store *st = unit_new_store(0);
	struct rdi_pjrow row;
	int64_t id;

	id = new_promotion(st, &o);
	unit_ok(rdi_pj_set_int(st->db, id, "validated", 1, 0, &err), err);
	unit_ok(rdi_pj_set_int(st->db, id, "epoch", 7, 0, &err), err);
	unit_ok(rdi_pj_set_text(st->db, id, "aside", "/srv/app.pre", &err),
	    err);
	unit_ok(rdi_pj_set_real(st->db, id, "given_up", 8.75, 0, &err), err);
	unit_ok(rdi_pj_set_real(st->db, id, "failed_at", 0, 1, &err), err);
	ck_assert_int_eq(rdi_pj_open(st->db, &row, &err), 1);
	ck_assert_int_eq(row.validated, 1);
	ck_assert_int_eq(row.epoch_raised, 1);
	ck_assert_str_eq(row.aside, "/srv/app.pre");
	ck_assert_int_eq(unit_sql_int(catalog(),
	                     "SELECT given_up = 8.75 AND failed_at IS NULL"
	                     " FROM promotions"),
	    1);
	ck_assert_int_eq(rdi_pj_set_text(st->db, id, "state", "done", &err),
	    -1);
	ck_assert_int_eq(err.code, RD_EINTERNAL);
	ck_assert_str_eq(err.msg, "promotions has no settable column 'state'");
	rd_store_close(st);
}
END_TEST

START_TEST(test_fall_back)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_promote_opts o = full_opts();
	struct rd_store *st = unit_new_store(0);
	int done[RD_PROMOTE_NSTEPS], begun[RD_PROMOTE_NSTEPS];
	char why[256], path[64];
	int64_t id, snap;
	int s;

	id = new_promotion(st, &o);
	for (s = RDI_S_PREFLIGHT; s <= RDI_S_START; s++) {
		unit_ok(rdi_pj_step_begin(st->db, id, s, &err), err);
		unit_ok(rdi_pj_step_end(st->db, id, s, "ok", "", &err), err);
	}
	unit_ok(rdi_pj_step_begin(st->db, id, RDI_S_CHECK, &err), err);
	unit_ok(rdi_pj_step_end(st->db, id, RDI_S_CHECK, "failed",
	            "not healthy", &err),
	    err);
	unit_ok(rdi_pj_set_int(st->db, id, "validated", 1, 0, &err), err);
	unit_ok(rdi_pj_last_failure(st->db, id, why, sizeof(why), &err), err);
	ck_assert_str_eq(why, "check: not healthy");
	unit_ok(rdi_pj_fall_back(st->db, id, 3, 2, why,
	            "/srv/app.pre-promote-X", &err),
	    err);
	unit_ok(rdi_pj_steps(st->db, id, done, begun, &err), err);
	ck_assert_int_eq(done[RDI_S_PREFLIGHT], 1);
	ck_assert_int_eq(done[RDI_S_FENCE], 1);
	for (s = RDI_S_MATERIALIZE; s < RD_PROMOTE_NSTEPS; s++)
		ck_assert_int_eq(begun[s], 0);
	ck_assert_int_eq(
	    unit_sql_int(catalog(),
	        "SELECT version = 2 AND validated IS NULL FROM promotions"),
	    1);
	ck_assert_int_eq(unit_sql_int(catalog(),
	                     "SELECT count(*) FROM promotion_events"
	                     " WHERE event = 'fall-back' AND detail ="
	                     " 'from snapshot 3 to 2: check: not healthy'"),
	    1);
	ck_assert_int_eq(rdi_pj_tree_planned(st->db, id, "pre-promote", path,
	                     sizeof(path), &snap, &err),
	    1);
	ck_assert_str_eq(path, "/srv/app.pre-promote-X");
	ck_assert_int_eq(snap, 3);
	/* a failed transaction changes nothing: the tree is planned already */
	unit_sql(catalog(),
	    "CREATE TRIGGER no_events BEFORE INSERT ON promotion_events"
	    " BEGIN SELECT RAISE(ABORT, 'no'); END");
	ck_assert_int_eq(rdi_pj_fall_back(st->db, id, 2, 1, "x", NULL, &err),
	    -1);
	ck_assert_int_eq(unit_sql_int(catalog(),
	                     "SELECT version FROM promotions"),
	    2);
	rd_store_close(st);
}
END_TEST

START_TEST(test_trees)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_promote_opts o = full_opts();
	struct rd_store *st = unit_new_store(0);
	char path[64], kind[16], state[16];
	int64_t id, pid, snap;

	id = new_promotion(st, &o);
	ck_assert_int_eq(rdi_pj_tree_planned(st->db, id, "rejected", path,
	                     sizeof(path), &snap, &err),
	    0);
	unit_ok(rdi_pj_tree_add(st->db, id, "/srv/app.rejected-A", "rejected",
	            3, "planned", &err),
	    err);
	ck_assert_int_eq(rdi_pj_tree_planned(st->db, id, "rejected", path,
	                     sizeof(path), &snap, &err),
	    1);
	ck_assert_str_eq(path, "/srv/app.rejected-A");
	ck_assert_int_eq(snap, 3);
	/* the name was taken: the plan moves to another */
	unit_ok(rdi_pj_tree_set(st->db, id, "/srv/app.rejected-A",
	            "/srv/app.rejected-A.1", "planned", &err),
	    err);
	unit_ok(rdi_pj_tree_set(st->db, id, "/srv/app.rejected-A.1",
	            "/srv/app.rejected-A.1", "kept", &err),
	    err);
	ck_assert_int_eq(rdi_pj_tree_planned(st->db, id, "rejected", path,
	                     sizeof(path), &snap, &err),
	    0);
	ck_assert_int_eq(rdi_pj_tree_find(st->db, "/srv/app.rejected-A.1", &pid,
	                     kind, sizeof(kind), state, sizeof(state), &err),
	    1);
	ck_assert_int_eq(pid, id);
	ck_assert_str_eq(kind, "rejected");
	ck_assert_str_eq(state, "kept");
	ck_assert_int_eq(rdi_pj_tree_find(st->db, "/srv/app.rejected-A", &pid,
	                     kind, sizeof(kind), state, sizeof(state), &err),
	    0);
	unit_ok(rdi_pj_tree_set(st->db, id, "/srv/app.rejected-A.1",
	            "/srv/app.rejected-A.1", "removed", &err),
	    err);
	ck_assert_int_eq(unit_sql_int(catalog(),
	                     "SELECT removed > 0 FROM promotion_trees"),
	    1);
	/* a removed tree is not changed again */
	unit_ok(rdi_pj_tree_set(st->db, id, "/srv/app.rejected-A.1",
	            "/srv/app.rejected-A.1", "kept", &err),
	    err);
	ck_assert_int_eq(rdi_pj_tree_find(st->db, "/srv/app.rejected-A.1", &pid,
	                     kind, sizeof(kind), state, sizeof(state), &err),
	    1);
	ck_assert_str_eq(state, "removed");
	/* an unknown kind or state is refused by the catalog */
	ck_assert_int_eq(rdi_pj_tree_add(st->db, id, "/x", "other", 0, "kept",
	                     &err),
	    -1);
	rd_store_close(st);
}
END_TEST

struct items {
	char text[2048];
};

static int
item_text(void *arg, const struct rd_promote_item *it)
{
	struct items *t = arg;
	size_t n = strlen(t->text);

	snprintf(t->text + n, sizeof(t->text) - n, "%d:%lld:%s=%s:%lld:%s;",
	    it->kind, (long long)it->promotion, it->name, it->value,
	    (long long)it->snapshot, it->state);
	return 0;
}

static int
history_text(void *arg, const struct rd_promotion *p)
{
	struct items *t = arg;
	size_t n = strlen(t->text);
	int i;

	snprintf(t->text + n, sizeof(t->text) - n, "%lld %s %lld %s %d",
	    (long long)p->id, p->drill ? "drill" : "promote",
	    (long long)p->version, p->state, p->validated);
	for (i = 0; i < p->nsteps; i++) {
		n = strlen(t->text);
		snprintf(t->text + n, sizeof(t->text) - n, " %s=%s",
		    p->steps[i].name, p->steps[i].outcome);
	}
	n = strlen(t->text);
	snprintf(t->text + n, sizeof(t->text) - n, ";");
	return 0;
}

START_TEST(test_history_items)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_promote_opts o = RD_PROMOTE_OPTS_INIT;
	struct rd_store *st = unit_new_store(0);
	struct items t;
	int64_t id;

	o.force = 1;
	o.fence = "f";
	id = new_promotion(st, &o);
	/* steps come in the order of the steps, whatever their times */
	unit_ok(rdi_pj_step_begin(st->db, id, RDI_S_FENCE, &err), err);
	unit_ok(rdi_pj_step_begin(st->db, id, RDI_S_PREFLIGHT, &err), err);
	unit_ok(rdi_pj_step_end(st->db, id, RDI_S_PREFLIGHT, "ok", "", &err),
	    err);
	unit_ok(rdi_pj_event(st->db, id, "stop", "stopped", &err), err);
	unit_ok(rdi_pj_event(st->db, id, "roll-back", "rolled back", &err),
	    err);
	unit_ok(rdi_pj_tree_add(st->db, id, "/srv/app.pre", "pre-promote", 0,
	            "kept", &err),
	    err);
	unit_ok(rdi_pj_set_int(st->db, id, "validated", 0, 0, &err), err);
	memset(&t, 0, sizeof(t));
	unit_ok(rd_promote_history(st, history_text, &t, &err), err);
	ck_assert_str_eq(t.text,
	    "1 promote 3 running 0 preflight=ok fence=running;");
	memset(&t, 0, sizeof(t));
	unit_ok(rd_promote_items(st, id, item_text, &t, &err), err);
	ck_assert_str_eq(t.text,
	    "0:1:check-timeout=60:0:;0:1:fence=f:0:;0:1:force=1:0:;"
	    "0:1:hook-timeout=300:0:;0:1:probe-timeout=5:0:;"
	    "0:1:verify=full:0:;"
	    "1:1:stop=stopped:0:;1:1:roll-back=rolled back:0:;"
	    "2:1:/srv/app.pre=pre-promote:0:kept;");
	/* 0: every promotion's kept trees, not the removed ones */
	unit_ok(rdi_pj_tree_add(st->db, id, "/srv/app.gone", "rejected", 3,
	            "removed", &err),
	    err);
	memset(&t, 0, sizeof(t));
	unit_ok(rd_promote_items(st, 0, item_text, &t, &err), err);
	ck_assert_str_eq(t.text, "2:1:/srv/app.pre=pre-promote:0:kept;");
	rd_store_close(st);
}
END_TEST

/*
 * A store of format 2 whose journal has promotions that kept their old
 * target: the migration lists those as kept trees.
 */
START_TEST(test_migrate)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_store *st = unit_new_store(0);
	struct rdi_pjrow row;

	rd_store_close(st);
	unit_sql(catalog(),
	    "DROP TABLE promotion_options;"
	    "DROP TABLE promotion_events;"
	    "DROP TABLE promotion_trees;"
	    "ALTER TABLE promotions DROP COLUMN validated;"
	    "ALTER TABLE promotions DROP COLUMN failed_at;"
	    "ALTER TABLE promotions DROP COLUMN data_time;"
	    "ALTER TABLE promotions DROP COLUMN given_up;"
	    "DROP INDEX entries_link;"
	    "ALTER TABLE entries DROP COLUMN rdev;"
	    "ALTER TABLE entries DROP COLUMN link;"
	    "ALTER TABLE entries DROP COLUMN xattrs;"
	    "INSERT INTO promotions(kind, version, target, aside, started,"
	    " finished, state) VALUES"
	    " ('promote', 4, '/srv/app', '/srv/app.pre-promote-A', 10, 20,"
	    " 'done'),"
	    " ('drill', 4, '/tmp/d', NULL, 30, 40, 'done'),"
	    " ('promote', 5, '/srv/b', '/srv/b.pre-promote-B', 50, NULL,"
	    " 'running');"
	    "PRAGMA user_version=2");
	unit_ok(rd_store_open(unit_path("store"), RD_OPEN_WRITE, 0, &st, &err),
	    err);
	ck_assert_int_eq(unit_sql_int(catalog(), "PRAGMA user_version"), 4);
	ck_assert_int_eq(unit_sql_int(catalog(),
	                     "SELECT count(*) FROM promotion_trees"),
	    2);
	ck_assert_int_eq(
	    unit_sql_int(catalog(),
	        "SELECT count(*) FROM promotion_trees WHERE"
	        " path = '/srv/app.pre-promote-A' AND promotion = 1"
	        " AND kind = 'pre-promote' AND snapshot IS NULL"
	        " AND created = 10 AND state = 'kept'"),
	    1);
	/* the unfinished one of an earlier redund has no options */
	ck_assert_int_eq(rdi_pj_open(st->db, &row, &err), 1);
	ck_assert_int_eq(row.id, 3);
	ck_assert_int_eq(row.has_options, 0);
	ck_assert_int_eq(row.validated, -1);
	rd_store_close(st);
}
END_TEST

START_TEST(test_time_parse)
{
	static const char *const bad[] = { "", "@", "@x", "@-1", "yesterday",
		"2026-11-28", "2026-11-28T03:12", "2026-13-01T00:00:00Z",
		"2026-11-28T03:12:13Zx", "2026-11-28T03:12:13+2:00",
		"2026-11-28T03:12:13.Z" };
	struct rd_err err = RD_ERR_INIT;
	double t;
	size_t i;

	unit_ok(rd_time_parse("@1796450000.25", &t, &err), err);
	ck_assert(t == 1796450000.25);
	unit_ok(rd_time_parse("2026-11-28T03:12:13Z", &t, &err), err);
	ck_assert(t == 1795835533);
	unit_ok(rd_time_parse("2026-11-28T03:12:13.5Z", &t, &err), err);
	ck_assert(t == 1795835533.5);
	unit_ok(rd_time_parse("2026-11-28T05:12:13+02:00", &t, &err), err);
	ck_assert(t == 1795835533);
	unit_ok(rd_time_parse("2026-11-28T01:12:13-02:00", &t, &err), err);
	ck_assert(t == 1795835533);
	setenv("TZ", "UTC", 1);
	tzset();
	unit_ok(rd_time_parse("2026-11-28 03:12:13", &t, &err), err);
	ck_assert(t == 1795835533);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rd_err_clear(&err);
		ck_assert_int_eq(rd_time_parse(bad[i], &t, &err), -1);
		ck_assert_int_eq(err.code, RD_EUSAGE);
	}
	ck_assert_str_eq(err.msg,
	    "invalid time '2026-11-28T03:12:13.Z' (expected"
	    " YYYY-MM-DDTHH:MM:SSZ, a local YYYY-MM-DD HH:MM:SS, or"
	    " @UNIXTIME)");
}
END_TEST

/* rd_promote_opts_check() on "o": its message, or "" if it passes. */
static const char *
opts_msg(const struct rd_promote_opts *o)
{
	static struct rd_err err;

	rd_err_clear(&err);
	if (rd_promote_opts_check(o, &err) == 0)
		return "";
	ck_assert_int_eq(err.code, RD_EUSAGE);
	return err.msg;
}

START_TEST(test_opts_check)
{
	struct rd_promote_opts o = RD_PROMOTE_OPTS_INIT;

	ck_assert_str_eq(opts_msg(&o),
	    "a promotion needs --fence CMD to cut the old primary off, or"
	    " --no-fence to promote without one");
	o.fence = "f";
	ck_assert_str_eq(opts_msg(&o),
	    "a promotion needs --primary PROBE to check that the primary is"
	    " down, or --force to skip that check");
	o.force = 1;
	ck_assert_str_eq(opts_msg(&o), "");
	o.no_fence = 1;
	ck_assert_str_eq(opts_msg(&o),
	    "--fence and --no-fence do not go together");
	o.no_fence = 0;
	o.start = "s";
	ck_assert_str_eq(opts_msg(&o),
	    "--start needs --stop CMD to stop what it started (on --abort, a"
	    " fall-back and after a drill); give --stop true if it leaves"
	    " nothing running");
	o.stop = "t";
	ck_assert_str_eq(opts_msg(&o), "");
	o.heartbeat = "./a/../b";
	ck_assert_str_eq(opts_msg(&o),
	    "invalid --heartbeat './a/../b' (expected the path of a file"
	    " inside the snapshot)");
	o.heartbeat = "./var/hb";
	ck_assert_str_eq(opts_msg(&o), "");
	o.failed_at = rd_now() + 3600;
	ck_assert_str_eq(opts_msg(&o), "--failed-at is in the future");
	o.failed_at = 0;
	o.check_timeout = 0;
	ck_assert_str_eq(opts_msg(&o), "timeouts must be more than 0 seconds");
	o.check_timeout = 60;
	o.resume = 1;
	ck_assert_str_eq(opts_msg(&o),
	    "--resume takes its options from the journal: give only"
	    " --snapshot (to fall back) and --allow-partial");
	o = (struct rd_promote_opts)RD_PROMOTE_OPTS_INIT;
	o.resume = 1;
	o.version = 4;
	o.allow_partial = 1;
	ck_assert_str_eq(opts_msg(&o), "");
	o = (struct rd_promote_opts)RD_PROMOTE_OPTS_INIT;
	o.drill = 1;
	ck_assert_str_eq(opts_msg(&o), "");
	o.force = 1;
	ck_assert_str_eq(opts_msg(&o),
	    "a drill does not check the primary, fence or force: drop"
	    " --primary, --fence, --no-fence and --force");
}
END_TEST

/* A switchover: both commands, no primary probe, no chosen snapshot. */
START_TEST(test_opts_switchover)
{
	struct rd_promote_opts o = RD_PROMOTE_OPTS_INIT;

	o.fence = "f";
	o.final_snapshot = "x";
	ck_assert_str_eq(opts_msg(&o),
	    "--primary-stop and --final-snapshot are for --switchover");
	o.switchover = 1;
	ck_assert_str_eq(opts_msg(&o),
	    "--switchover needs --primary-stop CMD (stop the primary's"
	    " writers) and --final-snapshot CMD (take and ship the last"
	    " snapshot)");
	o.primary_stop = "p";
	ck_assert_str_eq(opts_msg(&o), "");
	o.primary = "tcp://127.0.0.1:1";
	ck_assert_str_eq(opts_msg(&o),
	    "a switchover stops the primary itself: drop --primary and"
	    " --force");
	o.primary = NULL;
	o.version = 3;
	ck_assert_str_eq(opts_msg(&o),
	    "a switchover promotes the final snapshot: drop --snapshot and"
	    " --failed-at");
	o.version = 0;
	o.fence = NULL;
	ck_assert_str_eq(opts_msg(&o),
	    "a promotion needs --fence CMD to cut the old primary off, or"
	    " --no-fence to promote without one");
	o.fence = "f";
	o.drill = 1;
	ck_assert_str_eq(opts_msg(&o),
	    "a drill is no switchover: drop --switchover or --drill");
	o = (struct rd_promote_opts)RD_PROMOTE_OPTS_INIT;
	o.resume = 1;
	o.switchover = 1;
	ck_assert_str_eq(opts_msg(&o),
	    "--resume takes its options from the journal: give only"
	    " --snapshot (to fall back) and --allow-partial");
}
END_TEST

START_TEST(test_tree_helpers)
{
	struct rd_err err = RD_ERR_INIT;
	char name[128];

	unit_mkdir(unit_path("a"), 0755);
	unit_write_str(unit_path("a/f"), "x");
	unit_mkdir(unit_path("b"), 0755);
	/* a directory at the destination is never replaced */
	ck_assert_int_eq(rdi_pt_rename(unit_path("a"), unit_path("b"), &err),
	    -1);
	ck_assert_int_eq(err.code, RD_ECANTCREAT);
	ck_assert_int_eq(unit_exists(unit_path("a/f")), 1);
	ck_assert_int_eq(unit_count_dir(unit_path("b")), 0);
	rd_err_clear(&err);
	unit_ok(rdi_pt_rename(unit_path("a"), unit_path("c"), &err), err);
	ck_assert_int_eq(unit_exists(unit_path("c/f")), 1);
	unit_ok(rdi_pt_keep_name("/srv/app", "pre-promote", 1795835533.9, 0,
	            name, sizeof(name), &err),
	    err);
	ck_assert_str_eq(name, "/srv/app.pre-promote-20261128T031213Z");
	unit_ok(rdi_pt_keep_name("/srv/app", "rejected", 1795835533, 2, name,
	            sizeof(name), &err),
	    err);
	ck_assert_str_eq(name, "/srv/app.rejected-20261128T031213Z.2");
	ck_assert_int_eq(rdi_pt_keep_name("/srv/app", "rejected", 0, 0, name,
	                     16, &err),
	    -1);
	ck_assert_int_eq(err.code, RD_EUSAGE);
	/* remove never follows a symlink out of the tree */
	ck_assert_int_eq(symlink(unit_path("b"), unit_path("c/link")), 0);
	snprintf(name, sizeof(name), "%s", unit_path("c"));
	unit_ok(rdi_rmtree(AT_FDCWD, name, name, &err), err);
	ck_assert_int_eq(unit_exists(unit_path("c")), 0);
	ck_assert_int_eq(unit_exists(unit_path("b")), 1);
}
END_TEST

/* rd_tree_verify of "out" against snapshot "id": 0 or 1, "why" set. */
static int
tree_check(struct rd_store *st, int64_t id, char *why, size_t len)
{
	struct rd_err err = RD_ERR_INIT;
	int64_t n;
	int r;

	why[0] = '\0';
	r = rd_tree_verify(st, id, unit_path("out"), 0, &n, why, len, &err);
	unit_ok(r == -1 ? -1 : 0, err);
	return r;
}

/* Set the mtime of "path" (not through a symlink) to "sec"."nsec". */
static void
set_mtime(const char *path, time_t sec, long nsec)
{
	struct timespec ts[2];

	ts[0].tv_sec = 0;
	ts[0].tv_nsec = UTIME_OMIT;
	ts[1].tv_sec = sec;
	ts[1].tv_nsec = nsec;
	ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

/* 2021-02-03T04:05:06.123456789Z, the times of the snapshot's entries */
#define T0_SEC  1612325106
#define T0_NSEC 123456789L

START_TEST(test_tree_verify_metadata)
{
	struct rd_err err = RD_ERR_INIT;
	struct rd_snap_opts so = RD_SNAP_OPTS_INIT;
	struct rd_restore_opts ro = RD_RESTORE_OPTS_INIT;
	struct rd_snapinfo si;
	struct rd_store *st = unit_new_store(1);
	struct timespec times[2];
	struct stat sb;
	char why[512], out[256];

	unit_write_str(unit_path("src/a"), "one file, two names\n");
	ck_assert_int_eq(link(unit_path("src/a"), unit_path("src/b")), 0);
	unit_write_str(unit_path("src/c"), "alone\n");
	unit_mkdir(unit_path("src/d"), 0755);
	unit_write_str(unit_path("src/d/e"), "in a directory\n");
	ck_assert_int_eq(symlink("c", unit_path("src/s")), 0);
	set_mtime(unit_path("src/c"), T0_SEC, T0_NSEC);
	set_mtime(unit_path("src/s"), T0_SEC, T0_NSEC);
	set_mtime(unit_path("src/d"), T0_SEC, T0_NSEC);
	set_mtime(unit_path("src"), T0_SEC, T0_NSEC);
	unit_ok(rd_snap_create(st, unit_path("src"), &so, &si, &err), err);
	unit_ok(rd_restore(st, si.id, unit_path("out"), NULL, 0, &ro, NULL,
	            &err),
	    err);
	ck_assert_int_eq(tree_check(st, si.id, why, sizeof(why)), 0);
	/* a name that became a copy is no longer the same file */
	snprintf(out, sizeof(out), "%s", unit_path("out/b"));
	ck_assert_int_eq(unlink(out), 0);
	unit_write_str(out, "one file, two names\n");
	ck_assert_int_eq(stat(unit_path("out/a"), &sb), 0);
	times[0] = sb.st_atim;
	times[1] = sb.st_mtim;
	ck_assert_int_eq(utimensat(AT_FDCWD, out, times, 0), 0);
	/* the name's writing changed the directory's mtime first */
	ck_assert_int_eq(tree_check(st, si.id, why, sizeof(why)), 1);
	ck_assert_ptr_nonnull(strstr(why, "'.': modification time "));
	ck_assert_ptr_nonnull(strstr(why,
	    ", expected 2021-02-03T04:05:06.123456789Z"));
	set_mtime(unit_path("out"), T0_SEC, T0_NSEC);
	ck_assert_int_eq(tree_check(st, si.id, why, sizeof(why)), 1);
	ck_assert_str_eq(why,
	    "'b' is not a hard link of the file it was linked to");
	unit_rm_rf(unit_path("out"));
	unit_ok(rd_restore(st, si.id, unit_path("out"), NULL, 0, &ro, NULL,
	            &err),
	    err);
	/* a third name the snapshot does not have */
	snprintf(out, sizeof(out), "%s", unit_path("out/x"));
	ck_assert_int_eq(link(unit_path("out/a"), out), 0);
	set_mtime(unit_path("out"), T0_SEC, T0_NSEC);
	ck_assert_int_eq(tree_check(st, si.id, why, sizeof(why)), 1);
	ck_assert_str_eq(why,
	    "a file has 3 names in the tree, 2 in the snapshot");
	ck_assert_int_eq(unlink(unit_path("out/x")), 0);
	set_mtime(unit_path("out"), T0_SEC, T0_NSEC);
	/* mtimes in ns: of a file, a symlink, a directory, the root */
	ck_assert_int_eq(tree_check(st, si.id, why, sizeof(why)), 0);
	set_mtime(unit_path("out/c"), T0_SEC, T0_NSEC + 1);
	ck_assert_int_eq(tree_check(st, si.id, why, sizeof(why)), 1);
	ck_assert_str_eq(why,
	    "'c': modification time 2021-02-03T04:05:06.123456790Z, expected 2021-02-03T04:05:06.123456789Z");
	set_mtime(unit_path("out/c"), T0_SEC, T0_NSEC);
	set_mtime(unit_path("out/s"), 0, 0);
	ck_assert_int_eq(tree_check(st, si.id, why, sizeof(why)), 1);
	ck_assert_str_eq(why,
	    "'s': modification time 1970-01-01T00:00:00.000000000Z, expected 2021-02-03T04:05:06.123456789Z");
	set_mtime(unit_path("out/s"), T0_SEC, T0_NSEC);
	set_mtime(unit_path("out/d"), T0_SEC + 60, T0_NSEC);
	ck_assert_int_eq(tree_check(st, si.id, why, sizeof(why)), 1);
	ck_assert_str_eq(why,
	    "'d/': modification time 2021-02-03T04:06:06.123456789Z, expected 2021-02-03T04:05:06.123456789Z");
	set_mtime(unit_path("out/d"), T0_SEC, T0_NSEC);
	set_mtime(unit_path("out"), T0_SEC, 0);
	ck_assert_int_eq(tree_check(st, si.id, why, sizeof(why)), 1);
	ck_assert_str_eq(why,
	    "'.': modification time 2021-02-03T04:05:06.000000000Z, expected 2021-02-03T04:05:06.123456789Z");
	set_mtime(unit_path("out"), T0_SEC, T0_NSEC);
	/* another owner (root restores owners) */
	if (geteuid() == 0) {
		snprintf(out, sizeof(out), "%s", unit_path("out/c"));
		ck_assert_int_eq(lchown(out, 1234, 4321), 0);
		ck_assert_int_eq(tree_check(st, si.id, why, sizeof(why)), 1);
		snprintf(out, sizeof(out),
		    "'c': owner 1234:4321, expected %d:%d", (int)geteuid(),
		    (int)getegid());
		ck_assert_str_eq(why, out);
		snprintf(out, sizeof(out), "%s", unit_path("out/c"));
		ck_assert_int_eq(lchown(out, geteuid(), getegid()), 0);
	}
	/* an extended attribute the snapshot does not have */
	snprintf(out, sizeof(out), "%s", unit_path("out/c"));
	if (setxattr(out, "user.redund-test", "x", 1, 0) == 0) {
		ck_assert_int_eq(tree_check(st, si.id, why, sizeof(why)), 1);
		ck_assert_str_eq(why,
		    "'c': extended attributes (ACLs, capabilities) differ");
		ck_assert_int_eq(removexattr(out, "user.redund-test"), 0);
	} else {
		/* a file system without user xattrs (tmpfs before 6.6) */
		ck_assert_int_eq(errno == ENOTSUP || errno == EOPNOTSUPP, 1);
	}
	ck_assert_int_eq(tree_check(st, si.id, why, sizeof(why)), 0);
	/* a file linked to one it was not linked to, times kept */
	snprintf(out, sizeof(out), "%s", unit_path("out/c"));
	ck_assert_int_eq(unlink(out), 0);
	ck_assert_int_eq(link(unit_path("out/a"), out), 0);
	set_mtime(unit_path("out"), T0_SEC, T0_NSEC);
	ck_assert_int_eq(tree_check(st, si.id, why, sizeof(why)), 1);
	ck_assert_ptr_nonnull(strstr(why, "'c'"));
	rd_store_close(st);
}
END_TEST

static Suite *
promote_suite(void)
{
	Suite *s = suite_create("promote");
	TCase *tc;

	tc = tcase_create("journal");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_create_open);
	tcase_add_test(tc, test_options_roundtrip);
	tcase_add_test(tc, test_options_diff);
	tcase_add_test(tc, test_options_corrupt);
	tcase_add_test(tc, test_steps);
	tcase_add_test(tc, test_columns);
	tcase_add_test(tc, test_fall_back);
	tcase_add_test(tc, test_trees);
	tcase_add_test(tc, test_history_items);
	tcase_add_test(tc, test_migrate);
	suite_add_tcase(s, tc);
	tc = tcase_create("checks");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_time_parse);
	tcase_add_test(tc, test_opts_check);
	tcase_add_test(tc, test_opts_switchover);
	tcase_add_test(tc, test_tree_helpers);
	tcase_add_test(tc, test_tree_verify_metadata);
	suite_add_tcase(s, tc);
	return s;
}

int
main(void)
{
	return unit_run(promote_suite());
}
