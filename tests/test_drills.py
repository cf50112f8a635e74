"""Drills headless against the virtual patient, on the sample clock."""

from __future__ import annotations

import numpy as np
import pytest

from station.drills import registry
from station.drills.base import Block, DrillContext, DrillError, Phase
from station.drills.quiet_stance import QuietStance
from station.drills.runner import run_headless
from station.runtime import Station


def context(config) -> DrillContext:
    sim = config.simulation
    return DrillContext(body_mass_kg=sim.mass_kg, height_m=sim.height_m)


def run_quiet_stance(config, **sim_changes):
    cfg = config.with_changes("simulation", **sim_changes) if sim_changes else config
    station = Station(cfg, fast=True)
    station.wait(2.0)
    drill = QuietStance(context(cfg), duration_s=20)
    run_headless(drill, station)           # the autopilot closes the eyes when asked
    station.close()
    return drill


def test_registry_lists_the_drill_and_refuses_bad_parameters(config):
    assert "quiet_stance" in registry.available()
    with pytest.raises(DrillError, match=r"duration_s = 5 s is outside 10\.0-60\.0"):
        QuietStance(context(config), duration_s=5)
    with pytest.raises(DrillError, match="unknown parameter"):
        QuietStance(context(config), speed=1)


def test_quiet_stance_romberg_healthy_vs_impaired(config):
    healthy = run_quiet_stance(config)
    impaired = run_quiet_stance(config, sway_scale=2.0, weight_bearing_left=0.65)
    h, i = healthy.scores(), impaired.scores()
    assert healthy.done and [t["vision"] for t in h["trials"]] == ["open", "closed"]
    assert h["romberg_path_length"] > 1.0 and h["romberg_area"] > 1.0
    assert i["path_length_cm_eyes_open"] > 1.5 * h["path_length_cm_eyes_open"]
    assert i["ellipse_area_95_cm2_eyes_open"] > 2 * h["ellipse_area_95_cm2_eyes_open"]
    kinds = [e.kind for e in healthy.events]
    assert kinds.count("trial_start") == 2 and kinds.count("trial_end") == 2


def test_step_off_pauses_the_trial_within_0_3_s(config):
    station = Station(config, fast=True)
    station.wait(2.0)
    drill = QuietStance(context(config), duration_s=20)
    stepped = {}

    def step_off_midway(display, d):
        if d.phase is Phase.RUNNING and d.t_s > 8.0 and not stepped:
            station.command("step_off")
            stepped["t"] = d.t_s

    run_headless(drill, station, patient=step_off_midway, max_s=12.0,
                 restart_after_pause=False)
    station.close()
    assert drill.phase is Phase.PAUSED
    ev = next(e for e in drill.events if e.kind == "step_off")
    # the load falls below half the body weight 0.25 s after the step starts; then 0.1 s hold
    assert ev.t_s - stepped["t"] <= 0.3 + 0.25 + 0.05
    assert "Step back on" in drill.prompt


def test_loss_of_balance_is_detected_within_0_3_s_of_sample_time(config):
    drill = QuietStance(context(config), duration_s=20)
    drill.start()
    t = np.arange(0, 10, 1 / 80)
    cop = np.zeros((len(t), 2))
    cop[t >= 6.0, 1] = 0.195                     # the COP runs to the front edge at 6 s
    w = np.full(len(t), 686.0)
    drill.feed(Block(t, cop, w))
    ev = next(e for e in drill.events if e.kind == "loss_of_balance")
    assert 6.0 <= ev.t_s <= 6.3 and drill.phase is Phase.PAUSED


def test_pause_resume_repeats_the_trial_and_stop_ends(config):
    drill = QuietStance(context(config), duration_s=10)
    drill.start()
    t = np.arange(0, 6, 1 / 80)
    rng = np.random.default_rng(1)
    block = Block(t, rng.normal(0, 0.003, (len(t), 2)), np.full(len(t), 686.0))
    drill.feed(block)
    assert drill.phase is Phase.RUNNING
    drill.pause()
    drill.resume()
    assert drill.phase is Phase.COUNTDOWN
    drill.stop()
    assert drill.done and [e.kind for e in drill.events][-1] == "stopped"
