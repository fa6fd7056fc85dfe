#!/usr/bin/env bash
# The region and the deployment name as users set them: the region only in the AWS config file
# (eu-central-1, as `aws configure` writes it), a deployment named once at bootstrap and used without
# --name afterwards, a region that differs from the deployment's, no region at all, and a run whose
# --then races a teardown (the state is only ever written under the lock).
source "$(dirname "$0")/libtest.sh"
source "$(dirname "$0")/lib-lifecycle.sh"
source "$(dirname "$0")/lib-remote.sh"
export FERRY_POLL_MS=50
TEST_REGION=eu-central-1
moto_start
# The instance's own aws (its role, on a real instance) reaches the same moto: with a bucket and a
# role, a run's inputs go through the store.
SSHD_EXTRA_CONFIG="SetEnv PATH=$(dirname "$(command -v aws)"):/usr/local/bin:/usr/bin:/bin AWS_CONFIG_FILE=$AWS_CONFIG_FILE AWS_SHARED_CREDENTIALS_FILE=$AWS_SHARED_CREDENTIALS_FILE PYENV_VERSION=${PYENV_VERSION:-}"
export SSHD_EXTRA_CONFIG
sshd_start
remote_example_workflow "$TEST_TMP/wf"
cd "$TEST_TMP/wf" || exit 1

assert_not_file_has_content "$AWS_CONFIG_FILE" 'us-east-1'
[ -z "${AWS_DEFAULT_REGION:-}${AWS_REGION:-}${FERRY_REGION:-}" ] || fatal "a region is set in the environment"

# --- bootstrap --name lab, the region from ~/.aws/config only -------------------------------------
expect_exit 0 ferry keypair --name lab
sshd_authorize .ferry/lab.pem
# shellcheck disable=SC2046
expect_exit 0 ferry bootstrap --name lab --cidr 203.0.113.7/32 --bucket lab-eu-bucket --iam $(sshd_ferry_opts)
assert_eq "$(awsm s3api get-bucket-location --bucket lab-eu-bucket | jget 'j["LocationConstraint"]')" \
    eu-central-1 "the bucket's location"
assert_eq "$(jget 'j["settings"]["region"]' <.ferry/state.json)" eu-central-1 "the region kept in the state"
az=$(awsm ec2 describe-instances --filters Name=tag:ferry:name,Values=lab Name=instance-state-name,Values=running |
    jget 'j["Reservations"][0]["Instances"][0]["Placement"]["AvailabilityZone"]')
case "$az" in eu-central-1*) ;; *) fatal "instance in zone $az, not in eu-central-1" ;; esac
ok "bootstrap --bucket --iam in eu-central-1, the region only in the AWS config file"

# --- every later command knows the deployment from the state dir -----------------------------------
expect_exit 0 ferry status
assert_file_has_content "$TEST_TMP/out" '^deployment lab in \.ferry, region eu-central-1'
assert_not_file_has_content "$TEST_TMP/out" -e '--name'
expect_exit 0 ferry ssh -- echo hello from lab
assert_file_has_content "$TEST_TMP/out" '^hello from lab$'
expect_exit 0 ferry run --remote-dir "$TEST_TMP/remote" --cores 1 results/summary.tsv
assert_file_exists results/summary.tsv
expect_exit 0 ferry ls
assert_file_has_content "$TEST_TMP/out" 'to remove it all: ferry teardown$'
ok "status, ssh, run and ls without --name use the state dir's deployment"

expect_exit 1 ferry status --name other
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" 'belongs to deployment "lab", not "other"'
ok "a --name that is not the state dir's deployment is one clear error"

# --- a region other than the deployment's is an error naming both ----------------------------------
expect_exit 1 env AWS_DEFAULT_REGION=eu-west-1 "$FERRY" status
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" 'in region eu-central-1, but the region here is eu-west-1 \(from AWS_DEFAULT_REGION\)'
expect_exit 1 ferry stop --region us-east-2
assert_file_has_content "$TEST_TMP/err" 'eu-central-1.*us-east-2 \(from the command line\)'
ok "a region other than the deployment's names both"

# --- the state is written under the lock: run --then terminate races a teardown --------------------
# The job waits for a go file, so the teardown surely finishes while the run is still going: the
# run's --then then finds the deployment gone, and must not write back what it read at its start.
cat >>Snakefile <<'SMK'

rule slow:
    output: "slow.txt"
    shell: "while [ ! -e {config[go]:q} ]; do sleep 0.2; done; echo done > {output:q}"
SMK
on_exit "touch '$TEST_TMP/go'" # a failed check must not leave the job waiting
# The run's --then terminate is its agent's (a role and a bucket): it ends with the test.
on_exit "for p in '$TEST_TMP/remote'/.ferry/runs/*/agent.pid; do kill -KILL \"\$(cat \"\$p\")\"; done"
ferry run --remote-dir "$TEST_TMP/remote" --cores 1 --then terminate slow.txt -- --config "go=$TEST_TMP/go" \
    >"$TEST_TMP/run.out" 2>"$TEST_TMP/run.err" &
run_pid=$!
# This test's job: other tests' gated jobs (run side by side) wait on other files.
job="while \\[ ! -e .*$TEST_TMP/go"
for _ in $(seq 1 300); do
    pgrep -f "$job" >/dev/null && break
    sleep 0.1
done
pgrep -f "$job" >/dev/null || { cat "$TEST_TMP/run.err" >&2; fatal "the slow job did not start"; }
expect_exit 0 ferry teardown --yes --force # the bucket holds the store
assert_eq "$(tagged_leftovers lab)" "" "tagged resources after teardown"
touch "$TEST_TMP/go"
rc=0
wait "$run_pid" || rc=$?
sed 's/^/# run: /' "$TEST_TMP/run.err" >&2
assert_file_exists slow.txt
if [ -e .ferry/state.json ]; then
    assert_eq "$(jget 'list(j["resources"])' <.ferry/state.json)" "[]" "resources in the state after the race (run exit $rc)"
fi
assert_eq "$(tagged_leftovers lab)" "" "tagged resources after the race"
ok "run --then terminate after a teardown brings back nothing the teardown removed"

# --- no region anywhere ------------------------------------------------------------------------------
mkdir "$TEST_TMP/fresh" && cd "$TEST_TMP/fresh"
printf '[default]\noutput = json\n' >"$TEST_TMP/aws/config-noregion"
expect_exit 1 env AWS_CONFIG_FILE="$TEST_TMP/aws/config-noregion" "$FERRY" bootstrap --cidr 203.0.113.7/32 --no-wait-ssh
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" '^error: no AWS region: run aws configure or pass --region$'
assert_not_exists .ferry
ok "no region anywhere: one line saying what to do, nothing made"

done_testing
