#!/usr/bin/env bash
# Faults during a bootstrap never leave a billed resource behind: a failed aws call at every position,
# throttling, SIGKILL at several points, and two ferries on one state dir.
source "$(dirname "$0")/libtest.sh"
source "$(dirname "$0")/lib-fault.sh"
cd "$TEST_TMP"
moto_start
export FERRY_POLL_MS=100 FERRY_AWS_BACKOFF_MS=50

BOOT=(bootstrap --cidr 203.0.113.7/32 --bucket ferry-faults-bucket --iam --no-wait-ssh)

live_instances() {
    awsm ec2 describe-instances --filters Name=tag:ferry:name,Values=ferry \
        Name=instance-state-name,Values=pending,running,stopping,stopped |
        jget 'sum(len(r["Instances"]) for r in j["Reservations"])'
}

# Everything ferry creates, counted by what AWS says (not by ferry's state).
leftovers() {
    local sg kp b r p i
    sg=$(awsm ec2 describe-security-groups --filters Name=tag:ferry:name,Values=ferry | jget 'len(j["SecurityGroups"])')
    kp=$(awsm ec2 describe-key-pairs | jget 'len(j["KeyPairs"])')
    b=$(awsm s3api list-buckets | jget 'len(j["Buckets"])')
    r=$(awsm iam list-roles | jget 'len([x for x in j["Roles"] if x["RoleName"].startswith("ferry")])')
    p=$(awsm iam list-instance-profiles | jget 'len(j["InstanceProfiles"])')
    i=$(live_instances)
    echo "sg=$sg keypairs=$kp buckets=$b roles=$r profiles=$p instances=$i"
}
NOTHING="sg=0 keypairs=0 buckets=0 roles=0 profiles=0 instances=0"

fresh() {
    fault_remove
    moto_reset
    rm -rf .ferry
}

# How many aws calls a full bootstrap makes.
fault_install fail 0
ferry "${BOOT[@]}" >/dev/null 2>"$TEST_TMP/boot.err" || { cat "$TEST_TMP/boot.err" >&2; fatal "a clean bootstrap failed"; }
total=$(fault_calls)
assert_ne "$total" 0 "aws calls of a bootstrap"
ok "a full bootstrap makes $total aws calls"

for ((n = 1; n <= total; n++)); do
    fresh
    fault_install fail "$n"
    rc=0
    ferry "${BOOT[@]}" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
    call=$(sed -n "${n}p" "$FAULT_DIR/calls.log" | cut -d' ' -f2-4)
    if [ "$rc" -ne 0 ]; then
        assert_eq "$rc" 1 "exit status with call $n ($call) failing"
        assert_one_error_line
    fi
    fault_remove
    expect_exit 0 ferry teardown --yes
    assert_eq "$(leftovers)" "$NOTHING" "what is left after teardown (fault at call $n: $call)"
    expect_exit 0 ferry "${BOOT[@]}"
    assert_eq "$(live_instances)" 1 "instances after a fresh bootstrap (fault at call $n)"
    ok "call $n ($call) failing: bootstrap exit $rc, teardown leaves nothing, a new bootstrap makes one instance"
done

fresh
fault_install throttle-all 3
expect_exit 0 ferry "${BOOT[@]}"
assert_eq "$(live_instances)" 1 "instances after throttling"
ok "the first 3 calls throttled (RequestLimitExceeded): retried with backoff, bootstrap succeeds"

# A server error (an HTTP 500 page) on a call that changes nothing is retried (on a create it is an
# error like any other: the create may have happened, and the loop above covers that path).
fault_install server-error 1
expect_exit 0 ferry ls
first=$(awk '$1 == 1 {print $2, $3}' "$FAULT_DIR/calls.log")
assert_eq "$(awk -v op="$first" '($2 " " $3) == op' "$FAULT_DIR/calls.log" | wc -l)" 2 "calls of $first (failed, then retried)"
ok "a server error on a read-only call (ferry ls) is retried"

# SIGKILL at several points, then a re-run: exactly one instance, and teardown leaves nothing.
for delay in 1 3 5 8; do
    fresh
    "$FERRY" "${BOOT[@]}" >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    sleep 1 # let in-flight aws children finish their call
    expect_exit 0 ferry "${BOOT[@]}"
    assert_eq "$(live_instances)" 1 "instances after SIGKILL at ${delay}s and a re-run"
    expect_exit 0 ferry teardown --yes
    assert_eq "$(leftovers)" "$NOTHING" "left after SIGKILL at ${delay}s, re-run, teardown"
    ok "SIGKILL after ${delay}s, re-run: one instance; teardown leaves nothing"
done

for delay in 2 6; do
    fresh
    "$FERRY" "${BOOT[@]}" >/dev/null 2>&1 &
    pid=$!
    sleep "$delay"
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    sleep 1
    expect_exit 0 ferry teardown --yes
    assert_eq "$(leftovers)" "$NOTHING" "left after SIGKILL at ${delay}s and teardown"
    ok "SIGKILL after ${delay}s, then teardown: nothing left"
done

# Two ferries on one state dir: one waits or fails clearly; never two instances.
fresh
rc1=0 rc2=0
"$FERRY" "${BOOT[@]}" >"$TEST_TMP/a.out" 2>"$TEST_TMP/a.err" &
p1=$!
"$FERRY" "${BOOT[@]}" >"$TEST_TMP/b.out" 2>"$TEST_TMP/b.err" &
p2=$!
wait "$p1" || rc1=$?
wait "$p2" || rc2=$?
if [ "$rc1" -ne 0 ]; then assert_file_has_content "$TEST_TMP/a.err" '^error: .*another ferry'; fi
if [ "$rc2" -ne 0 ]; then assert_file_has_content "$TEST_TMP/b.err" '^error: .*another ferry'; fi
[ "$rc1" -eq 0 ] || [ "$rc2" -eq 0 ] || fatal "neither concurrent bootstrap succeeded"
assert_eq "$(live_instances)" 1 "instances after two concurrent bootstraps"
ok "two concurrent bootstraps on one state dir: exits $rc1/$rc2, one instance"

done_testing
