"""Property tests: invariance, units, analytic signals, and clear errors on bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from test_analysis_support import sway

from station.analysis import areas, spectral
from station.analysis import sway as sw
from station.analysis.summary import KEYS, summarize, to_json
from station.analysis.validation import AnalysisError
from station.errors import StationError

SETTINGS = settings(max_examples=25, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])

trials = st.builds(
    lambda seed, fs, duration, amp: sway(duration, fs, seed, amp),
    seed=st.integers(0, 10_000), fs=st.sampled_from([25.0, 50.0, 80.0, 100.0]),
    duration=st.floats(10.0, 40.0), amp=st.floats(0.001, 0.02))
rates = st.sampled_from([25.0, 50.0, 80.0, 100.0])


def _rate_for(cop: np.ndarray) -> float:
    """Any rate that keeps N / fs >= 10 s pairs validly with a generated trial (the invariance
    checks do not depend on which): the slowest generated is 25 Hz."""
    return 25.0


def _close(a: dict[str, float], b: dict[str, float], scale: dict[str, float] | None = None,
           rel: float = 1e-7) -> None:
    for key in a:
        k = (scale or {}).get(key, 1.0)
        assert b[key] == pytest.approx(a[key] * k, rel=rel, abs=1e-12 * max(1.0, k)), key


@SETTINGS
@given(cop=trials, dx=st.floats(-0.3, 0.3), dy=st.floats(-0.3, 0.3))
def test_metrics_do_not_depend_on_where_the_patient_stands(cop: np.ndarray, dx: float,
                                                           dy: float) -> None:
    fs = _rate_for(cop)
    base = to_json(summarize(cop, fs))
    moved = to_json(summarize(cop + np.array([dx, dy]), fs))
    _close(base, moved, rel=1e-6)


UNIT_POWER = {"cm": 1, "cm²": 2, "cm/s": 1, "cm²/s": 2}


@SETTINGS
@given(cop=trials, k=st.sampled_from([1e-3, 0.01, 0.1, 2.5, 10.0]))
def test_metrics_scale_with_length_units(cop: np.ndarray, k: float) -> None:
    """A COP k times larger: lengths x k, areas x k^2, velocities x k, frequencies unchanged."""
    fs = _rate_for(cop)
    base = to_json(summarize(cop, fs))
    scaled = to_json(summarize(cop * k, fs))
    factors = {key.name: k ** UNIT_POWER.get(key.unit, 0) for key in KEYS}
    _close(base, scaled, factors, rel=1e-6)


@SETTINGS
@given(r=st.floats(0.001, 0.05), f0=st.sampled_from([0.25, 0.5, 1.0, 2.0]),
       seconds=st.sampled_from([12, 20, 32, 40]),
       centre=st.tuples(st.floats(-0.1, 0.1), st.floats(-0.1, 0.1)))
def test_pure_circle_gives_analytic_values(r: float, f0: float, seconds: int,
                                           centre: tuple[float, float]) -> None:
    """Whole turns of a circle of radius r at f0 Hz (100 Hz, an even number of samples per
    turn, so opposite points exist)."""
    fs = 100.0
    n = round(seconds * fs)
    theta = 2 * np.pi * f0 * np.arange(n) / fs
    cop = np.column_stack([r * np.cos(theta), r * np.sin(theta)]) + centre
    m = summarize(cop, fs)
    step = 2 * math.pi * f0 / fs
    assert m.mean_distance.planar == pytest.approx(r, rel=1e-9)
    assert m.rms.planar == pytest.approx(r, rel=1e-9)
    assert m.rms.ap == pytest.approx(r / math.sqrt(2), rel=1e-9)
    assert m.range.planar == pytest.approx(2 * r, rel=1e-9)
    chord_path = (n - 1) * 2 * r * math.sin(step / 2)
    assert m.path_length.planar == pytest.approx(chord_path, rel=1e-9)
    assert m.mean_velocity.planar == pytest.approx(chord_path / (n / fs), rel=1e-9)
    assert m.mean_frequency.planar == pytest.approx(f0, rel=0.01)
    assert m.sway_area_per_second_m2_s == pytest.approx(
        (n - 1) * r * r * math.sin(step) / (2 * n / fs), rel=1e-9)
    assert m.sway_area_per_second_m2_s == pytest.approx(math.pi * r * r * f0, rel=0.01)
    k = areas.f_quantile_2(0.95, n - 2) * 2 * (n - 1) * (n + 1) / (n * (n - 2))
    assert m.prediction_ellipse.area_m2 == pytest.approx(math.pi * k * r * r / 2 * n / (n - 1),
                                                         rel=1e-9)
    assert m.confidence_ellipse.area_m2 == pytest.approx(
        math.pi * areas.f_quantile_2(0.95, n - 2) * r * r, rel=1e-9)
    assert m.confidence_circle_area_m2 == pytest.approx(math.pi * r * r, rel=1e-6)
    # BDS Welch segments are T/2 long: within one of their bins
    assert m.mean_power_frequency.combined_hz == pytest.approx(f0, abs=2 / seconds)
    for axis in (m.spectrum.ap, m.spectrum.ml):
        assert abs(axis.f50_hz - f0) <= m.spectrum.resolution_hz + 1e-12
        # within one 10 s-segment bin: the band edge at 0.15 Hz clips the Hann leakage
        assert axis.centroidal_frequency_hz == pytest.approx(f0, abs=1 / spectral.SEGMENT_S)
        assert axis.total_power_m2 == pytest.approx(r * r / 2, rel=0.05)


@SETTINGS
@given(a=st.floats(0.001, 0.05), f0=st.sampled_from([0.25, 0.5, 1.0]),
       seconds=st.sampled_from([12, 20, 32, 40]))
def test_pure_sinusoid_gives_analytic_values(a: float, f0: float, seconds: int) -> None:
    """AP = a sin(2 pi f0 t); ML carries a small sinusoid at an unrelated frequency so that the
    trial is valid, and only AP values are checked."""
    fs = 100.0
    n = round(seconds * fs)
    t = np.arange(n) / fs
    cop = np.column_stack([0.1 * a * np.sin(2 * np.pi * 1.37 * t), a * np.sin(2 * np.pi * f0 * t)])
    m = summarize(cop, fs)
    assert m.rms.ap == pytest.approx(a / math.sqrt(2), rel=1e-9)
    assert m.mean_distance.ap == pytest.approx(2 * a / math.pi, rel=1e-3)
    assert m.range.ap == pytest.approx(2 * a, rel=1e-9)
    # path over N - 1 intervals: one interval of the last cycle is missing (< 0.2 %)
    assert m.mean_velocity.ap == pytest.approx(4 * a * f0, rel=3e-3)
    # Prieto's published per-axis formula: pi / (2 sqrt 2) x the sinusoid's frequency
    assert m.mean_frequency.ap == pytest.approx(math.pi / (2 * math.sqrt(2)) * f0, rel=4e-3)
    assert m.mean_power_frequency.ap_hz == pytest.approx(f0, abs=2 / seconds)
    assert abs(m.spectrum.ap.f50_hz - f0) <= m.spectrum.resolution_hz + 1e-12
    # Hann main lobe of the 10 s Welch segments: +/- 2 segment bins = +/- 0.2 Hz
    assert f0 < m.spectrum.ap.f95_hz <= f0 + 2 / spectral.SEGMENT_S + 1e-12
    assert m.spectrum.ap.total_power_m2 == pytest.approx(a * a / 2, rel=0.05)


@SETTINGS
@given(cop=trials, index=st.integers(0, 10**6), bad=st.sampled_from([np.nan, np.inf, -np.inf]),
       column=st.integers(0, 1))
def test_non_finite_sample_is_refused(cop: np.ndarray, index: int, bad: float,
                                      column: int) -> None:
    cop = cop.copy()
    cop[index % cop.shape[0], column] = bad
    with pytest.raises(AnalysisError, match="non-finite"):
        summarize(cop, 25.0)
    with pytest.raises(AnalysisError, match="non-finite"):
        sw.path_length(cop)


@SETTINGS
@given(fs=rates, seconds=st.floats(0.05, 9.9))
def test_too_short_trial_is_refused(fs: float, seconds: float) -> None:
    cop = sway(max(seconds, 3 / fs), fs)
    with pytest.raises(AnalysisError, match="at least 10 s"):
        summarize(cop, fs)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_too_few_samples_is_refused(n: int) -> None:
    with pytest.raises(AnalysisError, match="samples"):
        sw.mean_distance(np.zeros((n, 2)))


@SETTINGS
@given(value=st.tuples(st.floats(-1, 1), st.floats(-1, 1)), fs=rates, which=st.sampled_from(
    ["both", "ml", "ap"]))
def test_constant_input_is_refused(value: tuple[float, float], fs: float, which: str) -> None:
    cop = np.tile(np.array(value), (int(12 * fs), 1))
    if which == "ml":
        cop[:, 1] += sway(12, fs)[:, 1]
    elif which == "ap":
        cop[:, 0] += sway(12, fs)[:, 0]
    with pytest.raises(AnalysisError, match="constant"):
        summarize(cop, fs)
    with pytest.raises(AnalysisError, match="constant"):
        sw.mean_frequency(cop, fs)


@settings(max_examples=60, deadline=None, database=None)
@given(arr=hnp.arrays(np.float64, st.tuples(st.integers(100, 160), st.just(2)),
                      elements=st.one_of(st.floats(-2.0, 2.0),
                                         st.sampled_from([0.0, 1e-12, 1e-9, 5.0]))),
       poison=st.one_of(st.none(), st.tuples(st.integers(0, 99), st.integers(0, 1),
                                              st.sampled_from([np.nan, np.inf, 1e4]))))
def test_any_input_gives_finite_numbers_or_a_clear_error(
        arr: np.ndarray, poison: tuple[int, int, float] | None) -> None:
    """Whatever the array, the result is either all finite numbers or an AnalysisError."""
    if poison is not None:
        arr[poison[0], poison[1]] = poison[2]
    try:
        out = to_json(summarize(arr, 10.0))
    except AnalysisError as exc:
        assert isinstance(exc, StationError) and isinstance(exc, ValueError)
        assert str(exc)
        return
    assert all(math.isfinite(v) for v in out.values())


@SETTINGS
@given(pts=hnp.arrays(np.float64, st.tuples(st.integers(3, 300), st.just(2)),
                      elements=st.floats(-1, 1)), ring=st.booleans())
def test_planar_diameter_is_the_largest_pairwise_distance(pts: np.ndarray, ring: bool) -> None:
    from scipy.spatial.distance import pdist

    if ring:  # many hull vertices: exercises the rotating-calipers branch
        t = np.linspace(0, 2 * np.pi, pts.shape[0], endpoint=False)
        pts = np.column_stack([np.cos(t), 0.3 * np.sin(t)]) + 1e-3 * pts
    assert sw.planar_diameter(pts) == pytest.approx(pdist(pts).max(), rel=1e-12, abs=1e-300)


@pytest.mark.parametrize("fs", [0.0, -80.0, math.nan, math.inf, "fast"])
def test_bad_sample_rate_is_refused(fs: object) -> None:
    with pytest.raises(AnalysisError, match="sample rate"):
        summarize(sway(12), fs)  # type: ignore[arg-type]


def test_wrong_shape_and_units_are_refused() -> None:
    with pytest.raises(AnalysisError, match="shape"):
        sw.mean_distance(np.zeros((100, 3)))
    with pytest.raises(AnalysisError, match="metres"):
        summarize(sway(12) * 1000, 80.0)  # millimetres passed as metres


def test_spectral_band_beyond_nyquist_is_refused() -> None:
    with pytest.raises(AnalysisError, match="Nyquist"):
        spectral.band_spectrum(sway(40, fs=8.0), 8.0)
