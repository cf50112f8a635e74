"""One trial from recording to results: chosen pre-processing, the full metric set, and the
station extras (weight bearing, stability index); plus the session-level Romberg quotients.
Shared by ``station analyze`` and ``station report``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from station.analysis.clinical import (
    StabilityIndex,
    WeightBearing,
    romberg_quotient,
    stability_index,
    weight_bearing,
)
from station.analysis.preprocess import Preprocessing
from station.analysis.readers import Trial
from station.analysis.summary import SwayMetrics, summarize, to_json
from station.analysis.validation import AnalysisError
from station.errors import StationError


@dataclass(eq=False)
class TrialResult:
    """What the analysis made of one trial: metrics and JSON, or the reason it could not."""

    trial: Trial | None
    label: str
    cop: np.ndarray | None = None
    fs: float = 0.0
    metrics: SwayMetrics | None = None
    weight: WeightBearing | None = None
    stability: StabilityIndex | None = None
    record: dict[str, Any] = field(default_factory=dict)
    error: str = ""


def analyse(trial: Trial, pre: Preprocessing, foot_spacing_m: float | None = None) -> TrialResult:
    """Analyse one trial; an AnalysisError becomes ``TrialResult.error`` (never a number)."""
    result = TrialResult(trial=trial, label=trial.trial_id)
    info: dict[str, Any] = {
        "source": trial.source, "trial_id": trial.trial_id, "name": trial.name,
        "drill": trial.drill, "vision": trial.conditions.get("vision", ""),
        "surface": trial.conditions.get("surface", ""), "file_format": trial.file_format,
        "preprocessing": pre.describe(), "t_start_s": round(trial.t_start_s, 4),
        "recorded_s": round(trial.recorded_s, 4), "note": trial.note,
    }
    try:
        cop, fs = pre.apply(trial.cop, trial.fs)
        metrics = summarize(cop, fs)
    except AnalysisError as exc:
        result.error = str(exc)
        result.record = {**info, "error": result.error}
        return result
    result.cop, result.fs, result.metrics = cop, fs, metrics
    record: dict[str, Any] = {**info, **to_json(metrics)}
    if foot_spacing_m is not None and trial.file_format == "station session":
        wb = weight_bearing(trial.cop, foot_spacing_m)
        result.weight = wb
        record.update(weight_left_pct=wb.left_pct, weight_right_pct=wb.right_pct,
                      weight_symmetry_pct=wb.symmetry_pct)
    if trial.tilt is not None:
        try:
            si = stability_index(trial.tilt)
        except AnalysisError as exc:
            record["stability_error"] = str(exc)
        else:
            result.stability = si
            record.update(stability_overall_deg=si.overall_deg, stability_ap_deg=si.ap_deg,
                          stability_ml_deg=si.ml_deg, zone_a_pct=si.zone_a_pct,
                          zone_b_pct=si.zone_b_pct, zone_c_pct=si.zone_c_pct,
                          zone_d_pct=si.zone_d_pct, zone_beyond_pct=si.beyond_pct)
    result.record = record
    return result


def failed(label: str, message: str, source: str = "") -> TrialResult:
    """A trial that could not even be read."""
    return TrialResult(trial=None, label=label,
                       record={"source": source, "trial_id": label, "error": message},
                       error=message)


@dataclass(frozen=True)
class Romberg:
    """Romberg quotients (eyes closed / eyes open) on one surface."""

    surface: str
    area: float
    path_length: float


def romberg(results: list[TrialResult]) -> list[Romberg]:
    """Quotients per surface from quiet-stance trials with vision open and closed (several trials
    of a condition are averaged first)."""
    groups: dict[tuple[str, str], list[SwayMetrics]] = {}
    for r in results:
        if r.metrics is None or r.trial is None or r.trial.drill not in ("quiet_stance", ""):
            continue
        vision = str(r.trial.conditions.get("vision", ""))
        surface = str(r.trial.conditions.get("surface", "")) or "firm"
        if vision in ("open", "closed"):
            groups.setdefault((surface, vision), []).append(r.metrics)
    out = []
    for surface in sorted({s for s, _ in groups}):
        eo, ec = groups.get((surface, "open")), groups.get((surface, "closed"))
        if not eo or not ec:
            continue
        try:
            out.append(Romberg(
                surface=surface,
                area=romberg_quotient(_mean(ec, "area"), _mean(eo, "area")),
                path_length=romberg_quotient(_mean(ec, "path"), _mean(eo, "path"))))
        except StationError:
            continue
    return out


def _mean(items: list[SwayMetrics], what: str) -> float:
    values = [m.prediction_ellipse.area_m2 if what == "area" else m.path_length.planar
              for m in items]
    return float(np.mean(values))
