"""Run a drill against the station's live samples without a screen (tests, `station demo`).

Feeds the drill blocks of plate samples on the sample clock, starts it as a therapist would,
optionally records everything into the session, and lets a ``patient`` callback act on what
the drill asks (in simulation, the virtual patient's autopilot does by default).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from station.drills.autopilot import Autopilot
from station.drills.base import Block, Display, Drill, Phase
from station.drills.recording import drill_parameters, save_drill_result
from station.runtime import Station
from station.session.recorder import SessionRecorder

G = 9.80665


def block_from_records(station: Station, records: np.ndarray, t0_ns: int,
                       imu: np.ndarray | None = None) -> Block:
    """Plate samples of ring records as a drill block; tilt interpolated onto sample times."""
    s = station.to_plate(records)
    tilt = None
    if imu is not None and len(imu) and len(records):
        t_imu = (imu["t_ns"] - t0_ns) / 1e9
        raw = station.board_tilt(imu)
        t = (records["t_ns"] - t0_ns) / 1e9
        tilt = np.column_stack([np.interp(t, t_imu, raw[:, 0]), np.interp(t, t_imu, raw[:, 1])])
    return Block((records["t_ns"] - t0_ns) / 1e9, s.cop_m, s.total_force_n, tilt)


def run_headless(drill: Drill, station: Station, *, step_s: float = 0.05,
                 patient: Callable[[Display, Drill], None] | None = None,
                 recorder: SessionRecorder | None = None, max_s: float = 1800.0,
                 restart_after_pause: bool = True) -> Drill:
    """Run ``drill`` to the end (or ``max_s`` of sample time)."""
    if patient is None and station.simulation is not None:
        patient = Autopilot(station.command, station.geometry.foot_spacing_m)
    t0 = station.clock.monotonic_ns()
    station.new_records()
    station.new_imu_records()
    with_imu = station.rings.imu.written > 0
    if recorder is not None:
        recorder.start_trial(drill.title, drill.name, parameters=drill_parameters(drill),
                             conditions=dict(drill.display().ask),
                             sample_rate_hz=station.config.plate.sample_rate_hz,
                             with_imu=with_imu)
    drill.start()
    if patient is not None:
        patient(drill.display(), drill)
    elapsed = 0.0
    while not drill.done and elapsed < max_s:
        station.wait(step_s)
        elapsed += step_s
        cells, imu = station.new_records(), station.new_imu_records()
        if recorder is not None:
            recorder.record(cells, imu)
        block = block_from_records(station, cells, t0, imu)
        drill.feed(block)
        shown = drill.display()
        if patient is not None:
            patient(shown, drill)
        if drill.phase is Phase.PAUSED and restart_after_pause and len(block.t_s):
            if np.nanmean(block.total_force_n[-8:]) > 0.9 * drill.context.body_mass_kg * G:
                drill.resume()
            elif station.simulation is not None:
                station.command("step_on")       # the virtual patient gets back on
                station.command("return_home")
    if recorder is not None:
        save_drill_result(recorder, drill, t0)
    return drill
