#!/usr/bin/env bash
# Runs that end while nobody watches: --then stop is carried out by the instance itself. The instance
# is the loopback sshd, whose sessions' aws reaches the test's moto through the endpoint ferry passes
# in the run's record (as an instance's profile would), and "stopped" is moto's word
# (describe-instances). Also: the laptop following the run pulls before the instance stops; attach
# and pull start a self-stopped instance, pull, and stop it again; without a role the laptop says so
# at run and applies --then after its pull; the fault matrix of the self-stop path (an aws failure at
# each of its calls, SIGKILL of the agent or of the run's script) ends with the instance stopped and
# the outputs there. Part terminate: --then terminate by the instance saves the outputs in the store
# first, and attach and pull bring them home from there; without a role, one line at run, and the
# instance stays with the outputs on its disk. Part notify: run --notify's one message through the
# deployment's SNS topic, read through an SQS queue subscribed to it; teardown deletes the topic.
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
# One process polls (awsb): an aws CLI run a poll would cost a CPU-second each. With RUN, also waits
# for that run's agent to record the call (it writes "stopping"/"terminating" once AWS has accepted
# it, which can be after moto already says so).
wait_state() { # STATE [RUN]
    awsb wait-instance "$F_INSTANCE" "$1" 300 ||
        fatal "the instance is not $1 5 minutes after the run's end;" \
            "the agents' records: $(tail -n +1 "$R"/.ferry/runs/*/on-end "$R"/.ferry/runs/*/agent.log 2>&1)"
    if [ $# -gt 1 ]; then
        local word=stopping
        [ "$1" = stopped ] || word=terminating
        wait_until 60 "agent_said '$2' $word"
    fi
}
wait_stopped() { wait_state stopped "$@"; }

# run --notify's messages: the test reads what is published through an SQS queue subscribed to the
# topic (moto delivers to it); the e-mail subscription is what a user gets.
read_topic() { # TOPIC_ARN: sets queue
    local a
    awsb_calls a 'sqs create-queue {"QueueName": "notify-reader", "Attributes": {"VisibilityTimeout": "43200"}}'
    queue=$(jget 'j["QueueUrl"]' <<<"${a[0]}")
    awsb_calls a "sqs get-queue-attributes {\"QueueUrl\": \"$queue\", \"AttributeNames\": [\"QueueArn\"]}"
    awsb call "sns subscribe {\"TopicArn\": \"$1\", \"Protocol\": \"sqs\", \"Endpoint\": \"$(jget 'j["Attributes"]["QueueArn"]' <<<"${a[0]}")\"}" >/dev/null
}
# The messages published since the last look (one read hides a message for 12 h), one a line:
# "SUBJECT | address | the body's first line / its second".
published() {
    awsb call "sqs receive-message {\"QueueUrl\": \"$queue\", \"MaxNumberOfMessages\": 10, \"WaitTimeSeconds\": 1}" |
        jget '"\n".join("%s | %s | %s" % (m["Subject"], m["MessageAttributes"]["email"]["Value"], m["Message"].splitlines()[0] + " / " + m["Message"].splitlines()[1]) for m in (json.loads(x["Body"]) for x in j.get("Messages", [])))'
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
    wait_stopped "$id"
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
        wait_stopped "$idf"
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
    wait_stopped "$idk"
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
    wait_stopped "$idr"
    agent_said "$idr" lost || fatal "the agent did not record the run as lost: $(cat "$dr/on-end")"
    agent_said "$idr" stopping || fatal "no stop after run.sh was killed"
    assert_eq "$(cat "$R/results/slow.txt")" "gated content" "the output on the instance's volume"
    expect_exit 0 ferry pull "${O[@]}" results/slow.txt
    assert_eq "$(cat results/slow.txt)" "gated content" "the output pulled after run.sh was killed"
    assert_eq "$(instance_state "$F_INSTANCE")" stopped "the instance after pull"
    ok "SIGKILL of the run's script: the run counts as lost, the instance stops itself, pull brings the output home"

fi

if in_part terminate; then
    # --- no role: one line at run, and the instance is not terminated with the output on its disk ----------
    assoc=$(awsm ec2 describe-iam-instance-profile-associations --filters "Name=instance-id,Values=$F_INSTANCE")
    profile_arn=$(jget 'j["IamInstanceProfileAssociations"][0]["IamInstanceProfile"]["Arn"]' <<<"$assoc")
    awsm ec2 disassociate-iam-instance-profile \
        --association-id "$(jget 'j["IamInstanceProfileAssociations"][0]["AssociationId"]' <<<"$assoc")" >/dev/null
    G="$TEST_TMP/gate-norole"
    touch "$G"
    expect_exit 0 ferry run "${O[@]}" --detach --then terminate --cores 1 results/slow.txt -- --config "gate=$G"
    idn=$(run_id "$TEST_TMP/out")
    [ "$(grep -c '^note: ' "$TEST_TMP/err")" = 1 ] || fatal "not one line about the missing role: $(cat "$TEST_TMP/err")"
    assert_file_has_content "$TEST_TMP/err" "^note: instance $F_INSTANCE has no role to save the outputs with before it goes .*: --then terminate happens when ferry attach brings the outputs home \(the instance never terminates with outputs only on its disk\); until then it bills"
    assert_eq "$(jget 'j["on_end"]["by"]' <"$(run_dir "$idn")/run.json")" laptop "who carries out --then terminate without a role"
    assert_not_exists "$(run_dir "$idn")/agent.sh"
    wait_until 120 '[ -s "$(run_dir "$idn")/exit" ]'
    assert_eq "$(cat "$R/results/slow.txt")" "gated content" "the output on the instance's disk"
    assert_eq "$(instance_state "$F_INSTANCE")" running "the instance after a run without a role"
    ok "no role: one line at run says what will happen; the run's end leaves the instance running with the output on its disk"
    rm "$R/results/slow.txt"
    awsm ec2 associate-iam-instance-profile --instance-id "$F_INSTANCE" --iam-instance-profile "Arn=$profile_arn" >/dev/null

    # --- detached, --then terminate, a bucket and a role: the outputs go to the store, then the instance ----
    G="$TEST_TMP/gate-terminate"
    expect_exit 0 ferry run "${O[@]}" --detach --then terminate --cores 1 results/slow.txt -- --config "gate=$G"
    if grep -q '^note: ' "$TEST_TMP/err"; then fatal "a note at run with a role and a bucket: $(cat "$TEST_TMP/err")"; fi
    idt=$(run_id "$TEST_TMP/out")
    dt=$(run_dir "$idt")
    python3 - "$dt/run.json" "$F_BUCKET" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
e = r["on_end"]
assert e["then"] == "terminate" and e["by"] == "instance" and e["bucket"] == sys.argv[2], e
assert r["outputs"] == ["results/slow.txt"], r["outputs"]
PY
    touch "$G"
    wait_state terminated "$idt"
    agent_said "$idt" saved "ferry-store/manifests/" || fatal "no save in the agent's record: $(cat "$dt/on-end")"
    agent_said "$idt" terminating "$F_INSTANCE" || fatal "no terminate in the agent's record: $(cat "$dt/on-end")"
    [ "$(grep -nE '^[0-9]+ saved' "$dt/on-end" | cut -d: -f1)" -lt "$(grep -nE '^[0-9]+ terminating' "$dt/on-end" | cut -d: -f1)" ] ||
        fatal "terminated before the save: $(cat "$dt/on-end")"
    key=$(sed -n 's/^[0-9]* saved //p' "$dt/on-end")
    manifest=$(awsm s3 cp "s3://$F_BUCKET/$key" -)
    assert_eq "$(jget 'j["run"]' <<<"$manifest")" "$idt" "the run named in the saved manifest"
    assert_eq "$(jget '[e["path"] for e in j["entries"] if e["type"] == "file"]' <<<"$manifest")" '["results/slow.txt"]' "what the run saved"
    tag=$(awsm ec2 describe-instances --instance-ids "$F_INSTANCE" | jget '{t["Key"]: t["Value"] for t in j["Reservations"][0]["Instances"][0]["Tags"]}.get("ferry:run")')
    case "$tag" in "$idt exit=0 ended="*" then=terminate saved=$key") ;; *) fatal "the instance's ferry:run tag is '$tag'" ;; esac
    ok "detached run, --then terminate, no laptop: the agent saved the output in the store, then terminated the instance"

    expect_exit 0 ferry status "${O[@]}"
    assert_file_has_content "$TEST_TMP/out" "instance +$F_INSTANCE: terminated"
    assert_file_has_content "$TEST_TMP/out" "last run +run $idt ended at [0-9-]+ [0-9:]+ UTC \(exit 0\); its --then terminate: the instance terminated itself"
    assert_file_has_content "$TEST_TMP/out" "outputs +in the store, s3://$F_BUCKET/$key: ferry attach"
    assert_file_has_content "$TEST_TMP/out" "nothing of it bills"
    ok "status tells the story of the terminated instance: the run's end, its exit status, the self-termination, where the outputs are"

    expect_exit 0 ferry attach "${O[@]}" "$idt"
    assert_file_has_content "$TEST_TMP/err" "run $idt has ended \(exit 0\), and instance $F_INSTANCE is terminated: its outputs come from the store"
    assert_file_has_content "$TEST_TMP/err" "pulled 1 entries .* from the store"
    assert_eq "$(cat results/slow.txt)" "gated content" "the output attach brought home from the store"
    snakemake -n --cores 1 results/slow.txt >"$TEST_TMP/n" 2>&1
    assert_file_has_content "$TEST_TMP/n" "Nothing to be done"
    ok "attach after the instance terminated itself brings the outputs home from the store; snakemake -n has nothing to do"

    rm -r results
    expect_exit 0 ferry pull "${O[@]}" results/slow.txt
    assert_file_has_content "$TEST_TMP/out" "pulled 1 entries .* from the store"
    assert_eq "$(cat results/slow.txt)" "gated content" "the output pull brought home from the store"
    ok "pull after the instance terminated itself brings the outputs home from the store"
fi

if in_part spot; then
    # --- a spot instance: the agent watches IMDSv2 for the interruption notice ------------------------------
    # The notice comes from a small IMDS on loopback (a fault injector, like the aws stubs): a token for
    # a PUT, and spot/instance-action for a GET with that token, 404 until $TEST_TMP/imds-notice exists.
    imds_port=$(free_port)
    python3 - "$imds_port" "$TEST_TMP/imds-notice" >"$TEST_TMP/imds.log" 2>&1 <<'PY' &
import http.server, os, sys
port, notice = int(sys.argv[1]), sys.argv[2]
class H(http.server.BaseHTTPRequestHandler):
    def answer(self, code, body=b""):
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_PUT(self):
        ok = self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        self.answer(200 if ok else 400, b"test-token" if ok else b"")
    def do_GET(self):
        if self.headers.get("X-aws-ec2-metadata-token") != "test-token":
            return self.answer(401)
        if self.path == "/latest/meta-data/spot/instance-action" and os.path.exists(notice):
            return self.answer(200, open(notice, "rb").read())
        self.answer(404)
http.server.ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()
PY
    imds_pid=$!
    on_exit "kill $imds_pid"
    wait_for_port "$imds_port" 30 || fatal "the test's IMDS did not start: $(cat "$TEST_TMP/imds.log")"
    export FERRY_IMDS_URL="http://127.0.0.1:$imds_port"
    python3 - <<'PY'
import json
s = json.load(open(".ferry/state.json"))
s["resources"]["instance"]["spot"] = True
json.dump(s, open(".ferry/state.json", "w"))
PY
    cat >>Snakefile <<'SMK'

rule first:
    output:
        "results/first.txt",
    shell:
        "echo first > {output:q}"

rule second:
    input:
        "results/first.txt",
    output:
        "results/second.txt",
    params:
        gate=config.get("gate", "gate"),
    shell:
        "echo 'waiting for the gate'; while [ ! -e {params.gate:q} ]; do sleep 0.1; done; cat {input:q} > {output:q}"
SMK
    G="$TEST_TMP/gate-spot"
    # The laptop follows the run, which mails when it ends or is interrupted.
    ferry run "${O[@]}" --notify you@example.org --cores 1 results/second.txt -- --config "gate=$G" >"$TEST_TMP/spot.out" 2>"$TEST_TMP/spot.err" &
    run_pid=$!
    on_exit "jobs -p | grep -qx $run_pid && kill $run_pid" # still this shell's job: not a reused pid
    wait_until 120 '[ -n "$(run_id "$TEST_TMP/spot.err")" ]'
    ids=$(run_id "$TEST_TMP/spot.err")
    ds=$(run_dir "$ids")
    read_topic "$(jget 'j["resources"]["topic"]["arn"]' <.ferry/state.json)"
    assert_eq "$(jget 'j["on_end"]["imds"]' <"$ds/run.json")" "$FERRY_IMDS_URL" "the IMDS the agent watches"
    wait_until 120 'grep -q "waiting for the gate" "$ds/log"'
    assert_eq "$(cat "$R/results/first.txt")" first "the job finished before the notice"
    echo '{"action": "terminate", "time": "2026-12-03T18:00:00Z"}' >"$TEST_TMP/imds-notice"
    rc=0
    wait "$run_pid" || rc=$?
    assert_eq "$rc" 1 "the exit of ferry run when the notice came"
    [ "$(grep -c '^error: ' "$TEST_TMP/spot.err")" = 1 ] || fatal "not one error line: $(cat "$TEST_TMP/spot.err")"
    assert_file_has_content "$TEST_TMP/spot.err" "^error: run $ids was interrupted: AWS is taking its spot instance back \(spot notice: .*ferry attach $ids .*recovers it on a new instance$"
    wait_until 180 'agent_said "$ids" saved || agent_said "$ids" failed'
    agent_said "$ids" interrupted 'spot notice: \{"action": "terminate"' || fatal "no interruption in the agent's record: $(cat "$ds/on-end")"
    agent_said "$ids" saved "ferry-store/manifests/" || fatal "no save in the agent's record: $(cat "$ds/on-end")"
    [ -s "$ds/exit" ] && [ "$(cat "$ds/exit")" != 0 ] || fatal "snakemake was not stopped by the notice"
    assert_not_exists "$R/results/second.txt"
    key=$(sed -n 's/^[0-9]* saved //p' "$ds/on-end")
    manifest=$(awsm s3 cp "s3://$F_BUCKET/$key" -)
    assert_eq "$(jget 'j["interrupted"]' <<<"$manifest")" True "the saved manifest says interrupted"
    assert_eq "$(jget '[e["path"] for e in j["entries"] if e["type"] == "file"]' <<<"$manifest")" '["results/first.txt"]' "what the interrupted run saved"
    wait_until 60 'agent_said "$ids" notified || agent_said "$ids" failed'
    msgs=$(published)
    case "$msgs" in
    "ferry solo: run $ids interrupted | you@example.org | Run $ids (results/second.txt) was interrupted at "*": AWS is taking back its spot instance $F_INSTANCE (interruption 1). / The outputs it finished are in the store: $key.") ;;
    *) fatal "what was published at the notice: '$msgs'" ;;
    esac
    ok "spot notice mid-run: snakemake stops, the output finished so far goes to the store, the run is recorded as interrupted; the laptop following it says so in one line, and --notify's one message says so"

    # AWS takes the instance back, and its disk with it.
    rm "$TEST_TMP/imds-notice"
    awsm ec2 terminate-instances --instance-ids "$F_INSTANCE" >/dev/null
    awsb wait-instance "$F_INSTANCE" terminated 60 || fatal "the interrupted instance was not terminated"
    rm -rf "$R"
    expect_exit 0 ferry status "${O[@]}"
    assert_file_has_content "$TEST_TMP/out" "last run +run $ids ended at .*: AWS took the spot instance back \(interruption 1\)"
    assert_file_has_content "$TEST_TMP/out" "outputs +those finished, in the store, s3://$F_BUCKET/$key: ferry attach recovers the run"
    assert_file_has_content "$TEST_TMP/out" "interrupted +run $ids at [0-9T:Z-]+ \(interruption 1\): 1 finished files saved in $key"
    spot_type=$(awsm ec2 describe-instances --instance-ids "$F_INSTANCE" | jget 'j["Reservations"][0]["Instances"][0]["InstanceType"]')
    assert_file_has_content "$TEST_TMP/out" "retry cost +$F_INSTANCE $spot_type spot ran [0-9]+ s: (unknown \(no spot price: .+\)|\\\$[0-9.]+ at \\\$[0-9.]+/h)$"
    assert_file_has_content "$TEST_TMP/out" "retries cost +(unknown|\\\$[0-9.]+) for 1 interrupted instances$"
    expect_exit 0 ferry status "${O[@]}" --json
    assert_eq "$(jget '" ".join("%s %s %s %s" % (o["instance"], o["instance_type"], o["market"], o["ran_s"] >= 0) for o in j["interruptions"])' <"$TEST_TMP/out")" "$F_INSTANCE $spot_type spot True" "the interruption's instance in status --json"
    ok "status shows the interruption and where the finished outputs are"

    expect_exit 1 ferry run "${O[@]}" --max-interruptions 1 --cores 1 results/second.txt -- --config "gate=$G"
    assert_one_error_line
    assert_file_has_content "$TEST_TMP/err" "run $ids was interrupted 1 times .*--max-interruptions 1\): not retrying, and nothing of it bills"
    assert_eq "$(jget 'j["resources"]["instance"]["id"]' <.ferry/state.json)" "$F_INSTANCE" "the instance in the state after the refusal"
    [ "$(awsm ec2 describe-instances --filters Name=instance-state-name,Values=pending,running | jget 'sum(len(r["Instances"]) for r in j["Reservations"])')" = 0 ] ||
        fatal "an instance runs after --max-interruptions refused the recovery"
    ok "--max-interruptions reached: one clear line, no replacement launched, nothing billing"

    touch "$G"
    # EC2 has no room for the first replacement: the next type of the plan's order is launched.
    old_type=$spot_type # the interrupted instance's: the replacement is of the same type first
    fault_op_install run-instances:InsufficientInstanceCapacity:1
    expect_exit 0 ferry attach "${O[@]}" "$ids"
    fault_op_remove
    assert_eq "$(fault_op_count run-instances)" 2 "run-instances calls for the replacement"
    assert_file_has_content "$TEST_TMP/err" "^EC2 has no room for a $old_type spot instance \(InsufficientInstanceCapacity\): trying [a-z0-9.-]+, the next cheapest type that fits$"
    tried=$(sed -n 's/^EC2 has no room for .*: trying \([^,]*\), the next cheapest type that fits$/\1/p' "$TEST_TMP/err")
    assert_ne "$tried" "$old_type" "the type tried after the refusal"
    assert_file_has_content "$TEST_TMP/err" "run $ids was interrupted \(AWS took its spot instance back; interruption 1 of at most 3\): recovering it on a new spot instance"
    assert_file_has_content "$TEST_TMP/err" "restored 1 outputs that run $ids finished, from the store"
    new=$(jget 'j["resources"]["instance"]["id"]' <.ferry/state.json)
    assert_ne "$new" "$F_INSTANCE" "the instance after the recovery"
    assert_eq "$(awsm ec2 describe-instances --instance-ids "$new" | jget 'j["Reservations"][0]["Instances"][0].get("InstanceLifecycle")')" spot "the replacement's market"
    assert_eq "$(awsm ec2 describe-instances --instance-ids "$new" | jget 'j["Reservations"][0]["Instances"][0]["InstanceType"]')" "$tried" "the replacement's type"
    assert_eq "$(cat results/second.txt)" first "the output of the recovered run, pulled"
    idr=$(ls "$R/.ferry/runs" | tail -1)
    assert_eq "$(jget 'j["recovers"]' <"$R/.ferry/runs/$idr/run.json")" "$ids" "the run the new one recovers"
    assert_eq "$(jget 'j["on_end"]["notify"]["email"]' <"$R/.ferry/runs/$idr/run.json")" you@example.org "the address the recovered run mails"
    assert_eq "$(grep -c '^rule second:' "$R/.ferry/runs/$idr/log")" 1 "jobs of rule second in the recovered run"
    assert_eq "$(grep -c '^rule first:' "$R/.ferry/runs/$idr/log" || true)" 0 "jobs of rule first in the recovered run (restored)"
    snakemake -n --cores 1 results/second.txt >"$TEST_TMP/n" 2>&1
    assert_file_has_content "$TEST_TMP/n" "Nothing to be done"
    ok "attach recovers the interrupted run on a new spot instance of the next type that fits (EC2 had no room for the first): the finished output restored from the store, only the job left runs"

    # The replacement is interrupted too: the next recovery starts from its type (the fallback), not
    # from the deployment's.
    kept_type=$(jget 'j["settings"].get("instance_type", "t3.medium")' <.ferry/state.json)
    assert_ne "$tried" "$kept_type" "the fallback type against the deployment's (or this case tells nothing)"
    assert_eq "$(jget 'j["on_end"]["instance_type"]' <"$R/.ferry/runs/$idr/run.json")" "$tried" "the type the recovered run's agent records"
    rm -f results/second.txt "$R/results/second.txt"
    G3="$TEST_TMP/gate-spot-2"
    # Files of its own: the shell opens a background job's redirections only after it has gone on, so
    # the wait below could still read the first run's line from a reused file.
    ferry run "${O[@]}" --cores 1 results/second.txt -- --config "gate=$G3" >"$TEST_TMP/spot-2.out" 2>"$TEST_TMP/spot-2.err" &
    run_pid=$!
    wait_until 120 '[ -n "$(run_id "$TEST_TMP/spot-2.err")" ]'
    ids2=$(run_id "$TEST_TMP/spot-2.err")
    wait_until 120 'grep -q "waiting for the gate" "$(run_dir "$ids2")/log"'
    echo '{"action": "terminate", "time": "2026-12-03T19:00:00Z"}' >"$TEST_TMP/imds-notice"
    wait "$run_pid" || true
    wait_until 180 'agent_said "$ids2" saved || agent_said "$ids2" failed'
    agent_said "$ids2" saved "ferry-store/manifests/" || fatal "no save at the second notice: $(cat "$(run_dir "$ids2")/on-end")"
    rm "$TEST_TMP/imds-notice"
    awsm ec2 terminate-instances --instance-ids "$new" >/dev/null
    awsb wait-instance "$new" terminated 60 || fatal "the second interrupted instance was not terminated"
    touch "$G3"
    fault_op_install run-instances:None:0
    expect_exit 0 ferry attach "${O[@]}" "$ids2"
    fault_op_remove
    assert_eq "$(fault_op_count run-instances)" 1 "run-instances calls for the second replacement"
    assert_file_has_content "$TEST_TMP/err" "run $ids2 was interrupted \(AWS took its spot instance back; interruption 1 of at most 3\): recovering it on a new spot instance"
    if grep -q "EC2 has no room" "$TEST_TMP/err"; then fatal "a refusal at the second recovery: $(cat "$TEST_TMP/err")"; fi
    new2=$(jget 'j["resources"]["instance"]["id"]' <.ferry/state.json)
    assert_eq "$(awsm ec2 describe-instances --instance-ids "$new2" | jget 'j["Reservations"][0]["Instances"][0]["InstanceType"]')" "$tried" "the second replacement's type"
    assert_eq "$(cat results/second.txt)" first "the output of the run recovered twice, pulled"
    ok "a second interruption: the replacement starts from the type the interrupted instance had (the fallback $tried), not the deployment's $kept_type"
    awsm ec2 terminate-instances --instance-ids "$new2" >/dev/null
fi

if in_part notify; then
    # --- run --notify: one message through the deployment's SNS topic, sent by the instance ---------------
    no_topic() { # WHAT: no topic in moto, and none in the state
        assert_eq "$(awsb call 'sns list-topics' | jget 'len(j["Topics"])')" 0 "SNS topics after $1"
        assert_eq "$(jget 'j["resources"].get("topic")' <.ferry/state.json)" None "the state's topic after $1"
    }
    expect_exit 2 ferry run "${O[@]}" --detach --notify 'you at example.org' --cores 1 results/slow.txt
    assert_one_error_line
    assert_file_has_content "$TEST_TMP/err" '^error: invalid --notify "you at example.org": give one address, such as you@example.org$'
    no_topic "a bad address"
    expect_exit 2 ferry run "${O[@]}" --host "$(whoami)@127.0.0.1" --notify you@example.org --cores 1 results/slow.txt
    assert_one_error_line
    assert_file_has_content "$TEST_TMP/err" "^error: --notify sends through the deployment's SNS topic; it does not go with --host$"
    ok "--notify with a bad address, or with --host: one line, exit 2, nothing made"

    # Without a role the instance cannot send it, and nothing else could while the laptop is closed.
    assoc=$(awsm ec2 describe-iam-instance-profile-associations --filters "Name=instance-id,Values=$F_INSTANCE")
    profile_arn=$(jget 'j["IamInstanceProfileAssociations"][0]["IamInstanceProfile"]["Arn"]' <<<"$assoc")
    awsm ec2 disassociate-iam-instance-profile \
        --association-id "$(jget 'j["IamInstanceProfileAssociations"][0]["AssociationId"]' <<<"$assoc")" >/dev/null
    expect_exit 1 ferry run "${O[@]}" --detach --notify you@example.org --cores 1 results/slow.txt
    assert_one_error_line
    assert_file_has_content "$TEST_TMP/err" "^error: --notify: instance $F_INSTANCE has no role to send the message with .*nothing else can tell you while the laptop is closed"
    assert_not_exists "$R/.ferry/runs"
    no_topic "no role"
    awsm ec2 associate-iam-instance-profile --instance-id "$F_INSTANCE" --iam-instance-profile "Arn=$profile_arn" >/dev/null
    ok "--notify without a role: one line says what can be done instead, exit 1, no run started, nothing made"

    # A topic of the deployment's name that ferry did not make is neither used nor recorded.
    foreign=$(awsb call 'sns create-topic {"Name": "solo-notify"}' | jget 'j["TopicArn"]')
    expect_exit 1 ferry run "${O[@]}" --detach --notify you@example.org --cores 1 results/slow.txt
    assert_one_error_line
    assert_file_has_content "$TEST_TMP/err" "^error: an SNS topic named solo-notify exists and ferry did not create it \(no ferry:name=solo tag\)"
    assert_eq "$(jget 'j["resources"].get("topic")' <.ferry/state.json)" None "the state's topic after a foreign one"
    awsb call "sns delete-topic {\"TopicArn\": \"$foreign\"}" >/dev/null
    ok "a topic of the deployment's name without ferry's tag: refused in one line, not recorded (so teardown never deletes it)"

    G="$TEST_TMP/gate-notify"
    expect_exit 0 ferry run "${O[@]}" --detach --then stop --notify you@example.org --cores 1 results/slow.txt -- --config "gate=$G"
    idn=$(run_id "$TEST_TMP/out")
    [ "$(grep -c '^note: ' "$TEST_TMP/err")" = 1 ] || fatal "not one note at run: $(cat "$TEST_TMP/err")"
    assert_file_has_content "$TEST_TMP/err" "^note: you@example.org is subscribed to SNS topic solo-notify now: AWS mails it a confirmation first"
    topic=$(jget 'j["resources"]["topic"]["arn"]' <.ferry/state.json)
    assert_eq "$(jget 'j["on_end"]["notify"]["topic"]' <"$(run_dir "$idn")/run.json")" "$topic" "the topic in the run's record"
    awsb_calls a "sns list-tags-for-resource {\"ResourceArn\": \"$topic\"}" \
        "sns list-subscriptions-by-topic {\"TopicArn\": \"$topic\"}" \
        'iam get-role-policy {"RoleName": "solo-ec2", "PolicyName": "solo-s3"}'
    assert_eq "$(jget '{t["Key"]: t["Value"] for t in j["Tags"]}["ferry:name"]' <<<"${a[0]}")" solo "the topic's ferry:name tag"
    assert_eq "$(jget '[(s["Protocol"], s["Endpoint"]) for s in j["Subscriptions"]]' <<<"${a[1]}")" '[["email", "you@example.org"]]' "the topic's subscriptions"
    assert_eq "$(jget '[s["Resource"] for s in j["PolicyDocument"]["Statement"] if s["Action"] == ["sns:Publish"]]' <<<"${a[2]}")" \
        '["arn:aws:sns:eu-central-1:*:solo-notify"]' "what the role may publish to"
    read_topic "$topic"
    touch "$G"
    wait_stopped "$idn"
    agent_said "$idn" notified "you@example.org: ferry solo: run $idn succeeded" || fatal "no message in the agent's record: $(cat "$(run_dir "$idn")/on-end")"
    msgs=$(published)
    assert_eq "$msgs" "ferry solo: run $idn succeeded | you@example.org | Run $idn (results/slow.txt) succeeded at $(date -u -d "@$(cat "$(run_dir "$idn")/ended")" '+%Y-%m-%d %H:%M:%S UTC'). / Instance $F_INSTANCE stops itself now; the outputs stay on its volume." "what was published at the run's end"
    ok "detached run, --then stop, --notify: one message (subject, address, when, what becomes of the instance) published by the instance before it stopped itself"

    # A failed run, --then keep: the agent is there only for the message.
    cat >>Snakefile <<'SMK'

rule broken:
    output:
        "results/broken.txt",
    shell:
        "exit 3"
SMK
    running
    expect_exit 0 ferry run "${O[@]}" --detach --notify you@example.org --cores 1 results/broken.txt
    idf=$(run_id "$TEST_TMP/out")
    if grep -q "subscribed" "$TEST_TMP/err"; then fatal "the address was subscribed twice: $(cat "$TEST_TMP/err")"; fi
    assert_eq "$(jget 'j["resources"]["topic"]["arn"]' <.ferry/state.json)" "$topic" "the topic of the second --notify run"
    wait_until 120 'agent_said "$idf" notified || agent_said "$idf" failed'
    agent_said "$idf" notified || fatal "no message for the failed run: $(cat "$(run_dir "$idf")/on-end")"
    msgs=$(published)
    case "$msgs" in
    "ferry solo: run $idf failed (exit 1) | you@example.org | Run $idf (results/broken.txt) failed (exit 1) at "*" / Instance $F_INSTANCE keeps running (--then keep): it bills until ferry stop or terminate.") ;;
    *) fatal "what was published for the failed run: '$msgs'" ;;
    esac
    assert_eq "$(instance_state "$F_INSTANCE")" running "the instance after a failed --then keep run"
    ok "a failed run with --then keep: one message saying it failed, with its exit status; the instance keeps running"

    expect_exit 0 ferry ls
    assert_file_has_content "$TEST_TMP/out" "^SNS topic +solo-notify +solo-notify +solo +[0-9]+ subscribed, [0-9]+ pending "
    expect_exit 0 ferry status "${O[@]}"
    assert_file_has_content "$TEST_TMP/out" "^  SNS topic +solo-notify \($topic, created by ferry\)$"
    ok "ls and status list the topic"

    # teardown deletes the topic; one created but not yet recorded (a crash between the create call
    # and the record: the state holds only the intent) is found by its name.
    python3 - <<'PY'
import json
s = json.load(open(".ferry/state.json"))
del s["resources"]["topic"]["arn"]
json.dump(s, open(".ferry/state.json", "w"))
PY
    expect_exit 0 ferry teardown --yes --force
    assert_file_has_content "$TEST_TMP/out" "deleted SNS topic solo-notify"
    assert_eq "$(awsb call 'sns list-topics' | jget 'len(j["Topics"])')" 0 "SNS topics after teardown"
    assert_not_exists .ferry/state.json
    ok "teardown deletes the topic, found by its name when the state holds only the intent to make it"
fi

done_testing
