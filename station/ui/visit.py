"""A patient's visit and the drills run in it, independent of how they are drawn.

``Visit`` is one patient's session; the recorder process (``recording.py``) writes it, so no
file write ever runs in the frame loop. If a write fails (disk full), the visit stops
recording, the UI shows the error and the session is sealed as interrupted at the end.

``DrillRun`` feeds one drill from the live snapshots, records its samples in 0.25 s batches,
plays its cues, lets the virtual patient's autopilot act in simulation and, when the drill
ends, saves its result and adds it to the history.
"""

from __future__ import annotations

import logging
import math
import secrets
from collections.abc import Callable
from typing import Any

import numpy as np

from station.clock import utc_now
from station.config import Config
from station.drills.autopilot import Autopilot
from station.drills.base import Display, Drill, DrillContext, Phase
from station.drills.recording import drill_parameters
from station.drills.runner import block_from_records
from station.runtime import Station
from station.ui.live import Snapshot
from station.ui.recording import DrillOutcome, RecorderProcess
from station.ui.store import Result

log = logging.getLogger(__name__)
RECORD_BATCH_S = 0.25


class Visit:
    """One patient's session; the recorder process does the writing."""

    def __init__(self, code: str, config: Config, station: Station,
                 recorder: RecorderProcess) -> None:
        self.code = code
        self.id = secrets.token_hex(6)
        self.session_id = f"pending-{self.id}"
        self.started_utc = utc_now()
        self.failed: BaseException | None = None
        self.trials = 0
        self._rec = recorder
        cfg = config
        self._send("open", station.clock.monotonic_ns(), dict(
            sessions_dir=cfg.data_dir / "sessions", station_id=cfg.station.id,
            patient_code=code, therapist_id="", calibration=station.calibration,
            geometry=station.geometry, fsync_interval_s=cfg.recording.fsync_interval_s,
            compress=cfg.recording.compress, source_kind=station.source_kind))

    def _send(self, op: str, t_ns: int, args: Any) -> None:
        self._rec.send(self.id, op, t_ns, args)

    def start_trial(self, drill: Drill, t0_ns: int, sample_rate_hz: float,
                    with_imu: bool) -> None:
        self.trials += 1
        kwargs = dict(parameters=drill_parameters(drill), conditions=dict(drill.ask()),
                      sample_rate_hz=sample_rate_hz, with_imu=with_imu)
        self._send("start_trial", t0_ns, ((drill.title, drill.name), kwargs))

    def record(self, cells: np.ndarray, imu: np.ndarray | None, t_ns: int) -> None:
        self._send("record", t_ns, (cells, imu))

    def finish_trial(self, drill: Drill, scores: dict[str, Any], t0_ns: int, t_ns: int) -> None:
        outcome = DrillOutcome(list(drill.events), dict(scores), drill.level, drill.done,
                               drill.name)
        self._send("finish", t_ns, (outcome, t0_ns))

    def close(self, t_ns: int) -> None:
        """Seal the session (the recorder does it; the UI goes on at once)."""
        self._send("close", t_ns, None)


def drill_context(config: Config, station: Station, weight_kg: float | None,
                  simulated: bool) -> DrillContext:
    """The drill's view of the patient: measured weight when on the plate."""
    sim = config.simulation
    g = station.geometry
    mass = weight_kg if weight_kg else sim.mass_kg
    return DrillContext(body_mass_kg=mass, height_m=sim.height_m if simulated else 1.70,
                        span_ml_m=g.span_ml_m, span_ap_m=g.span_ap_m,
                        foot_spacing_m=g.foot_spacing_m,
                        sample_rate_hz=float(config.plate.sample_rate_hz),
                        max_tilt_rad=math.radians(config.imu.max_tilt_deg))


class DrillRun:
    """One drill, start to results."""

    def __init__(self, drill: Drill, *, station: Station, visit: Visit | None,
                 play: Callable[[str], None], simulated: bool, now_ns: int) -> None:
        self.drill = drill
        self.station = station
        self.visit = visit
        self.play = play
        self.simulated = simulated
        self.autopilot = (Autopilot(station.command, station.geometry.foot_spacing_m)
                          if simulated else None)
        self.t0_ns = now_ns
        self._t: list[np.ndarray] = []
        self._cop: list[np.ndarray] = []
        self._batch: list[tuple[np.ndarray, np.ndarray]] = []
        self._batch_s = 0.0
        self._helped_at = -1
        self.display: Display = drill.display()
        self.scores: dict[str, Any] | None = None
        self.result: Result | None = None
        with_imu = station.rings.imu.written > 0
        if visit is not None:
            visit.start_trial(drill, now_ns, station.config.plate.sample_rate_hz, with_imu)
        self._after_display()

    @property
    def done(self) -> bool:
        return self.scores is not None

    def update(self, snap: Snapshot, dt: float) -> Display:
        if len(snap.cells):
            block = block_from_records(self.station, snap.cells, self.t0_ns, snap.imu)
            self._t.append(block.t_s)
            self._cop.append(block.cop_m)
            self.drill.feed(block)
            self._batch.append((snap.cells, snap.imu))
        self._batch_s += dt
        if self._batch_s >= RECORD_BATCH_S:
            self.flush(snap.now_ns)
        self.display = self.drill.display()
        self._after_display()
        return self.display

    def _after_display(self) -> None:
        d = self.display
        for name in d.sounds:
            self.play(name)
        if self.autopilot is not None:
            self.autopilot(d, self.drill)
            events = self.drill.events
            if d.phase is Phase.PAUSED and events and self._helped_at != len(events) and \
                    events[-1].kind in ("step_off", "loss_of_balance"):
                self._helped_at = len(events)       # the virtual patient gets back on
                self.station.command("step_on")
                self.station.command("return_home")

    def flush(self, now_ns: int) -> None:
        self._batch_s = 0.0
        if not self._batch or self.visit is None:
            self._batch = []
            return
        cells = np.concatenate([c for c, _ in self._batch])
        imus = [i for _, i in self._batch if len(i)]
        imu = np.concatenate(imus) if imus else None
        self._batch = []
        self.visit.record(cells, imu, now_ns)

    def command(self, what: str, reason: str = "pause") -> None:
        d = self.drill
        if what == "start":
            d.start()
        elif what == "pause":
            d.pause(reason)
        elif what == "resume":
            d.resume()
        elif what == "stop":
            d.stop()
        self.display = d.display()
        self._after_display()

    def finish(self, now_ns: int, patient: str | None) -> Result | None:
        """The drill is done (or stopped): score it, save it, remember it."""
        if self.scores is not None:
            return self.result
        self.flush(now_ns)
        try:
            self.scores = self.drill.scores()
        except Exception as exc:           # a drill that cannot score a stopped run
            log.warning("drill %s could not score: %s", self.drill.name, type(exc).__name__)
            self.scores = {}
        complete = self.drill.done and not any(e.kind == "stopped" for e in self.drill.events)
        if self.visit is not None:
            self.visit.finish_trial(self.drill, self.scores, self.t0_ns, now_ns)
        if patient is not None and self.visit is not None:
            scores = dict(self.scores)
            scores["level"] = self.drill.level
            self.result = Result(patient, self.visit.session_id, utc_now(),
                                 self.drill.name, self.drill.title, scores, complete)
        return self.result

    @property
    def complete(self) -> bool:
        return self.result is not None and self.result.complete

    def samples(self) -> tuple[np.ndarray, np.ndarray]:
        if not self._t:
            return np.empty(0), np.empty((0, 2))
        return np.concatenate(self._t), np.concatenate(self._cop)

    def trial_traces(self) -> list[tuple[str, np.ndarray]]:
        """COP of each completed trial: between its trial_start and trial_end events."""
        t, cop = self.samples()
        starts: dict[int, float] = {}
        out = []
        scored = (self.scores or {}).get("trials")
        for ev in self.drill.events:
            k = ev.detail.get("trial")
            if ev.kind == "trial_start":
                starts[k] = ev.t_s
            elif ev.kind == "trial_end" and k in starts:
                sel = (t >= starts[k]) & (t < ev.t_s)
                trace = cop[sel]
                trace = trace[~np.isnan(trace).any(axis=1)]
                name = f"Trial {int(k) + 1}" if isinstance(k, int) else "Trial"
                if isinstance(scored, list) and isinstance(k, int) and k < len(scored) and \
                        isinstance(scored[k], dict) and scored[k].get("vision"):
                    name = f"Eyes {scored[k]['vision']}"
                out.append((name, trace))
        return out
