# bash completion for ferry(1). Commands, options and option values come from ferry itself (`ferry --help`
# and `ferry COMMAND --help-all`, asked once per shell), so this file never lists them; deployment names
# come from the state dir, targets from `snakemake --list` and the file system.

# The commands, from the table ferry prints.
_ferry_commands() {
    "$1" --help 2>/dev/null | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p'
}

# "OPTION[=METAVAR]" lines for a command, from its --help-all (cached for the session).
declare -gA _ferry_options_cache
_ferry_options() {
    local key="$1 $2"
    if [[ -z ${_ferry_options_cache[$key]+set} ]]; then
        _ferry_options_cache[$key]=$("$1" "$2" --help-all 2>/dev/null |
            sed -n 's/^  \(-[a-zA-Z0-9], \)\{0,1\}\(--[a-z0-9-]*\(=[^ ]*\)\{0,1\}\).*/\2/p')
    fi
    printf '%s\n' "${_ferry_options_cache[$key]}"
}

# Rule names of the workflow in the current directory (cached per directory for the session).
declare -gA _ferry_rules_cache
_ferry_rules() {
    local dir=$PWD
    [[ -f Snakefile || -f workflow/Snakefile || -f snakefile || -f workflow/snakefile ]] || return 0
    type -P snakemake >/dev/null || return 0
    if [[ -z ${_ferry_rules_cache[$dir]+set} ]]; then
        _ferry_rules_cache[$dir]=$(snakemake --list 2>/dev/null | sed 's/^[[:space:]]*//; s/[[:space:]].*//' |
            grep -E '^[A-Za-z_][A-Za-z0-9_]*$')
    fi
    printf '%s\n' "${_ferry_rules_cache[$dir]}"
}

# The deployment recorded in the state dir (--state-dir on the line, FERRY_STATE_DIR, or .ferry).
_ferry_names() {
    local dir=${FERRY_STATE_DIR:-.ferry} i
    for ((i = 1; i < ${#words[@]} - 1; i++)); do
        [[ ${words[i]} == --state-dir ]] && dir=${words[i + 1]}
        [[ ${words[i]} == --state-dir=* ]] && dir=${words[i]#--state-dir=}
    done
    [[ -r $dir/state.json ]] || return 0
    sed -n 's/^  "name": "\([A-Za-z0-9-]*\)".*/\1/p' "$dir/state.json"
}

_ferry() {
    local cur prev words cword split
    _init_completion -s -n = || return

    local ferry=${words[0]} cmd="" i
    for ((i = 1; i < cword; i++)); do
        if [[ ${words[i]} != -* ]]; then
            cmd=${words[i]}
            break
        fi
    done

    if [[ -z $cmd ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(_ferry_commands "$ferry") help --help --version" -- "$cur")
        return
    fi
    if [[ $cmd == help ]]; then
        ((cword == i + 1)) && mapfile -t COMPREPLY < <(compgen -W "$(_ferry_commands "$ferry")" -- "$cur")
        return
    fi

    # After --, the words belong to snakemake or to the remote command.
    for ((i = 1; i < cword; i++)); do
        [[ ${words[i]} == -- ]] && { _filedir; return; }
    done

    local opts
    opts=$(_ferry_options "$ferry" "$cmd")

    # The value of an option: its metavar says what it takes.
    if [[ $split == true || $prev == --* ]]; then
        local spec metavar
        spec=$(grep -m1 -E -- "^$prev(=|\$)" <<<"$opts") || spec=""
        if [[ $spec == *=* ]]; then
            metavar=${spec#*=}
            case $metavar in
            *'|'*) mapfile -t COMPREPLY < <(compgen -W "${metavar//|/ }" -- "$cur") ;;
            NAME)
                if [[ $prev == --name ]]; then
                    mapfile -t COMPREPLY < <(compgen -W "$(_ferry_names)" -- "$cur")
                fi
                ;;
            DIR) _filedir -d ;;
            FILE) _filedir ;;
            *HOST*) _known_hosts_real -a -- "$cur" ;;
            esac
            return
        elif [[ $split == true ]]; then
            return
        fi
    fi

    if [[ $cur == -* ]]; then
        mapfile -t COMPREPLY < <(compgen -W "$(sed 's/=.*/=/' <<<"$opts")" -- "$cur")
        [[ ${COMPREPLY[*]} == *= ]] && compopt -o nospace
        return
    fi

    # Targets: rule names and files, for the commands whose usage names a TARGET.
    if "$ferry" "$cmd" --help 2>/dev/null | grep -qm1 'TARGET'; then
        mapfile -t COMPREPLY < <(compgen -W "$(_ferry_rules)" -- "$cur")
        _filedir
    fi
}
complete -F _ferry ferry
