#!/usr/bin/env bash
# The store in the deployment's bucket (src/core/store.c, templates/ferry-store), against moto's S3 and
# a loopback sshd whose sessions reach the same moto with their own aws (as an instance's profile
# would). What the laptop sent is counted in moto's request log, not taken from ferry's word.
#   part push:    packing (10,000 files of 1 KB, the pack objects and the PUT count prove the packing;
#                 STORE_SMALL_FILES=100000 runs the issue's 100,000, which took this part from 4m19s
#                 (86 CPU-s) to 22 minutes under a load of 13 to 20, so the suite keeps 10,000 and
#                 scripts/bench/store pushes 100,000), multipart above the (scaled-down) single-PUT limit, links,
#                 modes and mtimes; a new instance's push sends only a manifest; an unchanged push
#                 sends nothing; corrupt objects and packs refused
#   part resume:  a kill mid-upload (parts in parallel), then a resume; two concurrent pushes from two
#                 state dirs; a file written to between its hash and its upload refused by name
#   part save:    a deployment with a bucket and a role pushes through the store by default; run
#                 --save stores the outputs from the instance; after terminate, pull brings them
#                 home from the bucket; a new instance (launch after terminate) gets the inputs with
#                 only a manifest sent from the laptop
#   part hostile: manifests with `..`, an absolute path, a link leading out, a write through a
#                 symlink: refused by `ferry store pull` and by the instance's script alike
source "$(dirname "$0")/libtest.sh"
source "$(dirname "$0")/lib-remote.sh"

moto_start
aws_dir=$(dirname "$(command -v aws)")
SSHD_EXTRA_CONFIG="SetEnv PATH=$aws_dir:/usr/local/bin:/usr/bin:/bin AWS_CONFIG_FILE=$AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE=$AWS_SHARED_CREDENTIALS_FILE PYENV_VERSION=${PYENV_VERSION:-}"
export SSHD_EXTRA_CONFIG
sshd_start
remote_setup_host
# For tests only: files above 5 MiB (S3's smallest part) go up in parts of 5 MiB.
export FERRY_STORE_PUT_LIMIT=$((5 * 1024 * 1024))
B=ferry-store-test
R="$TEST_TMP/remote"

# Requests moto logged since mark_requests: `since_mark REGEX` counts them.
mark_requests() { _mark=$(wc -l <"$TEST_TMP/moto.log"); }
since_mark() { tail -n +$((_mark + 1)) "$TEST_TMP/moto.log" | grep -cE "$1" || true; }

# make_workflow DIR N: its one job reads a small file, a 12 MiB file and a directory of N files of
# 1 KB (with a symlink and a hard link in it).
make_workflow() {
    mkdir -p "$1/data" "$1/ref"
    cd "$1"
    echo "alpha" >data/a.txt
    head -c $((12 * 1024 * 1024)) /dev/urandom >data/big.bin
    python3 - "$2" <<'PY'
import os, sys
for i in range(int(sys.argv[1])):
    with open("ref/f%05d" % i, "wb") as f:
        f.write(b"%05d" % i + os.urandom(509).hex().encode()[:1019])
PY
    ln -s f00001 ref/link
    ln ref/f00002 ref/hard
    chmod 600 ref/f00003
    cat >Snakefile <<'SMK'
rule summary:
    input:
        "data/a.txt",
        "data/big.bin",
        "ref",
    output:
        "results/summary.txt",
    shell:
        "ls {input[2]} | wc -l > {output}; cat {input[0]} >> {output}; wc -c < {input[1]} >> {output}"
SMK
}

# replace_object KEY FILE: the bucket's object KEY now holds FILE (a corruption, or its repair).
replace_object() { awsm s3api put-object --bucket "$B" --key "$1" --body "$2" >/dev/null; }

# refused_push MESSAGE PATH: a push to a fresh remote fails on one line saying MESSAGE, and PATH did
# not reach the remote.
refused_push() {
    rm -rf "$R"
    expect_exit 1 ferry push "${REMOTE_OPTS[@]}" --remote-dir "$R" --via store results/summary.txt
    assert_one_error_line
    assert_file_has_content "$TEST_TMP/err" "$1"
    assert_not_exists "$R/$2"
}

# The remote has exactly the workflow's inputs: content, modes, mtimes (ns), the symlink, the hard link.
same_on_remote() {
    local f
    diff -r --no-dereference data "$R/data" >/dev/null || fatal "data/ differs on the remote"
    diff -r --no-dereference ref "$R/ref" >/dev/null || fatal "ref/ differs on the remote"
    for f in data/a.txt data/big.bin ref/f00000 ref/f00003; do
        assert_eq "$(stat -c '%y %a' "$R/$f")" "$(stat -c '%y %a' "$f")" "mtime and mode of $f on the remote"
    done
    assert_eq "$(readlink "$R/ref/link")" f00001 "the symlink on the remote"
    assert_eq "$(stat -c %i "$R/ref/hard")" "$(stat -c %i "$R/ref/f00002")" "the hard link on the remote"
}

if in_part push; then
    n_small=${STORE_SMALL_FILES:-10000}
    make_workflow "$TEST_TMP/wf" "$n_small"
    expect_exit 0 ferry bucket --bucket "$B"

    mark_requests
    expect_exit 0 ferry push "${REMOTE_OPTS[@]}" --remote-dir "$R" --via store results/summary.txt
    assert_file_has_content "$TEST_TMP/out" "^pushed $((n_small + 5)) of $((n_small + 5)) files .* through s3://$B"
    same_on_remote
    packs=$(awsm s3api list-objects-v2 --bucket "$B" --prefix ferry-store/packs/ | jget 'len(j["Contents"])')
    # A pack closes at 64 MiB of members counted at 1 KiB of header each: 32,785 of these files.
    assert_eq "$packs" $((2 * ((n_small + 1 + 32784) / 32785))) "objects of the packs for $n_small small files (each tar, its member list)"
    parts=$(since_mark "PUT /$B/ferry-store/objects/[0-9a-f]{64}\?.*partNumber=")
    assert_eq "$parts" 3 "parts of the 12 MiB file at a 5 MiB limit"
    puts=$(since_mark "^.*\"PUT /$B/")
    [ "$puts" -le $((5 + n_small / 1000)) ] || fatal "the first push made $puts PUTs for $n_small small files (at most $((5 + n_small / 1000)): packs in aws's 8 MiB parts, their lists, 3 parts, the manifest)"
    ok "first push through the store: $n_small small files in $((packs / 2)) pack(s) and $puts PUTs, the big file in 3 parts, links, modes and mtimes kept"

    # A new instance: an empty disk. The laptop sends only the manifest; the remote fetches it all.
    rm -rf "$R"
    mark_requests
    expect_exit 0 ferry push "${REMOTE_OPTS[@]}" --remote-dir "$R" --via store results/summary.txt
    assert_file_has_content "$TEST_TMP/out" "store: $((n_small + 4)) of $((n_small + 4)) files already stored, 0 bytes uploaded in 1 PUTs \(0 files read"
    assert_eq "$(since_mark "\"PUT /$B/")" 1 "PUTs of the second deployment's push (the manifest)"
    assert_eq "$(since_mark "\"PUT /$B/ferry-store/manifests/")" 1 "the one PUT is the manifest"
    assert_eq "$(since_mark '"POST ')" 0 "POSTs of the second deployment's push"
    same_on_remote
    ok "a new instance: nothing but a manifest sent from the laptop, no file read, every file fetched by the remote"

    mark_requests
    expect_exit 0 ferry push "${REMOTE_OPTS[@]}" --remote-dir "$R" --via store results/summary.txt
    assert_file_has_content "$TEST_TMP/out" "^pushed 0 of $((n_small + 5)) files"
    assert_eq "$(since_mark "\"(PUT|POST) /$B/")" 0 "writes to the bucket for an unchanged push"
    ok "an unchanged push to the same remote: nothing sent"

    # Corrupt objects: the big file's object, then a member of the pack, replaced in the bucket.
    big_sha=$(sha256sum data/big.bin | cut -d' ' -f1)
    head -c 1000 /dev/urandom >"$TEST_TMP/junk"
    replace_object "ferry-store/objects/$big_sha" "$TEST_TMP/junk"
    refused_push "corrupt object in the store: objects/$big_sha" data/big.bin
    replace_object "ferry-store/objects/$big_sha" data/big.bin
    pack=$(awsm s3api list-objects-v2 --bucket "$B" --prefix ferry-store/packs/ | jget '[c["Key"] for c in j["Contents"] if c["Key"].endswith(".tar")][0]')
    awsm s3api get-object --bucket "$B" --key "$pack" "$TEST_TMP/pack.tar" >/dev/null
    python3 - "$TEST_TMP/pack.tar" "$TEST_TMP/bad.tar" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1]) as t:
    member = t.getmembers()[5]
data = bytearray(open(sys.argv[1], "rb").read())
data[member.offset_data + 10] ^= 0xFF  # one byte of a member's content; the tar stays well-formed
open(sys.argv[2], "wb").write(data)
PY
    replace_object "$pack" "$TEST_TMP/bad.tar"
    refused_push "corrupt pack in the store" ref/f00000
    replace_object "$pack" "$TEST_TMP/pack.tar"
    ok "a corrupt object and a corrupt pack member are refused by the remote, and nothing takes their place"

fi

if in_part resume; then
    make_workflow "$TEST_TMP/wf" 200
    expect_exit 0 ferry bucket --bucket "$B"
    expect_exit 0 ferry push "${REMOTE_OPTS[@]}" --remote-dir "$R" --via store results/summary.txt
    same_on_remote

    # A kill in the middle of a multipart upload, then a resume. The parts go up in parallel; the
    # stub gives each upload-part call a slot: the first two go through, the third waits until
    # they are done, then kills ferry, and the later ones fail once it is dead.
    head -c $((22 * 1024 * 1024)) /dev/urandom >data/big.bin
    mkdir -p "$TEST_TMP/killbin"
    cat >"$TEST_TMP/killbin/aws" <<EOF
#!/bin/sh
wait_for() { i=0; while [ ! -e "\$1" ] && [ \$i -lt 3000 ]; do sleep 0.1; i=\$((i + 1)); done; }
case " \$* " in *" upload-part "*)
    n=1; while ! mkdir "$TEST_TMP/slot.\$n" 2>/dev/null; do n=\$((n + 1)); done
    if [ \$n -le 2 ]; then "$(command -v aws)" "\$@"; rc=\$?; touch "$TEST_TMP/sent.\$n"; exit \$rc; fi
    if [ \$n -eq 3 ]; then
        wait_for "$TEST_TMP/sent.1"; wait_for "$TEST_TMP/sent.2"
        kill -KILL \$PPID; touch "$TEST_TMP/killed"
    fi
    wait_for "$TEST_TMP/killed"; exit 1;;
esac
exec "$(command -v aws)" "\$@"
EOF
    chmod +x "$TEST_TMP/killbin/aws"
    expect_exit 137 env PATH="$TEST_TMP/killbin:$PATH" "$FERRY" push "${REMOTE_OPTS[@]}" --remote-dir "$R" --via store results/summary.txt
    big_sha=$(sha256sum data/big.bin | cut -d' ' -f1)
    upload_id=$(awsm s3api list-multipart-uploads --bucket "$B" | jget '[u["UploadId"] for u in j["Uploads"] if u["Key"].endswith("'"$big_sha"'")][0]')
    n=$(awsm s3api list-parts --bucket "$B" --key "ferry-store/objects/$big_sha" --upload-id "$upload_id" | jget 'len(j["Parts"])')
    assert_eq "$n" 2 "parts in the bucket after the kill"
    mark_requests
    expect_exit 0 ferry push "${REMOTE_OPTS[@]}" --remote-dir "$R" --via store results/summary.txt
    assert_file_has_content "$TEST_TMP/err" "resuming the upload of data/big.bin: 2 of 5 parts are in the bucket"
    assert_eq "$(since_mark "PUT /$B/ferry-store/objects/[0-9a-f]{64}\?.*partNumber=")" 3 "parts sent by the resumed push"
    same_on_remote
    ok "a push killed with 2 of its 5 parts sent (in parallel) resumes: 3 more parts, not 5"

    # Two laptops, one bucket: overlapping changes pushed at once from two state dirs.
    cp -a "$TEST_TMP/wf" "$TEST_TMP/wf2"
    rm -rf "$TEST_TMP/wf2/.ferry"
    echo "shared new line" >>data/a.txt
    echo "shared new line" >>"$TEST_TMP/wf2/data/a.txt"
    echo "only the second laptop" >>"$TEST_TMP/wf2/ref/f00004"
    (cd "$TEST_TMP/wf2" && ferry bucket --bucket "$B" >/dev/null 2>&1) || fatal "the second state dir could not adopt the bucket"
    "$FERRY" push "${REMOTE_OPTS[@]}" --remote-dir "$R" --via store results/summary.txt >"$TEST_TMP/p1.out" 2>&1 &
    p1=$!
    (cd "$TEST_TMP/wf2" && "$FERRY" push "${REMOTE_OPTS[@]}" --remote-dir "$TEST_TMP/remote2" --via store results/summary.txt) >"$TEST_TMP/p2.out" 2>&1 &
    p2=$!
    wait $p1 || { cat "$TEST_TMP/p1.out" >&2; fatal "the first of two concurrent pushes failed"; }
    wait $p2 || { cat "$TEST_TMP/p2.out" >&2; fatal "the second of two concurrent pushes failed"; }
    same_on_remote
    (cd "$TEST_TMP/wf2" && R="$TEST_TMP/remote2" && same_on_remote)
    n=$(awsm s3api list-objects-v2 --bucket "$B" --prefix ferry-store/manifests/ | jget 'len(j["Contents"])')
    assert_eq "$n" 4 "manifests after the first push, the resumed one and the two concurrent ones"
    # Both manifests restore on a fresh remote from the bucket alone.
    rm -rf "$R"
    expect_exit 0 ferry push "${REMOTE_OPTS[@]}" --remote-dir "$R" --via store results/summary.txt
    same_on_remote
    ok "two concurrent pushes of overlapping data from two state dirs: both complete, each remote right"

    # A file written to after its hash, before (or while) it goes up: the stub appends to it at
    # the laptop's first aws call of an operation, then runs the real aws.
    mkdir -p "$TEST_TMP/changebin"
    cat >"$TEST_TMP/changebin/aws" <<EOF
#!/bin/sh
case " \$* " in *" \$CHANGE_ON "*)
    if mkdir "$TEST_TMP/changed.lock" 2>/dev/null; then echo "written meanwhile" >>"\$CHANGE_FILE"; fi;;
esac
exec "$(command -v aws)" "\$@"
EOF
    chmod +x "$TEST_TMP/changebin/aws"
    # changed_push FILE OPERATION: the push fails naming FILE, and neither the bucket nor the
    # index keeps the hash FILE had before (the object would not be its content).
    changed_push() {
        local sha n
        sha=$(sha256sum "$1" | cut -d' ' -f1)
        rm -rf "$TEST_TMP/changed.lock"
        expect_exit 1 env PATH="$TEST_TMP/changebin:$PATH" CHANGE_FILE="$1" CHANGE_ON="$2" \
            "$FERRY" push "${REMOTE_OPTS[@]}" --remote-dir "$R" --via store results/summary.txt
        assert_file_exists "$TEST_TMP/changed.lock"
        assert_one_error_line
        assert_file_has_content "$TEST_TMP/err" "^error: $1 changed during the push \(after it was hashed\): nothing of it was stored; push again once it is written"
        n=$(awsm s3api list-objects-v2 --bucket "$B" --prefix "ferry-store/objects/$sha" | jget 'len(j.get("Contents", []))')
        assert_eq "$n" 0 "objects under the hash $1 had before it was written to"
        n=$(awsm s3api list-multipart-uploads --bucket "$B" | jget 'len([u for u in j.get("Uploads", []) if u["Key"].endswith("'"$sha"'")])')
        assert_eq "$n" 0 "multipart uploads left under that hash"
        ! grep -q "$sha" .ferry/store/index.json || fatal "the index still has the hash $1 had before it was written to"
    }
    head -c $((2 * 1024 * 1024)) /dev/urandom >ref/grown.bin
    changed_push ref/grown.bin "s3 cp"
    head -c $((22 * 1024 * 1024)) /dev/urandom >data/big.bin
    changed_push data/big.bin upload-part
    expect_exit 0 ferry push "${REMOTE_OPTS[@]}" --remote-dir "$R" --via store results/summary.txt
    same_on_remote
    ok "a file written to between its hash and its upload (an object, a multipart one): refused by name, nothing of it kept; the next push sends what it holds now"
fi

if in_part save; then
    source "$(dirname "$0")/lib-lifecycle.sh"
    remote_example_workflow "$TEST_TMP/wf"
    cd "$TEST_TMP/wf"
    fixture_deployment ferry "$TEST_TMP/wf/.ferry"
    sshd_authorize "$TEST_TMP/wf/.ferry/ferry.pem"
    # moto's instance has no public name: the state gets one, which HostName= points at the sshd.
    name_instance() {
        python3 - "$TEST_TMP/wf/.ferry/state.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
s["resources"]["instance"]["public_dns"] = "instance.invalid"
json.dump(s, open(sys.argv[1], "w"))
PY
    }
    name_instance
    # shellcheck disable=SC2207
    EC2_OPTS=($(sshd_ferry_opts) --remote-dir "$R")
    expect_exit 0 ferry run "${EC2_OPTS[@]}" --save --cores 1 results/summary.tsv
    assert_file_has_content "$TEST_TMP/err" "^pushed 4 of 4 files .* through s3://$F_BUCKET"
    assert_file_has_content "$TEST_TMP/err" "^saved the outputs in s3://$F_BUCKET/ferry-store/manifests/"
    cmp results/summary.tsv "$R/results/summary.tsv" || fatal "the pulled summary differs"
    saved_mtime=$(stat -c %y "$R/results/summary.tsv")
    ok "with a bucket and a role the push goes through the store by default; run --save stores the outputs from the instance"

    expect_exit 0 ferry terminate --yes
    rm -rf results "$R"
    expect_exit 0 ferry pull "${EC2_OPTS[@]}" results/summary.tsv
    assert_file_has_content "$TEST_TMP/out" "^pulled 4 entries .* from the store, s3://$F_BUCKET/ferry-store/manifests/"
    printf 'alpha\t%s\nbeta\t%s\ngamma\t%s\n' "$(wc -w <data/alpha.txt)" "$(wc -w <data/beta.txt)" "$(wc -w <data/gamma.txt)" >"$TEST_TMP/expected"
    cmp results/summary.tsv "$TEST_TMP/expected" || fatal "the summary pulled from the store is not the run's"
    assert_eq "$(stat -c %y results/summary.tsv)" "$saved_mtime" "the saved output's mtime"
    ok "after terminate, pull brings the saved outputs home from the bucket, mtime kept"

    # shellcheck disable=SC2046
    expect_exit 0 ferry launch $(sshd_ferry_opts) --no-wait-ssh
    name_instance
    mark_requests
    expect_exit 0 ferry push "${EC2_OPTS[@]}" results/summary.tsv
    assert_file_has_content "$TEST_TMP/out" "store: 4 of 4 files already stored, 0 bytes uploaded in 1 PUTs"
    assert_eq "$(since_mark "\"PUT /$F_BUCKET/")" 1 "PUTs of the new instance's push (the manifest)"
    for f in Snakefile data/alpha.txt data/beta.txt data/gamma.txt; do
        cmp "$f" "$R/$f" || fatal "$f did not reach the new instance"
    done
    ok "a new instance after terminate fetches the inputs from the store: the laptop sends one manifest"

    # What the store holds, seen by store ls, status, ls and teardown; then pruned.
    objects=$(awsm s3api list-objects-v2 --bucket "$F_BUCKET" --prefix ferry-store/ | jget 'len(j["Contents"])')
    expect_exit 0 ferry store ls
    assert_eq "$(grep -c -- '-push-' "$TEST_TMP/out")" 2 "pushes listed by store ls"
    assert_eq "$(grep -c -- '-save-' "$TEST_TMP/out")" 1 "saves listed by store ls"
    assert_file_has_content "$TEST_TMP/out" "^s3://$F_BUCKET/ferry-store/: $objects objects, [0-9]+ bytes, 3 manifests$"
    # The remote dir has no runs (a fresh disk): status says so, and what the store holds.
    expect_exit 0 ferry status "${EC2_OPTS[@]}"
    assert_file_has_content "$TEST_TMP/out" "^  store +s3://$F_BUCKET/ferry-store/: $objects objects, [0-9]+ bytes, 3 manifests; unknown a month \\("
    expect_exit 0 ferry ls
    assert_file_has_content "$TEST_TMP/out" "^store in s3://$F_BUCKET/ferry-store/: $objects objects"
    expect_exit 0 ferry teardown --dry-run
    assert_file_has_content "$TEST_TMP/out" "the store in s3://$F_BUCKET/ferry-store/: $objects objects, .*kept unless --force"
    expect_exit 0 ferry store prune
    assert_file_has_content "$TEST_TMP/out" "^deleted 0 manifests and 0 objects"
    FERRY_STORE_PRUNE_GRACE_S=0 expect_exit 0 ferry store prune --older-than 0
    assert_file_has_content "$TEST_TMP/out" "^deleted 3 manifests and $((objects - 3)) objects"
    n=$(awsm s3api list-objects-v2 --bucket "$F_BUCKET" --prefix ferry-store/ | jget 'len(j.get("Contents", []))')
    assert_eq "$n" 0 "objects left in the store after pruning every manifest"
    ok "store ls, status, ls and teardown say what the store holds (the cost unknown without a Pricing API); prune deletes what no kept manifest needs"
fi

if in_part hostile; then
    mkdir -p "$TEST_TMP/wf" && cd "$TEST_TMP/wf"
    expect_exit 0 ferry bucket --bucket "$B"
    echo "content" >"$TEST_TMP/c.txt"
    sha=$(sha256sum "$TEST_TMP/c.txt" | cut -d' ' -f1)
    awsm s3api put-object --bucket "$B" --key "ferry-store/objects/$sha" --body "$TEST_TMP/c.txt" >/dev/null
    mkdir -p "$TEST_TMP/inst"
    i=0
    for entries in \
        '[{"path": "../evil", "type": "file", "mode": 420, "mtime_ns": 0, "size": 8, "sha256": "SHA"}]' \
        '[{"path": "'"$TEST_TMP"'/evil", "type": "file", "mode": 420, "mtime_ns": 0, "size": 8, "sha256": "SHA"}]' \
        '[{"path": "out", "type": "symlink", "target": "../..", "mode": 511, "mtime_ns": 0}]' \
        '[{"path": "abs", "type": "symlink", "target": "/etc", "mode": 511, "mtime_ns": 0}]' \
        '[{"path": "ok.txt", "type": "file", "mode": 420, "mtime_ns": 0, "size": 8, "sha256": "SHA"}, {"path": "x", "type": "file", "mode": 420, "mtime_ns": 0, "size": 8, "sha256": "SHA", "link": "../../evil"}]' \
        '[{"path": "sub", "type": "dir", "mode": 493, "mtime_ns": 0}, {"path": "lnk", "type": "symlink", "target": "sub", "mode": 511, "mtime_ns": 0}, {"path": "lnk/f", "type": "file", "mode": 420, "mtime_ns": 0, "size": 8, "sha256": "SHA"}]'; do
        i=$((i + 1))
        printf '{"ferry_store_manifest": 1, "kind": "save", "entries": %s}\n' "${entries//SHA/$sha}" >"$TEST_TMP/m$i.json"
        key="ferry-store/manifests/20200101T000000Z-save-hostile$i.json"
        awsm s3api put-object --bucket "$B" --key "$key" --body "$TEST_TMP/m$i.json" >/dev/null
        mkdir -p "$TEST_TMP/home$i/a/b" && cd "$TEST_TMP/home$i/a/b"
        expect_exit 1 ferry store pull "$key" --state-dir "$TEST_TMP/wf/.ferry"
        assert_one_error_line
        assert_file_has_content "$TEST_TMP/err" "refus"
        [ -z "$(ls -A .)" ] || fatal "hostile manifest $i left files in the pull's directory: $(ls -A .)"
        assert_not_exists "$TEST_TMP/home$i/a/evil"
        rc=0
        python3 "$FERRY_SOURCE_DIR/templates/ferry-store" fetch --bucket "$B" --dir "$TEST_TMP/inst/b" \
            --endpoint-url "$MOTO_URL" --region "$TEST_REGION" --manifest "$key" >/dev/null 2>"$TEST_TMP/err" || rc=$?
        assert_eq "$rc" 4 "the instance's script on hostile manifest $i"
        assert_file_has_content "$TEST_TMP/err" "ferry-store: refused"
        assert_not_exists "$TEST_TMP/inst/evil"
        assert_not_exists "$TEST_TMP/inst/b/sub/f"
        cd "$TEST_TMP/wf"
    done
    assert_not_exists "$TEST_TMP/evil"
    ok "hostile manifests (.., an absolute path, links leading out, a write through a symlink): refused on both sides, nothing written"
    expect_exit 0 ferry teardown --yes --force
fi

done_testing
