"""The acquisition loop: read the sensors, stamp, count, watch, publish.

One loop, one thread, in its own process on the Pi: the load-cell bank is read blocking (the
HX711s pace it at 80 Hz) and the IMU is polled without blocking in the gap that follows, so no
GIL hand-off can land in the middle of a PD_SCK pulse. Each frame is stamped with the monotonic
clock where it is read, dropped and late conversions are counted, and a cell that goes silent
(no valid word) or stuck (the same 24-bit word again and again, which a live HX711 never
produces) is reported within ``fault_after_s``. Results go into rings that never block.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np

from station.acquisition.ring import CELL_RECORD, IMU_RECORD, Ring
from station.clock import Clock
from station.sensors.base import CELL_NAMES, HX711_MAX, HX711_MIN, ImuSource, LoadCellSource

log = logging.getLogger(__name__)

CELL_OK, CELL_SILENT, CELL_STUCK, CELL_SATURATED = 0, 1, 2, 3
CELL_STATE_NAMES = {CELL_OK: "ok", CELL_SILENT: "silent", CELL_STUCK: "stuck",
                    CELL_SATURATED: "saturated"}
IMU_ABSENT, IMU_OK, IMU_SILENT = 0, 1, 2
IMU_STATE_NAMES = {IMU_ABSENT: "absent", IMU_OK: "ok", IMU_SILENT: "silent"}

#: Shared status record: what `station status`, the UI and the watchdog read.
STATUS_RECORD = np.dtype([
    ("seq", "<u8"), ("t_ns", "<i8"), ("frames", "<u8"), ("dropped", "<u8"), ("late", "<u8"),
    ("cell_state", "u1", (4,)), ("imu_state", "u1"), ("imu_frames", "<u8"),
    ("last_frame_ns", "<i8"),
])


@dataclass
class Rings:
    """The three rings an acquisition loop writes and the station reads."""

    cells: Ring
    imu: Ring
    status: Ring

    @classmethod
    def create(cls, seconds: float = 120.0, rate_hz: float = 80.0, shared: bool = False) -> Rings:
        n = int(seconds * rate_hz) + 1
        return cls(Ring(CELL_RECORD, n, shared=shared), Ring(IMU_RECORD, 2 * n, shared=shared),
                   Ring(STATUS_RECORD, 8, shared=shared))

    @classmethod
    def attach(cls, names: tuple[str, str, str]) -> Rings:
        return cls(_attach(CELL_RECORD, names[0]), _attach(IMU_RECORD, names[1]),
                   _attach(STATUS_RECORD, names[2]))

    @property
    def names(self) -> tuple[str, str, str]:
        return (self.cells.name or "", self.imu.name or "", self.status.name or "")

    def close(self, unlink: bool = False) -> None:
        for ring in (self.cells, self.imu, self.status):
            ring.close(unlink)


def _attach(dtype: np.dtype, name: str) -> Ring:
    from multiprocessing import shared_memory

    shm = shared_memory.SharedMemory(name=name, create=False)
    capacity = (shm.size - 8) // dtype.itemsize
    shm.close()
    return Ring(dtype, capacity, name=name)


class AcquisitionLoop:
    """Reads ``cells`` (and ``imu``) into ``rings``; ``step`` is one iteration."""

    def __init__(self, cells: LoadCellSource, imu: ImuSource | None, clock: Clock, rings: Rings,
                 *, fault_after_s: float = 0.3, read_timeout_s: float = 0.1) -> None:
        self.cells, self.imu, self.clock, self.rings = cells, imu, clock, rings
        self.period_ns = round(1e9 / cells.sample_rate_hz)
        self.fault_after_ns = round(fault_after_s * 1e9)
        self.stuck_frames = max(3, round(fault_after_s * cells.sample_rate_hz))
        self.read_timeout_s = read_timeout_s
        start = clock.monotonic_ns()
        self.frames = self.dropped = self.late = self.imu_frames = 0
        self.last_frame_ns: int | None = None
        self._last_valid_ns = np.full(4, start, dtype=np.int64)
        self._last_counts = np.zeros(4, dtype=np.int64)
        self._same_count = np.zeros(4, dtype=np.int64)
        self._last_imu_ns = start
        self.cell_state = np.zeros(4, dtype=np.uint8)
        self.imu_state = IMU_ABSENT if imu is None else IMU_OK

    def step(self) -> None:
        frame = self.cells.read(self.read_timeout_s)
        now = self.clock.monotonic_ns()
        if frame is not None:
            self._count_timing(now)
            counts = np.array(frame.counts, dtype=np.int64)
            valid = ((frame.missing >> np.arange(4)) & 1) == 0
            self._last_valid_ns[valid] = now
            same = valid & (counts == self._last_counts)
            self._same_count = np.where(same, self._same_count + 1, 0)
            self._last_counts = counts
            self.rings.cells.write(t_ns=now, counts=frame.counts, missing=frame.missing)
            saturated = valid & ((counts >= HX711_MAX) | (counts <= HX711_MIN))
        else:
            saturated = np.zeros(4, dtype=bool)
        if self.imu is not None:
            self._poll_imu()
        self._update_state(now, saturated)

    def _count_timing(self, now: int) -> None:
        if self.last_frame_ns is not None:
            gap = now - self.last_frame_ns
            missed = round(gap / self.period_ns) - 1
            if missed > 0:
                self.dropped += missed
            elif gap > self.period_ns * 1.25:
                self.late += 1
        self.frames += 1
        self.last_frame_ns = now

    def _poll_imu(self) -> None:
        assert self.imu is not None
        while (report := self.imu.read(0.0)) is not None:
            t = self.clock.monotonic_ns()
            self.rings.imu.write(t_ns=t, quat=report.quat, accel=report.accel_m_s2)
            self.imu_frames += 1
            self._last_imu_ns = t

    def _update_state(self, now: int, saturated: np.ndarray) -> None:
        state = np.full(4, CELL_OK, dtype=np.uint8)
        state[saturated] = CELL_SATURATED
        state[self._same_count >= self.stuck_frames] = CELL_STUCK
        state[now - self._last_valid_ns >= self.fault_after_ns] = CELL_SILENT
        for cell in np.flatnonzero(state != self.cell_state):
            log.warning("cell %d (%s) is %s", cell, CELL_NAMES[cell],
                        CELL_STATE_NAMES[int(state[cell])])
        self.cell_state = state
        if self.imu is not None:
            imu_state = IMU_SILENT if now - self._last_imu_ns >= self.fault_after_ns else IMU_OK
            if imu_state != self.imu_state:
                log.warning("wobble-board IMU is %s", IMU_STATE_NAMES[imu_state])
            self.imu_state = imu_state
        self.rings.status.write(t_ns=now, frames=self.frames, dropped=self.dropped,
                                late=self.late, cell_state=self.cell_state,
                                imu_state=self.imu_state, imu_frames=self.imu_frames,
                                last_frame_ns=self.last_frame_ns or 0)

    def close(self) -> None:
        self.cells.close()
        if self.imu is not None:
            self.imu.close()
