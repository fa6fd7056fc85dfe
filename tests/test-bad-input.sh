#!/usr/bin/env bash
# Bad input, case by case: one clear error line, the right exit status (2 for usage), no crash, nothing
# created in AWS and no state lost. Every ferry run here is under valgrind: a memory error or a definite
# leak fails the case.
source "$(dirname "$0")/libtest.sh"
source "$(dirname "$0")/lib-fault.sh"
cd "$TEST_TMP"

command -v valgrind >/dev/null || fatal "valgrind not found (scripts/deps installs it)"
VG=("$(command -v valgrind)" -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
    --show-leak-kinds=definite --suppressions=/usr/share/glib-2.0/valgrind/glib.supp
    --log-file="$TEST_TMP/valgrind.%p")
# valgrind's own notes (an unhandled pidfd_open when GLib watches a child) go to its log, so stderr is
# ferry's alone; a memory error still ends the run with 99 and its report is shown.
ferry() {
    local rc=0
    "${VG[@]}" "$FERRY" "$@" || rc=$?
    [ "$rc" != 99 ] || cat "$TEST_TMP"/valgrind.* >&2
    return "$rc"
}

moto_start

# Nothing tagged by ferry exists in the emulator (the five calls in one process).
assert_nothing_created() {
    local a
    awsb_calls a 'ec2 describe-security-groups {"Filters": [{"Name": "tag-key", "Values": ["ferry:name"]}]}' \
        'ec2 describe-key-pairs' 'ec2 describe-instances' 's3api list-buckets' 'iam list-roles'
    assert_eq "$(jget 'len(j["SecurityGroups"])' <<<"${a[0]}")" 0 "ferry security groups after: $1"
    assert_eq "$(jget 'len(j["KeyPairs"])' <<<"${a[1]}")" 0 "key pairs after: $1"
    assert_eq "$(jget 'len(j["Reservations"])' <<<"${a[2]}")" 0 "instances after: $1"
    assert_eq "$(jget 'len(j["Buckets"])' <<<"${a[3]}")" 0 "buckets after: $1"
    assert_eq "$(jget 'len([r for r in j["Roles"] if r["RoleName"].startswith("ferry")])' <<<"${a[4]}")" 0 "roles after: $1"
}

# case EXIT DESCRIPTION -- ferry ARGS...
case_() {
    local want=$1 what=$2
    shift 3
    rm -f "$TEST_TMP"/valgrind.*
    expect_exit "$want" "$@"
    assert_one_error_line
    assert_not_file_has_content "$TEST_TMP/err" 'CRITICAL|WARNING|Segmentation|AddressSanitizer|Invalid (read|write)'
    ok "$what: exit $want with one line: $(cut -c1-100 "$TEST_TMP/err")"
}

case_ 2 "open-world IPv4 CIDR" -- ferry bootstrap --cidr 0.0.0.0/0 --no-wait-ssh
case_ 2 "open-world IPv6 CIDR" -- ferry bootstrap --cidr ::/0 --no-wait-ssh
case_ 2 "malformed CIDR" -- ferry bootstrap --cidr 10.0.0/32 --no-wait-ssh
case_ 2 "CIDR prefix /33" -- ferry bootstrap --cidr 203.0.113.7/33 --no-wait-ssh
case_ 2 "zero volume size" -- ferry bootstrap --cidr 203.0.113.7/32 --volume-size 0 --no-wait-ssh
case_ 2 "negative volume size" -- ferry bootstrap --cidr 203.0.113.7/32 --volume-size -5 --no-wait-ssh
case_ 2 "invalid bucket name" -- ferry bootstrap --cidr 203.0.113.7/32 --bucket Bad_Bucket --no-wait-ssh
case_ 2 "--iam without --bucket" -- ferry bootstrap --cidr 203.0.113.7/32 --iam --no-wait-ssh
case_ 2 "--ssh-user that could break out of quotes" -- ferry bootstrap --cidr 203.0.113.7/32 --ssh-user "x';reboot;'" --no-wait-ssh
case_ 2 "--ssh-user with a space" -- ferry bootstrap --cidr 203.0.113.7/32 --ssh-user "ec2 user" --no-wait-ssh
case_ 2 "--ssh-user starting with a dash" -- ferry run all --host 127.0.0.1 --ssh-user -oProxyCommand=x
case_ 2 "a region that is no region name" -- ferry bootstrap --cidr 203.0.113.7/32 --region 'eu central' --no-wait-ssh
case_ 2 "unknown command" -- ferry bootstrapp
case_ 2 "unknown option" -- ferry bootstrap --frobnicate
assert_nothing_created "the usage errors"
assert_not_exists .ferry/state.json

mkdir wf && cd wf
case_ 1 "export with no Snakefile" -- ferry export all -o in.tar.zst
printf 'rule all:\n    input: "a.txt"\nrule a:\n    output: "a.txt"\n    shell: "touch {output}"\n' >Snakefile
case_ 1 "export of an unknown target" -- ferry export no_such_rule_or_file -o in.tar.zst
case_ 2 "export to an unknown archive extension" -- ferry export all -o in.rar
assert_not_exists in.tar.zst
assert_not_exists in.rar
case_ 1 "run with neither an instance nor --host" -- ferry run all
cd ..

mkdir -p corrupt/.ferry
printf '{"schema": "ferry-state", "version": 1, "name": "ferry", "resources": {"instance": ' >corrupt/.ferry/state.json
cp corrupt/.ferry/state.json corrupt/before.json
cd corrupt
case_ 1 "a corrupt state file" -- ferry status
case_ 1 "a corrupt state file (bootstrap)" -- ferry bootstrap --cidr 203.0.113.7/32 --no-wait-ssh
cd ..
cmp corrupt/.ferry/state.json corrupt/before.json || fatal "the corrupt state file was changed"
ok "the corrupt state file is left as it was"

fault_install garbage 1
case_ 1 "aws printing something that is not JSON" -- ferry bootstrap --cidr 203.0.113.7/32 --no-wait-ssh
fault_remove
ferry teardown --yes >/dev/null 2>&1 || fatal "teardown after the garbage case failed"
assert_nothing_created "aws printing garbage, then teardown"

mkdir -p nobin
for tool in ssh-keygen python3 sh bash env; do ln -sf "$(command -v $tool)" nobin/; done
case_ 1 "aws missing from PATH" -- env PATH="$TEST_TMP/nobin" "${VG[@]}" "$FERRY" bootstrap --cidr 203.0.113.7/32 --no-wait-ssh
assert_file_has_content "$TEST_TMP/err" 'aws is not installed'
cd wf
case_ 1 "snakemake missing from PATH" -- env PATH="$TEST_TMP/nobin" "${VG[@]}" "$FERRY" export all -o in.tar.zst
assert_file_has_content "$TEST_TMP/err" 'snakemake is not installed'

port=$(free_port)
case_ 1 "ssh failing to connect" -- ferry run all --host 127.0.0.1 --ssh-option "Port=$port" --ssh-option ConnectTimeout=5
cd ..
assert_nothing_created "all cases"

done_testing
