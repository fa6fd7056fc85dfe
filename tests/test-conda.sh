#!/usr/bin/env bash
# run with conda environments on a remote (--use-conda and snakemake 8's --sdm spellings): without
# conda there (neither conda nor mamba, or mamba alone) one line says what to install before snakemake
# starts; with conda, the environments go under $HOME/.ferry/conda unless --conda-prefix is given. No
# conda channel is reachable here and Debian packages no conda, so the remote's "conda" below is a
# stand-in that records its calls and fails them (a fault injector): building an environment is not
# tested, what ferry passes to snakemake is.
# shellcheck source=tests/libtest.sh
source "$(dirname "$0")/libtest.sh"
# shellcheck source=tests/lib-remote.sh
source "$(dirname "$0")/lib-remote.sh"
SSHD_EXTRA_CONFIG="PermitUserEnvironment yes"
sshd_start
remote_setup_host
remote_example_workflow "$TEST_TMP/wf"
cd "$TEST_TMP/wf" || exit 1

! command -v conda >/dev/null && ! command -v mamba >/dev/null || fatal "this test needs a machine without conda or mamba"

# ferry's options for a fresh key whose ssh sessions get PATH=$1.
opts_with_path() { # PATH NAME
    local key="$TEST_TMP/id_$2"
    ssh-keygen -q -t ed25519 -N '' -f "$key"
    printf 'environment="PATH=%s" %s\n' "$1" "$(cat "$key.pub")" >>"$SSHD_AUTH"
    echo "--host $SSH_USER@127.0.0.1 --ssh-option Port=$SSHD_PORT --ssh-option IdentityFile=$key --ssh-option IdentitiesOnly=yes"
}

# A stand-in for TOOL that records each call in $TEST_TMP/TOOL.calls and fails it.
standin() { # DIR TOOL
    mkdir -p "$1"
    cat >"$1/$2" <<EOF
#!/bin/sh
printf '%s\n' "\$*" >>"$TEST_TMP/$2.calls"
echo "$2 stand-in: there is no $2 on this machine" >&2
exit 1
EOF
    chmod +x "$1/$2"
}

# The argv of the one run under DIR, one word a line.
run_argv() {
    local records=("$1"/.ferry/runs/*/run.json)
    [ ${#records[@]} = 1 ] && [ -f "${records[0]}" ] || fatal "expected one run under $1, found: ${records[*]}"
    python3 -c 'import json,sys; print("\n".join(json.load(open(sys.argv[1]))["argv"]))' "${records[0]}"
}

R="$TEST_TMP/remote"
expect_exit 1 ferry run "${REMOTE_OPTS[@]}" --remote-dir "$R" --cores 1 results/summary.tsv -- --use-conda
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" '^error: --use-conda, but 127\.0\.0\.1 has neither conda nor mamba on its PATH: install conda there'
assert_not_exists "$R/.snakemake/log"
assert_not_exists "$R/results/summary.tsv"
ok "--use-conda without conda or mamba on the remote: one line, and snakemake never starts there"

# snakemake 8 and 9 spell it --software-deployment-method (or --deployment-method, --deployment,
# --sdm), with a list of methods; each one asks for conda.
for spelling in "--sdm conda" "--sdm=conda" "--software-deployment-method conda" \
    "--software-deployment-method=conda" "--deployment-method conda" "--sdm conda apptainer" \
    "--sdm apptainer conda"; do
    # shellcheck disable=SC2086
    expect_exit 1 ferry run "${REMOTE_OPTS[@]}" --remote-dir "$R" --cores 1 results/summary.tsv -- $spelling
    assert_one_error_line
    assert_file_has_content "$TEST_TMP/err" 'has neither conda nor mamba on its PATH'
    assert_not_exists "$R/.snakemake/log"
done
ok "--sdm conda, --sdm=conda, --software-deployment-method conda (and =conda), --deployment-method conda, and lists naming conda all count as conda"

MAMBA_ONLY="$TEST_TMP/mamba-only"
standin "$MAMBA_ONLY" mamba
read -ra MAMBA_OPTS <<<"$(opts_with_path "$MAMBA_ONLY:/usr/local/bin:/usr/bin:/bin" mamba)"
expect_exit 1 ferry run "${MAMBA_OPTS[@]}" --remote-dir "$R" --cores 1 results/summary.tsv -- --use-conda
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" '^error: --use-conda, but 127\.0\.0\.1 has mamba and no conda on its PATH, and snakemake runs `conda info` whatever its frontend: install conda there'
assert_not_exists "$R/.snakemake/log"
ok "--use-conda with mamba and no conda on the remote: its own line, and snakemake never starts there"

WITH_CONDA="$TEST_TMP/with-conda"
standin "$WITH_CONDA" conda
read -ra CONDA_OPTS <<<"$(opts_with_path "$WITH_CONDA:/usr/local/bin:/usr/bin:/bin" conda)"
# Each snakemake found on the remote side (its bin dir first on that PATH), spelled as its release
# spells it.
snakemakes_init
for i in "${!SNAKEMAKE_VERSIONS[@]}"; do
    v=${SNAKEMAKE_VERSIONS[$i]}
    spelling=--use-conda
    [ "${v%%.*}" -lt 8 ] || spelling="--sdm conda"
    read -ra opts <<<"$(opts_with_path "$WITH_CONDA:${SNAKEMAKE_DIRS[$i]:+${SNAKEMAKE_DIRS[$i]}:}/usr/local/bin:/usr/bin:/bin" "conda-$i")"
    # (This host has SLURM's commands without a cluster: check's exit status is not the point.)
    ferry check "${opts[@]}" >"$TEST_TMP/out" 2>&1 || true
    assert_file_has_content "$TEST_TMP/out" "^ok   snakemake: ${v//./\\.} "
    rm -rf "$TEST_TMP/conda.calls" "$R/.ferry/runs"
    # shellcheck disable=SC2086
    expect_exit 1 ferry run "${opts[@]}" --remote-dir "$R" --cores 1 results/summary.tsv -- $spelling
    run_argv "$R" >"$TEST_TMP/argv"
    # The prefix goes in once, just before the targets, as $HOME/.ferry/conda of the remote user.
    assert_eq "$(grep -c -x -e --conda-prefix "$TEST_TMP/argv")" 1 "--conda-prefix in the run's argv"
    assert_eq "$(grep -x -A2 -e --conda-prefix "$TEST_TMP/argv" | tr '\n' ' ')" "--conda-prefix $HOME/.ferry/conda -- " \
        "what follows --conda-prefix"
    # That snakemake started there with it, and asked conda (the stand-in) for its info.
    assert_file_has_content "$TEST_TMP/conda.calls" '^info --json$'
    assert_file_has_content "$TEST_TMP/err" '^snakemake failed on 127\.0\.0\.1'
    ok "$spelling with conda on the remote (snakemake $v there): it runs with --conda-prefix \$HOME/.ferry/conda"
done

rm -rf "$TEST_TMP/conda.calls" "$R/.ferry/runs"
expect_exit 1 ferry run "${CONDA_OPTS[@]}" --remote-dir "$R" --cores 1 results/summary.tsv -- --use-conda --conda-prefix "$TEST_TMP/envs"
run_argv "$R" >"$TEST_TMP/argv"
assert_eq "$(grep -c -x -e --conda-prefix "$TEST_TMP/argv")" 1 "--conda-prefix in the run's argv"
assert_eq "$(grep -x -A1 -e --conda-prefix "$TEST_TMP/argv" | tail -n 1)" "$TEST_TMP/envs" "the user's --conda-prefix"
assert_file_has_content "$TEST_TMP/conda.calls" '^info --json$'
ok "--use-conda with the user's own --conda-prefix: that one, and no other"

expect_exit 0 ferry run "${REMOTE_OPTS[@]}" --remote-dir "$R" --cores 1 results/summary.tsv
assert_file_exists results/summary.tsv
ok "the same run without --use-conda goes through"

done_testing
