"""Challenge logic: the staircase, levels across sessions, the therapist's override, the level
-> knob maps, and convergence to the success band for virtual patients of different ability."""

from __future__ import annotations

import math

import numpy as np
import pytest
from test_drills_training import context_for, play

from station.drills.audio_feedback import AudioFeedback
from station.drills.base import Block, DrillContext
from station.drills.challenge import (
    LevelStore,
    Staircase,
    limits_of_stability,
    los_point,
)
from station.drills.path_tracing import PathTracing
from station.drills.target_hold import TargetHold
from station.drills.tilt_game import TiltGame
from station.drills.weight_shift import WeightShift
from station.drills.weight_training import WeightTraining
from station.sim.patient import PatientProfile


def test_staircase_default_steps_are_unchanged():
    s = Staircase(level=0.5)
    assert s.update(True) == pytest.approx(0.54)
    assert s.update(False) == pytest.approx(0.42)        # down = step * p / (1 - p)
    assert s.success_rate() == 0.5


def test_larger_first_steps_last_until_the_first_failure():
    s = Staircase(level=0.3, step=0.05, initial_step=0.1)
    levels = [s.update(ok) for ok in (True, True, False, True, True)]
    assert levels == pytest.approx([0.4, 0.5, 0.35, 0.4, 0.45])


def test_the_weighted_staircase_settles_where_three_attempts_in_four_succeed():
    """Against a known psychometric curve the staircase finds its 75 % point."""
    rng = np.random.default_rng(3)
    s = Staircase(level=0.1, step=0.02, initial_step=0.04)
    def p_success(level: float) -> float:
        return 1.0 / (1.0 + math.exp((level - 0.6) / 0.05))
    levels = []
    for _ in range(3000):
        levels.append(s.level)
        s.update(bool(rng.random() < p_success(s.level)))
    late = np.array(s.history[1000:])
    assert late.mean() == pytest.approx(0.75, abs=0.03)
    assert np.mean(levels[1000:]) == pytest.approx(0.6 - 0.05 * math.log(3), abs=0.03)


def test_theoretical_and_measured_limits_of_stability():
    ctx = DrillContext(body_mass_kg=70, height_m=1.70)
    fwd, back, side = limits_of_stability(ctx, {})
    h = 0.55 * 1.70
    assert (fwd, back, side) == pytest.approx((h * math.tan(math.radians(8)),
                                               h * math.tan(math.radians(4.5)),
                                               h * math.tan(math.radians(8))))
    measured = limits_of_stability(ctx, {"los_forward_cm": 10, "los_back_cm": 0,
                                         "los_side_cm": 12})
    assert measured == pytest.approx((0.10, back, 0.12))
    los = (0.10, 0.05, 0.12)
    assert los_point(los, math.pi / 2, 0.5) == pytest.approx((0.0, 0.05))
    assert los_point(los, -math.pi / 2, 1.0) == pytest.approx((0.0, -0.05))
    assert los_point(los, 0.0, 1.0) == pytest.approx((0.12, 0.0))
    x, y = los_point(los, math.radians(135), 0.8)
    assert (x / 0.12) ** 2 + (y / 0.10) ** 2 == pytest.approx(0.64)


# knob -> +1 when it must grow with the level (harder), -1 when it must shrink
KNOB_DIRECTIONS = [
    (TargetHold, {}, {"distance_frac": 1, "radius_m": -1, "hold_s": 1}),
    (TargetHold, {}, {"limit_s": 0}),
    (WeightShift, {}, {"amplitude_frac": 1, "period_s": -1, "radius_m": -1, "hold_s": 1}),
    (WeightTraining, {}, {"band_pct": -1, "hold_s": 1}),
    (PathTracing, {}, {"reach_frac": 1, "half_width_m": -1, "speed_m_s": 1, "hold_s": 1}),
    (TiltGame, {"mode": 0}, {"tolerance_rad": -1, "limit_s": 1}),
    (TiltGame, {"mode": 1}, {"distance_m": 1, "hole_radius_m": -1, "dead_zone_rad": -1,
                             "hold_s": 1}),
    (AudioFeedback, {}, {"quiet_zone_m": -1, "limit_s": 1}),
]


@pytest.mark.parametrize(("cls", "values", "expected"), KNOB_DIRECTIONS)
def test_the_level_makes_every_knob_harder(cls, values, expected):
    game = cls(context_for(PatientProfile()), **values)
    levels = np.linspace(0, 1, 11)
    for knob, direction in expected.items():
        series = np.array([game.knobs_at(lv)[knob] for lv in levels])
        if direction:
            assert np.all(direction * np.diff(series) > 0), knob
    if cls is TargetHold:   # less time to reach the target: the allowance beyond the hold shrinks
        reach = [game.knobs_at(lv)["limit_s"] - game.knobs_at(lv)["hold_s"] for lv in levels]
        assert np.all(np.diff(reach) < 0)


def ideal_patient(game, seconds: float, t0: float = 0.0) -> float:
    """Feed ``seconds`` of samples with the COP exactly where the game asks for it."""
    dt = 1 / 80
    for _ in range(round(seconds / 0.05)):
        t = t0 + dt * np.arange(1, 5)
        t0 = float(t[-1])
        aim = game.display().ask.get("lean_to_m") or (0.0, 0.0)
        game.feed(Block(t, np.tile(aim, (4, 1)), np.full(4, 686.0)))
    return t0


def test_a_session_starts_from_the_last_level_and_the_therapist_can_override(tmp_path):
    store = LevelStore(tmp_path / "levels.json")
    ctx = context_for(PatientProfile())
    first = TargetHold(ctx, level=store.get("P-1", "target_hold"), attempts=4)
    assert first.level == 0.3
    first.start()
    ideal_patient(first, 40)
    assert first.done and all(a["success"] for a in first.attempts)
    assert first.level == pytest.approx(0.7)              # four successes, fast first steps
    store.put("P-1", "target_hold", first.level)

    second = TargetHold(ctx, level=store.get("P-1", "target_hold"), attempts=6)
    assert second.display().level == pytest.approx(0.7)
    second.start()
    t = ideal_patient(second, 8)
    assert second.attempts[0]["level"] == pytest.approx(0.7)
    second.set_level(0.2, adaptive=False)                 # the therapist steps in
    t = ideal_patient(second, 60, t)
    later = [a["level"] for a in second.attempts[1:] if a["t_start_s"] > 8]
    assert later and all(lv == pytest.approx(0.2) for lv in later)
    assert second.level == pytest.approx(0.2)
    ev = next(e for e in second.events if e.kind == "level_set_by_therapist")
    assert ev.detail == {"level": 0.2, "adaptive": False}
    scores = second.scores()
    assert scores["set_by_therapist"] and not scores["adaptive"]
    assert scores["level_start"] == pytest.approx(0.7) and scores["level_end"] == 0.2


# ---------------------------------------------------------------------- convergence
#: Three virtual patients of decreasing ability: sway, reaction time, movement time.
ABILITIES = {
    "able": PatientProfile(sway_scale=1.0, reaction_time_s=0.2, movement_time_s=0.8),
    "middling": PatientProfile(sway_scale=1.6, reaction_time_s=0.35, movement_time_s=1.2),
    "unsteady": PatientProfile(sway_scale=2.5, reaction_time_s=0.5, movement_time_s=1.6),
}


def test_adaptive_difficulty_converges_to_the_success_band_within_20_attempts(config):
    """Convergence, defined: every patient starts a first session at the default level 0.3 and
    plays 20 target-catch attempts, each a full headless run of the virtual patient obeying the
    game (success or failure is what the simulated body did). Converged means, per patient:
    the success rate of attempts 11-20 lies in 0.6-0.9 (the 70-80 % band, give or take one
    attempt in ten), and the level stays within a band of 0.35 over those attempts (it no
    longer climbs or falls). And the ability shows: the level it settles at (the mean over
    attempts 11-20) is higher for the abler patient."""
    settled = {}
    for name, profile in ABILITIES.items():
        drill, _, _ = play(config, TargetHold, profile, level=0.3, attempts=20)
        levels = np.array([a["level"] for a in drill.attempts])
        success = np.array([a["success"] for a in drill.attempts])
        late = slice(10, 20)
        assert 0.6 <= success[late].mean() <= 0.9, (name, success.astype(int))
        assert np.ptp(levels[late]) <= 0.35 + 1e-9, (name, levels)
        assert drill.scores()["success_rate_last_10"] == pytest.approx(success[late].mean())
        settled[name] = levels[late].mean()
    assert settled["able"] > settled["middling"] > settled["unsteady"], settled
