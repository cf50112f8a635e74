"""Child process for the crash tests: records forever on a virtual clock until killed.

Prints one line per block written so the test can kill it at a chosen moment without timing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from station.config import Config
from station.runtime import Station
from station.session.recorder import SessionRecorder


def main(data_dir: str, seed: int) -> None:
    cfg = (Config().with_changes("station", data_dir=data_dir, source="simulated")
           .with_changes("simulation", seed=seed, wobble_board=True)
           .with_changes("recording", fsync_interval_s=0.2))
    station = Station(cfg, fast=True)
    rec = SessionRecorder(Path(data_dir) / "sessions", station_id="crash-test",
                          patient_code="P-0001", therapist_id="t1",
                          calibration=station.calibration, geometry=station.geometry,
                          clock=station.clock, fsync_interval_s=0.2)
    n = 0
    while True:
        rec.start_trial(f"trial {n}", "quiet_stance", with_imu=True)
        for _ in range(8):
            station.wait(0.25)
            rec.record(station.new_records(), station.new_imu_records())
            print("block", flush=True)
        rec.event("target_hit", target=n)
        rec.end_trial(scores={"n": n})
        n += 1
        if n % 3 == 0:
            rec.seal()
            print("sealed", flush=True)
            rec = SessionRecorder(Path(data_dir) / "sessions", station_id="crash-test",
                                  patient_code="P-0001", therapist_id="t1",
                                  calibration=station.calibration, geometry=station.geometry,
                                  clock=station.clock, fsync_interval_s=0.2)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]))
