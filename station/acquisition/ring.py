"""A single-writer ring of fixed-size sample records, in shared memory or a plain array.

The writer (the sensor loop) never blocks and never waits for a reader: it overwrites the
oldest record. Each reader keeps its own cursor, copies what is new and learns how many records
it lost by falling more than a ring behind, so a slow consumer (the UI, the disk) can never
delay a sensor read. Every record carries its sequence number, written after the data, so a
reader can tell a record that was overwritten while it copied from a good one.
"""

from __future__ import annotations

from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

#: Load-cell record: stamp, four raw counts, missing-cell bits.
CELL_RECORD = np.dtype([("seq", "<u8"), ("t_ns", "<i8"), ("counts", "<i4", (4,)),
                        ("missing", "u1")])
#: IMU record: stamp, game rotation vector (w, x, y, z), linear acceleration (m/s^2).
IMU_RECORD = np.dtype([("seq", "<u8"), ("t_ns", "<i8"), ("quat", "<f4", (4,)),
                       ("accel", "<f4", (3,))])
_HEADER = np.dtype([("written", "<u8")])


class Ring:
    """Records of ``dtype`` in a ring of ``capacity``; optionally in named shared memory."""

    def __init__(self, dtype: np.dtype, capacity: int, *, shared: bool = False,
                 name: str | None = None) -> None:
        self.dtype = dtype
        self.capacity = capacity
        size = _HEADER.itemsize + dtype.itemsize * capacity
        self._shm: shared_memory.SharedMemory | None = None
        if shared or name:
            self._shm = shared_memory.SharedMemory(name=name, create=name is None, size=size)
            buf = self._shm.buf
        else:
            buf = bytearray(size)
        self._header = np.ndarray((1,), _HEADER, buffer=buf)
        self.records = np.ndarray((capacity,), dtype, buffer=buf, offset=_HEADER.itemsize)
        if name is None:
            self._header["written"] = 0
            self.records["seq"] = 0

    @property
    def name(self) -> str | None:
        return self._shm.name if self._shm else None

    @property
    def written(self) -> int:
        return int(self._header["written"][0])

    def write(self, **fields: object) -> None:
        """Append one record (writer side only)."""
        n = self.written
        rec = self.records[n % self.capacity]
        for key, value in fields.items():
            rec[key] = value
        rec["seq"] = n + 1
        self._header["written"] = n + 1

    def reader(self, from_start: bool = False) -> RingReader:
        return RingReader(self, 0 if from_start else self.written)

    def latest(self) -> np.void | None:
        n = self.written
        return None if n == 0 else self.records[(n - 1) % self.capacity].copy()

    def close(self, unlink: bool = False) -> None:
        if self._shm is not None:
            # drop our views first or SharedMemory.close() raises BufferError
            del self.records, self._header
            self._shm.close()
            if unlink:
                self._shm.unlink()
            self._shm = None


@dataclass
class RingReader:
    """A consumer's cursor into a Ring."""

    ring: Ring
    cursor: int
    lost: int = 0

    def poll(self, max_records: int | None = None) -> np.ndarray:
        """Copy the records written since the last poll (oldest first)."""
        ring = self.ring
        end = ring.written
        start = self.cursor
        if end - start > ring.capacity:          # fell more than a ring behind
            self.lost += end - start - ring.capacity
            start = end - ring.capacity
        if max_records is not None:
            end = min(end, start + max_records)
        if end <= start:
            return ring.records[:0].copy()
        idx = np.arange(start, end) % ring.capacity
        out = ring.records[idx]                  # fancy indexing copies
        good = out["seq"] == np.arange(start + 1, end + 1, dtype=np.uint64)
        if not good.all():                       # overwritten while we copied
            self.lost += int((~good).sum())
            out = out[good]
        self.cursor = end
        return out
