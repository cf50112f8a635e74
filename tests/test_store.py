"""The local store: survives restarts and lost indexes, seals interrupted sessions, and lets
retention delete only sessions whose receipt matches (the SIGKILL tests are in
test_sync_crash.py)."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pytest

from station.errors import SessionError
from station.session import format as fmt
from station.session.check import check_session
from station.session.store import (
    PURGING_DIR,
    RECEIPT_FILE,
    DiskUsage,
    RetentionPolicy,
    SessionStore,
    State,
)
from station.sync import protocol as proto
from station.sync.testing import clone_sessions, record_session

GB = 1 << 30


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return record_session(tmp_path_factory.mktemp("tpl") / "sessions", trials=1, seconds=0.5)


@pytest.fixture
def data(tmp_path) -> Path:
    return tmp_path / "data"


def receipt_for(folder: Path) -> dict:
    sha = proto.sha256_hex((folder / fmt.MANIFEST_JSON).read_bytes())
    return {"session_id": folder.name, "manifest_sha256": sha, "station_id": "station-01",
            "received_utc": "2026-01-01T00:00:00Z"}


class FakeDisk:
    """``total`` bytes; free space is ``free`` plus whatever the store deleted since."""

    def __init__(self, sessions_dir: Path, free: int, total: int = 100 * GB) -> None:
        self.dir, self.free, self.total = sessions_dir, free, total
        self.start = self.used()

    def used(self) -> int:
        return sum(f.stat().st_size for f in self.dir.rglob("*") if f.is_file())

    def __call__(self, _path: Path) -> DiskUsage:
        free = self.free + self.start - self.used()
        return DiskUsage(self.total, self.total - free, free)


def test_index_survives_reopening_and_knows_each_state(template, data):
    folders = clone_sessions(template, data / "sessions", 3)
    with SessionStore(data) as store:
        assert [s.session_id for s in store.pending()] == [f.name for f in folders]
        store.mark_synced(folders[0].name, receipt_for(folders[0]))
        store.mark_failed(folders[1].name, "HTTP 503", None)
        assert store.last_scan.added == [f.name for f in folders]
    with SessionStore(data) as store:
        assert store.get(folders[0].name).state == State.SYNCED
        assert store.get(folders[0].name).receipt["manifest_sha256"]
        s1 = store.get(folders[1].name)
        assert (s1.state, s1.attempts, s1.last_error) == (State.SEALED, 1, "HTTP 503")
        assert store.counts() == {"synced": 1, "sealed": 2}
        assert store.get(folders[0].name).patient_code == "P-0000"
        assert store.last_scan.added == []


def test_interrupted_sessions_are_sealed_flagged_and_offered(data):
    dead = record_session(data / "sessions", trials=2, seal=False, compress=False)
    (dead / fmt.LOCK_FILE).write_text("999999999\n")
    raw = dead / "trials" / "02-quiet-stance-2" / "raw.csv"
    with open(raw, "a") as fh:
        fh.write("1.23,45")                               # power cut mid-line
    live = record_session(data / "sessions", trials=1, seal=False, seed=1)   # our pid: alive
    shell = data / "sessions" / "20260101T000000Z-0badc0de"
    (shell / "trials").mkdir(parents=True)                # killed before session.json
    (shell / fmt.LOCK_FILE).write_text("999999999\n")
    (shell / ".session.json.a1b2.tmp").write_text('{"format')   # killed mid-write
    old_shell = data / "sessions" / "20260101T000000Z-0ldc0de0"
    (old_shell / "trials").mkdir(parents=True)
    os.utime(old_shell, (0, 0))
    with SessionStore(data) as store:
        assert store.last_scan.recovered == [dead.name]
        assert store.get(dead.name).state == State.SEALED
        assert store.get(dead.name).interrupted
        assert store.get(live.name).state == State.RECORDING
        assert store.get(shell.name).state == State.RECORDING      # may be starting now
        assert store.get(old_shell.name) is None
        assert [s.session_id for s in store.pending()] == [dead.name]
    assert raw.read_text().endswith("\n") and shell.exists() and not old_shell.exists()
    meta = json.loads((dead / fmt.SESSION_JSON).read_text())
    assert meta["interrupted"] is True


def test_what_a_kill_at_the_edges_of_a_trial_or_seal_leaves_is_tidied(template, data):
    early = record_session(data / "sessions", trials=1, seal=False, compress=False)
    (early / fmt.LOCK_FILE).write_text("999999999\n")
    trial = early / "trials" / "01-quiet-stance-1"
    meta = json.loads((trial / fmt.TRIAL_JSON).read_text())
    (trial / fmt.TRIAL_JSON).write_text(json.dumps(dict(meta, complete=False)))
    (trial / "raw.csv").write_bytes(b"")                  # opened, header not yet flushed
    (trial / "cop.csv").write_bytes(b"# station cop format_ve")
    unlisted = early / "trials" / "02-next"                # made, not yet in session.json
    unlisted.mkdir()
    (unlisted / fmt.TRIAL_JSON).write_text(json.dumps(dict(meta, trial_id=2, complete=False)))
    (early / "trials" / "03-empty").mkdir()
    (early / "trials" / "03-empty" / ".trial.json.x1y2.tmp").write_text("{")   # cut write
    (late,) = clone_sessions(template, data / "sessions", 1)
    (late / fmt.LOCK_FILE).write_text("999999999\n")     # killed before the unlock
    with SessionStore(data) as store:
        assert store.get(early.name).state == State.SEALED
        assert store.get(late.name).state == State.SEALED
    assert not (trial / "raw.csv").exists() and not (late / fmt.LOCK_FILE).exists()
    assert json.loads((early / fmt.SESSION_JSON).read_text())["trials"] == [
        "01-quiet-stance-1", "02-next"]
    assert not (early / "trials" / "03-empty").exists()
    assert check_session(early).ok and check_session(late).ok


def test_damaged_and_vanished_sessions_are_reported_not_sent(template, data):
    a, b, c = clone_sessions(template, data / "sessions", 3)
    (a / "trials" / "01-quiet-stance-1" / "cop.csv.gz").write_bytes(b"garbage")
    with SessionStore(data) as store:
        assert store.get(a.name).state == State.DAMAGED
        assert "SHA-256" in store.get(a.name).last_error or "size" in store.get(a.name).last_error
        store.mark_synced(c.name, receipt_for(c))
    shutil.rmtree(b)
    shutil.rmtree(c)
    with SessionStore(data) as store:
        assert store.get(b.name).state == State.MISSING          # never deleted by us
        assert store.get(c.name).state == State.PURGED           # it was on the server
        assert store.last_scan.missing == [b.name]
        assert store.pending() == []


def test_a_receipt_must_match_the_local_manifest(template, data):
    (a,) = clone_sessions(template, data / "sessions", 1)
    with SessionStore(data) as store:
        bad = dict(receipt_for(a), manifest_sha256="0" * 64)
        with pytest.raises(SessionError, match="does not match"):
            store.mark_synced(a.name, bad)
        with pytest.raises(SessionError, match="not a sealed session"):
            store.mark_synced("20260101T000000Z-00000000", receipt_for(a))
        assert store.get(a.name).state == State.SEALED
        assert not (a / RECEIPT_FILE).exists()


def test_a_lost_index_is_rebuilt_from_the_folders(template, data):
    folders = clone_sessions(template, data / "sessions", 4)
    with SessionStore(data) as store:
        for f in folders[:2]:
            store.mark_synced(f.name, receipt_for(f))
    for name in ("store.sqlite3", "store.sqlite3-wal", "store.sqlite3-shm"):
        (data / name).unlink(missing_ok=True)
    with SessionStore(data) as store:
        assert [s.state for s in store.sessions()] == [State.SYNCED, State.SYNCED,
                                                       State.SEALED, State.SEALED]


def test_a_manifest_changed_after_sync_is_offered_again(template, data):
    (a,) = clone_sessions(template, data / "sessions", 1)
    with SessionStore(data) as store:
        store.mark_synced(a.name, receipt_for(a))
    m = json.loads((a / fmt.MANIFEST_JSON).read_text())
    (a / fmt.MANIFEST_JSON).write_text(json.dumps(m, indent=1))
    with SessionStore(data) as store:
        assert store.get(a.name).state == State.SEALED


def test_retention_by_age_never_touches_unsynced(template, data):
    folders = clone_sessions(template, data / "sessions", 6)
    disk = FakeDisk(data / "sessions", free=50 * GB)
    with SessionStore(data, disk_usage=disk,
                      policy=RetentionPolicy(keep_synced_days=30)) as store:
        for f in folders[:3]:
            store.mark_synced(f.name, receipt_for(f))
        assert store.apply_retention() == []                         # all young, disk fine
        later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)
        assert store.apply_retention(now=later) == [f.name for f in folders[:3]]
        assert [f.exists() for f in folders] == [False] * 3 + [True] * 3
        assert store.counts() == {"purged": 3, "sealed": 3}
        assert not any((data / "sessions" / PURGING_DIR).iterdir())


def test_retention_by_free_space_goes_oldest_first_and_stops_at_target(template, data):
    folders = clone_sessions(template, data / "sessions", 8)
    size = sum(f.stat().st_size for f in folders[0].rglob("*") if f.is_file())
    total = 1000 * size
    # 2.5 sessions short of the 20 % target: three must go, the oldest synced ones
    disk = FakeDisk(data / "sessions", free=int(0.2 * total - 2.5 * size), total=total)
    with SessionStore(data, disk_usage=disk) as store:
        for f in folders[1:6]:
            store.mark_synced(f.name, receipt_for(f))
        assert store.apply_retention() == [f.name for f in folders[1:4]]
        assert folders[0].exists()                                   # unsynced: kept
        # short of space with nothing synced left to delete: everything unsynced stays
        disk.free -= 50 * size
        assert store.apply_retention() == [f.name for f in folders[4:6]]
        assert all(f.exists() for f in [folders[0], *folders[6:]])


def test_retention_rechecks_with_the_server_when_asked(template, data):
    a, b = clone_sessions(template, data / "sessions", 2)
    disk = FakeDisk(data / "sessions", free=GB, total=100 * GB)      # below target
    with SessionStore(data, disk_usage=disk) as store:
        store.mark_synced(a.name, receipt_for(a))
        store.mark_synced(b.name, receipt_for(b))
        assert store.apply_retention(confirm=lambda sid, sha: sid == b.name) == [b.name]
        assert a.exists() and store.get(a.name).state == State.SEALED   # will be sent again

        def unreachable(sid: str, sha: str) -> bool:
            raise ConnectionError("no server")

        store.mark_synced(a.name, receipt_for(a))
        with pytest.raises(ConnectionError):
            store.apply_retention(confirm=unreachable)
        assert a.exists() and store.get(a.name).state == State.SYNCED


def test_a_purge_cut_short_is_finished_or_undone_at_open(template, data):
    a, b, c = clone_sessions(template, data / "sessions", 3)
    with SessionStore(data) as store:
        for f in (a, b):
            store.mark_synced(f.name, receipt_for(f))
        store._set(a.name, State.PURGING)          # crash after the mark, before the rename
        store._set(b.name, State.PURGING)          # crash after the rename, before the rmtree
    trash = data / "sessions" / PURGING_DIR
    trash.mkdir()
    os.replace(b, trash / b.name)
    os.replace(c, trash / c.name)                  # never confirmed: must come back
    with SessionStore(data) as store:
        assert store.get(a.name).state == State.SYNCED and a.exists()
        assert store.get(b.name).state == State.PURGED and not (trash / b.name).exists()
        assert store.get(c.name).state == State.SEALED and c.exists()


def test_the_screen_is_warned_well_before_the_disk_fills(template, data):
    clone_sessions(template, data / "sessions", 2)
    disk = FakeDisk(data / "sessions", free=40 * GB, total=100 * GB)
    with SessionStore(data, disk_usage=disk) as store:
        assert store.disk_status().level == "ok"
        disk.free = 12 * GB
        status = store.disk_status()
        assert status.level == "warning" and status.pending_sessions == 2
        assert "Storage low" in status.message and "2 session(s) wait for sync" in status.message
        disk.free = 3 * GB
        assert store.disk_status().level == "critical"


def test_policy_from_the_config_store_section(config):
    cfg = config.with_changes("store", keep_synced_days=7.0, warn_free_fraction=0.3)
    policy = RetentionPolicy.from_config(cfg)
    assert policy.keep_synced_days == 7.0 and policy.warn_free_fraction == 0.3
    assert RetentionPolicy.from_config(config) == RetentionPolicy()   # defaults agree
