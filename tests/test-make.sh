#!/bin/bash
# templates/ferry.mk driven by make: push, run and pull over --host against a loopback sshd.
# shellcheck source=tests/libtest.sh
source "$(dirname "$0")/libtest.sh"
# shellcheck source=tests/lib-remote.sh
source "$(dirname "$0")/lib-remote.sh"

command -v make >/dev/null || fatal "make is not installed"
sshd_start
remote_setup_host
remote_example_workflow "$TEST_TMP/wf"
cd "$TEST_TMP/wf"
cat >Makefile <<MK
include $FERRY_TEMPLATES_DIR/ferry.mk
MK
flags="${REMOTE_OPTS[*]} --remote-dir $TEST_TMP/remote"

expect_exit 2 make ferry-run FERRY="$FERRY" FERRY_FLAGS="$flags"
assert_file_has_content "$TEST_TMP/err" "set TARGET="
ok "ferry-run without TARGET says what to set"

expect_exit 0 make ferry-push FERRY="$FERRY" FERRY_NAME=mk FERRY_FLAGS="$flags" TARGET=results/summary.tsv
assert_file_has_content "$TEST_TMP/out" "pushed 4 of 4 files"
assert_file_exists "$TEST_TMP/remote/data/alpha.txt"
ok "make ferry-push"

expect_exit 0 make ferry-run FERRY="$FERRY" FERRY_NAME=mk FERRY_FLAGS="$flags" TARGET=results/summary.tsv CORES=2
assert_file_has_content "$TEST_TMP/err" "pushed 0 of 4 files"
assert_file_has_content "$TEST_TMP/out" -e "--cores '2'"
assert_file_exists results/summary.tsv
snakemake -n --cores 1 results/summary.tsv >"$TEST_TMP/n" 2>&1
assert_file_has_content "$TEST_TMP/n" "Nothing to be done"
ok "make ferry-run TARGET= CORES=: ran remotely, outputs pulled"

rm -rf results
expect_exit 0 make ferry-pull FERRY="$FERRY" FERRY_NAME=mk FERRY_FLAGS="$flags" TARGET=results/summary.tsv
assert_file_exists results/summary.tsv
ok "make ferry-pull"

# The failing remote command's status fails make.
expect_exit 2 make ferry-run FERRY="$FERRY" FERRY_NAME=mk FERRY_FLAGS="$flags" TARGET=no/such/target
ok "a failing ferry-run fails make"

done_testing
