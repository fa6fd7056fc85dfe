# A real single-node SLURM for the tests (Debian's slurm-wlm + munge), started as root without systemd.
# Everything lives in a temp dir of its own: the munge key and socket, slurm.conf (found through
# SLURM_CONF by the daemons, the clients and the ssh sessions), state, spool, logs, free ports. Only the
# daemons started here are stopped, after every job of this cluster is cancelled. Source after libtest.sh.
# shellcheck shell=bash

# Skips the whole test script (TAP plan 1..0) unless it can run a cluster.
slurm_require() {
    local why=""
    if [ "$(id -u)" != 0 ]; then
        why="not root (SLURM's daemons are started as root)"
    else
        local t
        for t in munged mungekey slurmctld slurmd sbatch squeue sinfo scancel \
            ${SLURM_ACCOUNTING:+slurmdbd sacctmgr mariadbd mariadb-install-db mariadb}; do
            command -v "$t" >/dev/null || [ -x "/usr/sbin/$t" ] ||
                fatal "$t not found: install slurm-wlm, munge, slurmdbd and mariadb-server (scripts/deps)"
        done
    fi
    if [ -n "$why" ]; then
        echo "1..0 # SKIP $why"
        exit 0
    fi
}

_slurm_bin() { command -v "$1" 2>/dev/null || echo "/usr/sbin/$1"; }

# Starts munged, slurmctld -i and slurmd -N localhost with a default partition SLURM_PARTITION
# (default "debug"), waits for the node to be idle, and exports SLURM_CONF and SLURM_DIR. With
# SLURM_ACCOUNTING=1 the cluster keeps accounting, as most real ones do: a MariaDB server and slurmdbd
# of its own (sacct answers); otherwise none (sacct fails: "Slurm accounting storage is disabled").
# SSHD_EXTRA_CONFIG gets a SetEnv line so the remote's ssh sessions find this cluster: call before
# sshd_start. The dir is outside TEST_TMP (mode 700) so any local user can reach the munge socket.
slurm_start() {
    slurm_require
    SLURM_PARTITION=${SLURM_PARTITION:-debug}
    # A signal (meson's timeout, Ctrl-C, a closed pipe) ends the test through its EXIT cleanups, so the
    # daemons never outlive it.
    trap 'exit 129' HUP
    trap 'exit 130' INT
    trap 'exit 141' PIPE
    trap 'exit 143' TERM
    SLURM_DIR=$(mktemp -d /tmp/ferry-slurm.XXXXXX)
    chmod 755 "$SLURM_DIR"
    on_exit "rm -rf '$SLURM_DIR'"
    local d=$SLURM_DIR
    mkdir -p "$d/key" "$d/munge" "$d/state" "$d/spool" "$d/log" "$d/run"
    chmod 700 "$d/key" "$d/state" "$d/spool"
    chmod 755 "$d/munge"

    mungekey -c -k "$d/key/munge.key" >/dev/null 2>&1 || fatal "mungekey -c failed"
    # -f: munged would rather not run as root; the socket dir is ours and not world-writable.
    "$(_slurm_bin munged)" -f --socket="$d/munge/socket" --key-file="$d/key/munge.key" \
        --log-file="$d/log/munged.log" --pid-file="$d/run/munged.pid" --seed-file="$d/key/seed" ||
        { cat "$d/log/munged.log" >&2; fatal "munged did not start"; }
    on_exit "_slurm_stop_pidfile '$d/run/munged.pid'"

    local ctld_port slurmd_port accounting="AccountingStorageType=accounting_storage/none"
    ctld_port=$(free_port)
    slurmd_port=$(free_port)
    while [ "$slurmd_port" = "$ctld_port" ]; do slurmd_port=$(free_port); done
    if [ -n "${SLURM_ACCOUNTING:-}" ]; then
        _slurm_start_dbd "$d"
        accounting=$_slurm_accounting
    fi
    cat >"$d/slurm.conf" <<CONF
ClusterName=ferrytest
SlurmctldHost=localhost
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$d/munge/socket
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/run/slurmctld.pid
SlurmdPidFile=$d/run/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
$accounting
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
ReturnToService=2
MinJobAge=3600
NodeName=localhost CPUs=$(nproc) RealMemory=2000 State=UNKNOWN
PartitionName=$SLURM_PARTITION Nodes=localhost Default=YES MaxTime=60 State=UP
CONF
    echo "CgroupPlugin=cgroup/v1" >"$d/cgroup.conf"
    export SLURM_CONF="$d/slurm.conf" SLURM_DIR
    if [ -n "${SLURM_ACCOUNTING:-}" ]; then
        # The cluster is known to slurmdbd before slurmctld registers with it.
        sacctmgr -i add cluster ferrytest >"$d/log/sacctmgr.log" 2>&1 ||
            { cat "$d/log/sacctmgr.log" "$d/log/slurmdbd.log" >&2; fatal "sacctmgr add cluster failed"; }
    fi

    "$(_slurm_bin slurmctld)" -i -f "$SLURM_CONF" ||
        { cat "$d/log/slurmctld.log" >&2; fatal "slurmctld did not start"; }
    on_exit "_slurm_stop_pidfile '$d/run/slurmctld.pid'"
    "$(_slurm_bin slurmd)" -N localhost -f "$SLURM_CONF" ||
        { cat "$d/log/slurmd.log" >&2; fatal "slurmd did not start"; }
    on_exit "_slurm_stop_pidfile '$d/run/slurmd.pid'"
    # Runs before the daemons stop: no job step of this cluster outlives the test.
    on_exit "_slurm_cancel_all"

    local i
    for ((i = 0; i < 300; i++)); do
        [ "$(sinfo -h -N -o '%T' 2>/dev/null)" = idle ] && break
        sleep 0.1
    done
    [ "$(sinfo -h -N -o '%T' 2>/dev/null)" = idle ] ||
        { sinfo >&2 || true; tail -n 20 "$d/log/"*.log >&2; fatal "the SLURM node did not become idle"; }

    SSHD_EXTRA_CONFIG="${SSHD_EXTRA_CONFIG:-}
SetEnv SLURM_CONF=$SLURM_CONF
PermitUserEnvironment yes"
}

# Starts a MariaDB server (its own data dir, 127.0.0.1 on a free port) and slurmdbd on it, both stopped
# on exit, and sets _slurm_accounting to the slurm.conf lines that point slurmctld at slurmdbd. Called
# by slurm_start (not in a subshell: the cleanups must reach the test's).
_slurm_start_dbd() { # DIR
    local d=$1 db_port dbd_port i
    db_port=$(free_port)
    dbd_port=$(free_port)
    mkdir -p "$d/db"
    mariadb-install-db --no-defaults --user=root --datadir="$d/db/data" --skip-test-db \
        --auth-root-authentication-method=socket >"$d/log/mariadb-install.log" 2>&1 ||
        { cat "$d/log/mariadb-install.log" >&2; fatal "mariadb-install-db failed"; }
    mariadbd --no-defaults --user=root --datadir="$d/db/data" --socket="$d/db/socket" \
        --port="$db_port" --bind-address=127.0.0.1 --pid-file="$d/run/mariadb.pid" \
        --log-error="$d/log/mariadb.log" --skip-log-bin --innodb-buffer-pool-size=16M >/dev/null 2>&1 &
    on_exit "_slurm_stop_pidfile '$d/run/mariadb.pid'"
    for ((i = 0; i < 300; i++)); do
        mariadb --no-defaults -S "$d/db/socket" -u root -e 'select 1' >/dev/null 2>&1 && break
        sleep 0.1
    done
    mariadb --no-defaults -S "$d/db/socket" -u root -e "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'ferry';
        GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';" 2>"$d/log/mariadb-user.log" ||
        { cat "$d/log/mariadb-user.log" "$d/log/mariadb.log" >&2; fatal "MariaDB did not start"; }
    # slurmdbd reads slurmdbd.conf beside slurm.conf (SLURM_CONF), and wants it private. Its clients
    # reach it through the munge socket that slurm.conf names as AccountingStoragePass.
    cat >"$d/slurmdbd.conf" <<CONF
AuthType=auth/munge
AuthInfo=socket=$d/munge/socket
DbdHost=localhost
DbdPort=$dbd_port
SlurmUser=root
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=$db_port
StorageUser=slurm
StoragePass=ferry
StorageLoc=slurm_acct_db
PidFile=$d/run/slurmdbd.pid
LogFile=$d/log/slurmdbd.log
CONF
    chmod 600 "$d/slurmdbd.conf"
    SLURM_CONF="$d/slurm.conf" "$(_slurm_bin slurmdbd)" >/dev/null 2>&1 ||
        { cat "$d/log/slurmdbd.log" >&2; fatal "slurmdbd did not start"; }
    on_exit "_slurm_stop_pidfile '$d/run/slurmdbd.pid'"
    wait_for_port "$dbd_port" 30 || { cat "$d/log/slurmdbd.log" >&2; fatal "slurmdbd does not listen"; }
    _slurm_accounting="AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoragePort=$dbd_port
AccountingStoragePass=$d/munge/socket"
}

# Stops the daemon whose pid file is given (if it is still the one that wrote it) and waits for it.
_slurm_stop_pidfile() {
    local pid i
    pid=$(cat "$1" 2>/dev/null) || return 0
    [ -n "$pid" ] || return 0
    kill "$pid" 2>/dev/null || return 0
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}

_slurm_cancel_all() {
    local i
    scancel --full --quiet --user="$(id -un)" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        [ -z "$(squeue -h -o %i 2>/dev/null)" ] && return 0
        sleep 0.1
    done
}

# This cluster's queue (job ids), one per line; empty when nothing is pending or running. squeue's
# stderr and exit status are kept: a controller that does not answer is no empty queue.
slurm_queue() { squeue -h -o '%i %t %j'; }

# Waits (bounded) for the queue to be empty; fails the test with the queue when it is not, and at once
# when squeue fails (a dead slurmctld).
slurm_assert_queue_empty() { # [WHAT]
    local i q rc
    for ((i = 0; i < 100; i++)); do
        rc=0
        q=$(slurm_queue 2>"$TEST_TMP/squeue.err") || rc=$?
        if [ "$rc" != 0 ]; then
            sed 's/^/# squeue: /' "$TEST_TMP/squeue.err" >&2
            fatal "squeue failed (exit $rc): cannot tell whether ${1:-the queue} is empty"
        fi
        [ -z "$q" ] && return 0
        sleep 0.1
    done
    sed 's/^/# queue: /' <<<"$q" >&2
    fatal "${1:-the queue} is not empty"
}

# Authorizes a fresh key whose ssh sessions get PATH=$1 (fault injection: a stub first on PATH, or a
# PATH without SLURM's commands), and prints ferry's options for it.
slurm_key_with_path() { # PATH NAME
    local key="$TEST_TMP/id_$2"
    ssh-keygen -q -t ed25519 -N '' -f "$key"
    printf 'environment="PATH=%s" %s\n' "$1" "$(cat "$key.pub")" >>"$SSHD_AUTH"
    echo "$key"
}

# A directory of symlinks to everything in /usr/bin and /bin except SLURM's client commands: a PATH
# on which the remote has no SLURM.
slurm_path_without_slurm() {
    local d="$TEST_TMP/noslurm-bin" f
    mkdir -p "$d"
    for f in /usr/local/bin/* /usr/bin/* /bin/*; do
        case "${f##*/}" in
        sbatch | squeue | sinfo | scancel | srun | salloc | scontrol | sacct | sacctmgr | sstat | sattach) continue ;;
        esac
        [ -e "$d/${f##*/}" ] || ln -s "$f" "$d/${f##*/}"
    done
    echo "$d"
}
