"""The virtual patient sways like a person and moves like one when told to."""

from __future__ import annotations

import numpy as np
import pytest

from station.sim.patient import PatientProfile, VirtualPatient


def sway(profile: PatientProfile, seconds: float = 60.0, seed: int = 2) -> np.ndarray:
    p = VirtualPatient(profile, seed=seed)
    out = np.empty((int(seconds * 80), 2))
    for i in range(len(out)):
        p.advance_to((i + 1) / 80)
        out[i] = p.cop
    return out[160:]


def rms(c: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean((c - c.mean(axis=0)) ** 2, axis=0))


def velocity(c: np.ndarray) -> float:
    return float(np.sum(np.hypot(*np.diff(c, axis=0).T)) / (len(c) / 80))


def test_healthy_quiet_stance_is_in_the_published_range():
    c = sway(PatientProfile())
    r = rms(c) * 100
    # young adults, eyes open, firm: AP RMS ~0.3-0.6 cm, ML smaller, velocity ~0.6-1.5 cm/s
    assert 0.2 < r[1] < 0.7 and r[0] < r[1]
    assert 0.5 < velocity(c) * 100 < 1.6


def test_eyes_closed_foam_and_impairment_increase_sway():
    base = rms(sway(PatientProfile()))[1]
    assert rms(sway(PatientProfile(eyes_closed=True)))[1] > 1.15 * base
    assert rms(sway(PatientProfile(surface="foam")))[1] > 1.8 * base
    assert rms(sway(PatientProfile.impaired()))[1] > 1.5 * base


def test_same_seed_same_sway_other_seed_other_sway():
    a, b = sway(PatientProfile(), 10, seed=9), sway(PatientProfile(), 10, seed=9)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, sway(PatientProfile(), 10, seed=10))


def test_weight_bearing_asymmetry_moves_the_mean_cop():
    c = sway(PatientProfile(weight_bearing_left=0.65))
    # left foot at -10 cm, right at +10 cm: 65 % left puts the COP 3 cm left of centre
    assert c[:, 0].mean() == pytest.approx(-0.03, abs=0.002)


@pytest.mark.parametrize(("profile", "reaction"), [(PatientProfile(), 0.2),
                                                   (PatientProfile.impaired(), 0.45)])
def test_lean_starts_after_the_reaction_time_and_arrives(profile, reaction):
    p = VirtualPatient(profile, seed=1)
    p.advance_to(2.0)
    home = p.reference.copy()
    p.lean_to(home[0], 0.06)
    times = np.arange(2.0 + 1 / 400, 6.0, 1 / 400)
    refs = []
    for t in times:
        p.advance_to(t)
        refs.append(p.reference[1])
    refs = np.array(refs)
    started = times[np.argmax(refs - refs[0] > 1e-7)]
    assert started - 2.0 == pytest.approx(reaction, abs=0.01)
    assert p.com[1] == pytest.approx(0.06, abs=0.01)


def test_step_off_unloads_within_a_second():
    p = VirtualPatient(PatientProfile())
    p.advance_to(1.0)
    p.step_off()
    p.advance_to(1.6)
    assert p.weight_n == 0.0


def test_single_leg_stance_puts_the_cop_under_that_foot():
    p = VirtualPatient(PatientProfile())
    p.stand_on("right")
    cops = []
    for i in range(1, 800):
        p.advance_to(1.0 + i / 80)
        cops.append(p.cop[0])
    assert np.mean(cops[-400:]) == pytest.approx(0.10, abs=0.01)
