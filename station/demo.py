"""`station demo`: a complete scripted visit with the virtual patient, headless.

Tare the empty plate, the patient steps on, quiet stance eyes open, then eyes closed; every
trial is recorded into a sealed session and a short summary is printed. It runs on a virtual
clock (faster than real time) unless asked to run in real time.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from station.analysis import sway
from station.config import Config
from station.plate.model import PlateSamples, weight_bearing_left, weight_front
from station.runtime import Station
from station.session.recorder import SessionRecorder
from station.sim.patient import PatientProfile

G = 9.80665


@dataclass(frozen=True)
class TrialSummary:
    name: str
    weight_kg: float
    weight_bearing_left_pct: float
    weight_front_pct: float
    path_length_cm: float
    mean_velocity_cm_s: float
    samples: int


def summarize(name: str, samples: PlateSamples, station: Station) -> TrialSummary:
    """Clinician-unit summary of a stance trial: loaded samples, the analysis library's path
    length and velocity (Prieto), per-leg weight bearing between the footprints."""
    loaded = samples.loaded
    cop = samples.cop_m[loaded]
    if len(cop) < 2:
        nan = float("nan")
        return TrialSummary(name, nan, nan, nan, nan, nan, len(samples))
    fs = station.config.plate.sample_rate_hz
    path = float(sway.path_length(cop).planar)
    return TrialSummary(
        name, float(np.mean(samples.total_force_n[loaded]) / G),
        float(np.mean(weight_bearing_left(cop[:, 0], station.geometry.foot_spacing_m)) * 100),
        float(np.mean(weight_front(cop[:, 1], station.geometry)) * 100),
        path * 100, float(sway.mean_velocity(cop, fs).planar) * 100, len(samples))


def _record_trial(station: Station, recorder: SessionRecorder, name: str, seconds: float,
                  conditions: dict[str, str], progress: Callable[[str], None]) -> TrialSummary:
    recorder.start_trial(name, "quiet_stance", conditions=conditions,
                         parameters={"duration_s": seconds},
                         sample_rate_hz=station.config.plate.sample_rate_hz)
    station.new_records()                          # start from now
    blocks = []
    elapsed, next_report = 0.0, 5.0
    while elapsed < seconds - 1e-9:
        chunk = min(0.25, seconds - elapsed)
        station.wait(chunk)
        elapsed += chunk
        blocks.append(recorder.record(station.new_records(), station.new_imu_records()))
        if elapsed >= next_report:
            progress(f"  {name}: {elapsed:.0f}/{seconds:.0f} s")
            next_report += 5.0
    samples = PlateSamples(*(np.concatenate([getattr(b, f.name) for b in blocks])
                             for f in dataclasses.fields(PlateSamples)))
    summary = summarize(name, samples, station)
    recorder.end_trial(scores={
        "path_length_cm": round(summary.path_length_cm, 3),
        "mean_velocity_cm_s": round(summary.mean_velocity_cm_s, 4),
        "weight_bearing_left_pct": round(summary.weight_bearing_left_pct, 2)})
    return summary


def run_demo(config: Config, *, seconds: float = 30.0, patient_code: str = "DEMO-0001",
             therapist_id: str = "demo", impaired: bool = False, realtime: bool = False,
             progress: Callable[[str], None] = print) -> tuple[Path, list[TrialSummary]]:
    """Run the scripted visit; returns the sealed session folder and the trial summaries."""
    if impaired:
        config = config.with_changes("simulation", sway_scale=2.0, weight_bearing_left=0.65,
                                     reaction_time_s=0.45)
    station = Station(config, fast=not realtime, patient_on_plate=False)
    try:
        progress("Taring the empty plate...")
        station.tare(force=True)
        progress("Patient steps on.")
        station.command("step_on")
        station.wait(3.0)
        station.new_records()
        recorder = SessionRecorder(config.data_dir / "sessions", station_id=config.station.id,
                                   patient_code=patient_code, therapist_id=therapist_id,
                                   calibration=station.calibration, geometry=station.geometry,
                                   clock=station.clock,
                                   fsync_interval_s=config.recording.fsync_interval_s,
                                   compress=config.recording.compress,
                                   source_kind=station.source_kind)
        summaries = []
        for name, eyes in (("quiet stance eyes open", False), ("quiet stance eyes closed", True)):
            station.command("set_conditions", eyes_closed=eyes)
            progress(f"Trial: {name} ({seconds:.0f} s)")
            summaries.append(_record_trial(station, recorder, name, seconds,
                                           {"vision": "closed" if eyes else "open",
                                            "surface": "firm"}, progress))
        path = recorder.seal()
        health = station.health()
        if health.dropped:
            progress(f"note: {health.dropped} conversions were dropped")
        return path, summaries
    finally:
        station.close()


__all__ = ["PatientProfile", "TrialSummary", "run_demo", "summarize"]
