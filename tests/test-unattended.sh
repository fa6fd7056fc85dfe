#!/usr/bin/env bash
# Runs that end while nobody watches: --then stop is carried out by the instance itself. The instance
# is the loopback sshd, whose sessions' aws reaches the test's moto through the endpoint ferry passes
# in the run's record (as an instance's profile would), and "stopped" is moto's word
# (describe-instances). Also: the laptop following the run pulls before the instance stops; attach
# and pull start a self-stopped instance, pull, and stop it again; without a role the laptop says so
# at run and applies --then after its pull; the fault matrix of the self-stop path (an aws failure at
# each of its calls, SIGKILL of the agent or of the run's script) ends with the instance stopped and
# the outputs there.
source "$(dirname "$0")/libtest.sh"
source "$(dirname "$0")/lib-lifecycle.sh"
source "$(dirname "$0")/lib-remote.sh"
export FERRY_POLL_MS=100
moto_start

# The instance's aws: the real one, behind a wrapper that injects the faults named in
# $TEST_TMP/instance-faults (OPERATION:CODE:TIMES words) when that file exists.
IBIN="$TEST_TMP/instance-bin"
mkdir -p "$IBIN" "$TEST_TMP/ifault"
cat >"$IBIN/aws" <<SH
#!/usr/bin/env bash
if [ -s "$TEST_TMP/instance-faults" ]; then
    export FAULT_OPS=\$(cat "$TEST_TMP/instance-faults") FAULT_OP_DIR="$TEST_TMP/ifault" FAULT_OP_REAL_AWS="$(command -v aws)"
    exec "$FERRY_SOURCE_DIR/tests/fault-aws-op" "\$@"
fi
exec "$(command -v aws)" "\$@"
SH
chmod +x "$IBIN/aws"
instance_faults() { # OPERATION:CODE:TIMES... (none: no faults)
    rm -f "$TEST_TMP"/ifault/count-* "$TEST_TMP/instance-faults"
    [ $# = 0 ] || echo "$*" >"$TEST_TMP/instance-faults"
}
instance_op_count() { cat "$TEST_TMP/ifault/count-$1" 2>/dev/null || echo 0; }
# A login shell's rc file may put pyenv's shims first on the sessions' PATH (bash reads ~/.bashrc for
# ssh commands); with PYENV_VERSION=system a shim runs the next aws on PATH, the wrapper.
SSHD_EXTRA_CONFIG="SetEnv PATH=$IBIN:$(dirname "$(command -v snakemake)"):/usr/local/bin:/usr/bin:/bin AWS_CONFIG_FILE=$AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE=$AWS_SHARED_CREDENTIALS_FILE PYENV_VERSION=system"
export SSHD_EXTRA_CONFIG
sshd_start

runs_gated_workflow "$TEST_TMP/wf"
cd "$TEST_TMP/wf" || exit 1
fixture_deployment solo .ferry
sshd_authorize .ferry/solo.pem
# The fixture's state has no address yet (bootstrap records it once the instance runs).
dns=$(awsm ec2 describe-instances --instance-ids "$F_INSTANCE" --query 'Reservations[0].Instances[0].PublicDnsName' --output text)
python3 - "$dns" <<'PY'
import json, sys
s = json.load(open(".ferry/state.json"))
s["resources"]["instance"]["public_dns"] = sys.argv[1]
json.dump(s, open(".ferry/state.json", "w"))
PY
R="$TEST_TMP/remote"
# shellcheck disable=SC2207
O=($(sshd_ferry_opts) --remote-dir "$R")
runs_cleanup_on_exit "$R"
on_exit "for p in '$R'/.ferry/runs/*/agent.pid; do kill -KILL \"\$(cat \"\$p\")\"; done"

run_id() { sed -n 's/^started run \([^ ]*\) on .*/\1/p' "$1" | head -1; }
run_dir() { echo "$R/.ferry/runs/$1"; }
# The agent's record of run ID has an event WORD (and DETAIL matching, when given).
agent_said() { grep -qE "^[0-9]+ $2( |$)${3:-}" "$(run_dir "$1")/on-end" 2>/dev/null; }
# Starts a detached --then stop run held by a gate; prints its id.
detached_stop_run() {
    expect_exit 0 ferry run "${O[@]}" --detach --then stop --cores 1 results/slow.txt -- --config "gate=$1"
    run_id "$TEST_TMP/out"
}
# Waits for moto to say the instance is stopped. The bound is liveness only (a loaded machine, and the
# faults' backoff, stretch the time): how fast the agent stops it is measured by scripts/bench/unattended
# (aim: 60 s), not asserted here.
wait_stopped() {
    local deadline=$(($(date +%s) + 300))
    until [ "$(instance_state "$F_INSTANCE")" = stopped ]; do
        [ "$(date +%s)" -le "$deadline" ] || fatal "the instance is not stopped 5 minutes after the run's end;" \
            "the agents' records: $(tail -n +1 "$R"/.ferry/runs/*/on-end "$R"/.ferry/runs/*/agent.log 2>&1)"
        sleep 0.5
    done
}

# A detached --then stop run needs a running instance: start it when an earlier case left it stopped.
running() { [ "$(instance_state "$F_INSTANCE")" = running ] || expect_exit 0 ferry start; }

if in_part stop; then
    # --- detached, --then stop, the laptop never attaches -----------------------------------------------
    G1="$TEST_TMP/gate1"
    id=$(detached_stop_run "$G1")
    [ -n "$id" ] || fatal "run --detach printed no run id"
    d=$(run_dir "$id")
    python3 - "$d/run.json" "$F_INSTANCE" "$MOTO_URL" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
e = r["on_end"]
assert e["then"] == "stop" and e["by"] == "instance", e
assert e["instance_id"] == sys.argv[2] and e["region"] == "eu-central-1" and e["endpoint_url"] == sys.argv[3], e
PY
    wait_until 60 'grep -q "waiting for the gate" "$d/log"'
    kill -0 "$(cat "$d/agent.pid")" || fatal "the run's agent is not running"
    assert_eq "$(ps -o sid= -p "$(cat "$d/agent.pid")" | tr -d ' ')" "$(cat "$d/agent.pid")" "the agent's session"
    assert_eq "$(instance_state "$F_INSTANCE")" running "the instance while the run goes on"
    touch "$G1"
    wait_stopped
    stopped_at=$(date +%s)
    assert_eq "$(cat "$d/exit")" 0 "the run's exit status"
    took=$((stopped_at - $(cat "$d/ended")))
    agent_said "$id" tagged "ferry:run=$id exit=0 ended=" || fatal "no tag in the agent's record: $(cat "$d/on-end")"
    agent_said "$id" stopping "$F_INSTANCE" || fatal "no stop in the agent's record: $(cat "$d/on-end")"
    if agent_said "$id" waiting; then fatal "the agent waited for a laptop that never followed"; fi
    tag=$(awsm ec2 describe-instances --instance-ids "$F_INSTANCE" | jget '{t["Key"]: t["Value"] for t in j["Reservations"][0]["Instances"][0]["Tags"]}.get("ferry:run")')
    case "$tag" in "$id exit=0 ended="*" then=stop") ;; *) fatal "the instance's ferry:run tag is '$tag'" ;; esac
    assert_not_exists results/slow.txt
    ok "detached run, --then stop, no laptop: moto says stopped ${took} s after the run's end; the agent tagged it first"

    expect_exit 0 ferry status "${O[@]}"
    assert_file_has_content "$TEST_TMP/out" "instance +$F_INSTANCE: stopped"
    assert_file_has_content "$TEST_TMP/out" "last run +run $id ended at [0-9-]+ [0-9:]+ UTC \(exit 0\); its --then stop: the instance stopped itself \(User initiated"
    assert_file_has_content "$TEST_TMP/out" "outputs +on the instance's volume: ferry attach brings them home"
    expect_exit 0 ferry status "${O[@]}" --json
    case "$(jget 'j["live"]["last_run"]' <"$TEST_TMP/out")" in "run $id ended at "*) ;; *) fatal "status --json has no last_run" ;; esac
    ok "status tells the story of the stopped instance: the run's end, its exit status, the self-stop, where the outputs are"

    expect_exit 0 ferry attach "${O[@]}" "$id"
    assert_file_has_content "$TEST_TMP/err" "instance $F_INSTANCE is stopped \(run $id ended at .*\): starting it to bring the outputs home, then stopping it again"
    assert_file_has_content "$TEST_TMP/err" "pulled 1 entries"
    assert_file_has_content "$TEST_TMP/err" "stopped instance $F_INSTANCE again"
    assert_eq "$(cat results/slow.txt)" "gated content" "the output attach brought home"
    assert_eq "$(instance_state "$F_INSTANCE")" stopped "the instance after attach"
    snakemake -n --cores 1 results/slow.txt >"$TEST_TMP/n" 2>&1
    assert_file_has_content "$TEST_TMP/n" "Nothing to be done"
    ok "attach later starts the instance, brings the outputs home, and stops it again; snakemake -n has nothing to do"

    # --- the laptop follows: the instance waits for its pull, then stops itself -------------------------
    rm -r results
    running
    G2="$TEST_TMP/gate2"
    touch "$G2"
    # The laptop's aws counts its stop-instances calls (none may fail: TIMES 0).
    fault_op_install stop-instances:None:0
    expect_exit 0 ferry run "${O[@]}" --then stop --cores 1 results/slow.txt -- --config "gate=$G2"
    fault_op_remove
    assert_eq "$(fault_op_count stop-instances)" 0 "stop-instances calls of the laptop"
    id2=$(run_id "$TEST_TMP/err")
    assert_file_has_content "$TEST_TMP/err" "pulled 1 entries"
    assert_file_has_content "$TEST_TMP/err" "instance $F_INSTANCE stopped itself when run $id2 ended"
    assert_eq "$(cat results/slow.txt)" "gated content" "the output pulled while following"
    assert_eq "$(instance_state "$F_INSTANCE")" stopped "the instance after a followed run"
    agent_said "$id2" released "by the laptop" || fatal "the agent did not wait for the pull: $(cat "$(run_dir "$id2")/on-end")"
    [ "$(grep -nE '^[0-9]+ released' "$(run_dir "$id2")/on-end" | cut -d: -f1)" -lt \
        "$(grep -nE '^[0-9]+ stopping' "$(run_dir "$id2")/on-end" | cut -d: -f1)" ] || fatal "stopped before the pull"
    ok "the laptop following a --then stop run pulls first; then the instance stops itself, once"

    # --- pull wakes a stopped instance too ------------------------------------------------------------------
    rm -r results
    expect_exit 0 ferry pull "${O[@]}" results/slow.txt
    assert_file_has_content "$TEST_TMP/err" "instance $F_INSTANCE is stopped .*starting it to bring the outputs home"
    assert_eq "$(cat results/slow.txt)" "gated content" "the output pull brought home"
    assert_eq "$(instance_state "$F_INSTANCE")" stopped "the instance after pull"
    ok "pull starts a stopped instance, pulls, and stops it again"

    # --- no role: one line at run, and the laptop applies --then after its pull -----------------------------
    rm -r results
    running
    assoc=$(awsm ec2 describe-iam-instance-profile-associations --filters "Name=instance-id,Values=$F_INSTANCE" |
        jget 'j["IamInstanceProfileAssociations"][0]["AssociationId"]')
    awsm ec2 disassociate-iam-instance-profile --association-id "$assoc" >/dev/null
    G="$TEST_TMP/gate-norole"
    touch "$G"
    expect_exit 0 ferry run "${O[@]}" --then stop --cores 1 results/slow.txt -- --config "gate=$G"
    idn=$(run_id "$TEST_TMP/err")
    [ "$(grep -c '^note: instance .* has no role' "$TEST_TMP/err")" = 1 ] || fatal "not one line about the missing role"
    assert_file_has_content "$TEST_TMP/err" "^note: instance $F_INSTANCE has no role to stop itself with .*: --then stop happens when ferry attach brings the outputs home; until then it bills \(at most until its 12 h lifetime cap\)$"
    assert_eq "$(jget 'j["on_end"]["by"]' <"$(run_dir "$idn")/run.json")" laptop "who carries out --then without a role"
    assert_not_exists "$(run_dir "$idn")/agent.sh"
    assert_eq "$(cat results/slow.txt)" "gated content" "the output without a role"
    assert_file_has_content "$TEST_TMP/err" "stopped instance $F_INSTANCE"
    assert_eq "$(instance_state "$F_INSTANCE")" stopped "the instance after the laptop's --then"
    ok "no role: one line at run says what will happen; the laptop pulls, then stops the instance; nothing lost"

fi

if in_part faults; then
    # --- the fault matrix of the self-stop path -----------------------------------------------------------
    for fault in create-tags:RequestLimitExceeded:1 stop-instances:InternalError:1 stop-instances:RequestLimitExceeded:2; do
        running
        instance_faults "$fault"
        G="$TEST_TMP/gate-$fault"
        idf=$(detached_stop_run "$G")
        touch "$G"
        wait_stopped
        op=${fault%%:*}
        times=${fault##*:}
        assert_eq "$(instance_op_count "$op")" "$((times + 1))" "calls of $op on the instance with $fault"
        agent_said "$idf" retry "" || fatal "no retry in the agent's record with $fault"
        agent_said "$idf" stopping || fatal "no stop with $fault: $(cat "$(run_dir "$idf")/on-end")"
        instance_faults
        # attach brings outputs home from a self-stopped instance (part stop): here they stay on its volume.
        assert_eq "$(cat "$R/results/slow.txt")" "gated content" "the output on the instance's volume after $fault"
        rm "$R/results/slow.txt"
    done
    ok "an aws failure at each call of the self-stop path (tagging, stopping; throttled or not) is retried: stopped, the output on its volume"

    # SIGKILL of the agent while the run goes on: run.sh starts another when snakemake ends.
    running
    G="$TEST_TMP/gate-kill-agent"
    idk=$(detached_stop_run "$G")
    dk=$(run_dir "$idk")
    wait_until 60 'grep -q "waiting for the gate" "$dk/log"'
    first=$(cat "$dk/agent.pid")
    kill -KILL "$first"
    # Its pid is another process's by the run's end (reused; a zombie not yet reaped answers kill -0
    # the same way): the replacement is not fooled by it.
    sleep 600 &
    squatter=$!
    on_exit "kill $squatter"
    echo "$squatter" >"$dk/agent.pid"
    touch "$G"
    wait_stopped
    kill "$squatter"
    assert_ne "$(cat "$dk/agent.pid")" "$squatter" "the agent after the first was killed"
    agent_said "$idk" stopping || fatal "no stop after the agent was killed"
    assert_eq "$(cat "$R/results/slow.txt")" "gated content" "the output on the instance's volume"
    rm "$R/results/slow.txt"
    ok "SIGKILL of the run's agent, its pid taken by another process: another agent carries out --then at the run's end; the output is on its volume"

    # SIGKILL of the run's script (run.sh) while snakemake goes on: the agent waits for what is left of
    # the run, records it as lost, and stops the instance; pull brings the output home.
    rm -rf results
    running
    G="$TEST_TMP/gate-kill-run"
    idr=$(detached_stop_run "$G")
    dr=$(run_dir "$idr")
    wait_until 60 'grep -q "waiting for the gate" "$dr/log"'
    kill -KILL "$(cat "$dr/pid")"
    touch "$G"
    wait_stopped
    agent_said "$idr" lost || fatal "the agent did not record the run as lost: $(cat "$dr/on-end")"
    agent_said "$idr" stopping || fatal "no stop after run.sh was killed"
    assert_eq "$(cat "$R/results/slow.txt")" "gated content" "the output on the instance's volume"
    expect_exit 0 ferry pull "${O[@]}" results/slow.txt
    assert_eq "$(cat results/slow.txt)" "gated content" "the output pulled after run.sh was killed"
    assert_eq "$(instance_state "$F_INSTANCE")" stopped "the instance after pull"
    ok "SIGKILL of the run's script: the run counts as lost, the instance stops itself, pull brings the output home"

fi

done_testing
