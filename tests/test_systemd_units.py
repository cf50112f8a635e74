"""The systemd units: `systemd-analyze verify` accepts them, and they say what the issue asks.

verify resolves ExecStart= and the units' dependencies in a root: the tests build a throwaway
root with this machine's own system units, ours in /etc/systemd/system and stand-ins for the
programs the units start, then verify there (--root), so nothing on the host is touched.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
UNIT_DIR = ROOT / "systemd"
UNITS = ["station.service", "station-sync.service", "station-sync.timer",
         "station-server.service"]
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
HOST_UNITS = next((p for p in (Path("/usr/lib/systemd/system"), Path("/lib/systemd/system"))
                   if (p / "sysinit.target").exists()), None)
needs_systemd = pytest.mark.skipif(
    SYSTEMD_ANALYZE is None or HOST_UNITS is None,
    reason="systemd-analyze and the system units are needed (Debian package `systemd`)")


def unit(name: str) -> dict[str, dict[str, list[str]]]:
    """A unit file as {section: {key: [values in order]}} (keys repeat in unit files)."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    for raw in (UNIT_DIR / name).read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key, []).append(value)
    return sections


def exec_paths() -> set[str]:
    paths = set()
    for name in UNITS:
        for key in ("ExecStart", "ExecStartPre", "ExecStop"):
            for value in unit(name).get("Service", {}).get(key, []):
                paths.add(value.lstrip("-@+!:").split()[0])
    return paths


@pytest.fixture
def verify_root(tmp_path) -> Path:
    root = tmp_path / "root"
    (root / "usr/lib/systemd").mkdir(parents=True)
    shutil.copytree(HOST_UNITS, root / "usr/lib/systemd/system", symlinks=True)
    (root / "lib").symlink_to("usr/lib")
    (root / "etc/systemd/system").mkdir(parents=True)
    for name in UNITS:
        shutil.copy(UNIT_DIR / name, root / "etc/systemd/system" / name)
    for exe in exec_paths():
        stub = root / exe.lstrip("/")
        stub.parent.mkdir(parents=True, exist_ok=True)
        stub.write_text("#!/bin/sh\n")
        stub.chmod(0o755)
    return root


@needs_systemd
def test_systemd_analyze_verify_accepts_every_unit(verify_root):
    proc = subprocess.run([SYSTEMD_ANALYZE, "verify", f"--root={verify_root}", "--man=no",
                           *UNITS], capture_output=True, text=True, check=False)
    # verify exits 0 on unknown keys and unparsable values, and only warns: no output at all
    # is the pass mark.
    assert proc.returncode == 0 and proc.stdout + proc.stderr == "", proc.stdout + proc.stderr


@needs_systemd
def test_verify_would_catch_a_mistake(verify_root):
    bad = verify_root / "etc/systemd/system/station.service"
    bad.write_text(bad.read_text().replace("Restart=on-failure",
                                           "Restart=on-failure  # inline comment"))
    proc = subprocess.run([SYSTEMD_ANALYZE, "verify", f"--root={verify_root}", "--man=no",
                           "station.service"], capture_output=True, text=True, check=False)
    assert "Failed to parse service restart specifier" in proc.stderr


@needs_systemd
@pytest.mark.parametrize("name", [u for u in UNITS if u.endswith(".service")])
def test_services_are_well_sandboxed(verify_root, name):
    """systemd's own exposure score (0 safest, 10 unprotected) stays at or below 2.5."""
    proc = subprocess.run([SYSTEMD_ANALYZE, "security", "--offline=yes", f"--root={verify_root}",
                           "--threshold=25", "--no-pager", name],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stdout[-600:] + proc.stderr


def test_kiosk_is_a_watched_notify_service_with_a_restart_limit():
    u = unit("station.service")
    svc = u["Service"]
    assert svc["Type"] == ["notify"] and svc["NotifyAccess"] == ["main"]
    assert int(svc["WatchdogSec"][0]) >= 5
    assert svc["Restart"] == ["on-failure"]
    assert int(u["Unit"]["StartLimitBurst"][0]) > 0
    assert int(u["Unit"]["StartLimitIntervalSec"][0]) > 0
    assert svc["ExecStart"] == ["/opt/station/venv/bin/station run"]
    assert svc["KillMode"] == ["mixed"]      # the main process stops its acquisition child
    assert svc["StandardOutput"] == ["journal"] and svc["StandardError"] == ["journal"]


def test_kiosk_runs_unprivileged_in_the_device_groups_and_reaches_its_devices():
    svc = unit("station.service")["Service"]
    assert svc["User"] == ["station"]
    assert set(svc["SupplementaryGroups"][0].split()) == {
        "gpio", "i2c", "spi", "video", "input", "render", "audio"}
    assert svc["NoNewPrivileges"] == ["yes"] and svc["ProtectSystem"] == ["strict"]
    assert "PrivateDevices" not in svc and "PrivateUsers" not in svc   # would hide /dev
    assert svc["DevicePolicy"] == ["closed"]
    allowed = {v.split()[0] for v in svc["DeviceAllow"]}
    assert {"char-gpiochip", "char-i2c", "char-drm", "char-input"} <= allowed
    # lgpio's working directory is the unit's RuntimeDirectory (a tmpfs, writable)
    assert svc["RuntimeDirectory"] == ["station"]
    assert "LG_WD=/run/station" in svc["Environment"]
    assert svc["StateDirectory"] == ["station"]          # /var/lib/station, the data_dir
    assert int(svc["LimitRTPRIO"][0]) >= 50             # SCHED_FIFO for the HX711 process


def test_sync_timer_is_nightly_persistent_and_spread_out():
    t = unit("station-sync.timer")["Timer"]
    assert t["OnCalendar"] == ["*-*-* 01:30:00"]
    assert t["Persistent"] == ["true"]
    assert t["RandomizedDelaySec"] and t["FixedRandomDelay"] == ["true"]
    assert t["Unit"] == ["station-sync.service"]
    assert unit("station-sync.timer")["Install"]["WantedBy"] == ["timers.target"]


def test_sync_service_retries_on_failure_and_runs_unprivileged():
    u = unit("station-sync.service")
    svc = u["Service"]
    assert svc["Type"] == ["oneshot"] and svc["Restart"] == ["on-failure"]
    assert svc["RestartSec"] and int(u["Unit"]["StartLimitBurst"][0]) > 1
    assert svc["RestartPreventExitStatus"] == ["2 3"]     # config error, needs a human
    assert svc["ExecStart"] == ["/opt/station/venv/bin/station sync"]
    assert svc["User"] == ["station"] and svc["PrivateDevices"] == ["yes"]
    assert "network-online.target" in u["Unit"]["After"][0]
    assert "RuntimeDirectory" not in svc     # stopping it would remove the kiosk's /run/station


def test_receiver_unit():
    svc = unit("station-server.service")["Service"]
    assert svc["ExecStart"] == ["/opt/station-server/venv/bin/python -m station.server"]
    assert svc["User"] == ["station-server"] and svc["StateDirectory"] == ["station-server"]
    assert svc["RestartPreventExitStatus"] == ["2"]
    assert svc["Restart"] == ["on-failure"]


def test_no_unit_has_a_trailing_comment():
    """systemd takes `Key=value # note` as part of the value (hardware notes)."""
    for name in UNITS:
        for number, line in enumerate((UNIT_DIR / name).read_text().splitlines(), 1):
            if not line.lstrip().startswith(("#", ";")):
                assert " #" not in line and " ;" not in line, f"{name}:{number}: {line}"

