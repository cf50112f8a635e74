"""The running service's health, as a small JSON file that `station status` reads.

The service rewrites it atomically every few seconds. On the Pi it lives in the unit's
RuntimeDirectory (/run/station, a tmpfs), so these frequent writes never touch the SD card and
the file disappears when the service stops. Its age is measured on CLOCK_MONOTONIC within the
same boot (boot_id), not on the wall clock, which jumps when NTP first syncs a Pi without RTC.

The last sync comes from ``<data_dir>/sync-status.json``, which the sync client writes with
the keys ``last_success_utc``, ``last_attempt_utc`` and ``last_error`` (all optional).
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from station import atomicio
from station.clock import utc_now
from station.config import Config
from station.sensors.base import CELL_NAMES

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
HEALTH_FILE = "health.json"
SYNC_STATUS_FILE = "sync-status.json"
SYSTEM_RUNTIME_DIR = Path("/run/station")
ENV_HEALTH_FILE = "STATION_HEALTH_FILE"
#: How often the service rewrites the file, and how old it may get before it counts as stale.
WRITE_INTERVAL_S = 2.0
STALE_AFTER_S = 15.0
#: A measured sample rate further than this from the configured one is a fault.
RATE_TOLERANCE = 0.10
#: More dropped frames than this share of the last window is a warning.
DROPPED_WARN = 0.02
#: A configured sync whose last success is older than this is a warning.
SYNC_WARN_AFTER_S = 48 * 3600


def health_path(config: Config, environ: Mapping[str, str] | None = None) -> Path:
    """Where the health file is: $STATION_HEALTH_FILE, else the unit's $RUNTIME_DIRECTORY,
    else /run/station when it exists (the service is installed), else the data folder."""
    env = os.environ if environ is None else environ
    if env.get(ENV_HEALTH_FILE):
        return Path(env[ENV_HEALTH_FILE])
    if env.get("RUNTIME_DIRECTORY"):
        return Path(env["RUNTIME_DIRECTORY"].split(":")[0]) / HEALTH_FILE
    if SYSTEM_RUNTIME_DIR.is_dir():
        return SYSTEM_RUNTIME_DIR / HEALTH_FILE
    return config.data_dir / HEALTH_FILE


def boot_id() -> str | None:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return None


def read_sync_status(data_dir: Path) -> dict[str, Any] | None:
    """The sync client's last result, or None when it never ran (or the file is unreadable).

    Reads ``last_success_utc``, ``last_attempt_utc`` and ``last_error`` where present, else
    derives the last two from what `station sync` writes (``finished_utc`` or
    ``started_utc``; ``last_result.stopped`` or its failed count)."""
    try:
        data = json.loads((data_dir / SYNC_STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    result = data.get("last_result") if isinstance(data.get("last_result"), dict) else {}
    error = data.get("last_error") or result.get("stopped")
    if not error and result.get("failed"):
        error = f"{result['failed']} session(s) failed to upload"
    return {"last_success_utc": data.get("last_success_utc"),
            "last_attempt_utc": (data.get("last_attempt_utc") or data.get("finished_utc")
                                 or data.get("started_utc")),
            "last_error": error or None,
            "running": data.get("state") == "running",
            "pending": result.get("pending")}


class HealthReporter:
    """Builds the health record from a Station and rewrites the file every WRITE_INTERVAL_S."""

    def __init__(self, station: Any, path: Path, *, watchdog: Any = None,
                 interval_s: float = WRITE_INTERVAL_S) -> None:
        self.station = station
        self.config: Config = station.config
        self.path = path
        self.watchdog = watchdog
        self.interval_ns = round(interval_s * 1e9)
        self.state = "starting"
        self._next_ns = 0
        self._window: tuple[int, int, int] | None = None   # frames, dropped, t_ns
        self._rate: float | None = None
        self._dropped_share = 0.0
        self._boot_id = boot_id()
        self._started_utc = utc_now()

    def tick(self, force: bool = False, write: Callable[[Path, Any], None] | None = None
             ) -> bool:
        """Rewrite the file if due (through ``write`` when given); True when due."""
        now = time.monotonic_ns()
        if not force and now < self._next_ns:
            return False
        self._next_ns = now + self.interval_ns
        (write or write_public_json)(self.path, self.snapshot())
        return True

    def _measure(self, status: Any) -> None:
        frames, dropped, t_ns = (int(status["frames"]), int(status["dropped"]),
                                 int(status["t_ns"]))
        if self._window is not None:
            f0, d0, t0 = self._window
            if t_ns > t0 and frames >= f0:
                self._rate = (frames - f0) / ((t_ns - t0) / 1e9)
                expected = frames - f0 + dropped - d0
                self._dropped_share = (dropped - d0) / expected if expected else 0.0
        self._window = (frames, dropped, t_ns)

    def _source(self) -> str:
        """hardware / simulated / replay; the acquisition process does not tell which it
        opened, so there the configured source is reported as such."""
        kind = str(getattr(self.station, "source_kind", "unknown"))
        return f"{self.config.station.source} (acquisition process)" if kind == "process" \
            else kind

    def snapshot(self) -> dict[str, Any]:
        cfg = self.config
        h = self.station.health()
        status = self.station.rings.status.latest()
        if status is not None:
            self._measure(status)
        problems = [f"cell {i} ({CELL_NAMES[i]}) is {s}" for i, s in enumerate(h.cell_state)
                    if s != "ok"]
        warnings: list[str] = []
        if cfg.imu.enabled and h.imu_state != "ok":
            problems.append(f"wobble-board IMU is {h.imu_state}")
        configured = cfg.plate.sample_rate_hz
        if self._rate is not None and abs(self._rate - configured) > RATE_TOLERANCE * configured:
            problems.append(f"sample rate {self._rate:.1f} Hz, configured {configured} Hz")
        if self._dropped_share > DROPPED_WARN:
            warnings.append(f"{100 * self._dropped_share:.1f} % of frames dropped recently")
        wd = self.watchdog
        if wd is not None and not wd.heartbeat_fresh:
            problems.append(f"acquisition heartbeat stale for {wd.heartbeat_age_s:.1f} s")
        sync = read_sync_status(cfg.data_dir)
        warnings += sync_warnings(cfg, sync)
        return {
            "format_version": FORMAT_VERSION,
            "written_utc": utc_now(),
            "monotonic_ns": time.monotonic_ns(),
            "boot_id": self._boot_id,
            "pid": os.getpid(),
            "started_utc": self._started_utc,
            "state": self.state,
            "station_id": cfg.station.id,
            "source": self._source(),
            "configured_source": cfg.station.source,
            "sensors": {"cells": dict(zip(CELL_NAMES, h.cell_state, strict=True)),
                        "imu": h.imu_state},
            "sample_rate_hz": {"configured": configured,
                               "measured": None if self._rate is None else round(self._rate, 2)},
            "frames": h.frames,
            "dropped": h.dropped,
            "late": h.late,
            "watchdog": None if wd is None else {
                "interval_s": wd.notifier.watchdog_interval_s,
                "fed": wd.fed,
                "heartbeat_age_s": round(wd.heartbeat_age_s, 3),
            },
            "last_sync": sync,
            "ok": not problems,
            "problems": problems,
            "warnings": warnings,
        }


def write_public_json(path: Path, obj: Any) -> None:
    """Atomically replace ``path`` with ``obj`` as JSON, readable by everyone (0644):
    `station status` runs as any user, and nothing in it is secret."""
    atomicio.write_json(path, obj, mode=0o644)


def sync_warnings(config: Config, sync: Mapping[str, Any] | None) -> list[str]:
    """Sync trouble is a warning: the station keeps every session until the server has it."""
    if not config.sync.server_url:
        return []
    if sync is None or not sync.get("last_success_utc"):
        return ["sessions have never been synced to the clinic server"]
    out = []
    age = _age_s(sync["last_success_utc"])
    if age is not None and age > SYNC_WARN_AFTER_S:
        out.append(f"last successful sync {age / 3600:.0f} h ago")
    if sync.get("last_error"):
        out.append(f"last sync attempt failed: {sync['last_error']}")
    return out


def _age_s(utc: str) -> float | None:
    try:
        t = datetime.fromisoformat(str(utc).replace("Z", "+00:00"))
    except ValueError:
        return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=UTC)
    return (datetime.now(UTC) - t).total_seconds()


@dataclass
class Verdict:
    """What `station status` concludes from the file: healthy, unhealthy, stale, not running."""

    state: str
    age_s: float | None
    health: dict[str, Any] | None
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        """0 healthy, 1 unhealthy, 3 not running or stale (as `systemctl status` uses 3)."""
        return {"healthy": 0, "unhealthy": 1}.get(self.state, 3)


def evaluate(path: Path, *, stale_after_s: float = STALE_AFTER_S) -> Verdict:
    """Read and judge the health file at ``path``."""
    try:
        health = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Verdict("not running", None, None, [f"no health file at {path}: the station "
                                                   "service is not running"])
    except (OSError, ValueError) as exc:
        return Verdict("not running", None, None, [f"cannot read {path}: {exc}"])
    if not isinstance(health, dict) or health.get("format_version") != FORMAT_VERSION:
        return Verdict("not running", None, None, [f"{path}: unknown health format"])
    age = file_age_s(health, path)
    problems = list(health.get("problems") or [])
    warnings = list(health.get("warnings") or [])
    if age is None or age > stale_after_s:
        shown = "unknown" if age is None else f"{age:.0f} s"
        return Verdict("stale", age, health, [f"health not updated for {shown}: the station "
                                              "is hung or was stopped uncleanly", *problems],
                       warnings)
    if health.get("state") == "stopped":
        return Verdict("not running", age, health, ["the station service stopped", *problems],
                       warnings)
    if health.get("state") != "running":
        problems.insert(0, f"service is {health.get('state')}")
    return Verdict("unhealthy" if problems else "healthy", age, health, problems, warnings)


def file_age_s(health: Mapping[str, Any], path: Path) -> float | None:
    """Age on the monotonic clock if written in this boot, None if in an earlier boot (stale),
    by the file's mtime where there is no boot id (not Linux)."""
    written_boot, this_boot = health.get("boot_id"), boot_id()
    if written_boot and this_boot:
        if written_boot != this_boot:
            return None
        return max(0.0, (time.monotonic_ns() - int(health.get("monotonic_ns", 0))) / 1e9)
    try:
        return max(0.0, time.time() - path.stat().st_mtime)
    except OSError:
        return None


def format_verdict(v: Verdict, sync: Mapping[str, Any] | None = None) -> str:
    """A few readable lines for a technician at the console; ``sync`` overrides the copy of
    the last sync in the health file (read fresh, it is shown even when the service is down)."""
    h = v.health or {}
    sync = sync if sync is not None else h.get("last_sync")
    lines = [f"station: {v.state}" + (f" (updated {v.age_s:.1f} s ago, pid {h.get('pid')})"
                                      if v.age_s is not None else "")]
    if h:
        cells = h.get("sensors", {}).get("cells", {})
        lines.append(f"  id: {h.get('station_id')}   source: {h.get('source')}   "
                     f"since: {h.get('started_utc')}")
        lines.append("  load cells: " + ", ".join(f"{k} {cells.get(k, '?')}" for k in CELL_NAMES))
        lines.append(f"  wobble-board IMU: {h.get('sensors', {}).get('imu')}")
        rate = h.get("sample_rate_hz", {})
        measured = rate.get("measured")
        lines.append(f"  sample rate: {'-' if measured is None else f'{measured:.1f}'} Hz "
                     f"(configured {rate.get('configured')} Hz)   frames: {h.get('frames')} "
                     f"(dropped {h.get('dropped')}, late {h.get('late')})")
        wd = h.get("watchdog") or {}
        if wd.get("interval_s"):
            lines.append(f"  watchdog: fed every {wd['interval_s']:.1f} s "
                         f"({wd.get('fed')} times), heartbeat {wd.get('heartbeat_age_s')} s old")
        else:
            lines.append("  watchdog: not armed (not started by systemd with WatchdogSec)")
    lines.append("  last sync: " + format_sync(sync))
    lines += [f"  PROBLEM: {p}" for p in v.problems]
    lines += [f"  warning: {w}" for w in v.warnings]
    return "\n".join(lines)


def format_sync(sync: Mapping[str, Any] | None) -> str:
    if not sync:
        return "never (no sync-status.json)"
    text = f"{sync.get('last_success_utc') or 'never'} succeeded"
    if sync.get("last_attempt_utc"):
        text += f", last attempt {sync['last_attempt_utc']}"
    if sync.get("last_error"):
        text += f" failed: {sync['last_error']}"
    if sync.get("pending"):
        text += f"; {sync['pending']} session(s) pending"
    if sync.get("running"):
        text += " (a sync is running now)"
    return text


class BackgroundWriter:
    """Writes the newest record handed to it on its own thread, so a frame loop never waits
    for a disk (the health file lives on tmpfs on the Pi, but a laptop falls back to disk).
    Only the latest record matters: an older one still waiting is replaced."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._pending: tuple[Path, Any] | None = None
        self._closing = False
        self._thread = threading.Thread(target=self._run, name="health-writer", daemon=True)
        self._thread.start()

    def __call__(self, path: Path, obj: Any) -> None:
        with self._cond:
            self._pending = (path, obj)
            self._cond.notify()

    def _run(self) -> None:
        while True:
            with self._cond:
                while self._pending is None and not self._closing:
                    self._cond.wait()
                job, self._pending = self._pending, None
                if job is None:
                    return
            try:
                write_public_json(*job)
            except OSError as exc:
                log.warning("could not write the health file: %s", exc)

    def close(self, timeout_s: float = 5.0) -> None:
        """Write what is pending, then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        self._thread.join(timeout_s)
