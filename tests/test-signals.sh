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

# True when process $1 is gone or a zombie (dead, its parent not yet told).
process_gone() { # PID
    local st
    [[ $# == 1 && $1 =~ ^[0-9]+$ ]] || fatal "process_gone takes a PID, got: '$*'"
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 0
    [ -z "$st" ] || [ "$st" = Z ] || [ "$st" = X ]
}

# --- a signal while the archive is being written ---------------------------------------------------
# An input large enough that the write takes a while; the signal goes as soon as the temporary archive
# exists. Promised: no archive, no temporary left, exit 128+signal. (Were the write over before the
# signal, the exit status would say so and the test fail.)
head -c 300000000 /dev/urandom >data/huge.bin
cat >>Snakefile <<'SMK'


rule huge:
    input:
        "data/huge.bin",
    output:
        "results/huge.sum",
    shell:
        "cksum {input:q} > {output:q}"
SMK
for s in TERM INT; do
    "$FERRY" export results/huge.sum -o huge.tar.zst >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
    pid=$!
    wait_until 120 'compgen -G ".huge.tar.zst.ferry-*" >/dev/null'
    kill "-$s" "$pid"
    rc=0
    wait "$pid" || rc=$?
    assert_eq "$rc" "$((128 + $(kill -l "$s")))" "exit status after SIG$s while writing the archive"
    assert_one_error_line
    assert_file_has_content "$TEST_TMP/err" "^error: export interrupted by SIG$s"
    assert_not_exists huge.tar.zst
    if compgen -G ".huge.tar.zst.ferry-*" >/dev/null; then fatal "a temporary archive was left behind after SIG$s"; fi
done
rm data/huge.bin
ok "SIGTERM and SIGINT while the archive is written: no archive, no temporary, exit 128+signal"

# --- a signal during an aws call ---------------------------------------------------------------------
# Each aws on PATH starts a child of its own, signals ferry, and hangs. Promised: the call and what it
# started are killed and gone, one line, exit 128+signal.
mkdir -p "$TEST_TMP/sigaws/bin"
cat >"$TEST_TMP/sigaws/bin/aws" <<EOF2
#!/bin/sh
[ "\$1" = configure ] && exit 1
echo \$\$ >>"$TEST_TMP/sigaws/aws.pids"
sleep 30 &
echo \$! >>"$TEST_TMP/sigaws/child.pids"
kill -TERM \$PPID
wait
EOF2
chmod +x "$TEST_TMP/sigaws/bin/aws"
rm -f "$TEST_TMP/sigaws/"*.pid
rc=0
PATH="$TEST_TMP/sigaws/bin:$PATH" ferry ls --region eu-central-1 --endpoint-url http://127.0.0.1:9 >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
assert_eq "$rc" 143 "exit status after SIGTERM during an aws call"
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "^error: ls interrupted by SIGTERM"
# ferry makes its calls side by side: every stub that ran, and every child of one, is gone.
for f in aws child; do
    mapfile -t pids <"$TEST_TMP/sigaws/$f.pids" || fatal "the aws stub wrote no $f.pids"
    [ "${#pids[@]}" -ge 1 ] || fatal "no $f pid recorded"
    for p in "${pids[@]}"; do wait_until 10 "process_gone $p"; done
done
ok "SIGTERM during an aws call: the call and its own child are gone, one line, exit 143"

# --- a remote tar that dies mid-push --------------------------------------------------------------
# A remote whose tar (first on the login's PATH) reads a little of the archive, complains and exits.
# The same tar, when $TEST_TMP/badtar/signal exists, waits for it to name a pid and signals that ferry
# as it starts to extract (the push is streaming), then extracts; with $TEST_TMP/badtar/pass it only
# extracts.
mkdir -p "$TEST_TMP/badtar/bin"
cat >"$TEST_TMP/badtar/bin/tar" <<EOF2
#!/bin/sh
if [ -e "$TEST_TMP/badtar/pass" ]; then exec /usr/bin/tar "\$@"; fi
for a in "\$@"; do
    case "\$a" in
    -x*|--extract)
        if [ -e "$TEST_TMP/badtar/signal" ]; then
            while [ ! -s "$TEST_TMP/badtar/signal" ]; do sleep 0.1; done
            echo \$\$ >"$TEST_TMP/badtar/tar.pid"
            kill -TERM "\$(cat "$TEST_TMP/badtar/signal")"
            exec /usr/bin/tar "\$@"
        fi
        head -c 10000 >/dev/null; echo "tar: simulated: No space left on device" >&2; exit 2 ;;
    esac
done
exec /usr/bin/tar "\$@"
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

# --- a signal during a push ------------------------------------------------------------------------
# Promised: exit 128+signal with one line; the remote tar gone; the remote manifest, written last,
# never claims what did not arrive, so the next push leaves the remote's files equal to ours.
: >"$TEST_TMP/badtar/signal"
"$FERRY" push "${REMOTE_OPTS[@]}" --remote-dir "$TEST_TMP/remote" --no-compress results/big.sum \
    >"$TEST_TMP/out" 2>"$TEST_TMP/err" &
pid=$!
echo "$pid" >"$TEST_TMP/badtar/signal"
rc=0
wait "$pid" || rc=$?
assert_eq "$rc" 143 "exit status after SIGTERM during a push"
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "^error: push interrupted by SIGTERM"
t=$(cat "$TEST_TMP/badtar/tar.pid") || fatal "the remote tar never started"
wait_until 10 "process_gone $t"
rm "$TEST_TMP/badtar/signal"
touch "$TEST_TMP/badtar/pass"
expect_exit 0 ferry push "${REMOTE_OPTS[@]}" --remote-dir "$TEST_TMP/remote" --no-compress results/big.sum
for f in data/big.bin Snakefile; do
    cmp -s "$f" "$TEST_TMP/remote/$f" || fatal "$f on the remote differs from ours after the next push"
done
ok "SIGTERM during a push: exit 143, one line, the remote tar gone; the next push makes the remote whole"

done_testing
