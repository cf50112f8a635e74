"""The two sensor interfaces the rest of the station depends on.

A source only delivers raw readings; the acquisition layer stamps them with the monotonic clock,
counts drops and watches for faults, and the plate model turns counts into forces. Sources are
built by factories so that hardware libraries are imported only when real hardware is wanted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

#: Cell numbering from the patient's view, facing the screen (design.md).
CELL_NAMES = ("front-left", "front-right", "back-left", "back-right")

#: HX711 clip codes: real readings at the rails, flagged rather than dropped.
HX711_MAX = 0x7FFFFF
HX711_MIN = -0x800000


@dataclass(frozen=True, slots=True)
class LoadCellFrame:
    """One conversion of all four HX711s.

    counts: signed 24-bit raw readings of cells 0..3 (front-left, front-right, back-left,
    back-right). missing: bit i set when cell i gave no valid word in this frame (not ready,
    disconnected, or a read the chip powered down in the middle of); counts[i] is then 0 and
    must be ignored.
    """

    counts: tuple[int, int, int, int]
    missing: int = 0


@dataclass(frozen=True, slots=True)
class ImuFrame:
    """One BNO08x report pair.

    quat: game rotation vector as (w, x, y, z), unit quaternion, board frame -> world frame.
    accel_m_s2: linear acceleration (gravity removed), board frame, m/s^2.
    """

    quat: tuple[float, float, float, float]
    accel_m_s2: tuple[float, float, float] = (0.0, 0.0, 0.0)


class LoadCellSource(Protocol):
    """Four load cells read together. ``read`` blocks until the next conversion."""

    sample_rate_hz: float

    def read(self, timeout_s: float) -> LoadCellFrame | None:
        """Next frame, or None if none arrived within ``timeout_s`` (a silent bank)."""
        ...

    def close(self) -> None: ...


class ImuSource(Protocol):
    """The wobble-board IMU. ``read`` blocks until the next report."""

    sample_rate_hz: float

    def read(self, timeout_s: float) -> ImuFrame | None:
        """Next report, or None if none arrived within ``timeout_s``."""
        ...

    def close(self) -> None: ...
