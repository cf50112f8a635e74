"""Faults the screen must show: each one a plain sentence saying what to do.

Sources: the acquisition's health (per-cell state, IMU state), a plate that sends nothing, the
free space of the data folder, a write that failed, the sync status, and the UI's own crashes.
``pauses`` marks the faults that make a running drill pause: the data it would record is wrong
or would be lost.
"""

from __future__ import annotations

import errno
from collections.abc import Callable
from dataclasses import dataclass

from station.runtime import Health
from station.sensors.base import CELL_NAMES

LOW_DISK_BYTES = 1_000_000_000      # warn: about two weeks of visits left
FULL_DISK_BYTES = 100_000_000       # stop starting drills: a visit needs ~10-50 MB
PLATE_SILENT_S = 0.5


@dataclass(frozen=True)
class Fault:
    key: str
    message: str
    pauses: bool = False
    error: bool = True          # red banner (else amber)


@dataclass(frozen=True)
class SyncStatus:
    """What the sync client reports; the provider must answer from memory, never block."""

    last_ok_utc: str | None = None
    failed: str | None = None       # why the last attempt failed, if it did


SyncProvider = Callable[[], SyncStatus]


def unknown_sync() -> SyncStatus:
    return SyncStatus()


def cell_fault(i: int, state: str) -> Fault:
    name = f"Cell {i} ({CELL_NAMES[i]})"
    text = {
        "silent": f"{name} not answering: check its cable",
        "stuck": f"{name} stuck on one reading: check its cable and connector",
        "saturated": f"{name} overloaded or miswired: take the load off, then check it",
    }.get(state, f"{name} is {state}: check its cable")
    return Fault(f"cell{i}", text, pauses=True)


def evaluate(health: Health, *, silent_s: float, imu_expected: bool, free_bytes: int | None,
             write_error: BaseException | None, sync: SyncStatus) -> list[Fault]:
    faults: list[Fault] = []
    if silent_s >= PLATE_SILENT_S:
        faults.append(Fault("plate", "The plate sends no data: check the plate cable, then "
                            "restart the station", pauses=True))
    else:
        faults += [cell_fault(i, s) for i, s in enumerate(health.cell_state) if s != "ok"]
    if imu_expected and health.imu_state != "ok":
        faults.append(Fault("imu", "Wobble-board sensor missing: check its cable; board "
                            "drills cannot run", pauses=True))
    if write_error is not None:
        if isinstance(write_error, OSError) and write_error.errno == errno.ENOSPC:
            faults.append(Fault("disk", "Storage full: recording stopped. Finish the visit and "
                                "ask IT to free space", pauses=True))
        else:
            why = (getattr(write_error, "strerror", None) or str(write_error)[:60]
                   or type(write_error).__name__)
            faults.append(Fault("write", f"Cannot save data ({why}): finish the visit and "
                                "restart the station", pauses=True))
    elif free_bytes is not None and free_bytes < FULL_DISK_BYTES:
        faults.append(Fault("disk", f"Storage full ({free_bytes // 1_000_000} MB left): ask IT "
                            "to sync and clear old sessions", pauses=True))
    elif free_bytes is not None and free_bytes < LOW_DISK_BYTES:
        faults.append(Fault("disk_low", f"Storage almost full ({free_bytes // 1_000_000} MB "
                            "left): ask IT to sync and clear old sessions", error=False))
    if sync.failed:
        faults.append(Fault("sync", f"Last sync failed ({sync.failed}): data stays on the "
                            "station; check the network cable", error=False))
    return faults
