"""The virtual plate: turns the patient's weight and COP into what four HX711s would deliver.

Forces split over the four cells as on a rigid plate on four equal springs (the minimum-norm
split that reproduces the load and both moments), the top plate's own weight is added, and each
cell gets its own offset, scale (counts per newton, a few % apart as real cells are), noise and
the HX711's 24-bit clipping. The wobble board turns the same sway into board tilt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from station.sensors.base import HX711_MAX, HX711_MIN

G = 9.80665

#: Sign of each cell's x (ML) and y (AP) position, cells 0..3 = FL, FR, BL, BR (design.md).
CELL_SIGN_X = np.array([-1.0, 1.0, -1.0, 1.0])
CELL_SIGN_Y = np.array([1.0, 1.0, -1.0, -1.0])


def split_forces(weight_n: np.ndarray | float, cop_m: np.ndarray, half_ml_m: float,
                 half_ap_m: float) -> np.ndarray:
    """Cell forces (..., 4) N for a load ``weight_n`` at ``cop_m`` (..., 2) [ml, ap].

    The inverse of design.md's COP formula: F_i = W/4 (1 + sx_i x/a + sy_i y/b).
    """
    cop = np.asarray(cop_m, dtype=float)
    w = np.asarray(weight_n, dtype=float)[..., None]
    rel = 1.0 + CELL_SIGN_X * (cop[..., :1] / half_ml_m) + CELL_SIGN_Y * (cop[..., 1:2] / half_ap_m)
    return w / 4.0 * rel


@dataclass
class VirtualCells:
    """Four simulated cells + HX711s with their own electrical personalities.

    counts = offset + force / newtons_per_count + noise, clipped to the 24-bit range.
    A typical 50 kg, 2 mV/V bar cell at 4.3 V excitation and gain 128 gives ~7400 counts/N.
    """

    seed: int = 1
    noise: bool = True
    noise_counts_rms: float = 120.0
    plate_mass_kg: float = 6.0
    offsets: np.ndarray = field(default=None)  # type: ignore[assignment]
    newtons_per_count: np.ndarray = field(default=None)  # type: ignore[assignment]

    def __post_init__(self) -> None:
        rng = np.random.default_rng(self.seed + 7919)
        if self.offsets is None:
            self.offsets = rng.integers(-90_000, 90_000, 4).astype(float)
        if self.newtons_per_count is None:
            self.newtons_per_count = (1.0 / 7400.0) * (1.0 + rng.uniform(-0.04, 0.04, 4))
        self._rng = np.random.default_rng(self.seed + 104729)

    def counts(self, forces_n: np.ndarray) -> np.ndarray:
        """Raw signed 24-bit counts (..., 4) for cell forces (..., 4) N."""
        dead = self.plate_mass_kg * G / 4.0
        c = self.offsets + (np.asarray(forces_n) + dead) / self.newtons_per_count
        if self.noise:
            c = c + self._rng.normal(0.0, self.noise_counts_rms, c.shape)
        return np.clip(np.rint(c), HX711_MIN, HX711_MAX).astype(np.int64)

    @property
    def noise_force_rms_n(self) -> np.ndarray:
        """Per-cell electrical noise expressed in newtons."""
        return self.noise_counts_rms * self.newtons_per_count if self.noise else np.zeros(4)


def board_tilt_rad(cop_m: np.ndarray, stiffness_rad_per_m: float = 7.0,
                   max_tilt_rad: float = math.radians(20.0)) -> tuple[float, float]:
    """Wobble-board tilt (roll, pitch) from the COP over its pivot.

    A hemispherical-pivot board tips toward the loaded side until the person's corrections hold
    it; near-linear for small sway (about 4 degrees per cm), clamped where the rim meets the
    floor. Roll positive = right side down, pitch positive = front down (design.md).
    """
    roll = max(-max_tilt_rad, min(max_tilt_rad, stiffness_rad_per_m * float(cop_m[0])))
    pitch = max(-max_tilt_rad, min(max_tilt_rad, stiffness_rad_per_m * float(cop_m[1])))
    return roll, pitch


def tilt_quaternion(roll_rad: float, pitch_rad: float, yaw_rad: float = 0.0) -> tuple[
        float, float, float, float]:
    """Game-rotation-vector quaternion (w, x, y, z) of a board at this roll and pitch.

    R = Rz(yaw) Ry(roll) Rx(-pitch): roll about +y puts the right side down, pitch is a
    rotation about -x so positive pitch puts the front down; yaw is the gyro drift the game
    rotation vector accumulates, which tilt must ignore.
    """
    def axis(angle: float, ax: int) -> np.ndarray:
        q = np.zeros(4)
        q[0] = math.cos(angle / 2)
        q[1 + ax] = math.sin(angle / 2)
        return q

    q = quat_mul(quat_mul(axis(yaw_rad, 2), axis(roll_rad, 1)), axis(-pitch_rad, 0))
    return float(q[0]), float(q[1]), float(q[2]), float(q[3])


def quat_mul(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Hamilton product of quaternions (w, x, y, z)."""
    w1, x1, y1, z1 = p
    w2, x2, y2, z2 = q
    return np.array([
        w1 * w2 - x1 * x2 - y1 * y2 - z1 * z2,
        w1 * x2 + x1 * w2 + y1 * z2 - z1 * y2,
        w1 * y2 - x1 * z2 + y1 * w2 + z1 * x2,
        w1 * z2 + x1 * y2 - y1 * x2 + z1 * w2,
    ])
