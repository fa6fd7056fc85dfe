#!/bin/bash
# SLURM through a login node: a real single-node SLURM (slurm-wlm + munge, started here as root) behind
# the loopback sshd, the real snakemake --slurm, and ferry run --slurm / check --host / cancel on it.
# One cluster serves every subtest. Skipped (TAP 1..0) only when not root.
# shellcheck source=tests/libtest.sh
source "$(dirname "$0")/libtest.sh"
# shellcheck source=tests/lib-remote.sh
source "$(dirname "$0")/lib-remote.sh"
# shellcheck source=tests/lib-slurm.sh
source "$(dirname "$0")/lib-slurm.sh"

# A user whose login shell is tcsh (made below) reads its own authorized_keys: the test's is private.
TCSH_USER="fs$$"
slurm_start
SSHD_EXTRA_CONFIG="$SSHD_EXTRA_CONFIG
Match User $TCSH_USER
    AuthorizedKeysFile .ssh/authorized_keys"
sshd_start
remote_setup_host
export USER="${USER:-$(id -un)}"

# --- ferry check --host ---------------------------------------------------------------------------
cd "$TEST_TMP"
expect_exit 0 ferry check "${REMOTE_OPTS[@]}" --slurm
assert_file_has_content "$TEST_TMP/out" "^ok   snakemake: 7\.[0-9.]+ \(--slurm\)"
for c in sinfo squeue sbatch scancel; do assert_file_has_content "$TEST_TMP/out" "^ok   $c: /"; done
assert_file_has_content "$TEST_TMP/out" \
    "^ok   default partition: $SLURM_PARTITION \(up, time limit 1:00:00, 1 node, $(nproc) CPUs"
assert_file_has_content "$TEST_TMP/out" "^ok   free space: .* in /"
assert_file_has_content "$TEST_TMP/out" "^ok   login shell: /"
ok "check --host reports snakemake, SLURM's commands, the default partition, free space and the shell"

# A login node where SLURM's commands are not on the PATH: a warning for a plain host, a failure with
# --slurm, whose last line says what to do.
NOSLURM_KEY=$(slurm_key_with_path "$(slurm_path_without_slurm)" noslurm)
NOSLURM_OPTS=(--host "$SSH_USER@127.0.0.1" --ssh-option "Port=$SSHD_PORT"
    --ssh-option "IdentityFile=$NOSLURM_KEY" --ssh-option IdentitiesOnly=yes)
expect_exit 0 ferry check "${NOSLURM_OPTS[@]}"
assert_file_has_content "$TEST_TMP/out" "^warn slurm: no sbatch"
expect_exit 1 ferry check "${NOSLURM_OPTS[@]}" --slurm
assert_file_has_content "$TEST_TMP/out" "^FAIL slurm: no sbatch"
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "run --slurm needs a SLURM login node.*then run ferry check --host"
ok "check --host --slurm fails with what to do when the remote has no SLURM"

# A user whose login shell is tcsh: the checks run under /bin/sh all the same. (Password "*": a
# locked account, "!", may not log in over ssh.)
useradd -m -p "*" -s "$(command -v tcsh)" "$TCSH_USER" || fatal "useradd $TCSH_USER"
on_exit "userdel -r '$TCSH_USER'"
mkdir -p "/home/$TCSH_USER/.ssh"
ssh-keygen -y -f "$TEST_TMP/id_ferry" >"/home/$TCSH_USER/.ssh/authorized_keys"
chown -R "$TCSH_USER:" "/home/$TCSH_USER/.ssh"
TCSH_OPTS=(--host "$TCSH_USER@127.0.0.1" --ssh-option "Port=$SSHD_PORT"
    --ssh-option "IdentityFile=$TEST_TMP/id_ferry" --ssh-option IdentitiesOnly=yes)
expect_exit 0 ferry check "${TCSH_OPTS[@]}" --slurm
assert_file_has_content "$TEST_TMP/out" "^ok   login shell: .*/tcsh"
assert_file_has_content "$TEST_TMP/out" "^ok   default partition: $SLURM_PARTITION "
assert_file_has_content "$TEST_TMP/out" "^ok   free space: .* in /home/$TCSH_USER"
ok "check --host works for a tcsh login shell"

expect_exit 2 ferry check --slurm
assert_one_error_line
ok "check --slurm without a remote is a usage error"

# --- ferry run --slurm ----------------------------------------------------------------------------
mkdir -p "$TEST_TMP/wf"
cp "$FERRY_SOURCE_DIR/tests/data/slurm/Snakefile" "$TEST_TMP/wf/"
cd "$TEST_TMP/wf"
R="$TEST_TMP/remote"

expect_exit 2 ferry run "${REMOTE_OPTS[@]}" --jobs 3 all
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" -e "--jobs goes with --slurm"
expect_exit 2 ferry run "${REMOTE_OPTS[@]}" --slurm --slurm-resources mem_mb all
assert_one_error_line
expect_exit 2 ferry run "${REMOTE_OPTS[@]}" --slurm --partition 'a;b' all
assert_one_error_line
expect_exit 0 ferry run --dry-run "${REMOTE_OPTS[@]}" --slurm --jobs 3 --partition p1 \
    --slurm-resources runtime=30 all
grep -F "would run there: snakemake --cores all --default-resources 'slurm_partition='\''p1'\''' runtime=30 --slurm --jobs 3 --max-status-checks-per-second 1 -- all" \
    "$TEST_TMP/out" >/dev/null || { cat "$TEST_TMP/out" >&2; fatal "dry run: not the SLURM flags"; }
ok "run --slurm: usage errors, and the flags a dry run shows"

expect_exit 0 ferry run "${REMOTE_OPTS[@]}" --remote-dir "$R" --slurm --jobs 3 all
for i in 0 1 2; do
    assert_file_has_content "out/$i.txt" '^job=[0-9]+$'
    cmp "out/$i.txt" "$R/out/$i.txt" || fatal "out/$i.txt did not come home"
done
assert_eq "$(sort -u out/*.txt | wc -l)" 3 "distinct SLURM jobs"
assert_file_has_content "$TEST_TMP/out" "submitted with SLURM jobid"
assert_file_has_content "$TEST_TMP/err" "^SLURM jobs: 0 pending, 0 running, 3 done$"
snakemake -n --cores 1 all >"$TEST_TMP/n" 2>&1
assert_file_has_content "$TEST_TMP/n" "Nothing to be done"
slurm_assert_queue_empty "the queue after run --slurm"
ok "run --slurm: 3 jobs, each in a SLURM job of its own; the outputs come home; the queue is empty"

# --- bad input --------------------------------------------------------------------------------------
rm -rf out
expect_exit 1 ferry run "${NOSLURM_OPTS[@]}" --remote-dir "$R.noslurm" --slurm all
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "^error: sbatch is not found on 127.0.0.1: --slurm needs a SLURM login node"
assert_not_exists "$R.noslurm"
ok "run --slurm without sbatch on the remote: one clear line, nothing pushed"

mkdir -p "$TEST_TMP/old-snakemake"
cat >"$TEST_TMP/old-snakemake/snakemake" <<'STUB'
#!/bin/sh
# An old snakemake: only its version matters here.
case "$1" in --version) echo 7.18.2 ;; *) echo "snakemake 7.18.2 stub" >&2; exit 1 ;; esac
STUB
chmod +x "$TEST_TMP/old-snakemake/snakemake"
OLD_KEY=$(slurm_key_with_path "$TEST_TMP/old-snakemake:/usr/local/bin:/usr/bin:/bin" old)
expect_exit 1 ferry run --host "$SSH_USER@127.0.0.1" --ssh-option "Port=$SSHD_PORT" \
    --ssh-option "IdentityFile=$OLD_KEY" --ssh-option IdentitiesOnly=yes --remote-dir "$R.old" --slurm all
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "^error: snakemake 7\.18\.2 on 127\.0\.0\.1 cannot submit to SLURM \(--slurm needs 7\.19 or later\)"
ok "run --slurm with snakemake 7.18 on the remote: one clear line"

expect_exit 1 ferry run "${REMOTE_OPTS[@]}" --remote-dir "$R.part" --slurm --partition no_such_partition all
assert_file_has_content "$TEST_TMP/out" "invalid partition"
assert_file_has_content "$TEST_TMP/err" "^SLURM refused a job: sbatch: error: invalid partition specified: no_such_partition"
slurm_assert_queue_empty "the queue after a refused partition"
ok "run --slurm --partition unknown: SLURM's own error, exit 1, nothing queued"

# --- detached SLURM runs: --detach, attach, cancel --------------------------------------------------
# The tcsh user's login node: its jobs run as that user, and the gate lies where it can see it.
mkdir -p "$TEST_TMP/gated"
cp "$FERRY_SOURCE_DIR/tests/data/slurm-gated/Snakefile" "$TEST_TMP/gated/"
cd "$TEST_TMP/gated"
G="/home/$TCSH_USER/remote-gated"
gate="$SLURM_DIR/gate"
expect_exit 0 ferry run "${TCSH_OPTS[@]}" --remote-dir "$G" --slurm --jobs 2 --detach all -- --config "gate=$gate"
assert_file_has_content "$TEST_TMP/out" "ferry attach"
assert_file_has_content "$TEST_TMP/out" "ferry cancel"
assert_not_exists out/gated.txt
# The job is in the queue (running, waiting for its gate) while nobody follows the run.
wait_until 120 '[ -n "$(squeue -h -t R -u "$TCSH_USER" -o %i)" ]'
expect_exit 0 ferry status "${TCSH_OPTS[@]}" --remote-dir "$G"
assert_file_has_content "$TEST_TMP/out" "SLURM jobs: 0 pending, 1 running, 0 done"
touch "$gate"
expect_exit 0 ferry attach "${TCSH_OPTS[@]}" --remote-dir "$G"
assert_file_has_content out/gated.txt '^job=[0-9]+$'
assert_file_has_content "$TEST_TMP/err" "^SLURM jobs: 0 pending, 0 running, 1 done$"
slurm_assert_queue_empty "the queue after attach"
ok "run --slurm --detach as a tcsh user, status, then attach: the job ran in SLURM, its output came home"

rm -f "$gate" out/gated.txt
G2="$TEST_TMP/remote-cancel"
expect_exit 0 ferry run "${REMOTE_OPTS[@]}" --remote-dir "$G2" --slurm --jobs 2 --detach all -- --config "gate=$gate"
wait_until 120 '[ -n "$(squeue -h -t R -o %i)" ]'
# cancel's SIGINT reaches the run's snakemake (a `&` of a non-interactive sh would start it ignored).
sm_pid=$(pgrep -P "$(cat "$G2"/.ferry/runs/*/pid)" | head -n 1)
[ -n "$sm_pid" ] || fatal "no snakemake under the run's shell"
ign=$(awk '/^SigIgn/ { print $2 }' "/proc/$sm_pid/status")
(((16#$ign & 2) == 0)) || fatal "the run's snakemake ignores SIGINT (SigIgn $ign)"
expect_exit 0 ferry cancel "${REMOTE_OPTS[@]}" --remote-dir "$G2"
q=$(slurm_queue) || fatal "squeue failed after cancel"
assert_eq "$q" "" "the queue right after cancel"
if pgrep -f "snakemake.*--slurm.*gate=$gate" >/dev/null; then fatal "a snakemake of the run is still there"; fi
ok "cancel of a SLURM run with a job in the queue leaves squeue empty and no snakemake"

done_testing
