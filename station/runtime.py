"""The running station as the CLI, the drills and the UI see it.

It owns the acquisition (a process on the Pi, inline on a virtual clock for fast runs), the
calibration and the plate geometry, and turns new ring records into plate samples on request.
Tare and calibration procedures live here because they wait on live data: they are the only
commands that flow back up (design.md), and they only ever replace the calibration file
atomically.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from station.acquisition.loop import CELL_STATE_NAMES, IMU_STATE_NAMES, Rings
from station.acquisition.ring import RingReader
from station.acquisition.runner import InlineAcquisition, ProcessAcquisition
from station.clock import Clock, SystemClock, VirtualClock
from station.config import Config
from station.errors import CalibrationError, SensorError
from station.plate.calibration import (
    Calibration,
    Placement,
    calibrate_per_cell,
    calibrate_whole_plate,
)
from station.plate.model import PlateGeometry, PlateSamples, is_steady, plate_samples
from station.plate.tilt import board_tilt, levelling_matrix
from station.sensors.base import CELL_NAMES
from station.sensors.factory import Sources

#: Per-cell load change (N std over the window) that still counts as "steady": about 50 g.
STEADY_TOLERANCE_N = 0.5


@dataclass(frozen=True)
class Health:
    frames: int
    dropped: int
    late: int
    cell_state: tuple[str, str, str, str]
    imu_state: str

    @property
    def ok(self) -> bool:
        return all(s == "ok" for s in self.cell_state)

    def problems(self, config: Config) -> list[str]:
        pins = config.hx711.dout_gpio
        return [f"cell {i} ({CELL_NAMES[i]}) {s}: check the DOUT wire on GPIO {pins[i]} "
                f"and the cell's connector" for i, s in enumerate(self.cell_state) if s != "ok"]


class Station:
    """Acquisition + plate model. ``fast=True`` runs on a virtual clock, stepping on demand."""

    def __init__(self, config: Config, *, fast: bool = False, clock: Clock | None = None,
                 patient_on_plate: bool = True, sources: Sources | None = None) -> None:
        self.config = config
        self.geometry = PlateGeometry.from_config(config.plate)
        self.calibration = Calibration.load(config.calibration_path)
        self.fast = fast
        self.acq: InlineAcquisition | ProcessAcquisition
        if fast or sources is not None or not config.station.acquisition_process:
            self.clock = clock or (VirtualClock() if fast else SystemClock())
            self.acq = InlineAcquisition(config, self.clock, sources,
                                         patient_on_plate=patient_on_plate)
        else:
            self.clock = SystemClock()
            self.acq = ProcessAcquisition(config, patient_on_plate=patient_on_plate)
        self.rings: Rings = self.acq.rings
        if isinstance(self.acq, ProcessAcquisition):
            self.wait_ready()
        self._reader = self.rings.cells.reader()
        self._imu_reader = self.rings.imu.reader()

    def wait_ready(self, timeout_s: float = 20.0) -> None:
        """Block until the acquisition process delivers frames (it imports and opens the
        sensors first); a process that dies on the way is reported, not waited for."""
        end = time.monotonic() + timeout_s
        while self.rings.cells.written == 0:
            if not self.acq.alive():
                self.acq.close()
                raise SensorError("the acquisition process stopped while opening the sensors; "
                                  "run `station selftest` or see the journal")
            if time.monotonic() > end:
                self.acq.close()
                raise SensorError(f"no load-cell frame within {timeout_s:.0f} s of start")
            time.sleep(0.01)

    @property
    def source_kind(self) -> str:
        sim = getattr(self.acq, "sources", None)
        return sim.kind if sim is not None else "process"

    @property
    def simulation(self):
        return self.acq.simulation

    def command(self, name: str, *args: object, **kwargs: object) -> None:
        """Tell the virtual patient / simulated plate something (no-op on hardware)."""
        self.acq.command(name, *args, **kwargs)

    # ------------------------------------------------------------------ time and data
    def wait(self, seconds: float) -> None:
        """Let ``seconds`` of station time pass (stepping the loop when inline)."""
        if isinstance(self.acq, InlineAcquisition):
            if isinstance(self.clock, VirtualClock):
                self.acq.run_for(seconds)
            else:
                end = time.monotonic() + seconds
                while time.monotonic() < end:
                    self.acq.step()
        else:
            time.sleep(seconds)

    def new_records(self, reader: RingReader | None = None) -> np.ndarray:
        return (reader or self._reader).poll()

    def new_imu_records(self) -> np.ndarray:
        return self._imu_reader.poll()

    def to_plate(self, records: np.ndarray) -> PlateSamples:
        return plate_samples(records["t_ns"], records["counts"], self.calibration,
                             self.geometry, records["missing"])

    def collect(self, seconds: float) -> np.ndarray:
        """Wait ``seconds`` and return every raw record that arrived meanwhile."""
        reader = self.rings.cells.reader()
        self.wait(seconds)
        return reader.poll()

    def health(self) -> Health:
        st = self.rings.status.latest()
        if st is None:
            return Health(0, 0, 0, ("silent",) * 4, "absent")  # type: ignore[arg-type]
        return Health(int(st["frames"]), int(st["dropped"]), int(st["late"]),
                      tuple(CELL_STATE_NAMES[int(s)] for s in st["cell_state"]),  # type: ignore[arg-type]
                      IMU_STATE_NAMES[int(st["imu_state"])])

    # ------------------------------------------------------------------ tare / calibrate
    def steady_counts(self, window_s: float = 1.0, timeout_s: float = 15.0,
                      progress: Callable[[str], None] | None = None) -> np.ndarray:
        """Mean raw counts over the first steady ``window_s`` (raises after ``timeout_s``)."""
        waited = 0.0
        while waited < timeout_s:
            rec = self.collect(window_s)
            waited += window_s
            if len(rec) < 2:
                raise SensorError("the plate sends no data: run `station selftest`")
            if np.any(rec["missing"]):
                raise SensorError("a load cell is not answering: run `station selftest`")
            forces = self.to_plate(rec).forces_n
            if is_steady(forces, STEADY_TOLERANCE_N):
                return rec["counts"].astype(float).mean(axis=0)
            if progress:
                moving = float(np.max(np.std(forces, axis=0)))
                progress(f"waiting for a steady load (moving by {moving:.1f} N)")
        raise CalibrationError(f"the load did not settle within {timeout_s:.0f} s: make sure "
                               "nobody touches the plate and it stands firmly on the floor")

    def tare(self, *, force: bool = False, progress: Callable[[str], None] | None = None
             ) -> Calibration:
        """Zero the empty plate and store the new offsets."""
        counts = self.steady_counts(progress=progress)
        if self.calibration.tared_utc and not force:
            load = float((counts - self.calibration.offsets_counts) @
                         self.calibration.newtons_per_count)
            if abs(load) > self.geometry.min_load_n:
                raise CalibrationError(f"the plate carries {load / 9.80665:.1f} kg more than at "
                                       "the last tare: clear it, or use --force")
        self.calibration = self.calibration.with_tare(counts)
        self.calibration.save(self.config.calibration_path)
        return self.calibration

    def calibration_marks(self) -> list[tuple[str, float, float]]:
        """Where the reference mass goes: centre, then a mark over each cell at 3/4 span."""
        a = 0.75 * self.geometry.span_ml_m / 2
        b = 0.75 * self.geometry.span_ap_m / 2
        return [("centre", 0.0, 0.0), ("front-left", -a, b), ("front-right", a, b),
                ("back-left", -a, -b), ("back-right", a, -b)]

    def calibrate(self, mass_kg: float, place: Callable[[str, float, float], None], *,
                  whole_plate: bool = False, progress: Callable[[str], None] | None = None
                  ) -> Calibration:
        """Tare, then measure the known mass at each mark; ``place`` prompts or simulates."""
        if not self.calibration.tared_utc:
            self.tare(force=True, progress=progress)
        marks = self.calibration_marks()[:1] if whole_plate else self.calibration_marks()
        placements = []
        for name, ml, ap in marks:
            place(name, ml, ap)
            placements.append(Placement(ml, ap, self.steady_counts(progress=progress)))
        place("", 0.0, 0.0)   # take the mass off
        if whole_plate:
            cal = calibrate_whole_plate(self.calibration, placements[0], mass_kg)
        else:
            cal = calibrate_per_cell(self.calibration, placements, mass_kg,
                                     self.geometry.span_ml_m / 2, self.geometry.span_ap_m / 2)
        cal.save(self.config.calibration_path)
        self.calibration = cal
        return cal

    def level_board(self, seconds: float = 1.0) -> Calibration:
        """Zero the wobble-board tilt: the board is held level (on its blocks) meanwhile."""
        reader = self.rings.imu.reader()
        self.wait(seconds)
        rec = reader.poll()
        if len(rec) < 5:
            raise SensorError("no reports from the wobble-board IMU: run `station selftest`")
        self.calibration = self.calibration.with_board_level(levelling_matrix(rec["quat"]))
        self.calibration.save(self.config.calibration_path)
        return self.calibration

    def board_tilt(self, records: np.ndarray) -> np.ndarray:
        """(N, 2) roll, pitch (rad) of IMU ring records, relative to the last levelling."""
        return board_tilt(records["quat"], self.calibration.board_level)

    def close(self) -> None:
        self.acq.close()
