"""The full sway metric set of one trial, and its JSON form (clinician units at the edge).

``summarize`` validates once and computes everything in SI; ``to_json`` turns it into the flat
dict of ``KEYS`` (cm, cm^2, cm/s, Hz, degrees) that ``station analyze --json`` prints. The key
table in docs/analysis.md documents the same keys, and a test keeps the two in step.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from station.analysis import areas, spectral, sway
from station.analysis.areas import Ellipse
from station.analysis.spectral import BandSpectrum, MeanPowerFrequency
from station.analysis.sway import PerAxis
from station.analysis.validation import (
    MIN_DURATION_S,
    as_cop,
    check_duration,
    check_moving,
    check_rate,
)


@dataclass(frozen=True)
class SwayMetrics:
    """Every sway measure of one trial, SI units (m, m^2, m/s, Hz, rad)."""

    sample_rate_hz: float
    n_samples: int
    duration_s: float
    mean_distance: PerAxis
    rms: PerAxis
    range: PerAxis
    path_length: PerAxis
    mean_velocity: PerAxis
    sway_area_per_second_m2_s: float
    prediction_ellipse: Ellipse
    confidence_ellipse: Ellipse
    confidence_circle_area_m2: float
    mean_frequency: PerAxis
    mean_power_frequency: MeanPowerFrequency
    spectrum: BandSpectrum


def summarize(cop: np.ndarray, fs: float, *, min_duration_s: float = MIN_DURATION_S) -> SwayMetrics:
    """All sway metrics of a COP trajectory (N, 2) [ml, ap] in m sampled at ``fs`` Hz.

    Refuses (AnalysisError) non-finite samples, fewer than ``min_duration_s`` seconds, and an
    axis that never moves. No pre-processing is applied here: see ``preprocess``.
    """
    a = as_cop(cop)
    fs = check_rate(fs)
    n = a.shape[0]
    check_duration(n, fs, min_duration_s)
    xy = np.ascontiguousarray(a.T)  # one contiguous row per axis: fast reductions
    check_moving(xy)
    centre = xy.mean(axis=1)
    xy -= centre[:, None]
    path = sway._path_length(xy)
    velocity = sway._mean_velocity(path, n, fs)
    distance = sway._mean_distance(xy)
    rms = sway._rms_distance(xy)
    return SwayMetrics(
        sample_rate_hz=fs,
        n_samples=n,
        duration_s=n / fs,
        mean_distance=distance,
        rms=rms,
        range=sway._range(xy),
        path_length=path,
        mean_velocity=velocity,
        sway_area_per_second_m2_s=sway._sway_area_per_second(xy, fs),
        prediction_ellipse=areas._prediction_ellipse(xy, centre),
        confidence_ellipse=areas._confidence_ellipse(xy, centre),
        confidence_circle_area_m2=areas._circle_area(distance.planar, rms.planar),
        mean_frequency=sway._mean_frequency(velocity, distance),
        mean_power_frequency=spectral._mean_power_frequency(xy, fs),
        spectrum=spectral._band_spectrum(xy, fs),
    )


class Key(NamedTuple):
    """One JSON key: name, value in SI from the metrics, factor to the key's unit, unit, label."""

    name: str
    get: Callable[[SwayMetrics], float]
    factor: float
    unit: str
    label: str
    group: str


CM, CM2 = 100.0, 1e4
KEYS: tuple[Key, ...] = (
    Key("ellipse_area_95_cm2", lambda m: m.prediction_ellipse.area_m2, CM2, "cm²",
        "95% prediction ellipse area (BDS)", "Area"),
    Key("mean_velocity_cm_s", lambda m: m.mean_velocity.planar, CM, "cm/s",
        "mean velocity", "Path and velocity"),
    Key("mean_power_frequency_hz", lambda m: m.mean_power_frequency.combined_hz, 1, "Hz",
        "mean power frequency (BDS)", "Frequency"),
    Key("path_length_cm", lambda m: m.path_length.planar, CM, "cm", "path length",
        "Path and velocity"),
    Key("rms_ap_cm", lambda m: m.rms.ap, CM, "cm", "RMS distance AP", "Distance"),
    Key("rms_ml_cm", lambda m: m.rms.ml, CM, "cm", "RMS distance ML", "Distance"),
    Key("range_ap_cm", lambda m: m.range.ap, CM, "cm", "range AP", "Distance"),
    Key("range_ml_cm", lambda m: m.range.ml, CM, "cm", "range ML", "Distance"),
    Key("mean_frequency_hz", lambda m: m.mean_frequency.planar, 1, "Hz",
        "mean frequency (Prieto)", "Frequency"),
    Key("f50_ap_hz", lambda m: m.spectrum.ap.f50_hz, 1, "Hz", "50% power frequency AP",
        "Frequency"),
    Key("f95_ap_hz", lambda m: m.spectrum.ap.f95_hz, 1, "Hz", "95% power frequency AP",
        "Frequency"),
    Key("sample_rate_hz", lambda m: m.sample_rate_hz, 1, "Hz", "sample rate", "Record"),
    Key("duration_s", lambda m: m.duration_s, 1, "s", "duration analysed", "Record"),
    Key("n_samples", lambda m: m.n_samples, 1, "", "samples analysed", "Record"),
    Key("mean_distance_cm", lambda m: m.mean_distance.planar, CM, "cm", "mean distance",
        "Distance"),
    Key("mean_distance_ap_cm", lambda m: m.mean_distance.ap, CM, "cm", "mean distance AP",
        "Distance"),
    Key("mean_distance_ml_cm", lambda m: m.mean_distance.ml, CM, "cm", "mean distance ML",
        "Distance"),
    Key("rms_cm", lambda m: m.rms.planar, CM, "cm", "RMS distance", "Distance"),
    Key("range_cm", lambda m: m.range.planar, CM, "cm", "range (planar diameter)", "Distance"),
    Key("path_length_ap_cm", lambda m: m.path_length.ap, CM, "cm", "path length AP",
        "Path and velocity"),
    Key("path_length_ml_cm", lambda m: m.path_length.ml, CM, "cm", "path length ML",
        "Path and velocity"),
    Key("mean_velocity_ap_cm_s", lambda m: m.mean_velocity.ap, CM, "cm/s", "mean velocity AP",
        "Path and velocity"),
    Key("mean_velocity_ml_cm_s", lambda m: m.mean_velocity.ml, CM, "cm/s", "mean velocity ML",
        "Path and velocity"),
    Key("sway_area_per_second_cm2_s", lambda m: m.sway_area_per_second_m2_s, CM2, "cm²/s",
        "sway area per second", "Area"),
    Key("ellipse_semi_major_cm", lambda m: m.prediction_ellipse.semi_major_m, CM, "cm",
        "ellipse semi-major axis", "Area"),
    Key("ellipse_semi_minor_cm", lambda m: m.prediction_ellipse.semi_minor_m, CM, "cm",
        "ellipse semi-minor axis", "Area"),
    Key("ellipse_angle_deg", lambda m: m.prediction_ellipse.angle_rad, 180 / math.pi, "°",
        "ellipse major axis from ML", "Area"),
    Key("confidence_ellipse_area_95_cm2", lambda m: m.confidence_ellipse.area_m2, CM2, "cm²",
        "95% confidence ellipse (Prieto)", "Area"),
    Key("confidence_circle_area_95_cm2", lambda m: m.confidence_circle_area_m2, CM2, "cm²",
        "95% confidence circle (Prieto)", "Area"),
    Key("mean_frequency_ap_hz", lambda m: m.mean_frequency.ap, 1, "Hz",
        "mean frequency AP (Prieto)", "Frequency"),
    Key("mean_frequency_ml_hz", lambda m: m.mean_frequency.ml, 1, "Hz",
        "mean frequency ML (Prieto)", "Frequency"),
    Key("mean_power_frequency_ap_hz", lambda m: m.mean_power_frequency.ap_hz, 1, "Hz",
        "mean power frequency AP (BDS)", "Frequency"),
    Key("mean_power_frequency_ml_hz", lambda m: m.mean_power_frequency.ml_hz, 1, "Hz",
        "mean power frequency ML (BDS)", "Frequency"),
    Key("total_power_ap_cm2", lambda m: m.spectrum.ap.total_power_m2, CM2, "cm²",
        "power 0.15-5 Hz AP", "Frequency"),
    Key("total_power_ml_cm2", lambda m: m.spectrum.ml.total_power_m2, CM2, "cm²",
        "power 0.15-5 Hz ML", "Frequency"),
    Key("f50_ml_hz", lambda m: m.spectrum.ml.f50_hz, 1, "Hz", "50% power frequency ML",
        "Frequency"),
    Key("f95_ml_hz", lambda m: m.spectrum.ml.f95_hz, 1, "Hz", "95% power frequency ML",
        "Frequency"),
    Key("centroidal_frequency_ap_hz", lambda m: m.spectrum.ap.centroidal_frequency_hz, 1, "Hz",
        "centroidal frequency AP", "Frequency"),
    Key("centroidal_frequency_ml_hz", lambda m: m.spectrum.ml.centroidal_frequency_hz, 1, "Hz",
        "centroidal frequency ML", "Frequency"),
    Key("frequency_dispersion_ap", lambda m: m.spectrum.ap.frequency_dispersion, 1, "",
        "frequency dispersion AP", "Frequency"),
    Key("frequency_dispersion_ml", lambda m: m.spectrum.ml.frequency_dispersion, 1, "",
        "frequency dispersion ML", "Frequency"),
)

#: Display order of the groups in tables.
GROUPS = ("Record", "Distance", "Path and velocity", "Area", "Frequency")

#: Display order of the keys in tables (the JSON keeps the order of ``KEYS``).
TABLE_ORDER = (
    "sample_rate_hz", "duration_s", "n_samples",
    "mean_distance_cm", "mean_distance_ap_cm", "mean_distance_ml_cm",
    "rms_cm", "rms_ap_cm", "rms_ml_cm", "range_cm", "range_ap_cm", "range_ml_cm",
    "path_length_cm", "path_length_ap_cm", "path_length_ml_cm",
    "mean_velocity_cm_s", "mean_velocity_ap_cm_s", "mean_velocity_ml_cm_s",
    "ellipse_area_95_cm2", "ellipse_semi_major_cm", "ellipse_semi_minor_cm", "ellipse_angle_deg",
    "confidence_ellipse_area_95_cm2", "confidence_circle_area_95_cm2",
    "sway_area_per_second_cm2_s",
    "mean_power_frequency_hz", "mean_power_frequency_ap_hz", "mean_power_frequency_ml_hz",
    "mean_frequency_hz", "mean_frequency_ap_hz", "mean_frequency_ml_hz",
    "f50_ap_hz", "f50_ml_hz", "f95_ap_hz", "f95_ml_hz",
    "centroidal_frequency_ap_hz", "centroidal_frequency_ml_hz",
    "frequency_dispersion_ap", "frequency_dispersion_ml",
    "total_power_ap_cm2", "total_power_ml_cm2",
)
KEY_BY_NAME = {k.name: k for k in KEYS}


def to_json(metrics: SwayMetrics) -> dict[str, float | int]:
    """The flat JSON dict of every key in ``KEYS``, in the key's unit."""
    out: dict[str, float | int] = {}
    for key in KEYS:
        value = key.get(metrics)
        out[key.name] = value if isinstance(value, int) else float(value) * key.factor
    return out
