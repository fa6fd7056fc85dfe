#!/bin/bash
# ferry: user data of instance @NAME@, run once as root at its first boot.
#  1. The lifetime cap: the instance powers off @MAX_HOURS@ hours after launch. ferry launches it
#     with shutdown behaviour "terminate", so powering off deletes it and its volume. The deadline
#     is kept on disk and checked again at every boot, so a stop and start does not reset it.
#  2. micromamba, and snakemake with a pinned conda and mamba (so --use-conda can build the
#     workflow's environments) for the ssh user, then the ready marker that `ferry run` waits for.
set -euo pipefail

# ferry substitutes each value below already shell-quoted.
readonly FERRY_MAX_HOURS=@MAX_HOURS@
readonly FERRY_SSH_USER=@SSH_USER@
readonly FERRY_SNAKEMAKE_SPEC=@SNAKEMAKE_SPEC@
readonly FERRY_CONDA_SPEC=@CONDA_SPEC@
readonly FERRY_MAMBA_SPEC=@MAMBA_SPEC@
readonly FERRY_DIR=/var/lib/ferry

mkdir -p "$FERRY_DIR"
exec >>"$FERRY_DIR/user-data.log" 2>&1

# --- 1. lifetime cap -----------------------------------------------------------------------------
if [ ! -e "$FERRY_DIR/deadline" ]; then
    echo $(( $(date +%s) + FERRY_MAX_HOURS * 3600 )) >"$FERRY_DIR/deadline"
fi

cat >/usr/local/sbin/ferry-lifetime-cap <<'CAP'
#!/bin/bash
# Powers the instance off at the deadline ferry set at launch (its shutdown behaviour terminates it).
set -eu
deadline=$(cat /var/lib/ferry/deadline)
now=$(date +%s)
if [ "$now" -ge "$deadline" ]; then
    exec /sbin/shutdown -h now "ferry: lifetime cap reached"
fi
exec /sbin/shutdown -h "+$(( (deadline - now + 59) / 60 ))" "ferry: lifetime cap"
CAP
chmod 0755 /usr/local/sbin/ferry-lifetime-cap

cat >/etc/systemd/system/ferry-lifetime-cap.service <<'UNIT'
[Unit]
Description=ferry lifetime cap: power off at the deadline set at launch

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/ferry-lifetime-cap

[Install]
WantedBy=multi-user.target
UNIT

if command -v systemctl >/dev/null 2>&1; then
    systemctl daemon-reload
    systemctl enable --now ferry-lifetime-cap.service
else
    /usr/local/sbin/ferry-lifetime-cap
fi

# --- 2. snakemake --------------------------------------------------------------------------------
if command -v dnf >/dev/null 2>&1; then
    dnf install -y -q tar zstd bzip2 git >/dev/null || true
fi

if [ ! -x /usr/local/bin/micromamba ]; then
    curl -fsSL --retry 5 https://micro.mamba.pm/api/micromamba/linux-64/latest \
        | tar -xj -C /usr/local bin/micromamba
fi

export MAMBA_ROOT_PREFIX=/opt/ferry/mamba
/usr/local/bin/micromamba create -y -q -p /opt/ferry/snakemake \
    -c conda-forge -c bioconda "$FERRY_SNAKEMAKE_SPEC" "$FERRY_CONDA_SPEC" "$FERRY_MAMBA_SPEC"
for tool in snakemake conda mamba; do
    ln -sf "/opt/ferry/snakemake/bin/$tool" "/usr/local/bin/$tool"
done

home=$(getent passwd "$FERRY_SSH_USER" | cut -d: -f6)
if [ -n "$home" ]; then
    install -d -o "$FERRY_SSH_USER" -m 0755 "$home/ferry"
fi

/usr/local/bin/snakemake --version >"$FERRY_DIR/snakemake-version"
touch /var/lib/ferry/ready
