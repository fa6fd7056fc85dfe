#!/usr/bin/env bash
# push and run --via s3 (the store, store.h): the files go into the store in the deployment's bucket
# in moto, and the remote (a loopback sshd whose sessions reach the same moto) fetches them from there.
# What moto saw is checked with the real aws CLI, not with ferry's word.
source "$(dirname "$0")/libtest.sh"
source "$(dirname "$0")/lib-remote.sh"

TEST_REGION=us-east-1 # the one AWS test in us-east-1, where S3 takes no location
moto_start
# The remote's sessions get the same aws and credentials the instance's profile would give.
aws_dir=$(dirname "$(command -v aws)")
SSHD_EXTRA_CONFIG="SetEnv PATH=$aws_dir:/usr/local/bin:/usr/bin:/bin AWS_CONFIG_FILE=$AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE=$AWS_SHARED_CREDENTIALS_FILE AWS_DEFAULT_REGION=$TEST_REGION PYENV_VERSION=${PYENV_VERSION:-}"
export SSHD_EXTRA_CONFIG
sshd_start
remote_setup_host
R="$TEST_TMP/remote"
remote_example_workflow "$TEST_TMP/wf"
cd "$TEST_TMP/wf"

# Without a bucket in the state, --via s3 is a usage error.
expect_exit 2 ferry push "${REMOTE_OPTS[@]}" --remote-dir "$R" --via s3 results/summary.tsv
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "needs the deployment's bucket"
expect_exit 2 ferry push "${REMOTE_OPTS[@]}" --remote-dir "$R" --via carrier-pigeon results/summary.tsv
assert_one_error_line
ok "--via s3 without a bucket, or an unknown --via: usage errors"

expect_exit 0 ferry bucket --bucket ferry-via-s3-test
expect_exit 0 ferry push "${REMOTE_OPTS[@]}" --remote-dir "$R" --via s3 results/summary.tsv
assert_file_has_content "$TEST_TMP/out" "^pushed 4 of 4 files .* through s3://ferry-via-s3-test"
for f in Snakefile data/alpha.txt data/beta.txt data/gamma.txt; do
    cmp "$f" "$R/$f" || fatal "$f did not arrive through the bucket"
done
grep -q 'PUT /ferry-via-s3-test/ferry-store/packs/' "$TEST_TMP/moto.log" || fatal "moto saw no upload to the store"
grep -q 'GET /ferry-via-s3-test/ferry-store/packs/' "$TEST_TMP/moto.log" || fatal "moto saw no download from the store"
n=$(awsm s3api list-objects-v2 --bucket ferry-via-s3-test --prefix ferry-store/manifests/ | jget 'len(j.get("Contents", []))')
assert_eq "$n" 1 "manifests in the store"
ok "push --via s3: stored in the bucket, fetched by the remote's aws"

expect_exit 0 ferry run "${REMOTE_OPTS[@]}" --remote-dir "$R" --via s3 --cores 1 results/summary.tsv
assert_file_has_content "$TEST_TMP/err" "pushed 0 of 4 files"
assert_file_exists results/summary.tsv
cmp results/summary.tsv "$R/results/summary.tsv" || fatal "the pulled summary differs"
ok "run --via s3: an unchanged push sends nothing, the run's outputs come back over ssh"

# A remote without aws (a second sshd whose sessions have no aws on PATH): the error says what is
# missing.
mkdir -p "$TEST_TMP/noaws-bin"
for t in sh mkdir tar rm zstd gzip cat test mv; do ln -sf "$(command -v $t)" "$TEST_TMP/noaws-bin/"; done
ln -sf "$(python3 -c 'import sys; print(sys.executable)')" "$TEST_TMP/noaws-bin/python3"
SSHD_EXTRA_CONFIG="SetEnv PATH=$TEST_TMP/noaws-bin"
rm -f "$TEST_TMP/sshd/host_key" "$TEST_TMP/sshd/host_key.pub" "$TEST_TMP/id_ferry" "$TEST_TMP/id_ferry.pub"
sshd_start
remote_setup_host
echo "more words" >>data/alpha.txt
expect_exit 1 ferry push "${REMOTE_OPTS[@]}" --remote-dir "$R" --via s3 results/summary.tsv
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" "(python3|aws) does not run on the remote"
ok "a remote that cannot fetch: one clear line"

expect_exit 0 ferry teardown --yes --force
done_testing
