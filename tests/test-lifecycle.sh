#!/usr/bin/env bash
# status, stop, start, terminate and ls against moto with the real aws CLI; the deployment is made
# directly with aws (tags and names of the shared data model) plus the state file bootstrap writes.
source "$(dirname "$0")/libtest.sh"
source "$(dirname "$0")/lib-lifecycle.sh"
export FERRY_POLL_MS=20
moto_start
cd "$TEST_TMP" || exit 1

# --- no deployment -------------------------------------------------------------------------------
expect_exit 0 ferry status
assert_file_has_content out '^no deployment in \.ferry'
expect_exit 0 ferry status --json
assert_eq "$(jget 'j["deployment"]' <out)" None "status --json without state"
assert_eq "$(jget 'j["live"]' <out)" None "status --json without state: live"
assert_not_exists .ferry
ok "status without a deployment says so, exits 0, and creates nothing"

for verb in stop start terminate; do
    expect_exit 1 ferry "$verb"
    assert_one_error_line
    assert_file_has_content err 'no instance.*run ferry bootstrap'
done
ok "stop, start and terminate without an instance: one clear error, exit 1"

# --- a running deployment ------------------------------------------------------------------------
fixture_deployment life .ferry
expect_exit 0 ferry status --name life
assert_file_has_content out "^deployment life in \.ferry"
assert_file_has_content out "instance +$F_INSTANCE: running, t3.micro"
assert_file_has_content out "security group +$F_SG \(life-ssh, 203\.0\.113\.7/32, created by ferry\)"
assert_file_has_content out "vpc +$F_VPC \(adopted"
assert_file_has_content out "bills by the second"
ok "status shows the state and the live instance"

expect_exit 0 ferry status --json
assert_eq "$(jget 'j["live"]["state"]' <out)" running "live state in --json"
assert_eq "$(jget 'j["live"]["id"]' <out)" "$F_INSTANCE" "live id in --json"
assert_eq "$(jget 'j["deployment"]["resources"]["security_group"]["id"]' <out)" "$F_SG" "state in --json"
live_dns=$(awsm ec2 describe-instances --instance-ids "$F_INSTANCE" --query 'Reservations[0].Instances[0].PublicDnsName' --output text)
assert_eq "$(jget 'j["live"]["public_dns"]' <out)" "$live_dns" "live DNS in --json"
ok "status --json is one JSON document with the state and the live fields"

expect_exit 0 ferry stop --dry-run
assert_file_has_content out "would run: aws ec2 stop-instances --instance-ids $F_INSTANCE"
assert_eq "$(instance_state "$F_INSTANCE")" running "after stop --dry-run"
ok "stop --dry-run shows the command and stops nothing"

expect_exit 0 ferry stop
assert_file_has_content out "stopped instance $F_INSTANCE"
assert_eq "$(instance_state "$F_INSTANCE")" stopped "after stop"
assert_eq "$(jget 'j["resources"]["instance"]["state"]' <.ferry/state.json)" stopped "recorded state"
expect_exit 0 ferry status
assert_file_has_content out "instance +$F_INSTANCE: stopped"
assert_file_has_content out "volume still bills"
ok "stop stops the instance (AWS says stopped) and records it"

expect_exit 0 ferry start
assert_eq "$(instance_state "$F_INSTANCE")" running "after start"
new_dns=$(awsm ec2 describe-instances --instance-ids "$F_INSTANCE" --query 'Reservations[0].Instances[0].PublicDnsName' --output text)
assert_ne "$new_dns" "$live_dns" "the public DNS changes across stop/start"
assert_eq "$(jget 'j["resources"]["instance"]["public_dns"]' <.ferry/state.json)" "$new_dns" "recorded DNS after start"
assert_eq "$(jget 'j["resources"]["instance"]["state"]' <.ferry/state.json)" running "recorded state after start"
assert_file_has_content out "running at $new_dns"
ok "start runs the instance again and records its new public DNS"

# --- ls ------------------------------------------------------------------------------------------
other_tag='{Key=ferry:name,Value=other}'
other_sg=$(awsm ec2 create-security-group --group-name other-ssh --description other --vpc-id "$F_VPC" \
    --tag-specifications "ResourceType=security-group,Tags=[$other_tag]" --query GroupId --output text)
untagged_sg=$(awsm ec2 create-security-group --group-name life-ssh-untagged --description x --vpc-id "$F_VPC" \
    --query GroupId --output text)
expect_exit 0 ferry ls
for id in "$F_INSTANCE" "$F_SG" "$F_KEY_ID" "$F_BUCKET" life-ec2 life-profile; do
    assert_file_has_content out "$id"
done
assert_file_has_content out '^volume +vol-'
assert_file_has_content out "^instance +$F_INSTANCE +life +life +running +[0-9]+[smhd]$"
assert_not_file_has_content out "$other_sg|$untagged_sg"
assert_file_has_content out '1 running instance bills by the second'
assert_file_has_content out 'to remove it all: ferry teardown$'
ok "ls shows every kind of the name's resources, with state and age, and what bills"

expect_exit 0 ferry ls --all
assert_file_has_content out "$F_INSTANCE"
assert_file_has_content out "$other_sg +other-ssh +other"
assert_not_file_has_content out "$untagged_sg"
ok "ls --all shows other names too, never untagged resources"

expect_exit 0 ferry ls --name nosuch
assert_file_has_content out 'nothing tagged ferry:name=nosuch'
ok "ls of a name with nothing says nothing bills"

# --- terminate -----------------------------------------------------------------------------------
expect_exit 0 ferry terminate --dry-run
assert_file_has_content out "would run: aws ec2 terminate-instances --instance-ids $F_INSTANCE"
assert_eq "$(instance_state "$F_INSTANCE")" running "after terminate --dry-run"
ok "terminate --dry-run terminates nothing"

# On a terminal, terminate asks first; "n" keeps the instance.
expect_exit 1 script -qec "$FERRY terminate" /dev/null <<<n
assert_file_has_content out "Terminate instance $F_INSTANCE\? Its disk is deleted with it. \[y/N\]"
assert_file_has_content out 'error: not confirmed'
assert_eq "$(instance_state "$F_INSTANCE")" running "after declining terminate"
ok "terminate asks on a terminal, and a no keeps the instance"

expect_exit 0 ferry terminate
assert_file_has_content out "terminated instance $F_INSTANCE"
assert_eq "$(instance_state "$F_INSTANCE")" terminated "after terminate"
assert_eq "$(jget '"instance" in j["resources"]' <.ferry/state.json)" False "instance forgotten"
assert_eq "$(jget 'j["resources"]["security_group"]["id"]' <.ferry/state.json)" "$F_SG" "the rest stays"
expect_exit 0 ferry status
assert_file_has_content out 'instance +none'
ok "terminate terminates (AWS says terminated) and forgets the instance; the rest stays"

expect_exit 1 ferry terminate
assert_one_error_line
assert_file_has_content err 'no instance'
ok "terminate again: no instance, one clear error"

# An instance AWS no longer knows.
python3 - <<'PY'
import json
p = ".ferry/state.json"
s = json.load(open(p))
s["resources"]["instance"] = {"id": "i-0123456789abcdef0", "created": True, "state": "running"}
json.dump(s, open(p, "w"))
PY
expect_exit 1 ferry stop
assert_one_error_line
assert_file_has_content err 'i-0123456789abcdef0 no longer exists'
expect_exit 0 ferry status --json
assert_eq "$(jget 'j["live"]["state"]' <out)" gone "status of a vanished instance"
expect_exit 0 ferry terminate
assert_eq "$(jget '"instance" in j["resources"]' <.ferry/state.json)" False "vanished instance forgotten"
ok "an instance AWS forgot: stop fails clearly, status says gone, terminate forgets it"

done_testing
