#!/bin/bash
# Stopping and failing cleanly: a signal cancels whatever ferry waits on (children stopped and reaped,
# one line, 128+signal), and a remote that dies mid-stream is an error with its stderr, not SIGPIPE.
# shellcheck source=tests/libtest.sh
source "$(dirname "$0")/libtest.sh"
# shellcheck source=tests/lib-remote.sh
source "$(dirname "$0")/lib-remote.sh"

PATH=$(path_without_aws)
export PATH

# --- a signal while ferry waits on a child --------------------------------------------------------
# The snakemake on PATH signals ferry (its parent) and then runs as usual: the signal arrives while
# ferry is blocked waiting for snakemake's dry run.
mkdir -p "$TEST_TMP/sig/bin"
real_snakemake=$(command -v snakemake)
cat >"$TEST_TMP/sig/bin/snakemake" <<EOF2
#!/bin/sh
echo \$\$ >"$TEST_TMP/sig/child.pid"
kill -\$(cat "$TEST_TMP/sig/which") \$PPID
exec "$real_snakemake" "\$@"
EOF2
chmod +x "$TEST_TMP/sig/bin/snakemake"
remote_example_workflow "$TEST_TMP/wf"
cd "$TEST_TMP/wf"
for s in TERM INT HUP; do
    echo "$s" >"$TEST_TMP/sig/which"
    rc=0
    PATH="$TEST_TMP/sig/bin:$PATH" ferry export results/summary.tsv -o out.tar.zst >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
    assert_eq "$rc" "$((128 + $(kill -l "$s")))" "exit status after SIG$s"
    assert_one_error_line
    assert_file_has_content "$TEST_TMP/err" "^error: export interrupted by SIG$s"
    child=$(cat "$TEST_TMP/sig/child.pid")
    if kill -0 "$child" 2>/dev/null; then fatal "snakemake ($child) outlived ferry after SIG$s"; fi
    assert_not_exists out.tar.zst
    if ls .out.tar.zst.ferry-* >/dev/null 2>&1; then fatal "a temporary archive was left behind"; fi
done
ok "SIGTERM, SIGINT and SIGHUP cancel a wait: child reaped, one line, exit 128+signal"

# --- a remote tar that dies mid-push --------------------------------------------------------------
# A remote whose tar (first on the login's PATH) reads a little of the archive, complains and exits.
mkdir -p "$TEST_TMP/badtar/bin"
cat >"$TEST_TMP/badtar/bin/tar" <<'EOF2'
#!/bin/sh
for a in "$@"; do
    case "$a" in
    -x*|--extract) head -c 10000 >/dev/null; echo "tar: simulated: No space left on device" >&2; exit 2 ;;
    esac
done
exec /usr/bin/tar "$@"
EOF2
chmod +x "$TEST_TMP/badtar/bin/tar"
SSHD_EXTRA_CONFIG="SetEnv PATH=$TEST_TMP/badtar/bin:/usr/local/bin:/usr/bin:/bin" sshd_start
remote_setup_host
head -c 8000000 /dev/urandom >data/big.bin
cat >>Snakefile <<'SMK'


rule big:
    input:
        "data/big.bin",
    output:
        "results/big.sum",
    shell:
        "cksum {input:q} > {output:q}"
SMK
expect_exit 1 ferry push "${REMOTE_OPTS[@]}" --remote-dir "$TEST_TMP/remote" --no-compress results/big.sum
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "^error: unpacking on .* failed \(exit 2\): tar: simulated: No space left on device"
ok "a remote tar that dies mid-push: one error line with its stderr, exit 1"

done_testing
