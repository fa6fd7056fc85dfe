#!/bin/bash
# SLURM through a login node: a real single-node SLURM (slurm-wlm + munge, started here as root) behind
# the loopback sshd, the real snakemake --slurm, and ferry run --slurm / check --host / cancel on it.
# Three parts, each on a cluster of its own, side by side:
#   main      Debian's snakemake 7.21 on both sides, no accounting: checks, runs, bad input, detach,
#             attach, cancel;
#   releases  each release in FERRY_TEST_SNAKEMAKES on the remote (8+: the real executor plugin), no
#             accounting: ferry passes --slurm-status-command squeue and the run ends by itself; a run
#             whose snakemake waits on jobs that all left the queue is said so, once;
#   acct      with accounting (MariaDB + slurmdbd): every snakemake on the remote, each with another
#             one on the local side, reads job states with sacct.
# Skipped (TAP 1..0) only when not root.
# shellcheck source=tests/libtest.sh
source "$(dirname "$0")/libtest.sh"
# shellcheck source=tests/lib-remote.sh
source "$(dirname "$0")/lib-remote.sh"
# shellcheck source=tests/lib-slurm.sh
source "$(dirname "$0")/lib-slurm.sh"

if [ "$TEST_PART" = all ]; then
    # Each part needs its own cluster: one process each, one after the other.
    rc=0
    for part in main releases acct; do bash "$0" "$part" || rc=1; done
    exit $rc
fi

NO_ACCOUNTING="Slurm accounting storage is disabled"

# ferry's options for a fresh key whose ssh sessions run release $1 (an index of snakemakes_init): its
# dir first on PATH and, for 8+, a snakemake profile whose one setting makes the plugin's first status
# check come after 1 s instead of 40 (the tests' time only; ferry reads no profile).
slurm_release_opts() { # INDEX NAME
    local dir=${SNAKEMAKE_DIRS[$1]} v=${SNAKEMAKE_VERSIONS[$1]} key="$TEST_TMP/id_$2" env
    ssh-keygen -q -t ed25519 -N '' -f "$key"
    env="environment=\"PATH=${dir:+$dir:}/usr/local/bin:/usr/bin:/bin\""
    if [ "${v%%.*}" -ge 8 ]; then
        mkdir -p "$TEST_TMP/profile-fast"
        echo 'slurm-init-seconds-before-status-checks: 1' >"$TEST_TMP/profile-fast/config.yaml"
        env="$env,environment=\"SNAKEMAKE_PROFILE=$TEST_TMP/profile-fast\""
    fi
    printf '%s %s\n' "$env" "$(cat "$key.pub")" >>"$SSHD_AUTH"
    echo "--host $SSH_USER@127.0.0.1 --ssh-option Port=$SSHD_PORT --ssh-option IdentityFile=$key --ssh-option IdentitiesOnly=yes"
}

# The argv of the one run under DIR, one word a line.
run_argv() {
    local records=("$1"/.ferry/runs/*/run.json)
    [ ${#records[@]} = 1 ] && [ -f "${records[0]}" ] || fatal "expected one run under $1, found: ${records[*]}"
    python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["argv"]))' "${records[0]}"
}

# A fresh copy of the 3-job workflow in DIR, made the current dir.
slurm_workflow() {
    mkdir -p "$1"
    cp "$FERRY_SOURCE_DIR/tests/data/slurm/Snakefile" "$1/"
    cd "$1"
}

# Checks what `ferry run ... --slurm --jobs 3 all` left in the current dir and REMOTE_DIR: three
# outputs, each from a SLURM job of its own, the same on both sides, the counts' last line, an empty
# queue. Prints the jobs' ids.
slurm_assert_three_jobs() { # REMOTE_DIR
    local i
    for i in 0 1 2; do
        assert_file_has_content "out/$i.txt" '^job=[0-9]+$'
        cmp "out/$i.txt" "$1/out/$i.txt" >&2 || fatal "out/$i.txt did not come home"
    done
    assert_eq "$(sort -u out/*.txt | wc -l)" 3 "distinct SLURM jobs"
    assert_file_has_content "$TEST_TMP/err" "^SLURM jobs: 0 pending, 0 running, 3 done$"
    slurm_assert_queue_empty "the queue after the run"
    sed 's/^job=//' out/*.txt
}

part_releases() {
    local i v opts last=""
    snakemakes_init
    if [ ${#SNAKEMAKE_VERSIONS[@]} -lt 2 ]; then
        ok "# SKIP no release beside Debian's in FERRY_TEST_SNAKEMAKES (8.x, 9.x): nothing to run here"
        return 0
    fi
    slurm_start
    sshd_start
    for i in "${!SNAKEMAKE_VERSIONS[@]}"; do
        [ "$i" != 0 ] || continue
        v=${SNAKEMAKE_VERSIONS[$i]}
        read -ra opts <<<"$(slurm_release_opts "$i" "r$i")"
        cd "$TEST_TMP"
        expect_exit 0 ferry check "${opts[@]}" --slurm
        if [ "${v%%.*}" -lt 8 ]; then
            assert_file_has_content "$TEST_TMP/out" "^ok   snakemake: ${v//./\\.} \(supported; --slurm runs it with --slurm\)$"
            assert_file_has_content "$TEST_TMP/out" "^ok   job states: scontrol \(snakemake 7; no accounting: sacct failed: $NO_ACCOUNTING\)$"
        else
            assert_file_has_content "$TEST_TMP/out" "^ok   snakemake: ${v//./\\.} \(supported; --slurm runs it with --executor slurm\)$"
            assert_file_has_content "$TEST_TMP/out" "^ok   job states: squeue \(no accounting: sacct failed: $NO_ACCOUNTING\)$"
        fi
        slurm_workflow "$TEST_TMP/wf-$i"
        expect_exit 0 ferry run "${opts[@]}" --remote-dir "$TEST_TMP/remote-$i" --slurm --jobs 3 all
        slurm_assert_three_jobs "$TEST_TMP/remote-$i" >/dev/null
        assert_not_file_has_content "$TEST_TMP/err" "still waiting"
        if [ "${v%%.*}" -ge 8 ]; then
            assert_eq "$(run_argv "$TEST_TMP/remote-$i" | tr '\n' ' ')" \
                "snakemake --cores all --executor slurm --jobs 3 --slurm-status-command squeue -- all " "the run's argv"
            last=$i
            ok "snakemake $v on the remote, no SLURM accounting: check says squeue; the plugin gets --slurm-status-command squeue, and the run of 3 SLURM jobs ends by itself"
        else
            ok "snakemake $v on the remote, no SLURM accounting: --slurm, and the run of 3 SLURM jobs ends by itself"
        fi
    done
    if [ -z "$last" ]; then
        ok "# SKIP no snakemake 8 or 9 in FERRY_TEST_SNAKEMAKES: the plugin's own --slurm-status-command is not tried"
        return 0
    fi

    # SLURM's refusal, as the plugin reports it, in ferry's one line.
    v=${SNAKEMAKE_VERSIONS[$last]}
    read -ra opts <<<"$(slurm_release_opts "$last" part)"
    slurm_workflow "$TEST_TMP/wf-part"
    expect_exit 1 ferry run "${opts[@]}" --remote-dir "$TEST_TMP/remote-part" --slurm --partition no_such_partition all
    assert_file_has_content "$TEST_TMP/err" "^SLURM refused a job: sbatch: error: invalid partition specified: no_such_partition$"
    slurm_assert_queue_empty "the queue after a refused partition"
    ok "snakemake $v on the remote, --partition unknown: the plugin's sbatch error in one line, exit 1, nothing queued"

    # The user's own --slurm-status-command (after --) wins, even sacct where it fails: ferry adds
    # nothing, the run goes on, and once its jobs have all left the queue and snakemake still waits
    # (the plugin never learns they ended), the followed output says so once.
    read -ra opts <<<"$(slurm_release_opts "$last" stall)"
    slurm_workflow "$TEST_TMP/wf-stall"
    local R="$TEST_TMP/remote-stall" pid rc=0
    FERRY_SLURM_WAIT_NOTICE=3 "$FERRY" run "${opts[@]}" --remote-dir "$R" --slurm --jobs 3 all \
        -- --slurm-status-command sacct >"$TEST_TMP/stall.out" 2>"$TEST_TMP/stall.err" &
    pid=$!
    on_exit "kill $pid"
    wait_until 300 'grep -q "snakemake is still waiting" "$TEST_TMP/stall.err"'
    assert_file_has_content "$TEST_TMP/stall.err" "^ferry: all SLURM jobs of this run have left the queue, snakemake is still waiting \(3 done, none queued for 3 s: .*ferry cancel [0-9]{8}-[0-9]{6}-[0-9a-f]{4} stops the run\)$"
    assert_file_has_content "$TEST_TMP/stall.err" "^SLURM jobs: 0 pending, 0 running, 3 done$"
    slurm_assert_queue_empty "the queue of the waiting run"
    kill -0 "$pid" 2>/dev/null || fatal "ferry run ended while its snakemake waits"
    assert_eq "$(run_argv "$R" | tr '\n' ' ')" \
        "snakemake --cores all --executor slurm --jobs 3 --slurm-status-command sacct -- all " "the run's argv"
    # Two more looks at the queue (one each 5 s) must not say it again.
    sleep 11
    expect_exit 0 ferry cancel "${opts[@]}" --remote-dir "$R"
    wait "$pid" || rc=$?
    assert_eq "$rc" 1 "ferry run's exit status after cancel"
    assert_eq "$(grep -c "snakemake is still waiting" "$TEST_TMP/stall.err")" 1 "lines saying that snakemake still waits"
    ok "snakemake $v with the user's --slurm-status-command sacct and no accounting: kept as given; its run, stuck, is said to wait on jobs that all left the queue, once; cancel ends it"

    # cancel of a detached run whose job waits in the queue: the plugin's jobs (named after its SLURM
    # run id) are scancelled, and no snakemake is left.
    mkdir -p "$TEST_TMP/gated"
    cp "$FERRY_SOURCE_DIR/tests/data/slurm-gated/Snakefile" "$TEST_TMP/gated/"
    cd "$TEST_TMP/gated"
    local G="$TEST_TMP/remote-gated" gate="$SLURM_DIR/gate-$last"
    expect_exit 0 ferry run "${opts[@]}" --remote-dir "$G" --slurm --jobs 2 --detach all -- --config "gate=$gate"
    wait_until 300 '[ -n "$(squeue -h -t R -o %i)" ]'
    expect_exit 0 ferry cancel "${opts[@]}" --remote-dir "$G"
    q=$(slurm_queue) || fatal "squeue failed after cancel"
    assert_eq "$q" "" "the queue right after cancel"
    if pgrep -f "snakemake.*gate=$gate" >/dev/null; then fatal "a snakemake of the run is still there"; fi
    assert_not_exists out/gated.txt
    ok "snakemake $v on the remote: cancel of a detached run whose SLURM job is running leaves squeue empty and no snakemake"

    # A MinJobAge under 120 s sends the plugin back to sacct, even when told squeue: check warns.
    sed -i 's/^MinJobAge=.*/MinJobAge=60/' "$SLURM_CONF"
    scontrol reconfigure || fatal "scontrol reconfigure failed"
    wait_until 30 'scontrol show config | grep -q "^MinJobAge *= *60 "'
    cd "$TEST_TMP"
    expect_exit 0 ferry check "${opts[@]}" --slurm
    assert_file_has_content "$TEST_TMP/out" "^warn job states: squeue \(no accounting: sacct failed: $NO_ACCOUNTING\), but MinJobAge is 60 s, under the 120 s the plugin needs to keep to squeue: a --slurm run may never end"
    ok "snakemake $v on a cluster without accounting whose MinJobAge is 60 s: check warns that the plugin would go back to sacct"
}

part_acct() {
    local i l v lv n opts ids
    SLURM_ACCOUNTING=1 slurm_start
    sshd_start
    snakemakes_init
    n=${#SNAKEMAKE_VERSIONS[@]}
    for i in "${!SNAKEMAKE_VERSIONS[@]}"; do
        # Mixed pairs: the local side runs the next release found (Debian's 7.21 alone: itself).
        l=$(((i + 1) % n))
        v=${SNAKEMAKE_VERSIONS[$i]}
        lv=${SNAKEMAKE_VERSIONS[$l]}
        read -ra opts <<<"$(slurm_release_opts "$i" "a$i")"
        cd "$TEST_TMP"
        expect_exit 0 ferry check "${opts[@]}" --slurm
        if [ "${v%%.*}" -lt 8 ]; then
            assert_file_has_content "$TEST_TMP/out" "^ok   job states: sacct, else scontrol \(snakemake 7\)$"
        else
            assert_file_has_content "$TEST_TMP/out" "^ok   job states: sacct$"
        fi
        slurm_workflow "$TEST_TMP/wf-$i"
        expect_exit 0 with_snakemake "$l" ferry run "${opts[@]}" --remote-dir "$TEST_TMP/remote-$i" --slurm --jobs 3 all
        ids=$(slurm_assert_three_jobs "$TEST_TMP/remote-$i")
        if run_argv "$TEST_TMP/remote-$i" | grep -q -x -e --slurm-status-command; then
            fatal "the run's argv has --slurm-status-command although sacct answers"
        fi
        # Accounting recorded them: what the plugin (or snakemake 7) read.
        for id in $ids; do
            wait_until 30 "sacct -a -n -X -P -o JobIdRaw,State -j $id | grep -q -x '$id|COMPLETED'"
        done
        ok "SLURM with accounting, snakemake $v on the remote (local $lv): job states from sacct, nothing added; 3 jobs, each COMPLETED in sacct"
    done
}

case "$TEST_PART" in
releases | acct)
    "part_$TEST_PART"
    done_testing
    exit
    ;;
main) ;;
*) fatal "unknown part $TEST_PART (main, releases, acct)" ;;
esac

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
assert_file_has_content "$TEST_TMP/out" "^ok   snakemake: 7\.[0-9.]+ \(supported; --slurm runs it with --slurm\)$"
assert_file_has_content "$TEST_TMP/out" "^ok   job states: scontrol \(snakemake 7; no accounting: sacct failed: $NO_ACCOUNTING\)$"
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

# Releases ferry does not take for --slurm, as a fault injector on the remote's PATH: a 7.18.2 (the
# probe reads nothing but `snakemake --version` from a 7, and this is what 7.18.2 prints), and a
# 10.0.0, which does not exist yet (its --help is the newest real one, 9.16.3's, recorded).
mkdir -p "$TEST_TMP/old-snakemake" "$TEST_TMP/new-snakemake"
cat >"$TEST_TMP/old-snakemake/snakemake" <<'STUB'
#!/bin/sh
case "$1" in --version) echo 7.18.2 ;; *) echo "snakemake 7.18.2 stand-in: not run by ferry" >&2; exit 1 ;; esac
STUB
cat >"$TEST_TMP/new-snakemake/snakemake" <<STUB
#!/bin/sh
case "\$1" in --version) echo 10.0.0 ;; --help) cat '$FERRY_SOURCE_DIR/tests/data/snakemake-help/9.16.3-plugin-2.7.1.txt' ;;
*) echo "snakemake 10.0.0 stand-in: not run by ferry" >&2; exit 1 ;; esac
STUB
chmod +x "$TEST_TMP/old-snakemake/snakemake" "$TEST_TMP/new-snakemake/snakemake"
OLD_KEY=$(slurm_key_with_path "$TEST_TMP/old-snakemake:/usr/local/bin:/usr/bin:/bin" old)
expect_exit 1 ferry run --host "$SSH_USER@127.0.0.1" --ssh-option "Port=$SSHD_PORT" \
    --ssh-option "IdentityFile=$OLD_KEY" --ssh-option IdentitiesOnly=yes --remote-dir "$R.old" --slurm all
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "^error: snakemake 7\.18\.2 on 127\.0\.0\.1 cannot submit to SLURM \(--slurm needs 7\.19 or later\)"
assert_not_exists "$R.old"
ok "run --slurm with snakemake 7.18 on the remote: one clear line, nothing pushed"

NEW_KEY=$(slurm_key_with_path "$TEST_TMP/new-snakemake:/usr/local/bin:/usr/bin:/bin" new)
NEW_OPTS=(--host "$SSH_USER@127.0.0.1" --ssh-option "Port=$SSHD_PORT" --ssh-option "IdentityFile=$NEW_KEY"
    --ssh-option IdentitiesOnly=yes)
expect_exit 0 ferry check "${NEW_OPTS[@]}"
assert_file_has_content "$TEST_TMP/out" "^warn snakemake: 10\.0\.0 \(not supported: newer than ferry knows \(7\.19 to 9\.x\); a plain run starts it as it is, --slurm refuses it\)$"
assert_not_file_has_content "$TEST_TMP/out" "^ok   job states"
expect_exit 1 ferry check "${NEW_OPTS[@]}" --slurm
assert_file_has_content "$TEST_TMP/out" "^FAIL snakemake: 10\.0\.0 \(not supported"
assert_one_error_line
expect_exit 1 ferry run "${NEW_OPTS[@]}" --remote-dir "$R.new" --slurm all
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "^error: snakemake 10\.0\.0 on 127\.0\.0\.1 is newer than ferry knows for --slurm \(7\.19 to 9\.x\): use a 9 there"
assert_not_exists "$R.new"
ok "a remote snakemake 10: check warns (fails with --slurm) in one line; run --slurm refuses it in one line, nothing pushed"

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
