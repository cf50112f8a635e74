"""Plate model: raw counts -> forces, total load, COP and weight distribution.

Pure, vectorised functions over blocks of samples (N, 4): the live station, the recorder and the
analysis of a recorded raw file all call the same code. A cell that delivered no valid word
(``missing`` bit) makes its row's forces NaN, so nothing downstream mistakes it for a zero load.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from station.plate.calibration import Calibration

#: Cell position signs (cells 0..3 = front-left, front-right, back-left, back-right).
_SX = np.array([-1.0, 1.0, -1.0, 1.0])
_SY = np.array([1.0, 1.0, -1.0, -1.0])


@dataclass(frozen=True)
class PlateGeometry:
    """Where the cells and footprints are (m), from the configuration."""

    span_ml_m: float = 0.4
    span_ap_m: float = 0.4
    foot_spacing_m: float = 0.2
    min_load_n: float = 98.0665

    @classmethod
    def from_config(cls, plate: object) -> PlateGeometry:
        return cls(span_ml_m=plate.span_ml_m, span_ap_m=plate.span_ap_m,  # type: ignore[attr-defined]
                   foot_spacing_m=plate.foot_spacing_m,  # type: ignore[attr-defined]
                   min_load_n=plate.min_load_kg * 9.80665)  # type: ignore[attr-defined]


@dataclass(frozen=True)
class PlateSamples:
    """A block of plate samples. COP is NaN where nobody (or not enough) is on the plate."""

    t_ns: np.ndarray          # (N,) int64 monotonic stamps
    forces_n: np.ndarray      # (N, 4) per-cell force, tare removed
    total_force_n: np.ndarray  # (N,)
    cop_m: np.ndarray         # (N, 2) [ml, ap], NaN when unloaded

    def __len__(self) -> int:
        return len(self.t_ns)

    @property
    def loaded(self) -> np.ndarray:
        return ~np.isnan(self.cop_m[:, 0])


def forces_from_counts(counts: np.ndarray, calibration: Calibration,
                       missing: np.ndarray | None = None) -> np.ndarray:
    """Per-cell forces (N, 4) in newtons; NaN where a cell's word was missing."""
    forces = (np.asarray(counts, dtype=float) - calibration.offsets_counts) * \
        calibration.newtons_per_count
    if missing is not None:
        bits = (np.asarray(missing, dtype=np.int64)[:, None] >> np.arange(4)) & 1
        forces = np.where(bits.astype(bool), np.nan, forces)
    return forces


def cop_from_forces(forces_n: np.ndarray, geometry: PlateGeometry) -> tuple[np.ndarray, np.ndarray]:
    """(total force (N,), COP (N, 2)) by design.md's formula; COP NaN below the minimum load."""
    total = forces_n.sum(axis=1)
    a = geometry.span_ml_m / 2
    b = geometry.span_ap_m / 2
    with np.errstate(invalid="ignore", divide="ignore"):
        x = a * (forces_n @ _SX) / total
        y = b * (forces_n @ _SY) / total
    cop = np.column_stack([x, y])
    unloaded = ~(total >= geometry.min_load_n)   # NaN totals count as unloaded
    cop[unloaded] = np.nan
    return total, cop


def plate_samples(t_ns: np.ndarray, counts: np.ndarray, calibration: Calibration,
                  geometry: PlateGeometry, missing: np.ndarray | None = None) -> PlateSamples:
    """The whole plate model for a block of raw frames."""
    forces = forces_from_counts(counts, calibration, missing)
    total, cop = cop_from_forces(forces, geometry)
    return PlateSamples(np.asarray(t_ns, dtype=np.int64), forces, total, cop)


def weight_bearing_left(cop_ml_m: np.ndarray, foot_spacing_m: float) -> np.ndarray:
    """Share (0-1) of body weight on the left leg, from where the COP lies between the feet.

    The patient stands on the two footprints marked ``foot_spacing_m`` apart; the COP divides
    the load between the feet like a lever: left = 1/2 - x / spacing. (The left cells' share,
    1/2 - x / span, would understate a 65/35 stance as ~57/43 on a 40 cm plate.)
    """
    return np.clip(0.5 - np.asarray(cop_ml_m) / foot_spacing_m, 0.0, 1.0)


def weight_front(cop_ap_m: np.ndarray, span_ap_m: float) -> np.ndarray:
    """Share (0-1) of the load on the front cells: (F0 + F1) / W = 1/2 + y / span_ap."""
    return np.clip(0.5 + np.asarray(cop_ap_m) / span_ap_m, 0.0, 1.0)


def is_steady(forces_n: np.ndarray, tolerance_n: float) -> bool:
    """True when every cell's force holds still within ``tolerance_n`` (std) over a window.

    Per cell, not the total: a person swaying on the plate keeps the total constant while the
    load moves between the cells by tens of newtons.
    """
    window = np.asarray(forces_n, dtype=float)
    return bool(len(window) >= 2 and np.all(np.isfinite(window))
                and float(np.max(np.std(window, axis=0))) <= tolerance_n)
