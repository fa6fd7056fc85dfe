#!/usr/bin/env bash
# bootstrap and the step commands against moto with the real aws CLI, checked with aws describe calls
# (never with ferry's own word): the resources, their tags, the pem, the one SSH rule, the one-bucket
# policy, the instance's profile, volume, user data and shutdown behaviour; a re-run makes nothing;
# SSH is waited for on a real sshd; --dry-run makes nothing; teardown leaves nothing, even without state.
source "$(dirname "$0")/libtest.sh"
source "$(dirname "$0")/lib-lifecycle.sh"
export FERRY_POLL_MS=50
moto_start
if in_part create; then sshd_start; fi
cd "$TEST_TMP" || exit 1

default_vpc=$(awsm ec2 describe-vpcs --filters Name=is-default,Values=true --query 'Vpcs[0].VpcId' --output text)

if in_part create; then
    # --- a fresh bootstrap, waiting for SSH on the test sshd ----------------------------------------------
    # The key pair comes first so the sshd can authorize it; bootstrap then adopts it and waits for SSH.
    expect_exit 0 ferry keypair
    assert_mode .ferry 700
    assert_mode .ferry/ferry.pem 400
    assert_file_has_content .ferry/.gitignore '^\*$'
    sshd_authorize .ferry/ferry.pem
    ok "keypair: a 0400 pem in a 0700 state dir"

    # shellcheck disable=SC2046
    expect_exit 0 ferry bootstrap --cidr 203.0.113.7/32 --bucket ferry-boot-bucket --iam --volume-size 12 \
        --max-hours 3 --instance-type t3.small $(sshd_ferry_opts)
    assert_file_has_content out '^instance +i-[0-9a-f]+ +t3.small +running'
    assert_file_has_content out '^ssh +ferry ssh$'
    assert_file_has_content out 'terminates itself 3 h after launch'
    assert_file_has_content out '^created +.*security group.*instance'
    ok "bootstrap waits for SSH and prints a summary"

    # What AWS holds, asked in two batches of calls (one process each, awsb_calls): what needs no id, then
    # what needs the instance's.
    a=() b=()
    awsb_calls a 'ec2 describe-instances {"Filters": [{"Name": "tag:ferry:name", "Values": ["ferry"]},
        {"Name": "instance-state-name", "Values": ["pending", "running"]}]}' \
        'ec2 describe-key-pairs {"KeyNames": ["ferry"]}' \
        's3api get-bucket-tagging {"Bucket": "ferry-boot-bucket"}' 's3api get-public-access-block {"Bucket": "ferry-boot-bucket"}' \
        'iam get-role-policy {"RoleName": "ferry-ec2", "PolicyName": "ferry-s3"}' 'iam get-role {"RoleName": "ferry-ec2"}' \
        'iam get-instance-profile {"InstanceProfileName": "ferry-profile"}'
    instance=$(jget '[i["InstanceId"] for r in j["Reservations"] for i in r["Instances"]]' <<<"${a[0]}")
    assert_eq "$(echo "$instance" | jget 'len(j)')" 1 "tagged live instances"
    instance=$(echo "$instance" | jget 'j[0]')
    awsb_calls b "ec2 describe-instances {\"InstanceIds\": [\"$instance\"]}" \
        "ec2 describe-volumes {\"Filters\": [{\"Name\": \"attachment.instance-id\", \"Values\": [\"$instance\"]}]}" \
        "ec2 describe-instance-attribute {\"InstanceId\": \"$instance\", \"Attribute\": \"userData\"}" \
        "ec2 describe-instance-attribute {\"InstanceId\": \"$instance\", \"Attribute\": \"instanceInitiatedShutdownBehavior\"}"
    desc=$(jget 'j["Reservations"][0]["Instances"][0]' <<<"${b[0]}")
    assert_eq "$(echo "$desc" | jget 'j["InstanceType"]')" t3.small "instance type"
    assert_eq "$(echo "$desc" | jget 'j["KeyName"]')" ferry "key name"
    assert_eq "$(echo "$desc" | jget '"ferry-profile" in j["IamInstanceProfile"]["Arn"]')" True "instance profile"
    assert_eq "$(echo "$desc" | jget '{t["Key"]: t["Value"] for t in j["Tags"]}["Name"]')" ferry "Name tag"
    sg=$(echo "$desc" | jget 'j["SecurityGroups"][0]["GroupId"]')
    assert_eq "$(echo "$desc" | jget 'len(j["SecurityGroups"])')" 1 "security groups on the instance"
    volume=$(jget 'j["Volumes"][0]' <<<"${b[1]}")
    assert_eq "$(echo "$volume" | jget 'j["Size"]')" 12 "root volume size"
    assert_eq "$(echo "$volume" | jget 'j["VolumeType"]')" gp3 "root volume type"
    assert_eq "$(echo "$desc" | jget '[(b["DeviceName"], b["Ebs"]["DeleteOnTermination"]) for b in j["BlockDeviceMappings"]]')" \
        '[["/dev/xvda", true]]' "root device deleted on termination"
    assert_eq "$(echo "$volume" | jget '{t["Key"]: t["Value"] for t in j.get("Tags", [])}.get("ferry:name")')" ferry "volume tag"
    ok "one instance with the type, key, profile, tags and a gp3 volume deleted on termination"

    # The lifetime cap, read back from the instance.
    jget 'j["UserData"]["Value"]' <<<"${b[2]}" | base64 -d >user-data
    assert_file_has_content user-data '^readonly FERRY_MAX_HOURS=3$'
    assert_file_has_content user-data 'shutdown -h'
    assert_file_has_content user-data "^readonly FERRY_SSH_USER='$SSH_USER'$"
    assert_file_has_content user-data '/var/lib/ferry/ready'
    assert_not_file_has_content user-data '@[A-Z_]+@'
    assert_eq "$(jget 'j["InstanceInitiatedShutdownBehavior"]["Value"]' <<<"${b[3]}")" terminate "shutdown behaviour"
    if command -v shellcheck >/dev/null; then
        shellcheck -s bash user-data || fatal "the rendered user data is not shellcheck-clean"
    fi
    ok "user data holds the 3 h cap and the ready marker; shutdown behaviour terminates"

    # The key: a valid ed25519 key whose public half is the one AWS has.
    assert_eq "$(ssh-keygen -l -f .ferry/ferry.pem | awk '{print $4}')" "(ED25519)" "key type"
    assert_eq "$(jget '{t["Key"]: t["Value"] for t in j["KeyPairs"][0]["Tags"]}["ferry:name"]' <<<"${a[1]}")" ferry "key pair tag"
    ok "the pem is a valid ed25519 key and the key pair is tagged"

    # The security group: in the default VPC, tagged, exactly one ingress rule.
    group=$(awsm ec2 describe-security-groups --group-ids "$sg" | jget 'j["SecurityGroups"][0]')
    assert_eq "$(echo "$group" | jget 'j["GroupName"]')" ferry-ssh "group name"
    assert_eq "$(echo "$group" | jget 'j["VpcId"]')" "$default_vpc" "group VPC"
    assert_eq "$(echo "$group" | jget '[(p["IpProtocol"], p["FromPort"], p["ToPort"], [r["CidrIp"] for r in p["IpRanges"]], p.get("Ipv6Ranges", [])) for p in j["IpPermissions"]]')" \
        '[["tcp", 22, 22, ["203.0.113.7/32"], []]]' "ingress rules"
    ok "security group ferry-ssh has one rule: 22/tcp from 203.0.113.7/32"

    # The bucket: tagged, public access blocked. The role: the one bucket only (and the one topic).
    assert_eq "$(jget '{t["Key"]: t["Value"] for t in j["TagSet"]}["ferry:name"]' <<<"${a[2]}")" ferry "bucket tag"
    assert_eq "$(jget 'all(j["PublicAccessBlockConfiguration"].values())' <<<"${a[3]}")" True "public access block"
    policy=$(jget 'j["PolicyDocument"]' <<<"${a[4]}")
    assert_eq "$(echo "$policy" | jget 'sorted(set(r for s in j["Statement"] for r in ([s["Resource"]] if isinstance(s["Resource"], str) else s["Resource"])))')" \
        '["arn:aws:ec2:eu-central-1:*:instance/*", "arn:aws:s3:::ferry-boot-bucket", "arn:aws:s3:::ferry-boot-bucket/*", "arn:aws:sns:eu-central-1:*:ferry-notify"]' "policy resources"
    # SNS: publishing to the deployment's own topic (run --notify), nothing else.
    assert_eq "$(echo "$policy" | jget 'sorted(set(a for s in j["Statement"] if "sns" in str(s["Resource"]) for a in s["Action"]))')" \
        '["sns:Publish"]' "policy actions on the topic"
    # The instance may end (stop, terminate) and tag only instances tagged with its deployment's name.
    assert_eq "$(echo "$policy" | jget 'sorted(set(a for s in j["Statement"] if "ec2" in str(s["Resource"]) for a in s["Action"]))')" \
        '["ec2:CreateTags", "ec2:StopInstances", "ec2:TerminateInstances"]' "policy actions on instances"
    assert_eq "$(echo "$policy" | jget 'set(s["Condition"]["StringEquals"]["aws:ResourceTag/ferry:name"] for s in j["Statement"] if "ec2" in str(s["Resource"]))')" \
        "{'ferry'}" "policy condition on the instances' tag"
    assert_eq "$(jget 'j["Role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]' <<<"${a[5]}")" \
        ec2.amazonaws.com "trust policy"
    assert_eq "$(jget '[r["RoleName"] for r in j["InstanceProfile"]["Roles"]]' <<<"${a[6]}")" \
        '["ferry-ec2"]' "roles in the profile"
    ok "bucket private and tagged; role policy names only that bucket and ends only the deployment's instances; the profile holds the role"

    # --- a re-run makes nothing -----------------------------------------------------------------------------
    before=$(tagged_leftovers ferry)
    # shellcheck disable=SC2046
    expect_exit 0 ferry bootstrap $(sshd_ferry_opts)
    assert_file_has_content out '^created +nothing new'
    assert_file_has_content out "^instance +$instance "
    assert_eq "$(tagged_leftovers ferry)" "$before" "tagged resources after a re-run"
    ok "a re-run creates nothing and keeps the instance"

    # A role made by an earlier ferry, whose policy lacks what this one allows (the instance stopping
    # itself) and whose state has no record of the policy's hash: a re-run puts the policy again, once.
    awsm iam put-role-policy --role-name ferry-ec2 --policy-name ferry-s3 --policy-document \
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":["arn:aws:s3:::ferry-boot-bucket","arn:aws:s3:::ferry-boot-bucket/*"]}]}'
    python3 - .ferry/state.json <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["resources"]["role"].pop("policy_sha256"), s["resources"]["role"]
json.dump(s, open(sys.argv[1], "w"))
PY
    # shellcheck disable=SC2046
    expect_exit 0 ferry bootstrap $(sshd_ferry_opts)
    awsm iam get-role-policy --role-name ferry-ec2 --policy-name ferry-s3 >"$TEST_TMP/policy.json"
    grep -q 'ec2:StopInstances' "$TEST_TMP/policy.json" || fatal "the re-run did not put the policy again"
    assert_eq "$(jget 'len(j["resources"]["role"]["policy_sha256"])' <.ferry/state.json)" 64 "the policy's hash, recorded again"
    ok "a role from an earlier ferry gets the current policy at the next bootstrap, once"

    expect_exit 0 ferry status --json
    assert_eq "$(jget 'j["deployment"]["resources"]["instance"]["id"]' <out)" "$instance" "status --json instance id"
    ok "status --json parses"

    # Moving the SSH source keeps exactly one rule.
    expect_exit 0 ferry firewall --cidr 198.51.100.4
    assert_eq "$(awsm ec2 describe-security-groups --group-ids "$sg" | jget '[r["CidrIp"] for p in j["SecurityGroups"][0]["IpPermissions"] for r in p["IpRanges"]]')" \
        '["198.51.100.4/32"]' "the one rule after firewall --cidr"
    ok "firewall --cidr moves the one rule (a bare address means /32)"

    # A stopped instance is started again by bootstrap.
    expect_exit 0 ferry stop
    assert_eq "$(instance_state "$instance")" stopped "after stop"
    expect_exit 0 ferry bootstrap --no-wait-ssh
    assert_eq "$(instance_state "$instance")" running "after a re-run on a stopped instance"
    ok "bootstrap starts a stopped instance instead of launching another"

    # --- teardown with the state file deleted finds everything by tag; the default VPC stays -------------------
    # (A teardown from the state after a clean bootstrap is test-faults' and test-teardown's: this one shows
    # that the tags a real bootstrap puts are enough.)
    rm -f .ferry/state.json
    expect_exit 0 ferry teardown --yes
    assert_file_has_content out "terminated instance $instance"
    assert_eq "$(tagged_leftovers ferry)" "" "tagged resources after teardown without state"
    assert_eq "$(awsm ec2 describe-vpcs --vpc-ids "$default_vpc" --query 'length(Vpcs)' --output text)" 1 "default VPC"
    assert_not_exists .ferry/ferry.pem
    assert_not_exists .ferry/state.json
    ok "teardown with the state file deleted finds everything bootstrap made by tag and keeps the default VPC"
fi

if in_part steps; then
    # --- --dry-run creates nothing ---------------------------------------------------------------------------
    rm -rf .ferry
    expect_exit 0 ferry bootstrap --cidr 203.0.113.7/32 --bucket ferry-dry-bucket --iam --no-wait-ssh --dry-run
    assert_file_has_content out "^would run: aws ec2 run-instances "
    assert_file_has_content out "^would run: aws ec2 import-key-pair "
    assert_file_has_content out "^would run: aws iam put-role-policy "
    assert_not_exists .ferry
    assert_eq "$(tagged_leftovers ferry)" "" "tagged resources after --dry-run"
    assert_eq "$(awsm s3api list-buckets --query 'length(Buckets)' --output text)" 0 "buckets after --dry-run"
    ok "--dry-run prints the aws commands and creates nothing, not even the state dir"

    # --- step by step, as on the reference page -------------------------------------------------------------
    expect_exit 1 ferry launch --no-wait-ssh
    assert_one_error_line
    assert_file_has_content err 'no key pair .*ferry keypair'
    expect_exit 0 ferry keypair
    expect_exit 1 ferry firewall --cidr 203.0.113.7/32
    assert_file_has_content err 'no VPC .*ferry network'
    expect_exit 0 ferry network
    assert_file_has_content out "^vpc $default_vpc \(adopted\), subnet subnet-"
    expect_exit 0 ferry firewall --cidr 203.0.113.7/32
    expect_exit 2 ferry role
    assert_file_has_content err 'needs a bucket'
    expect_exit 0 ferry bucket --bucket ferry-step-bucket
    expect_exit 0 ferry role
    expect_exit 0 ferry launch --no-wait-ssh
    assert_file_has_content out '^launched instance i-'
    step_instance=$(jget 'j["resources"]["instance"]["id"]' <.ferry/state.json)
    assert_eq "$(awsm ec2 describe-instances --instance-ids "$step_instance" | jget '"ferry-profile" in j["Reservations"][0]["Instances"][0]["IamInstanceProfile"]["Arn"]')" True "profile of the step-by-step instance"
    expect_exit 0 ferry bootstrap --no-wait-ssh
    assert_file_has_content out '^created +nothing new'
    ok "keypair, network, firewall, bucket, role, launch: each step alone, in order, then bootstrap has nothing to do"

    # --- what ferry did not make is never adopted silently -----------------------------------------------------
    expect_exit 0 ferry teardown --yes
    ssh-keygen -q -t ed25519 -N '' -f foreign >/dev/null
    awsm ec2 import-key-pair --key-name ferry --public-key-material fileb://foreign.pub >/dev/null
    expect_exit 1 ferry keypair
    assert_one_error_line
    assert_file_has_content err 'key pair named "ferry" exists and ferry did not create it'
    assert_not_exists .ferry/ferry.pem
    awsm ec2 delete-key-pair --key-name ferry >/dev/null
    ok "an untagged key pair of the same name is an error that says what to do, and leaves no pem"

    # A ferry-tagged key pair whose pem is gone is replaced.
    expect_exit 0 ferry keypair
    old_id=$(awsm ec2 describe-key-pairs --key-names ferry --query 'KeyPairs[0].KeyPairId' --output text)
    rm -f .ferry/ferry.pem .ferry/state.json
    expect_exit 0 ferry keypair
    assert_mode .ferry/ferry.pem 400
    assert_ne "$(awsm ec2 describe-key-pairs --key-names ferry --query 'KeyPairs[0].KeyPairId' --output text)" "$old_id" "key pair id"
    ok "a ferry-tagged key pair whose pem is gone is replaced"
    expect_exit 0 ferry teardown --yes
fi

if in_part options; then
    # --- the caller's public address, when --cidr is not given -------------------------------------------------
    mkdir -p checkip && echo 192.0.2.45 >checkip/index.html
    port=$(free_port)
    (cd checkip && exec python3 -m http.server --bind 127.0.0.1 "$port") >/dev/null 2>&1 &
    http_pid=$!
    on_exit "kill $http_pid"
    wait_for_port "$port" 20 || fatal "http.server did not start"
    rm -rf .ferry
    expect_exit 0 env FERRY_CHECKIP_URL="http://127.0.0.1:$port/" "$FERRY" bootstrap --no-wait-ssh -v
    assert_file_has_content err 'your public address 192.0.2.45/32'
    sg=$(jget 'j["resources"]["security_group"]["id"]' <.ferry/state.json)
    assert_eq "$(awsm ec2 describe-security-groups --group-ids "$sg" | jget '[r["CidrIp"] for p in j["SecurityGroups"][0]["IpPermissions"] for r in p["IpRanges"]]')" \
        '["192.0.2.45/32"]' "the rule from the detected address"
    expect_exit 0 ferry teardown --yes
    dead=$(free_port)
    expect_exit 1 env FERRY_CHECKIP_URL="http://127.0.0.1:$dead/" "$FERRY" bootstrap --no-wait-ssh
    assert_one_error_line
    assert_file_has_content err 'pass --cidr'
    assert_eq "$(tagged_leftovers ferry)" "" "resources after a failed address lookup"
    ok "without --cidr the public address is asked for; when that fails, the error says to pass --cidr"

    # --- --spot and --ami ---------------------------------------------------------------------------------------
    ami=$(awsm ec2 describe-images --owners amazon --query 'Images[0].ImageId' --output text)
    expect_exit 0 ferry bootstrap --name spotty --state-dir spot --cidr 203.0.113.7/32 --spot --ami "$ami" --no-wait-ssh
    spot_instance=$(jget 'j["resources"]["instance"]["id"]' <spot/state.json)
    assert_eq "$(awsm ec2 describe-instances --instance-ids "$spot_instance" | jget '[j["Reservations"][0]["Instances"][0].get("InstanceLifecycle"), j["Reservations"][0]["Instances"][0]["ImageId"]]')" \
        "[\"spot\", \"$ami\"]" "lifecycle and image"
    expect_exit 0 ferry teardown --name spotty --state-dir spot --yes
    assert_eq "$(tagged_leftovers spotty)" "" "tagged resources of the spot deployment after teardown"
    expect_exit 2 ferry launch --name spotty --state-dir spot --ami not-an-ami
    assert_one_error_line
    ok "--spot launches a spot instance from --ami; a malformed --ami is a usage error"

    # --- an account without a default VPC: network creates one, and teardown removes it --------------------------
    moto_reset
    rm -rf .ferry
    awsb delete-default-vpc || fatal "the default VPC could not be deleted"
    expect_exit 0 ferry network
    assert_file_has_content out '^vpc vpc-[0-9a-f]+ \(created by ferry\), subnet subnet-'
    new_vpc=$(jget 'j["resources"]["vpc"]["id"]' <.ferry/state.json)
    assert_eq "$(awsm ec2 describe-vpcs --vpc-ids "$new_vpc" | jget '[j["Vpcs"][0]["IsDefault"], {t["Key"]: t["Value"] for t in j["Vpcs"][0].get("Tags", [])}.get("ferry:name")]')" \
        '[true, "ferry"]' "the created default VPC and its tag"
    expect_exit 0 ferry teardown --yes
    assert_eq "$(awsm ec2 describe-vpcs --filters Name=is-default,Values=true --query 'length(Vpcs)' --output text)" 0 "default VPCs after teardown"
    ok "without a default VPC, network creates one (tagged) and teardown removes it"
fi

done_testing
