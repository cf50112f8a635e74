"""Replay a recorded raw file (a trial's raw.csv[.gz]) as a load-cell source.

Frames come back at their recorded timing on the clock it is given: the system clock plays in
real time, a VirtualClock as fast as the CPU allows (for analysis). A gap in the recording (a
dropped conversion) is replayed as a gap, so the acquisition counters see what the station saw.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from station.clock import Clock
from station.errors import ReplayError, SessionError
from station.sensors.base import LoadCellFrame


class ReplaySource:
    """LoadCellSource over a recorded raw file; ``finished`` once the last frame is out."""

    def __init__(self, path: str | Path, clock: Clock) -> None:
        from station.session.reader import read_samples

        p = Path(path)
        if p.is_dir():
            p = next((q for q in (p / "raw.csv.gz", p / "raw.csv") if q.exists()), p)
        try:
            table = read_samples(p)
        except SessionError as exc:
            raise ReplayError(str(exc)) from None
        if table.kind != "raw":
            raise ReplayError(f"{p}: a '{table.kind}' file, not a raw load-cell recording")
        if len(table) < 2:
            raise ReplayError(f"{p}: fewer than two frames to replay")
        cols = table.columns
        self.t_s = cols["t_s"]
        self.counts = np.column_stack([cols[f"c{i}"] for i in range(4)]).astype(np.int64)
        self.missing = np.nan_to_num(cols["missing"]).astype(np.int64)
        dt = np.median(np.diff(self.t_s))
        self.sample_rate_hz = float(round(1.0 / dt)) if dt > 0 else 80.0
        self.clock = clock
        self._start_ns = clock.monotonic_ns() - round(self.t_s[0] * 1e9)
        self._i = 0
        self.truncated = table.truncated

    @property
    def finished(self) -> bool:
        return self._i >= len(self.t_s)

    def read(self, timeout_s: float) -> LoadCellFrame | None:
        now = self.clock.monotonic_ns()
        if self.finished:
            self.clock.sleep_until(now + round(timeout_s * 1e9))
            return None
        due = self._start_ns + round(self.t_s[self._i] * 1e9)
        if due > now + round(timeout_s * 1e9):
            self.clock.sleep_until(now + round(timeout_s * 1e9))
            return None
        self.clock.sleep_until(due)
        i = self._i
        self._i += 1
        c = self.counts[i]
        return LoadCellFrame((int(c[0]), int(c[1]), int(c[2]), int(c[3])), int(self.missing[i]))

    def close(self) -> None:
        pass
