"""Clinical indices: Romberg quotient, weight bearing, stability index, limits of stability."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from station.analysis import clinical
from station.analysis.validation import AnalysisError


def test_romberg_quotient() -> None:
    assert clinical.romberg_quotient(3.0, 1.5) == pytest.approx(2.0)
    with pytest.raises(AnalysisError, match="eyes-open"):
        clinical.romberg_quotient(1.0, 0.0)
    with pytest.raises(AnalysisError, match="finite"):
        clinical.romberg_quotient(math.nan, 1.0)


@pytest.mark.parametrize("ml, right", [(0.0, 50.0), (0.02, 60.0), (-0.05, 25.0), (0.3, 100.0)])
def test_weight_bearing_lever_rule(ml: float, right: float) -> None:
    cop = np.column_stack([np.full(100, ml), np.linspace(0, 0.01, 100)])
    wb = clinical.weight_bearing(cop, foot_spacing_m=0.2)
    assert wb.right_pct == pytest.approx(right)
    assert wb.left_pct == pytest.approx(100 - right)
    assert wb.symmetry_pct == pytest.approx(100 * min(right, 100 - right) / max(right, 100 - right))


def test_stability_index_of_a_steady_tilt() -> None:
    roll, pitch = math.radians(3.0), math.radians(4.0)
    si = clinical.stability_index(np.tile([roll, pitch], (200, 1)))
    assert si.ml_deg == pytest.approx(3.0)
    assert si.ap_deg == pytest.approx(4.0)
    assert si.overall_deg == pytest.approx(5.0)
    # true tilt arccos(cos 3 deg cos 4 deg) = 4.998 deg: zone A
    assert (si.zone_a_pct, si.zone_b_pct) == (100.0, 0.0)


def test_stability_zones_share_time() -> None:
    tilt_deg = np.array([1, 4, 6, 9, 11, 14, 16, 19, 25, 30.0])
    si = clinical.stability_index(np.column_stack([np.radians(tilt_deg), np.zeros(10)]))
    assert (si.zone_a_pct, si.zone_b_pct, si.zone_c_pct, si.zone_d_pct, si.beyond_pct) == (
        pytest.approx(20.0), pytest.approx(20.0), pytest.approx(20.0), pytest.approx(20.0),
        pytest.approx(20.0))


@settings(max_examples=30, deadline=None, database=None)
@given(st.lists(st.tuples(st.floats(-0.5, 0.5), st.floats(-0.5, 0.5)), min_size=3, max_size=60))
def test_stability_zone_shares_add_to_100(tilt: list[tuple[float, float]]) -> None:
    si = clinical.stability_index(np.array(tilt))
    total = si.zone_a_pct + si.zone_b_pct + si.zone_c_pct + si.zone_d_pct + si.beyond_pct
    assert total == pytest.approx(100.0)
    assert si.overall_deg == pytest.approx(math.hypot(si.ap_deg, si.ml_deg))


def test_stability_index_refuses_nan() -> None:
    with pytest.raises(AnalysisError, match="non-finite"):
        clinical.stability_index(np.array([[0.0, 0.0], [np.nan, 0.1], [0.0, 0.2]]))


def _reach(fs: float = 100.0, cue: float = 1.0, rt: float = 0.3, duration: float = 1.0,
           distance: float = 0.08, angle: float = math.pi / 2) -> np.ndarray:
    """Minimum-jerk reach of ``distance`` in direction ``angle``, starting ``rt`` after the cue,
    then holding; 5 s in all."""
    t = np.arange(round(5 * fs)) / fs
    s = np.clip((t - cue - rt) / duration, 0, 1)
    along = distance * (10 * s**3 - 15 * s**4 + 6 * s**5)
    start = np.array([0.01, -0.02])
    return np.column_stack([along * math.cos(angle), along * math.sin(angle)]) + start


def test_limits_of_stability_of_a_clean_reach() -> None:
    fs, target = 100.0, 0.10
    los = clinical.limits_of_stability(_reach(fs), fs, cue_s=1.0, direction_rad=math.pi / 2,
                                       target_m=target)
    # onset where the velocity passes 5 % of its peak: ~56 ms into the minimum-jerk reach
    assert los.reaction_time_s == pytest.approx(0.3 + 0.056, abs=0.03)
    assert los.endpoint_excursion_m == pytest.approx(0.08, rel=0.02)
    assert los.endpoint_excursion_pct == pytest.approx(80.0, rel=0.02)
    assert los.maximum_excursion_pct == pytest.approx(80.0, rel=1e-6)
    assert los.directional_control_pct == pytest.approx(100.0)
    # 5 %..95 % of a 1 s minimum-jerk reach takes ~0.58 s: 0.9 * 8 cm / 0.58 s ~ 0.12 m/s
    assert 0.10 < los.movement_velocity_m_s < 0.15


def test_limits_of_stability_directional_control_drops_off_axis() -> None:
    fs = 100.0
    straight = clinical.limits_of_stability(_reach(fs, angle=0.0), fs, 1.0, 0.0, 0.1)
    skew = _reach(fs, angle=0.0)
    skew[:, 1] += 0.3 * (skew[:, 0] - skew[0, 0])  # drifts forward while reaching right
    off = clinical.limits_of_stability(skew, fs, 1.0, 0.0, 0.1)
    assert off.directional_control_pct < straight.directional_control_pct - 20


def test_limits_of_stability_without_movement_is_an_error() -> None:
    still = np.random.default_rng(0).normal(0, 1e-4, (500, 2))
    with pytest.raises(AnalysisError, match="no movement"):
        clinical.limits_of_stability(still, 100.0, 1.0, 0.0, 0.1)
    with pytest.raises(AnalysisError, match="baseline"):
        clinical.limits_of_stability(still, 100.0, 0.1, 0.0, 0.1)
