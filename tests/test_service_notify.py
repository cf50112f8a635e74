"""The service side: sd_notify, the watchdog, the health file and `station status`.

The end-to-end test starts the headless service main as systemd would, with a fake
NOTIFY_SOCKET, and reads what it announces: READY=1 once frames flow, WATCHDOG=1 at half the
WatchdogSec it was given, STOPPING=1 on SIGTERM.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

from station.atomicio import write_json
from station.runtime import Station
from station.service import Notifier, Service, Watchdog
from station.service.commands import add_parsers
from station.service.health import (
    FORMAT_VERSION,
    HealthReporter,
    boot_id,
    evaluate,
    format_sync,
    health_path,
    read_sync_status,
)

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def notify_socket():
    """A bound datagram socket in the abstract namespace and its NOTIFY_SOCKET name."""
    name = f"station-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    try:
        sock.bind("\0" + name)
        sock.settimeout(30)       # a safety net only: every recv returns as soon as data comes
        yield sock, "@" + name
    finally:
        sock.close()


def messages(sock: socket.socket):
    """Each datagram as a dict of its KEY=value lines."""
    while True:
        data = sock.recv(4096).decode()
        yield dict(line.split("=", 1) for line in data.splitlines())


# ---------------------------------------------------------------- Notifier
def test_notifier_sends_to_an_abstract_socket():
    with notify_socket() as (sock, name), Notifier(name) as n:
        assert n.enabled
        assert n.ready("sensors up")
        assert sock.recv(100) == b"READY=1\nSTATUS=sensors up"
        n.status("recording")
        assert sock.recv(100) == b"STATUS=recording"


def test_notifier_sends_to_a_socket_path():
    with tempfile.TemporaryDirectory(prefix="sn-") as d:     # short: sun_path is 108 bytes
        path = os.path.join(d, "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(path)
            sock.settimeout(10)
            with Notifier.from_env({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "3000000"}) as n:
                assert n.watchdog_interval_s == pytest.approx(1.5)
                assert n.watchdog()
                assert sock.recv(100) == b"WATCHDOG=1"


def test_notifier_without_systemd_is_a_silent_no_op():
    with Notifier.from_env({}) as n:
        assert not n.enabled and n.watchdog_interval_s is None
        assert not n.ready() and not n.watchdog() and not n.stopping()
    with Notifier.from_env({"NOTIFY_SOCKET": "relative/path"}) as n:
        assert not n.ready()


def test_watchdog_addressed_to_another_process_is_not_ours():
    env = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "1000000", "WATCHDOG_PID": "1"}
    with Notifier.from_env(env) as n:
        assert n.watchdog_interval_s is None


def test_notifier_survives_a_vanished_systemd():
    with Notifier("@station-test-nobody-listens-" + uuid.uuid4().hex) as n:
        assert not n.ready()


# ---------------------------------------------------------------- Watchdog
class FakeTime:
    def __init__(self) -> None:
        self.ns = 0

    def __call__(self) -> int:
        return self.ns

    def advance(self, s: float) -> None:
        self.ns += round(s * 1e9)


class RecordingNotifier(Notifier):
    def __init__(self, watchdog_usec: int | None) -> None:
        super().__init__("@unused", watchdog_usec=watchdog_usec)
        self.sent: list[tuple[str, ...]] = []

    def notify(self, *assignments: str) -> bool:
        self.sent.append(assignments)
        return True


def test_watchdog_feeds_at_half_the_interval_while_the_heartbeat_advances():
    clock, beats = FakeTime(), [0]
    n = RecordingNotifier(watchdog_usec=2_000_000)          # WatchdogSec=2 -> feed every 1 s
    wd = Watchdog(n, lambda: beats[0], stale_after_s=0.5, now_ns=clock)
    fed_at = []
    for _ in range(100):                                    # 3.3 s of a 30 fps UI loop
        beats[0] += 1
        if wd.tick():
            fed_at.append(clock.ns / 1e9)
        clock.advance(1 / 30)
    gaps = [b - a for a, b in itertools.pairwise(fed_at)]
    assert fed_at[0] == 0 and len(gaps) == 3                # at start, then about every second
    assert all(1.0 <= g <= 1.0 + 1 / 30 + 1e-6 for g in gaps)
    assert n.sent == [("WATCHDOG=1",)] * 4


def test_watchdog_starves_when_the_acquisition_hangs_and_recovers():
    clock, beats = FakeTime(), [0]
    n = RecordingNotifier(watchdog_usec=1_000_000)
    wd = Watchdog(n, lambda: beats[0], stale_after_s=0.5, now_ns=clock)
    assert wd.tick()                                        # fresh at start
    clock.advance(2.0)                                      # heartbeat frozen for 2 s
    assert not wd.tick() and wd.starving and not wd.heartbeat_fresh
    assert ("STATUS=acquisition not responding",) in n.sent
    beats[0] += 1
    clock.advance(0.5)
    assert wd.tick() and not wd.starving


def test_watchdog_is_inert_without_watchdog_usec():
    n = RecordingNotifier(watchdog_usec=None)
    wd = Watchdog(n, lambda: 0)
    assert not wd.tick() and n.sent == []


# ---------------------------------------------------------------- health file and status
def test_health_file_reports_sensors_rate_and_last_sync(config, tmp_path):
    write_json(config.data_dir / "sync-status.json",
               {"last_success_utc": "2026-01-02T02:10:00Z",
                "last_attempt_utc": "2026-01-02T02:10:00Z", "last_error": None})
    station = Station(config, fast=True)
    try:
        path = tmp_path / "run" / "health.json"
        reporter = HealthReporter(station, path)
        reporter.state = "running"
        station.wait(0.5)
        reporter.tick(force=True)
        station.wait(2.0)
        reporter.tick(force=True)
    finally:
        station.close()
    h = json.loads(path.read_text())
    assert stat.S_IMODE(path.stat().st_mode) == 0o644     # `station status` runs as anyone
    assert h["format_version"] == FORMAT_VERSION and h["ok"] and h["problems"] == []
    assert h["sensors"]["cells"] == {"front-left": "ok", "front-right": "ok",
                                     "back-left": "ok", "back-right": "ok"}
    assert h["sample_rate_hz"]["measured"] == pytest.approx(80, abs=0.5)
    assert h["last_sync"]["last_success_utc"] == "2026-01-02T02:10:00Z"
    assert evaluate(path).state == "healthy"


def health_record(**changes) -> dict:
    import time

    record = {"format_version": FORMAT_VERSION, "state": "running", "boot_id": boot_id(),
              "monotonic_ns": time.monotonic_ns(), "pid": 123, "station_id": "st-1",
              "source": "hardware", "started_utc": "2026-01-01T08:00:00Z",
              "sensors": {"cells": {"front-left": "ok", "front-right": "silent",
                                    "back-left": "ok", "back-right": "ok"}, "imu": "absent"},
              "sample_rate_hz": {"configured": 80, "measured": 79.9}, "frames": 1000,
              "dropped": 0, "late": 1, "watchdog": {"interval_s": 5.0, "fed": 3,
                                                    "heartbeat_age_s": 0.01},
              "last_sync": None, "ok": False, "problems": ["cell 1 (front-right) is silent"],
              "warnings": []}
    record.update(changes)
    return record


def run_status(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="station")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["status", *argv])
    return args.func(args)


def test_status_prints_the_health_readably(tmp_path, capsys):
    path = tmp_path / "health.json"
    write_json(path, health_record())
    assert run_status("--health-file", str(path), "--data-dir", str(tmp_path)) == 1
    out = capsys.readouterr().out
    assert out.startswith("station: unhealthy")
    assert "front-left ok, front-right silent, back-left ok, back-right ok" in out
    assert "79.9 Hz (configured 80 Hz)" in out
    assert "PROBLEM: cell 1 (front-right) is silent" in out


def test_status_json_and_exit_codes(tmp_path, capsys):
    path = tmp_path / "health.json"
    write_json(tmp_path / "sync-status.json", {"last_success_utc": "2026-03-01T02:00:00Z",
                                               "last_error": "server answered 503"})
    write_json(path, health_record(problems=[], ok=True))
    assert run_status("--health-file", str(path), "--data-dir", str(tmp_path), "--json") == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["status"] == "healthy" and doc["exit_code"] == 0
    assert doc["last_sync"]["last_error"] == "server answered 503"
    assert doc["health"]["sample_rate_hz"]["measured"] == 79.9

    write_json(path, health_record(problems=[], monotonic_ns=0))          # not updated: hung
    assert run_status("--health-file", str(path), "--json") == 3
    assert json.loads(capsys.readouterr().out)["status"] == "stale"

    write_json(path, health_record(problems=[], boot_id="an-earlier-boot"))
    assert run_status("--health-file", str(path)) == 3

    write_json(path, health_record(problems=[], state="stopped"))
    assert run_status("--health-file", str(path)) == 3
    assert "not running" in capsys.readouterr().out

    path.unlink()
    assert run_status("--health-file", str(path), "--data-dir", str(tmp_path)) == 3
    out = capsys.readouterr().out
    assert "not running" in out and "server answered 503" in out    # the last sync still shows


def test_last_sync_is_read_from_what_station_sync_writes(tmp_path):
    write_json(tmp_path / "sync-status.json", {
        "state": "idle", "started_utc": "2026-03-02T02:40:00Z",
        "finished_utc": "2026-03-02T02:41:07Z", "last_success_utc": "2026-03-01T02:35:00Z",
        "last_result": {"failed": 3, "pending": 2, "stopped": "3 failure(s) in a row; last: "
                        "connection refused"}})
    sync = read_sync_status(tmp_path)
    assert sync == {"last_success_utc": "2026-03-01T02:35:00Z",
                    "last_attempt_utc": "2026-03-02T02:41:07Z",
                    "last_error": "3 failure(s) in a row; last: connection refused",
                    "running": False, "pending": 2}
    assert "2 session(s) pending" in format_sync(sync)
    assert read_sync_status(tmp_path / "nothing-here") is None


def test_health_path_prefers_the_override_then_the_runtime_directory(config):
    assert health_path(config, {"STATION_HEALTH_FILE": "/x/h.json"}) == Path("/x/h.json")
    assert health_path(config, {"RUNTIME_DIRECTORY": "/run/st"}) == Path("/run/st/health.json")
    if not Path("/run/station").is_dir():
        assert health_path(config, {}) == config.data_dir / "health.json"


def test_service_object_announces_ready_and_stopping(config, tmp_path):
    station = Station(config, fast=True)
    try:
        with notify_socket() as (sock, name):
            notifier = Notifier(name, watchdog_usec=10_000_000)
            with Service(station, notifier=notifier, health_file=tmp_path / "h.json") as svc:
                station.wait(0.2)
                svc.ready()
                msg = next(messages(sock))
                assert msg["READY"] == "1" and "4 load cells ok" in msg["STATUS"]
                svc.tick()
                assert next(messages(sock)) == {"WATCHDOG": "1"}
            assert next(messages(sock))["STOPPING"] == "1"
    finally:
        station.close()
    assert json.loads((tmp_path / "h.json").read_text())["state"] == "stopped"


# ---------------------------------------------------------------- the service mains, for real
def run_under_systemd(argv: list[str], *, while_running=None, **env_extra: str):
    """Start ``argv`` as systemd would (fake NOTIFY_SOCKET, WatchdogSec 0.2 s), read what it
    announces until two WATCHDOG=1, call ``while_running(seen)``, SIGTERM it, wait for
    STOPPING=1. Returns (messages seen before SIGTERM, exit code, output)."""
    with notify_socket() as (sock, name):
        env = {k: v for k, v in os.environ.items() if not k.startswith(("WATCHDOG_", "NOTIFY_"))}
        env.update(NOTIFY_SOCKET=name, WATCHDOG_USEC="200000", PYTHONPATH=str(ROOT),
                   **env_extra)
        proc = subprocess.Popen([sys.executable, *argv], env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            seen: list[dict[str, str]] = []
            for msg in messages(sock):
                seen.append(msg)
                if sum("WATCHDOG" in m for m in seen) >= 2:
                    break
            if while_running is not None:
                while_running(seen)
            proc.send_signal(signal.SIGTERM)
            for msg in messages(sock):
                if msg.get("STOPPING") == "1":
                    break
            out, _ = proc.communicate(timeout=20)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    return seen, proc.returncode, out.decode()


def ready_before_watchdog(seen: list[dict[str, str]]) -> dict[str, str]:
    ready_at = next(i for i, m in enumerate(seen) if m.get("READY") == "1")
    assert all("WATCHDOG" not in m for m in seen[:ready_at])       # ready comes first
    return seen[ready_at]


@pytest.mark.parametrize("mode", ["process", "inline"])
def test_headless_service_notifies_ready_then_feeds_the_watchdog(tmp_path, mode):
    cfg = tmp_path / "station.toml"
    cfg.write_text(f'[station]\nsource = "simulated"\ndata_dir = "{tmp_path / "data"}"\n'
                   f'acquisition_process = {"true" if mode == "process" else "false"}\n')
    health = tmp_path / "run" / "health.json"

    def running(seen: list[dict[str, str]]) -> None:
        assert "4 load cells ok" in ready_before_watchdog(seen)["STATUS"]
        now = json.loads(health.read_text())
        assert now["state"] == "running" and now["frames"] > 0

    _, code, out = run_under_systemd(["-m", "station.service", "--headless", "--config",
                                      str(cfg), "--health-file", str(health)],
                                     while_running=running)
    assert code == 0, out
    final = json.loads(health.read_text())
    assert final["state"] == "stopped" and final["watchdog"]["fed"] >= 2
    assert final["sensors"]["cells"]["front-left"] == "ok"


def test_the_kiosk_is_the_service_main_and_feeds_the_watchdog_per_frame(tmp_path):
    """`station run` (the unit's ExecStart) announces READY=1 after its first frame, feeds the
    watchdog from its frame loop, and stops cleanly on SIGTERM (headless SDL here)."""
    seen, code, out = run_under_systemd(
        ["-m", "station.cli", "run", "--simulate", "--window", "--data-dir",
         str(tmp_path / "data")], SDL_VIDEODRIVER="dummy", SDL_AUDIODRIVER="dummy",
        STATION_HEALTH_FILE=str(tmp_path / "health.json"))
    ready_before_watchdog(seen)
    assert code == 0, out


def test_background_writer_writes_the_latest_record_off_the_caller_thread(tmp_path):
    from station.service.health import BackgroundWriter

    writer = BackgroundWriter()
    path = tmp_path / "h.json"
    for i in range(50):
        writer(path, {"n": i})           # returns at once; older records may be skipped
    writer.close()                       # flushes what is pending
    assert json.loads(path.read_text()) == {"n": 49}
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
