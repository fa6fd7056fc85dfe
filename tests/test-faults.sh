#!/usr/bin/env bash
# Faults during a bootstrap never leave a billed resource behind: a failed aws call at every position,
# throttling, SIGKILL at several points, and two ferries on one state dir.
#   test-faults.sh matrix-K   the failed call at every position n = K, K+2, K+4... (K = 1, 2: meson runs
#                             the two side by side, each on its own moto)
#   test-faults.sh kill       SIGKILL at points spread over a bootstrap, and right after run-instances
#   test-faults.sh retry      throttling, a server error, the budget's calls failing, two ferries at once
#   test-faults.sh            all of it
source "$(dirname "$0")/libtest.sh"
source "$(dirname "$0")/lib-fault.sh"
source "$(dirname "$0")/lib-lifecycle.sh"
PART=${1:-all}
MATRIX_SLICES=2
cd "$TEST_TMP"
moto_start
export FERRY_POLL_MS=100 FERRY_AWS_BACKOFF_MS=50

BOOT=(bootstrap --cidr 203.0.113.7/32 --bucket ferry-faults-bucket --iam --no-wait-ssh)

# Everything ferry creates, counted by what AWS says (not by ferry's state), in one process (awsb):
# tagged security groups, key pairs, buckets, roles named ferry*, instance profiles, live tagged instances.
leftovers() { awsb counts ferry || fatal "counting what AWS holds failed"; }
live_instances() { local c; c=$(leftovers) && echo "${c##*instances=}"; }
NOTHING="sg=0 keypairs=0 buckets=0 roles=0 profiles=0 instances=0"
ONE_EACH="sg=1 keypairs=1 buckets=1 roles=1 profiles=1 instances=1"

# A finished bootstrap's configuration, as AWS says: the bucket's public access blocked (all four
# settings), exactly one ingress rule (22/tcp from the --cidr) on the group, one live instance.
assert_configured() { # WHAT
    local a
    awsb_calls a 's3api GetPublicAccessBlock {"Bucket": "ferry-faults-bucket"}' \
        'ec2 DescribeSecurityGroups {"Filters": [{"Name": "tag:ferry:name", "Values": ["ferry"]}]}'
    assert_eq "$(jget 'sorted(j["PublicAccessBlockConfiguration"].items())' <<<"${a[0]}")" \
        '[["BlockPublicAcls", true], ["BlockPublicPolicy", true], ["IgnorePublicAcls", true], ["RestrictPublicBuckets", true]]' \
        "the bucket's public access block ($1)"
    assert_eq "$(jget '[(p["IpProtocol"], p["FromPort"], p["ToPort"], [r["CidrIp"] for r in p["IpRanges"]], len(p.get("Ipv6Ranges", [])), len(p.get("UserIdGroupPairs", []))) for g in j["SecurityGroups"] for p in g["IpPermissions"]]' <<<"${a[1]}")" \
        '[["tcp", 22, 22, ["203.0.113.7/32"], 0, 0]]' "the ingress rules ($1)"
    assert_eq "$(live_instances)" 1 "instances ($1)"
}

# The calls of this bootstrap whose failure ferry may get past: the AMI's SSM parameter (ferry falls back
# to describe-images). Any other call is mandatory: failing it fails the bootstrap, exit 1.
FALLBACK_CALLS="ssm get-parameters"

fresh() {
    fault_remove
    fault_op_remove
    moto_reset
    rm -rf .ferry
}

# A clean bootstrap, counting its aws calls (the SIGKILL points come from their number). The matrix
# needs no bootstrap of its own for this: its first position past the last call is a clean bootstrap.
clean_bootstrap() { # [EXIT STATUS of the bootstrap just made, else one is made now]
    local rc=0
    if [ $# = 0 ]; then ferry "${BOOT[@]}" >/dev/null 2>"$TEST_TMP/err" || rc=$?; else rc=$1; fi
    [ "$rc" = 0 ] || { cat "$TEST_TMP/err" >&2; fatal "a clean bootstrap failed (exit $rc)"; }
    total=$(fault_calls)
    assert_ne "$total" 0 "aws calls of a bootstrap"
    assert_configured "a clean bootstrap"
    ok "a full bootstrap makes $total aws calls"
}
if [[ $PART == kill ]]; then
    fault_install fail 0
    clean_bootstrap
fi

# What a teardown leaves in the state dir: its files, modes and contents (but user-data.sh, which every
# launch writes anew before run-instances). After a teardown that left nothing in AWS, ferry's next
# bootstrap depends on this alone; so a fault position whose teardown leaves the same state as a clean
# one needs no bootstrap of its own to show that the next bootstrap works: the one below shows it for
# all of them (each bootstrap is a dozen aws CLI runs, about 12 CPU-seconds).
state_after_teardown() {
    (cd .ferry && find . ! -name user-data.sh -printf '%p %y %m\n' | sort &&
        find . -type f ! -name user-data.sh -print0 | sort -z | xargs -0r sha256sum)
}

# The aws calls a killed ferry left running finish on their own (their answer goes nowhere).
wait_orphans() {
    local i
    for ((i = 0; i < 600; i++)); do
        pgrep -f -- "--endpoint-url $MOTO_URL" >/dev/null || return 0
        sleep 0.1
    done
    fatal "the aws calls of a killed ferry are still running"
}

if [[ $PART == matrix-* || $PART == all ]]; then
    first=1 step=1
    if [[ $PART == matrix-* ]]; then first=${PART#matrix-} step=$MATRIX_SLICES; fi
    declare -A left_state=() # the state each position's teardown left, by position
    for ((n = first; ; n += step)); do
        fresh
        fault_install fail "$n"
        rc=0
        ferry "${BOOT[@]}" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
        if (($(fault_calls) < n)); then
            # Call n never came: a bootstrap untouched by the fault, the clean one.
            fault_remove
            clean_bootstrap "$rc"
            break
        fi
        ((n < 100)) || fatal "a bootstrap still makes call $n: no end to the matrix"
        call=$(sed -n "${n}p" "$FAULT_DIR/calls.log" | cut -d' ' -f2-4)
        op=$(cut -d' ' -f1-2 <<<"$call")
        if [ "$rc" -ne 0 ] || [[ " $FALLBACK_CALLS " != *" $op "* ]]; then
            assert_eq "$rc" 1 "exit status with call $n ($call) failing"
            assert_one_error_line
            assert_file_has_content "$TEST_TMP/err" "$op"
        else
            # Got past the failure: the deployment is whole all the same.
            assert_configured "call $n ($call) failing"
        fi
        fault_remove
        expect_exit 0 ferry teardown --yes
        assert_eq "$(leftovers)" "$NOTHING" "what is left after teardown (fault at call $n: $call)"
        left_state[$n]="$(state_after_teardown)"
        ok "call $n ($call) failing: bootstrap exit $rc, teardown leaves nothing"
    done
    expect_exit 0 ferry teardown --yes
    assert_eq "$(leftovers)" "$NOTHING" "what is left after a clean bootstrap's teardown"
    clean_state=$(state_after_teardown)
    for n in "${!left_state[@]}"; do
        assert_eq "${left_state[$n]}" "$clean_state" "the state teardown leaves (fault at call $n)"
    done
    # Shown once (by the first slice), for the state every position's teardown left.
    if [[ $PART == matrix-1 || $PART == all ]]; then
        expect_exit 0 ferry "${BOOT[@]}"
        assert_configured "a bootstrap from the state a clean teardown leaves"
        ok "teardown of a clean bootstrap leaves nothing, and so does every faulted position's, with the same state, from which a bootstrap makes one instance"
    else
        ok "teardown of a clean bootstrap leaves nothing, and so does every faulted position's, with the same state"
    fi
fi

if [[ $PART == kill || $PART == all ]]; then
    # SIGKILL at six points spread over the bootstrap, each right after a call has done its work and before
    # ferry sees the answer (what it created is not recorded yet), while other calls are in flight. Then
    # a re-run makes exactly one instance and teardown leaves nothing; or teardown alone leaves nothing.
    for k in 1 2 3 4 5 6; do
        at=$((total * k / 7 > 0 ? total * k / 7 : 1))
        fresh
        fault_install kill-after "$at"
        rc=0
        ferry "${BOOT[@]}" >/dev/null 2>&1 || rc=$?
        assert_eq "$rc" 137 "exit status of the ferry killed at call $at"
        call=$(sed -n "${at}p" "$FAULT_DIR/calls.log" | cut -d' ' -f2-3)
        fault_remove
        wait_orphans
        if ((k % 2)); then
            # The re-run makes the rest and adopts what the killed one made: AWS then holds one of each,
            # which is a clean bootstrap's deployment (whose teardown the matrix shows leaves nothing).
            expect_exit 0 ferry "${BOOT[@]}"
            assert_eq "$(leftovers)" "$ONE_EACH" "what AWS holds after SIGKILL at call $at ($call) and a re-run"
            assert_configured "a re-run after SIGKILL at call $at ($call)"
            ok "SIGKILL after call $at ($call), re-run: one of each resource, one instance"
        else
            expect_exit 0 ferry teardown --yes
            assert_eq "$(leftovers)" "$NOTHING" "left after SIGKILL at call $at ($call) and teardown"
            ok "SIGKILL after call $at ($call), then teardown: nothing left"
        fi
    done

    # The client token: SIGKILL right after run-instances has made the instance, before ferry records it
    # (call 12 of 13 in this bootstrap, whichever number it gets). The instance exists, the state has only
    # the token; a re-run finds the instance by tag and launches none.
    fresh
    fault_install kill-after run-instances
    rc=0
    ferry "${BOOT[@]}" >/dev/null 2>&1 || rc=$?
    assert_eq "$rc" 137 "exit status of the ferry killed after run-instances"
    # The calls the launch does not wait for (the group's rule, the bucket's settings, the role's
    # policy) may start after run-instances on a loaded machine: its number need not be the last one.
    at=$(awk '$3 == "run-instances" {print $1}' "$FAULT_DIR/calls.log")
    [[ $at =~ ^[0-9]+$ ]] || fatal "not one run-instances call before the kill: '$at'"
    assert_eq "$(awk '$3 == "describe-instances"' "$FAULT_DIR/calls.log" | wc -l)" 0 \
        "describe-instances calls (the launch's next step) before the kill"
    fault_remove
    wait_orphans
    made=$(awsm ec2 describe-instances --filters Name=tag:ferry:name,Values=ferry \
        Name=instance-state-name,Values=pending,running --query 'Reservations[].Instances[].InstanceId' --output text)
    [[ $made =~ ^i-[0-9a-f]+$ ]] || fatal "the killed run-instances made no single instance: '$made'"
    assert_eq "$(jget 'j["resources"].get("instance", {}).get("id")' <.ferry/state.json)" None "the instance in the state after the kill"
    assert_ne "$(jget 'j["settings"].get("launch_token")' <.ferry/state.json)" None "the client token in the state after the kill"
    fault_install fail 0
    expect_exit 0 ferry "${BOOT[@]}" -v
    assert_file_has_content "$TEST_TMP/err" "found instance $made from an interrupted launch"
    assert_eq "$(awk '$3 == "run-instances"' "$FAULT_DIR/calls.log" | wc -l)" 0 "run-instances calls of the re-run"
    fault_remove
    assert_configured "a re-run after SIGKILL just after run-instances"
    assert_eq "$(jget 'j["resources"]["instance"]["id"]' <.ferry/state.json)" "$made" "the instance recorded by the re-run"
    expect_exit 0 ferry teardown --yes
    assert_eq "$(leftovers)" "$NOTHING" "left after the re-run and teardown"
    ok "SIGKILL right after run-instances (call $at): a re-run finds that instance and makes none; teardown leaves nothing"

fi

if [[ $PART == retry || $PART == all ]]; then
    fresh
    fault_install throttle-all 3
    expect_exit 0 ferry "${BOOT[@]}"
    assert_eq "$(live_instances)" 1 "instances after throttling"
    ok "the first 3 calls throttled (RequestLimitExceeded): retried with backoff, bootstrap succeeds"

    # A server error (an HTTP 500 page) on a call that changes nothing is retried (on a create it is an
    # error like any other: the create may have happened, and the matrix covers that path).
    fault_install server-error 1
    expect_exit 0 ferry ls
    first=$(awk '$1 == 1 {print $2, $3}' "$FAULT_DIR/calls.log")
    assert_eq "$(awk -v op="$first" '($2 " " $3) == op' "$FAULT_DIR/calls.log" | wc -l)" 2 "calls of $first (failed, then retried)"
    ok "a server error on a read-only call (ferry ls) is retried"

    # The budget kind: its calls failing (the account id, the create; the delete in teardown) fail the
    # command, exit 1, and a re-run finishes the work: one budget, recorded, then none.
    account=$(awsm sts get-caller-identity --query Account --output text)
    budgets() { awsm budgets describe-budgets --account-id "$account" | jget '[b["BudgetName"] for b in j.get("Budgets", [])]'; }
    for op in get-caller-identity create-budget; do
        fresh
        fault_op_install "$op:InjectedFault:1"
        expect_exit 1 ferry "${BOOT[@]}" --budget 50
        assert_one_error_line
        assert_file_has_content "$TEST_TMP/err" "$op"
        assert_eq "$(fault_op_count "$op")" 1 "calls of $op"
        assert_eq "$(budgets)" '[]' "budgets after $op failed"
        expect_exit 0 ferry "${BOOT[@]}" --budget 50
        assert_eq "$(budgets)" '["ferry"]' "budgets after a re-run ($op failed first)"
        assert_eq "$(jget 'j["resources"]["budget"]["id"]' <.ferry/state.json)" ferry "the budget in the state"
        assert_configured "a re-run after $op failed"
        ok "the budget's $op failing: bootstrap exit 1, nothing budgeted; a re-run makes one budget"
    done
    fault_op_install delete-budget:InjectedFault:1
    expect_exit 1 ferry teardown --yes
    assert_one_error_line
    assert_file_has_content "$TEST_TMP/err" "delete-budget"
    assert_eq "$(budgets)" '["ferry"]' "budgets after delete-budget failed"
    assert_eq "$(jget 'j["resources"]["budget"]["id"]' <.ferry/state.json)" ferry "the budget still in the state"
    fault_op_remove
    expect_exit 0 ferry teardown --yes
    assert_eq "$(budgets)" '[]' "budgets after teardown again"
    assert_eq "$(leftovers)" "$NOTHING" "left after teardown again"
    ok "delete-budget failing: teardown exit 1, the budget still recorded; teardown again deletes it"

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
fi

done_testing
