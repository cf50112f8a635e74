"""The kiosk application: one loop of events, update and draw over the station's snapshots.

``App.step(events, dt)`` advances everything by ``dt`` seconds: on a virtual clock it first
lets the simulated station run that long, so tests and screenshots are deterministic and need no
sleeps. ``App.render()`` draws the current screen (cached static layer + dynamic parts) and
the fault banner. Nothing here waits on a sensor, a disk or the network: the rings are read
without blocking and every file write goes through the ``io`` worker thread.

An exception inside a screen never ends the app: it is logged (type and traceback only, never
a patient's code or name), a running drill is stopped and saved, and the app returns home
with a banner.
"""

from __future__ import annotations

import functools
import logging
import shutil
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pygame

from station import atomicio
from station.acquisition.runner import InlineAcquisition
from station.clock import VirtualClock, utc_now
from station.config import Config
from station.drills.challenge import LevelStore
from station.runtime import Station
from station.ui import faults, theme
from station.ui.audio import Audio
from station.ui.banner import Banner
from station.ui.calib import SteadyMeter
from station.ui.input import BUTTON_EVENT, PointerInput, Touch
from station.ui.live import LiveFeed, Snapshot
from station.ui.metrics import NormsProvider, file_norms
from station.ui.recording import RecorderProcess
from station.ui.screens import SCREENS
from station.ui.screens.base import Screen
from station.ui.settings import PinGuard, UiSettings
from station.ui.store import History, Patients, Result, read_levels, scan_sessions
from station.ui.text import Text
from station.ui.visit import Visit
from station.ui.worker import Worker

log = logging.getLogger(__name__)

UNLOCK_S = 300.0            # therapist mode ends after 5 min without a touch
DISK_CHECK_S = 10.0
CRASH_BANNER_S = 20.0


def is_simulated(config: Config, station: Station) -> bool:
    """Is a virtual patient on the plate (inline simulation, or the process's)?"""
    if station.simulation is not None:
        return True
    if station.source_kind != "process":
        return False
    from station.sensors.factory import hardware_present

    src = config.station.source
    return src == "simulated" or (src == "auto" and config.station.allow_simulation
                                  and not hardware_present(config))


class App:
    def __init__(self, config: Config, station: Station, surface: pygame.Surface, *,
                 audio: Audio | None = None, sync_status: faults.SyncProvider | None = None,
                 norms: NormsProvider | None = None,
                 disk_usage: Callable[[Path], Any] = shutil.disk_usage,
                 recorder: RecorderProcess | None = None, kiosk: bool = False) -> None:
        self.config = config
        self.station = station
        self.surface = surface
        self.layout = theme.Layout(*surface.get_size())
        self.text = Text()
        self.pointer = PointerInput(surface.get_size())
        self.kiosk = kiosk
        self.running = True
        self.t = 0.0                                   # app time (s), from the dt's
        self.simulated = is_simulated(config, station)
        self.imu_expected = config.imu.enabled or (self.simulated and
                                                   config.simulation.wobble_board)
        self.ui_dir = config.data_dir / "ui"
        self.io = Worker("io")
        self.recorder = recorder or RecorderProcess()
        self.loader = Worker("loader")
        self.settings = UiSettings.load(self.ui_dir / "settings.json")
        self.pin = PinGuard(self.settings, self.save_settings)
        self.audio = audio or Audio()
        self.audio.enabled = self.settings.sound
        self.audio.feedback_on = self.settings.biofeedback
        self.sync_status = sync_status or faults.unknown_sync
        self.sync = faults.SyncStatus()
        self.norms = norms or file_norms(config.data_dir / "norms.json")
        self.patients = Patients.load(self.ui_dir / "patients.json")
        self.history = History()
        self.history_loaded = False
        self._live_results: list[Result] = []
        self.levels: dict[str, dict[str, float]] = {}
        self.live = LiveFeed(station)
        self.snapshot: Snapshot = self.live.poll(0.0)
        self.visit: Visit | None = None
        self._visits: dict[str, Visit] = {}
        self.unlocked_until = -1.0
        self.faults: list[faults.Fault] = []
        self.write_error: BaseException | None = None
        self.free_bytes: int | None = None
        self._disk_usage = disk_usage
        self._next_disk = 0.0
        self._next_sync = 0.0
        self._crash: tuple[faults.Fault, float] | None = None
        self.banner = Banner(self.layout, self.text)
        self.crashes = 0                               # recoveries so far (tests, the log)
        self._pump_thread: threading.Thread | None = None
        self._pump_stop = threading.Event()
        self.auto_tare: SteadyMeter | None = None
        if self.simulated and not station.calibration.tared_utc:
            station.command("clear_masses")
            station.command("step_off")            # the virtual technician tares first
            self.auto_tare = SteadyMeter(station, timeout_s=60.0)
        self._start_pump()
        self.loader.submit(functools.partial(scan_sessions, config.data_dir / "sessions"),
                           self._history_loaded)
        self.loader.submit(functools.partial(read_levels, self.levels_path), self._levels_loaded)
        self.screen: Screen = SCREENS["home"](self)

    # ------------------------------------------------------------------ background data
    @property
    def levels_path(self) -> Path:
        return self.config.data_dir / "levels.json"

    def _history_loaded(self, h: History) -> None:
        known = {(r.session_id, r.drill, r.started_utc) for rs in h.by_patient.values()
                 for r in rs}
        for r in self._live_results:
            if (r.session_id, r.drill, r.started_utc) not in known:
                h.add(r)
        self.history = h
        self.history_loaded = True

    def _levels_loaded(self, levels: dict[str, dict[str, float]]) -> None:
        for code, by in levels.items():
            self.levels.setdefault(code, {}).update({k: v for k, v in by.items()
                                                     if k not in self.levels.get(code, {})})

    def add_result(self, r: Result, level: float | None) -> None:
        self._live_results.append(r)
        self.history.add(r)
        if level is not None:
            self.levels.setdefault(r.patient, {})[r.drill] = level
            store = LevelStore(self.levels_path)
            self.io.submit(functools.partial(store.put, r.patient, r.drill, level),
                           on_error=self._write_failed)

    def save_settings(self) -> None:
        data = self.settings.to_json()
        self.io.submit(functools.partial(atomicio.write_json, self.ui_dir / "settings.json", data),
                       on_error=self._write_failed)

    def save_patients(self) -> None:
        data = self.patients.to_json(keep_names=self.settings.show_names)
        self.io.submit(functools.partial(atomicio.write_json, self.ui_dir / "patients.json", data),
                       on_error=self._write_failed)

    def _write_failed(self, exc: BaseException) -> None:
        self.write_error = exc

    def _recorder_replies(self, replies: list[tuple[str, str, Any, int, str]]) -> None:
        for kind, vid, value, errno_, text in replies:
            visit = self._visits.get(vid)
            if kind == "opened" and visit is not None:
                visit.session_id = str(value)
            elif kind == "sealed":
                self._visits.pop(vid, None)
            elif kind == "error":
                exc = OSError(errno_, text) if errno_ else RuntimeError(f"{value}: {text}")
                if visit is not None:
                    visit.failed = exc
                self.write_error = exc

    def patient_label(self, code: str) -> str:
        p = self.patients.items.get(code)
        return f"{code} · {p.name}" if self.settings.show_names and p and p.name else code

    # ------------------------------------------------------------------ visits
    def start_visit(self, code: str) -> None:
        if self.visit is not None:
            self.end_visit()
        if code not in self.patients.items:
            self.patients.add(code, utc_now())
            self.save_patients()
        self.visit = Visit(code, self.config, self.station, self.recorder)
        self._visits[self.visit.id] = self.visit
        self.history.note_visit(code, self.visit.started_utc)
        if self.simulated:
            self.station.command("step_on")

    def end_visit(self) -> None:
        if self.visit is None:
            return
        self.visit.close(self.station.clock.monotonic_ns())
        self.visit = None
        if self.write_error is not None and not self._disk_full():
            self.write_error = None                # a new visit may write again
        if self.simulated:
            self.station.command("step_off")

    def _disk_full(self) -> bool:
        return self.free_bytes is not None and self.free_bytes < faults.FULL_DISK_BYTES

    # ------------------------------------------------------------------ navigation
    @property
    def unlocked(self) -> bool:
        return self.t < self.unlocked_until

    def unlock(self) -> None:
        self.unlocked_until = self.t + UNLOCK_S

    def lock(self) -> None:
        self.unlocked_until = -1.0

    def goto(self, name: str, **params: Any) -> None:
        cls = SCREENS[name]
        if cls.guarded and not self.unlocked:
            cls, params = SCREENS["pin"], {"then": (name, params)}
        old = self.screen
        self.screen = cls(self, **params)
        old.leave()
        if name == "home":
            self.lock()
            self.end_visit()

    def request_exit(self) -> None:
        self.running = False

    # ------------------------------------------------------------------ the loop
    def advance_station(self, dt: float) -> None:
        """Let the station run ``dt`` seconds when it runs on our clock (tests, screenshots)."""
        if isinstance(self.station.clock, VirtualClock) and dt > 0:
            self.station.wait(dt)

    def _start_pump(self) -> None:
        """Inline acquisition on the real clock steps itself on a thread (a laptop set-up
        without the acquisition process); the process mode needs nothing."""
        acq = self.station.acq
        if isinstance(acq, InlineAcquisition) and not isinstance(self.station.clock,
                                                                 VirtualClock):
            def pump() -> None:
                while not self._pump_stop.is_set():
                    acq.step()

            self._pump_thread = threading.Thread(target=pump, name="ui-acq", daemon=True)
            self._pump_thread.start()

    def step(self, events: list[pygame.event.Event], dt: float) -> None:
        """One frame's worth of work, before drawing it."""
        self.advance_station(dt)
        self.process(events, dt)

    def process(self, events: list[pygame.event.Event], dt: float) -> None:
        try:
            self._process(events, dt)
        except Exception as exc:
            self.recover(exc, "update")

    def _process(self, events: list[pygame.event.Event], dt: float) -> None:
        self.t += dt
        self.io.drain()
        self.loader.drain()
        self._recorder_replies(self.recorder.poll())
        snap = self.snapshot = self.live.poll(dt)
        self._housekeeping(snap, dt)
        for ev in events:
            if ev.type == pygame.QUIT and not self.kiosk:
                self.running = False
            elif ev.type == pygame.KEYDOWN and ev.key == pygame.K_ESCAPE and \
                    self.screen.name != "run":        # never stop a drill by a stray key
                self.goto("settings")
            elif ev.type == BUTTON_EVENT:
                self.screen.hardware_button(bool(getattr(ev, "long_press", False)))
        touches = self.pointer.translate(events)
        if self.screen.guarded:
            if touches:
                self.unlock()
            elif not self.unlocked:            # therapist mode timed out: log off
                self.goto("home")
        for t in touches:
            if not self._banner_touch(t):
                self.screen.touch(t)
        self.screen.update(dt, snap)

    def _housekeeping(self, snap: Snapshot, dt: float) -> None:
        if self.auto_tare is not None:
            state = self.auto_tare.feed(snap.cells, dt)
            if state == "steady" and self.auto_tare.mean_counts is not None:
                self.station.calibration = self.station.calibration.with_tare(
                    self.auto_tare.mean_counts)
                self.auto_tare = None
                if self.visit is not None:
                    self.station.command("step_on")
            elif state != "measuring":
                self.auto_tare = None
        if self.t >= self._next_disk:
            self._next_disk = self.t + DISK_CHECK_S
            data_dir, usage = self.config.data_dir, self._disk_usage

            def check() -> int:
                data_dir.mkdir(parents=True, exist_ok=True)
                return int(usage(data_dir).free)

            self.io.submit(check, self._disk_checked, self._write_failed)
        if self.t >= self._next_sync:
            self._next_sync = self.t + 1.0
            self.sync = self.sync_status()
            alive = getattr(self.recorder, "alive", None)
            if alive is not None and not alive() and self.write_error is None:
                log.error("the recorder process stopped")
                self.write_error = RuntimeError("the recorder stopped")
        self.faults = faults.evaluate(snap.health, silent_s=snap.silent_s,
                                      imu_expected=self.imu_expected, free_bytes=self.free_bytes,
                                      write_error=self.write_error, sync=self.sync)
        if self._crash is not None:
            if self.t < self._crash[1]:
                self.faults.append(self._crash[0])
            else:
                self._crash = None

    def _disk_checked(self, free: int) -> None:
        self.free_bytes = free

    def render(self) -> pygame.Surface:
        try:
            self.screen.draw(self.surface)
            self._draw_banner(self.surface)
        except Exception as exc:
            self.recover(exc, "draw")
            try:
                self.screen.draw(self.surface)
                self._draw_banner(self.surface)
            except Exception:
                log.exception("the home screen cannot draw")
                self.surface.fill(theme.BG)
                self.text.draw(self.surface, "Please restart the station", self.layout.font("big"),
                               theme.TEXT, self.surface.get_rect().center, "center")
        return self.surface

    # ------------------------------------------------------------------ faults
    def recover(self, exc: BaseException, where: str) -> None:
        """Log without patient data, stop a running drill safely, go home."""
        name = getattr(self.screen, "name", "?")
        log.error("screen %s failed in %s: %s\n%s", name, where, type(exc).__name__,
                  "".join(traceback.format_tb(exc.__traceback__)))
        self.crashes += 1
        try:
            self.screen.abandon()
        except Exception as exc2:
            log.error("could not stop the drill safely: %s", type(exc2).__name__)
        message = (f"Something went wrong on the {SCREENS.get(name, Screen).title or name} "
                   "screen: back to the start. It was logged.")
        self._crash = (faults.Fault("crash", message, error=False), self.t + CRASH_BANNER_S)
        self.faults = [*self.faults, self._crash[0]]
        try:
            self.goto("home")
        except Exception as exc3:
            log.error("home screen failed: %s", type(exc3).__name__)
            self.visit = None
            self.screen = Screen(self)

    def banner_faults(self) -> list[faults.Fault]:
        return self.banner.shown(self.faults, self.t)

    def _banner_touch(self, t: Touch) -> bool:
        return self.banner.touch(t, self.faults, self.t, self.screen.banner_rect())

    def _draw_banner(self, surf: pygame.Surface) -> None:
        self.banner.draw(surf, self.faults, self.t, self.screen)

    # ------------------------------------------------------------------ shutdown
    def close(self) -> None:
        try:
            self.screen.abandon()
        except Exception as exc:
            log.error("could not stop the drill at shutdown: %s", type(exc).__name__)
        self.end_visit()
        self._pump_stop.set()
        if self._pump_thread is not None:
            self._pump_thread.join(1.0)
        self.io.close()
        self.loader.close()
        self._recorder_replies(self.recorder.flush())
        self.recorder.close()
        self.audio.silence()

    def flush(self, timeout: float = 10.0) -> None:
        """Wait for the background jobs and deliver their results (tests, screenshots)."""
        self.io.flush(timeout)
        self.loader.flush(timeout)
        self._recorder_replies(self.recorder.flush(timeout))
        self.io.drain()
        self.loader.drain()
