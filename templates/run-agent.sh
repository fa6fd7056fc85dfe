# ferry run agent: carries out the run's --then on the instance itself when its snakemake ends,
# whether the laptop follows, sleeps, or was never there. ferry puts the settings above this line
# (each value shell-quoted) and run.sh starts it in the run's directory, in a session of its own;
# when snakemake ends, run.sh starts another, which takes over if the first is gone (killed). Its
# record is the file on-end, one line an event: "EPOCH WORD DETAIL" (lost, waiting, released,
# retry, failed, saved, instead, tagged, notified, stopping, terminating, kept, interrupted).
export AWS_PAGER=

note() { echo "$(date +%s) $*" >>on-end; }
nap() { sleep "$1" 2>/dev/null || sleep 1; }
# Until FILE is there and not empty, TRIES naps of STEP seconds at most.
wait_file() { # FILE TRIES STEP
    waited=0
    while ! test -s "$1" && test $waited -lt "$2"; do
        waited=$((waited + 1))
        nap "$3"
    done
}

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
        # Errors that another try cannot change: the instance is gone already, or the role may not.
        case $last in
        *IncorrectInstanceState* | *InvalidInstanceID* | *UnauthorizedOperation* | *AuthorizationError*)
            note failed "$what: $last"
            return 1
            ;;
        esac
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

# Stores the outputs that the run's record lists in the deployment's bucket (templates/ferry-store,
# installed by ferry, with the instance's own credentials; an output snakemake marks incomplete is
# left out) and prints the manifest's key. $1: members the manifest adds ("exit": N, ...).
save_outputs() {
    rec=$(pwd)/run.json
    n=0
    while :; do
        n=$((n + 1))
        out=$(cd ../../.. && python3 .ferry/ferry-store save --bucket "$FERRY_BUCKET" \
            --prefix "$FERRY_STORE_PREFIX" --dir . --region "$FERRY_REGION" \
            ${FERRY_ENDPOINT_URL:+--endpoint-url "$FERRY_ENDPOINT_URL"} --outputs-of "$rec" \
            --meta "{$1}" </dev/null 2>&1)
        key=$(printf '%s\n' "$out" | tail -n 1 | sed -n 's/^{"manifest": "\([^"]*\)".*/\1/p')
        if test -n "$key"; then
            echo "$key"
            return 0
        fi
        last=$(printf '%s\n' "$out" | grep -v '^ *$' | tail -n 1)
        if test "$n" -ge 3; then
            note failed "saving the outputs after $n tries: $last"
            return 1
        fi
        note retry "saving the outputs (try $n): $last"
        nap $((n * 10))
    done
}

# The instance's ferry:run tag: the run's story, read by ferry status once the instance is stopped or
# gone (optional: a failure is recorded, and the end goes on).
tag_story() {
    aws_call "tagging $FERRY_INSTANCE_ID" "$FERRY_AWS_TRIES" ec2 create-tags --resources "$FERRY_INSTANCE_ID" \
        --tags "[{\"Key\": \"ferry:run\", \"Value\": \"$1\"}]" && note tagged "ferry:run=$1"
}

# The run's one message (run --notify), published to the deployment's topic with the address as an
# attribute that the address's subscription filters on. Optional: a failure is recorded, and the
# end goes on; an agent that takes over does not send it twice.
notify() { # SUBJECT BODY
    test -n "$FERRY_NOTIFY_TOPIC" || return 0
    grep -qE '^[0-9]+ notified ' on-end 2>/dev/null && return 0
    # SNS takes a subject of less than 100 characters.
    subject=$(printf '%s' "$1" | cut -c 1-99)
    aws_call "notifying $FERRY_NOTIFY_EMAIL" "$FERRY_AWS_TRIES" sns publish --topic-arn "$FERRY_NOTIFY_TOPIC" \
        --subject "$subject" --message "$2" --message-attributes \
        "{\"$FERRY_NOTIFY_ATTRIBUTE\": {\"DataType\": \"String\", \"StringValue\": \"$FERRY_NOTIFY_EMAIL\"}}" &&
        note notified "$FERRY_NOTIFY_EMAIL: $subject"
}

# An epoch as a date for people.
when() { date -u -d "@$1" '+%Y-%m-%d %H:%M:%S UTC' 2>/dev/null || echo "$1"; }

# The two-minute notice of a spot instance (IMDSv2 spot/instance-action answers 404 until AWS
# takes the instance back): prints the notice.
spot_notice() {
    token=$(curl -sf -m 2 -X PUT -H "X-aws-ec2-metadata-token-ttl-seconds: 60" "$FERRY_IMDS/latest/api/token") &&
        curl -sf -m 2 -H "X-aws-ec2-metadata-token: $token" "$FERRY_IMDS/latest/meta-data/spot/instance-action"
}

# On the notice: snakemake stops its jobs (SIGINT, as ferry cancel sends; their outputs are marked
# incomplete), what is finished goes to the store, and the run is recorded as interrupted. The
# instance is AWS's to take: --then is not carried out.
interrupted() {
    note interrupted "spot notice: $1"
    kill -s INT -- "-$wrapper" 2>/dev/null
    wait_file exit 60 1
    status=$(cat exit 2>/dev/null)
    n=$((FERRY_INTERRUPTIONS + 1))
    saved=
    # The instance, its type and how long it ran: the interruption's cost in ferry status.
    spent="\"instance\": \"$FERRY_INSTANCE_ID\", \"instance_type\": \"$FERRY_INSTANCE_TYPE\", \"zone\": \"$FERRY_ZONE\""
    spent="$spent, \"market\": \"spot\", \"launched\": \"$FERRY_LAUNCHED\", \"interrupted_at\": $(date +%s)"
    # The recovery mails the same address.
    test -z "$FERRY_NOTIFY_EMAIL" || spent="$spent, \"notify\": \"$FERRY_NOTIFY_EMAIL\""
    if saved=$(save_outputs "\"exit\": ${status:-null}, \"interrupted\": true, \"interruptions\": $n, $spent"); then
        note saved "$saved"
    fi
    # The story for ferry status once the instance is gone.
    story="$FERRY_RUN_ID exit=${status:-none} ended=$(cat ended 2>/dev/null || date +%s) then=$FERRY_THEN interrupted=$n${saved:+ saved=$saved}"
    tag_story "$story"
    kept="The outputs it finished could not be saved."
    test -z "$saved" || kept="The outputs it finished are in the store: $saved."
    notify "ferry $FERRY_DEPLOYMENT: run $FERRY_RUN_ID interrupted" \
        "Run $FERRY_RUN_ID ($FERRY_TARGETS) was interrupted at $(when "$(date +%s)"): AWS is taking back its spot instance $FERRY_INSTANCE_ID (interruption $n).
$kept
ferry attach $FERRY_RUN_ID recovers the run on a new instance; ferry status tells the rest."
    exit 0
}

# --- 1. snakemake's end ----------------------------------------------------------------------------
wait_file pid 600 0.1
wrapper=$(cat pid 2>/dev/null)
tick=0
while ! test -s exit; do
    tick=$((tick + 1))
    if test -n "$FERRY_IMDS" && test $((tick % 5)) = 1 && notice=$(spot_notice); then
        interrupted "$notice"
    fi
    if test -z "$wrapper" || ! kill -0 "$wrapper" 2>/dev/null; then
        # run.sh is gone without writing snakemake's status (killed): what is left of its group
        # finishes first, then the run counts as ended.
        while test -n "$wrapper" && kill -s 0 -- "-$wrapper" 2>/dev/null; do nap 1; done
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
if grep -qE '^[0-9]+ (stopping|terminating|kept|interrupted) ' on-end 2>/dev/null; then
    exit 0
fi

# --- 3. a laptop that follows the run pulls first ------------------------------------------------
# While ferry follows, it keeps the file hold fresh; it removes it once the outputs are home. A hold
# left by a laptop that went away counts for FERRY_HOLD_S seconds after its last refresh.
if test -e hold; then
    note waiting "for the laptop following the run to pull the outputs"
    while test -e hold; do
        # The laptop may remove the hold between the test and the stat: then it is released.
        held=$(stat -c %Y hold 2>/dev/null) || continue
        age=$(($(date +%s) - held))
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
then=$FERRY_THEN
saved=
# The instance goes only once the target's outputs are in the store. A failed run (its log and
# partial outputs are worth a look), or outputs that cannot be stored, stop it instead.
if test "$then" = terminate; then
    if test "$status" != 0; then
        note instead "stop, not terminate: the run ended with exit ${status:-none}; its log and outputs stay on the volume"
        then=stop
    elif saved=$(save_outputs "\"exit\": $status"); then
        note saved "$saved"
    else
        note instead "stop, not terminate: the outputs could not be stored; they stay on the volume"
        then=stop
    fi
fi
# The run's message, before the instance goes (with it, the agent).
case "$status" in
0) how=succeeded ;;
'') how="ended without an exit status" ;;
*) how="failed (exit $status)" ;;
esac
case "$then" in
stop) fate="Instance $FERRY_INSTANCE_ID stops itself now; the outputs stay on its volume." ;;
terminate) fate="Instance $FERRY_INSTANCE_ID terminates itself now; the outputs are in the store: $saved." ;;
*) fate="Instance $FERRY_INSTANCE_ID keeps running (--then $FERRY_THEN): it bills until ferry stop or terminate." ;;
esac
notify "ferry $FERRY_DEPLOYMENT: run $FERRY_RUN_ID $how" "Run $FERRY_RUN_ID ($FERRY_TARGETS) $how at $(when "${ended:-$(date +%s)}").
$fate
ferry attach $FERRY_RUN_ID brings the outputs home; ferry status tells the rest."
case "$then" in
stop | terminate)
    # The instance's tag tells the story once it is stopped or gone (ferry status reads it from AWS).
    story="$FERRY_RUN_ID exit=${status:-none} ended=${ended:-0} then=$then${saved:+ saved=$saved}"
    tag_story "$story"
    if test "$then" = stop; then
        aws_call "stopping $FERRY_INSTANCE_ID" 0 ec2 stop-instances --instance-ids "$FERRY_INSTANCE_ID" &&
            note stopping "$FERRY_INSTANCE_ID: stop-instances accepted"
    else
        aws_call "terminating $FERRY_INSTANCE_ID" 0 ec2 terminate-instances --instance-ids "$FERRY_INSTANCE_ID" &&
            note terminating "$FERRY_INSTANCE_ID: terminate-instances accepted"
    fi
    ;;
*)
    note kept "--then $FERRY_THEN: nothing to do on the instance"
    ;;
esac
