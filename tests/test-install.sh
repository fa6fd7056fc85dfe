#!/usr/bin/env bash
# `meson install` is a real install: staged under a temporary DESTDIR, the installed ferry runs from
# outside the source tree with no help from the environment, finds its own templates (export needs
# one), and the man page and the bash completion are where man and bash-completion look.
source "$(dirname "$0")/libtest.sh"
cd "$TEST_TMP"
unset FERRY_TEMPLATES_DIR

meson install -C "$FERRY_BUILD_DIR" --no-rebuild --quiet --destdir "$TEST_TMP/dest" >install.log 2>&1 ||
    { cat install.log >&2; fatal "meson install failed"; }
prefix=$(meson introspect "$FERRY_BUILD_DIR" --buildoptions |
    python3 -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "prefix"))')
root="$TEST_TMP/dest$prefix"
assert_file_exists "$root/bin/ferry"
assert_file_exists "$root/share/ferry/user-data.sh"
assert_file_exists "$root/share/ferry/snakemake-jobs.py"
assert_file_exists "$root/share/ferry/python/snakemake_logger_plugin_ferry/__init__.py"
assert_file_exists "$root/share/ferry/python/snakemake_logger_plugin_ferry/records.py"
assert_file_exists "$root/share/man/man1/ferry.1"
completion=$(find "$TEST_TMP/dest" -path '*/bash-completion/completions/ferry')
[ -n "$completion" ] || fatal "no bash completion installed"
assert_file_exists "$root/share/zsh/site-functions/_ferry"
ok "meson install puts ferry, its templates, ferry(1) and the bash and zsh completions under the prefix"

# Run from a copy of the demo workflow outside the source tree, with the source tree out of reach of
# the templates lookup: the installed ferry must use its own.
mkdir wf && cp -r "$FERRY_SOURCE_DIR/tests/data/demo/." wf/
cd wf
expect_exit 0 "$root/bin/ferry" --version
assert_file_has_content "$TEST_TMP/out" '^ferry [0-9.]+$'
expect_exit 0 "$root/bin/ferry" export all --list
assert_file_has_content "$TEST_TMP/out" '^data/'
# Those were its own templates, not the source tree's: without them, export fails.
mv "$root/share/ferry" "$root/share/ferry.away"
expect_exit 1 "$root/bin/ferry" export all --list
assert_one_error_line
mv "$root/share/ferry.away" "$root/share/ferry"
# With every other snakemake found too (9 through the installed logger plugin).
snakemakes_init
for i in "${!SNAKEMAKE_VERSIONS[@]}"; do
    expect_exit 0 with_snakemake "$i" "$root/bin/ferry" export all --list
    assert_file_has_content "$TEST_TMP/out" '^data/'
done
ok "the installed ferry runs outside the source tree: --version, and export --list with its own templates (snakemake ${SNAKEMAKE_VERSIONS[*]})"

LC_ALL=C MANWIDTH=100 man -l "$root/share/man/man1/ferry.1" >"$TEST_TMP/man.txt" 2>&1 || fatal "man -l failed"
assert_file_has_content "$TEST_TMP/man.txt" '^NAME'
spec=$(PATH="$root/bin:$PATH" bash --norc --noprofile -c 'source /usr/share/bash-completion/bash_completion
    source "$1" && complete -p ferry' _ "$completion")
assert_eq "$spec" "complete -F _ferry ferry" "the installed completion"
spec=$(zsh -f -c 'fpath=("$1" $fpath); autoload -Uz compinit && compinit -u -D && print -r -- $_comps[ferry]' \
    _ "$root/share/zsh/site-functions")
assert_eq "$spec" "_ferry" "the installed zsh completion"
ok "the installed man page renders and the installed completions register (bash and zsh)"

done_testing
