"""The command line, as a technician or the README uses it."""

from __future__ import annotations

import subprocess
import sys

import pytest

from station.analysis import readers
from station.cli import build_parser, main
from station.session.reader import load_session, verify_manifest


def commands() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sorted(sub.choices)


@pytest.mark.parametrize("command", commands())
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0
    assert "usage: station " + command in capsys.readouterr().out


def test_demo_runs_a_whole_visit_into_one_session(tmp_path, capsys):
    argv = ["demo", "--data-dir", str(tmp_path), "--seconds", "10", "--seed", "3", "--short"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    for title in ("Quiet stance", "Modified CTSIB", "Limits of Stability", "Target catch",
                  "Rhythmic weight shift"):
        assert title in out
    session_dir = next((tmp_path / "sessions").iterdir())
    s = load_session(session_dir)
    assert s.sealed and verify_manifest(session_dir) == []
    assert [t.meta["drill"] for t in s.trials] == [
        "quiet_stance", "mctsib", "limits_of_stability", "target_hold", "weight_shift"]
    quiet = s.trials[0].meta["scores"]
    assert quiet["mean_velocity_cm_s_eyes_closed"] > quiet["mean_velocity_cm_s_eyes_open"]
    assert quiet["trials"][0]["weight_kg"] == pytest.approx(70.0, abs=0.5)
    events = [e["kind"] for e in s.trials[1].meta["events"]]
    assert events.count("trial_start") == 4          # mCTSIB: four conditions, one trial each
    assert (tmp_path / "levels.json").exists()       # the games' levels carry to next time
    # analysis splits a drill's recording into its marked trials, conditions attached
    _, trials = readers.load(session_dir)
    stance = [t for t in trials if t.drill == "quiet_stance"]
    assert [t.conditions.get("vision") for t in stance] == ["open", "closed"]
    assert all(t.cop.shape[0] == pytest.approx(800, abs=8) for t in stance)
    ctsib = [(t.conditions.get("surface"), t.conditions.get("vision"))
             for t in trials if t.drill == "mctsib"]
    assert ctsib == [("firm", "open"), ("firm", "closed"), ("foam", "open"), ("foam", "closed")]


def test_impaired_demo_shows_the_asymmetry(tmp_path, capsys):
    argv = ["demo", "--data-dir", str(tmp_path), "--seconds", "10", "--impaired", "--short"]
    assert main(argv) == 0
    s = load_session(next((tmp_path / "sessions").iterdir()))
    first = s.trials[0].meta["scores"]["trials"][0]
    assert first["weight_left_pct"] == pytest.approx(65, abs=1.5)


def test_record_then_replay(tmp_path, capsys):
    assert main(["calibrate", "--mass", "20", "--fast", "--data-dir", str(tmp_path)]) == 0
    assert main(["record", "--seconds", "4", "--fast", "--data-dir", str(tmp_path),
                 "--patient", "P-1"]) == 0
    out = capsys.readouterr().out
    assert "Recorded 320 frames (0 dropped, 0 late)" in out
    trial = next((tmp_path / "sessions").rglob("01-raw-recording"))
    assert main(["replay", str(trial), "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Replayed 320 frames at 80 Hz (0 dropped)" in out
    assert "weight 70.0 kg" in out


@pytest.mark.parametrize(("argv", "fragment"), [
    (["replay", "/no/such/file.csv"], "No such file"),
    (["calibrate", "--mass", "-3", "--fast"], "outside 0.5-200 kg"),
    (["record", "--seconds", "0", "--fast"], "must be positive"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, capsys, argv, fragment):
    assert main([*argv, "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and fragment in err[0]


def test_console_script_runs_as_a_module(tmp_path):
    out = subprocess.run([sys.executable, "-m", "station.cli", "config", "--defaults"],
                         capture_output=True, text=True, check=True).stdout
    assert "[plate]" in out and "span_ml_m = 0.4" in out
