"""How scores are named, formatted and chosen for the screen.

Drills return scores as a flat dict (plus nested detail the UI leaves alone). Keys follow the
analysis convention ``<measure>_<unit>`` with an optional condition suffix (``_eyes_open``), so
labels and units come from ``station.analysis.summary.KEYS`` where the measure is known and from
the suffix otherwise. A drill may list its headline measures in a ``key_metrics`` class
attribute; otherwise the first numeric scores are shown.

Normal ranges are not invented here: a clinic provides them (with their source) in
``<data_dir>/norms.json`` as {drill: {score_key: {"lo": x, "hi": y, "source": "..."}}}, or the
app is given another provider.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from station.analysis.summary import KEY_BY_NAME

_UNITS = (("_cm2_s", "cm²/s"), ("_cm2", "cm²"), ("_cm_s", "cm/s"), ("_cm", "cm"), ("_hz", "Hz"),
          ("_pct", "%"), ("_deg", "°"), ("_s", "s"), ("_kg", "kg"))
_CONDITIONS = {"_eyes_open": "eyes open", "_eyes_closed": "eyes closed", "_left": "left leg",
               "_right": "right leg", "_foam": "foam", "_firm": "firm"}
_LABELS = {"romberg_path_length": "Romberg quotient, path", "romberg_area": "Romberg quotient, "
           "area", "level": "Level"}


@dataclass(frozen=True)
class NormRange:
    lo: float
    hi: float
    source: str = ""


NormsProvider = Callable[[str, str], NormRange | None]


def no_norms(drill: str, key: str) -> NormRange | None:
    return None


def file_norms(path: Path) -> NormsProvider:
    """Norms from a clinic's JSON file (read once, at start); empty when there is none."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return no_norms
    table: dict[tuple[str, str], NormRange] = {}
    for drill, keys in (data.items() if isinstance(data, dict) else ()):
        if not isinstance(keys, dict):
            continue
        for key, r in keys.items():
            try:
                table[(drill, key)] = NormRange(float(r["lo"]), float(r["hi"]),
                                                str(r.get("source", "")))
            except (KeyError, TypeError, ValueError):
                continue
    return lambda drill, key: table.get((drill, key))


_SHORT = {"path_length_cm": "Path length", "ellipse_area_95_cm2": "Ellipse area 95 %",
          "mean_velocity_cm_s": "Mean velocity", "rms_cm": "RMS distance",
          "confidence_ellipse_area_95_cm2": "Confidence ellipse (95 %)",
          "mean_power_frequency_hz": "Mean power frequency"}


def parts(key: str) -> tuple[str, str, str]:
    """(short name, condition, unit) of a score key, for a compact table row."""
    if key.startswith("romberg_"):
        return "Romberg quotient", key[8:].replace("_", " "), "EC / EO"
    if key in _LABELS:
        return _LABELS[key], "", ""
    base, cond = key, ""
    for suffix, words in _CONDITIONS.items():
        if key.endswith(suffix):
            base, cond = key[: -len(suffix)], words
            break
    if base in _SHORT:
        return _SHORT[base], cond, KEY_BY_NAME[base].unit
    name, unit = label(base)
    return name.split(" (")[0], cond, unit


def label(key: str) -> tuple[str, str]:
    """(label, unit) of a score key."""
    if key in _LABELS:
        return _LABELS[key], ""
    base, cond = key, ""
    for suffix, words in _CONDITIONS.items():
        if key.endswith(suffix):
            base, cond = key[: -len(suffix)], words
            break
    known = KEY_BY_NAME.get(base)
    if known is not None:
        name, unit = known.label, known.unit
    else:
        unit = ""
        for suffix, u in _UNITS:
            if base.endswith(suffix):
                base, unit = base[: -len(suffix)], u
                break
        name = base.replace("_", " ")
    name = name[:1].upper() + name[1:]
    return (f"{name}, {cond}" if cond else name), unit


def fmt(value: Any, unit: str = "") -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "–"
    v = float(value)
    digits = 0 if abs(v) >= 100 else 1 if abs(v) >= 10 else 2
    text = f"{v:.{digits}f}"
    return f"{text} {unit}".strip() if unit and unit != "°" else text + unit


def numeric(scores: dict[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in scores.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
            and k != "level"}


#: When a drill does not say which scores matter, these measures come first (path length
#: and ellipse area are the standard pair; mean velocity is path length / duration, so it
#: comes after the Romberg quotients rather than doubling the path length).
PRIORITY = ("path_length_cm", "ellipse_area_95_cm2", "romberg_path_length", "romberg_area",
            "stability_index_overall_deg", "symmetry_pct", "success_rate", "hits",
            "time_on_target_pct", "mean_velocity_cm_s")
CONDITION_ORDER = tuple(_CONDITIONS)


def _rank(key: str) -> tuple[int, int]:
    base, cond = key, len(CONDITION_ORDER)
    for i, suffix in enumerate(CONDITION_ORDER):
        if key.endswith(suffix):
            base, cond = key[: -len(suffix)], i
            break
    return (PRIORITY.index(base) if base in PRIORITY else len(PRIORITY), cond)


def key_metrics(drill_cls: type | None, scores: dict[str, Any], limit: int = 6) -> list[str]:
    """The scores to show: the drill's ``key_metrics`` first, then by ``PRIORITY``; the same
    order whether the scores come live or from a (key-sorted) trial.json."""
    nums = numeric(scores)
    declared = [k for k in (getattr(drill_cls, "key_metrics", ()) or ()) if k in nums]
    rest = sorted((k for k in nums if k not in declared), key=_rank)
    return (declared + rest)[:limit]


def headline(drill_cls: type | None, scores: dict[str, Any]) -> str:
    """One short line for a drill card: the first key measure."""
    keys = key_metrics(drill_cls, scores, 1)
    if not keys:
        return ""
    name, _, unit = parts(keys[0])
    return f"{name} {fmt(scores[keys[0]], unit)}"
