"""Readers: station session folders built by hand, generic CSV, BDS detection, damage."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pytest
from test_analysis_support import FS, cop_csv_text, make_session, make_trial, sway

from station.analysis import readers
from station.analysis.summary import summarize, to_json
from station.analysis.validation import AnalysisError
from station.errors import SessionError, StationError

DATA = Path(__file__).parent / "data"


def _tiny_session(tmp_path: Path) -> tuple[Path, np.ndarray]:
    cop = sway(20.0, seed=1)
    folder = make_session(tmp_path, "S-1")
    names = [make_trial(folder, 1, "eyes-open", cop),
             make_trial(folder, 2, "eyes-closed", sway(20.0, seed=2), vision="closed", gz=True)]
    session_json = json.loads((folder / "session.json").read_text())
    session_json["trials"] = names
    (folder / "session.json").write_text(json.dumps(session_json))
    return folder, cop


def test_session_folder_is_read_with_metadata(tmp_path: Path) -> None:
    folder, cop = _tiny_session(tmp_path)
    session, trials = readers.load(folder)
    assert session is not None and session.failures == []
    assert session.patient_code == "P-0042" and session.session_id == "S-1"
    assert session.foot_spacing_m == pytest.approx(0.2)
    assert [t.trial_id for t in trials] == ["01-eyes-open", "02-eyes-closed"]
    first = trials[0]
    assert first.fs == FS and first.drill == "quiet_stance"
    assert first.conditions == {"vision": "open", "surface": "firm"}
    np.testing.assert_allclose(first.cop, cop, atol=1e-6)  # 6 decimals in the file
    assert first.note == ""
    assert trials[1].conditions["vision"] == "closed"  # the gzipped one


def test_trial_folder_and_its_json_path_are_accepted(tmp_path: Path) -> None:
    folder, _ = _tiny_session(tmp_path)
    trial = folder / "trials" / "01-eyes-open"
    for target in (trial, trial / "trial.json", folder / "session.json"):
        _, trials = readers.load(target)
        assert trials[0].trial_id == "01-eyes-open"


def test_unloaded_samples_leave_the_longest_loaded_stretch(tmp_path: Path) -> None:
    folder = make_session(tmp_path, "S-2")
    cop = sway(30.0)
    # off the plate for 2 s after 8 s: stretches 0-8 s and 10-30 s; the second is kept
    make_trial(folder, 1, "step-off", cop, unloaded=slice(round(8 * FS), round(10 * FS)))
    (t,) = readers.load(folder / "trials" / "01-step-off")[1]
    assert t.cop.shape[0] == round(20 * FS)
    np.testing.assert_allclose(t.cop, cop[round(10 * FS):], atol=1e-6)
    assert t.t_start_s == pytest.approx(10.0)
    assert "longest continuous" in t.note and "2 stretch" in t.note


def test_time_gap_splits_the_recording(tmp_path: Path) -> None:
    cop = sway(25.0)
    text = cop_csv_text(cop).splitlines()
    del text[2 + 400:2 + 420]  # 20 samples lost: a 0.25 s hole in t_s after 5 s
    path = tmp_path / "cop.csv"
    path.write_text("\n".join(text) + "\n")
    (t,) = readers.load(path)[1]
    assert t.cop.shape[0] == cop.shape[0] - 420
    assert t.fs == pytest.approx(FS, rel=1e-3)  # estimated from the time stamps


def test_truncated_last_line_is_dropped(tmp_path: Path) -> None:
    folder = make_session(tmp_path, "S-3")
    cop = sway(15.0)
    make_trial(folder, 1, "cut", cop, tail="27.4125,650.00,0.0021")  # no newline: power cut
    (t,) = readers.load(folder / "trials" / "01-cut")[1]
    assert t.cop.shape[0] == cop.shape[0]
    assert "incomplete" in t.note


def test_truncated_gzip_stream_keeps_what_was_written(tmp_path: Path) -> None:
    folder = make_session(tmp_path, "S-4")
    cop = sway(30.0)
    make_trial(folder, 1, "cut", cop, gz=True)
    path = folder / "trials" / "01-cut" / "cop.csv.gz"
    raw = gzip.compress(cop_csv_text(cop).encode(), compresslevel=1)
    path.write_bytes(raw[: len(raw) * 2 // 3])
    (t,) = readers.load(folder / "trials" / "01-cut")[1]
    assert 0 < t.cop.shape[0] < cop.shape[0]
    np.testing.assert_allclose(t.cop, cop[: t.cop.shape[0]], atol=1e-6)
    assert "gzip stream cut short" in t.note


def test_damaged_trials_are_listed_not_fatal(tmp_path: Path) -> None:
    folder, _ = _tiny_session(tmp_path)
    meta = json.loads((folder / "session.json").read_text())
    meta["trials"] += ["03-missing"]
    (folder / "session.json").write_text(json.dumps(meta))
    (folder / "trials" / "02-eyes-closed" / "trial.json").write_text(
        json.dumps({"format_version": "2.0"}))
    session, trials = readers.load(folder)
    assert session is not None and len(trials) == 1
    reasons = dict(session.failures)
    assert "format_version" in reasons["02-eyes-closed"]
    assert "missing" in reasons["03-missing"]


@pytest.mark.parametrize("content, message", [
    ("{not json", "damaged"),
    ('{"format_version": "2.1", "trials": []}', "format_version"),
    ('{"format_version": "1.0", "trials": "01"}', "list"),
])
def test_bad_session_json_raises_session_error(tmp_path: Path, content: str,
                                               message: str) -> None:
    folder = tmp_path / "sessions" / "S"
    folder.mkdir(parents=True)
    (folder / "session.json").write_text(content)
    with pytest.raises(SessionError, match=message):
        readers.load(folder)


def test_cop_file_without_magic_line_is_refused(tmp_path: Path) -> None:
    folder = make_session(tmp_path, "S-5")
    make_trial(folder, 1, "x", sway(12.0))
    cop_path = folder / "trials" / "01-x" / "cop.csv"
    cop_path.write_text("\n".join(cop_path.read_text().splitlines()[1:]) + "\n")
    with pytest.raises(StationError, match="format_version"):
        readers.read_station_trial(cop_path.parent)


def test_never_loaded_trial_is_a_clear_error(tmp_path: Path) -> None:
    folder = make_session(tmp_path, "S-6")
    make_trial(folder, 1, "empty", sway(12.0), unloaded=slice(None))
    with pytest.raises(AnalysisError, match="never defined"):
        readers.read_station_trial(folder / "trials" / "01-empty")


def _write_csv(path: Path, header: str, t: np.ndarray | None, cop: np.ndarray, scale: float,
               delim: str = ",") -> Path:
    cols = [cop[:, 0] * scale, cop[:, 1] * scale]
    if t is not None:
        cols.insert(0, t)
    rows = [delim.join(f"{v:.9g}" for v in row) for row in np.column_stack(cols)]
    path.write_text("# exported by hand\n" + header + "\n" + "\n".join(rows) + "\n")
    return path


def test_generic_csv_units_give_identical_metrics(tmp_path: Path) -> None:
    cop = sway(20.0, fs=50.0)
    t = np.arange(cop.shape[0]) / 50.0
    outs = []
    for header, scale, delim in (("t_s,cop_ml_m,cop_ap_m", 1.0, ","),
                                 ("time_ms;ML_mm;AP_mm", 1000.0, ";"),
                                 ("Time[s]\tAP[cm]\tML[cm]", 100.0, "\t")):
        columns = cop[:, ::-1] if header.startswith("Time[s]") else cop
        tt = t * 1000 if "ms" in header else t
        path = _write_csv(tmp_path / f"{scale}.csv", header, tt, columns, scale, delim)
        (trial,) = readers.load(path)[1]
        assert trial.fs == pytest.approx(50.0, rel=1e-9)
        assert trial.file_format == "COP CSV"
        outs.append(to_json(summarize(trial.cop, trial.fs)))
    for other in outs[1:]:
        for key, value in outs[0].items():
            assert other[key] == pytest.approx(value, rel=1e-6, abs=1e-9), key


def test_generic_csv_without_time_needs_a_rate(tmp_path: Path) -> None:
    cop = sway(12.0, fs=25.0)
    path = _write_csv(tmp_path / "c.csv", "ml_cm,ap_cm", None, cop, 100.0)
    with pytest.raises(AnalysisError, match="--rate"):
        readers.load(path)
    (trial,) = readers.load(path, rate=25.0)[1]
    assert trial.fs == 25.0 and trial.cop.shape == cop.shape


def test_generic_csv_without_cop_columns_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("t_s,x,y\n0,1,2\n0.1,1,2\n")
    with pytest.raises(AnalysisError, match="ML and AP columns"):
        readers.load(path)


def test_bds_is_detected_gzipped_or_not(tmp_path: Path) -> None:
    src = DATA / "bds" / "BDS00003.txt.gz"
    plain = tmp_path / "BDS00003.txt"
    plain.write_bytes(gzip.decompress(src.read_bytes()))
    (a,) = readers.load(src)[1]
    (b,) = readers.load(plain)[1]
    assert a.file_format == b.file_format == "BDS text"
    assert a.trial_id == b.trial_id == "BDS00003"
    np.testing.assert_array_equal(a.cop, b.cop)


def test_missing_path_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(AnalysisError, match="no such file"):
        readers.load(tmp_path / "nope.csv")
    with pytest.raises(AnalysisError, match=r"neither session\.json nor trial\.json"):
        readers.load(tmp_path)


def test_tilt_file_is_read(tmp_path: Path) -> None:
    folder = make_session(tmp_path, "S-7")
    tilt = np.radians(np.column_stack([np.full(500, 3.0), np.full(500, 4.0)]))
    make_trial(folder, 1, "board", sway(12.0), drill="wobble_board", tilt=tilt)
    t = readers.read_station_trial(folder / "trials" / "01-board")
    assert t.tilt is not None and t.tilt.shape == (500, 2)
    np.testing.assert_allclose(t.tilt, tilt, atol=1e-6)


def test_rate_comes_from_the_time_stamps(tmp_path: Path) -> None:
    """trial.json's 80 Hz is nominal: a chip running at 83 Hz is analysed at 83 Hz."""
    folder = make_session(tmp_path, "S-8")
    cop = sway(20.0, fs=83.0)
    make_trial(folder, 1, "fast-chip", cop)
    cop_path = folder / "trials" / "01-fast-chip" / "cop.csv"
    cop_path.write_text(cop_csv_text(cop, fs=83.0))
    t = readers.read_station_trial(cop_path.parent)
    assert t.fs == pytest.approx(83.0, rel=1e-5)
    assert "nominal 80 Hz" in t.note
    cop_path.write_text(cop_csv_text(cop, fs=100.0))  # 25 % off: something is wrong
    with pytest.raises(AnalysisError, match="time stamps say"):
        readers.read_station_trial(cop_path.parent)


def test_gzip_is_preferred_when_both_files_exist(tmp_path: Path) -> None:
    folder = make_session(tmp_path, "S-9")
    make_trial(folder, 1, "both", sway(12.0, seed=1), gz=True)
    trial_dir = folder / "trials" / "01-both"
    (trial_dir / "cop.csv").write_text(cop_csv_text(sway(15.0, seed=2)))
    t = readers.read_station_trial(trial_dir)
    assert t.source.endswith("cop.csv.gz") and t.cop.shape[0] == round(12.0 * FS)
