"""Calibration: each cell's zero (tare) and scale (newtons per count), stored atomically.

Tare needs an empty, steady plate. Calibration places one known mass on marked spots (the centre
and a mark near each corner); every placement gives three equations (total load and both
moments about the plate centre) that are linear in the four cell scales, solved by least squares.
That recovers each cell's own scale rather than assuming they match, which they never do to
better than a few percent. A centre-only placement ("whole plate") rescales all cells together.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from station import atomicio
from station.clock import utc_now
from station.errors import CalibrationError

FORMAT_VERSION = "1.0"
G = 9.80665
#: Nominal scale of a 50 kg 2 mV/V bar cell through an HX711 at gain 128 (N per count).
NOMINAL_NEWTONS_PER_COUNT = 1.0 / 7400.0
_SX = np.array([-1.0, 1.0, -1.0, 1.0])
_SY = np.array([1.0, 1.0, -1.0, -1.0])


@dataclass(frozen=True)
class Calibration:
    offsets_counts: np.ndarray = field(default_factory=lambda: np.zeros(4))
    newtons_per_count: np.ndarray = field(
        default_factory=lambda: np.full(4, NOMINAL_NEWTONS_PER_COUNT))
    tared_utc: str | None = None
    calibrated_utc: str | None = None
    method: str = "nominal"          # nominal | whole-plate | per-cell
    reference_mass_kg: float | None = None
    residual_n: float | None = None  # RMS misfit of the calibration equations
    board_level: np.ndarray | None = None  # wobble-board levelling rotation (3, 3)
    levelled_utc: str | None = None

    @property
    def is_calibrated(self) -> bool:
        return self.method != "nominal"

    def to_json(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "offsets_counts": [float(v) for v in self.offsets_counts],
            "newtons_per_count": [float(v) for v in self.newtons_per_count],
            "tared_utc": self.tared_utc,
            "calibrated_utc": self.calibrated_utc,
            "method": self.method,
            "reference_mass_kg": self.reference_mass_kg,
            "residual_n": self.residual_n,
            "board_level": None if self.board_level is None else self.board_level.tolist(),
            "levelled_utc": self.levelled_utc,
        }

    @classmethod
    def from_json(cls, data: dict, source: str = "calibration") -> Calibration:
        try:
            major = str(data["format_version"]).split(".")[0]
            if major != FORMAT_VERSION.split(".")[0]:
                raise CalibrationError(f"{source}: unknown format_version {data['format_version']}")
            offsets = np.array(data["offsets_counts"], dtype=float)
            scales = np.array(data["newtons_per_count"], dtype=float)
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, CalibrationError):
                raise
            raise CalibrationError(f"{source}: damaged calibration file ({exc})") from None
        if offsets.shape != (4,) or scales.shape != (4,) or not np.all(np.isfinite(scales)) \
                or np.any(scales <= 0):
            raise CalibrationError(f"{source}: calibration needs 4 offsets and 4 positive scales")
        level = data.get("board_level")
        try:
            level = None if level is None else np.array(level, dtype=float).reshape(3, 3)
        except ValueError:
            raise CalibrationError(f"{source}: board_level must be a 3x3 matrix") from None
        return cls(offsets, scales, data.get("tared_utc"), data.get("calibrated_utc"),
                   data.get("method", "per-cell"), data.get("reference_mass_kg"),
                   data.get("residual_n"), level, data.get("levelled_utc"))

    def save(self, path: str | Path) -> None:
        atomicio.write_json(path, self.to_json())

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        """The stored calibration, or the nominal one when none was ever saved."""
        p = Path(path)
        if not p.exists():
            return cls()
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise CalibrationError(f"{p}: unreadable calibration ({exc}); "
                                   "run `station calibrate` again") from None
        return cls.from_json(data, str(p))

    def with_tare(self, mean_counts: np.ndarray) -> Calibration:
        return dataclasses.replace(self, offsets_counts=np.asarray(mean_counts, float).copy(),
                                   tared_utc=utc_now())

    def with_board_level(self, level: np.ndarray) -> Calibration:
        return dataclasses.replace(self, board_level=np.asarray(level, float),
                                   levelled_utc=utc_now())


@dataclass(frozen=True)
class Placement:
    """A known mass at a known spot, and the mean raw counts it produced (tare removed later)."""

    ml_m: float
    ap_m: float
    mean_counts: np.ndarray


def solve_cell_scales(placements: list[Placement], mass_kg: float, offsets: np.ndarray,
                      half_ml_m: float, half_ap_m: float) -> tuple[np.ndarray, float]:
    """Per-cell newtons-per-count from placements of one mass; returns (scales, RMS residual N).

    For a placement at (x, y) with counts above tare d_i:
      sum s_i d_i = m g;  sum s_i d_i sx_i a = m g x;  sum s_i d_i sy_i b = m g y.
    """
    if mass_kg <= 0:
        raise CalibrationError("the reference mass must be positive")
    if len(placements) < 2:
        raise CalibrationError("per-cell calibration needs the centre and at least one corner")
    rows, rhs = [], []
    w = mass_kg * G
    for pl in placements:
        d = np.asarray(pl.mean_counts, dtype=float) - offsets
        rows += [d, d * _SX * half_ml_m, d * _SY * half_ap_m]
        # moment equations divided by the half-span keep every row in newtons
        rhs += [w, w * pl.ml_m, w * pl.ap_m]
    a = np.array(rows)
    b = np.array(rhs)
    scale_rows = np.array([1.0, 1.0 / half_ml_m, 1.0 / half_ap_m] * len(placements))
    a = a * scale_rows[:, None]
    b = b * scale_rows
    if np.linalg.matrix_rank(a) < 4:
        raise CalibrationError("placements do not load each cell independently: use the centre "
                               "and the corner marks")
    s, *_ = np.linalg.lstsq(a, b, rcond=None)
    if np.any(s <= 0):
        raise CalibrationError("a cell reads backwards or not at all (negative or zero scale): "
                               "check its wiring (A+/A- swapped?)")
    residual = float(np.sqrt(np.mean((a @ s - b) ** 2)))
    return s, residual


def calibrate_per_cell(current: Calibration, placements: list[Placement], mass_kg: float,
                       half_ml_m: float, half_ap_m: float) -> Calibration:
    scales, residual = solve_cell_scales(placements, mass_kg, current.offsets_counts,
                                         half_ml_m, half_ap_m)
    return dataclasses.replace(current, newtons_per_count=scales, calibrated_utc=utc_now(),
                               method="per-cell", reference_mass_kg=mass_kg, residual_n=residual)


def calibrate_whole_plate(current: Calibration, centre: Placement, mass_kg: float) -> Calibration:
    """Rescale all cells by one factor so the known mass at the centre reads right."""
    d = np.asarray(centre.mean_counts, dtype=float) - current.offsets_counts
    measured = float(d @ current.newtons_per_count)
    if measured <= 0:
        raise CalibrationError("the plate reads no load with the mass on it: check the cells")
    factor = mass_kg * G / measured
    return dataclasses.replace(current, newtons_per_count=current.newtons_per_count * factor,
                               calibrated_utc=utc_now(), method="whole-plate",
                               reference_mass_kg=mass_kg, residual_n=0.0)
