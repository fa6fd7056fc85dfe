#!/bin/bash
# ferry's own temp files (the dry run's ferry-plan-* dir) go when it ends: on success, when snakemake
# fails or is missing, and when a signal stops it in the middle.
# shellcheck source=tests/libtest.sh
source "$(dirname "$0")/libtest.sh"
# shellcheck source=tests/lib-remote.sh
source "$(dirname "$0")/lib-remote.sh"

# Only ferry's temp files land here.
export TMPDIR="$TEST_TMP/tmp"
mkdir -p "$TMPDIR"
left_in_tmp() { find "$TMPDIR" -mindepth 1 -maxdepth 1 -printf '%f\n'; }

# A snakemake first on PATH that lists ferry's temp dir (proof that the dry run's dir exists while
# snakemake runs), then signals ferry, its parent, if asked, and runs the real snakemake.
mkdir -p "$TEST_TMP/bin"
real_snakemake=$(command -v snakemake)
cat >"$TEST_TMP/bin/snakemake" <<EOF
#!/bin/sh
ls "$TMPDIR" >"$TEST_TMP/during"
[ ! -s "$TEST_TMP/signal" ] || kill -\$(cat "$TEST_TMP/signal") \$PPID
exec "$real_snakemake" "\$@"
EOF
chmod +x "$TEST_TMP/bin/snakemake"
export PATH="$TEST_TMP/bin:$PATH"

remote_example_workflow "$TEST_TMP/wf"
cd "$TEST_TMP/wf"

: >"$TEST_TMP/signal"
expect_exit 0 ferry export results/summary.tsv -o ok.tar.zst
assert_file_has_content "$TEST_TMP/during" '^ferry-plan-'
assert_eq "$(left_in_tmp)" "" "ferry's temp files after an export"
ok "export: the dry run's temp dir exists while snakemake runs, and is gone afterwards"

for s in TERM INT; do
    echo "$s" >"$TEST_TMP/signal"
    rm -f "$TEST_TMP/during"
    expect_exit "$((128 + $(kill -l "$s")))" ferry export results/summary.tsv -o sig.tar.zst
    assert_file_has_content "$TEST_TMP/during" '^ferry-plan-'
    assert_eq "$(left_in_tmp)" "" "ferry's temp files after SIG$s in the dry run"
done
: >"$TEST_TMP/signal"
ok "SIGTERM and SIGINT during the dry run: its temp dir is gone"

cp Snakefile Snakefile.good
printf 'rule broken\n    this is not python\n' >>Snakefile
rm -f "$TEST_TMP/during"
expect_exit 1 ferry export results/summary.tsv -o bad.tar.zst
assert_file_has_content "$TEST_TMP/during" '^ferry-plan-'
assert_eq "$(left_in_tmp)" "" "ferry's temp files after a failed dry run"
mv Snakefile.good Snakefile
expect_exit 1 env PATH="$(path_without_aws | tr ':' '\n' | grep -vxF "$TEST_TMP/bin" | while read -r d; do
    [ -x "$d/snakemake" ] || printf '%s:' "$d"; done)" "$FERRY" export results/summary.tsv -o none.tar.zst
assert_file_has_content "$TEST_TMP/err" 'snakemake'
assert_eq "$(left_in_tmp)" "" "ferry's temp files when snakemake is missing"
ok "a failed dry run, and a missing snakemake: no temp dir left"

done_testing
