"""The live feed: once per frame, everything new from the acquisition rings as one snapshot.

Only this module reads the rings for the UI. Screens get a ``Snapshot`` (new records, their
plate samples, the smoothed weight, the newest COP and tilt, health) and never touch sensors.
Reading a ring is a memory copy: it never waits for a sensor.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from station.plate.model import PlateSamples
from station.runtime import Health, Station

G = 9.80665


@dataclass(frozen=True)
class Snapshot:
    now_ns: int                      # station clock when the frame started
    cells: np.ndarray                # ring records new this frame
    imu: np.ndarray
    samples: PlateSamples            # plate model of ``cells``
    weight_kg: float | None          # mean of the last 0.25 s; None when nobody is on
    cop_m: tuple[float, float] | None
    tilt_rad: tuple[float, float] | None
    last_sample_ns: int | None       # stamp of the newest load-cell sample seen so far
    health: Health
    silent_s: float                  # how long no load-cell frame arrived


class LiveFeed:
    def __init__(self, station: Station) -> None:
        self.station = station
        self._reader = station.rings.cells.reader()
        self._imu_reader = station.rings.imu.reader()
        self._totals: deque[float] = deque(maxlen=20)     # 0.25 s at 80 Hz
        self.cop_m: tuple[float, float] | None = None
        self.tilt_rad: tuple[float, float] | None = None
        self.last_sample_ns: int | None = None
        self._silent_s = 0.0
        self.snapshot: Snapshot | None = None

    def poll(self, dt: float) -> Snapshot:
        st = self.station
        cells = self._reader.poll()
        imu = self._imu_reader.poll()
        samples = st.to_plate(cells)
        if len(cells):
            self._silent_s = 0.0
            self.last_sample_ns = int(cells["t_ns"][-1])
            self._totals.extend(samples.total_force_n[-20:].tolist())
            last = samples.cop_m[-1]
            self.cop_m = None if np.isnan(last).any() else (float(last[0]), float(last[1]))
        else:
            self._silent_s += dt
        if len(imu):
            roll, pitch = st.board_tilt(imu[-1:])[0]
            self.tilt_rad = (float(roll), float(pitch))
        weight = None
        if self._totals:
            mean = math.fsum(self._totals) / len(self._totals)    # NaN if a cell is missing
            if mean >= st.geometry.min_load_n:
                weight = mean / G
        if weight is None:
            self.cop_m = None
        self.snapshot = Snapshot(st.clock.monotonic_ns(), cells, imu, samples, weight,
                                 self.cop_m, self.tilt_rad, self.last_sample_ns, st.health(),
                                 self._silent_s)
        return self.snapshot
