"""`station demo`: a complete scripted visit with the virtual patient, headless.

Tare and calibrate the empty plate (a simulated technician places a 20 kg mass), the patient
steps on, then the visit a therapist would run: quiet stance eyes open / eyes closed, the
modified CTSIB, Limits of Stability, and two training games (target hold and rhythmic weight
shift) that adapt their difficulty. Every drill goes through the drill engine and the recorder
into one sealed session. It runs on a virtual clock (faster than real time) unless asked to run
in real time; the virtual patient does what each drill asks through the autopilot.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from station.analysis import sway
from station.config import Config
from station.drills import registry
from station.drills.base import Drill, DrillContext
from station.drills.challenge import LevelStore
from station.drills.runner import run_headless
from station.plate.model import PlateSamples, weight_bearing_left, weight_front
from station.runtime import Station
from station.session.recorder import SessionRecorder
from station.units import G

CALIBRATION_MASS_KG = 20.0


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
    """Clinician-unit summary of a stance recording: loaded samples, the analysis library's path
    length and velocity (Prieto), per-leg weight bearing between the footprints."""
    loaded = samples.loaded
    cop = samples.cop_m[loaded]
    if len(cop) < 3:
        nan = float("nan")
        return TrialSummary(name, nan, nan, nan, nan, nan, len(samples))
    fs = station.config.plate.sample_rate_hz
    return TrialSummary(
        name, float(np.mean(samples.total_force_n[loaded]) / G),
        float(np.mean(weight_bearing_left(cop[:, 0], station.geometry.foot_spacing_m)) * 100),
        float(np.mean(weight_front(cop[:, 1], station.geometry.span_ap_m)) * 100),
        float(sway.path_length(cop).planar) * 100,
        float(sway.mean_velocity(cop, fs).planar) * 100, len(samples))


def visit_plan(seconds: float, short: bool) -> list[tuple[str, dict[str, float]]]:
    """The drills of the scripted visit with their parameters (``short`` for quick checks)."""
    return [
        ("quiet_stance", {"duration_s": seconds}),
        ("mctsib", {"trials": 1.0 if short else 3.0, "rest_s": 2.0 if short else 10.0,
                    "foam_setup_s": 5.0 if short else 30.0}),
        ("limits_of_stability", {"rest_s": 2.0} if short else {}),
        ("target_hold", {"attempts": 6.0 if short else 15.0}),
        ("weight_shift", {"attempts": 6.0 if short else 12.0}),
    ]


def headline(drill: Drill) -> str:
    """One line of the scores a therapist looks at first."""
    s: dict[str, Any] = drill.scores()
    pick = {
        "quiet_stance": ("{weight:.1f} kg, left {left:.1f} %, velocity EO {v_eo:.2f} / EC "
                         "{v_ec:.2f} cm/s, Romberg (area) {romberg:.2f}"),
        "mctsib": "composite sway velocity {composite:.2f} cm/s",
        "limits_of_stability": ("reaction {rt:.2f} s, max excursion {mxe:.0f} %, directional "
                                "control {dcl:.0f} %"),
    }
    if drill.name == "quiet_stance":
        first = s["trials"][0]
        return pick["quiet_stance"].format(
            weight=first["weight_kg"], left=first["weight_left_pct"],
            v_eo=s["mean_velocity_cm_s_eyes_open"], v_ec=s["mean_velocity_cm_s_eyes_closed"],
            romberg=s["romberg_area"])
    if drill.name == "mctsib":
        return pick["mctsib"].format(composite=s["mean_velocity_cm_s_composite"])
    if drill.name == "limits_of_stability":
        return pick["limits_of_stability"].format(
            rt=s["reaction_time_s_composite"], mxe=s["max_excursion_pct_composite"],
            dcl=s["directional_control_pct_composite"])
    return (f"{s.get('success_rate', float('nan')) * 100:.0f} % success, level "
            f"{s.get('level_start', float('nan')):.2f} -> {s.get('level_end', float('nan')):.2f}")


def run_demo(config: Config, *, seconds: float = 30.0, patient_code: str = "DEMO-0001",
             therapist_id: str = "demo", impaired: bool = False, realtime: bool = False,
             short: bool = False, progress: Callable[[str], None] = print
             ) -> tuple[Path, list[tuple[Drill, str]]]:
    """Run the scripted visit; returns the sealed session folder and each drill's headline."""
    sim = config.simulation
    if impaired:
        config = config.with_changes("simulation", impairment="post_stroke")
    station = Station(config, fast=not realtime, patient_on_plate=False)
    levels = LevelStore(config.data_dir / "levels.json")
    try:
        progress("Calibrating the empty plate (simulated 20 kg reference mass)...")

        def place(mark: str, ml: float, ap: float) -> None:
            station.command("clear_masses")
            if mark:
                station.command("place_mass", CALIBRATION_MASS_KG, ml, ap)

        station.tare(force=True)
        station.calibrate(CALIBRATION_MASS_KG, place)
        progress("Patient steps on.")
        station.command("step_on")
        station.wait(3.0)
        recorder = SessionRecorder(config.data_dir / "sessions", station_id=config.station.id,
                                   patient_code=patient_code, therapist_id=therapist_id,
                                   calibration=station.calibration, geometry=station.geometry,
                                   clock=station.clock,
                                   fsync_interval_s=config.recording.fsync_interval_s,
                                   compress=config.recording.compress,
                                   source_kind=station.source_kind)
        context = DrillContext(body_mass_kg=sim.mass_kg, height_m=sim.height_m,
                               span_ml_m=config.plate.span_ml_m,
                               span_ap_m=config.plate.span_ap_m,
                               foot_spacing_m=config.plate.foot_spacing_m,
                               sample_rate_hz=config.plate.sample_rate_hz)
        results = []
        for name, params in visit_plan(seconds, short):
            cls = registry.get(name)
            if any(p.name == "level" for p in cls.params):
                params = {**params, "level": levels.get(patient_code, name)}
            drill = cls(context, **params)
            progress(f"Drill: {drill.title}")
            run_headless(drill, station, recorder=recorder)
            if drill.level is not None:
                levels.put(patient_code, name, drill.level)
            results.append((drill, headline(drill)))
        path = recorder.seal()
        health = station.health()
        if health.dropped:
            progress(f"note: {health.dropped} conversions were dropped")
        return path, results
    finally:
        station.close()
