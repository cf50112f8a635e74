"""The simulated station: a virtual patient on a virtual plate, behind the real source interfaces.

Both sources share one patient and one clock. The load-cell source paces itself at the HX711
rate (sleeping on the injected clock, so a VirtualClock runs faster than real time); the IMU
source answers non-blocking polls with the newest report once its period has passed, which is
how the acquisition loop reads the real BNO08x between HX711 conversions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from station.clock import Clock, SystemClock
from station.config import Config
from station.sensors.base import ImuFrame, LoadCellFrame
from station.sim.patient import PatientProfile, VirtualPatient
from station.sim.plate import VirtualCells, board_tilt_rad, split_forces, tilt_quaternion


@dataclass
class _Faults:
    silent_cells: set[int] = field(default_factory=set)     # DOUT never goes ready
    stuck_cells: dict[int, int] = field(default_factory=dict)  # cell -> frozen count
    bank_silent: bool = False                               # no conversions at all


class SimulatedStation:
    """A virtual patient (optionally on a wobble board) standing on a virtual plate."""

    def __init__(self, profile: PatientProfile, *, span_ml_m: float = 0.4, span_ap_m: float = 0.4,
                 sample_rate_hz: float = 80.0, seed: int = 1, noise: bool = True,
                 wobble_board: bool = False, clock: Clock | None = None,
                 patient_on_plate: bool = True, oscillator_ppm: float = 0.0) -> None:
        self.clock = clock or SystemClock()
        self.patient = VirtualPatient(profile, seed=seed)
        if not patient_on_plate:
            self.patient.load_fraction = 0.0
            self.patient.step_off()
        self.cells = VirtualCells(seed=seed, noise=noise)
        self.half_ml = span_ml_m / 2
        self.half_ap = span_ap_m / 2
        self.sample_rate_hz = sample_rate_hz
        self.period_ns = round(1e9 / sample_rate_hz * (1.0 + oscillator_ppm * 1e-6))
        self.wobble_board = wobble_board
        self.faults = _Faults()
        self.extra_loads: list[tuple[float, tuple[float, float]]] = []  # (kg, (ml, ap))
        self._t0_ns = self.clock.monotonic_ns()
        self._yaw_drift_rad_s = math.radians(0.05)  # the game vector's slow heading drift

    @classmethod
    def from_config(cls, config: Config, clock: Clock | None = None,
                    profile: PatientProfile | None = None,
                    patient_on_plate: bool = True) -> SimulatedStation:
        sim = config.simulation
        if profile is None and sim.impairment == "post_stroke":
            profile = PatientProfile.impaired(mass_kg=sim.mass_kg, height_m=sim.height_m,
                                              foot_spacing_m=config.plate.foot_spacing_m,
                                              surface="foam" if sim.wobble_board else "firm")
        if profile is None:
            profile = PatientProfile(mass_kg=sim.mass_kg, height_m=sim.height_m,
                                     sway_scale=sim.sway_scale,
                                     weight_bearing_left=sim.weight_bearing_left,
                                     reaction_time_s=sim.reaction_time_s,
                                     foot_spacing_m=config.plate.foot_spacing_m,
                                     surface="foam" if sim.wobble_board else "firm")
        return cls(profile, span_ml_m=config.plate.span_ml_m, span_ap_m=config.plate.span_ap_m,
                   sample_rate_hz=config.plate.sample_rate_hz, seed=sim.seed, noise=sim.noise,
                   wobble_board=sim.wobble_board, clock=clock, patient_on_plate=patient_on_plate)

    # ------------------------------------------------------------------ the world
    def sim_time_s(self, t_ns: int | None = None) -> float:
        return ((self.clock.monotonic_ns() if t_ns is None else t_ns) - self._t0_ns) / 1e9

    def place_mass(self, mass_kg: float, ml_m: float = 0.0, ap_m: float = 0.0) -> None:
        """Put a calibration mass on the plate at (ml, ap)."""
        self.extra_loads.append((mass_kg, (ml_m, ap_m)))

    def clear_masses(self) -> None:
        self.extra_loads.clear()

    def true_forces_n(self) -> np.ndarray:
        """Forces the cells carry right now (N), without the plate's own weight."""
        p = self.patient
        forces = split_forces(p.weight_n, p.cop, self.half_ml, self.half_ap)
        for kg, pos in self.extra_loads:
            forces = forces + split_forces(kg * 9.80665, np.array(pos), self.half_ml, self.half_ap)
        return forces

    # ------------------------------------------------------------------ sources
    def load_cells(self) -> SimulatedLoadCells:
        return SimulatedLoadCells(self)

    def imu(self, rate_hz: float = 100.0) -> SimulatedImu:
        return SimulatedImu(self, rate_hz)


class SimulatedLoadCells:
    """LoadCellSource: four raw HX711 counts every conversion period."""

    def __init__(self, station: SimulatedStation) -> None:
        self.station = station
        self.sample_rate_hz = station.sample_rate_hz
        self._next_ns = station.clock.monotonic_ns() + station.period_ns

    def read(self, timeout_s: float) -> LoadCellFrame | None:
        st = self.station
        clock = st.clock
        deadline = clock.monotonic_ns() + round(timeout_s * 1e9)
        if st.faults.bank_silent:
            clock.sleep_until(deadline)
            self._next_ns = deadline + st.period_ns
            return None
        now = clock.monotonic_ns()
        if self._next_ns > deadline:
            clock.sleep_until(deadline)
            return None
        if self._next_ns > now:
            clock.sleep_until(self._next_ns)
        else:  # the reader was late: the HX711 only holds the newest conversion
            missed = (now - self._next_ns) // st.period_ns
            self._next_ns += missed * st.period_ns
        t_ns = self._next_ns
        self._next_ns += st.period_ns
        st.patient.advance_to(st.sim_time_s(t_ns))
        counts = st.cells.counts(st.true_forces_n())
        missing = 0
        for cell in st.faults.silent_cells:
            counts[cell] = 0
            missing |= 1 << cell
        for cell, value in st.faults.stuck_cells.items():
            counts[cell] = value
        return LoadCellFrame((int(counts[0]), int(counts[1]), int(counts[2]), int(counts[3])),
                             missing)

    def close(self) -> None:
        pass


class SimulatedImu:
    """ImuSource: the wobble board's game rotation vector, from the patient's sway."""

    def __init__(self, station: SimulatedStation, rate_hz: float) -> None:
        self.station = station
        self.sample_rate_hz = rate_hz
        self._period_ns = round(1e9 / rate_hz)
        self._next_ns = station.clock.monotonic_ns() + self._period_ns
        self.connected = True

    def read(self, timeout_s: float) -> ImuFrame | None:
        st = self.station
        now = st.clock.monotonic_ns()
        if not self.connected:
            st.clock.sleep_until(now + round(timeout_s * 1e9))
            return None
        if self._next_ns > now:
            if now + round(timeout_s * 1e9) < self._next_ns:
                st.clock.sleep_until(now + round(timeout_s * 1e9))
                return None
            st.clock.sleep_until(self._next_ns)
            now = self._next_ns
        self._next_ns = now + self._period_ns
        t = st.sim_time_s(now)
        st.patient.advance_to(t)
        cop = st.patient.cop if st.wobble_board else np.zeros(2)
        roll, pitch = board_tilt_rad(cop)
        quat = tilt_quaternion(roll, pitch, yaw_rad=st._yaw_drift_rad_s * t)
        # The board rides with the body: its horizontal acceleration follows the COM's.
        acc = 9.80665 / st.patient.profile.com_height_m * (st.patient.com - st.patient.cop)
        return ImuFrame(quat, (float(acc[0]), float(acc[1]), 0.0))

    def close(self) -> None:
        pass
