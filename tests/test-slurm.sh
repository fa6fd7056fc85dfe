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

slurm_start
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

done_testing
