"""`station check`: every kind of damage is named, with the file it is in."""

from __future__ import annotations

import argparse
import gzip
import json
import shutil
from pathlib import Path

import pytest

from station.errors import StationError
from station.session import format as fmt
from station.session.check import check_session, schema, validate
from station.session.reader import recover_session
from station.sync.commands import add_parsers
from station.sync.testing import record_session, reseal


def cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="station")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return record_session(tmp_path_factory.mktemp("tpl") / "sessions", trials=2, seconds=1.0,
                          with_imu=True)


@pytest.fixture
def session(template, tmp_path) -> Path:
    dest = tmp_path / "sessions" / template.name
    shutil.copytree(template, dest)
    return dest


def errors(path: Path) -> str:
    return "\n".join(str(p) for p in check_session(path).problems if p.severity == "error")


def edit_json(path: Path, **changes) -> None:
    data = json.loads(path.read_text())
    data.update(changes)
    path.write_text(json.dumps(data))


def test_an_intact_session_passes(session, capsys):
    report = check_session(session)
    assert report.ok and report.sealed and not report.interrupted
    assert report.problems == []
    assert cli("check", str(session)) == 0
    assert f"{session.name}: OK (0 error(s), 0 warning(s))" in capsys.readouterr().out


def test_hash_size_missing_and_extra_files_are_each_named(session, capsys):
    trial = session / "trials" / "01-quiet-stance-1"
    raw = trial / "raw.csv.gz"
    data = bytearray(raw.read_bytes())
    data[-12] ^= 0xFF                                    # flip a byte inside the deflate data
    raw.write_bytes(bytes(data))
    (trial / "cop.csv.gz").unlink()
    (session / "notes.txt").write_text("x")
    text = errors(session)
    assert "trials/01-quiet-stance-1/raw.csv.gz: SHA-256 does not match the manifest" in text
    assert "trials/01-quiet-stance-1/cop.csv.gz: listed in the manifest but missing" in text
    assert "notes.txt: not in the manifest" in text
    assert "no cop samples" in text
    assert cli("check", str(session)) == 1
    assert "DAMAGED" in capsys.readouterr().out


def test_unsealed_and_interrupted_sessions(template, tmp_path):
    d = record_session(tmp_path / "sessions", trials=1, seal=False, compress=False)
    (d / fmt.LOCK_FILE).write_text("999999999\n")        # the recorder died
    assert "missing: the session is not sealed, interrupted" in errors(d)
    recover_session(d)
    report = check_session(d)
    assert report.ok and report.interrupted
    assert any("interrupted" in p.message for p in report.problems if p.severity == "warning")


def test_schema_errors_name_the_field_but_never_echo_the_value(session):
    edit_json(session / fmt.SESSION_JSON, patient_code="Jane Doe", interrupted="no",
              station_id=None)
    meta = json.loads((session / fmt.SESSION_JSON).read_text())
    del meta["therapist_id"]
    (session / fmt.SESSION_JSON).write_text(json.dumps(meta))
    reseal(session)
    text = errors(session)
    assert "session.json: patient_code: does not match the required form" in text
    assert "session.json: interrupted: must be boolean, not string" in text
    assert "session.json: station_id: must be string, not null" in text
    assert "session.json: therapist_id: missing" in text
    assert "Jane" not in text


def test_unknown_major_version_and_damaged_json(session):
    edit_json(session / fmt.SESSION_JSON, format_version="2.0")
    (session / "trials" / "02-quiet-stance-2" / fmt.TRIAL_JSON).write_text("{not json")
    reseal(session)
    text = errors(session)
    assert "session.json: format_version: does not match" in text
    assert "trials/02-quiet-stance-2/trial.json: damaged JSON" in text


def test_wrong_content_in_sample_files(session):
    trial = session / "trials" / "01-quiet-stance-1"
    (trial / "cop.csv.gz").write_bytes(gzip.compress(b"<html>hello</html>\n"))
    (trial / "imu.csv.gz").write_bytes(b"not gzip at all")
    raw = gzip.decompress((trial / "raw.csv.gz").read_bytes()).decode()
    (trial / "raw.csv.gz").write_bytes(gzip.compress(raw.replace("station raw", "station cop",
                                                                 1).encode()))
    tilt = gzip.decompress((trial / "tilt.csv.gz").read_bytes())
    (trial / "tilt.csv.gz").write_bytes(gzip.compress(tilt + b"1.5,0.1"))   # partial line
    reseal(session)
    text = errors(session)
    assert "cop.csv.gz: not a station sample file" in text
    assert "imu.csv.gz: unreadable" in text
    assert "raw.csv.gz: header says kind 'cop', the name says 'raw'" in text
    assert "tilt.csv.gz: partial last line" in text


def test_time_order_row_count_and_trial_folders(session):
    trial = session / "trials" / "02-quiet-stance-2"
    lines = gzip.decompress((trial / "raw.csv.gz").read_bytes()).decode().splitlines(True)
    lines[5], lines[6] = lines[6], lines[5]
    (trial / "raw.csv.gz").write_bytes(gzip.compress("".join(lines[:-3]).encode()))
    shutil.copytree(trial, session / "trials" / "03-stray")
    edit_json(session / fmt.SESSION_JSON, trials=["01-quiet-stance-1", "02-quiet-stance-2",
                                                  "04-ghost"])
    reseal(session)
    text = errors(session)
    assert "02-quiet-stance-2/raw.csv.gz: t_s is not strictly increasing" in text
    assert "02-quiet-stance-2/raw.csv.gz: 77 rows, trial.json says 80" in text
    assert "trials/03-stray: not listed in session.json" in text
    assert "trials/04-ghost: listed in session.json but missing" in text


def test_json_output_and_lookup_by_id(session, capsys):
    (session / fmt.LOCK_FILE).write_text("1\n")
    data_dir = session.parent.parent
    assert cli("check", session.name, "--data-dir", str(data_dir), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] and report["session"] == session.name
    assert report["problems"][0]["where"] == fmt.LOCK_FILE
    assert cli("check", "--all", "--data-dir", str(data_dir)) == 0
    with pytest.raises(StationError, match="no session folder"):
        cli("check", "20990101T000000Z-00000000", "--data-dir", str(data_dir))


def test_the_schema_interpreter():
    sch = {"type": "object", "required": ["a"], "$defs": {"n": {"type": "integer"}},
           "properties": {"a": {"$ref": "#/$defs/n"},
                          "b": {"anyOf": [{"type": "null"}, {"type": "string", "maxLength": 2}]},
                          "c": {"type": "array", "items": {"type": "number", "minimum": 0},
                                "maxItems": 2}},
           "additionalProperties": False}
    assert validate({"a": 1, "b": None, "c": [0, 1.5]}, sch) == []
    assert validate({"a": True}, sch) == ["a: must be integer, not boolean"]
    assert validate({"b": "abc", "c": [-1, 2, 3], "d": 1}, sch) == [
        "a: missing", "b: has the wrong type or form",
        "c: has 3 items, which is out of range", "c[0]: -1 is below 0", "d: not allowed here"]
    for name in ("session", "trial", "manifest"):
        assert schema(name)["$schema"].endswith("2020-12/schema")
