#!/usr/bin/env bash
# run -- --use-conda on a remote that has neither conda nor mamba (this machine has neither; no conda
# channel is reachable here, so building an environment is not tested): one line saying what to
# install, before snakemake starts there.
source "$(dirname "$0")/libtest.sh"
source "$(dirname "$0")/lib-remote.sh"
sshd_start
remote_setup_host
remote_example_workflow "$TEST_TMP/wf"
cd "$TEST_TMP/wf" || exit 1

! command -v conda >/dev/null && ! command -v mamba >/dev/null || fatal "this test needs a machine without conda or mamba"

R="$TEST_TMP/remote"
expect_exit 1 ferry run "${REMOTE_OPTS[@]}" --remote-dir "$R" --cores 1 results/summary.tsv -- --use-conda
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" '^error: --use-conda, but 127\.0\.0\.1 has neither conda nor mamba on its PATH: install one there'
assert_not_exists "$R/.snakemake/log"
assert_not_exists "$R/results/summary.tsv"
ok "--use-conda without conda or mamba on the remote: one line, and snakemake never starts there"

expect_exit 0 ferry run "${REMOTE_OPTS[@]}" --remote-dir "$R" --cores 1 results/summary.tsv
assert_file_exists results/summary.tsv
ok "the same run without --use-conda goes through"

done_testing
