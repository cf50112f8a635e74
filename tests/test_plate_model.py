"""Plate model against the virtual patient: COP, weight distribution, tare and calibration."""

from __future__ import annotations

import numpy as np
import pytest

from station.clock import VirtualClock
from station.errors import CalibrationError
from station.plate.calibration import Calibration
from station.plate.model import PlateGeometry, plate_samples, weight_bearing_left, weight_front
from station.runtime import Station
from station.sensors.simulated import SimulatedStation
from station.sim.patient import PatientProfile

G = 9.80665


def true_calibration(sim: SimulatedStation) -> Calibration:
    """The calibration a perfect technician would find (tare includes the plate's weight)."""
    dead = sim.cells.plate_mass_kg * G / 4 / sim.cells.newtons_per_count
    return Calibration(sim.cells.offsets + dead, sim.cells.newtons_per_count.copy(),
                       method="per-cell")


def record(sim: SimulatedStation, seconds: float):
    """Read the simulated bank directly, keeping the patient's true COP for each frame."""
    src = sim.load_cells()
    counts, truth_cop, truth_w = [], [], []
    for _ in range(int(seconds * sim.sample_rate_hz)):
        frame = src.read(1.0)
        counts.append(frame.counts)
        truth_cop.append(sim.patient.cop.copy())
        truth_w.append(sim.patient.weight_n)
    return np.array(counts), np.array(truth_cop), np.array(truth_w)


def test_cop_matches_true_cop_within_1mm_without_noise():
    sim = SimulatedStation(PatientProfile(), noise=False, clock=VirtualClock(), seed=3)
    counts, cop, weight = record(sim, 20)
    s = plate_samples(np.zeros(len(counts)), counts, true_calibration(sim), PlateGeometry())
    assert np.max(np.abs(s.cop_m - cop)) < 0.001
    assert np.max(np.abs(s.total_force_n - weight)) < 0.05


def test_cop_error_with_noise_is_what_the_noise_implies():
    sim = SimulatedStation(PatientProfile(), noise=True, clock=VirtualClock(), seed=4)
    counts, cop, weight = record(sim, 20)
    s = plate_samples(np.zeros(len(counts)), counts, true_calibration(sim), PlateGeometry())
    # COPx = a * (F1 + F3 - F0 - F2) / W: four independent cell noises -> std a * 2 sigma / W
    sigma_n = float(np.sqrt(np.mean(sim.cells.noise_force_rms_n ** 2)))
    implied = 0.2 * 2 * sigma_n / weight.mean()
    err = s.cop_m - cop
    assert np.std(err[:, 0]) < 1.5 * implied and np.std(err[:, 1]) < 1.5 * implied
    assert np.std(err[:, 0]) > 0.5 * implied          # the noise is really there
    assert np.max(np.abs(err)) < 6 * implied


@pytest.mark.parametrize("left", [0.5, 0.65, 0.35])
def test_weight_bearing_reads_the_patients_stance(left):
    sim = SimulatedStation(PatientProfile(weight_bearing_left=left), clock=VirtualClock(), seed=5)
    counts, _, _ = record(sim, 30)
    s = plate_samples(np.zeros(len(counts)), counts, true_calibration(sim), PlateGeometry())
    measured = float(np.mean(weight_bearing_left(s.cop_m[:, 0], PlateGeometry().foot_spacing_m)))
    assert measured == pytest.approx(left, abs=0.01)


def test_front_share_and_unloaded_plate():
    g = PlateGeometry()
    assert weight_front(np.array([0.1]), g.span_ap_m)[0] == pytest.approx(0.75)
    counts = np.zeros((3, 4))
    s = plate_samples(np.zeros(3), counts, Calibration(), g)
    assert np.all(np.isnan(s.cop_m))          # nobody on the plate: COP undefined, not zero
    assert not s.loaded.any()


def test_missing_cell_makes_the_row_undefined():
    cal = Calibration()
    counts = np.full((2, 4), 1_300_000.0)
    s = plate_samples(np.zeros(2), counts, cal, PlateGeometry(), missing=np.array([0, 0b0100]))
    assert np.isfinite(s.cop_m[0]).all() and np.isnan(s.cop_m[1]).all()
    assert np.isnan(s.total_force_n[1])


def test_calibration_recovers_each_cells_scale(config):
    station = Station(config.with_changes("simulation", noise=True), fast=True,
                      patient_on_plate=False)
    sim = station.simulation

    def place(mark, ml, ap):
        sim.clear_masses()
        if mark:
            sim.place_mass(20.0, ml, ap)

    cal = station.calibrate(20.0, place)
    rel = cal.newtons_per_count / sim.cells.newtons_per_count - 1
    assert np.max(np.abs(rel)) < 0.005
    # stored atomically with its date, and read back identically
    again = Calibration.load(config.calibration_path)
    assert again.calibrated_utc and again.method == "per-cell"
    np.testing.assert_allclose(again.newtons_per_count, cal.newtons_per_count)
    # and the calibrated plate weighs the patient
    sim.clear_masses()
    sim.patient.step_on()
    station.wait(2.0)
    rec = station.collect(2.0)
    weight_kg = np.nanmean(station.to_plate(rec).total_force_n) / G
    assert weight_kg == pytest.approx(config.simulation.mass_kg, rel=0.005)
    station.close()


def test_whole_plate_calibration_fixes_the_common_scale(config):
    station = Station(config, fast=True, patient_on_plate=False)
    sim = station.simulation
    cal = station.calibrate(
        10.0, lambda m, x, y: (sim.clear_masses(), m and sim.place_mass(10.0, x, y)),
        whole_plate=True)
    assert cal.method == "whole-plate"
    sim.place_mass(10.0)
    rec = station.collect(1.0)
    assert np.mean(station.to_plate(rec).total_force_n) / G == pytest.approx(10.0, rel=0.002)
    station.close()


def test_tare_waits_for_a_steady_plate(config):
    station = Station(config, fast=True, patient_on_plate=True)   # somebody swaying on it
    station.simulation.patient.set_conditions(surface="foam")
    with pytest.raises(CalibrationError, match="did not settle"):
        station.steady_counts(window_s=1.0, timeout_s=3.0)
    station.close()


def test_tare_refuses_a_loaded_plate_unless_forced(config):
    station = Station(config, fast=True, patient_on_plate=False)
    station.tare(force=True)
    station.simulation.place_mass(25.0)
    with pytest.raises(CalibrationError, match="kg more than at the last tare"):
        station.tare()
    station.tare(force=True)
    station.close()


def test_damaged_calibration_file_is_a_clear_error(tmp_path):
    p = tmp_path / "calibration.json"
    p.write_text("{not json")
    with pytest.raises(CalibrationError, match="station calibrate"):
        Calibration.load(p)
    p.write_text('{"format_version": "1.0", "offsets_counts": [0,0,0,0], '
                 '"newtons_per_count": [1,1,-1,1]}')
    with pytest.raises(CalibrationError, match="positive"):
        Calibration.load(p)


def test_board_levelling_zeroes_a_crooked_imu_and_tilt_follows_the_sway(config):
    import math

    from station.plate.tilt import board_tilt
    from station.sim.plate import quat_mul, tilt_quaternion

    cfg = config.with_changes("simulation", wobble_board=True)
    station = Station(cfg, fast=True)
    sim = station.simulation
    sim.patient.step_off()                       # board resting level on its blocks
    station.wait(1.0)
    cal = station.level_board()
    assert cal.levelled_utc and Calibration.load(config.calibration_path).board_level is not None
    # an IMU glued 3 degrees crooked reads zero after levelling, and true tilt after that
    mount = np.array(tilt_quaternion(math.radians(3), math.radians(-2)))
    crooked = np.array([quat_mul(np.array(tilt_quaternion(0, 0, y)), mount) for y in (0, 1, 2)])
    from station.plate.tilt import levelling_matrix

    level = levelling_matrix(crooked)
    np.testing.assert_allclose(board_tilt(crooked, level), 0, atol=1e-9)
    tilted = quat_mul(np.array(tilt_quaternion(0.1, 0.0, 0.5)), mount)
    assert board_tilt(tilted[None], level)[0, 0] == pytest.approx(0.1, abs=0.003)
    # with the patient on the board, roll follows the ML sway (right side down = positive)
    sim.patient.step_on()
    station.command("lean_to", 0.03, 0.0)
    station.wait(3.0)
    tilt = station.board_tilt(station.new_imu_records())
    assert tilt[-1, 0] > math.radians(5)
    station.close()
