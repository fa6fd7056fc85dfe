#!/usr/bin/env bash
# check: one line per item against moto and the real tools; missing tools are hidden by PATH, and a
# stub aws (first on PATH) injects garbage.
source "$(dirname "$0")/libtest.sh"
moto_start
cd "$TEST_TMP" || exit 1

expect_exit 0 ferry check
assert_file_has_content out '^ok   aws: aws-cli/[12]\.[0-9.]+ .*\((v1|v2)\)$'
assert_file_has_content out "^ok   region: $TEST_REGION \\(from the AWS CLI's configuration\\)$"
assert_file_has_content out '^ok   credentials: arn:aws:.*\(account [0-9]+\)$'
assert_file_has_content out "^ok   aws config file: $AWS_CONFIG_FILE \(mode 600\)$"
assert_file_has_content out "^ok   aws credentials file: $AWS_SHARED_CREDENTIALS_FILE \(mode 600\)$"
assert_file_has_content out "^ok   snakemake: $(snakemake --version) \\(supported; jobs read through --log-handler-script\\)$"
assert_file_has_content out '^ok   ssh: OpenSSH'
assert_not_file_has_content out '^(FAIL|warn)'
assert_eq "$(grep -cvE '^(ok  |warn|FAIL) [a-z ]+: ' out || true)" 0 "lines not in the one-line-per-item form"
ok "check against moto: every item ok, one line each"

chmod 644 "$AWS_SHARED_CREDENTIALS_FILE"
expect_exit 0 ferry check
assert_file_has_content out "^warn aws credentials file: .* is mode 644, readable by others: run chmod 600 $AWS_SHARED_CREDENTIALS_FILE$"
chmod 600 "$AWS_SHARED_CREDENTIALS_FILE"
ok "a credentials file readable by others gets the chmod that fixes it"

# A PATH with every program of the current one except those named (symlinks, first one found wins).
path_without() {
    local d="$TEST_TMP/path-without-$1" dir f base hidden
    local -A taken=()
    local links=()
    mkdir -p "$d"
    for hidden in "$@"; do taken[$hidden]=1; done
    IFS=: read -ra dirs <<<"$PATH"
    for dir in "${dirs[@]}"; do
        for f in "$dir"/*; do
            base=${f##*/}
            if [ ! -x "$f" ] || [ -n "${taken[$base]:-}" ]; then continue; fi
            taken[$base]=1
            links+=("$f")
        done
    done
    ln -s -t "$d" -- "${links[@]}" # one ln for them all: a fork per program costs seconds
    echo "$d"
}

p=$(path_without aws)
expect_exit 1 env PATH="$p" "$FERRY" check
assert_file_has_content out '^FAIL aws: aws is not installed'
assert_file_has_content out '^FAIL credentials: not checked'
assert_file_has_content out '^ok   snakemake: '
assert_file_has_content out '^ok   ssh: '
assert_one_error_line
assert_file_has_content err 'install the AWS CLI'
ok "without aws: FAIL lines, exit 1, and the last line says what to install"

p=$(path_without snakemake)
expect_exit 1 env PATH="$p" "$FERRY" check
assert_file_has_content out '^ok   aws: '
assert_file_has_content out '^ok   credentials: '
assert_file_has_content out '^FAIL snakemake: snakemake is not installed'
assert_one_error_line
assert_file_has_content err '1 essential check failed: install snakemake'
ok "without snakemake: FAIL, exit 1"

p=$(path_without ssh ssh-keygen)
expect_exit 1 env PATH="$p" "$FERRY" check
assert_file_has_content out '^FAIL ssh: ssh is not installed'
assert_file_has_content err 'install OpenSSH'
ok "without ssh: FAIL, exit 1"

# No credentials anywhere: the real aws says so.
printf '[default]\n' >"$TEST_TMP/empty-credentials"
expect_exit 1 env AWS_SHARED_CREDENTIALS_FILE="$TEST_TMP/empty-credentials" AWS_EC2_METADATA_DISABLED=true \
    AWS_CONTAINER_CREDENTIALS_RELATIVE_URI= "$FERRY" check
assert_file_has_content out '^FAIL credentials: .*(credentials|Unable to locate)'
assert_file_has_content err 'aws configure'
ok "without credentials: FAIL credentials, exit 1, says to run aws configure"

expect_exit 1 ferry check --profile nosuchprofile
assert_file_has_content out '^FAIL credentials: '
ok "--profile is honoured (an unknown profile fails the credentials line)"

# A stub aws first on PATH that is not the AWS CLI.
mkdir -p stub
printf '#!/bin/sh\necho "hello from a stub"\n' >stub/aws
chmod +x stub/aws
expect_exit 1 env PATH="$TEST_TMP/stub:$PATH" "$FERRY" check
# shellcheck disable=SC2016 # the backquotes are literal
assert_file_has_content out '^FAIL aws: .*hello from a stub.*is `aws` the AWS CLI\?'
ok "an aws that is not the AWS CLI fails clearly"

done_testing
