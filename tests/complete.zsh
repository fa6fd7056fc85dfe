# complete.zsh FPATH_DIR: TAB in a real interactive zsh (on a pty, through zpty), with compinit loading
# completion functions from FPATH_DIR by their #compdef line. Reads lines on stdin: "!CMD" runs CMD in
# that shell (cd, export...); any other line is typed and completed at its end. For each of those it
# prints "== LINE", then every word the completion offers (what the completion functions hand to
# compadd that matches the line, sorted), one per line.
zmodload zsh/zpty || exit 3
dir=$1
capture=$(mktemp "${TMPDIR:-/tmp}/ferry-zsh-capture.XXXXXX") || exit 3
trap 'rm -f $capture' EXIT

zpty z zsh -f -i || exit 3
# Runs a command and reads until its marker and then the next prompt: keys typed before the line
# editor is back would meet the terminal's own line editing (^U kills the line there). The shell's
# echo of a command line is not its output: the marker is spelled apart in the line.
await() {
  zpty -w z "print -r -- \${:-$1}$2"
  zpty -r z out "*$1$2*ferry-test-prompt> " || { print -u2 "complete.zsh: the zsh on the pty is gone"; exit 3; }
}
zpty -w z "PS1='ferry-test-prompt> ' RPS1=''; fpath=(${(q)dir} \$fpath); autoload -Uz compinit && compinit -u -D"
# Offers are captured where completion functions add them, matched against the line as compadd
# matches them (-O), and not added, so that no listing or menu gets in the way. Calls that only
# query (-O, -A, -D) go to the builtin.
zpty -w z 'compadd() {
  if (( ${@[(I)-[OAD]*]} )); then builtin compadd "$@"; return; fi
  local -a __ferry_test_offers
  builtin compadd -O __ferry_test_offers "$@"
  (( $#__ferry_test_offers )) && print -rl -- $__ferry_test_offers >>'${(q)capture}'
  (( $#__ferry_test_offers ))
}'
await RE ADY
while IFS= read -r line; do
  if [[ $line == '!'* ]]; then
    zpty -w z "${line#!}"
    await DO NE
    continue
  fi
  : >$capture
  zpty -w -n z "$line"$'\t'
  zpty -w -n z $'\C-u'
  await DO NE
  print -r -- "== $line"
  sort -u $capture
done
zpty -w z exit
zpty -d z
