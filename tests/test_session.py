"""Recorder and session store: atomic metadata, readable after any crash, verified manifest."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from station.errors import SessionError
from station.runtime import Station
from station.session import format as fmt
from station.session.reader import (
    load_session,
    needs_recovery,
    read_samples,
    recover_session,
    verify_manifest,
)
from station.session.recorder import SessionRecorder

ROOT = Path(__file__).resolve().parents[1]


def recorder_for(station: Station, tmp_path: Path, **kw) -> SessionRecorder:
    return SessionRecorder(tmp_path / "sessions", station_id="s1", patient_code="P-0042",
                           therapist_id="t7", calibration=station.calibration,
                           geometry=station.geometry, clock=station.clock, **kw)


def record_trial(station, rec, seconds=2.0, **kw):
    rec.start_trial("quiet stance eyes open", "quiet_stance", **kw)
    station.new_records()
    for _ in range(int(seconds / 0.25)):
        station.wait(0.25)
        rec.record(station.new_records(), station.new_imu_records())


def test_sealed_session_reads_back_exactly(config, tmp_path):
    station = Station(config, fast=True)
    rec = recorder_for(station, tmp_path)
    record_trial(station, rec, 3.0)
    rec.event("pause")
    rec.end_trial(scores={"path_length_cm": 1.0})
    path = rec.seal()
    station.close()
    s = load_session(path)
    assert s.sealed and not s.interrupted and verify_manifest(path) == []
    assert s.meta["patient_code"] == "P-0042" and s.meta["format_version"] == "1.0"
    trial = s.trials[0]
    assert trial.meta["complete"] and trial.meta["events"][0]["kind"] == "pause"
    raw, cop = trial.samples("raw"), trial.samples("cop")
    assert len(raw) == len(cop) == 240 and not raw.truncated
    assert (path / "trials" / trial.dir.name / "raw.csv.gz").exists()
    # undefined COP stays undefined, not zero; loaded rows are finite
    assert np.isfinite(cop.columns["cop_ml_m"]).all()
    assert not (path / fmt.LOCK_FILE).exists()


def test_manifest_names_every_change(config, tmp_path):
    station = Station(config, fast=True)
    rec = recorder_for(station, tmp_path, compress=False)
    record_trial(station, rec)
    path = rec.seal()
    station.close()
    raw = next(path.rglob("raw.csv"))
    raw.write_text(raw.read_text().replace("\n1", "\n2", 1))
    (path / "extra.txt").write_text("x")
    (path / "trials" / raw.parent.name / "cop.csv").unlink()
    problems = "\n".join(verify_manifest(path))
    assert "raw.csv: SHA-256 does not match" in problems or "raw.csv: size" in problems
    assert "extra.txt: not in the manifest" in problems
    assert "cop.csv: listed in the manifest but missing" in problems


def test_partial_last_line_is_dropped_and_flagged(config, tmp_path):
    station = Station(config, fast=True)
    rec = recorder_for(station, tmp_path, compress=False)
    record_trial(station, rec)
    rec.release()
    station.close()
    raw = next(rec.path.rglob("raw.csv"))
    with open(raw, "a") as fh:
        fh.write("2.01250,1234,56")            # power cut mid-line
    table = read_samples(raw)
    assert table.truncated and len(table) == 160
    assert needs_recovery(rec.path) is False   # our own pid still owns the lock
    (rec.path / fmt.LOCK_FILE).write_text("999999999\n")
    assert needs_recovery(rec.path)
    s = recover_session(rec.path)
    assert s.sealed and s.interrupted and s.trials[0].meta["interrupted"]
    assert verify_manifest(rec.path) == []
    assert not s.trials[0].samples("raw").truncated


def test_abort_keeps_the_data_and_flags_it(config, tmp_path):
    station = Station(config, fast=True)
    rec = recorder_for(station, tmp_path)
    record_trial(station, rec)
    path = rec.abort("display fault")
    station.close()
    s = load_session(path)
    assert s.sealed and s.interrupted and verify_manifest(path) == []
    assert s.trials[0].meta["abort_reason"] == "display fault"
    assert not s.trials[0].meta["complete"] and len(s.trials[0].samples("raw")) == 160


def test_unknown_major_version_and_damaged_json_are_refused(tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    (d / "session.json").write_text(json.dumps({"format_version": "2.0", "trials": []}))
    with pytest.raises(SessionError, match="unknown format_version"):
        load_session(d)
    (d / "session.json").write_text("{")
    with pytest.raises(SessionError, match="damaged JSON"):
        load_session(d)


def test_trial_names_cannot_escape_the_session(tmp_path):
    d = tmp_path / "s"
    d.mkdir()
    (d / "session.json").write_text(json.dumps({"format_version": "1.0",
                                                "trials": ["../../etc"]}))
    with pytest.raises(SessionError, match="plain folder name"):
        load_session(d)


@pytest.mark.slow
def test_sigkill_at_20_random_moments_never_leaves_an_unreadable_session(tmp_path):
    rng = random.Random(20261125)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for k in range(20):
        data = tmp_path / f"run{k}"
        proc = subprocess.Popen([sys.executable, str(ROOT / "tests" / "crash_recorder.py"),
                                 str(data), str(k)], stdout=subprocess.PIPE, env=env, text=True)
        for _ in range(rng.randint(1, 40)):        # kill after a random number of blocks
            assert proc.stdout.readline(), "recorder died on its own"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        for session_dir in sorted((data / "sessions").iterdir()):
            if needs_recovery(session_dir):
                if not (session_dir / fmt.SESSION_JSON).exists():
                    continue                       # killed before the session began: nothing lost
                recover_session(session_dir)
            assert verify_manifest(session_dir) == [], session_dir
            s = load_session(session_dir)
            for trial in s.trials:
                for kind in ("raw", "cop", "imu", "tilt"):
                    table = trial.samples(kind)
                    if table is not None:
                        assert not table.truncated
                        assert np.all(np.diff(table.columns["t_s"]) > 0)


def test_recovery_mends_a_kill_inside_start_trial(config, tmp_path):
    """Killed after the new trial folder was made but before session.json listed it, and before
    its sample files got their header: the folder is adopted, the empty files go."""
    station = Station(config, fast=True)
    rec = recorder_for(station, tmp_path, compress=False)
    record_trial(station, rec)
    rec.end_trial()
    rec.release()
    station.close()
    listed = json.loads((rec.path / "session.json").read_text())["trials"]
    orphan = rec.path / "trials" / "02-next"
    orphan.mkdir()
    first = rec.path / "trials" / listed[0] / "trial.json"
    (orphan / "trial.json").write_text(first.read_text())
    (orphan / "raw.csv").write_text("")                      # opened, nothing written yet
    (rec.path / fmt.LOCK_FILE).write_text("999999999\n")
    s = recover_session(rec.path)
    assert [t.dir.name for t in s.trials] == [listed[0], "02-next"]
    assert not (orphan / "raw.csv").exists() and verify_manifest(rec.path) == []
