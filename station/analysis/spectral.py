"""Frequency-domain sway measures from Welch power spectra.

Two conventions, each matched to its authors' published numbers:

- ``mean_power_frequency``: Santos & Duarte 2016 (the BDS data set). Welch, periodic Hann window,
  segments of ceil(N/2) samples overlapping by half a segment, FFT length = segment, mean
  removed per segment. Per axis MPF = trapz(f P) / trapz(P) over 0..fs/2; the combined value is
  the per-axis MPFs weighted by each axis's power taken as the plain sum of its PSD bins (that
  sum, not the trapezoid integral, is what reproduces their values to 1e-15).
- ``band_spectrum``: Prieto 1996 measures as coded by Quijoux et al. 2021. Welch, periodic Hann,
  10 s segments with 50 % overlap, linear detrend per segment, FFT length = signal length, bins
  0.15-5 Hz inclusive: total power, 50 % and 95 % power frequencies (first bin where the
  cumulative power reaches the fraction), centroidal frequency sqrt(m2/m0) and frequency
  dispersion sqrt(1 - m1^2/(m0 m2)) from spectral moments m_k = sum f^k P.
  One deliberate difference: total power here is the band power sum(P) * df in m^2 (the
  variance in the band, independent of trial length), where Quijoux report the bare sum(P).

The Welch estimator is written in numpy and checked against ``scipy.signal.welch`` in the tests:
importing scipy.signal costs about a second, which would blow the start-up budget of
``station analyze``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from station.analysis.sway import prepared
from station.analysis.validation import AnalysisError, check_duration, check_rate

#: The Prieto / Quijoux analysis band (Hz).
BAND_HZ = (0.15, 5.0)
#: Welch segment length of the Prieto / Quijoux spectra (s).
SEGMENT_S = 10.0


def welch(x: np.ndarray, fs: float, nperseg: int, noverlap: int | None = None,
          nfft: int | None = None,
          detrend: Literal["constant", "linear"] = "constant") -> tuple[np.ndarray, np.ndarray]:
    """One-sided Welch PSD along axis 0 with a periodic Hann window, density scaling (unit^2/Hz).

    Same estimate as ``scipy.signal.welch(x, fs, 'hann', nperseg, noverlap, nfft, detrend,
    axis=0)``. Returns (frequencies (F,), PSD (F,) or (F, k)).
    """
    x = np.asarray(x, dtype=float)
    f, p = _welch(np.moveaxis(x, 0, -1), fs, nperseg, noverlap, nfft, detrend)
    return f, np.moveaxis(p, -1, 0)


def _welch(x: np.ndarray, fs: float, nperseg: int, noverlap: int | None = None,
           nfft: int | None = None, detrend: Literal["constant", "linear"] = "constant",
           band: tuple[float, float] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``welch`` along the last axis (rows = signals); returns (F,), (..., F). With ``band``
    only the bins lo <= f <= hi are squared and returned (a tenth of the work for 0.15-5 Hz)."""
    n = x.shape[-1]
    if not 1 <= nperseg <= n:
        raise AnalysisError(f"Welch segment of {nperseg} samples does not fit {n} samples")
    noverlap = nperseg // 2 if noverlap is None else noverlap
    nfft = nperseg if nfft is None else nfft
    if not 0 <= noverlap < nperseg or nfft < nperseg:
        raise AnalysisError("Welch needs 0 <= overlap < segment <= FFT length")
    step = nperseg - noverlap
    seg = np.lib.stride_tricks.sliding_window_view(x, nperseg, axis=-1)[..., ::step, :]
    seg = seg - seg.mean(axis=-1, keepdims=True)
    if detrend == "linear":
        t = np.arange(nperseg, dtype=float) - (nperseg - 1) / 2.0
        tt = t @ t
        if tt > 0:
            seg = seg - ((seg @ t) / tt)[..., None] * t
    elif detrend != "constant":
        raise AnalysisError(f"unknown detrend {detrend!r}")
    win = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(nperseg) / nperseg)
    spec = np.fft.rfft(seg * win, n=nfft, axis=-1)
    freqs = np.fft.rfftfreq(nfft, 1.0 / fs)
    scale = np.full(freqs.size, 2.0 / (fs * float(win @ win)))
    scale[0] /= 2.0  # one-sided: every bin doubled except DC ...
    if nfft % 2 == 0:
        scale[-1] /= 2.0  # ... and Nyquist
    if band is not None:
        keep = slice(int(np.searchsorted(freqs, band[0], "left")),
                     int(np.searchsorted(freqs, band[1], "right")))
        spec, freqs, scale = spec[..., keep], freqs[keep], scale[keep]
    psd = (spec.real ** 2 + spec.imag ** 2).mean(axis=-2) * scale
    return freqs, psd


@dataclass(frozen=True)
class MeanPowerFrequency:
    """Santos & Duarte 2016 mean power frequency (Hz): combined and per axis."""

    combined_hz: float
    ap_hz: float
    ml_hz: float


def mean_power_frequency(cop: np.ndarray, fs: float) -> MeanPowerFrequency:
    """Power-weighted mean power frequency of the COP (BDS convention, see module docstring)."""
    return _mean_power_frequency(prepared(cop), check_rate(fs))


def _mean_power_frequency(xy: np.ndarray, fs: float) -> MeanPowerFrequency:
    n = xy.shape[1]
    nperseg = math.ceil(n / 2)
    f, p = _welch(xy, fs, nperseg, nperseg // 2, nperseg, "constant")
    df = f[1] - f[0]
    area = df * (p.sum(axis=1) - 0.5 * (p[:, 0] + p[:, -1]))        # trapz(P), uniform grid
    fp = p * f
    first_moment = df * (fp.sum(axis=1) - 0.5 * (fp[:, 0] + fp[:, -1]))  # trapz(f P)
    if not (area > 0).all():
        raise AnalysisError("COP has no power in its spectrum: mean frequency undefined")
    mpf_ml, mpf_ap = first_moment / area
    weight = p.sum(axis=1)
    combined = float((first_moment / area) @ weight / weight.sum())
    return MeanPowerFrequency(combined, float(mpf_ap), float(mpf_ml))


@dataclass(frozen=True)
class AxisSpectrum:
    """Prieto 1996 spectral measures of one axis over the analysis band."""

    total_power_m2: float
    f50_hz: float
    f95_hz: float
    centroidal_frequency_hz: float
    frequency_dispersion: float


@dataclass(frozen=True)
class BandSpectrum:
    """``AxisSpectrum`` for each axis, with the band and resolution used."""

    ap: AxisSpectrum
    ml: AxisSpectrum
    band_hz: tuple[float, float]
    resolution_hz: float


def band_spectrum(cop: np.ndarray, fs: float, band_hz: tuple[float, float] = BAND_HZ,
                  segment_s: float = SEGMENT_S) -> BandSpectrum:
    """Prieto 1996 spectral measures per axis (Quijoux et al. 2021 conventions, module docs)."""
    c = prepared(cop)
    return _band_spectrum(c, check_rate(fs), band_hz, segment_s)


def _band_spectrum(xy: np.ndarray, fs: float, band_hz: tuple[float, float] = BAND_HZ,
                   segment_s: float = SEGMENT_S) -> BandSpectrum:
    lo, hi = band_hz
    if not 0 <= lo < hi <= fs / 2:
        raise AnalysisError(f"spectral band {lo:g}-{hi:g} Hz must lie within 0 and the Nyquist "
                            f"frequency {fs / 2:g} Hz (sample rate {fs:g} Hz)")
    n = xy.shape[1]
    check_duration(n, fs, segment_s, "signal for the spectral measures")
    nperseg = min(round(segment_s * fs), n)
    f, p = _welch(xy, fs, nperseg, nperseg // 2, n, "linear", band=(lo, hi))
    if f.size < 2:
        raise AnalysisError(f"too few frequency bins in {lo:g}-{hi:g} Hz")
    df = fs / n
    ml, ap = (_axis_spectrum(f, p[i], df, name) for i, name in enumerate(("ML", "AP")))
    return BandSpectrum(ap=ap, ml=ml, band_hz=(lo, hi), resolution_hz=df)


def _axis_spectrum(f: np.ndarray, p: np.ndarray, df: float, name: str) -> AxisSpectrum:
    m0 = float(p.sum())
    if not m0 > 0:
        raise AnalysisError(f"{name} COP has no power in the analysis band")
    m1, m2 = float(f @ p), float((f * f) @ p)
    cum = np.cumsum(p)
    f50 = f[np.argmax(cum >= 0.5 * cum[-1])]
    f95 = f[np.argmax(cum >= 0.95 * cum[-1])]
    return AxisSpectrum(total_power_m2=m0 * df, f50_hz=float(f50), f95_hz=float(f95),
                        centroidal_frequency_hz=math.sqrt(m2 / m0),
                        frequency_dispersion=math.sqrt(max(1.0 - m1 * m1 / (m0 * m2), 0.0)))
