"""Sway metrics against numbers their authors computed (tests/data/README.md).

- BDS (Santos & Duarte 2016): every trial's 95 % prediction-ellipse area, mean velocity and
  power-weighted mean power frequency, to 1e-6 relative, straight from the raw files through
  the same reader ``station analyze`` uses.
- Quijoux et al. 2021: distance, velocity, area and frequency features of their pre-processed
  example signal, to 1 %.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import signal, stats

from station.analysis import areas, readers, spectral, sway
from station.analysis.summary import summarize, to_json

DATA = Path(__file__).parent / "data"
BDS = DATA / "bds"
QUIJOUX = DATA / "quijoux"


def _bds_reference() -> dict[str, dict[str, float]]:
    with (BDS / "reference_metrics.tsv").open(encoding="utf-8") as fh:
        return {row["Trial"]: {k: float(row[k]) for k in
                               ("COParea_cm2", "COPvelo_cm_s", "COPmfreq_Hz")}
                for row in csv.DictReader(fh, delimiter="\t")}


BDS_REF = _bds_reference()


def test_every_bds_file_has_a_reference_value() -> None:
    files = sorted(p.name.removesuffix(".txt.gz") for p in BDS.glob("BDS*.txt.gz"))
    assert files == sorted(BDS_REF)
    assert len(files) == 12


@pytest.mark.parametrize("trial", sorted(BDS_REF))
def test_bds_area_velocity_frequency_match_authors(trial: str) -> None:
    _, (t,) = readers.load(BDS / f"{trial}.txt.gz")
    assert t.file_format == "BDS text"
    assert t.fs == pytest.approx(100.0, rel=1e-9)
    assert t.cop.shape == (6000, 2)
    out = to_json(summarize(t.cop, t.fs))
    ref = BDS_REF[trial]
    assert out["ellipse_area_95_cm2"] == pytest.approx(ref["COParea_cm2"], rel=1e-6)
    assert out["mean_velocity_cm_s"] == pytest.approx(ref["COPvelo_cm_s"], rel=1e-6)
    assert out["mean_power_frequency_hz"] == pytest.approx(ref["COPmfreq_Hz"], rel=1e-6)


def test_bds_axes_are_swapped_into_ml_ap() -> None:
    _, (t,) = readers.load(BDS / "BDS00001.txt.gz")
    # first data row: COPx (AP) = -7.988789 cm, COPy (ML) = 0.998673 cm
    assert t.cop[0] == pytest.approx([0.00998673, -0.07988789])


@pytest.fixture(scope="module")
def quijoux() -> tuple[np.ndarray, dict[str, float]]:
    cop = np.loadtxt(QUIJOUX / "preprocessed_25Hz_cm.csv", delimiter=",", comments="#") / 100.0
    ref = json.loads((QUIJOUX / "reference_features.json").read_text(encoding="utf-8"))
    return cop, ref


FS_Q = 25.0


def test_quijoux_distance_features(quijoux: tuple[np.ndarray, dict[str, float]]) -> None:
    cop, ref = quijoux
    md, rms, rng = sway.mean_distance(cop), sway.rms_distance(cop), sway.sway_range(cop)
    pairs = {
        "mean_distance_AP": md.ap, "mean_distance_ML": md.ml, "mean_distance_Radius": md.planar,
        "rms_AP": rms.ap, "rms_ML": rms.ml, "rms_Radius": rms.planar,
        "planar_deviation_ML_AND_AP": rms.planar,
        "range_AP": rng.ap, "range_ML": rng.ml, "range_ML_AND_AP": rng.planar,
    }
    for name, value_m in pairs.items():
        assert value_m * 100 == pytest.approx(ref[name], rel=0.01), name


def test_quijoux_velocity_features(quijoux: tuple[np.ndarray, dict[str, float]]) -> None:
    cop, ref = quijoux
    v = sway.mean_velocity(cop, FS_Q)
    for name, value in (("mean_velocity_AP", v.ap), ("mean_velocity_ML", v.ml),
                        ("mean_velocity_ML_AND_AP", v.planar)):
        assert value * 100 == pytest.approx(ref[name], rel=0.01), name


def test_quijoux_area_features(quijoux: tuple[np.ndarray, dict[str, float]]) -> None:
    cop, ref = quijoux
    assert areas.confidence_ellipse(cop).area_m2 * 1e4 == pytest.approx(
        ref["confidence_ellipse_area_ML_AND_AP"], rel=0.01)
    assert sway.sway_area_per_second(cop, FS_Q) * 1e4 == pytest.approx(
        ref["sway_area_per_second_ML_AND_AP"], rel=0.01)
    # orientation: their principal sway direction is the major axis's angle from AP (degrees)
    angle = areas.prediction_ellipse(cop).angle_rad
    from_ap = math.degrees(math.acos(abs(math.sin(angle))))
    assert from_ap == pytest.approx(ref["principal_sway_direction_ML_AND_AP"], rel=0.01)


def test_quijoux_frequency_features(quijoux: tuple[np.ndarray, dict[str, float]]) -> None:
    cop, ref = quijoux
    mf = sway.mean_frequency(cop, FS_Q)
    for name, value in (("mean_frequency_AP", mf.ap), ("mean_frequency_ML", mf.ml),
                        ("mean_frequency_ML_AND_AP", mf.planar)):
        assert value == pytest.approx(ref[name], rel=0.01), name
    spec = spectral.band_spectrum(cop, FS_Q)
    for axis, s in (("AP", spec.ap), ("ML", spec.ml)):
        suffix = f"Power_Spectrum_Density_{axis}"
        assert s.f50_hz == pytest.approx(ref[f"power_frequency_50_{suffix}"], rel=0.01)
        assert s.f95_hz == pytest.approx(ref[f"power_frequency_95_{suffix}"], rel=0.01)
        assert s.centroidal_frequency_hz == pytest.approx(ref[f"centroid_frequency_{suffix}"],
                                                          rel=0.01)
        assert s.frequency_dispersion == pytest.approx(ref[f"frequency_dispersion_{suffix}"],
                                                       rel=0.01)
        # they report the bare sum of PSD bins (cm^2/Hz); ours is that sum times the bin width
        assert s.total_power_m2 * 1e4 / spec.resolution_hz == pytest.approx(
            ref[f"total_power_{suffix}"], rel=0.01)


def test_numpy_welch_equals_scipy() -> None:
    rng = np.random.default_rng(7)
    x = np.cumsum(rng.standard_normal((1501, 2)), axis=0)
    cases = ((750, 375, 750, "constant"), (250, 125, 1501, "linear"), (101, 50, 256, "linear"),
             (1501, 0, 1501, "constant"))
    for nperseg, noverlap, nfft, detrend in cases:
        f, p = spectral.welch(x, 25.0, nperseg, noverlap, nfft, detrend)
        f2, p2 = signal.welch(x, 25.0, "hann", nperseg, noverlap, nfft, detrend, axis=0)
        np.testing.assert_allclose(f, f2, rtol=1e-12)
        np.testing.assert_allclose(p, p2, rtol=1e-9, atol=1e-12 * p2.max())


@pytest.mark.parametrize("dfd", [1, 2, 5, 98, 748, 5998])
def test_f_quantile_closed_form_equals_scipy(dfd: int) -> None:
    for p in (0.5, 0.95, 0.99):
        assert areas.f_quantile_2(p, dfd) == pytest.approx(stats.f.ppf(p, 2, dfd), rel=1e-10)
