"""Sway analysis: metrics of a centre-of-pressure trajectory, readers, plots and reports.

Metric functions take COP as an (N, 2) array [ml, ap] in metres plus a sample rate in Hz and
return SI values; each says which published convention it follows (docs/analysis.md). Names are
loaded on first use so that importing the package (the CLI does) costs nothing.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "AnalysisError": "validation",
    "PerAxis": "sway",
    "mean_distance": "sway",
    "rms_distance": "sway",
    "sway_range": "sway",
    "path_length": "sway",
    "mean_velocity": "sway",
    "sway_area_per_second": "sway",
    "mean_frequency": "sway",
    "Ellipse": "areas",
    "prediction_ellipse": "areas",
    "confidence_ellipse": "areas",
    "confidence_circle_area": "areas",
    "mean_power_frequency": "spectral",
    "band_spectrum": "spectral",
    "welch": "spectral",
    "romberg_quotient": "clinical",
    "weight_bearing": "clinical",
    "stability_index": "clinical",
    "limits_of_stability": "clinical",
    "Preprocessing": "preprocess",
    "detrend": "preprocess",
    "lowpass": "preprocess",
    "resample": "preprocess",
    "trim": "preprocess",
    "SwayMetrics": "summary",
    "summarize": "summary",
    "to_json": "summary",
    "load": "readers",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'station.analysis' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"station.analysis.{module}"), name)
    globals()[name] = value
    return value
