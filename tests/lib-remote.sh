# Helpers for the remote tests, the demo and the push benchmark: a key of the test's own, the ferry
# options that reach the loopback sshd with it, and a copy of the example workflow.
# shellcheck shell=bash

# Makes $TEST_TMP/id_ferry (authorized on the test sshd) and exports REMOTE_OPTS for ferry.
remote_setup_host() {
    ssh-keygen -q -t ed25519 -N '' -f "$TEST_TMP/id_ferry"
    sshd_authorize "$TEST_TMP/id_ferry"
    # shellcheck disable=SC2207
    REMOTE_OPTS=(--host "$SSH_USER@127.0.0.1" --ssh-option "Port=$SSHD_PORT"
        --ssh-option "IdentityFile=$TEST_TMP/id_ferry" --ssh-option IdentitiesOnly=yes)
}

# Copies the shipped example workflow to DIR.
remote_example_workflow() {
    mkdir -p "$1"
    cp -r "$FERRY_SOURCE_DIR/tests/data/demo/." "$1/"
}

# A PATH without aws on it (the --host path must not need AWS at all).
path_without_aws() {
    local d out=""
    local IFS=:
    for d in $PATH; do
        [ -x "$d/aws" ] && continue
        out="${out:+$out:}$d"
    done
    echo "$out"
}

# How many SSH handshakes the test sshd has accepted so far.
sshd_handshakes() {
    grep -c "Accepted publickey" "$TEST_TMP/sshd/sshd.log" || true
}

# Waits (polling every 0.1 s, for at most SECONDS) until the shell snippet succeeds.
#   wait_until 60 'grep -q waiting "$log"'
wait_until() {
    local limit=$1 i
    shift
    for ((i = 0; i < limit * 10; i++)); do
        if eval "$1"; then return 0; fi
        sleep 0.1
    done
    fatal "still not true after $limit s: $1"
}

# A workflow whose one job waits for a gate file (given with --config gate=PATH) before it writes
# results/slow.txt; it says "waiting for the gate" in its log first.
runs_gated_workflow() {
    mkdir -p "$1/data"
    echo "gated content" >"$1/data/in.txt"
    cat >"$1/Snakefile" <<'SMK'
rule slow:
    input:
        "data/in.txt",
    output:
        "results/slow.txt",
    params:
        gate=config.get("gate", "gate"),
    shell:
        "echo 'waiting for the gate'; while [ ! -e {params.gate:q} ]; do sleep 0.1; done; cat {input:q} > {output:q}"
SMK
}

# Every process under the test sshd (its sessions and what they run), deepest first.
sshd_descendants() {
    local p c
    for p in $(pgrep -P "${1:-$SSHD_PID}"); do
        sshd_descendants "$p"
        echo "$p"
    done
}

# Kills the test sshd and every session under it, as a dropped link or a rebooted router would.
sshd_kill_all() {
    local pids
    pids="$(sshd_descendants) $SSHD_PID"
    # shellcheck disable=SC2086
    kill -KILL $pids 2>/dev/null || true
    wait "$SSHD_PID" 2>/dev/null || true
}

# Starts the test sshd again, same port and configuration.
sshd_restart() {
    local sshd_bin
    sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)
    "$sshd_bin" -D -e -f "$TEST_TMP/sshd/sshd_config" 2>>"$TEST_TMP/sshd/sshd.log" &
    SSHD_PID=$!
    on_exit "kill $SSHD_PID; wait $SSHD_PID"
    wait_for_port "$SSHD_PORT" 20 || fatal "sshd did not start again on port $SSHD_PORT"
}

# On exit, kills what is left of every run under REMOTE_DIR (a test that failed half-way).
runs_cleanup_on_exit() {
    on_exit "for p in '$1'/.ferry/runs/*/pid; do kill -KILL -- -\$(cat \"\$p\"); done"
}
