#!/bin/bash
# Any number of paths: one job writes 20,000 outputs; run pushes, runs and pulls them all back (the
# list goes over stdin, never into an argv). Each snakemake over such a DAG is slow: two in all.
# shellcheck source=tests/libtest.sh
source "$(dirname "$0")/libtest.sh"
# shellcheck source=tests/lib-remote.sh
source "$(dirname "$0")/lib-remote.sh"

PATH=$(path_without_aws)
export PATH
N=20000

sshd_start
remote_setup_host
R="$TEST_TMP/remote"
mkdir -p "$TEST_TMP/wf" && cd "$TEST_TMP/wf"
cat >Snakefile <<'SMK'
N = 20000


rule all:
    input:
        "demux.done",


rule demux:
    input:
        "samples.txt",
    output:
        expand("demultiplexed/sample_with_a_rather_long_name_{i:05d}.fastq", i=range(N)),
    run:
        for i, path in enumerate(output):
            with open(path, "w") as f:
                f.write(f"@read{i}\n")


rule done:
    input:
        rules.demux.output,
    output:
        "demux.done",
    shell:
        "echo {N} > {output:q}"
SMK
echo "s1" >samples.txt
# No metadata: snakemake would write a record per output, which tests nothing here.
expect_exit 0 ferry run "${REMOTE_OPTS[@]}" --remote-dir "$R" --cores 1 all -- --drop-metadata
assert_file_has_content "$TEST_TMP/err" "pulled $((N + 1)) entries"
assert_eq "$(find demultiplexed -type f | wc -l)" "$N" "outputs pulled"
assert_eq "$(cat demultiplexed/sample_with_a_rather_long_name_12345.fastq)" "@read12345" "an output's contents"
assert_eq "$(cat demux.done)" "$N" "the last job's output"
ok "a job with $N outputs: run pushes, runs and pulls them all back"

done_testing
