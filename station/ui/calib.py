"""Tare, calibration and board levelling without blocking the frame loop.

``Station.tare``/``calibrate`` wait on live data, which a kiosk must never do in its loop. The
wizard feeds a ``SteadyMeter`` the records of each frame instead; it applies the same test as
``Station.steady_counts`` (every cell steady within ``STEADY_TOLERANCE_N`` over a 1 s window)
and the same calibration maths (``station.plate.calibration``).
"""

from __future__ import annotations

import numpy as np

from station.plate.model import is_steady
from station.runtime import STEADY_TOLERANCE_N, Station


class SteadyMeter:
    """Accumulates raw records until a whole window is steady; never waits."""

    def __init__(self, station: Station, window_s: float = 1.0, timeout_s: float = 15.0) -> None:
        self.station = station
        self.window_s = window_s
        self.timeout_s = timeout_s
        self.elapsed_s = 0.0
        self._window: list[np.ndarray] = []
        self._window_s = 0.0
        self.mean_counts: np.ndarray | None = None
        self.moving_n = 0.0
        self.state = "measuring"            # measuring | steady | timeout | fault

    @property
    def progress(self) -> float:
        return min(1.0, self._window_s / self.window_s)

    def feed(self, cells: np.ndarray, dt: float) -> str:
        if self.state != "measuring":
            return self.state
        self.elapsed_s += dt
        if len(cells):
            if np.any(cells["missing"]):
                self.state = "fault"
                return self.state
            self._window.append(cells)
            span = (int(cells["t_ns"][-1]) - int(self._window[0]["t_ns"][0])) / 1e9
            self._window_s = span
            if span >= self.window_s:
                rec = np.concatenate(self._window)
                forces = self.station.to_plate(rec).forces_n
                if is_steady(forces, STEADY_TOLERANCE_N):
                    self.mean_counts = rec["counts"].astype(float).mean(axis=0)
                    self.state = "steady"
                    return self.state
                self.moving_n = float(np.max(np.std(forces, axis=0)))
                self._window, self._window_s = [], 0.0
        if self.elapsed_s >= self.timeout_s:
            self.state = "timeout"
        return self.state


class ImuMeter:
    """Collects IMU records for board levelling (the board held level on its blocks)."""

    def __init__(self, window_s: float = 1.0, timeout_s: float = 5.0) -> None:
        self.window_s, self.timeout_s = window_s, timeout_s
        self.elapsed_s = 0.0
        self._recs: list[np.ndarray] = []
        self.quats: np.ndarray | None = None
        self.state = "measuring"

    def feed(self, imu: np.ndarray, dt: float) -> str:
        if self.state != "measuring":
            return self.state
        self.elapsed_s += dt
        if len(imu):
            self._recs.append(imu)
        if self.elapsed_s >= self.window_s:
            rec = np.concatenate(self._recs) if self._recs else imu[:0]
            if len(rec) >= 5:
                self.quats = rec["quat"].astype(float)
                self.state = "steady"
            elif self.elapsed_s >= self.timeout_s:
                self.state = "fault"
        return self.state
