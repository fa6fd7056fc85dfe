#!/bin/bash
# Snakemake releases on either side: a run's round trip, detach, attach and cancel with the same
# release on both sides for each release found beyond Debian's (test-runs covers 7.21 with 7.21), and
# the mixed pairs: a local 7 with a remote 9, a local 9 with a remote 7. The local snakemake decides
# the dry run, the remote's runs the jobs; an argument after -- that only the remote's snakemake knows
# (an executor plugin's --slurm-status-command) never reaches the local dry run. The releases come
# from FERRY_TEST_SNAKEMAKES (see snakemakes_init); the remote's is the one a `snakemake` link in the
# sshd's PATH points at, re-pointed between pairs while no run is in flight.
# shellcheck source=tests/libtest.sh
source "$(dirname "$0")/libtest.sh"
# shellcheck source=tests/lib-remote.sh
source "$(dirname "$0")/lib-remote.sh"

PATH=$(path_without_aws)
export PATH

snakemakes_init
if [ "${#SNAKEMAKE_VERSIONS[@]}" -lt 2 ]; then
    ok "# SKIP no snakemake release beyond ${SNAKEMAKE_VERSIONS[0]} (name 8.x and 9.x executables in FERRY_TEST_SNAKEMAKES)"
    done_testing
    exit
fi

RBIN="$TEST_TMP/remote-bin"
mkdir -p "$RBIN"
SSHD_EXTRA_CONFIG="SetEnv PATH=$RBIN:$PATH"
sshd_start
remote_setup_host
R="$TEST_TMP/remote"
RO=("${REMOTE_OPTS[@]}" --remote-dir "$R")
runs_cleanup_on_exit "$R"

run_id() { sed -n 's/^started run \([^ ]*\) on .*/\1/p' "$1" | head -1; }

# The remote's snakemake: release $1's executable (the first one: Debian's).
remote_release() {
    local d=${SNAKEMAKE_DIRS[$1]}
    ln -sfn "$(if [ -n "$d" ]; then readlink -f "$d/snakemake"; else command -v snakemake; fi)" "$RBIN/snakemake"
}

# One local/remote pair: an attached round trip, then a detached run that attach brings home, then a
# cancelled one whose processes are all gone.
pair() { # LOCAL REMOTE
    local l=$1 r=$2 lv=${SNAKEMAKE_VERSIONS[$1]} rv=${SNAKEMAKE_VERSIONS[$2]} wf="$TEST_TMP/wf-$1-$2" id extra=()
    remote_release "$r"
    assert_eq "$(ssh -p "$SSHD_PORT" -i "$TEST_TMP/id_ferry" -o IdentitiesOnly=yes -o StrictHostKeyChecking=no \
        -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR "$SSH_USER@127.0.0.1" snakemake --version)" "$rv" \
        "the remote's snakemake"
    # A flag only the remote's snakemake knows (its SLURM plugin's), where it has that plugin.
    if [ "${rv%%.*}" -ge 8 ] && PATH="$RBIN:$PATH" snakemake --help 2>/dev/null | grep -q -e --slurm-status-command; then
        extra=(--slurm-status-command squeue)
    fi
    runs_gated_workflow "$wf"
    cd "$wf"
    touch "$TEST_TMP/open-gate"

    expect_exit 0 with_snakemake "$l" ferry run "${RO[@]}" --cores 1 results/slow.txt -- \
        --config "gate=$TEST_TMP/open-gate" "${extra[@]}"
    assert_eq "$(cat results/slow.txt)" "gated content" "local $lv, remote $rv: pulled output"
    id=$(run_id "$TEST_TMP/err")
    [ -n "$id" ] || id=$(run_id "$TEST_TMP/out")
    [ -n "$id" ] || fatal "local $lv, remote $rv: the run printed no run id"
    python3 - "$R/.ferry/runs/$id/run.json" "$TEST_TMP/open-gate" "${extra[@]}" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
assert r["snakemake_args"] == ["--config", "gate=" + sys.argv[2]] + sys.argv[3:], r
PY
    assert_eq "$(cat "$R/.ferry/runs/$id/exit")" 0 "local $lv, remote $rv: the run's recorded exit"
    rm -r results
    expect_exit 0 with_snakemake "$l" ferry pull "${RO[@]}" results/slow.txt
    assert_eq "$(cat results/slow.txt)" "gated content" "local $lv, remote $rv: output brought back by pull"
    ok "local snakemake $lv, remote $rv: run pushes, runs there (${extra[*]:-no remote-only flag}), pulls; pull alone brings it again"

    rm -r results
    expect_exit 0 with_snakemake "$l" ferry run "${RO[@]}" --detach --cores 1 results/slow.txt -- \
        --config "gate=$TEST_TMP/gate-$l-$r"
    id=$(run_id "$TEST_TMP/out")
    [ -n "$id" ] || fatal "local $lv, remote $rv: run --detach printed no run id"
    wait_until 120 'grep -q "waiting for the gate" "$R/.ferry/runs/$id/log"'
    expect_exit 0 with_snakemake "$l" ferry status "${RO[@]}"
    assert_file_has_content "$TEST_TMP/out" "^  $id  running for"
    touch "$TEST_TMP/gate-$l-$r"
    expect_exit 0 with_snakemake "$l" ferry attach "${RO[@]}" "$id"
    assert_file_has_content "$TEST_TMP/out" "waiting for the gate"
    assert_eq "$(cat results/slow.txt)" "gated content" "local $lv, remote $rv: output pulled by attach"
    assert_eq "$(cat "$R/.ferry/runs/$id/exit")" 0 "local $lv, remote $rv: the detached run's exit"
    ok "local snakemake $lv, remote $rv: run --detach, status shows it running, attach follows it and pulls"

    rm -r results
    expect_exit 0 with_snakemake "$l" ferry run "${RO[@]}" --detach --cores 1 results/slow.txt -- \
        --config "gate=$TEST_TMP/never-$l-$r"
    id=$(run_id "$TEST_TMP/out")
    wait_until 120 'grep -q "waiting for the gate" "$R/.ferry/runs/$id/log"'
    pg=$(cat "$R/.ferry/runs/$id/pid")
    [[ $pg =~ ^[0-9]+$ ]] && ((pg > 1)) || fatal "the run's pid file holds '$pg'"
    expect_exit 0 with_snakemake "$l" ferry cancel "${RO[@]}" --grace 5 "$id"
    assert_file_has_content "$TEST_TMP/out" "^cancelled run $id"
    if pgrep -g "$pg" >/dev/null; then fatal "processes of the cancelled run are left: $(pgrep -a -g "$pg")"; fi
    if pgrep -af "snakemake.*never-$l-$r" >/dev/null; then fatal "a snakemake of the cancelled run is left"; fi
    assert_not_exists results/slow.txt
    ok "local snakemake $lv, remote $rv: cancel stops the run and leaves no process"
}

for i in "${!SNAKEMAKE_VERSIONS[@]}"; do
    [ "$i" = 0 ] || pair "$i" "$i"
done
i7=$(snakemake_index 7) || fatal "no snakemake 7 among ${SNAKEMAKE_VERSIONS[*]}"
if i9=$(snakemake_index 9); then
    pair "$i7" "$i9"
    pair "$i9" "$i7"
else
    ok "# SKIP the mixed pairs: no snakemake 9 among ${SNAKEMAKE_VERSIONS[*]} (FERRY_TEST_SNAKEMAKES)"
fi

done_testing
