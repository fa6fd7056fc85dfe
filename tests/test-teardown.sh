#!/usr/bin/env bash
# teardown against moto with the real aws CLI: everything tagged goes, in order; untagged look-alikes,
# other names and the default VPC stay; a lost state still cleans up by tag; a non-empty bucket is
# refused without --force; --dry-run deletes nothing.
source "$(dirname "$0")/libtest.sh"
source "$(dirname "$0")/lib-lifecycle.sh"
source "$(dirname "$0")/lib-fault.sh"
export FERRY_POLL_MS=20
moto_start
cd "$TEST_TMP" || exit 1

# The SNS topics of the region, by name (run --notify's topic is NAME-notify).
topics() { awsb call 'sns list-topics' | jget 'sorted(t["TopicArn"].split(":")[-1] for t in j["Topics"])'; }

if in_part main; then
    # A topic of the deployment's name without ferry's tag (somebody else's) is never touched.
    awsb call 'sns create-topic {"Name": "empty-notify"}' >/dev/null
    expect_exit 0 ferry teardown --name empty
    assert_file_has_content out 'nothing to delete'
    assert_not_exists .ferry
    assert_eq "$(topics)" '["empty-notify"]' "topics after teardown of nothing"
    # SNS closed to the credentials (looked for by name, without a state file): a line, not a failure.
    fault_op_install list-topics:AuthorizationError:1
    expect_exit 0 ferry teardown --name empty
    fault_op_remove
    assert_eq "$(fault_op_count list-topics)" 1 "list-topics calls"
    assert_file_has_content out "^SNS topic empty-notify: not looked up \(.*AuthorizationError"
    ok "teardown of nothing succeeds, creates nothing, and leaves an untagged topic of its name alone; SNS closed to it is a line"

    fixture_deployment td .ferry
    default_vpc=$F_VPC

    # Look-alikes ferry must never touch: same names without the tag, or another name's tag (made in one
    # process: aws-batch.py says what).
    ssh-keygen -q -t ed25519 -N '' -f lookalike >/dev/null
    made=$(awsb lookalikes td "$default_vpc" "$F_AMI" lookalike.pub) || fatal "making the look-alikes failed"
    eval "$made"
    [[ $other_vpc == vpc-* && $lookalike_sg == sg-* && $other_sg == sg-* && $untagged_instance == i-* &&
        $other_instance == i-* ]] || fatal "look-alikes not made: $made"

    # What must still be there, in one process (awsb_calls).
    lookalikes_intact() {
        local a
        awsb_calls a "ec2 describe-vpcs {\"VpcIds\": [\"$default_vpc\", \"$other_vpc\"]}" \
            "ec2 describe-security-groups {\"GroupIds\": [\"$lookalike_sg\", \"$other_sg\"]}" 's3api list-buckets' \
            'ec2 describe-key-pairs {"KeyNames": ["td-2"]}' \
            "ec2 describe-instances {\"InstanceIds\": [\"$untagged_instance\", \"$other_instance\"]}"
        assert_eq "$(jget 'len(j.get("Vpcs", []))' <<<"${a[0]}")" 2 "the default VPC and the other one"
        assert_eq "$(jget 'len(j.get("SecurityGroups", []))' <<<"${a[1]}")" 2 "look-alike groups"
        assert_eq "$(jget 'sorted({b["Name"] for b in j["Buckets"]} & {"td-lookalike", "other-bucket"})' <<<"${a[2]}")" \
            '["other-bucket", "td-lookalike"]' "look-alike buckets"
        assert_eq "$(jget 'len(j.get("KeyPairs", []))' <<<"${a[3]}")" 1 "untagged key pair"
        assert_eq "$(jget '[i["State"]["Name"] for r in j["Reservations"] for i in r["Instances"]]' <<<"${a[4]}")" \
            '["running", "running"]' "look-alike instances"
    }

    expect_exit 0 ferry teardown --name td --dry-run
    assert_file_has_content out "terminate instance $F_INSTANCE"
    assert_file_has_content out "delete security group $F_SG \(td-ssh"
    assert_file_has_content out "keep +vpc $default_vpc \(adopted"
    assert_file_has_content out "would run: aws ec2 terminate-instances --instance-ids $F_INSTANCE"
    assert_file_has_content out "would run: aws ec2 delete-security-group --group-id $F_SG"
    assert_file_has_content out "would run: aws ec2 delete-key-pair --key-name td"
    assert_file_has_content out "would run: aws iam delete-instance-profile --instance-profile-name td-profile"
    assert_file_has_content out "would run: aws s3api delete-bucket --bucket td-bucket"
    assert_file_has_content out "would run: rm -f .ferry/td.pem"
    assert_not_file_has_content out "$lookalike_sg|$other_sg|td-lookalike|other-bucket|$untagged_instance|$other_instance"
    # The order of the compute chain: the instance before its security group.
    assert_eq "$(grep -n 'terminate-instances' out | cut -d: -f1)" "$(grep -n 'would run' out | head -1 | cut -d: -f1)" "instance first"
    assert_eq "$(instance_state "$F_INSTANCE")" running "instance after --dry-run"
    assert_eq "$(tagged_leftovers td)" "instances=1 volumes=1 security_groups=1 key_pairs=1 role profile bucket:td-bucket " "after --dry-run"
    assert_file_exists .ferry/td.pem
    assert_file_exists .ferry/state.json
    ok "teardown --dry-run prints the delete commands in order and deletes nothing"

    # On a terminal, teardown shows the plan and asks once; "n" deletes nothing.
    expect_exit 1 script -qec "$FERRY teardown --name td" /dev/null <<<n
    assert_file_has_content out "terminate instance $F_INSTANCE"
    assert_file_has_content out 'Delete these 8 resources\? \[y/N\]'
    assert_file_has_content out 'error: not confirmed; nothing was deleted'
    assert_eq "$(tagged_leftovers td)" "instances=1 volumes=1 security_groups=1 key_pairs=1 role profile bucket:td-bucket " "after declining"
    ok "teardown asks once on a terminal, and a no deletes nothing"

    echo data >data.txt
    awsm s3api put-object --bucket td-bucket --key 'results/out put.txt' --body data.txt >/dev/null
    expect_exit 1 ferry teardown --name td
    assert_one_error_line
    assert_file_has_content err 'bucket td-bucket is not empty.*--force'
    assert_eq "$(instance_state "$F_INSTANCE")" terminated "instance after refused bucket"
    assert_eq "$(tagged_leftovers td)" "bucket:td-bucket " "only the bucket is left"
    assert_eq "$(jget 'sorted(j["resources"])' <.ferry/state.json)" '["bucket"]' "state keeps the bucket only"
    assert_not_exists .ferry/td.pem
    ok "a non-empty bucket is refused without --force; everything else is gone"

    expect_exit 0 ferry teardown --name td --force
    assert_file_has_content out 'deleted bucket td-bucket'
    assert_eq "$(tagged_leftovers td)" "" "leftovers after teardown --force"
    assert_not_exists .ferry/state.json
    [ -d .ferry ] || fatal "the state dir itself stays"
    lookalikes_intact
    ok "teardown --force empties and deletes the bucket; nothing tagged is left; state.json goes, the dir stays"

    expect_exit 0 ferry teardown --name td
    assert_file_has_content out 'nothing to delete'
    ok "teardown again: nothing to delete, success"

    # --- the state is lost: discovery by tag finds everything -------------------------------------------
    fixture_deployment lost lost-state
    # run --notify's topic, as a run made it (tagged), then the state lost.
    awsb call 'sns create-topic {"Name": "lost-notify", "Tags": [{"Key": "ferry:name", "Value": "lost"}]}' >/dev/null
    rm lost-state/state.json
    expect_exit 0 ferry teardown --name lost --state-dir lost-state
    assert_file_has_content out "terminated instance $F_INSTANCE"
    assert_file_has_content out "deleted SNS topic lost-notify"
    assert_eq "$(tagged_leftovers lost)" "" "leftovers after teardown without state"
    assert_eq "$(topics)" '["empty-notify"]' "topics after teardown without state"
    assert_not_exists lost-state/lost.pem
    ok "teardown with state.json deleted still cleans up by tag, run --notify's topic included"

    # --- partial and odd states ---------------------------------------------------------------------
    fixture_deployment part part-state
    # Already gone behind ferry's back: the instance and the key pair; the role lost its tag (not ferry's then).
    awsm ec2 terminate-instances --instance-ids "$F_INSTANCE" >/dev/null
    awsm ec2 delete-key-pair --key-name part >/dev/null
    awsm iam untag-role --role-name part-ec2 --tag-keys ferry:name
    # The bucket lost its tag but the state says ferry created it: it still goes.
    awsm s3api delete-bucket-tagging --bucket part-bucket
    expect_exit 0 ferry teardown --name part --state-dir part-state
    assert_file_has_content out "keep +role part-ec2 \(exists without ferry's tag"
    assert_file_has_content out "deleted bucket part-bucket"
    awsm iam get-role --role-name part-ec2 >/dev/null || fatal "an untagged role was deleted"
    # Counted from what AWS lists: an aws call that fails gives no number, never a zero.
    assert_eq "$(awsm s3api list-buckets --query "length(Buckets[?Name=='part-bucket'])" --output text)" 0 \
        "the state's bucket, untagged"
    assert_eq "$(tagged_leftovers part)" "role " "only the untagged role is left"
    assert_not_exists part-state/state.json
    ok "a partial deployment tears down; an untagged role of the same name is left alone"

    # --- a VPC ferry created goes; the default VPC never does ------------------------------------------
    vpc=$(awsm ec2 create-vpc --cidr-block 10.7.0.0/16 \
        --tag-specifications 'ResourceType=vpc,Tags=[{Key=ferry:name,Value=net}]' --query Vpc.VpcId --output text)
    subnet=$(awsm ec2 create-subnet --vpc-id "$vpc" --cidr-block 10.7.1.0/24 --query Subnet.SubnetId --output text)
    igw=$(awsm ec2 create-internet-gateway --query InternetGateway.InternetGatewayId --output text)
    awsm ec2 attach-internet-gateway --internet-gateway-id "$igw" --vpc-id "$vpc"
    sg=$(awsm ec2 create-security-group --group-name net-ssh --description x --vpc-id "$vpc" \
        --tag-specifications 'ResourceType=security-group,Tags=[{Key=ferry:name,Value=net}]' --query GroupId --output text)
    mkdir -m 700 net-state
    cat >net-state/state.json <<JSON
{"schema": "ferry-state", "version": 1, "name": "net", "settings": {},
 "resources": {"vpc": {"id": "$vpc", "created": true}, "subnet": {"id": "$subnet", "created": false},
               "security_group": {"id": "$sg", "name": "net-ssh", "created": true}}}
JSON
    # The default VPC tagged by mistake, not in any state: still never deleted.
    awsm ec2 create-tags --resources "$default_vpc" --tags Key=ferry:name,Value=net
    expect_exit 0 ferry teardown --name net --state-dir net-state
    assert_file_has_content out "keep +vpc $default_vpc \(.*the default VPC: left alone"
    assert_eq "$(awsm ec2 describe-vpcs --filters "Name=vpc-id,Values=$vpc" --query 'length(Vpcs)' --output text)" 0 \
        "ferry's VPC"
    assert_eq "$(awsm ec2 describe-internet-gateways --filters "Name=internet-gateway-id,Values=$igw" \
        --query 'length(InternetGateways)' --output text)" 0 "gateway of ferry's VPC"
    assert_eq "$(awsm ec2 describe-vpcs --vpc-ids "$default_vpc" --query 'Vpcs[0].IsDefault' --output text)" True "default VPC"
    lookalikes_intact
    ok "a VPC ferry created goes with its subnet and gateway; the default VPC stays even when tagged"
fi

if in_part retry; then
    # --- AWS refuses while a dependency goes away: teardown waits and retries -------------------------
    fixture_deployment dep dep-state
    fault_op_install delete-security-group:DependencyViolation:3 delete-role:DeleteConflict:1 delete-volume:VolumeInUse:2
    # A volume that does not go with the instance (attached later, DeleteOnTermination false).
    extra_vol=$(awsm ec2 create-volume --availability-zone "${TEST_REGION}a" --size 1 \
        --tag-specifications 'ResourceType=volume,Tags=[{Key=ferry:name,Value=dep}]' --query VolumeId --output text)
    expect_exit 0 ferry teardown --name dep --state-dir dep-state
    fault_op_remove
    assert_file_has_content out "aws ec2 delete-security-group $F_SG refused \(DependencyViolation\); retrying"
    assert_eq "$(fault_op_count delete-security-group)" 4 "delete-security-group calls"
    assert_eq "$(fault_op_count delete-role)" 2 "delete-role calls (after emptying the role)"
    assert_eq "$(fault_op_count delete-volume)" 3 "delete-volume calls"
    assert_file_has_content out "deleted volume $extra_vol"
    assert_eq "$(tagged_leftovers dep)" "" "leftovers after a teardown AWS held up"
    ok "DependencyViolation, DeleteConflict and VolumeInUse are waited out; nothing is left"

    # --- a failing aws call stops a teardown part way; running it again finishes the job --------------
    fixture_deployment flaky flaky-state
    export FERRY_AWS_BACKOFF_MS=10
    failed=0
    # Discovery's calls (the kinds, each bucket's tags, the store's size), counted from a dry run that
    # makes the same ones; then the fault hits deleting call number $try.
    fault_install fail 100000
    expect_exit 0 "$FERRY" teardown --name flaky --state-dir flaky-state --dry-run
    discovery=$(fault_calls)
    fault_remove
    [ "$discovery" -ge 8 ] || fatal "a teardown's discovery made $discovery aws calls, not 8 or more"
    for try in 1 2 3 4; do
        n=$((discovery + try))
        fault_install fail "$n"
        rc=0
        "$FERRY" teardown --name flaky --state-dir flaky-state >out 2>err || rc=$?
        fault_remove
        echo "# try $try, fault at call $n: exit $rc, $(sed -n "${n}p" "$FAULT_DIR/calls.log")"
        [ "$rc" = 1 ] || break
        failed=$((failed + 1))
        assert_one_error_line
        assert_file_has_content err 'injected fault'
        # What the state still names as ferry's is still there (an instance may be terminated but not yet
        # seen so: the next run waits for it).
        if [ -e flaky-state/state.json ]; then
            specs=()
            for kind in $(jget '" ".join(k for k, v in j["resources"].items() if v["created"])' <flaky-state/state.json); do
                case $kind in
                security_group) specs+=("ec2 describe-security-groups {\"GroupIds\": [\"$F_SG\"]}") ;;
                bucket) specs+=('s3api head-bucket {"Bucket": "flaky-bucket"}') ;;
                role) specs+=('iam get-role {"RoleName": "flaky-ec2"}') ;;
                esac
            done
            if ((${#specs[@]})); then
                awsb_calls answers "${specs[@]}"
                for i in "${!specs[@]}"; do
                    [ "$(jget '"Error" in j' <<<"${answers[$i]}")" = False ] ||
                        fatal "recorded in the state but gone after the failed teardown: ${specs[$i]}: ${answers[$i]}"
                done
            fi
        fi
    done
    [ "$failed" -ge 1 ] || fatal "no teardown failed from an injected fault"
    expect_exit 0 ferry teardown --name flaky --state-dir flaky-state
    assert_eq "$(tagged_leftovers flaky)" "" "leftovers after the re-run"
    assert_not_exists flaky-state/state.json
    ok "a teardown cut short by a failing call ($failed times) is finished by running it again"

    fixture_deployment busy busy-state
    fault_install throttle-all 4
    expect_exit 0 ferry teardown --name busy --state-dir busy-state
    fault_remove
    assert_eq "$(tagged_leftovers busy)" "" "leftovers after a throttled teardown"
    ok "throttled calls are retried and the teardown completes"
fi

done_testing
