"""The service side of the station: readiness, watchdog and health for systemd.

:class:`Service` is what a main loop uses, the kiosk's (`station run`) or the headless one
here (`station service`, `python -m station.service`): ``ready()`` once the sensors and the
screen are up, ``tick()`` once per loop iteration, ``close()`` on the way out. The headless main
runs the same sensors without a screen, for a station with no display and for the tests.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Any

from station import config as config_mod
from station.config import Config
from station.errors import SensorError, StationError
from station.service.health import BackgroundWriter, HealthReporter, health_path
from station.service.notify import DEFAULT_STALE_AFTER_S, Notifier, Watchdog

log = logging.getLogger(__name__)

#: Headless loop period when the acquisition runs in its own process (s).
LOOP_PERIOD_S = 0.05
#: Longest wait for the first frame of an inline acquisition (s).
FIRST_FRAME_TIMEOUT_S = 20.0


class Service:
    """Tells systemd about a running Station: READY, WATCHDOG, STATUS, STOPPING, health file.

    ``station`` is a :class:`station.runtime.Station` (anything with ``config``, ``rings`` and
    ``health()``). Close the service before the station: it reads the station's rings.
    """

    def __init__(self, station: Any, *, notifier: Notifier | None = None,
                 health_file: Path | None = None,
                 stale_after_s: float = DEFAULT_STALE_AFTER_S,
                 background_writes: bool = False) -> None:
        self.station = station
        self.notifier = notifier if notifier is not None else Notifier.from_env()
        status_ring = station.rings.status
        self.watchdog = Watchdog(self.notifier, lambda: status_ring.written,
                                 stale_after_s=stale_after_s)
        self.health = HealthReporter(station, health_file or health_path(station.config),
                                     watchdog=self.watchdog)
        self.health.tick(force=True)
        # a frame loop (the kiosk) must not wait for a disk: it hands the record to a thread
        self._writer = BackgroundWriter() if background_writes else None
        self._closed = False

    def ready(self, status: str | None = None) -> None:
        """Call once the sensors deliver frames and the screen shows its first frame."""
        self.health.state = "running"
        self.health.tick(force=True)
        self.notifier.ready(status or self.summary())
        log.info("ready: %s", status or self.summary())

    def status(self, text: str) -> None:
        """A one-line status for `systemctl status` (what the station is doing)."""
        self.notifier.status(text)

    def tick(self) -> None:
        """Once per main-loop iteration: feeds the watchdog when due and the heartbeat is fresh,
        rewrites the health file every few seconds. Cheap on the other calls."""
        self.watchdog.tick()
        self.health.tick(write=self._writer)

    def summary(self) -> str:
        h = self.station.health()
        bad = [s for s in h.cell_state if s != "ok"]
        cells = "4 load cells ok" if not bad else f"{len(bad)} load cell(s) not ok"
        return f"sensors up: {cells}, IMU {h.imu_state}"

    def close(self, status: str = "stopping") -> None:
        """Send STOPPING=1 and leave a final health record (state "stopped")."""
        if self._closed:
            return
        self._closed = True
        self.notifier.stopping(status)
        if self._writer is not None:
            self._writer.close()
        self.health.state = "stopped"
        try:
            self.health.tick(force=True)
        except OSError as exc:        # the runtime directory may already be gone
            log.warning("could not write the final health record: %s", exc)
        self.notifier.close()

    def __enter__(self) -> Service:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_headless(config: Config, *, health_file: Path | None = None,
                 stop: threading.Event | None = None) -> int:
    """Open the station, report READY once frames flow, then tick until ``stop`` is set."""
    from station.acquisition.runner import InlineAcquisition
    from station.runtime import Station

    stop = stop or threading.Event()
    notifier = Notifier.from_env()
    notifier.status("opening the sensors")
    try:
        station = Station(config, fast=False)
    except BaseException:
        notifier.close()
        raise
    try:
        with Service(station, notifier=notifier, health_file=health_file) as service:
            inline = isinstance(station.acq, InlineAcquisition)
            deadline = time.monotonic() + FIRST_FRAME_TIMEOUT_S
            while station.rings.cells.written == 0 and not stop.is_set():
                if time.monotonic() > deadline:
                    raise SensorError("no load-cell frame within "
                                      f"{FIRST_FRAME_TIMEOUT_S:.0f} s of start")
                if inline:
                    station.acq.step()
                else:
                    stop.wait(0.01)
            if stop.is_set():               # told to stop while starting: never claim ready
                return 0
            service.ready()
            while not stop.is_set():
                if inline:
                    station.acq.step()      # paced by the sensors: one conversion per call
                else:
                    stop.wait(LOOP_PERIOD_S)
                    if not station.acq.alive():     # fail now rather than at the watchdog
                        raise SensorError("the acquisition process stopped; see the journal")
                service.tick()
    finally:
        station.close()
    return 0


def setup_logging(verbose: bool = False) -> None:
    """Log to stderr; under systemd (JOURNAL_STREAM set) with <N> priority prefixes so the
    journal keeps each record's level and adds its own timestamp."""
    level = logging.DEBUG if verbose else logging.INFO
    if os.environ.get("JOURNAL_STREAM"):
        handler = logging.StreamHandler()
        handler.setFormatter(_JournalFormatter("%(name)s: %(message)s"))
        logging.basicConfig(level=level, handlers=[handler])
    else:
        logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


_SYSLOG_PRIORITY = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3,
                    logging.CRITICAL: 2}


class _JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        prio = _SYSLOG_PRIORITY.get(record.levelno, 6)
        return "\n".join(f"<{prio}>{line}" for line in super().format(record).splitlines())


def load_config(args: argparse.Namespace) -> Config:
    cfg = config_mod.load(args.config)
    if getattr(args, "data_dir", None):
        cfg = cfg.with_changes("station", data_dir=str(args.data_dir))
    if getattr(args, "simulated", False):
        cfg = cfg.with_changes("station", source="simulated")
    if getattr(args, "inline", False):
        cfg = cfg.with_changes("station", acquisition_process=False)
    return cfg


def cmd_service(args: argparse.Namespace) -> int:
    """`station service`: the headless service main (sensors, watchdog, health; no screen)."""
    setup_logging(getattr(args, "verbose", False))
    cfg = load_config(args)
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        return run_headless(cfg, health_file=args.health_file, stop=stop)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def main(argv: list[str] | None = None) -> int:
    """`python -m station.service`: the same as `station service`."""
    from station.service.commands import add_service_arguments

    parser = argparse.ArgumentParser(prog="python -m station.service",
                                     description=cmd_service.__doc__)
    add_service_arguments(parser)
    args = parser.parse_args(argv)
    try:
        return cmd_service(args)
    except StationError as exc:
        print(f"station service: {exc}", file=sys.stderr)
        return 2
