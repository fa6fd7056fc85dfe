# Shared helpers for the integration tests: TAP output, asserts, a temp dir per test, and real peers
# (a moto server for AWS, an OpenSSH sshd on loopback) started on free ports and stopped on exit.
# shellcheck shell=bash

set -euo pipefail

: "${FERRY:?FERRY must point at the built ferry binary (meson test sets it)}"
: "${FERRY_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
export FERRY_TEMPLATES_DIR="${FERRY_TEMPLATES_DIR:-$FERRY_SOURCE_DIR/templates}"

# pyenv's shims run bash and pyenv before the program (about 0.1 CPU-second a call, and the tests make
# thousands of aws and python3 calls): the directories the shims stand for go in their place on PATH.
_unshim_path() {
    local shims tool real dirs=""
    shims=$(pyenv root 2>/dev/null)/shims || return 0
    case ":$PATH:" in *":$shims:"*) ;; *) return 0 ;; esac
    for tool in python3 aws moto_server; do
        real=$(pyenv which "$tool" 2>/dev/null) || continue
        case ":$dirs:" in *":${real%/*}:"*) ;; *) dirs=${dirs:+$dirs:}${real%/*} ;; esac
    done
    [ -z "$dirs" ] || PATH=$(printf '%s' ":$PATH:" | sed "s|:$shims:|:$dirs:|; s|^:||; s|:$||")
    export PATH
}
command -v pyenv >/dev/null && _unshim_path

TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ferry-test.XXXXXX")
export TEST_TMP
_test_count=0
_test_failed=0
_cleanups=()

_run_cleanups() {
    local i
    for ((i = ${#_cleanups[@]} - 1; i >= 0; i--)); do
        eval "${_cleanups[$i]}" >/dev/null 2>&1 || true
    done
    # FERRY_TEST_KEEP=1 keeps the test's files for debugging (FERRY_KEEP_TMP, its old name, still does).
    if [ -z "${FERRY_TEST_KEEP:-${FERRY_KEEP_TMP:-}}" ]; then
        rm -rf "$TEST_TMP"
    else
        echo "# kept $TEST_TMP" >&2
    fi
}
trap _run_cleanups EXIT

# Runs `$1` (a shell snippet) when the test exits, last registered first.
on_exit() { _cleanups+=("$1"); }

ferry() { "$FERRY" "$@"; }

# A long script comes in parts that meson runs side by side (`test-X.sh PART`, each part with its own
# peers); without an argument it runs them all. `if in_part NAME; then ... fi` guards a part.
TEST_PART=${1:-all}
in_part() { [ "$TEST_PART" = all ] || [ "$TEST_PART" = "$1" ]; }

# --- TAP -------------------------------------------------------------------------------------------

ok() {
    _test_count=$((_test_count + 1))
    echo "ok $_test_count - $*"
}

not_ok() {
    _test_count=$((_test_count + 1))
    _test_failed=$((_test_failed + 1))
    echo "not ok $_test_count - $*"
}

# Ends the test: prints the plan and fails if any test failed.
done_testing() {
    echo "1..$_test_count"
    [ "$_test_failed" -eq 0 ]
}

fatal() {
    echo "# FATAL: $*" >&2
    not_ok "$*"
    done_testing || true
    exit 1
}

# --- asserts: each one fails the whole test script at once, with the reason -------------------------

# A misused assert (a missing or extra argument) is a failure too, never a check that passes.
_assert_args() { # NAME HOW MIN MAX NARGS
    (($5 >= $3 && $5 <= $4)) || fatal "$1 takes $2, got $5 arguments"
}

assert_eq() { # ACTUAL EXPECTED [WHAT]
    _assert_args assert_eq 'ACTUAL EXPECTED [WHAT]' 2 3 $#
    [ "$1" = "$2" ] || fatal "${3:-value}: expected '$2', got '$1'"
}

assert_ne() { # ACTUAL UNEXPECTED [WHAT]
    _assert_args assert_ne 'ACTUAL UNEXPECTED [WHAT]' 2 3 $#
    [ "$1" != "$2" ] || fatal "${3:-value}: did not expect '$2'"
}

assert_file_exists() { _assert_args assert_file_exists FILE 1 1 $#; [ -e "$1" ] || fatal "expected file $1"; }
assert_not_exists() { _assert_args assert_not_exists FILE 1 1 $#; [ ! -e "$1" ] || fatal "expected no file $1"; }

# The pattern of the grep asserts, in _pattern: `FILE REGEX`, or `FILE -e REGEX` (or `FILE -- REGEX`) for a
# regex that starts with '-'. A bare regex that starts with '-' is refused: grep would read it as options.
_assert_pattern() { # NAME FILE ARGS...
    local name=$1
    shift 2
    case "$#:${1:-}" in
    1:-*) fatal "$name: the pattern '$1' starts with '-': write $name FILE -e '$1'" ;;
    1:*) _pattern=$1 ;;
    2:-e | 2:--) _pattern=$2 ;;
    *) fatal "$name takes FILE REGEX or FILE -e REGEX, got: $*" ;;
    esac
    [ -n "$_pattern" ] || fatal "$name: an empty pattern matches anything"
}

assert_file_has_content() { # FILE [-e] REGEX
    local _pattern
    _assert_pattern assert_file_has_content "$@"
    grep -qE -e "$_pattern" -- "$1" || { sed 's/^/# /' "$1" >&2 || true; fatal "$1 does not match /$_pattern/"; }
}

assert_not_file_has_content() { # FILE [-e] REGEX
    local _pattern rc=0
    _assert_pattern assert_not_file_has_content "$@"
    grep -qE -e "$_pattern" -- "$1" || rc=$?
    case $rc in
    0) sed 's/^/# /' "$1" >&2; fatal "$1 matches /$_pattern/" ;;
    1) ;;
    *) fatal "assert_not_file_has_content: grep failed on $1 (exit $rc)" ;;
    esac
}

assert_mode() { # FILE OCTAL
    _assert_args assert_mode 'FILE OCTAL' 2 2 $#
    local m
    m=$(stat -c %a "$1") || fatal "assert_mode: cannot stat $1"
    assert_eq "$m" "$2" "mode of $1"
}

# Runs a command with stdout in $TEST_TMP/out and stderr in $TEST_TMP/err, and checks its exit status.
#   expect_exit 2 ferry bootstrap --cidr 0.0.0.0/0
expect_exit() {
    [[ $# -ge 2 && $1 =~ ^[0-9]+$ ]] || fatal "expect_exit takes STATUS COMMAND..., got: $*"
    local want=$1 rc=0
    shift
    "$@" >"$TEST_TMP/out" 2>"$TEST_TMP/err" || rc=$?
    if [ "$rc" != "$want" ]; then
        echo "# command: $*" >&2
        sed 's/^/# out: /' "$TEST_TMP/out" >&2
        sed 's/^/# err: /' "$TEST_TMP/err" >&2
        fatal "expected exit $want, got $rc: $*"
    fi
}

# The one-line error contract: exactly one line on stderr, starting with "error: ".
assert_one_error_line() {
    local n
    n=$(wc -l <"$TEST_TMP/err")
    assert_eq "$n" 1 "stderr lines (one clear error line)"
    assert_file_has_content "$TEST_TMP/err" '^error: .+'
}

# --- snakemake releases --------------------------------------------------------------------------------

# The snakemakes the snakemake-facing tests run against: the one on PATH (Debian's 7.21) always, then
# each executable named in FERRY_TEST_SNAKEMAKES (space-separated: 8.x, 9.x set up outside the
# repository). snakemakes_init fills SNAKEMAKE_VERSIONS and SNAKEMAKE_DIRS (a directory holding only a
# `snakemake` link, to put first on PATH; "" for the one on PATH). A named release that is missing or
# does not answer --version is one visible TAP SKIP line naming it, never a silent pass.
snakemakes_init() {
    local exe v d n=0
    SNAKEMAKE_VERSIONS=("$(snakemake --version)") || fatal "snakemake not found (scripts/deps installs it)"
    SNAKEMAKE_DIRS=("")
    for exe in ${FERRY_TEST_SNAKEMAKES:-}; do
        n=$((n + 1))
        if [ ! -x "$exe" ] || ! v=$("$exe" --version 2>/dev/null) || [ -z "$v" ]; then
            ok "# SKIP snakemake $exe (named in FERRY_TEST_SNAKEMAKES): not found or does not run"
            continue
        fi
        d="$TEST_TMP/snakemake-$n"
        mkdir -p "$d" && ln -sf "$exe" "$d/snakemake"
        SNAKEMAKE_VERSIONS+=("$v")
        SNAKEMAKE_DIRS+=("$d")
    done
    echo "# snakemake releases: ${SNAKEMAKE_VERSIONS[*]}"
}

# The index of the first release of major version $1 (7, 8, 9), or nothing.
snakemake_index() {
    local i
    for i in "${!SNAKEMAKE_VERSIONS[@]}"; do
        [ "${SNAKEMAKE_VERSIONS[$i]%%.*}" = "$1" ] && { echo "$i"; return 0; }
    done
    return 1
}

# The PATH with release $1 first (the PATH as it is for release 0).
snakemake_path() {
    local d=${SNAKEMAKE_DIRS[$1]}
    echo "${d:+$d:}$PATH"
}

# Runs a command (a function too, ferry among them) with release $1's snakemake first on PATH.
with_snakemake() {
    local p
    p=$(snakemake_path "$1")
    shift
    PATH="$p" "$@"
}

# --- ports -------------------------------------------------------------------------------------------

free_port() {
    python3 -S -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

wait_for_port() { # PORT [SECONDS]
    local i
    for ((i = 0; i < ${2:-30} * 10; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    return 1
}

# --- moto: a real AWS API on loopback, driven by the real aws CLI -------------------------------------

# The region the AWS side of the tests runs in, set only in the AWS config file, as `aws configure`
# sets it (most users are not in us-east-1). A test may set TEST_REGION before moto_start.
: "${TEST_REGION:=eu-central-1}"
export TEST_REGION

# Starts moto_server on a free port, exports MOTO_URL and a private AWS config, and stops it on exit.
moto_start() {
    command -v moto_server >/dev/null || fatal "moto_server not found (install moto[server])"
    local port
    port=$(free_port)
    moto_server -H 127.0.0.1 -p "$port" >"$TEST_TMP/moto.log" 2>&1 &
    MOTO_PID=$!
    on_exit "kill $MOTO_PID; wait $MOTO_PID"
    wait_for_port "$port" 30 || { cat "$TEST_TMP/moto.log" >&2; fatal "moto_server did not start"; }
    export MOTO_URL="http://127.0.0.1:$port"
    mkdir -p "$TEST_TMP/aws"
    printf '[default]\nregion = %s\noutput = json\n' "$TEST_REGION" >"$TEST_TMP/aws/config"
    printf '[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n' >"$TEST_TMP/aws/credentials"
    chmod 600 "$TEST_TMP/aws/config" "$TEST_TMP/aws/credentials"
    export AWS_CONFIG_FILE="$TEST_TMP/aws/config" AWS_SHARED_CREDENTIALS_FILE="$TEST_TMP/aws/credentials"
    export AWS_PAGER=""
    unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION
    unset FERRY_REGION FERRY_NAME FERRY_PROFILE
    # ferry reads these, as a user's ~/.config/ferry/config would be read.
    export FERRY_ENDPOINT_URL="$MOTO_URL"
}

moto_reset() {
    python3 -S -c 'import sys,urllib.request; urllib.request.urlopen(urllib.request.Request(sys.argv[1]+"/moto-api/reset", method="POST"))' "$MOTO_URL"
}

# The real aws CLI against the test's moto.
awsm() { aws --endpoint-url "$MOTO_URL" --region "$TEST_REGION" --output json "$@"; }

# The tests' own fixtures and checks that take many AWS calls, made in one Python process against the
# test's moto (tests/aws-batch.py says what it does). Run with the Python that runs moto_server, which
# has botocore.
awsb() {
    if [ -z "${_moto_python:-}" ]; then
        local m
        m=$(command -v moto_server)
        read -r _moto_python <"$m" || true
        _moto_python=${_moto_python#\#!}
        [[ $_moto_python == /* && $_moto_python != */env* && -x $_moto_python ]] || _moto_python=python3
    fi
    "$_moto_python" "$FERRY_SOURCE_DIR/tests/aws-batch.py" "$@"
}

# awsb_calls ARRAY 'SERVICE OPERATION [JSON]'...: several calls in one process; ARRAY gets each answer, a
# JSON document (an AWS error is {"Error": {"Code": ...}}).
#   awsb_calls a 'ec2 DescribeKeyPairs' 'iam ListRoles {"MaxItems": 10}'; jget 'len(j["KeyPairs"])' <<<"${a[0]}"
awsb_calls() {
    local -n _answers=$1
    local _out
    shift
    _out=$(awsb call "$@") || fatal "aws calls failed: $*"
    mapfile -t _answers <<<"$_out"
    [ "${#_answers[@]}" = $# ] || fatal "aws calls: $# asked, ${#_answers[@]} answered"
}

# jq-free JSON queries: jget EXPR reads JSON on stdin and prints the Python expression's value ("j" is the document).
# Without site (-S): the tests make thousands of these, and site's .pth imports double a start-up.
jget() { python3 -S -c 'import json,sys; j=json.load(sys.stdin); v=eval(sys.argv[1]); print(v if not isinstance(v,(dict,list)) else json.dumps(v))' "$1"; }

# --- sshd: a real OpenSSH server on loopback, standing in for the instance or an HPC login node -------

# Starts sshd on a free port as the current user, exports SSHD_PORT and SSHD_AUTH (its authorized_keys).
# SSHD_EXTRA_CONFIG, when set, is appended to its sshd_config (SetEnv PATH=... puts a wrapper first).
sshd_start() {
    local d="$TEST_TMP/sshd" sshd_bin
    sshd_bin=$(command -v sshd || echo /usr/sbin/sshd)
    [ -x "$sshd_bin" ] || fatal "sshd not found (install openssh-server)"
    mkdir -p "$d" && chmod 700 "$d"
    [ -d /run/sshd ] || mkdir -p /run/sshd 2>/dev/null || true
    ssh-keygen -q -t ed25519 -N '' -f "$d/host_key" >/dev/null
    SSHD_PORT=$(free_port)
    SSHD_AUTH="$d/authorized_keys"
    : >"$SSHD_AUTH"
    chmod 600 "$SSHD_AUTH"
    cat >"$d/sshd_config" <<CONF
Port $SSHD_PORT
ListenAddress 127.0.0.1
HostKey $d/host_key
AuthorizedKeysFile $SSHD_AUTH
PidFile $d/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
MaxStartups 100
MaxSessions 100
AcceptEnv LANG LC_*
Subsystem sftp internal-sftp
${SSHD_EXTRA_CONFIG:-}
CONF
    "$sshd_bin" -D -e -f "$d/sshd_config" 2>"$d/sshd.log" &
    SSHD_PID=$!
    on_exit "kill $SSHD_PID; wait $SSHD_PID"
    wait_for_port "$SSHD_PORT" 20 || { cat "$d/sshd.log" >&2; fatal "sshd did not start"; }
    SSH_USER=$(id -un)
    export SSHD_PORT SSHD_AUTH SSH_USER
}

# Authorizes a public key (a .pub file, or the private key whose public half is derived) on the test sshd.
sshd_authorize() {
    local key=$1
    if [ "${key%.pub}" != "$key" ]; then cat "$key"; else ssh-keygen -y -f "$key"; fi >>"$SSHD_AUTH"
}

# The ferry options that point any host name at the test sshd.
sshd_ferry_opts() {
    echo "--ssh-user $SSH_USER --ssh-option HostName=127.0.0.1 --ssh-option Port=$SSHD_PORT"
}
