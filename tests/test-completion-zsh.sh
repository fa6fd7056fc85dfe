#!/usr/bin/env bash
# zsh completion, loaded the way zsh loads an installed one (compinit, by its #compdef line, from a
# directory on fpath), and driven by TAB in a real interactive zsh on a pty (tests/complete.zsh):
# commands, every option of every command's --help-all, option values, deployment names, targets.
source "$(dirname "$0")/libtest.sh"
cd "$TEST_TMP"

command -v zsh >/dev/null || fatal "zsh not found (scripts/deps installs it)"
mkdir -p bin functions
ln -s "$FERRY" bin/ferry
ln -s "$FERRY_SOURCE_DIR/completions/_ferry" functions/_ferry
export PATH="$TEST_TMP/bin:$PATH"

# complete_lines LINE...: completes each line in one zsh; offers_for LINE then prints what TAB offered.
complete_lines() {
    printf '%s\n' "$@" | zsh -f "$FERRY_SOURCE_DIR/tests/complete.zsh" "$TEST_TMP/functions" \
        >"$TEST_TMP/offers" 2>"$TEST_TMP/offers.err" ||
        { cat "$TEST_TMP/offers.err" >&2; fatal "zsh completion failed"; }
}
offers_for() {
    awk -v want="== $1" '$0 == want {on = 1; next} /^== / {on = 0} on' "$TEST_TMP/offers"
}

# expect_offers LINE WORD...: TAB after LINE offered each WORD.
expect_offers() {
    local line=$1 w
    shift
    offers_for "$line" >"$TEST_TMP/offered"
    for w in "$@"; do
        grep -qxF -- "$w" "$TEST_TMP/offered" ||
            { sed 's/^/# offered: /' "$TEST_TMP/offered" >&2; fatal "'$line<TAB>' does not offer '$w'"; }
    done
}

mapfile -t commands < <(sed -n 's/^ *{ "\([a-z-]*\)", .*ferry_builtin_.*/\1/p' "$FERRY_SOURCE_DIR/src/main.c")
[ "${#commands[@]}" -ge 20 ] || fatal "the command table in src/main.c was not read"

# Every command's options, from its --help-all; and the options that list their values.
queries=("ferry " "ferry boot" "ferry help tear" "ferry -" "ferry bootstrap --inst")
declare -A options values
for cmd in "${commands[@]}"; do
    options[$cmd]=$("$FERRY" "$cmd" --help-all | grep -oE '^ +(-[a-zA-Z0-9], )?--[a-z0-9-]+' |
        sed -E 's/^ +(-[a-zA-Z0-9], )?//' | tr '\n' ' ')
    queries+=("ferry $cmd --")
    while read -r opt list; do
        values["$cmd $opt"]=${list//|/ }
        queries+=("ferry $cmd $opt=" "ferry $cmd $opt ")
    done < <("$FERRY" "$cmd" --help-all | sed -nE 's/^ +(--[a-z0-9-]+)=([^ ]*\|[^ ]*).*/\1 \2/p')
done
[ "${#values[@]}" -ge 2 ] || fatal "no option with listed values (--then, --via) found"

mkdir -m 700 .ferry lab
printf '{\n  "name": "mylab",\n  "resources": {\n    "key_pair": {\n      "name": "other"\n    }\n  }\n}\n' >.ferry/state.json
printf '{\n  "name": "hpc-2",\n  "resources": {}\n}\n' >lab/state.json
queries+=("ferry status --name " "ferry teardown --state-dir lab --name=")

wf=$TEST_TMP/wf
mkdir -p "$wf" && cp -r "$FERRY_SOURCE_DIR/tests/data/demo/." "$wf/"
queries+=("!cd ${wf@Q}" "ferry export " "ferry run " "ferry run su" "ferry push Sn" "ferry export all -o "
    "ferry run all -- ")

complete_lines "${queries[@]}"

expect_offers "ferry " "${commands[@]}" help
assert_eq "$(offers_for "ferry boot")" bootstrap "completion of ferry boot"
assert_eq "$(offers_for "ferry help tear")" teardown "completion of ferry help tear"
expect_offers "ferry -" --help --version
ok "commands: all ${#commands[@]} of the table, and after help"

n=0
for cmd in "${commands[@]}"; do
    read -ra opts <<<"${options[$cmd]}"
    expect_offers "ferry $cmd --" "${opts[@]}"
    n=$((n + ${#opts[@]}))
done
assert_eq "$(offers_for "ferry bootstrap --inst")" "--instance-type" "completion of --inst"
ok "options: every one of every command's --help-all ($n)"

for key in "${!values[@]}"; do
    read -r cmd opt <<<"$key"
    # shellcheck disable=SC2086
    expect_offers "ferry $cmd $opt=" ${values[$key]}
    # shellcheck disable=SC2086
    expect_offers "ferry $cmd $opt " ${values[$key]}
done
expect_offers "ferry run --then=" keep stop terminate
expect_offers "ferry push --via " ssh s3
ok "option values: --then, --via and every option that lists its values (${#values[@]})"

assert_eq "$(offers_for "ferry status --name ")" mylab "deployment name from .ferry"
assert_eq "$(offers_for "ferry teardown --state-dir lab --name=")" hpc-2 "deployment name from --state-dir"
ok "deployment names from the state dir"

expect_offers "ferry export " all count summary Snakefile data
expect_offers "ferry run " all count summary
assert_eq "$(offers_for "ferry run su")" summary "completion of a rule name"
expect_offers "ferry push Sn" Snakefile
expect_offers "ferry export all -o " Snakefile data
expect_offers "ferry run all -- " Snakefile data
ok "targets: rule names from snakemake --list, and files; after --, files"

done_testing
