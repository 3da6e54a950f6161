# Integration tests: POSIX sh scripts run with the built tools in PATH.
INTEGRATION_TESTS += \
	tests/integration/t1000-rdsnap-usage.sh \
	tests/integration/t1001-cli-options.sh \
	tests/integration/t1002-json-schema.sh \
	tests/integration/t1005-rdsnap-format.sh \
	tests/integration/t1010-rdsnap-roundtrip.sh \
	tests/integration/t1020-rdsnap-errors.sh \
	tests/integration/t1030-rdsnap-lock.sh \
	tests/integration/t1040-rdsnap-crash.sh \
	tests/integration/t1045-rdsnap-packs.sh \
	tests/integration/t1046-rdsnap-disk-full.sh \
	tests/integration/t1050-rdsnap-damage.sh \
	tests/integration/t1055-rdsnap-verify-catalog.sh \
	tests/integration/t1057-rdsnap-verify-subset.sh \
	tests/integration/t1060-rdsnap-special.sh \
	tests/integration/t1062-rdsnap-exact.sh \
	tests/integration/t1063-rdsnap-deep-chain.sh \
	tests/integration/t1070-rdsnap-changing.sh \
	tests/integration/t1072-rdsnap-exclude.sh \
	tests/integration/t1074-rdsnap-hooks.sh \
	tests/integration/t1075-rdsnap-bracket.sh \
	tests/integration/t1076-rdsnap-progress.sh \
	tests/integration/t1077-rdsnap-rewrite.sh \
	tests/integration/t1078-rdsnap-unreadable.sh \
	tests/integration/t1079-rdsnap-setid.sh \
	tests/integration/t1080-rdsnap-prune.sh \
	tests/integration/t1082-rdsnap-prune-crash.sh \
	tests/integration/t1084-rdsnap-prune-orphans.sh \
	tests/integration/t1090-rdsnap-diff.sh \
	tests/integration/t1092-rdsnap-browse.sh \
	tests/integration/t1095-rdsnap-stats.sh \
	tests/integration/t1096-rdsnap-sqlite.sh \
	tests/integration/t1097-rdsnap-postgresql.sh \
	tests/integration/t1098-rdsnap-fsfreeze.sh \
	tests/integration/t1099-rdsnap-metrics.sh \
	tests/integration/t1100-rdship-usage.sh \
	tests/integration/t1110-rdship-bundle.sh \
	tests/integration/t1120-rdship-integrity.sh \
	tests/integration/t1130-rdship-push.sh \
	tests/integration/t1135-rdship-fanout.sh \
	tests/integration/t1137-rdship-rejoin.sh \
	tests/integration/t1140-rdship-replica.sh \
	tests/integration/t1142-rdship-replica-inplace.sh \
	tests/integration/t1150-rdship-ssh.sh \
	tests/integration/t1160-rdship-unsafe.sh \
	tests/integration/t1165-rdship-forged-objects.sh \
	tests/integration/t1166-rdship-forged-rows.sh \
	tests/integration/t1167-rdship-stream.sh \
	tests/integration/t1168-rdship-apply-unsafe.sh \
	tests/integration/t1169-rdship-cache.sh \
	tests/integration/t1170-rdship-follow.sh \
	tests/integration/t1171-rdship-follow-local.sh
EXTRA_DIST += $(INTEGRATION_TESTS) tests/fixtures/format1-stores.tar.gz \
	tests/fixtures/catalog-unsupported-format.db \
	tests/fixtures/make-format1.sh
INTEGRATION_TESTS += \
	tests/integration/t3000-rdpromote-usage.sh \
	tests/integration/t3005-rdpromote-version.sh \
	tests/integration/t3010-rdpromote-e2e.sh \
	tests/integration/t3020-rdpromote-refusals.sh \
	tests/integration/t3030-rdpromote-resume.sh \
	tests/integration/t3040-rdpromote-drill.sh \
	tests/integration/t3050-rdpromote-validate.sh \
	tests/integration/t3060-rdpromote-replica.sh \
	tests/integration/t3070-rdpromote-switch.sh \
	tests/integration/t3080-rdpromote-rpo.sh \
	tests/integration/t3085-rdpromote-syslog.sh \
	tests/integration/t3090-rdpromote-docs.sh \
	tests/integration/t3095-rdpromote-format1.sh \
	tests/integration/t3100-rdpromote-etcd.sh \
	tests/integration/t3110-rdpromote-switchover.sh
EXTRA_DIST += tests/integration/etcd-lib.sh tests/integration/sshd-lib.sh
EXTRA_DIST += tests/integration/promote-lib.sh tests/integration/forge.py \
	tests/integration/promote-shim.c \
	tests/integration/snap-shim.c \
	tests/integration/bracket-shim.c \
	tests/integration/sqlite-bank.py
# the operator's kit: bash completion (bash; the script re-executes itself)
INTEGRATION_TESTS += tests/integration/t4000-redund-completion.sh
