#!/usr/bin/env bash
# ferry export and ferry archive against the real snakemake: the archive holds exactly the existing
# inputs of the jobs that would run (external inputs and directory() inputs whole, nothing produced by
# those jobs, nothing unrelated), in every format, checked with bsdtar, not with ferry.
source "$(dirname "$0")/libtest.sh"
export LC_ALL=C.UTF-8
command -v bsdtar >/dev/null || fatal "bsdtar not found (scripts/deps installs libarchive-tools)"
command -v snakemake >/dev/null || fatal "snakemake not found (scripts/deps installs it)"

WF="$TEST_TMP/wf"
mkdir -p "$WF/raw" && cd "$WF"
SHEET="samples sheet é.tsv"
printf 'sample\talpha\n' >"$SHEET"
printf 'ACGT\n' >"raw/sample é 1.txt"
printf 'x,y\n1,2\n' >"raw/a,b.csv"
cat >Snakefile <<'SMK'
rule all:
    input: "results/report.txt"

rule make_ref:
    output: directory("ref")
    shell: "mkdir -p ref/sub && for i in $(seq 1 300); do printf '>s%s\\nACGT\\n' $i > ref/chunk_$i.fa; done && echo deep > ref/sub/deep.fa"

rule prep:
    input: "raw/sample é 1.txt", "raw/a,b.csv"
    output: "work/prep.txt"
    shell: "cat {input:q} > {output:q}"

rule report:
    input: "work/prep.txt", "ref", "samples sheet é.tsv"
    output: "results/report.txt"
    shell: "cat {input[0]:q} {input[2]:q} > {output:q}; ls {input[1]:q} | wc -l >> {output:q}"

rule unrelated:
    output: "unrelated/done.txt"
    shell: "echo done > {output:q}"
SMK
snakemake --cores 1 ref work/prep.txt unrelated/done.txt >/dev/null 2>&1 || fatal "could not prepare the workflow"
touch -d '2020-01-02 03:04:05' "raw/a,b.csv"

# What the report job reads, made independently of ferry: the finished prep output, every file of the
# ref directory as it is on disk, and the external sheet.
expected_report() {
    { echo work/prep.txt; echo "$SHEET"; find ref -type f; } | LC_ALL=C sort
}
members() { bsdtar -tf "$1" | LC_ALL=C sort; }

# The exact closure, with every snakemake found (Debian's 7.21, and FERRY_TEST_SNAKEMAKES), each in a
# fresh copy of the workflow: the same set whatever release reads the jobs.
cp -a "$WF" "$TEST_TMP/wf-pristine"
closure_with() { # INDEX
    local i=$1 v=${SNAKEMAKE_VERSIONS[$1]} expected
    rm -rf "$TEST_TMP/wf-$i" && cp -a "$TEST_TMP/wf-pristine" "$TEST_TMP/wf-$i" && cd "$TEST_TMP/wf-$i"
    expect_exit 0 with_snakemake "$i" ferry export results/report.txt --list
    assert_eq "$(LC_ALL=C sort "$TEST_TMP/out")" "$(expected_report)" "snakemake $v: --list of results/report.txt"
    assert_eq "$(wc -l <"$TEST_TMP/out")" 304 "snakemake $v: files listed"
    expect_exit 0 with_snakemake "$i" ferry export results/report.txt -o "$TEST_TMP/in-$i.tar.zst"
    assert_eq "$(members "$TEST_TMP/in-$i.tar.zst")" "$(expected_report)" "snakemake $v: members"
    # A rule name as the target reads the same set.
    expect_exit 0 with_snakemake "$i" ferry export report --list
    assert_eq "$(LC_ALL=C sort "$TEST_TMP/out")" "$(expected_report)" "snakemake $v: --list of rule report"
    # Arguments after -- that only a remote's snakemake knows (an executor plugin's) never reach the
    # local dry run; those that shape the DAG do.
    expect_exit 0 with_snakemake "$i" ferry export results/report.txt --list -- --slurm-status-command squeue \
        --executor slurm --profile "no such profile" -q --config who=any
    assert_eq "$(LC_ALL=C sort "$TEST_TMP/out")" "$(expected_report)" "snakemake $v: --list with remote-only arguments"
    # Once prep would run as well, its inputs (a space, a non-ASCII letter, a comma) are needed, and its
    # output, made by a job that would run, is not.
    rm work/prep.txt
    expect_exit 0 with_snakemake "$i" ferry export results/report.txt -0 --list
    expected=$({ echo "raw/sample é 1.txt"; echo "raw/a,b.csv"; echo "$SHEET"; find ref -type f; } | LC_ALL=C sort)
    assert_eq "$(tr '\0' '\n' <"$TEST_TMP/out" | LC_ALL=C sort)" "$expected" "snakemake $v: -0 --list with prep to run"
    assert_eq "$(tr -cd '\0' <"$TEST_TMP/out" | wc -c)" 305 "snakemake $v: NUL-terminated names"
    expect_exit 0 with_snakemake "$i" ferry export results/report.txt -o "$TEST_TMP/prep-$i.tar.gz"
    assert_eq "$(members "$TEST_TMP/prep-$i.tar.gz")" "$expected" "snakemake $v: members with prep to run"
    rm -rf "$TEST_TMP/x" && mkdir "$TEST_TMP/x" && bsdtar -xf "$TEST_TMP/prep-$i.tar.gz" -C "$TEST_TMP/x"
    cmp "raw/a,b.csv" "$TEST_TMP/x/raw/a,b.csv" || fatal "snakemake $v: the comma file differs"
    assert_eq "$(stat -c %Y "$TEST_TMP/x/raw/a,b.csv")" "$(stat -c %Y "raw/a,b.csv")" "snakemake $v: mtime of the comma file"
    # An up-to-date target needs nothing; -- passes --forceall on to snakemake's dry run.
    with_snakemake "$i" snakemake --cores 1 results/report.txt >/dev/null 2>&1 || fatal "snakemake $v could not run the workflow"
    expect_exit 0 with_snakemake "$i" ferry export results/report.txt --list
    assert_eq "$(cat "$TEST_TMP/out")" "" "snakemake $v: nothing listed for an up-to-date target"
    assert_file_has_content "$TEST_TMP/err" "nothing would run"
    expect_exit 0 with_snakemake "$i" ferry export results/report.txt --list -- --forceall
    expected=$({ echo "raw/sample é 1.txt"; echo "raw/a,b.csv"; echo "$SHEET"; } | LC_ALL=C sort)
    assert_eq "$(LC_ALL=C sort "$TEST_TMP/out")" "$expected" "snakemake $v: --forceall: the raw inputs of every job"
    # The workflow's own files, through snakemake --archive, into a name with dots of its own.
    git init -q . && git add Snakefile
    expect_exit 0 with_snakemake "$i" ferry archive results/report.txt -o "$TEST_TMP/wf-$i-v1.2.tar.gz"
    bsdtar -tf "$TEST_TMP/wf-$i-v1.2.tar.gz" | grep -qx Snakefile || fatal "snakemake $v: the Snakefile is not in the workflow archive"
    ok "snakemake $v: the exact closure (a file or rule target, prep to run or not, -0, --forceall), remote-only arguments left out of the dry run; archive to a dotted name"
}
snakemakes_init
for i in "${!SNAKEMAKE_VERSIONS[@]}"; do closure_with "$i"; done
cd "$WF"
expected_report >listed

for ext in tar.zst tar.gz tgz tar; do
    expect_exit 0 ferry export results/report.txt -o "$TEST_TMP/in.$ext"
    assert_file_has_content "$TEST_TMP/out" "^exported 304 files"
    assert_eq "$(members "$TEST_TMP/in.$ext")" "$(expected_report)" "members of in.$ext"
    rm -rf "$TEST_TMP/x" && mkdir "$TEST_TMP/x"
    bsdtar -xf "$TEST_TMP/in.$ext" -C "$TEST_TMP/x"
    while IFS= read -r f; do
        cmp "$f" "$TEST_TMP/x/$f" || fatal "$f differs after the round trip through in.$ext"
    done <listed
    ok "export to .$ext: bsdtar lists exactly the needed set, and every file round-trips"
done
file -b "$TEST_TMP/in.tar.zst" 2>/dev/null | grep -qi zstandard || bsdtar -tvf "$TEST_TMP/in.tar.zst" --zstd >/dev/null \
    || fatal "in.tar.zst is not zstd"
od -An -tx1 -N4 "$TEST_TMP/in.tar.zst" | grep -q "28 b5 2f fd" || fatal "in.tar.zst does not start with the zstd magic"
od -An -tx1 -N2 "$TEST_TMP/in.tar.gz" | grep -q "1f 8b" || fatal "in.tar.gz does not start with the gzip magic"
ok "the formats follow the extension (zstd and gzip magic)"

# The size rule: on sequence data as a workflow reads it, the default .tar.zst is at most 1.05 times the
# reference page's archive (snakemake --ri -S | awk | tar -czv, gzip's level 6) of the same files,
# and --best is smaller still.
mkdir "$TEST_TMP/seq" && cd "$TEST_TMP/seq"
python3 - <<'PY'
import os, random
# FASTA shards and a reference (random bases, 2 bits each, 60 a line), reads with qualities (FASTQ),
# a sample table, and bytes already compressed (a BAM, say).
rng = random.Random(13)
table = bytes(b"ACGT"[b & 3] for b in range(256))
def bases(n):
    return os.urandom(n).translate(table)
def fasta(path, size, name):
    with open(path, "wb") as out:
        seq = bases(size // 61 * 60)
        out.write(b">" + name + b"\n" + b"\n".join(seq[i:i + 60] for i in range(0, len(seq), 60)) + b"\n")
os.makedirs("shards")
for i in range(1000):
    fasta(f"shards/shard_{i:04d}.fa", 4000, b"shard%d" % i)
fasta("reference.fa", 15 << 20, b"chr1")
with open("reads.fq", "wb") as out:
    quals = bytes(range(33, 74))
    for i in range(25000):
        q = bytes(quals[min(40, max(0, int(rng.gauss(30, 6))))] for _ in range(150))
        out.write(b"@read%d/1\n%s\n+\n%s\n" % (i, bases(150), q))
with open("samples.tsv", "w") as out:
    out.write("sample\tcondition\treplicate\treads\tgc\n")
    for i in range(40000):
        out.write(f"S{i:05d}\t{rng.choice(['ctrl', 'heat', 'cold'])}\t{rng.randint(1, 4)}\t"
                  f"{rng.randint(10**6, 10**8)}\t{rng.random():.4f}\n")
with open("aligned.bam", "wb") as out:
    out.write(os.urandom(5 << 20))
PY
# Every input is a rule's output, made already, as the page's pipeline lists only outputs.
cat >Snakefile <<'SMK'
rule shards:
    output: directory("shards")
    shell: "false"

rule made:
    output: "{name}.{ext,fa|fq|tsv|bam}"
    shell: "false"

rule align:
    input: "shards", "reference.fa", "reads.fq", "samples.tsv", "aligned.bam"
    output: "result.txt"
    shell: "touch {output}"
SMK
snakemake --ri -S result.txt 2>/dev/null | awk '{if (NR!=1) {print $1}}' |
    tar -czf "$TEST_TMP/page.tar.gz" --ignore-failed-read -T - 2>/dev/null
assert_eq "$(members "$TEST_TMP/page.tar.gz" | grep -vc '/$')" 1004 "files in the reference page's archive"
expect_exit 0 ferry export result.txt -o "$TEST_TMP/seq.tar.zst"
expect_exit 0 ferry export result.txt --best -o "$TEST_TMP/best.tar.zst"
assert_eq "$(members "$TEST_TMP/seq.tar.zst" | grep -vc '/$')" 1004 "files in ferry's archive"
page=$(stat -c %s "$TEST_TMP/page.tar.gz") default=$(stat -c %s "$TEST_TMP/seq.tar.zst")
best=$(stat -c %s "$TEST_TMP/best.tar.zst")
[ $((default * 100)) -le $((page * 105)) ] ||
    fatal "the .tar.zst is $default bytes, more than 1.05 times the page's .tar.gz ($page bytes)"
[ "$best" -lt "$default" ] || fatal "--best made $best bytes, not fewer than the default's $default"
cd "$WF"
ok "size: the default .tar.zst is at most 1.05 times the reference page's .tar.gz of the same sequence data, --best smaller"

# mtimes and modes are kept.
chmod 0750 "$SHEET"
touch -d '2021-05-06 07:08:09' "$SHEET"
expect_exit 0 ferry export results/report.txt -o "$TEST_TMP/modes.tar"
rm -rf "$TEST_TMP/x" && mkdir "$TEST_TMP/x" && bsdtar -xpf "$TEST_TMP/modes.tar" -C "$TEST_TMP/x"
assert_eq "$(stat -c '%a %Y' "$TEST_TMP/x/$SHEET")" "$(stat -c '%a %Y' "$SHEET")" "mode and mtime of the sheet"
ok "modes and mtimes are kept"


# The default name, refusing to overwrite, --force.
expect_exit 0 ferry export results/report.txt
assert_file_exists input_files.tar.zst
expect_exit 1 ferry export results/report.txt -o input_files.tar.zst
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "already exists.*--force"
before=$(stat -c %Y input_files.tar.zst)
sleep 1
expect_exit 0 ferry export results/report.txt -o input_files.tar.zst --force
assert_ne "$(stat -c %Y input_files.tar.zst)" "$before" "mtime of the replaced archive"
rm input_files.tar.zst
ok "default input_files.tar.zst; an existing archive is refused without --force and replaced with it"

# A progress bar on a terminal only.
expect_exit 0 ferry export results/report.txt -o "$TEST_TMP/quiet.tar"
assert_eq "$(cat "$TEST_TMP/err")" "" "stderr off a terminal"
if command -v script >/dev/null; then
    script -qec "$(printf '%q ' "$FERRY" export results/report.txt -o "$TEST_TMP/tty.tar")" /dev/null >"$TEST_TMP/tty" 2>&1 \
        || fatal "export on a terminal failed: $(cat "$TEST_TMP/tty")"
    assert_file_has_content "$TEST_TMP/tty" "304/304 files"
    assert_file_has_content "$TEST_TMP/tty" "/s"
    ok "on a terminal a progress bar shows files, bytes and rate; off a terminal nothing"
else
    fatal "script (bsdutils) is needed for the terminal test"
fi

# --- errors: one line, exit 1 (2 for usage), no archive, no temporary file left ----------------------
no_leftovers() { if ls -a "$1" | grep -q '\.ferry-'; then fatal "a temporary file was left in $1"; fi; }

expect_exit 2 ferry export results/report.txt -o "$TEST_TMP/in.rar"
assert_one_error_line
assert_not_exists "$TEST_TMP/in.rar"
expect_exit 2 ferry export -o "$TEST_TMP/none.tar"
assert_one_error_line
ok "an unknown extension and a missing target are usage errors (exit 2)"

expect_exit 1 ferry export no_such_target -o "$TEST_TMP/e.tar"
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "No rule to produce no_such_target"
assert_not_exists "$TEST_TMP/e.tar"
ok "an unknown target: snakemake's own message"

mkdir "$TEST_TMP/empty" && cd "$TEST_TMP/empty"
expect_exit 1 ferry export all -o "$TEST_TMP/e.tar"
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "no Snakefile found"
cd "$TEST_TMP" && mkdir syntax && cd syntax
printf 'rule a:\n    output: "a.txt"\n    shell "touch a.txt"\n' >Snakefile
expect_exit 1 ferry export a.txt -o "$TEST_TMP/e.tar"
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "SyntaxError"
assert_not_exists "$TEST_TMP/e.tar"
ok "no Snakefile, a syntax error: one line each with snakemake's explanation"

cd "$TEST_TMP" && mkdir outside && cd outside
printf 'x\n' >"$TEST_TMP/outside input.txt"
printf 'rule a:\n    input: "%s"\n    output: "a.txt"\n    shell: "cp {input:q} {output:q}"\n' "$TEST_TMP/outside input.txt" >Snakefile
expect_exit 1 ferry export a.txt -o out.tar
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "outside input.txt is outside the workflow directory"
assert_not_exists out.tar
ok "an input outside the workflow directory is named in the error"

# The same workflow directory named through a symlink: an absolute input is still inside.
cd "$TEST_TMP" && mkdir linked && cd linked
ln -s "$TEST_TMP/linked" "$TEST_TMP/via-link"
printf 'x\n' >inside.txt
printf 'rule b:\n    input: "%s"\n    output: "b.txt"\n    shell: "cp {input:q} {output:q}"\n' "$TEST_TMP/via-link/inside.txt" >Snakefile
expect_exit 0 ferry export b.txt --list
assert_eq "$(cat "$TEST_TMP/out")" "inside.txt" "an absolute input through a symlinked directory"
ok "an absolute input through a symlink to the workflow directory is taken, relative"

cd "$TEST_TMP" && mkdir special && cd special
mkdir d && printf 'x\n' >d/ok.txt && mkfifo d/pipe
printf 'rule a:\n    input: "d"\n    output: "a.txt"\n    shell: "touch {output}"\n' >Snakefile
expect_exit 1 ferry export a.txt -o out.tar.zst
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "d/pipe"
assert_not_exists out.tar.zst
no_leftovers .
ok "a file that cannot be archived: one line naming it, no archive and no temporary file"

# A file ferry may not read. Root reads everything, so as root the export runs as nobody, from a
# world-readable copy of ferry and its templates.
u=$(mktemp -d /tmp/ferry-unreadable.XXXXXX)
on_exit "rm -rf '$u'"
chmod 755 "$u" && mkdir -p "$u/wf/d" && cp "$FERRY" "$u/ferry" && cp -r "$FERRY_TEMPLATES_DIR" "$u/templates"
printf 'x\n' >"$u/wf/d/ok.txt" && printf 'secret\n' >"$u/wf/d/secret.txt"
printf 'rule a:\n    input: "d"\n    output: "a.txt"\n    shell: "touch {output}"\n' >"$u/wf/Snakefile"
cd "$u/wf"
if [ "$(id -u)" = 0 ]; then
    command -v setpriv >/dev/null || fatal "setpriv (util-linux) is needed to drop root for this test"
    chown -R nobody "$u/wf" && chown root "$u/wf/d/secret.txt" && chmod 000 "$u/wf/d/secret.txt"
    # nobody's own temp dir: the suite's TMPDIR is root's alone.
    mkdir "$u/tmp" && chown nobody "$u/tmp"
    as_user=(setpriv --reuid=nobody --regid="$(id -g nobody)" --clear-groups env HOME="$u/wf" TMPDIR="$u/tmp"
        FERRY_TEMPLATES_DIR="$u/templates")
else
    chmod 000 "$u/wf/d/secret.txt"
    as_user=(env FERRY_TEMPLATES_DIR="$u/templates")
fi
expect_exit 1 "${as_user[@]}" "$u/ferry" export a.txt -o out.tar.zst
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "cannot read d/secret.txt: Permission denied"
assert_not_exists out.tar.zst
no_leftovers .
ok "a file ferry may not read: one line naming it, no archive and no temporary file"

# A snakemake newer than ferry knows, which refuses the plugin flag (a stub first on PATH, standing for a
# release to come): one line naming the version and the releases ferry knows.
mkdir -p "$TEST_TMP/sm10"
cat >"$TEST_TMP/sm10/snakemake" <<'STUB'
#!/bin/sh
if [ "$1" = --version ]; then echo 10.0.0; exit 0; fi
echo "snakemake: error: unrecognized arguments: --logger ferry" >&2
exit 2
STUB
chmod +x "$TEST_TMP/sm10/snakemake"
expect_exit 1 env PATH="$TEST_TMP/sm10:$PATH" "$FERRY" export a.txt -o out.tar
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "snakemake 10.0.0 refused --logger ferry.*ferry knows snakemake 7.19 to 9"
assert_not_exists out.tar
ok "a snakemake newer than ferry knows that refuses its flags: one line naming the releases that work"

# --- ferry archive: snakemake --archive, its pitfalls as errors ---------------------------------------
cd "$WF"
command -v git >/dev/null || fatal "git not found (scripts/deps installs it)"
expect_exit 0 ferry archive results/report.txt -o "$TEST_TMP/nogit.tar.gz"
assert_file_has_content "$TEST_TMP/err" "not in a git repository"
bsdtar -tf "$TEST_TMP/nogit.tar.gz" | grep -qx Snakefile || fatal "the Snakefile is not in the archive"
bsdtar -tf "$TEST_TMP/nogit.tar.gz" | grep -qx "$SHEET" || fatal "the external input is not in the archive"
git init -q . && git add Snakefile
expect_exit 0 ferry archive results/report.txt -o "$TEST_TMP/wf.tar.gz"
assert_file_has_content "$TEST_TMP/out" "^archived the workflow"
bsdtar -tf "$TEST_TMP/wf.tar.gz" | grep -qx Snakefile || fatal "the Snakefile is not in the workflow archive"
expect_exit 1 ferry archive results/report.txt -o "$TEST_TMP/wf.tar.gz"
assert_file_has_content "$TEST_TMP/err" "already exists"
expect_exit 0 ferry archive results/report.txt -o "$TEST_TMP/wf.tar.gz" --force
expect_exit 2 ferry archive results/report.txt -o "$TEST_TMP/wf.zip"
no_leftovers "$TEST_TMP"
mkdir -p "$TEST_TMP/nogit" && for t in snakemake python3 env sh bash; do ln -sf "$(command -v $t)" "$TEST_TMP/nogit/"; done
expect_exit 1 env PATH="$TEST_TMP/nogit" "$FERRY" archive results/report.txt -o "$TEST_TMP/wf2.tar.gz"
assert_file_has_content "$TEST_TMP/err" "git is not installed"
cd "$TEST_TMP/outside" && git init -q . && git add Snakefile
expect_exit 1 ferry archive a.txt -o "$TEST_TMP/o.tar.gz"
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "outside the working directory"
assert_not_exists "$TEST_TMP/o.tar.gz"
ok "archive: outside git, a note; needs git installed; refuses to overwrite (--force replaces), refuses what it would leave out"

done_testing
