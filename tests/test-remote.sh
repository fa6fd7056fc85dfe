#!/bin/bash
# ferry ssh / push / run / pull against a real sshd on loopback and the real snakemake, with --host and a
# key of the test's own, and no aws on PATH.
# shellcheck source=tests/libtest.sh
source "$(dirname "$0")/libtest.sh"
# shellcheck source=tests/lib-remote.sh
source "$(dirname "$0")/lib-remote.sh"

PATH=$(path_without_aws)
export PATH
if command -v aws >/dev/null; then fatal "aws is still on PATH"; fi

sshd_start
remote_setup_host
R="$TEST_TMP/remote"

# --- ssh ------------------------------------------------------------------------------------------
cd "$TEST_TMP"
expect_exit 0 ferry ssh "${REMOTE_OPTS[@]}" -- printf '%s|' 'a b' "it's" '$(touch pwned)' '`touch pwned2`' 'ü
x'
assert_eq "$(cat "$TEST_TMP/out")" "a b|it's|\$(touch pwned)|\`touch pwned2\`|ü
x|" "words reach the remote command unchanged"
assert_not_exists "$HOME/pwned"
assert_not_exists "$TEST_TMP/pwned"
ok "ssh passes hostile words through unchanged"

expect_exit 7 ferry ssh "${REMOTE_OPTS[@]}" -- sh -c 'exit 7'
ok "ssh passes the remote exit status through"

# --- the --host round trip -----------------------------------------------------------------------
remote_example_workflow "$TEST_TMP/wf"
cd "$TEST_TMP/wf"
before=$(sshd_handshakes)
expect_exit 0 ferry run "${REMOTE_OPTS[@]}" --remote-dir "$R" --cores 2 results/summary.tsv
after=$(sshd_handshakes)
assert_file_has_content "$TEST_TMP/out" "Finished job"
assert_file_has_content "$TEST_TMP/err" "pushed 4 of 4 files"
assert_file_has_content "$TEST_TMP/err" "pulled 4 entries"
expected=$(for s in alpha beta gamma; do printf '%s\t%s\n' "$s" "$(wc -w <"data/$s.txt")"; done)
assert_eq "$(cat results/summary.tsv)" "$expected" "pulled summary"
assert_file_exists "$R/results/summary.tsv"
assert_eq "$((after - before))" 1 "SSH handshakes of a run (ControlMaster)"
ls .ferry/logs/run-*.log >/dev/null || fatal "no run log kept"
assert_file_has_content "$(ls .ferry/logs/run-*.log | head -1)" "Finished job"
snakemake -n --cores 1 results/summary.tsv >"$TEST_TMP/n" 2>&1
assert_file_has_content "$TEST_TMP/n" "Nothing to be done"
ok "run over --host: pushed, ran, pulled; local snakemake -n has nothing to do; one handshake"

# No ssh process (ControlMaster) is left behind, after a run or after a push that fails once the
# connection has started (it starts early, alongside snakemake's dry run). Only this test's master
# counts (its ControlPath, read from -v): other tests may be running theirs meanwhile.
expect_exit 1 ferry push "${REMOTE_OPTS[@]}" --remote-dir "$R" no_such_target
assert_one_error_line
expect_exit 0 ferry ssh -v "${REMOTE_OPTS[@]}" -- true
cp=$(grep -o 'ControlPath=[^ ]*' "$TEST_TMP/err" | head -1 | cut -d= -f2)
[ -n "$cp" ] || fatal "no ControlPath in ferry's -v trace"
for _ in 1 2 3 4 5; do pgrep -f "^ssh: $cp" >/dev/null || break; sleep 1; done
if pgrep -f "^ssh: $cp" >/dev/null; then fatal "an ssh master is still running ($cp)"; fi
assert_not_exists "$cp"
ok "no ssh master left behind"

# --- incremental push ----------------------------------------------------------------------------
expect_exit 0 ferry push "${REMOTE_OPTS[@]}" --remote-dir "$R" results/summary.tsv
assert_file_has_content "$TEST_TMP/out" "^pushed 0 of 4 files \(0 bytes"
echo "one more word" >>data/beta.txt
expect_exit 0 ferry push "${REMOTE_OPTS[@]}" --remote-dir "$R" results/summary.tsv
# beta changed: its count and the summary would run, so the closure is the Snakefile, beta.txt and
# the two other counts, which the remote made and the pull entered in its manifest: only beta goes.
assert_file_has_content "$TEST_TMP/out" "^pushed 1 of 4 files"
cmp data/beta.txt "$R/data/beta.txt" || fatal "changed file not sent"
ok "a second push sends nothing; a changed file alone is sent again"

expect_exit 0 ferry pull "${REMOTE_OPTS[@]}" --remote-dir "$R" results/summary.tsv
# Only the jobs that would run here (beta's count and the summary) have outputs to bring back.
assert_file_has_content "$TEST_TMP/out" "^pulled 2 entries"
ok "pull alone"

# --- hostile names in files and targets ----------------------------------------------------------
H="we ird'q\"\$(touch pwned)\`touch pwned2\`ü"
mkdir -p "$TEST_TMP/hostile/data"
cd "$TEST_TMP/hostile"
cat >Snakefile <<'SMK'
rule copy:
    input:
        "data/{name}.txt",
    output:
        "results/{name}.out",
    shell:
        "cp {input:q} {output:q}"
SMK
echo "hostile content" >"data/$H.txt"
expect_exit 0 ferry run "${REMOTE_OPTS[@]}" --remote-dir "$TEST_TMP/remote hostile \$(x)" --cores 1 "results/$H.out"
assert_eq "$(cat "results/$H.out")" "hostile content" "pulled hostile file"
assert_file_exists "$TEST_TMP/remote hostile \$(x)/data/$H.txt"
for d in "$HOME" "$TEST_TMP" "$TEST_TMP/hostile" "$TEST_TMP/remote hostile \$(x)"; do
    assert_not_exists "$d/pwned"
    assert_not_exists "$d/pwned2"
done
ok "hostile names in files, targets and the remote dir"

# --- a failing remote rule -----------------------------------------------------------------------
mkdir -p "$TEST_TMP/failing"
cd "$TEST_TMP/failing"
cat >Snakefile <<'SMK'
rule all:
    input:
        "good.txt",
        "bad.txt",


rule good:
    output:
        "good.txt",
    shell:
        "echo good > {output}"


rule bad:
    output:
        "bad.txt",
    shell:
        "echo partial > {output}; exit 3"
SMK
expect_exit 1 ferry run "${REMOTE_OPTS[@]}" --remote-dir "$TEST_TMP/remote-failing" --cores 1 all -- --keep-going
assert_file_has_content "$TEST_TMP/out" "Error in rule bad"
assert_file_has_content "$TEST_TMP/err" "snakemake failed on .* \(exit 1\)"
assert_eq "$(cat good.txt)" "good" "the good job's output is pulled"
assert_not_exists bad.txt
ok "a failing remote rule: snakemake's status passed through, its output not pulled"

# An interrupted job's output stays marked incomplete on the remote: pull leaves it there.
mkdir -p "$TEST_TMP/remote-failing/.snakemake/incomplete"
marker=$(printf 'good.txt' | base64 | tr '+/' '-_')
: >"$TEST_TMP/remote-failing/.snakemake/incomplete/$marker"
rm good.txt
expect_exit 0 ferry pull "${REMOTE_OPTS[@]}" --remote-dir "$TEST_TMP/remote-failing" all
assert_not_exists good.txt
ok "pull skips outputs snakemake marks incomplete on the remote"

# --- connection errors ---------------------------------------------------------------------------
cd "$TEST_TMP/wf"
closed=$(free_port)
expect_exit 1 ferry push --host 127.0.0.1 --ssh-option "Port=$closed" --ssh-option "IdentityFile=$TEST_TMP/id_ferry" results/summary.tsv
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "cannot connect to 127.0.0.1 over ssh: .*refused"
ok "connection refused: one clear error line"

ssh-keygen -q -t ed25519 -N '' -f "$TEST_TMP/stranger"
expect_exit 1 ferry run --host "$SSH_USER@127.0.0.1" --ssh-option "Port=$SSHD_PORT" \
    --ssh-option "IdentityFile=$TEST_TMP/stranger" --ssh-option IdentitiesOnly=yes results/summary.tsv
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "cannot connect to .*127.0.0.1 over ssh: .*Permission denied"
ok "a key the host does not accept: one clear error line"

mkdir -p "$TEST_TMP/noinstance" && cd "$TEST_TMP/noinstance"
cp "$TEST_TMP/wf/Snakefile" .
expect_exit 1 ferry run results/summary.tsv
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "no instance .*--host"
ok "no instance and no --host: one clear error line"

expect_exit 2 ferry run "${REMOTE_OPTS[@]}" --then stop results/summary.tsv
assert_one_error_line
expect_exit 2 ferry run "${REMOTE_OPTS[@]}" --cores 'x; rm' results/summary.tsv
assert_one_error_line
expect_exit 2 ferry push "${REMOTE_OPTS[@]}"
assert_one_error_line
ok "usage errors exit 2"

# --- pull refuses a crafted archive --------------------------------------------------------------
mkdir -p "$TEST_TMP/evil/bin"
cat >"$TEST_TMP/evil/bin/tar" <<EVIL
#!/bin/sh
# Stands in for the remote tar: a crafted archive whenever ferry asks for the outputs.
for a in "\$@"; do
    if [ "\$a" = "--null" ]; then exec cat "$TEST_TMP/evil/\$(cat "$TEST_TMP/evil/which")"; fi
done
exec /usr/bin/tar "\$@"
EVIL
chmod +x "$TEST_TMP/evil/bin/tar"
python3 - "$TEST_TMP/evil" <<'PY'
import io, sys, tarfile
d = sys.argv[1]
def make(name, entries):
    with tarfile.open(f"{d}/{name}", "w") as t:
        for path, kind, arg in entries:
            info = tarfile.TarInfo(path)
            if kind == "file":
                data = arg.encode()
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
            else:
                info.type = tarfile.SYMTYPE
                info.linkname = arg
                t.addfile(info)
make("dotdot.tar", [("results/summary.tsv", "file", "ok\n"), ("results/../../escaped-dotdot", "file", "x")])
make("absolute.tar", [(d + "/escaped-absolute", "file", "x")])
make("symlink.tar", [("results/counts", "symlink", d), ("results/counts/escaped-symlink", "file", "x")])
make("reldir.tar", [("results/counts", "symlink", "../../evil"), ("results/counts/escaped-rel", "file", "x")])
PY
# A second sshd (in its own dir) whose sessions find the crafted tar first.
mkdir -p "$TEST_TMP/evilhost"
evil_path="SetEnv PATH=$TEST_TMP/evil/bin:/usr/local/bin:/usr/bin:/bin"
TEST_TMP="$TEST_TMP/evilhost" SSHD_EXTRA_CONFIG="$evil_path" sshd_start
EVIL_OPTS=(--host "$SSH_USER@127.0.0.1" --ssh-option "Port=$SSHD_PORT"
    --ssh-option "IdentityFile=$TEST_TMP/id_ferry" --ssh-option IdentitiesOnly=yes --remote-dir "$R")
sshd_authorize "$TEST_TMP/id_ferry"
mkdir -p "$TEST_TMP/victim/sub"
remote_example_workflow "$TEST_TMP/victim/sub"
cd "$TEST_TMP/victim/sub"
for which in dotdot absolute symlink reldir; do
    echo "$which.tar" >"$TEST_TMP/evil/which"
    expect_exit 1 ferry pull "${EVIL_OPTS[@]}" results/summary.tsv
    assert_one_error_line
    assert_file_has_content "$TEST_TMP/err" "refusing"
done
assert_not_exists "$TEST_TMP/victim/escaped-dotdot"
assert_not_exists "$TEST_TMP/escaped-dotdot"
assert_not_exists "$TEST_TMP/evil/escaped-absolute"
assert_not_exists "$TEST_TMP/evil/escaped-symlink"
assert_not_exists "$TEST_TMP/evil/escaped-rel"
ok "pull refuses entries with .., absolute paths and symlink escapes"

done_testing
