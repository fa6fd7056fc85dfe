#!/usr/bin/env bash
# The asserts of libtest.sh themselves: each one fails on a broken property, passes on a kept one, and
# refuses to be misused (a missing argument, a pattern grep would read as an option).
# shellcheck source=tests/libtest.sh
source "$(dirname "$0")/libtest.sh"
cd "$TEST_TMP" || exit 1

# Runs a snippet in a subshell that sources libtest.sh; prints "pass" or "FAIL" (the helper's fatal
# exit), and keeps its output in snippet.log.
outcome() {
    if bash -c 'source "$1"; eval "$2"' _ "$FERRY_SOURCE_DIR/tests/libtest.sh" "$1" >snippet.log 2>&1; then
        echo pass
    else
        grep -q '^not ok' snippet.log || { sed 's/^/# /' snippet.log >&2; fatal "'$1' failed without a TAP failure"; }
        echo FAIL
    fi
}

passes() { [ "$(outcome "$1")" = pass ] || { sed 's/^/# /' snippet.log >&2; fatal "'$1' should pass"; }; }
fails() { [ "$(outcome "$1")" = FAIL ] || { sed 's/^/# /' snippet.log >&2; fatal "'$1' should fail"; }; }

printf 'usage: ferry status [OPTION]\n  --state-dir=DIR  where\n' >help.txt
printf 'error: one line\n' >one-error
printf 'error: one line\nand another\n' >two-lines
printf 'warning: not an error\n' >not-error

passes 'assert_eq a a'
fails 'assert_eq a b'
fails 'assert_eq a'
fails 'assert_eq "" 0 what extra'
passes 'assert_ne a b'
fails 'assert_ne a a'
fails 'assert_ne a'
ok "assert_eq, assert_ne"

passes "assert_file_exists $TEST_TMP/help.txt"
fails "assert_file_exists $TEST_TMP/nothing"
fails 'assert_file_exists'
passes "assert_not_exists $TEST_TMP/nothing"
fails "assert_not_exists $TEST_TMP/help.txt"
fails 'assert_not_exists'
ok "assert_file_exists, assert_not_exists"

passes "assert_file_has_content $TEST_TMP/help.txt '^usage: '"
fails "assert_file_has_content $TEST_TMP/help.txt '^error: '"
passes "assert_file_has_content $TEST_TMP/help.txt -e '--state-dir'"
passes "assert_file_has_content $TEST_TMP/help.txt -- '--state-dir'"
fails "assert_file_has_content $TEST_TMP/help.txt -e '--no-such-option'"
# The misuses that used to pass whatever the file held: a pattern that starts with '-', '--' alone as
# the pattern, an empty pattern, a missing file.
fails "assert_file_has_content $TEST_TMP/help.txt '--state-dir'"
fails "assert_file_has_content $TEST_TMP/help.txt --"
fails "assert_file_has_content $TEST_TMP/help.txt ''"
fails "assert_file_has_content $TEST_TMP/help.txt"
fails "assert_file_has_content $TEST_TMP/help.txt a b c"
fails "assert_file_has_content $TEST_TMP/nothing '.'"
ok "assert_file_has_content"

passes "assert_not_file_has_content $TEST_TMP/help.txt '^error: '"
fails "assert_not_file_has_content $TEST_TMP/help.txt '^usage: '"
passes "assert_not_file_has_content $TEST_TMP/help.txt -e '--name'"
fails "assert_not_file_has_content $TEST_TMP/help.txt -e '--state-dir'"
fails "assert_not_file_has_content $TEST_TMP/help.txt '--name'"
fails "assert_not_file_has_content $TEST_TMP/help.txt ''"
fails "assert_not_file_has_content $TEST_TMP/nothing 'x'"
ok "assert_not_file_has_content (a file that cannot be read is no pass)"

chmod 640 help.txt
passes "assert_mode $TEST_TMP/help.txt 640"
fails "assert_mode $TEST_TMP/help.txt 600"
fails "assert_mode $TEST_TMP/nothing 600"
fails "assert_mode $TEST_TMP/help.txt"
ok "assert_mode"

passes 'expect_exit 0 true'
passes 'expect_exit 3 sh -c "exit 3"'
fails 'expect_exit 0 false'
fails 'expect_exit 1 true'
fails 'expect_exit true'
fails 'expect_exit 0'
ok "expect_exit"

passes "cp $TEST_TMP/one-error \"\$TEST_TMP/err\"; assert_one_error_line"
fails "cp $TEST_TMP/two-lines \"\$TEST_TMP/err\"; assert_one_error_line"
fails "cp $TEST_TMP/not-error \"\$TEST_TMP/err\"; assert_one_error_line"
fails ": >\"\$TEST_TMP/err\"; assert_one_error_line"
ok "assert_one_error_line"

done_testing
