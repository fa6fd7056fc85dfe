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

# --- the cluster itself: snakemake --slurm straight on it --------------------------------------------
mkdir -p "$TEST_TMP/direct"
cp "$FERRY_SOURCE_DIR/tests/data/slurm/Snakefile" "$TEST_TMP/direct/"
cd "$TEST_TMP/direct"
expect_exit 0 snakemake --slurm --jobs 3 --max-status-checks-per-second 1
for i in 0 1 2; do assert_file_has_content "out/$i.txt" '^job=[0-9]+$'; done
assert_eq "$(sort -u out/*.txt | wc -l)" 3 "distinct SLURM jobs"
slurm_assert_queue_empty
ok "snakemake --slurm runs 3 jobs on the test cluster, each in a SLURM job of its own"

# The login node (the loopback sshd) sees the same cluster.
expect_exit 0 ssh -i "$TEST_TMP/id_ferry" -o IdentitiesOnly=yes -o StrictHostKeyChecking=no \
    -o UserKnownHostsFile=/dev/null -p "$SSHD_PORT" "$SSH_USER@127.0.0.1" "sinfo -h -o '%P %a'"
assert_file_has_content "$TEST_TMP/out" "^$SLURM_PARTITION\* up"
ok "the login node's ssh sessions see the cluster"

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

done_testing
