# ferry run agent: carries out the run's --then on the instance itself when its snakemake ends,
# whether the laptop follows, sleeps, or was never there. ferry puts the settings above this line
# (each value shell-quoted) and run.sh starts it in the run's directory, in a session of its own;
# when snakemake ends, run.sh starts another, which takes over if the first is gone (killed). Its
# record is the file on-end, one line an event: "EPOCH WORD DETAIL" (lost, waiting, released,
# tagged, retry, failed, stopping, kept).
export AWS_PAGER=

note() { echo "$(date +%s) $*" >>on-end; }
nap() { sleep "$1" 2>/dev/null || sleep 1; }

# Whether PID is a live agent of this run. kill -0 alone is not enough: a killed agent stays a zombie
# until whoever inherited it reaps it (a loaded init takes seconds), and its pid may be reused since.
# A zombie has no working directory and an empty command line.
agent_live() {
    test -n "$1" && kill -0 "$1" 2>/dev/null || return 1
    test -d /proc/self || return 0
    test "/proc/$1/cwd" -ef . && tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -q 'agent\.sh'
}

# One agent watches: run.sh starts another when snakemake ends, which leaves at once if the first is live.
other=$(cat agent.pid 2>/dev/null)
if test "$other" != $$ && agent_live "$other"; then
    exit 0
fi
echo $$ >"agent.pid.$$" && mv "agent.pid.$$" agent.pid

# One aws call with the instance's own credentials, in the run's region (and endpoint, when the
# laptop named one). A failure (a throttle, a broken network, a refusal) is tried again, the delay
# doubling up to a minute: TRIES times, or with TRIES 0 until it is accepted (the lifetime cap stays
# the last resort), the tries past FERRY_AWS_TRIES going unrecorded.
aws_call() { # WHAT TRIES ARGS...
    what=$1
    tries=$2
    shift 2
    delay=1
    n=0
    while :; do
        n=$((n + 1))
        if test -n "$FERRY_ENDPOINT_URL"; then
            out=$(aws "$@" --endpoint-url "$FERRY_ENDPOINT_URL" --region "$FERRY_REGION" --output json 2>&1 </dev/null)
        else
            out=$(aws "$@" --region "$FERRY_REGION" --output json 2>&1 </dev/null)
        fi && return 0
        last=$(printf '%s\n' "$out" | grep -v '^ *$' | tail -n 1)
        if test "$tries" -gt 0 && test "$n" -ge "$tries"; then
            note failed "$what after $n tries: $last"
            return 1
        fi
        if test "$n" -lt "$FERRY_AWS_TRIES"; then
            note retry "$what (try $n): $last"
        elif test "$n" = "$FERRY_AWS_TRIES"; then
            note retry "$what (try $n): $last; trying again every $delay s from now on"
        fi
        nap "$delay"
        delay=$((delay * 2))
        test "$delay" -le 60 || delay=60
    done
}

# --- 1. snakemake's end ----------------------------------------------------------------------------
i=0
while ! test -s pid && test $i -lt 600; do
    i=$((i + 1))
    nap 0.1
done
wrapper=$(cat pid 2>/dev/null)
while ! test -s exit; do
    if test -z "$wrapper" || ! kill -0 "$wrapper" 2>/dev/null; then
        # run.sh is gone without writing snakemake's status (killed): what is left of its group
        # finishes first, then the run counts as ended.
        while test -n "$wrapper" && kill -0 -- "-$wrapper" 2>/dev/null; do nap 1; done
        if ! test -s exit; then
            test -s ended || date +%s >ended
            note lost "run.sh ended without snakemake's exit status"
        fi
        break
    fi
    nap 1
done

# --- 2. one agent acts, once ---------------------------------------------------------------------
# The lock is a symlink to its holder's pid, made in one step (a directory and a pid file in it left
# a moment where the holder was unknown). A holder that is not a live agent (killed) is replaced.
if ! ln -s "$$" on-end.lock 2>/dev/null; then
    if agent_live "$(readlink on-end.lock 2>/dev/null)"; then
        exit 0
    fi
    rm -f on-end.lock
    ln -s "$$" on-end.lock 2>/dev/null || exit 0
fi
if grep -qE '^[0-9]+ (stopping|kept) ' on-end 2>/dev/null; then
    exit 0
fi

# --- 3. a laptop that follows the run pulls first ------------------------------------------------
# While ferry follows, it keeps the file hold fresh; it removes it once the outputs are home. A hold
# left by a laptop that went away counts for FERRY_HOLD_S seconds after its last refresh.
if test -e hold; then
    note waiting "for the laptop following the run to pull the outputs"
    while test -e hold; do
        age=$(($(date +%s) - $(stat -c %Y hold 2>/dev/null || echo 0)))
        if test "$age" -gt "$FERRY_HOLD_S"; then
            note released "the laptop's hold was not refreshed for $age s"
            break
        fi
        nap 0.5
    done
    test -e hold || note released "by the laptop, the outputs pulled"
fi

# --- 4. --then -----------------------------------------------------------------------------------
status=$(cat exit 2>/dev/null)
ended=$(cat ended 2>/dev/null)
case "$FERRY_THEN" in
stop)
    # The instance's tag tells the story while it is stopped (ferry status reads it from AWS).
    story="$FERRY_RUN_ID exit=${status:-none} ended=${ended:-0} then=stop"
    if aws_call "tagging $FERRY_INSTANCE_ID" "$FERRY_AWS_TRIES" ec2 create-tags --resources "$FERRY_INSTANCE_ID" \
        --tags "[{\"Key\": \"ferry:run\", \"Value\": \"$story\"}]"; then
        note tagged "ferry:run=$story"
    fi
    aws_call "stopping $FERRY_INSTANCE_ID" 0 ec2 stop-instances --instance-ids "$FERRY_INSTANCE_ID"
    note stopping "$FERRY_INSTANCE_ID: stop-instances accepted"
    ;;
*)
    note kept "--then $FERRY_THEN: nothing to do on the instance"
    ;;
esac
