"""The assessments as the clinic runs them: a virtual patient, a drill, a result.

Each drill runs headless to completion against a healthy virtual patient and against an impaired
one (PatientProfile.impaired(): sway x2, 65/35 stance, 0.45 s reactions, slow movements, leans
capped at 70 % of the limits of stability), faster than real time, and the scores differ in the
expected direction. Trial lengths are cut to the shortest the parameters allow.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace

import numpy as np
import pytest

from station.drills import registry
from station.drills.autopilot import Autopilot
from station.drills.base import Block, Drill, DrillContext, DrillError, Phase
from station.drills.limits_of_stability import LimitsOfStabilityTest, los_distance_m
from station.drills.mctsib import MCTSIB
from station.drills.runner import run_headless
from station.drills.single_leg import SingleLegStance, foot_down
from station.drills.weight_bearing import WeightBearingSymmetry
from station.drills.wobble_stability import WobbleStability
from station.runtime import Station
from station.sim.patient import PatientProfile, VirtualPatient

HEALTHY, IMPAIRED = PatientProfile(), PatientProfile.impaired()
ASSESSMENTS = (MCTSIB, SingleLegStance, LimitsOfStabilityTest, WeightBearingSymmetry,
               WobbleStability)
G = 9.80665


def context(config) -> DrillContext:
    return DrillContext(body_mass_kg=config.simulation.mass_kg,
                        height_m=config.simulation.height_m, span_ml_m=config.plate.span_ml_m,
                        span_ap_m=config.plate.span_ap_m,
                        foot_spacing_m=config.plate.foot_spacing_m,
                        sample_rate_hz=config.plate.sample_rate_hz)


def on_plate(config, profile: PatientProfile, *, wobble_board: bool = False) -> Station:
    """A calibrated plate (tare and a 20 kg mass at five marks, as at commissioning) with this
    patient stepping on (onto the wobble board, which stands like foam, if asked). Uncalibrated,
    the cells' offsets and gains would move the COP by up to a centimetre: 5 % of weight
    bearing."""
    cfg = config.with_changes("simulation", wobble_board=wobble_board)
    station = Station(cfg, fast=True, patient_on_plate=False)
    sim = station.simulation

    def place(mark: str, ml: float, ap: float) -> None:
        sim.clear_masses()
        if mark:
            sim.place_mass(20.0, ml, ap)

    station.calibrate(20.0, place)
    if wobble_board:
        profile = replace(profile, surface="foam")
    patient = VirtualPatient(profile, seed=cfg.simulation.seed)
    patient.advance_to(sim.sim_time_s())
    sim.patient = patient
    station.wait(2.0)
    return station


def assess(config, drill_cls: type[Drill], profile: PatientProfile, *,
           wobble_board: bool = False, **params: float) -> tuple[Drill, VirtualPatient]:
    """Run the drill to the end with the autopilot; ``drill.shown`` keeps every prompt."""
    station = on_plate(config, profile, wobble_board=wobble_board)
    drill = drill_cls(context(config), **params)
    autopilot = Autopilot(station.command, config.plate.foot_spacing_m)
    shown: list[str] = []

    def patient(display, d) -> None:
        if not shown or shown[-1] != display.prompt:
            shown.append(display.prompt)
        autopilot(display, d)

    wall = time.perf_counter()
    run_headless(drill, station, patient=patient)
    wall = time.perf_counter() - wall
    drill.shown = shown                                # type: ignore[attr-defined]
    patient = station.simulation.patient
    station.close()
    assert drill.done, drill.prompt
    json.dumps(drill.scores(), allow_nan=False, sort_keys=True)   # the session can store them
    assert wall < drill.t_s, f"{drill.name}: {wall:.1f} s of wall time for {drill.t_s:.0f} s"
    return drill, patient


# ---------------------------------------------------------------------- declarations
def test_each_assessment_declares_itself_and_bounds_its_parameters(config):
    drills = registry.available()
    for cls in ASSESSMENTS:
        assert drills[cls.name] is cls and cls.kind == "assessment"
        assert all(p.lo <= p.default <= p.hi for p in cls.params)
    with pytest.raises(DrillError, match=r"duration_s = 40 s is outside 10\.0-30\.0"):
        MCTSIB(context(config), duration_s=40)
    drill = LimitsOfStabilityTest(context(config))
    # 1.70 m patient, COM at 0.935 m: 8 deg forward = 13.1 cm, 4.5 deg back = 7.4 cm
    assert np.hypot(*drill.target_m(0)) == pytest.approx(0.1314, abs=5e-4)
    assert np.hypot(*drill.target_m(4)) == pytest.approx(0.0736, abs=5e-4)
    assert np.hypot(*LimitsOfStabilityTest(context(config), target_pct=75).target_m(2)) == \
        pytest.approx(0.75 * los_distance_m(0.0, 1.70))


# ---------------------------------------------------------------------- mCTSIB
def test_mctsib_impaired_patient_sways_faster_in_every_condition(config):
    healthy, patient = assess(config, MCTSIB, HEALTHY, rest_s=2, foam_setup_s=5)
    impaired, _ = assess(config, MCTSIB, IMPAIRED, trials=1, rest_s=2, foam_setup_s=5)
    h, i = healthy.scores(), impaired.scores()
    # standard procedure: 3 trials in each of the 4 conditions, firm before foam
    assert [(t["surface"], t["vision"]) for t in h["trials"]] == \
        [(s, v) for s in ("firm", "foam") for v in ("open", "closed") for _ in range(3)]
    foam = next(i for i, p in enumerate(healthy.shown) if "foam pad" in p)
    assert "eyes closed" in healthy.shown[foam - 1]   # asked for after firm, eyes closed
    assert patient.profile.surface == "foam"          # and the autopilot laid the pad
    conditions = ("firm_eyes_open", "firm_eyes_closed", "foam_eyes_open", "foam_eyes_closed")
    velocity = [h[f"mean_velocity_cm_s_{c}"] for c in conditions]
    assert h["mean_velocity_cm_s_composite"] == pytest.approx(np.mean(velocity))
    assert velocity == sorted(velocity)               # each condition harder than the last
    assert h["romberg_velocity_firm"] > 1.0 and i["romberg_velocity_foam"] > 1.0
    for c in conditions:
        assert i[f"mean_velocity_cm_s_{c}"] > 1.5 * h[f"mean_velocity_cm_s_{c}"]
        assert h[f"falls_{c}"] == i[f"falls_{c}"] == 0
    assert i["mean_velocity_cm_s_composite"] > 1.5 * h["mean_velocity_cm_s_composite"]


# ---------------------------------------------------------------------- single-leg stance
def test_single_leg_impaired_patient_touches_down_early_on_both_legs(config):
    healthy, _ = assess(config, SingleLegStance, HEALTHY, trials=1, duration_s=20, rest_s=2)
    impaired, patient = assess(config, SingleLegStance, IMPAIRED, trials=1, duration_s=20,
                               rest_s=2)
    h, i = healthy.scores(), impaired.scores()
    assert [t["stance"] for t in h["trials"]] == ["left", "right"]
    for side in ("left", "right"):                   # healthy: holds (almost) every time
        assert h[f"time_held_s_{side}"] > 15.0 and h[f"touchdowns_{side}"] <= 1
        assert i[f"sway_velocity_cm_s_{side}"] > 1.5 * h[f"sway_velocity_cm_s_{side}"]
    # the right leg is the one the 65/35 patient spares: it holds it least
    assert i["time_held_s_right"] < 10.0 and i["touchdowns_right"] >= 1
    assert i["touchdowns_left"] + i["touchdowns_right"] >= 2
    # every touch-down the drill saw on the plate is one the virtual patient made
    seen = [e for e in impaired.events if e.kind == "touch_down"]
    assert len(seen) == i["touchdowns_left"] + i["touchdowns_right"] <= patient.touchdowns


def test_foot_down_hysteresis_ignores_sway_under_the_stance_foot():
    share = np.array([0.5, 0.3, 0.05, 0.2, 0.15, 0.3, 0.2, 0.05, np.nan, 0.12])
    down = foot_down(share, carry=True)
    assert down.tolist() == [True, True, False, False, False, True, True, False, False, False]


# ---------------------------------------------------------------------- limits of stability
def test_los_impaired_patient_reaches_less_far_and_reacts_later(config):
    healthy, _ = assess(config, LimitsOfStabilityTest, HEALTHY, duration_s=4, rest_s=2)
    impaired, _ = assess(config, LimitsOfStabilityTest, IMPAIRED, duration_s=4, rest_s=2)
    h, i = healthy.scores(), impaired.scores()
    names = [r["direction"] for r in h["directions"]]
    assert names == ["forward", "forward_right", "right", "back_right", "back", "back_left",
                     "left", "forward_left"]
    # the healthy patient reaches its limits (its first stop overshoots them a little)
    assert 85.0 < h["endpoint_excursion_pct_composite"] < 130.0
    assert h["directional_control_pct_composite"] > 85.0
    assert i["endpoint_excursion_pct_composite"] < h["endpoint_excursion_pct_composite"] - 20
    assert i["max_excursion_pct_composite"] < h["max_excursion_pct_composite"] - 15
    assert i["reaction_time_s_composite"] > h["reaction_time_s_composite"] + 0.1
    assert i["movement_velocity_deg_s_composite"] < 0.7 * h["movement_velocity_deg_s_composite"]
    assert i["directional_control_pct_composite"] < h["directional_control_pct_composite"]
    for name in names:                                # every direction measured, no falls
        assert h[f"reaction_time_s_{name}"] is not None
        assert i[f"reaction_time_s_{name}"] is not None
    assert h["falls"] == i["falls"] == 0


# ---------------------------------------------------------------------- weight bearing
def test_weight_bearing_shows_the_65_35_stance_standing_and_in_squats(config):
    healthy, _ = assess(config, WeightBearingSymmetry, HEALTHY, static_s=10, reps=3, rest_s=2)
    impaired, _ = assess(config, WeightBearingSymmetry, IMPAIRED, static_s=10, reps=3,
                         rest_s=2)
    h, i = healthy.scores(), impaired.scores()
    # sway moves a 10 s mean by a few %: healthy 45-55 % is symmetric loading clinically
    assert h["weight_bearing_left_pct_static"] == pytest.approx(50.0, abs=5.0)
    assert h["symmetry_pct_static"] > 80.0
    assert i["weight_bearing_left_pct_static"] == pytest.approx(65.0, abs=6.0)
    assert i["symmetry_pct_static"] < 65.0
    for result in (h, i):
        assert result["squats_detected"] == 3
        assert 18.0 < result["squat_depth_cm"] < 30.0      # the patient drops its COM 25 cm
        assert result["peak_force_pct_bw_rising"] > 100.0
    for phase in ("lowering", "rising"):
        assert h[f"symmetry_pct_{phase}"] > 80.0
        assert i[f"weight_bearing_left_pct_{phase}"] > 58.0    # the right leg stays spared
        assert i[f"symmetry_pct_{phase}"] < h[f"symmetry_pct_{phase}"] - 25


# ---------------------------------------------------------------------- wobble board
def test_wobble_board_impaired_patient_has_higher_stability_index(config):
    # On this board (about 4 deg of tilt per cm of COP) the x2-sway patient bottoms it out in
    # most trials, which the test scores as falls (see the fault tests); a moderately impaired
    # patient (x1.5 sway, 65/35, slow) completes it and is compared here.
    moderate = PatientProfile.impaired(sway_scale=1.5)
    healthy, _ = assess(config, WobbleStability, HEALTHY, wobble_board=True, duration_s=10,
                        rest_s=2)
    impaired, _ = assess(config, WobbleStability, moderate, wobble_board=True, duration_s=10,
                         rest_s=2)
    h, i = healthy.scores(), impaired.scores()
    assert h["trials_completed"] == 3 and h["falls"] == 0
    assert i["trials_completed"] >= 2
    for axis in ("overall", "ap", "ml"):
        assert i[f"stability_index_{axis}_deg"] > 1.3 * h[f"stability_index_{axis}_deg"]
    assert h["zone_a_pct"] > i["zone_a_pct"] + 15
    zones = [h[f"zone_{z}_pct"] for z in ("a", "b", "c", "d", "beyond")]
    assert sum(zones) == pytest.approx(100.0)


def test_wobble_test_without_board_tilt_says_so(config):
    drill, _ = assess(config, WobbleStability, HEALTHY, duration_s=10)
    assert drill.scores()["stability_index_overall_deg"] is None
    assert "No wobble-board tilt" in drill.prompt
    assert [e.kind for e in drill.events][-1] == "no_board_tilt"


# ---------------------------------------------------------------------- safety
def standing(t: np.ndarray, drill: Drill) -> Block:
    """Quiet standing as a drill expects it (on one foot for single-leg stance)."""
    ml = -0.1 if isinstance(drill, SingleLegStance) else 0.0
    rng = np.random.default_rng(3)
    cop = np.column_stack([ml + rng.normal(0, 0.003, len(t)), rng.normal(0, 0.004, len(t))])
    tilt = 7.0 * cop if isinstance(drill, WobbleStability) else None
    return Block(t, cop, np.full(len(t), 686.0), tilt)


FAULTS = [(cls, fault) for cls in ASSESSMENTS for fault in ("step_off", "loss_of_balance")]
FAULTS.append((WobbleStability, "board_bottomed_out"))


@pytest.mark.parametrize(("cls", "fault"), FAULTS, ids=[f"{c.name}-{f}" for c, f in FAULTS])
def test_a_fault_pauses_the_trial_within_0_3_s_of_sample_time(config, cls, fault):
    drill = cls(context(config))
    drill.start()
    t = np.arange(0.0, drill.countdown_s + 3.0, 1 / 80)
    block = standing(t, drill)
    t_fault = drill.countdown_s + 2.0                 # mid-trial (LOS: after the cue)
    after = t >= t_fault
    if fault == "step_off":
        block.total_force_n[after] = np.linspace(300.0, 0.0, after.sum())
    elif fault == "loss_of_balance":
        block.cop_m[after, 1] = 0.195
    else:
        block.tilt_rad[after] = (0.0, math.radians(20.0))
    drill.feed(block)
    event = next(e for e in drill.events if e.kind == fault)
    assert t_fault <= event.t_s <= t_fault + 0.3
    assert drill.phase is Phase.PAUSED
    if cls is WeightBearingSymmetry:      # not a balance test: the part is repeated
        assert drill.trial_index == 0
    else:                                 # a balance test: the trial is scored as a fall
        assert drill.trial_index == 1
        drill.resume()
        assert drill.phase is Phase.COUNTDOWN


def test_stepping_off_on_one_leg_ends_that_trial_and_the_test_goes_on(config):
    station = on_plate(config, HEALTHY)
    drill = SingleLegStance(context(config), trials=1, duration_s=20, rest_s=2)
    autopilot = Autopilot(station.command, config.plate.foot_spacing_m)
    blocks: list[Block] = []
    feed = drill.feed

    def recorded(block: Block) -> None:
        blocks.append(block)
        feed(block)

    drill.feed = recorded                              # type: ignore[method-assign]

    def patient(display, d) -> None:
        autopilot(display, d)
        if d.phase is Phase.RUNNING and d.trial_index == 0 and d.t_s > 14.0 and \
                not any(e.kind == "step_off" for e in d.events):
            station.command("step_off")

    run_headless(drill, station, patient=patient)
    station.close()
    assert drill.done
    t = np.concatenate([b.t_s for b in blocks])
    force = np.concatenate([b.total_force_n for b in blocks])
    unloaded = t[np.nan_to_num(force) < 0.5 * 70 * G][0]
    event = next(e for e in drill.events if e.kind == "step_off")
    assert unloaded <= event.t_s <= unloaded + 0.3
    left, right = drill.scores()["trials"]
    assert left["fall"] == "step_off" and right["fall"] is None
    start = next(e.t_s for e in drill.events if e.kind == "trial_start")
    assert left["time_held_s"] == pytest.approx(event.t_s - start, abs=0.05)
    assert right["time_held_s"] == pytest.approx(20.0, abs=0.1)
