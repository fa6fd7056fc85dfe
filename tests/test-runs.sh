#!/bin/bash
# Runs that live on the remote: run --detach returns at once and attach pulls; cancel leaves no
# snakemake behind; a SIGKILLed ferry leaves the run going and attach finishes it; Ctrl-C, SIGTERM and
# SIGHUP only detach. The loopback sshd and the real snakemake, with a job held by a gate file.
# shellcheck source=tests/libtest.sh
source "$(dirname "$0")/libtest.sh"
# shellcheck source=tests/lib-remote.sh
source "$(dirname "$0")/lib-remote.sh"

PATH=$(path_without_aws)
export PATH

sshd_start
remote_setup_host
R="$TEST_TMP/remote"
RO=("${REMOTE_OPTS[@]}" --remote-dir "$R")
runs_cleanup_on_exit "$R"
runs_gated_workflow "$TEST_TMP/wf"
cd "$TEST_TMP/wf"

run_id() { sed -n 's/^started run \([^ ]*\) on .*/\1/p' "$1" | head -1; }
run_dir() { echo "$R/.ferry/runs/$1"; }
# True when the run's process group has no process left; a pid file that is missing or holds no process
# group fails the test, as does a pgrep that fails.
group_gone() { # RUN
    local f pg rc=0
    f="$(run_dir "$1")/pid"
    pg=$(cat "$f") || fatal "run $1 has no pid file $f"
    [[ $pg =~ ^[0-9]+$ ]] && ((pg > 1)) || fatal "run $1's pid file $f holds '$pg', not a process group"
    pgrep -g "$pg" >/dev/null || rc=$?
    case $rc in
    0) return 1 ;;
    1) return 0 ;;
    *) fatal "pgrep -g $pg failed (exit $rc)" ;;
    esac
}

# --- detach, then attach ----------------------------------------------------------------------------
G1="$TEST_TMP/gate1"
expect_exit 0 ferry run "${RO[@]}" --detach --cores 1 results/slow.txt -- --config "gate=$G1"
id=$(run_id "$TEST_TMP/out")
[ -n "$id" ] || fatal "run --detach printed no run id"
assert_file_has_content "$TEST_TMP/out" "follow it: ferry attach $id --host "
assert_file_has_content "$TEST_TMP/out" "stop it: +ferry cancel $id --host "
assert_not_exists results/slow.txt
d=$(run_dir "$id")
for f in run.json run.sh pid; do assert_file_exists "$d/$f"; done
python3 - "$d/run.json" "$G1" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["targets"] == ["results/slow.txt"], r
assert r["snakemake_args"] == ["--config", "gate=" + sys.argv[2]], r
assert r["argv"][0] == "snakemake" and "--config" in r["argv"], r
assert r["then"] == "keep" and r["pull"] is True and "on_end" in r, r
PY
# The run is in a session of its own, not under the sshd.
pg=$(cat "$d/pid")
assert_eq "$(ps -o sid= -p "$pg" | tr -d ' ')" "$pg" "the run's session"
if sshd_descendants | grep -qx "$pg"; then fatal "the run is still under the sshd"; fi
wait_until 60 'grep -q "waiting for the gate" "$d/log"'
expect_exit 0 ferry status "${RO[@]}"
assert_file_has_content "$TEST_TMP/out" "^runs on 127.0.0.1:$R:"
assert_file_has_content "$TEST_TMP/out" "^  $id  running for [0-9]+ (s|min).*: results/slow.txt"
touch "$G1"
expect_exit 0 ferry attach "${RO[@]}" "$id"
assert_file_has_content "$TEST_TMP/out" "waiting for the gate"
assert_file_has_content "$TEST_TMP/out" "Finished job"
assert_file_has_content "$TEST_TMP/err" "pulled 1 entries"
assert_eq "$(cat results/slow.txt)" "gated content" "pulled output"
assert_eq "$(cat "$d/exit")" 0 "recorded exit status"
cmp ".ferry/logs/run-$id.log" "$d/log" || fatal "the local copy of the log differs from the remote log"
expect_exit 0 ferry status "${RO[@]}" --json
python3 - "$TEST_TMP/out" "$id" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
run = [r for r in doc["runs"] if r["id"] == sys.argv[2]][0]
assert run["state"] == "exited" and run["exit_status"] == 0, run
assert run["record"]["targets"] == ["results/slow.txt"] and run["seconds"] >= 0, run
PY
ok "run --detach returns while the job waits; status shows it running; attach follows it to the end and pulls"

expect_exit 0 ferry attach "${RO[@]}" --tail 2
assert_eq "$(wc -l <"$TEST_TMP/out")" 2 "lines shown with --tail 2"
assert_file_has_content "$TEST_TMP/err" "run $id on .* has ended"
ok "attach to an ended run (the newest by default) with --tail"

# --- cancel ------------------------------------------------------------------------------------------
rm -r results
G2="$TEST_TMP/gate2"
expect_exit 0 ferry run "${RO[@]}" --detach --cores 1 results/slow.txt -- --config "gate=$G2"
id2=$(run_id "$TEST_TMP/out")
d2=$(run_dir "$id2")
wait_until 60 'grep -q "waiting for the gate" "$d2/log"'
expect_exit 0 ferry cancel "${RO[@]}" --grace 5 "$id2"
assert_file_has_content "$TEST_TMP/out" "^cancelled run $id2"
group_gone "$id2" || fatal "processes of the cancelled run are left: $(pgrep -a -g "$(cat "$d2/pid")")"
if pgrep -af "snakemake.*gate=$G2" >/dev/null; then fatal "a snakemake of the cancelled run is left"; fi
assert_file_exists "$d2/cancelled"
expect_exit 0 ferry status "${RO[@]}"
assert_file_has_content "$TEST_TMP/out" "^  $id2  cancelled after"
assert_file_has_content "$TEST_TMP/out" "^  $id  succeeded \(exit 0\) after"
assert_not_exists results/slow.txt
expect_exit 0 ferry cancel "${RO[@]}" "$id2"
assert_file_has_content "$TEST_TMP/out" "nothing to cancel"
expect_exit 0 ferry cancel "${RO[@]}" "$id"
assert_file_has_content "$TEST_TMP/out" "already ended \(exit 0\): nothing to cancel"
expect_exit 1 ferry attach "${RO[@]}" "$id2"
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "run $id2 on .* was cancelled"
expect_exit 1 ferry attach "${RO[@]}" 20000101-000000-dead
assert_one_error_line
expect_exit 2 ferry attach "${RO[@]}" '../x'
assert_one_error_line
ok "cancel stops the run's whole process group and says so; an ended run is a message, exit 0"

# --- a SIGKILLed ferry, then attach ------------------------------------------------------------------
G3="$TEST_TMP/gate3"
"$FERRY" run "${RO[@]}" --cores 1 results/slow.txt -- --config "gate=$G3" >"$TEST_TMP/bg.out" 2>"$TEST_TMP/bg.err" &
pid=$!
wait_until 60 'grep -q "waiting for the gate" "$TEST_TMP/bg.out"'
kill -KILL "$pid"
wait "$pid" || true
id3=$(run_id "$TEST_TMP/bg.err")
d3=$(run_dir "$id3")
kill -0 -- "-$(cat "$d3/pid")" || fatal "the run died with the local ferry"
touch "$G3"
expect_exit 0 ferry attach "${RO[@]}"
assert_file_has_content "$TEST_TMP/err" "attached to run $id3|run $id3 .* has ended"
assert_file_has_content "$TEST_TMP/err" "pulled 1 entries"
assert_eq "$(cat results/slow.txt)" "gated content" "output after attach"
snakemake -n --cores 1 results/slow.txt >"$TEST_TMP/n" 2>&1
assert_file_has_content "$TEST_TMP/n" "Nothing to be done"
ok "SIGKILL of the local ferry leaves the run going; a later attach finishes the work"

# --- Ctrl-C, SIGTERM and SIGHUP detach -----------------------------------------------------------
rm -r results
for s in INT TERM HUP; do
    G="$TEST_TMP/gate-$s"
    # Files of its own: an ssh left by an earlier ferry must not write into what this one is judged by.
    "$FERRY" run "${RO[@]}" --cores 1 results/slow.txt -- --config "gate=$G" >"$TEST_TMP/bg-$s.out" 2>"$TEST_TMP/bg-$s.err" &
    pid=$!
    wait_until 60 'grep -q "waiting for the gate" "$TEST_TMP/bg-$s.out"'
    kill "-$s" "$pid"
    rc=0
    wait "$pid" || rc=$?
    assert_eq "$rc" "$((128 + $(kill -l "$s")))" "exit status after SIG$s"
    assert_file_has_content "$TEST_TMP/bg-$s.err" "detached from run .* \(SIG$s\): it goes on there"
    assert_file_has_content "$TEST_TMP/bg-$s.err" "follow it again: ferry attach "
    assert_file_has_content "$TEST_TMP/bg-$s.err" "stop it: +ferry cancel "
    ids=$(run_id "$TEST_TMP/bg-$s.err")
    kill -0 -- "-$(cat "$(run_dir "$ids")/pid")" || fatal "SIG$s stopped the run"
    expect_exit 0 ferry cancel "${RO[@]}" --grace 5 "$ids"
    group_gone "$ids" || fatal "processes left after cancel"
done
ok "SIGINT, SIGTERM and SIGHUP detach from the run, which goes on; the message says how to attach or cancel"

done_testing
