#!/bin/bash
# A link that drops mid-run: the sshd and every session under it are killed, and the sshd comes back on
# the same port. ferry run says so, reconnects, resumes the log at the byte where it stopped (the local
# copy equals the remote log), exits 0 and pulls; the local snakemake then has nothing to do.
# shellcheck source=tests/libtest.sh
source "$(dirname "$0")/libtest.sh"
# shellcheck source=tests/lib-remote.sh
source "$(dirname "$0")/lib-remote.sh"

PATH=$(path_without_aws)
export PATH

sshd_start
remote_setup_host
R="$TEST_TMP/remote"
runs_cleanup_on_exit "$R"
runs_gated_workflow "$TEST_TMP/wf"
cd "$TEST_TMP/wf"
G="$TEST_TMP/gate"

"$FERRY" run "${REMOTE_OPTS[@]}" --remote-dir "$R" --cores 1 results/slow.txt -- --config "gate=$G" \
    >"$TEST_TMP/run.out" 2>"$TEST_TMP/run.err" &
pid=$!
wait_until 60 'grep -q "waiting for the gate" "$TEST_TMP/run.out"'
id=$(sed -n 's/^started run \([^ ]*\) on .*/\1/p' "$TEST_TMP/run.err")
d="$R/.ferry/runs/$id"
pg=$(cat "$d/pid")

sshd_kill_all
kill -s 0 -- "-$pg" || fatal "the run died with the sshd"
wait_until 60 'grep -q "connection to 127.0.0.1 lost" "$TEST_TMP/run.err"'
kill -0 "$pid" || fatal "ferry run gave up at once"
# While the link is down the job goes on and writes more of the log.
touch "$G"
wait_until 60 '[ -e "$d/exit" ]'
sshd_restart
rc=0
wait "$pid" || rc=$?
sed 's/^/# err: /' "$TEST_TMP/run.err" >&2
assert_eq "$rc" 0 "ferry run's exit status after the link came back"
assert_file_has_content "$TEST_TMP/run.err" "reconnected to 127.0.0.1 after [0-9.]+ s; the log resumes at byte [0-9]+"
assert_file_has_content "$TEST_TMP/run.err" "pulled 1 entries"
assert_file_has_content "$TEST_TMP/run.out" "Finished job"
assert_eq "$(cat results/slow.txt)" "gated content" "pulled output"
cmp ".ferry/logs/run-$id.log" "$d/log" || fatal "the local log differs from the remote one (a line lost or repeated)"
cmp "$TEST_TMP/run.out" "$d/log" || fatal "what ferry showed differs from the remote log"
snakemake -n --cores 1 results/slow.txt >"$TEST_TMP/n" 2>&1
assert_file_has_content "$TEST_TMP/n" "Nothing to be done"
ok "link drop mid-run: ferry reconnects, resumes the log at the exact byte, exits 0 and pulls"

# The link stays down: ferry gives up after --reconnect-timeout with one line, the run goes on.
rm -r results
G2="$TEST_TMP/gate2"
# Files of its own: the shell opens a background job's redirections only after it has gone on, so the
# wait below could still read the first run's lines from reused ones.
"$FERRY" run "${REMOTE_OPTS[@]}" --remote-dir "$R" --cores 1 --reconnect-timeout 2 results/slow.txt \
    -- --config "gate=$G2" >"$TEST_TMP/run-2.out" 2>"$TEST_TMP/run-2.err" &
pid=$!
wait_until 60 'grep -q "waiting for the gate" "$TEST_TMP/run-2.out"'
id2=$(sed -n 's/^started run \([^ ]*\) on .*/\1/p' "$TEST_TMP/run-2.err")
sshd_kill_all
rc=0
wait "$pid" || rc=$?
assert_eq "$rc" 1 "exit status when the link does not come back"
assert_file_has_content "$TEST_TMP/run-2.err" "^error: no connection to 127.0.0.1 for 2 s .*the run $id2 goes on there: ferry attach $id2"
kill -s 0 -- "-$(cat "$R/.ferry/runs/$id2/pid")" || fatal "the run died"
sshd_restart
touch "$G2"
expect_exit 0 ferry attach "${REMOTE_OPTS[@]}" --remote-dir "$R" "$id2"
assert_eq "$(cat results/slow.txt)" "gated content" "pulled output"
ok "a link that stays down: one error line after --reconnect-timeout; attach finishes later"

done_testing
