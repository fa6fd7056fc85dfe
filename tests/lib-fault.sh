# Fault injection for the integration tests: an aws wrapper first on PATH (tests/fault-aws).
# shellcheck shell=bash

# fault_install MODE N: from now on, call N of aws (or each call of operation N) gets fault MODE (fail,
# throttle, throttle-all, garbage, server-error, kill-after).
fault_install() {
    export FAULT_DIR="$TEST_TMP/fault" FAULT_MODE=$1 FAULT_AT=$2
    mkdir -p "$FAULT_DIR/bin"
    rm -f "$FAULT_DIR/count" "$FAULT_DIR/calls.log"
    : "${FAULT_REAL_AWS:=$(command -v aws)}"
    export FAULT_REAL_AWS
    ln -sf "$FERRY_SOURCE_DIR/tests/fault-aws" "$FAULT_DIR/bin/aws"
    case ":$PATH:" in *":$FAULT_DIR/bin:"*) ;; *) export PATH="$FAULT_DIR/bin:$PATH" ;; esac
}

# fault_remove: aws is the real one again.
fault_remove() {
    [ -n "${FAULT_DIR:-}" ] || return 0
    PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$FAULT_DIR/bin" | paste -sd:)
    export PATH
}

# The number of aws calls made since fault_install.
fault_calls() { cat "$FAULT_DIR/count" 2>/dev/null || echo 0; }
