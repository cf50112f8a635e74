"""Input checks shared by every metric: a clear error instead of a wrong number.

A COP trajectory is an ``(N, 2)`` float array ``[ml, ap]`` in metres (x = medio-lateral, positive
right; y = antero-posterior, positive forward) sampled uniformly at ``fs`` Hz.
"""

from __future__ import annotations

import math

import numpy as np

from station.errors import StationError

#: Fewest samples any metric accepts (the ellipse F quantile needs N - 2 >= 1).
MIN_SAMPLES = 3

#: Largest plausible COP coordinate (m). Anything beyond is not metres (millimetres passed as
#: metres, raw counts...): refusing it early also keeps every square and sum far from overflow.
MAX_ABS_COP_M = 10.0

#: Movement below this peak-to-peak range (m) is no movement: no force plate resolves 1 nm.
MIN_MOVEMENT_M = 1e-9

#: Shortest trial the full metric set (and every spectral feature) accepts, in seconds: below
#: this the 0.15-5 Hz band holds too few independent estimates to mean anything.
MIN_DURATION_S = 10.0


class AnalysisError(StationError, ValueError):
    """The input cannot give a meaningful sway metric (NaN, too short, constant, bad rate...)."""


def check_rate(fs: float) -> float:
    """Return ``fs`` as a float, refusing anything that is not a finite positive rate."""
    try:
        rate = float(fs)
    except (TypeError, ValueError):
        raise AnalysisError(f"sample rate must be a number, got {fs!r}") from None
    if not math.isfinite(rate) or rate <= 0:
        raise AnalysisError(f"sample rate must be finite and positive, got {fs!r} Hz")
    return rate


def as_series(x: np.ndarray, name: str = "signal", min_samples: int = MIN_SAMPLES) -> np.ndarray:
    """A 1-D finite float series of at least ``min_samples`` samples, else AnalysisError."""
    a = np.asarray(x, dtype=float)
    if a.ndim != 1:
        raise AnalysisError(f"{name} must be one-dimensional, got shape {a.shape}")
    _check_finite_and_length(a, name, min_samples)
    return a


def as_cop(cop: np.ndarray, min_samples: int = MIN_SAMPLES) -> np.ndarray:
    """A finite ``(N, 2)`` float COP array of >= ``min_samples`` samples, else AnalysisError."""
    a = np.asarray(cop, dtype=float)
    if a.ndim != 2 or a.shape[1] != 2:
        raise AnalysisError(f"COP must have shape (N, 2) [ml, ap], got {a.shape}")
    _check_finite_and_length(a, "COP", min_samples)
    peak = float(np.abs(a).max())
    if peak > MAX_ABS_COP_M:
        raise AnalysisError(f"COP reaches {peak:.4g} from the origin: coordinates must be in "
                            f"metres (at most {MAX_ABS_COP_M:g} m); were they millimetres?")
    return a


def _check_finite_and_length(a: np.ndarray, name: str, min_samples: int) -> None:
    if a.shape[0] < min_samples:
        raise AnalysisError(f"{name} has {a.shape[0]} samples; at least {min_samples} are needed")
    finite = np.isfinite(a)
    if not finite.all():
        rows = np.flatnonzero(~finite.reshape(a.shape[0], -1).all(axis=1))
        raise AnalysisError(f"{name} contains {rows.size} non-finite sample(s) (NaN or inf), "
                            f"first at index {rows[0]}; cut or interpolate them first")


def check_moving(xy: np.ndarray, name: str = "COP") -> None:
    """Refuse a signal with an axis that never moves: a stuck sensor, not a steady patient.

    ``xy`` has one row per axis ((2, N) = [ml, ap] for a COP). An axis counts as constant when
    its peak-to-peak range is below ``MIN_MOVEMENT_M`` or below floating-point noise relative
    to its offset (1e-12 of the largest magnitude).
    """
    rows = xy.reshape(-1, xy.shape[-1])
    hi, lo = rows.max(axis=1), rows.min(axis=1)
    span = hi - lo
    scale = np.maximum(np.abs(hi), np.abs(lo))
    flat = (span < MIN_MOVEMENT_M) | (span <= 1e-12 * scale)
    if flat.any():
        axes = ["ML", "AP"] if rows.shape[0] == 2 else [name]
        which = ", ".join(ax for ax, f in zip(axes, flat, strict=True) if f)
        raise AnalysisError(f"{name} is constant ({which} never moves): sway metrics are "
                            "undefined; is the sensor stuck or the file a placeholder?")


def check_duration(n: int, fs: float, min_s: float = MIN_DURATION_S, what: str = "trial") -> None:
    """Refuse a record shorter than ``min_s`` seconds (duration = N / fs)."""
    duration = n / fs
    if duration + 1e-9 < min_s:
        raise AnalysisError(f"{what} is {duration:.2f} s long ({n} samples at {fs:g} Hz); "
                            f"at least {min_s:g} s are needed")
