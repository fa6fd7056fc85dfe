#!/usr/bin/env bash
# The man page, rendered by man(1), names every command of the table in src/main.c and every long option
# each command's --help-all lists, so the two never drift.
source "$(dirname "$0")/libtest.sh"
cd "$TEST_TMP"

page="$FERRY_BUILD_DIR/man/ferry.1"
[ -f "$page" ] || fatal "no $page: the man page was not built (scripts/deps installs scdoc)"
command -v man >/dev/null || fatal "man not found (scripts/deps installs man-db)"
# ASCII, one paragraph a line: no hyphenation nor wrapping splits an option.
LC_ALL=C MANWIDTH=2000 man -l "$page" 2>err | col -b >ferry.txt || { cat err >&2; fatal "man -l failed"; }
[ ! -s err ] || { sed 's/^/# /' err >&2; fatal "man -l warned"; }
assert_file_has_content ferry.txt '^NAME'
assert_file_has_content ferry.txt '^EXIT STATUS'
assert_file_has_content ferry.txt '^ENVIRONMENT'
assert_file_has_content ferry.txt '^FILES'
assert_file_has_content ferry.txt '^EXAMPLES'
ok "man -l renders the page with its sections, without a warning"

mapfile -t commands < <(sed -n 's/^ *{ "\([a-z-]*\)", .*ferry_builtin_.*/\1/p' "$FERRY_SOURCE_DIR/src/main.c")
[ "${#commands[@]}" -gt 10 ] || fatal "could not read the command table of src/main.c"
missing=()
for cmd in "${commands[@]}"; do
    grep -qE "^ +$cmd( |$)" ferry.txt || missing+=("command $cmd")
    "$FERRY" "$cmd" --help-all >help 2>&1 || fatal "ferry $cmd --help-all failed"
    for opt in $(grep -oE '^ +(-[a-zA-Z0-9], )?--[a-z0-9-]+' help | grep -oE -- '--[a-z0-9-]+' | sort -u); do
        case $opt in --help | --help-*) continue ;; esac
        grep -qE -- "(^|[^a-z0-9-])$opt([^a-z0-9-]|$)" ferry.txt || missing+=("$cmd $opt")
    done
done
if [ "${#missing[@]}" -gt 0 ]; then
    printf '# not in man/ferry.1.scd: %s\n' "${missing[@]}" >&2
    fatal "${#missing[@]} commands or options are missing from the man page: ${missing[*]}"
fi
ok "every command (${#commands[@]}) and every long option of their --help-all is in the man page"

done_testing
