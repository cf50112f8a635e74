"""Pre-processing steps: named, explicit, off by default."""

from __future__ import annotations

import numpy as np
import pytest
from test_analysis_support import sway

from station.analysis import preprocess
from station.analysis.preprocess import Preprocessing
from station.analysis.validation import AnalysisError


def _two_tones(fs: float = 100.0, seconds: float = 20.0) -> tuple[np.ndarray, np.ndarray]:
    t = np.arange(round(seconds * fs)) / fs
    slow = 0.01 * np.sin(2 * np.pi * 0.5 * t)
    cop = np.column_stack([slow + 0.002 * np.sin(2 * np.pi * 20 * t), slow])
    return cop, np.column_stack([slow, slow])


def test_default_does_nothing() -> None:
    cop = sway(12.0)
    out, fs = Preprocessing().apply(cop, 80.0)
    assert out is cop and fs == 80.0
    assert Preprocessing().describe() == "none (raw COP)"


def test_lowpass_is_zero_phase_and_removes_high_frequencies() -> None:
    cop, slow = _two_tones()
    out = preprocess.lowpass(cop, 100.0, 10.0)
    core = slice(200, -200)  # away from the edges
    np.testing.assert_allclose(out[core], slow[core], atol=2e-5)  # 20 Hz gone, 0.5 Hz in phase


def test_resample_changes_rate_and_keeps_slow_sway() -> None:
    _, slow = _two_tones()
    out, fs = preprocess.resample(slow, 100.0, 25.0)
    assert fs == 25.0 and out.shape == (500, 2)
    np.testing.assert_allclose(out[20:-20], slow[::4][20:-20], atol=1e-4)


def test_detrend_linear_removes_a_lean() -> None:
    cop = sway(15.0)
    ramp = np.linspace(0, 0.02, cop.shape[0])[:, None] * [1, 2]
    np.testing.assert_allclose(preprocess.detrend(cop + ramp, "linear"),
                               preprocess.detrend(cop, "linear"), atol=1e-12)
    assert np.abs(preprocess.detrend(cop, "constant").mean(axis=0)).max() < 1e-15


def test_trim_and_order() -> None:
    cop = sway(20.0, fs=100.0)
    pre = Preprocessing(trim_start_s=1.0, trim_end_s=2.0, resample_hz=50.0, lowpass_hz=10.0,
                        detrend="linear")
    out, fs = pre.apply(cop, 100.0)
    assert fs == 50.0 and out.shape[0] == 850
    assert pre.describe() == ("trim 1 s + 2 s, resample 50 Hz, low-pass 10 Hz (Butterworth "
                              "order 4, zero phase), detrend linear")


@pytest.mark.parametrize("kwargs, message", [
    ({"lowpass_hz": 50.0}, "Nyquist"),
    ({"lowpass_hz": 5.0, "lowpass_order": 0}, "order"),
    ({"trim_start_s": 30.0}, "leaves nothing"),
    ({"trim_end_s": -1.0}, ">= 0"),
    ({"resample_hz": 0.0}, "sample rate"),
    ({"detrend": "quadratic"}, "detrend"),
])
def test_bad_steps_are_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(AnalysisError, match=message):
        Preprocessing(**kwargs).apply(sway(20.0, fs=100.0), 100.0)
