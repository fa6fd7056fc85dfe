#!/usr/bin/env bash
# Secrets and permissions: with umask 000 the state dir is 0700 and the pem 0400; the private key appears in
# nothing ferry prints or writes, -v and --dry-run included; the firewall and the IAM policy are as narrow as promised.
source "$(dirname "$0")/libtest.sh"
cd "$TEST_TMP"
moto_start
export FERRY_POLL_MS=100

umask 000
expect_exit 0 ferry bootstrap -v --cidr 198.51.100.4/32 --bucket ferry-secrets-bucket --iam --no-wait-ssh
cat out err >all-output
umask 022
assert_mode .ferry 700
pem=$(ls .ferry/*.pem)
assert_mode "$pem" 400
ssh-keygen -y -f "$pem" >/dev/null || fatal "the pem is not a usable private key"
for f in .ferry/* .ferry/.gitignore; do
    [ "$f" = "$pem" ] && continue
    [ -f "$f" ] || continue
    m=$(stat -c %a "$f")
    [ $((8#$m & 8#077)) -eq 0 ] || fatal "$f is readable by others (mode $m)"
done
ok "umask 000: state dir 0700, pem 0400, every other state file private"

# The key's secret lines (base64 body of the OpenSSH private key) must appear nowhere else.
grep -v -- '-----' "$pem" >key-lines
expect_exit 0 ferry status --json
cat out err >>all-output
expect_exit 0 ferry ls -v
cat out err >>all-output
expect_exit 0 ferry bootstrap -v --cidr 198.51.100.4/32 --bucket ferry-secrets-bucket --iam --no-wait-ssh
cat out err >>all-output
mapfile -t written < <(find .ferry -type f ! -path "$pem")
while read -r line; do
    [ ${#line} -ge 16 ] || continue
    if grep -qF -- "$line" all-output "${written[@]}"; then
        grep -lF -- "$line" all-output "${written[@]}" | sed 's/^/# found in: /' >&2
        fatal "a line of the private key appears in ferry's output or state"
    fi
done <key-lines
assert_not_file_has_content all-output 'PRIVATE KEY'
ok "no key material in any output (-v included) or state file"

answers=()
awsb_calls answers 'ec2 describe-security-groups {"Filters": [{"Name": "tag:ferry:name", "Values": ["ferry"]}]}' \
    'iam get-role-policy {"RoleName": "ferry-ec2", "PolicyName": "ferry-s3"}' \
    'iam list-role-policies {"RoleName": "ferry-ec2"}' 'iam list-attached-role-policies {"RoleName": "ferry-ec2"}'
sg=${answers[0]}
assert_eq "$(echo "$sg" | jget 'len(j["SecurityGroups"][0]["IpPermissions"])')" 1 "ingress rules"
assert_eq "$(echo "$sg" | jget 'j["SecurityGroups"][0]["IpPermissions"][0]["IpRanges"][0]["CidrIp"]')" 198.51.100.4/32 "ssh source"
assert_eq "$(echo "$sg" | jget 'j["SecurityGroups"][0]["IpPermissions"][0]["FromPort"]')" 22 "port"
ok "the security group opens 22/tcp to one /32 only"

pol=${answers[1]}
res() { # the resources of the statements whose actions start with $1
    echo "$pol" | jget 'sorted(set(r for s in j["PolicyDocument"]["Statement"] if all(a.startswith("'"$1"'") for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])) for r in (s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]])))'
}
assert_eq "$(res s3:)" '["arn:aws:s3:::ferry-secrets-bucket", "arn:aws:s3:::ferry-secrets-bucket/*"]' "the S3 statements' resources"
assert_eq "$(res ec2:)" '["arn:aws:ec2:eu-central-1:*:instance/*"]' "the EC2 statements' resources"
assert_eq "$(res sns:)" '["arn:aws:sns:eu-central-1:*:ferry-notify"]' "the SNS statements' resources"
# Every statement is S3 on that bucket, publishing to the deployment's topic (run --notify), or EC2
# on instances carrying the deployment's tag only.
echo "$pol" | python3 -c '
import json, sys
for s in json.load(sys.stdin)["PolicyDocument"]["Statement"]:
    acts = s["Action"] if isinstance(s["Action"], list) else [s["Action"]]
    if all(a.startswith("s3:") for a in acts):
        continue
    if any(a.startswith("sns:") for a in acts):
        assert acts == ["sns:Publish"], s
        continue
    assert set(acts) <= {"ec2:StopInstances", "ec2:TerminateInstances", "ec2:CreateTags"}, s
    conds = json.dumps(s.get("Condition", {}))
    assert "ferry:name" in conds and "\"ferry\"" in conds, s
' || fatal "a statement of the role's policy reaches beyond the bucket, the topic and the deployment's tagged instances"
n=$(jget 'len(j["PolicyNames"])' <<<"${answers[2]}")
m=$(jget 'len(j["AttachedPolicies"])' <<<"${answers[3]}")
assert_eq "$n/$m" "1/0" "inline/attached policies of the role"
ok "the role's only policy names the bucket and its objects, the deployment's topic, and its tagged instances"

expect_exit 0 ferry teardown --yes
assert_not_exists "$pem"
ok "teardown removes the pem"

done_testing
