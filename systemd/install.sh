#!/bin/sh
# Install or upgrade the balance-training station on Raspberry Pi OS Bookworm (Lite).
#
#   sudo sh systemd/install.sh          (from a checkout of the station's source)
#
# Creates the `station` user in the device groups, /opt/station/venv with the hardware extras,
# /etc/station/station.toml (only if absent), /var/lib/station, I2C and KMS display lines in
# config.txt, a journald size cap, and installs and enables the systemd units. Safe to run
# again: a second run changes no file. An upgrade (a newer checkout, same command) reinstalls
# the package and the units and keeps the configuration and the session store.
#
# Every path is written under $DESTDIR (empty: the running system), so the tests and an image
# build can install into a folder; there, apt-get is skipped, user and group tools get
# --prefix, systemctl gets --root and nothing is started. Environment knobs:
#   DESTDIR        install under this root instead of /
#   PYTHON         interpreter that creates the venv (default python3)
#   STATION_EXTRAS pip extras (default pi,ui,sync)
#   SKIP_APT=1     do not apt-get install the Debian packages
set -eu

SRC=$(CDPATH='' cd -- "$(dirname -- "$0")/.." && pwd)
ROOT=${DESTDIR:-}
ROOT=${ROOT%/}
PYTHON=${PYTHON:-python3}
EXTRAS=${STATION_EXTRAS:-pi,ui,sync}
USER_NAME=station
DEVICE_GROUPS="gpio i2c spi video input render audio"
PREFIX=/opt/station
VENV=$PREFIX/venv
CONF_DIR=/etc/station
DATA_DIR=/var/lib/station
UNIT_DIR=/etc/systemd/system
UNITS="station.service station-sync.service station-sync.timer"
ENABLE="station.service station-sync.timer"
# python3-venv: venv and ensurepip; i2c-tools: i2cdetect for wiring checks; libgbm1, libegl1,
# libgles2, libdrm2: what SDL's KMSDRM driver in the pygame-ce wheel loads at run time.
APT_PACKAGES="python3-venv i2c-tools libgbm1 libegl1 libgles2 libdrm2"
MARK_BEGIN="# >>> balance-station (systemd/install.sh manages this block; edit outside it)"
MARK_END="# <<< balance-station"

CHANGED=""
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT INT TERM

say() { printf 'station-install: %s\n' "$*"; }
die() { say "error: $*" >&2; exit 1; }
changed() { CHANGED="$CHANGED $1"; }
is_changed() { case " $CHANGED " in *" $1 "*) return 0 ;; esac; return 1; }
# Run a systemd command on the live system only (not in a DESTDIR, not in a chroot).
live_systemd() { [ -z "$ROOT" ] && [ -d /run/systemd/system ]; }

# put SOURCE DEST MODE TAG: install a file only when its content or mode differs.
put() {
    if [ -f "$ROOT$2" ] && cmp -s "$1" "$ROOT$2" \
        && [ "$(stat -c %a "$ROOT$2")" = "$3" ]; then
        return 0
    fi
    mkdir -p "$(dirname "$ROOT$2")"
    cp "$1" "$ROOT$2.new"
    chmod "$3" "$ROOT$2.new"
    mv -f "$ROOT$2.new" "$ROOT$2"
    say "wrote $2"
    changed "$4"
}

group_line() {
    if [ -n "$ROOT" ]; then grep "^$1:" "$ROOT/etc/group" 2>/dev/null; else getent group "$1"; fi
}
user_exists() {
    if [ -n "$ROOT" ]; then grep -q "^$1:" "$ROOT/etc/passwd" 2>/dev/null
    else getent passwd "$1" >/dev/null; fi
}
in_group() { group_line "$2" | cut -d: -f4 | tr ',' '\n' | grep -qx "$1"; }

[ -f "$SRC/pyproject.toml" ] || die "$SRC is not the station's source (no pyproject.toml)"
if [ -z "$ROOT" ] && [ "$(id -u)" -ne 0 ]; then die "run as root: sudo sh $0"; fi

# ---------------------------------------------------------------- Debian packages
if [ -n "$ROOT" ] || [ "${SKIP_APT:-0}" = 1 ]; then
    say "skipping apt-get (DESTDIR or SKIP_APT): $APT_PACKAGES"
else
    missing=""
    for p in $APT_PACKAGES; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" \
            || missing="$missing $p"
    done
    if [ -n "$missing" ]; then
        apt-get update
        # shellcheck disable=SC2086
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $missing
        changed packages
    fi
fi

# ---------------------------------------------------------------- user and groups
for g in $DEVICE_GROUPS; do
    if ! group_line "$g" >/dev/null; then
        groupadd --system ${ROOT:+--prefix "$ROOT"} "$g"
        say "created group $g"
        changed groups
    fi
done
if ! user_exists "$USER_NAME"; then
    useradd --system --user-group --home-dir "$DATA_DIR" --no-create-home \
        --shell /usr/sbin/nologin --comment "Balance-training station" \
        --groups "$(echo "$DEVICE_GROUPS" | tr ' ' ',')" ${ROOT:+--prefix "$ROOT"} "$USER_NAME"
    say "created user $USER_NAME"
    changed user
else
    for g in $DEVICE_GROUPS; do
        if ! in_group "$USER_NAME" "$g"; then
            usermod --append --groups "$g" ${ROOT:+--prefix "$ROOT"} "$USER_NAME"
            say "added $USER_NAME to $g"
            changed user
        fi
    done
fi

# ---------------------------------------------------------------- virtual environment
if [ ! -x "$ROOT$VENV/bin/python" ]; then
    mkdir -p "$ROOT$PREFIX"
    "$PYTHON" -m venv "$ROOT$VENV"
    say "created $VENV"
    changed venv
fi
# pip rebuilds and reinstalls a source folder every time (new code even at the same version)
# and upgrades a dependency only when the new requirements ask for it.
"$ROOT$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${SRC}[${EXTRAS}]"
say "installed the station package from $SRC with [$EXTRAS]"
if [ "$(readlink "$ROOT/usr/local/bin/station" 2>/dev/null || true)" != "$VENV/bin/station" ]; then
    mkdir -p "$ROOT/usr/local/bin"
    ln -sfn "$VENV/bin/station" "$ROOT/usr/local/bin/station"
    say "linked /usr/local/bin/station"
    changed link
fi
put "$SRC/docs/deploy.md" "$PREFIX/docs/deploy.md" 644 docs

# ---------------------------------------------------------------- configuration and data
mkdir -p "$ROOT$CONF_DIR"
if [ ! -e "$ROOT$CONF_DIR/station.toml" ]; then
    station_id=station-01
    if [ -s "$ROOT/etc/hostname" ]; then station_id=$(head -n1 "$ROOT/etc/hostname"); fi
    cat > "$TMP/station.toml" <<EOF
# Balance-training station configuration, written once by systemd/install.sh: upgrades keep
# it. Only what differs from the defaults; \`station config --defaults\` documents every key.
[station]
id = "$station_id"
data_dir = "$DATA_DIR"
source = "hardware"
allow_simulation = false

[plate]
# Load-cell centre to centre (m): the enclosure model (enclosure/export.py) uses these too.
span_ml_m = 0.4
span_ap_m = 0.4

[sync]
# The clinic receiver, e.g. "https://balance.clinic.example:8443"; the token goes in
# /etc/station/sync-token (root:station, mode 0640).
server_url = ""
EOF
    put "$TMP/station.toml" "$CONF_DIR/station.toml" 644 config
fi
if [ ! -d "$ROOT$DATA_DIR" ]; then
    mkdir -p "$ROOT$DATA_DIR"
    chmod 750 "$ROOT$DATA_DIR"
    say "created $DATA_DIR"
    changed data
fi
# Ownership only on the live system; elsewhere StateDirectory= fixes it at the first start.
if [ -z "$ROOT" ]; then chown "$USER_NAME:$USER_NAME" "$DATA_DIR"; fi

# ---------------------------------------------------------------- SD card: journald, modules
cat > "$TMP/journald.conf" <<'EOF'
# Written by the balance-station installer: a small journal, written in batches, on the SD
# card. Errors are still flushed at once.
[Journal]
SystemMaxUse=64M
SystemMaxFileSize=8M
RuntimeMaxUse=32M
MaxRetentionSec=1month
SyncIntervalSec=5m
Compress=yes
# The journal is the only log store: no second copy through rsyslog.
ForwardToSyslog=no
EOF
put "$TMP/journald.conf" /etc/systemd/journald.conf.d/station.conf 644 journald
printf '# balance station: /dev/i2c-1 for the BNO08x\ni2c-dev\n' > "$TMP/modules.conf"
put "$TMP/modules.conf" /etc/modules-load.d/station.conf 644 modules

# ---------------------------------------------------------------- config.txt: I2C and display
BOOT_CONFIG=""
for f in /boot/firmware/config.txt /boot/config.txt; do
    if [ -f "$ROOT$f" ]; then BOOT_CONFIG=$f; break; fi
done
if [ -z "$BOOT_CONFIG" ]; then
    say "no /boot/firmware/config.txt: not a Raspberry Pi? I2C and display lines not added"
else
    awk -v b="$MARK_BEGIN" -v e="$MARK_END" \
        '$0 == b { skip = 1; next } $0 == e { skip = 0; next } !skip' \
        "$ROOT$BOOT_CONFIG" > "$TMP/config.body"
    : > "$TMP/config.lines"
    # 400 kHz for the BNO08x (Adafruit's advice for its clock stretching); the KMS driver and
    # auto-detection of the official DSI touchscreen for pygame on KMSDRM.
    for line in dtparam=i2c_arm=on dtparam=i2c_arm_baudrate=400000 dtoverlay=vc4-kms-v3d \
        display_auto_detect=1; do
        grep -qxF "$line" "$TMP/config.body" || printf '%s\n' "$line" >> "$TMP/config.lines"
    done
    cp "$TMP/config.body" "$TMP/config.txt"
    if [ -s "$TMP/config.lines" ]; then
        {
            printf '%s\n' "$MARK_BEGIN" "[all]"
            cat "$TMP/config.lines"
            printf '%s\n' "$MARK_END"
        } >> "$TMP/config.txt"
    fi
    if ! cmp -s "$TMP/config.txt" "$ROOT$BOOT_CONFIG"; then
        orig="$ROOT$BOOT_CONFIG.station-orig"
        [ -e "$orig" ] || cp "$ROOT$BOOT_CONFIG" "$orig"
        put "$TMP/config.txt" "$BOOT_CONFIG" "$(stat -c %a "$ROOT$BOOT_CONFIG")" boot
    fi
fi

# ---------------------------------------------------------------- systemd units
for u in $UNITS; do
    put "$SRC/systemd/$u" "$UNIT_DIR/$u" 644 units
done
if [ -n "$ROOT" ]; then
    # shellcheck disable=SC2086
    systemctl --root="$ROOT" --quiet enable $ENABLE
else
    if live_systemd && is_changed units; then systemctl daemon-reload; fi
    # shellcheck disable=SC2086
    systemctl --quiet enable $ENABLE
fi
if live_systemd; then
    if is_changed journald; then systemctl restart systemd-journald; fi
    if is_changed modules; then systemctl restart systemd-modules-load || true; fi
    systemctl start station-sync.timer
    if is_changed boot; then
        say "config.txt changed: reboot to enable I2C and the display (sudo reboot)"
    elif systemctl --quiet is-active station.service; then
        systemctl restart station.service
        say "restarted station.service"
    else
        systemctl start station.service \
            || say "station.service did not start: see journalctl -u station"
    fi
fi

if [ -z "$CHANGED" ]; then
    say "up to date: nothing changed"
else
    say "done; changed:$CHANGED"
fi
