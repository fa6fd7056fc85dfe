# Helpers for the lifecycle tests: a deployment made directly against moto (the names and tags of the
# shared data model, and the state file bootstrap would write), and checks that nothing tagged by ferry
# is left.
# shellcheck shell=bash

# fixture_deployment NAME STATE_DIR: key pair (pem in STATE_DIR), security group in the default VPC,
# bucket, role + policy + instance profile, and a running instance, all tagged ferry:name=NAME, and
# STATE_DIR/state.json naming them (as bootstrap records them). Sets F_INSTANCE F_SG F_KEY_ID F_VPC
# F_SUBNET F_BUCKET F_AMI. The AWS calls go in one process (awsb).
fixture_deployment() {
    local name=$1 dir=$2 vars
    mkdir -p "$dir" && chmod 700 "$dir"
    ssh-keygen -q -t ed25519 -N '' -C "$name" -f "$dir/$name.pem" >/dev/null
    chmod 400 "$dir/$name.pem"
    vars=$(awsb deployment "$name" "$dir") || fatal "the fixture deployment $name could not be made"
    rm -f "$dir/$name.pem.pub"
    eval "$vars"
    export F_INSTANCE F_SG F_KEY_ID F_VPC F_SUBNET F_BUCKET F_AMI
}

# The live state of an instance, as AWS says.
instance_state() {
    awsm ec2 describe-instances --instance-ids "$1" --query 'Reservations[0].Instances[0].State.Name' --output text
}

# Counts what is still tagged ferry:name=NAME, kind by kind, straight from AWS ("kind=N" words, or empty):
# instances (not terminated), volumes, security groups, key pairs, VPCs, the role and profile NAME-ec2 and
# NAME-profile, and buckets tagged NAME.
tagged_leftovers() { awsb tagged-leftovers "$1" || fatal "counting what is tagged ferry:name=$1 failed"; }

# fault_op_install OP:CODE:TIMES...: the first TIMES calls of aws operation OP fail with AWS error CODE;
# `fault_op_count OP` says how many calls of OP were made.
fault_op_install() {
    export FAULT_OPS="$*" FAULT_OP_DIR="$TEST_TMP/fault-op"
    mkdir -p "$FAULT_OP_DIR/bin"
    rm -f "$FAULT_OP_DIR"/count-*
    : "${FAULT_OP_REAL_AWS:=$(command -v aws)}"
    export FAULT_OP_REAL_AWS
    ln -sf "$FERRY_SOURCE_DIR/tests/fault-aws-op" "$FAULT_OP_DIR/bin/aws"
    case ":$PATH:" in *":$FAULT_OP_DIR/bin:"*) ;; *) export PATH="$FAULT_OP_DIR/bin:$PATH" ;; esac
}

fault_op_remove() {
    [ -n "${FAULT_OP_DIR:-}" ] || return 0
    PATH=$(printf '%s' "$PATH" | tr ':' '\n' | grep -vxF "$FAULT_OP_DIR/bin" | paste -sd:)
    export PATH
}

fault_op_count() { cat "$FAULT_OP_DIR/count-$1" 2>/dev/null || echo 0; }
