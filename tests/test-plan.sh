#!/usr/bin/env bash
# plan and bootstrap --for against moto (describe-instance-types, describe-spot-price-history, budgets)
# and the real snakemake: what the jobs ask for, only types that fit, in the order the plan promises
# (checked against moto's own list, computed here), the Pricing API's absence in moto as "unknown", the
# type in the run-instances command, a target nothing fits creating nothing, the cost shown by status and
# ls, and the --budget safety net made, listed and torn down.
source "$(dirname "$0")/libtest.sh"
source "$(dirname "$0")/lib-lifecycle.sh"
export FERRY_POLL_MS=50
moto_start # in eu-central-1, set only in the AWS config file
cd "$TEST_TMP" || exit 1

mkdir -p wf/data && cd wf || exit 1
head -c 300000 /dev/zero >data/reads.fq
cat >Snakefile <<'EOF'
rule big:
    input: "data/reads.fq"
    output: "big.txt"
    threads: 16
    resources: mem_mb=120000, runtime=90
    shell: "cp {input} {output}"

rule huge:
    output: "huge.txt"
    resources: mem="100TB"
    shell: "touch {output}"

rule gpu:
    output: "gpu.txt"
    threads: 4
    resources: nvidia_gpu=1, mem_mb=8000
    shell: "touch {output}"

rule disk:
    input: "data/reads.fq"
    output: "disk.txt"
    resources: disk_mb=50000, mem="4G"
    shell: "cp {input} {output}"
EOF

# moto's instance types, and the fitting ones in the plan's order, computed here from the raw answer.
awsm ec2 describe-instance-types >"$TEST_TMP/types.json"
expected_order() { # THREADS MEMORY_MIB ARCH USAGE GPUS
    python3 - "$TEST_TMP/types.json" "$@" <<'PY'
import json, sys
path, threads, mib, arch, usage, gpus = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5], int(sys.argv[6])
accel = ("FpgaInfo", "InferenceAcceleratorInfo", "NeuronInfo", "MediaAcceleratorInfo")
def family(name):
    return "mcr".index(name[0]) if name[0] in "mcr" and name[1].isdigit() else 3
fit = []
for t in json.load(open(path))["InstanceTypes"]:
    gpu_list = t.get("GpuInfo", {}).get("Gpus", []) if t.get("GpuInfo") else []
    n_gpus = sum(g.get("Count", 0) for g in gpu_list)
    nvidia = any(g.get("Manufacturer") == "NVIDIA" for g in gpu_list)
    if (t["CurrentGeneration"] and not t["BareMetal"] and usage in t["SupportedUsageClasses"]
            and arch in t["ProcessorInfo"]["SupportedArchitectures"]
            and not any(t.get(k) for k in accel)
            and (not t.get("GpuInfo") if gpus == 0 else n_gpus >= gpus and nvidia)
            and t["VCpuInfo"]["DefaultVCpus"] >= threads and t["MemoryInfo"]["SizeInMiB"] >= mib):
        fit.append(t)
fit.sort(key=lambda t: (t["VCpuInfo"]["DefaultVCpus"], t["MemoryInfo"]["SizeInMiB"], family(t["InstanceType"]), t["InstanceType"]))
print(json.dumps([t["InstanceType"] for t in fit]))
PY
}

# --- what the jobs ask for, read the same through every snakemake found ------------------------------
# Threads and every memory spelling (mem_mb, mem_mib, mem_gb, mem_gib, mem="..."; 9 refuses mem_mb="2500"),
# disk_mb and disk="...", runtime in minutes and as "2h": each rule planned alone, with each release.
mkdir -p "$TEST_TMP/needs" && cd "$TEST_TMP/needs"
cat >Snakefile <<'EOF'
rule m_mb:
    output: "m_mb"
    threads: 3
    resources: mem_mb=1500, runtime=45
    shell: "touch {output}"
rule m_mib:
    output: "m_mib"
    threads: 5
    resources: mem_mib=2048, runtime="2h"
    shell: "touch {output}"
rule m_gb:
    output: "m_gb"
    resources: mem_gb=3, disk_mb=7000
    shell: "touch {output}"
rule m_gib:
    output: "m_gib"
    resources: mem_gib=2, disk="2G"
    shell: "touch {output}"
rule m_str:
    output: "m_str"
    resources: mem="10G"
    shell: "touch {output}"
EOF
# RULE -> threads, mem_mb, disk (MB: the inputs, none here, and disk_mb) and runtime_min, as the plan should read them.
declare -A needs_want=(
    [m_mb]="3 1500 0 45" [m_mib]="5 2147 0 120" [m_gb]="1 3000 7000 0" [m_gib]="1 2147 2000 0"
    [m_str]="1 10000 0 0"
)
snakemakes_init
for i in "${!SNAKEMAKE_VERSIONS[@]}"; do
    for rule in "${!needs_want[@]}"; do
        expect_exit 0 with_snakemake "$i" ferry plan "$rule" --json
        got=$(jget '"%s %s %s %s" % (j["needs"]["threads"], j["needs"]["mem_mb"], j["needs"]["disk_bytes"] // 1000000, j["needs"]["runtime_min"] or 0)' <"$TEST_TMP/out")
        assert_eq "$got" "${needs_want[$rule]}" "snakemake ${SNAKEMAKE_VERSIONS[$i]}, rule $rule: threads mem_mb disk_MB runtime_min"
    done
    ok "snakemake ${SNAKEMAKE_VERSIONS[$i]}: threads, every memory spelling, disk and runtime read from the job records"
done
cd "$TEST_TMP/wf"

# --- plan --json: only types that fit, the cheapest (here: the smallest) first -------------------------
expect_exit 0 ferry plan big.txt --json
cp "$TEST_TMP/out" "$TEST_TMP/plan.json"
plan() { jget "$1" <"$TEST_TMP/plan.json"; }
assert_eq "$(plan 'j["needs"]["threads"]')" 16 "threads (the dry run does not cap them at 1)"
assert_eq "$(plan 'j["needs"]["mem_mb"]')" 120000 "mem_mb"
assert_eq "$(plan 'j["needs"]["memory_mib"]')" 132000 "memory with 10 % headroom"
assert_eq "$(plan 'j["needs"]["runtime_min"]')" 90 "runtime"
assert_eq "$(plan 'j["needs"]["input_bytes"]')" 300000 "inputs' bytes"
assert_eq "$(plan 'j["region"]')" eu-central-1 "region from the AWS config file"
assert_eq "$(plan 'len(j["instance_types"])')" 5 "five types listed"
assert_eq "$(plan 'all(t["vcpus"] >= 16 and t["memory_mib"] >= 132000 for t in j["instance_types"])')" True \
    "every listed type has 16 vCPUs and 132,000 MiB"
want=$(expected_order 16 132000 x86_64 on-demand 0)
assert_eq "$(plan 'j["fitting"]')" "$(echo "$want" | jget 'len(j)')" "number of fitting types"
assert_eq "$(plan '[t["type"] for t in j["instance_types"]]')" "$(echo "$want" | jget 'j[:5]')" \
    "the listed types are moto's cheapest fitting ones, in order"
assert_eq "$(plan 'j["chosen"]["type"]')" "$(echo "$want" | jget 'j[0]')" "the chosen type"
chosen_big=$(plan 'j["chosen"]["type"]')
ok "plan --json lists only fitting types, and none that fits comes before the chosen one"

# moto has no Pricing API: the on-demand prices are unknown, never made up.
assert_eq "$(plan 'j["sources"]["on_demand"]["known"]')" False "on-demand source"
assert_eq "$(plan 'set(t["on_demand_usd_per_hour"] for t in j["instance_types"])')" "{None}" "on-demand prices"
assert_eq "$(plan 'set(t["at_most_usd"] for t in j["instance_types"])')" "{None}" "worst case"
assert_eq "$(plan 'j["volume"]["usd_per_month"]')" None "volume price"
assert_eq "$(plan 'j["sources"]["spot"]["known"]')" True "spot source (moto serves the spot price history)"
assert_eq "$(plan 'j["volume"]["size_gb"]')" 30 "volume (the default floor)"
ok "without the Pricing API the prices are unknown"

# The types were kept in the state dir: a second plan does not ask for them again.
assert_file_exists "$TEST_TMP/wf/.ferry/instance-types.eu-central-1.json"
fault_op_install describe-instance-types:Unused:0
expect_exit 0 ferry plan big.txt
fault_op_remove
assert_eq "$(fault_op_count describe-instance-types)" 0 "describe-instance-types calls with a fresh cache"
assert_file_has_content "$TEST_TMP/out" "^  $(echo "$want" | jget 'j[0]' | sed 's/\./\\./g') +16 "
assert_file_has_content "$TEST_TMP/out" 'unknown'
assert_file_has_content "$TEST_TMP/out" '^  threads +16 '
assert_file_has_content "$TEST_TMP/out" '^  memory +120000 MB asked; a type needs 132000 MiB'
assert_file_has_content "$TEST_TMP/out" '^at most unknown if '
ok "the instance types are kept a day in the state dir; the text shows the table"

# --- disk from disk_mb, mem="4G", --spot, --arch, GPUs ------------------------------------------------
expect_exit 0 ferry plan disk.txt --json
cp "$TEST_TMP/out" "$TEST_TMP/plan.json"
assert_eq "$(plan 'j["needs"]["mem_mb"]')" 4000 'mem="4G"'
assert_eq "$(plan 'j["needs"]["disk_bytes"]')" $((300000 + 50000 * 1000000)) "inputs + disk_mb"
assert_eq "$(plan 'j["volume"]["size_gb"]')" 61 "volume: 50.3 GB of disk and 10 GB for the system"
want=$(expected_order 1 4400 x86_64 on-demand 0)
assert_eq "$(plan '[t["type"] for t in j["instance_types"]]')" "$(echo "$want" | jget 'j[:5]')" "types for disk.txt"
chosen_disk=$(plan 'j["chosen"]["type"]')
expect_exit 0 ferry plan disk.txt --json --spot --arch arm64
cp "$TEST_TMP/out" "$TEST_TMP/plan.json"
assert_eq "$(plan '[j["usage_class"], j["arch"]]')" '["spot", "arm64"]' "usage class and architecture"
want=$(expected_order 1 4400 arm64 spot 0)
assert_eq "$(plan '[t["type"] for t in j["instance_types"]]')" "$(echo "$want" | jget 'j[:5]')" \
    "arm64 spot types (spot prices tie in moto: the smallest first)"
expect_exit 0 ferry plan gpu.txt --json
cp "$TEST_TMP/out" "$TEST_TMP/plan.json"
want=$(expected_order 4 8800 x86_64 on-demand 1)
assert_eq "$(plan '[t["type"] for t in j["instance_types"]]')" "$(echo "$want" | jget 'j[:5]')" "GPU types"
assert_eq "$(plan 'all(t["gpus"] >= 1 for t in j["instance_types"])')" True "each has a GPU"
expect_exit 2 ferry plan disk.txt --arch sparc
assert_one_error_line
ok "disk_mb sizes the volume; --spot, --arch arm64 and a GPU rule pick from the right types"

# --- bootstrap --for: the plan's type in run-instances ---------------------------------------------------
chosen=$chosen_big
expect_exit 0 ferry bootstrap --for big.txt --dry-run --cidr 203.0.113.7/32
assert_file_has_content "$TEST_TMP/out" "^launching $chosen \\(16 vCPUs, .*\\) with a 30 GB gp3 volume: unknown/h on demand.*at most unknown if it runs until the 12 h lifetime cap"
assert_file_has_content "$TEST_TMP/out" "^would run: aws ec2 run-instances .*--instance-type $chosen "
assert_file_has_content "$TEST_TMP/out" '"VolumeSize":30'
assert_not_exists .ferry/state.json
expect_exit 0 ferry bootstrap --for disk.txt --dry-run --cidr 203.0.113.7/32 --instance-type m5.large \
    --volume-size 100
assert_file_has_content "$TEST_TMP/out" '^launching m5\.large \(2 vCPUs, 8 GiB\) with a 100 GB gp3 volume'
assert_file_has_content "$TEST_TMP/out" '^would run: aws ec2 run-instances .*--instance-type m5.large '
assert_file_has_content "$TEST_TMP/out" '"VolumeSize":100'
ok "bootstrap --for --dry-run launches the plan's type and volume; --instance-type and --volume-size win"

# --- a target nothing fits ------------------------------------------------------------------------------
expect_exit 1 ferry plan huge.txt
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" '^error: no x86_64 on-demand instance type in eu-central-1 has 1 vCPU and [0-9]+ MiB: the largest there is [a-z0-9.-]+ \('
expect_exit 1 ferry bootstrap --for huge.txt --cidr 203.0.113.7/32
assert_one_error_line
assert_file_has_content "$TEST_TMP/err" 'the largest there is'
assert_not_exists .ferry/state.json
assert_not_exists .ferry/ferry.pem
assert_eq "$(tagged_leftovers ferry)" "" "what AWS holds tagged ferry:name=ferry"
ok "a target no type fits is an error naming the largest type, and nothing is created"

# --- the budget's arguments are checked before any call ---------------------------------------------
fault_op_install get-caller-identity:Unused:0 create-budget:Unused:0 describe-instance-types:Unused:0
for bad in "--budget abc" "--budget 0" "--budget 12.345" "--budget 50 --budget-email not-an-address" \
    "--budget-email me@example.org"; do
    # shellcheck disable=SC2086
    expect_exit 2 ferry bootstrap --for disk.txt --cidr 203.0.113.7/32 $bad
    assert_one_error_line
done
fault_op_remove
assert_eq "$(fault_op_count get-caller-identity)$(fault_op_count create-budget)$(fault_op_count describe-instance-types)" 000 \
    "aws calls before the usage errors"
assert_not_exists .ferry/state.json
ok "a bad --budget or --budget-email is a usage error before any aws call"

# --- a launch from the plan with a budget, and what it costs while it runs --------------------------
chosen=$chosen_disk
expect_exit 0 ferry bootstrap --for disk.txt --cidr 203.0.113.7/32 --no-wait-ssh --budget 50.00 \
    --budget-email me@example.org
assert_file_has_content "$TEST_TMP/out" "^launching $chosen "
instance=$(jget 'j["resources"]["instance"]["id"]' <.ferry/state.json)
assert_eq "$(awsm ec2 describe-instances --instance-ids "$instance" --query 'Reservations[0].Instances[0].InstanceType' --output text)" \
    "$chosen" "the launched type, as AWS says"
assert_eq "$(awsm ec2 describe-volumes --filters "Name=attachment.instance-id,Values=$instance" --query 'Volumes[0].Size' --output text)" \
    61 "the volume, as AWS says"
ok "bootstrap --for launches the plan's type with the plan's volume"

account=$(awsm sts get-caller-identity --query Account --output text)
assert_eq "$(awsm budgets describe-budget --account-id "$account" --budget-name ferry | jget '[j["Budget"][k] for k in ("BudgetType", "TimeUnit")] + [j["Budget"]["BudgetLimit"]["Amount"]]')" \
    '["COST", "MONTHLY", "50"]' "the budget, as AWS says"
assert_eq "$(awsm budgets describe-notifications-for-budget --account-id "$account" --budget-name ferry | jget '[(n["NotificationType"], n["Threshold"], n["ThresholdType"]) for n in j["Notifications"]]')" \
    '[["ACTUAL", 80, "PERCENTAGE"]]' "the budget's alert"
assert_eq "$(jget 'j["resources"]["budget"]["id"]' <.ferry/state.json)" ferry "budget in the state"
assert_file_has_content "$TEST_TMP/out" '^budget +ferry: \$50 a month, an alert at 80 % of actual spend to me@example\.org$'
expect_exit 0 ferry bootstrap --cidr 203.0.113.7/32 --no-wait-ssh --budget 50
assert_file_has_content "$TEST_TMP/out" '^created +nothing new'
assert_eq "$(awsm budgets describe-budgets --account-id "$account" | jget '[b["BudgetName"] for b in j["Budgets"]]')" '["ferry"]' "budgets after a re-run"
ok "--budget makes a monthly cost budget with an alert at 80 % of actual spend, recorded; a re-run makes none"

expect_exit 0 ferry status
assert_file_has_content "$TEST_TMP/out" '^  cost +up [0-9]+m: unknown so far \(no on-demand price: .*\); 61 GB gp3 volume: unknown a month$'
expect_exit 0 ferry status --json
assert_eq "$(jget 'j["cost"]["hourly_usd"]' <"$TEST_TMP/out")" None "hourly price without the Pricing API"
assert_eq "$(jget 'j["cost"]["uptime_s"] >= 0' <"$TEST_TMP/out")" True "uptime"
assert_eq "$(jget 'j["cost"]["volume_gb"]' <"$TEST_TMP/out")" 61 "volume size"
expect_exit 0 ferry ls
assert_file_has_content "$TEST_TMP/out" "^cost of instance $instance: up [0-9]+m: unknown so far"
assert_file_has_content "$TEST_TMP/out" '^cost of volume vol-[0-9a-f]+: 61 GB: unknown a month as gp3$'
assert_file_has_content "$TEST_TMP/out" '^budget +ferry +ferry +ferry +\$50/month '
ok "status and ls show the uptime and cost so far (unknown without the Pricing API) and the volume"

expect_exit 0 ferry teardown --yes
assert_file_has_content "$TEST_TMP/out" '^  delete budget ferry '
assert_file_has_content "$TEST_TMP/out" '^deleted budget ferry$'
assert_eq "$(tagged_leftovers ferry)" "" "what AWS holds tagged ferry:name=ferry after teardown"
assert_eq "$(awsm budgets describe-budgets --account-id "$account" | jget '[b["BudgetName"] for b in j.get("Budgets", [])]')" '[]' "budgets after teardown"
assert_not_exists .ferry/state.json
ok "teardown deletes the budget with the rest"

done_testing
