#!/usr/bin/env bash
# Bash completion, loaded the way bash-completion loads an installed one (by command name, from a
# completions dir), driven through `complete -p` and the function it names, as bash does on TAB:
# commands, every option of every command's --help-all, option values, deployment names, targets.
source "$(dirname "$0")/libtest.sh"
cd "$TEST_TMP"

bc=/usr/share/bash-completion/bash_completion
[ -r "$bc" ] || fatal "bash-completion not found (scripts/deps installs it)"
mkdir -p bin completions-home/completions
ln -s "$FERRY" bin/ferry
ln -s "$FERRY_SOURCE_DIR/completions/ferry.bash" completions-home/completions/ferry
export PATH="$TEST_TMP/bin:$PATH" BASH_COMPLETION_USER_DIR="$TEST_TMP/completions-home"

# complete LINE: what TAB offers at the end of LINE, one per line (bash splits words at blanks and at
# "=", as COMP_WORDBREAKS says).
complete_line() {
    bash --norc --noprofile -c '
        source "$1" || exit 3
        __load_completion ferry || { echo "no completion loaded for ferry" >&2; exit 3; }
        spec=$(complete -p ferry) || exit 3
        fn=${spec#*-F }; fn=${fn%% *}
        COMP_LINE=$2 COMP_POINT=${#2}
        read -ra COMP_WORDS <<<"${2//=/ = }"
        [[ $2 == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
        "$fn" ferry "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD - 1]}"
        printf "%s\n" "${COMPREPLY[@]}"' _ "$bc" "$1" >"$TEST_TMP/compl" 2>"$TEST_TMP/compl.err" ||
        { cat "$TEST_TMP/compl.err" >&2; fatal "completing '$1' failed"; }
    sort -u "$TEST_TMP/compl"
}

# expect_offers LINE WORD...: TAB after LINE offers each WORD.
expect_offers() {
    local line=$1 w
    shift
    complete_line "$line" >"$TEST_TMP/offered"
    for w in "$@"; do
        grep -qxF -- "$w" "$TEST_TMP/offered" || { sed 's/^/# offered: /' "$TEST_TMP/offered" >&2; fatal "'$line<TAB>' does not offer '$w'"; }
    done
}

spec=$(bash --norc --noprofile -c 'source "$1"; __load_completion ferry; complete -p ferry' _ "$bc")
assert_file_has_content <(echo "$spec") '^complete -F _ferry ferry$'
ok "bash-completion loads it by name from a completions dir: $spec"

mapfile -t commands < <(sed -n 's/^ *{ "\([a-z-]*\)", .*ferry_builtin_.*/\1/p' "$FERRY_SOURCE_DIR/src/main.c")
expect_offers "ferry " "${commands[@]}" help
assert_eq "$(complete_line "ferry boot")" bootstrap "completion of ferry boot"
assert_eq "$(complete_line "ferry help tear")" teardown "completion of ferry help tear"
ok "commands: all ${#commands[@]} of the table, and after help"

n=0
for cmd in "${commands[@]}"; do
    mapfile -t opts < <("$FERRY" "$cmd" --help-all | grep -oE '^ +(-[a-zA-Z0-9], )?--[a-z0-9-]+(=[^ ]+)?' |
        sed -E 's/^ +(-[a-zA-Z0-9], )?//; s/=.*/=/' | grep -v '^--help')
    expect_offers "ferry $cmd --" "${opts[@]}"
    n=$((n + ${#opts[@]}))
done
assert_eq "$(complete_line "ferry bootstrap --inst")" "--instance-type=" "completion of --inst"
ok "options: every one of every command's --help-all ($n)"

# Every option whose metavar lists its values (--then, --via, --arch...) completes them, after = or a blank.
n=0
for cmd in "${commands[@]}"; do
    while read -r opt values; do
        # shellcheck disable=SC2086
        expect_offers "ferry $cmd $opt=" ${values//|/ }
        # shellcheck disable=SC2086
        expect_offers "ferry $cmd $opt " ${values//|/ }
        n=$((n + 1))
    done < <("$FERRY" "$cmd" --help-all | sed -nE 's/^ +(--[a-z0-9-]+)=([^ ]*\|[^ ]*).*/\1 \2/p')
done
[ "$n" -ge 2 ] || fatal "no option with listed values (--then, --via) found"
expect_offers "ferry run --then=" keep stop terminate
expect_offers "ferry push --via " ssh s3
assert_eq "$(complete_line "ferry run --then=te")" terminate "completion of --then=te"
ok "option values: --then, --via and every option that lists its values ($n)"

mkdir -m 700 .ferry lab
printf '{\n  "name": "mylab",\n  "resources": {\n    "key_pair": {\n      "name": "other"\n    }\n  }\n}\n' >.ferry/state.json
printf '{\n  "name": "hpc-2",\n  "resources": {}\n}\n' >lab/state.json
assert_eq "$(complete_line "ferry status --name ")" mylab "deployment name from .ferry"
assert_eq "$(complete_line "ferry teardown --state-dir lab --name=")" hpc-2 "deployment name from --state-dir"
ok "deployment names from the state dir"

remote_dir=$TEST_TMP/wf
mkdir -p "$remote_dir" && cp -r "$FERRY_SOURCE_DIR/tests/data/demo/." "$remote_dir/"
cd "$remote_dir"
expect_offers "ferry export " all count summary Snakefile data
expect_offers "ferry run " all count summary
assert_eq "$(complete_line "ferry run su")" summary "completion of a rule name"
expect_offers "ferry push Sn" Snakefile
expect_offers "ferry export all -o " Snakefile data
ok "targets: rule names from snakemake --list, and files"

done_testing
