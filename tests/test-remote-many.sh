#!/bin/bash
# Any number of paths: one job writes 20,000 outputs whose names add up to more than the argv limit
# (2 MiB, getconf ARG_MAX), so a list of them in an argv would fail; run pushes, runs and pulls them all
# back (the list goes over stdin, never into an argv), and every pulled file is checked. The job after
# it reads one of them: a rule that took all 20,000 as input through rules.demux.output would cost
# snakemake a quadratic check (each item looked up in the other rule's output list), minutes of CPU.
# The job is a shell command (a run: block is one more snakemake process, which reads the DAG again).
# shellcheck source=tests/libtest.sh
source "$(dirname "$0")/libtest.sh"
# shellcheck source=tests/lib-remote.sh
source "$(dirname "$0")/lib-remote.sh"

PATH=$(path_without_aws)
export PATH
N=20000
NAME=demultiplexed/run_2026_11_lane_1_flowcell_HXXXXXXXX/sample_with_a_rather_long_name_that_sequencers_like_to_write

sshd_start
remote_setup_host
R="$TEST_TMP/remote"
mkdir -p "$TEST_TMP/wf" && cd "$TEST_TMP/wf"
cat >Snakefile <<SMK
N = $N


rule all:
    input:
        "demux.done",


rule demux:
    input:
        "samples.txt",
    output:
        expand("${NAME}_{i:05d}.fastq", i=range(N)),
    shell:
        """python3 -c 'import os; os.makedirs("${NAME%/*}", exist_ok=True)
for i in range({N}):
    p = f"${NAME}_{{i:05d}}.fastq"
    open(p, "w").write(p + "\\\\n")'"""


rule done:
    input:
        "${NAME}_00000.fastq",
    output:
        "demux.done",
    shell:
        "echo {N} > {output:q}"
SMK
bytes=$(python3 -c 'import sys; n, name = int(sys.argv[1]), sys.argv[2]; print(sum(len(f"{name}_{i:05d}.fastq") + 1 for i in range(n)))' "$N" "$NAME")
(( bytes > $(getconf ARG_MAX) )) || fatal "the output names add up to $bytes bytes, not more than ARG_MAX"
echo "s1" >samples.txt
# No metadata: snakemake would write a record per output, which tests nothing here.
expect_exit 0 ferry run "${REMOTE_OPTS[@]}" --remote-dir "$R" --cores 1 all -- --drop-metadata
assert_file_has_content "$TEST_TMP/err" "pulled $((N + 1)) entries"
assert_eq "$(find demultiplexed -type f | wc -l)" "$N" "outputs pulled"
# Every pulled file holds its own name, as the job wrote it.
bad=$(python3 -c '
import sys
n, name = int(sys.argv[1]), sys.argv[2]
for i in range(n):
    path = f"{name}_{i:05d}.fastq"
    try:
        with open(path) as f:
            ok = f.read() == path + "\n"
    except OSError:
        ok = False
    if not ok:
        print(path)
' "$N" "$NAME")
assert_eq "$bad" "" "pulled outputs missing or not as written"
assert_eq "$(cat demux.done)" "$N" "the last job's output"
ok "a job with $N outputs ($bytes bytes of names): run pushes, runs and pulls them all back"

done_testing
