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
