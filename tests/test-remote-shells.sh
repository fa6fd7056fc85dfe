#!/bin/bash
# Any login shell: a real user whose login shell is tcsh, on the loopback sshd, takes ferry's ssh,
# push, run and pull (sshd runs every remote command through the login shell).
# shellcheck source=tests/libtest.sh
source "$(dirname "$0")/libtest.sh"
# shellcheck source=tests/lib-remote.sh
source "$(dirname "$0")/lib-remote.sh"

PATH=$(path_without_aws)
export PATH
[ "$(id -u)" -eq 0 ] || { echo "ok 1 # SKIP creating a user needs root"; echo "1..1"; exit 0; }
tcsh=$(command -v tcsh) || fatal "tcsh is not installed (scripts/deps installs it)"

sshd_start
# sshd reads authorized_keys as the user logging in.
chmod 711 "$TEST_TMP" "$TEST_TMP/sshd"
chmod 644 "$SSHD_AUTH"
TUSER="ferry-t$$"
useradd -m -s "$tcsh" "$TUSER"
# A new account is locked ("!"), which sshd refuses without PAM; "*" only rules out passwords.
usermod -p "*" "$TUSER"
on_exit "pkill -KILL -u $TUSER; userdel -r $TUSER"
ssh-keygen -q -t ed25519 -N '' -f "$TEST_TMP/id_ferry"
sshd_authorize "$TEST_TMP/id_ferry"
OPTS=(--host "$TUSER@127.0.0.1" --ssh-option "Port=$SSHD_PORT"
    --ssh-option "IdentityFile=$TEST_TMP/id_ferry" --ssh-option IdentitiesOnly=yes)

cd "$TEST_TMP"
expect_exit 0 ferry ssh "${OPTS[@]}" -- sh -c 'echo "$0"; ps -o comm= -p $PPID' probe
assert_eq "$(head -1 "$TEST_TMP/out")" "probe" "the command reached the remote"
expect_exit 0 ferry ssh "${OPTS[@]}" -- printf '%s|' 'a b' "it's" 'bang!$x' '$(touch pwned)' 'ü
x' '>&' '2>&1'
assert_eq "$(cat "$TEST_TMP/out")" "a b|it's|bang!\$x|\$(touch pwned)|ü
x|>&|2>&1|" "words through a tcsh login"
expect_exit 0 ferry ssh "${OPTS[@]}" -- sh -c 'getent passwd "$(id -un)" | cut -d: -f7'
assert_eq "$(cat "$TEST_TMP/out")" "$tcsh" "the user's login shell"
ok "ssh through a tcsh login shell: hostile words unchanged"

remote_example_workflow "$TEST_TMP/wf"
chmod -R a+rX "$TEST_TMP/wf"
cd "$TEST_TMP/wf"
echo 'a bang! and more words' >"data/beta.txt"
expect_exit 0 ferry run "${OPTS[@]}" --cores 1 results/summary.tsv
assert_file_has_content "$TEST_TMP/err" "pushed 4 of 4 files"
assert_file_has_content "$TEST_TMP/err" "pulled 4 entries"
expected=$(for s in alpha beta gamma; do printf '%s\t%s\n' "$s" "$(wc -w <"data/$s.txt")"; done)
assert_eq "$(cat results/summary.tsv)" "$expected" "pulled summary"
home=$(getent passwd "$TUSER" | cut -d: -f6)
assert_file_exists "$home/ferry/ferry/results/summary.tsv"
snakemake -n --cores 1 results/summary.tsv >"$TEST_TMP/n" 2>&1
assert_file_has_content "$TEST_TMP/n" "Nothing to be done"
ok "run through a tcsh login shell (default remote dir in its home): pushed, ran, pulled"

expect_exit 0 ferry push "${OPTS[@]}" results/summary.tsv
assert_file_has_content "$TEST_TMP/out" "^pushed 0 of 4 files"
rm -r results
expect_exit 0 ferry pull "${OPTS[@]}" results/summary.tsv
assert_file_has_content "$TEST_TMP/out" "^pulled 4 entries"
ok "push and pull through a tcsh login shell"

# A run living on the remote, started, listed, followed and cancelled through the tcsh login.
runs_gated_workflow "$TEST_TMP/gated"
chmod -R a+rX "$TEST_TMP/gated"
cd "$TEST_TMP/gated"
G="$TEST_TMP/gate"
expect_exit 0 ferry run "${OPTS[@]}" --detach --cores 1 results/slow.txt -- --config "gate=$G"
id=$(sed -n 's/^started run \([^ ]*\) on .*/\1/p' "$TEST_TMP/out")
[ -n "$id" ] || fatal "no run id"
wait_until 60 'grep -q "waiting for the gate" "$home/ferry/ferry/.ferry/runs/$id/log"'
expect_exit 0 ferry status "${OPTS[@]}"
assert_file_has_content "$TEST_TMP/out" "^  $id  running for"
touch "$G"
expect_exit 0 ferry attach "${OPTS[@]}"
assert_eq "$(cat results/slow.txt)" "gated content" "pulled output"
rm -r results
expect_exit 0 ferry run "${OPTS[@]}" --detach --cores 1 results/slow.txt -- --config "gate=$G.never"
id2=$(sed -n 's/^started run \([^ ]*\) on .*/\1/p' "$TEST_TMP/out")
wait_until 60 'grep -q "waiting for the gate" "$home/ferry/ferry/.ferry/runs/$id2/log"'
expect_exit 0 ferry cancel "${OPTS[@]}" --grace 5
assert_file_has_content "$TEST_TMP/out" "^cancelled run $id2"
if pgrep -u "$TUSER" -f snakemake >/dev/null; then fatal "a snakemake of the tcsh user is left"; fi
ok "run --detach, status, attach and cancel through a tcsh login shell"

done_testing
