"""Training games headless against the virtual patient: completion, scores, safety, recording,
and the audio biofeedback's tone."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from station.clock import VirtualClock
from station.drills import registry
from station.drills.audio_feedback import AudioFeedback, audio_cue, tone_buffer
from station.drills.autopilot import Autopilot
from station.drills.base import Block, Display, Drill, DrillContext, DrillError, Phase
from station.drills.path_tracing import PathTracing
from station.drills.runner import run_headless
from station.drills.target_hold import TargetHold
from station.drills.tilt_game import TiltGame
from station.drills.weight_shift import WeightShift
from station.drills.weight_training import WeightTraining
from station.plate.calibration import Calibration
from station.runtime import Station
from station.sensors.factory import Sources
from station.sensors.simulated import SimulatedStation
from station.session.reader import load_session
from station.session.recorder import SessionRecorder
from station.sim.patient import PatientProfile

G = 9.80665
GAMES = ("target_hold", "weight_shift", "weight_training", "path_tracing", "tilt_game",
         "audio_feedback")


def virtual_station(config, profile: PatientProfile, *, wobble: bool = False,
                    seed: int = 7) -> Station:
    """A fast station with ``profile`` standing on a tared and calibrated plate (the clinic's
    state: the nominal calibration of a fresh plate puts the COP centimetres off), on the
    wobble board if asked (a compliant surface, as the simulated station assumes)."""
    clock = VirtualClock()
    if wobble:
        profile = replace(profile, surface="foam")
    sim = SimulatedStation(profile, span_ml_m=config.plate.span_ml_m,
                           span_ap_m=config.plate.span_ap_m,
                           sample_rate_hz=config.plate.sample_rate_hz, seed=seed,
                           wobble_board=wobble, clock=clock)
    sources = Sources(sim.load_cells(), sim.imu() if wobble else None, "simulated", sim)
    station = Station(config, fast=True, clock=clock, sources=sources)
    dead = sim.cells.plate_mass_kg * G / 4 / sim.cells.newtons_per_count
    station.calibration = Calibration(sim.cells.offsets + dead, sim.cells.newtons_per_count.copy())
    station.wait(1.0)
    return station


def context_for(profile: PatientProfile) -> DrillContext:
    return DrillContext(body_mass_kg=profile.mass_kg, height_m=profile.height_m)


def play(config, cls: type[Drill], profile: PatientProfile, *, wobble: bool = False,
         seed: int = 7, patient=None, recorder=None, **values: float):
    """Run a game to the end with the autopilot; returns the drill, the displays it showed
    and how much faster than real time it ran."""
    station = virtual_station(config, profile, wobble=wobble, seed=seed)
    drill = cls(context_for(profile), **values)
    pilot = Autopilot(station.command, config.plate.foot_spacing_m)
    shown: list[Display] = []

    def obey(display: Display, d: Drill) -> None:
        pilot(display, d)
        shown.append(display)
        if patient is not None:
            patient(display, d, station)

    start = time.perf_counter()
    run_headless(drill, station, patient=obey, recorder=recorder)
    speed = drill.t_s / (time.perf_counter() - start)
    station.close()
    return drill, shown, speed


def test_the_games_are_registered_with_their_parameters(config):
    drills = registry.available()
    for name in GAMES:
        cls = drills[name]
        assert cls.kind == "training"
        assert {"level", "adaptive", "attempts"} <= {p.name for p in cls.params}
    with pytest.raises(DrillError, match=r"level = 1\.5  is outside 0\.0-1\.0"):
        TargetHold(context_for(PatientProfile()), level=1.5)


# game, parameters, wobble board, a level that separates the two patients, and whether the
# tracking error is scored over the whole attempt (track-like) or only once on target (holds)
CASES = [
    pytest.param(TargetHold, {}, False, 0.6, False, id="target_hold"),
    pytest.param(WeightShift, {}, False, 0.5, True, id="weight_shift_ml"),
    pytest.param(WeightShift, {"axis": 1}, False, 0.65, True, id="weight_shift_ap"),
    pytest.param(WeightTraining, {}, False, 0.6, True, id="weight_training"),
    pytest.param(PathTracing, {}, False, 0.6, True, id="path_tracing"),
    pytest.param(TiltGame, {"mode": 0}, True, 0.5, True, id="tilt_level"),
    pytest.param(TiltGame, {"mode": 1}, True, 0.3, False, id="tilt_ball"),
    pytest.param(AudioFeedback, {}, False, 0.5, True, id="audio_feedback"),
]


@pytest.mark.parametrize(("cls", "values", "wobble", "level", "whole_error"), CASES)
def test_healthy_and_impaired_virtual_patients_score_apart(config, cls, values, wobble, level,
                                                           whole_error):
    n = 8
    runs = {who: play(config, cls, profile, wobble=wobble, level=level, adaptive=0,
                      attempts=n, **values)
            for who, profile in (("healthy", PatientProfile()),
                                 ("impaired", PatientProfile.impaired()))}
    scores = {}
    for who, (drill, shown, speed) in runs.items():
        kinds = [e.kind for e in drill.events]
        assert drill.done and kinds[-1] == "trial_end", who
        assert speed > 5, f"{who}: only {speed:.1f}x real time"
        assert kinds.count("attempt_start") == kinds.count("attempt_end") == n
        assert len(drill.attempts) == n and all(a["level"] == level for a in drill.attempts)
        running = [d for d in shown if d.phase is Phase.RUNNING]
        assert running and all(d.level == level for d in running)
        assert all(d.scene["attempts"] == n and "stage" in d.scene for d in running)
        scores[who] = drill.scores()
    h, i = scores["healthy"], scores["impaired"]
    err = next(k for k in h if k.startswith("rms_error_"))
    assert h["success_rate"] >= i["success_rate"] + 0.25, (h["success_rate"], i["success_rate"])
    assert h["time_on_target_pct"] > i["time_on_target_pct"] + 5
    if whole_error:
        assert h[err] < i[err]
    assert h["level_start"] == h["level_end"] == level      # adaptive=0 holds the level


def test_displays_carry_targets_with_states_and_what_the_patient_is_asked(config):
    drill, shown, _ = play(config, TargetHold, PatientProfile(), level=0.2, attempts=4)
    states = {t.state for d in shown for t in d.targets}
    assert {"active", "hit"} <= states
    going = [d for d in shown if d.scene.get("stage") == "go"]
    assert going and all(d.ask["lean_to_m"] == (d.targets[0].ml_m, d.targets[0].ap_m)
                         for d in going)
    assert all(d.ask["lean_to_m"] is None for d in shown if d.phase is not Phase.RUNNING)
    # the targets lie inside the patient's limits of stability, spread over the directions
    fwd, back, side = drill.los
    for a in drill.attempts:
        assert a["knobs"]["distance_frac"] < 1.0
    angles = {round(math.degrees(math.atan2(t.ap_m, t.ml_m))) for d in going for t in d.targets}
    assert len(angles) == 4
    assert all(abs(t.ml_m) < side and -back < t.ap_m < fwd for d in going for t in d.targets)


def test_rhythmic_shift_keeps_the_beat_and_the_marker_arrives_on_it(config):
    drill, shown, _ = play(config, WeightShift, PatientProfile(), level=0.3, attempts=5,
                           adaptive=0)
    starts = [e.t_s for e in drill.events if e.kind == "attempt_start"]
    half = drill.knobs["period_s"] / 2
    assert np.allclose(np.diff(starts), half)            # a hit never hurries the next beat
    ends = [a["knobs"] for a in drill.attempts]
    assert all(k["limit_s"] == pytest.approx(half, abs=1e-3) for k in ends)
    going = [d for d in shown if d.scene.get("stage") == "go"]
    xs = [d.scene["marker_m"][0] for d in going]
    assert min(xs) < -0.02 and max(xs) > 0.02 and all(d.scene["axis"] == "ml" for d in going)


def test_step_off_fails_the_attempt_lowers_the_level_and_the_game_goes_on(config):
    stepped: dict[str, float] = {}

    def step_off_in_second_attempt(display, drill, station):
        if len(drill.attempts) == 1 and drill.stage == "go" and not stepped:
            station.command("step_off")
            stepped["t"] = drill.t_s

    drill, _, _ = play(config, TargetHold, PatientProfile(), level=0.5, attempts=4,
                       patient=step_off_in_second_attempt)
    ev = next(e for e in drill.events if e.kind == "step_off")
    assert ev.t_s - stepped["t"] <= 0.6
    failed = drill.attempts[1]
    assert failed["interrupted"] == "step_off" and not failed["success"]
    assert drill.attempts[2]["level"] < failed["level"]      # too hard: the staircase eases
    kinds = [e.kind for e in drill.events]
    assert "resume" in kinds and drill.done and len(drill.attempts) == 4


def test_a_therapist_pause_discards_the_attempt_instead_of_scoring_it(config):
    paused: list[float] = []

    def pause_once(display, drill, station):
        if len(drill.attempts) == 1 and drill.stage == "go" and not paused:
            drill.pause()
            paused.append(drill.t_s)

    drill, _, _ = play(config, WeightTraining, PatientProfile(), level=0.3, attempts=3,
                       patient=pause_once)
    kinds = [e.kind for e in drill.events]
    assert kinds.count("attempt_discarded") == 1 and "interrupted" not in str(drill.attempts)
    assert drill.done and len(drill.attempts) == 3 and kinds.count("attempt_start") == 4


def test_a_pause_longer_than_the_countdown_waits_instead_of_hanging():
    """Regression: a paused drill kept its old phase end and spun forever once it passed."""
    drill = TargetHold(context_for(PatientProfile()), attempts=2)
    drill.start()
    t = np.arange(0, 30, 1 / 80)
    cop, w = np.zeros((len(t), 2)), np.full(len(t), 686.0)
    drill.feed(Block(t[:80], cop[:80], w[:80]))
    drill.pause()
    worker = threading.Thread(target=drill.feed, args=(Block(t[80:], cop[80:], w[80:]),),
                              daemon=True)
    worker.start()
    worker.join(5.0)
    assert not worker.is_alive() and drill.phase is Phase.PAUSED


def test_tilt_game_without_the_board_fails_its_attempts_without_crashing():
    drill = TiltGame(context_for(PatientProfile()), attempts=2, level=0.0)
    drill.start()
    t = np.arange(0, 30, 1 / 80)
    drill.feed(Block(t, np.zeros((len(t), 2)), np.full(len(t), 686.0)))
    assert drill.done and [a["success"] for a in drill.attempts] == [False, False]
    assert drill.scores()["rms_error_deg"] is None


def test_a_game_records_parameters_level_events_and_scores_into_the_session(config, tmp_path):
    profile = PatientProfile()
    station = virtual_station(config, profile)
    rec = SessionRecorder(tmp_path / "sessions", station_id="s1", patient_code="P-7",
                          therapist_id="t1", calibration=station.calibration,
                          geometry=station.geometry, clock=station.clock)
    drill = PathTracing(context_for(profile), level=0.4, attempts=3)
    run_headless(drill, station, recorder=rec)
    path = rec.seal()
    station.close()
    trial = load_session(path).trials[0]
    meta = trial.meta
    assert meta["drill"] == "path_tracing" and meta["complete"]
    assert meta["parameters"]["values"]["level"] == 0.4
    assert meta["parameters"]["values"]["attempts"] == 3
    kinds = [e["kind"] for e in meta["events"]]
    assert kinds.count("attempt_start") == 3 and kinds.count("attempt_end") == 3
    assert {"target_reached", "trial_start", "trial_end"} <= set(kinds)
    starts = [e for e in meta["events"] if e["kind"] == "attempt_start"]
    assert starts[0]["level"] == 0.4 and "half_width_m" in starts[0]
    assert all(0 < e["t_s"] < drill.t_s + 1 for e in meta["events"])
    s = meta["scores"]
    assert s["level"] == drill.level and s["level_start"] == 0.4
    assert s["attempts"] == 3 and len(s["per_attempt"]) == 3 and "rms_error_cm" in s
    assert len(trial.samples("cop")) > 80 * 10


# ---------------------------------------------------------------------- audio biofeedback
def test_audio_cue_pitch_follows_ap_pan_follows_ml_with_a_quiet_zone():
    quiet = audio_cue((0.004, -0.003), 0.01, 0.04)
    assert quiet["volume"] == 0.0
    assert audio_cue(None, 0.01, 0.04)["volume"] == 0.0
    assert audio_cue((math.nan, 0.0), 0.01, 0.04)["volume"] == 0.0
    fwd = audio_cue((0.0, 0.03), 0.01, 0.04)
    back = audio_cue((0.0, -0.03), 0.01, 0.04)
    assert fwd["freq_hz"] > 440 > back["freq_hz"] and fwd["pan"] == back["pan"] == 0.0
    assert fwd["freq_hz"] == pytest.approx(440 * 2 ** 0.5)      # half-way out: half an octave
    right, left = audio_cue((0.03, 0.0), 0.01, 0.04), audio_cue((-0.03, 0.0), 0.01, 0.04)
    assert right["pan"] == pytest.approx(0.5) and left["pan"] == pytest.approx(-0.5)
    assert right["freq_hz"] == pytest.approx(440)
    far = audio_cue((0.2, 0.2), 0.01, 0.04)
    assert far["pan"] == 1.0 and far["freq_hz"] == pytest.approx(880) and far["volume"] == 1.0
    edge = audio_cue((0.0101, 0.0), 0.01, 0.04)
    assert 0.3 <= edge["volume"] < 0.31                        # audible from the zone's edge


def test_tone_buffer_holds_whole_cycles_and_loops_without_a_click():
    rate, seconds = 44100, 0.25
    buf = tone_buffer(443.3, 0.0, seconds, rate)
    assert buf.dtype == np.int16 and buf.shape == (round(seconds * rate), 2)
    assert buf.flags["C_CONTIGUOUS"]
    n = len(buf)
    cycles = round(443.3 * n / rate)
    spectrum = np.abs(np.fft.rfft(buf[:, 0].astype(float)))
    assert int(np.argmax(spectrum)) == cycles                  # all energy in one whole bin
    assert spectrum[cycles] > 1000 * np.delete(spectrum, cycles).max()
    looped = np.concatenate([buf, buf])[:, 0].astype(float)
    ideal = 0.8 * 32767 * math.cos(math.pi / 4) * np.sin(2 * math.pi * cycles *
                                                          np.arange(2 * n) / n)
    assert np.max(np.abs(looped - ideal)) <= 1.0               # the seam is invisible
    with pytest.raises(ValueError):
        tone_buffer(30000, 0.0, 0.1, rate)


def test_tone_buffer_pans_with_constant_power():
    centre = tone_buffer(500, 0.0, 0.1).astype(float)
    assert np.array_equal(centre[:, 0], centre[:, 1])
    hard_right = tone_buffer(500, 1.0, 0.1).astype(float)
    hard_left = tone_buffer(500, -1.0, 0.1).astype(float)
    assert np.abs(hard_right[:, 0]).max() == 0 and np.abs(hard_left[:, 1]).max() == 0
    power = [float((tone_buffer(500, p, 0.1).astype(float) ** 2).sum()) for p in
             (-1.0, -0.5, 0.0, 0.3, 1.0)]
    assert np.allclose(power, power[0], rtol=1e-3)
    quarter = tone_buffer(500, 0.5, 0.1).astype(float)
    assert np.abs(quarter[:, 1]).max() > np.abs(quarter[:, 0]).max()


def test_the_audio_drill_is_silent_at_the_reference_and_sounds_when_swaying():
    drill = AudioFeedback(context_for(PatientProfile()), attempts=2, level=0.5)
    drill.start()
    assert drill.display().ask["vision"] == "closed"
    dt = 1 / 80
    t0 = 0.0

    def feed(seconds: float, ml: float, ap: float) -> Display:
        nonlocal t0
        t = t0 + dt * np.arange(1, round(seconds / dt) + 1)
        t0 = float(t[-1])
        cop = np.tile([ml, ap], (len(t), 1))
        drill.feed(Block(t, cop, np.full(len(t), 686.0)))
        return drill.display()

    assert feed(3.0, 0.01, -0.02).audio is None               # countdown: no tone yet
    assert feed(2.5, 0.01, -0.02).scene["reference_m"] == pytest.approx((0.01, -0.02))
    still = feed(0.5, 0.012, -0.02)
    assert still.audio is not None and still.audio["volume"] == 0.0
    forward_right = feed(0.5, 0.05, 0.01).audio
    assert forward_right["volume"] > 0.3 and forward_right["freq_hz"] > 440
    assert forward_right["pan"] > 0
    feed(30.0, 0.01, -0.02)
    assert drill.done and drill.display().audio is None
    s = drill.scores()
    assert s["attempts"] == 2 and s["ellipse_area_95_cm2"] is not None
