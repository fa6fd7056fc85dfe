#!/usr/bin/env bash
# The command line itself: usage, unknown verbs and options, --help for every verb, exit statuses.
source "$(dirname "$0")/libtest.sh"
cd "$TEST_TMP"

expect_exit 2 ferry
ok "no command is a usage error"

expect_exit 0 ferry --help
assert_file_has_content out '^  bootstrap '
assert_file_has_content out '^  teardown '
ok "--help lists the commands"

expect_exit 2 ferry bootstrp
assert_one_error_line
assert_file_has_content err 'did you mean "bootstrap"'
ok "an unknown command gets a suggestion"

expect_exit 2 ferry frobnicate
assert_one_error_line
ok "an unknown command far from any is a usage error"

# A command's --help lists every option it takes: its own, the shared ones and, for a command that
# connects, the connection ones; it is its --help-all (the man page and completions are built from that).
mapfile -t verbs < <("$FERRY" --help | sed -nE 's/^  ([a-z-]+) .*/\1/p')
[ "${#verbs[@]}" -ge 20 ] || fatal "ferry --help lists ${#verbs[@]} commands"
for verb in "${verbs[@]}"; do
    expect_exit 0 ferry "$verb" --help-all
    cp out help-all
    for flag in --help -h; do
        expect_exit 0 ferry "$verb" "$flag"
        cmp -s out help-all || fatal "ferry $verb $flag differs from ferry $verb --help-all"
    done
    assert_file_has_content out "^  ferry $verb \[OPTION"
    for opt in --endpoint-url=URL --region=REGION --profile=PROFILE --state-dir=DIR --name=NAME --dry-run \
        --yes '-v, --verbose'; do
        assert_file_has_content out -e "^  $opt  "
    done
done
for verb in run push pull ssh attach cancel; do
    expect_exit 0 ferry "$verb" --help
    assert_file_has_content out -e '^  --ssh-user=USER  '
    assert_file_has_content out -e '^  --ssh-option=OPT  '
done
ok "every command's --help (${#verbs[@]}) lists its options, the shared ones included"

expect_exit 0 ferry --version
assert_file_has_content out '^ferry [0-9]+\.[0-9]+\.[0-9]+$'
ok "--version prints the version"

expect_exit 0 ferry status --help
cp out status-help
expect_exit 0 ferry help status
cmp -s out status-help || fatal "ferry help status differs from ferry status --help"
expect_exit 2 ferry help frobnicate
assert_one_error_line
ok "ferry help COMMAND is ferry COMMAND --help"

# ferry prints no colour: nothing on a terminal carries an escape sequence.
expect_exit 0 script -qec "$FERRY help run" /dev/null
assert_not_file_has_content out $'\e\['
ok "no escape sequences on a terminal"

expect_exit 2 ferry status --no-such-option
assert_one_error_line
ok "an unknown option is a usage error"

expect_exit 2 ferry status --name 'bad name!'
assert_one_error_line
ok "an invalid --name is a usage error"

done_testing
