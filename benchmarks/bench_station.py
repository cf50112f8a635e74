"""Benchmark: station CPU per second of operation, and plate-model throughput. Run on demand:

    .venv/bin/python benchmarks/bench_station.py

Prints (1) CPU time per second of simulated real-time operation at 80 Hz: acquisition loop,
plate model and recorder (with fsync), measured on a virtual clock so only CPU counts, with the
virtual patient's own cost measured separately and subtracted (the Pi runs no patient);
(2) the vectorised plate model's throughput in samples/s, next to a plain numpy pass over the
same array as the in-process baseline. Targets: < 3 % of one core; > 1 million samples/s.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np

from station.clock import VirtualClock
from station.config import Config
from station.plate.calibration import Calibration
from station.plate.model import PlateGeometry, plate_samples
from station.runtime import Station
from station.sensors.simulated import SimulatedStation
from station.session.recorder import SessionRecorder
from station.sim.patient import PatientProfile

SECONDS = 120.0


def cpu_source_only() -> float:
    clock = VirtualClock()
    src = SimulatedStation(PatientProfile(), clock=clock).load_cells()
    t0 = time.process_time()
    for _ in range(int(SECONDS * 80)):
        src.read(1.0)
    return time.process_time() - t0


def cpu_station(data: Path) -> float:
    cfg = Config().with_changes("station", data_dir=str(data), source="simulated")
    station = Station(cfg, fast=True)
    rec = SessionRecorder(data / "sessions", station_id="bench", patient_code="B",
                          therapist_id="", calibration=station.calibration,
                          geometry=station.geometry, clock=station.clock, fsync_interval_s=1.0)
    rec.start_trial("bench", "recording")
    t0 = time.process_time()
    for _ in range(int(SECONDS / 0.25)):
        station.wait(0.25)
        rec.record(station.new_records(), station.new_imu_records())
    cpu = time.process_time() - t0
    rec.seal()
    station.close()
    return cpu


def plate_throughput(n: int = 2_000_000) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    counts = rng.integers(-2**23, 2**23, (n, 4)).astype(np.int32)
    t = np.arange(n, dtype=np.int64)
    missing = np.zeros(n, np.uint8)
    cal, geo = Calibration(), PlateGeometry()
    best = base = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        plate_samples(t, counts, cal, geo, missing)
        best = min(best, time.perf_counter() - t0)
        t0 = time.perf_counter()
        (counts.astype(float) * 1.0001).sum(axis=1)     # baseline: one pass over the data
        base = min(base, time.perf_counter() - t0)
    return n / best, n / base


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        src = cpu_source_only()
        total = cpu_station(Path(tmp))
    station_cpu = total - src
    print(f"simulated operation: {SECONDS:.0f} s at 80 Hz")
    print(f"  virtual patient + virtual plate alone: {src / SECONDS * 1000:.2f} ms CPU per s")
    print(f"  whole loop incl. simulation:           {total / SECONDS * 1000:.2f} ms CPU per s")
    print(f"  station (acquisition + plate model + recorder): "
          f"{station_cpu / SECONDS * 1000:.2f} ms CPU per s = "
          f"{station_cpu / SECONDS * 100:.2f} % of one core (target < 3 %)")
    rate, base = plate_throughput()
    print(f"plate model: {rate / 1e6:.1f} million samples/s (target > 1); baseline numpy pass "
          f"{base / 1e6:.1f} million/s; ratio {rate / base:.2f}")


if __name__ == "__main__":
    main()
