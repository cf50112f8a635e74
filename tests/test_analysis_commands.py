"""``analyze`` and ``report`` through their argparse registration, as the station CLI will."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

import pytest
from test_analysis_support import make_session, make_trial, standard_session, sway

from station.analysis import commands, report
from station.analysis.summary import KEYS
from station.errors import StationError

DATA = Path(__file__).parent / "data"
BDS1 = DATA / "bds" / "BDS00001.txt.gz"
REQUIRED = ("ellipse_area_95_cm2", "mean_velocity_cm_s", "mean_power_frequency_hz",
            "path_length_cm", "rms_ap_cm", "rms_ml_cm", "range_ap_cm", "range_ml_cm",
            "mean_frequency_hz", "f50_ap_hz", "f95_ap_hz", "sample_rate_hz", "duration_s")


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="station")
    sub = parser.add_subparsers(dest="command", required=True)
    commands.add_analyze_parser(sub)
    commands.add_report_parser(sub)
    args = parser.parse_args([str(a) for a in argv])
    return args.func(args)


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines()]


def test_analyze_bds_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("analyze", BDS1, "--json") == 0
    (rec,) = _json_lines(capsys.readouterr().out)
    assert set(REQUIRED) <= set(rec)
    assert rec["ellipse_area_95_cm2"] == pytest.approx(0.9446915167229832, rel=1e-6)
    assert rec["mean_velocity_cm_s"] == pytest.approx(0.620189911656219, rel=1e-6)
    assert rec["mean_power_frequency_hz"] == pytest.approx(0.2565758824783575, rel=1e-6)
    assert rec["sample_rate_hz"] == pytest.approx(100.0)
    assert rec["duration_s"] == pytest.approx(60.0)
    assert rec["file_format"] == "BDS text" and rec["preprocessing"] == "none (raw COP)"


def test_analyze_table_is_readable(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("analyze", BDS1) == 0
    out = capsys.readouterr().out
    assert "95% prediction ellipse area (BDS)" in out
    line = next(ln for ln in out.splitlines() if ln.startswith("95% prediction"))
    assert line.split()[-1] == "0.945"


def test_analyze_session_json_one_object_per_trial(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    folder = standard_session(tmp_path, "S-0001")
    assert run("analyze", folder, "--json") == 0
    recs = _json_lines(capsys.readouterr().out)
    assert [r["trial_id"] for r in recs] == ["01-eyes-open-firm", "02-eyes-closed-firm",
                                             "03-eyes-open-foam", "04-eyes-closed-foam",
                                             "05-wobble-board"]
    assert all(set(REQUIRED) <= set(r) for r in recs)
    assert recs[0]["vision"] == "open" and recs[1]["surface"] == "firm"
    assert 0 < recs[0]["weight_symmetry_pct"] <= 100
    assert "stability_overall_deg" in recs[4] and "stability_overall_deg" not in recs[0]


def test_analyze_session_table_has_romberg(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    folder = standard_session(tmp_path, "S-0001")
    assert run("analyze", folder) == 0
    out = capsys.readouterr().out
    assert re.search(r"Romberg quotient \(firm\): area \d+\.\d\d, path length", out)
    assert "stability index overall" in out


def test_analyze_reports_unusable_trial_and_keeps_going(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = make_session(tmp_path, "S-1")
    names = [make_trial(folder, 1, "ok", sway(15.0)), make_trial(folder, 2, "short", sway(4.0))]
    meta = json.loads((folder / "session.json").read_text())
    meta["trials"] = names
    (folder / "session.json").write_text(json.dumps(meta))
    assert run("analyze", folder, "--json") == 0
    ok, short = _json_lines(capsys.readouterr().out)
    assert "error" not in ok
    assert "at least 10 s" in short["error"] and "ellipse_area_95_cm2" not in short


def test_analyze_single_bad_input_raises_station_error(tmp_path: Path) -> None:
    folder = make_session(tmp_path, "S-1")
    make_trial(folder, 1, "short", sway(4.0))
    with pytest.raises(StationError, match="at least 10 s"):
        run("analyze", folder / "trials" / "01-short")
    with pytest.raises(StationError, match="no such file"):
        run("analyze", tmp_path / "missing.csv")


def test_analyze_plot_writes_png(tmp_path: Path) -> None:
    out = tmp_path / "sway.png"
    assert run("analyze", BDS1, "--plot", out) == 0
    data = out.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000


def test_analyze_plot_one_file_per_trial(tmp_path: Path) -> None:
    folder = make_session(tmp_path, "S-1")
    names = [make_trial(folder, i, f"t{i}", sway(12.0, seed=i)) for i in (1, 2)]
    meta = json.loads((folder / "session.json").read_text())
    meta["trials"] = names
    (folder / "session.json").write_text(json.dumps(meta))
    assert run("analyze", folder, "--json", "--plot", tmp_path / "p.png") == 0
    assert sorted(p.name for p in tmp_path.glob("p-*.png")) == ["p-01-t1.png", "p-02-t2.png"]


def test_analyze_with_preprocessing(capsys: pytest.CaptureFixture[str]) -> None:
    assert run("analyze", BDS1, "--json", "--resample", "25", "--lowpass", "10") == 0
    (rec,) = _json_lines(capsys.readouterr().out)
    assert rec["sample_rate_hz"] == 25.0
    assert rec["preprocessing"].startswith("resample 25 Hz, low-pass 10 Hz")
    assert rec["mean_velocity_cm_s"] < 0.620189911656219  # filtering shortens the path


def test_report_compares_with_previous_session(tmp_path: Path) -> None:
    old = standard_session(tmp_path, "S-0001", seed=1, scale=1.3,
                           started="2025-11-13T09:30:00Z")
    new = standard_session(tmp_path, "S-0002", seed=5, started="2025-11-20T10:00:00Z")
    standard_session(tmp_path, "S-0003", seed=7, started="2025-11-18T10:00:00Z",
                     patient="P-9999")  # another patient, in between: ignored
    (tmp_path / "sessions" / "junk").mkdir()
    (tmp_path / "sessions" / "junk" / "session.json").write_text("{broken")
    assert report.previous_session(new) == old
    assert report.previous_session(old) is None
    out = tmp_path / "r.pdf"
    assert run("report", new, "-o", out) == 0
    assert out.read_bytes()[:5] == b"%PDF-"


def test_report_png_by_session_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    standard_session(tmp_path, "S-0002")
    monkeypatch.chdir(tmp_path)
    assert run("report", "S-0002", "--data-dir", tmp_path, "-o", "page.png") == 0
    assert (tmp_path / "page.png").read_bytes()[:4] == b"\x89PNG"
    assert run("report", "S-0002", "--data-dir", tmp_path) == 0
    assert (tmp_path / "S-0002-report.pdf").is_file()
    with pytest.raises(StationError, match="no session folder"):
        run("report", "S-9", "--data-dir", tmp_path)
    with pytest.raises(StationError, match=r"\.pdf or \.png"):
        run("report", "S-0002", "--data-dir", tmp_path, "-o", "page.txt")


def test_match_previous_pairs_same_condition_and_rank(tmp_path: Path) -> None:
    from station.analysis.preprocess import Preprocessing

    a = report.analyse_session(standard_session(tmp_path, "A"), Preprocessing())
    b = report.analyse_session(standard_session(tmp_path, "B", seed=3), Preprocessing())
    pairs = report.match_previous(b.results, list(reversed(a.results)))
    assert [p.label if p else None for p in pairs] == [r.label for r in a.results]


def test_sessions_written_by_the_station_recorder(config, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """End to end with the real recorder and the virtual patient (station.demo)."""
    from station.demo import run_demo

    first, _ = run_demo(config, seconds=12.0, short=True, progress=lambda _: None)
    second, _ = run_demo(config.with_changes("simulation", seed=8), seconds=12.0,
                         impaired=True, short=True, progress=lambda _: None)
    meta = json.loads((first / "session.json").read_text())
    meta["started_utc"] = "2020-01-01T09:00:00Z"  # both ran within the same second
    (first / "session.json").write_text(json.dumps(meta))
    assert run("analyze", second, "--json") == 0
    recs = [r for r in _json_lines(capsys.readouterr().out) if r["drill"] == "quiet_stance"]
    folder = "01-quiet-stance-eyes-open-eyes-closed"
    assert [r["trial_id"] for r in recs] == [f"{folder}#1", f"{folder}#2"]
    scored = json.loads((second / "trials" / folder / "trial.json").read_text())
    for rec, trial in zip(recs, scored["scores"]["trials"], strict=True):
        assert "error" not in rec and rec["vision"] == trial["vision"]
        assert rec["sample_rate_hz"] == pytest.approx(scored["sample_rate_hz"], rel=1e-6)
        # the drill scored the same samples live that analyze reads back from the file
        assert rec["path_length_cm"] == pytest.approx(trial["path_length_cm"], rel=1e-3)
        assert rec["weight_left_pct"] == pytest.approx(trial["weight_left_pct"], abs=0.01)
    assert report.previous_session(second) == first
    assert run("report", second, "-o", tmp_path / "visit.pdf") == 0
    assert (tmp_path / "visit.pdf").read_bytes()[:5] == b"%PDF-"


def test_main_turns_station_errors_into_one_line(capsys: pytest.CaptureFixture[str],
                                                 tmp_path: Path) -> None:
    assert commands.main(["analyze", str(tmp_path / "none.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1


def test_every_json_key_is_documented() -> None:
    doc = (Path(__file__).parents[1] / "docs" / "analysis.md").read_text(encoding="utf-8")
    extra = ("weight_left_pct", "weight_right_pct", "weight_symmetry_pct",
             "stability_overall_deg", "stability_ap_deg", "stability_ml_deg", "zone_a_pct",
             "zone_b_pct", "zone_c_pct", "zone_d_pct", "zone_beyond_pct", "source", "trial_id",
             "preprocessing", "note", "error")
    missing = [k for k in [*(k.name for k in KEYS), *extra] if f"`{k}`" not in doc]
    assert not missing
