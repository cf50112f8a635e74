"""Pre-processing as explicit, named steps that the caller chooses.

Nothing here runs unless asked. The default ``Preprocessing()`` does nothing: metrics are computed
on the COP as recorded, which is the convention of the Santos & Duarte (2016) reference values
(raw 100 Hz COP, no extra filter). The Quijoux et al. (2021) convention is
``Preprocessing(resample_hz=25, lowpass_hz=10)``. When several steps are chosen they always run in
this order: trim -> resample -> low-pass -> detrend.

scipy.signal is imported only inside the low-pass and resampling steps: it costs about a second
of start-up on a Raspberry Pi class machine and the default pipeline never needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np

from station.analysis.validation import AnalysisError, as_cop, check_rate

DetrendKind = Literal["none", "constant", "linear"]


def trim(cop: np.ndarray, fs: float, start_s: float = 0.0, end_s: float = 0.0) -> np.ndarray:
    """Drop ``start_s`` seconds from the start and ``end_s`` from the end (stepping on/off)."""
    cop = as_cop(cop)
    fs = check_rate(fs)
    if start_s < 0 or end_s < 0:
        raise AnalysisError(f"trim must be >= 0 s, got start {start_s} s, end {end_s} s")
    i0 = round(start_s * fs)
    i1 = cop.shape[0] - round(end_s * fs)
    if i1 - i0 < 3:
        raise AnalysisError(f"trimming {start_s:g} s + {end_s:g} s leaves nothing of a "
                            f"{cop.shape[0] / fs:.2f} s record")
    return cop[i0:i1]


def detrend(cop: np.ndarray, kind: DetrendKind = "linear") -> np.ndarray:
    """Remove the mean (``constant``) or the least-squares line (``linear``) from each axis.

    Sway metrics are already computed about the mean, so ``constant`` changes nothing but the
    plot origin; ``linear`` also removes a slow drift (a patient leaning progressively).
    """
    cop = as_cop(cop)
    if kind == "none":
        return cop
    out = cop - cop.mean(axis=0)
    if kind == "constant":
        return out
    if kind == "linear":
        t = np.arange(cop.shape[0], dtype=float)
        t -= t.mean()
        slope = (t @ out) / (t @ t)
        return out - np.outer(t, slope)
    raise AnalysisError(f"unknown detrend kind {kind!r} (none, constant, linear)")


def lowpass(cop: np.ndarray, fs: float, cutoff_hz: float = 10.0, order: int = 4) -> np.ndarray:
    """Zero-phase Butterworth low-pass (forward-backward, so the magnitude response is squared).

    Default 10 Hz, 4th order: the filter of Quijoux et al. 2021 (scipy ``filtfilt`` there,
    second-order sections here: same response, better conditioned).
    """
    cop = as_cop(cop)
    fs = check_rate(fs)
    if not 0 < cutoff_hz < fs / 2:
        raise AnalysisError(f"low-pass cut-off must be between 0 and the Nyquist frequency "
                            f"{fs / 2:g} Hz, got {cutoff_hz:g} Hz")
    if order < 1:
        raise AnalysisError(f"filter order must be >= 1, got {order}")
    from scipy import signal

    sos = signal.butter(order, cutoff_hz, btype="lowpass", fs=fs, output="sos")
    padlen = 3 * (2 * len(sos) + 1)
    if cop.shape[0] <= padlen:
        raise AnalysisError(f"{cop.shape[0]} samples are too few to filter (need > {padlen})")
    return signal.sosfiltfilt(sos, cop, axis=0)


def resample(cop: np.ndarray, fs: float, target_hz: float) -> tuple[np.ndarray, float]:
    """Polyphase resampling to ``target_hz`` (anti-alias FIR included); returns (cop, new rate).

    The rate ratio is approximated by a fraction with denominator <= 1000, so the returned rate
    can differ from ``target_hz`` by less than 0.1 % for odd source rates. Edges are padded
    with the local line so the ends do not ring.
    """
    cop = as_cop(cop)
    fs = check_rate(fs)
    target = check_rate(target_hz)
    ratio = Fraction(target / fs).limit_denominator(1000)
    if ratio.numerator == 0:
        raise AnalysisError(f"cannot resample {fs:g} Hz to {target:g} Hz")
    if ratio == 1:
        return cop, fs
    from scipy import signal

    out = signal.resample_poly(cop, ratio.numerator, ratio.denominator, axis=0, padtype="line")
    return out, fs * ratio.numerator / ratio.denominator


@dataclass(frozen=True)
class Preprocessing:
    """The caller's choice of steps. The default (all off) leaves the COP untouched."""

    trim_start_s: float = 0.0
    trim_end_s: float = 0.0
    resample_hz: float | None = None
    lowpass_hz: float | None = None
    lowpass_order: int = 4
    detrend: DetrendKind = "none"

    def apply(self, cop: np.ndarray, fs: float) -> tuple[np.ndarray, float]:
        """Run the chosen steps in the fixed order; returns (cop, sample rate)."""
        if self.trim_start_s or self.trim_end_s:
            cop = trim(cop, fs, self.trim_start_s, self.trim_end_s)
        if self.resample_hz is not None:
            cop, fs = resample(cop, fs, self.resample_hz)
        if self.lowpass_hz is not None:
            cop = lowpass(cop, fs, self.lowpass_hz, self.lowpass_order)
        if self.detrend != "none":
            cop = detrend(cop, self.detrend)
        return cop, fs

    def describe(self) -> str:
        """One line for tables, reports and the JSON ``preprocessing`` key."""
        steps = []
        if self.trim_start_s or self.trim_end_s:
            steps.append(f"trim {self.trim_start_s:g} s + {self.trim_end_s:g} s")
        if self.resample_hz is not None:
            steps.append(f"resample {self.resample_hz:g} Hz")
        if self.lowpass_hz is not None:
            steps.append(f"low-pass {self.lowpass_hz:g} Hz (Butterworth order "
                         f"{self.lowpass_order}, zero phase)")
        if self.detrend != "none":
            steps.append(f"detrend {self.detrend}")
        return ", ".join(steps) if steps else "none (raw COP)"
