"""The station's local session store: which sessions exist, which the server confirmed, and
which may go.

The folders under ``<data_dir>/sessions`` are the truth; ``<data_dir>/store.sqlite3`` (WAL,
synchronous=FULL) indexes them with their sync state, so a power cut loses nothing and a lost
index is rebuilt from the folders: every sealed folder comes back as ``sealed`` unless it holds
the server's receipt (``.sync-receipt.json``, written before the index says ``synced``), and
a sync run asks the server about the rest before sending anything. Opening the store seals
sessions a crash left open (``reader.recover_session``), so they are flagged and synced too.

Retention deletes only sessions whose receipt matches their manifest (optionally re-confirmed
with the server just before), oldest first, once they are older than ``keep_synced_days`` or
while free space is below ``free_target_fraction``. Deletion is a rename into
``sessions/.purging`` followed by removal, each step recorded, so a crash at any point either
keeps the session or finishes deleting a confirmed one. Nothing else is ever deleted.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import logging
import os
import shutil
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from station import atomicio
from station.clock import utc_now
from station.errors import SessionError
from station.session import format as fmt
from station.session.reader import needs_recovery, recover_session, verify_manifest

log = logging.getLogger(__name__)
RECEIPT_FILE = ".sync-receipt.json"
PURGING_DIR = ".purging"
SHELL_AGE_S = 600.0          # an empty session folder older than this is a dead start
GIB = 1 << 30


class State(StrEnum):
    RECORDING = "recording"  # no manifest yet; a live recorder owns it
    SEALED = "sealed"        # complete, waiting for the server's receipt
    SYNCED = "synced"        # the server's receipt matches the manifest
    PURGING = "purging"      # retention is removing it (it was synced)
    PURGED = "purged"        # removed after its receipt; the row stays as the record
    CONFLICT = "conflict"    # the server holds another manifest under this id: needs a human
    REJECTED = "rejected"    # the server refused its content: needs a human
    DAMAGED = "damaged"      # fails its own manifest or cannot be sealed: never uploaded
    MISSING = "missing"      # the folder vanished before it was synced (not our doing)


@dataclass(frozen=True)
class RetentionPolicy:
    """When synced sessions may go and when the screen warns (fractions of the disk)."""

    keep_synced_days: float = 30.0
    free_target_fraction: float = 0.20
    warn_free_fraction: float = 0.15
    warn_free_bytes: int = 2 * GIB
    critical_free_fraction: float = 0.05
    critical_free_bytes: int = GIB // 4
    recheck_with_server: bool = True

    @classmethod
    def from_config(cls, cfg: Any) -> RetentionPolicy:
        """The configuration's ``[store]`` section."""
        return cls(**{k: getattr(cfg.store, k) for k in cls.__dataclass_fields__})


class DiskUsage(NamedTuple):
    total: int
    used: int
    free: int


@dataclass(frozen=True)
class DiskStatus:
    level: str            # ok | warning | critical
    free_bytes: int
    total_bytes: int
    pending_sessions: int
    message: str


@dataclass(frozen=True)
class StoredSession:
    session_id: str
    state: State
    manifest_sha256: str | None
    bytes: int
    files: int
    patient_code: str | None
    interrupted: bool
    synced_utc: str | None
    receipt: dict[str, Any] | None
    attempts: int
    last_error: str | None


@dataclass
class ScanReport:
    recovered: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)
    damaged: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions(
  session_id TEXT PRIMARY KEY, state TEXT NOT NULL, manifest_sha256 TEXT,
  bytes INTEGER NOT NULL DEFAULT 0, files INTEGER NOT NULL DEFAULT 0, patient_code TEXT,
  interrupted INTEGER NOT NULL DEFAULT 0, indexed_utc TEXT NOT NULL, synced_utc TEXT,
  receipt TEXT, attempts INTEGER NOT NULL DEFAULT 0, last_error TEXT);
CREATE INDEX IF NOT EXISTS sessions_state ON sessions(state, session_id);
"""
_COLS = ("session_id, state, manifest_sha256, bytes, files, patient_code, interrupted, "
         "synced_utc, receipt, attempts, last_error")


def needs_recovery_lock(lock: Path) -> bool:
    """Is the recorder that holds this lock gone?"""
    try:
        pid = int(lock.read_text().strip())
    except (OSError, ValueError):
        return True
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _row(r: tuple) -> StoredSession:
    return StoredSession(r[0], State(r[1]), r[2], r[3], r[4], r[5], bool(r[6]), r[7],
                         json.loads(r[8]) if r[8] else None, r[9], r[10])


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


class SessionStore:
    """Index of ``<data_dir>/sessions``; open it, use it, close it (a context manager)."""

    def __init__(self, data_dir: str | Path, *, policy: RetentionPolicy | None = None,
                 disk_usage: Callable[[Path], DiskUsage] = shutil.disk_usage,  # type: ignore[assignment]
                 scan: bool = True) -> None:
        self.data_dir = Path(data_dir)
        self.sessions_dir = self.data_dir / "sessions"
        self.sessions_dir.mkdir(parents=True, exist_ok=True)
        self.policy = policy or RetentionPolicy()
        self._disk_usage = disk_usage
        self._db = sqlite3.connect(self.data_dir / "store.sqlite3", timeout=30,
                                   isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self.last_scan = self.scan() if scan else ScanReport()
        except BaseException:
            self._db.close()
            raise

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ queries
    def get(self, session_id: str) -> StoredSession | None:
        r = self._db.execute(f"SELECT {_COLS} FROM sessions WHERE session_id=?",
                             (session_id,)).fetchone()
        return _row(r) if r else None

    def sessions(self, *states: State) -> list[StoredSession]:
        """Sessions in these states (all when none given), oldest first."""
        where = f"WHERE state IN ({','.join('?' * len(states))})" if states else ""
        rows = self._db.execute(f"SELECT {_COLS} FROM sessions {where} ORDER BY session_id",
                                tuple(states)).fetchall()
        return [_row(r) for r in rows]

    def pending(self) -> list[StoredSession]:
        """Sealed sessions the server has not confirmed, oldest first: what a sync sends."""
        return self.sessions(State.SEALED)

    def counts(self) -> dict[str, int]:
        rows = self._db.execute("SELECT state, COUNT(*) FROM sessions GROUP BY state")
        return {state: n for state, n in rows}

    def path(self, session_id: str) -> Path:
        return self.sessions_dir / session_id

    # ------------------------------------------------------------------ scanning
    @contextlib.contextmanager
    def _exclusive(self) -> Iterator[None]:
        """One process at a time scans or deletes (the UI and a sync run may both open us)."""
        with open(self.data_dir / "store.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def scan(self) -> ScanReport:
        """Bring the index in line with the folders; seal what a crash left open."""
        report = ScanReport()
        with self._exclusive():
            self._finish_purges()
            seen = set()
            for d in sorted(self.sessions_dir.iterdir()):
                if d.name.startswith(".") or not d.is_dir():
                    continue
                seen.add(d.name)
                self._scan_one(d, report)
            for s in self.sessions():
                if s.session_id in seen or s.state in (State.PURGED, State.MISSING):
                    continue
                if s.state in (State.SYNCED, State.PURGING):
                    self._set(s.session_id, State.PURGED)
                else:
                    log.warning("session %s vanished before it was synced", s.session_id)
                    self._set(s.session_id, State.MISSING, last_error="folder vanished")
                    report.missing.append(s.session_id)
        return report

    def _scan_one(self, d: Path, report: ScanReport) -> None:
        sid, row = d.name, self.get(d.name)
        manifest = d / fmt.MANIFEST_JSON
        lock = d / fmt.LOCK_FILE
        if manifest.exists() and lock.exists():
            if not needs_recovery_lock(lock):            # sealing right now: look later
                if row is None or row.state != State.RECORDING:
                    self._upsert(sid, State.RECORDING)
                return
            lock.unlink(missing_ok=True)     # killed between the manifest and the unlock
        if not manifest.exists():
            if not needs_recovery(d):
                if row is None or row.state != State.RECORDING:
                    self._upsert(sid, State.RECORDING)
                return
            if not (d / fmt.SESSION_JSON).exists():
                self._shell(d, row)
                return
            try:
                recover_session(d)
            except (SessionError, OSError) as exc:
                if row is None or row.state != State.DAMAGED:
                    self._upsert(sid, State.DAMAGED, last_error=str(exc).rpartition(": ")[2])
                    report.damaged.append(sid)
                return
            log.warning("session %s was interrupted; recovered, sealed and flagged", sid)
            report.recovered.append(sid)
        sha = _sha256(manifest)
        if row is not None and row.manifest_sha256 == sha and row.state not in (
                State.RECORDING, State.DAMAGED, State.MISSING):
            return
        problems = verify_manifest(d)
        info = self._folder_info(d)
        if problems:
            self._upsert(sid, State.DAMAGED, sha=sha, last_error=f"{problems[0]} "
                         f"({len(problems)} problem(s); see `station check`)", **info)
            report.damaged.append(sid)
            return
        receipt = self._read_receipt(d)
        if receipt is not None and receipt.get("manifest_sha256") == sha:
            self._upsert(sid, State.SYNCED, sha=sha, receipt=receipt, **info)
        else:
            self._upsert(sid, State.SEALED, sha=sha, **info)
        if row is None:
            report.added.append(sid)

    def _shell(self, d: Path, row: StoredSession | None) -> None:
        """A recorder killed before it wrote session.json leaves a folder with no data (at
        most its lock). Once it is older than any start-up could take, it goes; until then it
        might be a recorder starting right now, so it is left alone."""
        files = [f for f in d.rglob("*") if f.is_file() and f.name != fmt.LOCK_FILE
                 and not f.name.startswith(".")]     # temp files of unfinished writes
        if files:
            if row is None or row.state != State.DAMAGED:
                self._upsert(d.name, State.DAMAGED, last_error="no session.json")
            return
        if time.time() - d.stat().st_mtime > SHELL_AGE_S:
            log.warning("removing %s: the recorder stopped before the visit began", d.name)
            shutil.rmtree(d)
            self._db.execute("DELETE FROM sessions WHERE session_id=?", (d.name,))
        elif row is None:
            self._upsert(d.name, State.RECORDING)

    @staticmethod
    def _folder_info(d: Path) -> dict[str, Any]:
        try:
            meta = json.loads((d / fmt.SESSION_JSON).read_text(encoding="utf-8"))
            files = json.loads((d / fmt.MANIFEST_JSON).read_text(encoding="utf-8"))["files"]
            size = sum(int(e["size"]) for e in files.values())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}
        code = meta.get("patient_code") if isinstance(meta, dict) else None
        return {"patient_code": code if isinstance(code, str) else None,
                "interrupted": bool(meta.get("interrupted")), "size": size,
                "files": len(files)}

    @staticmethod
    def _read_receipt(d: Path) -> dict[str, Any] | None:
        try:
            receipt = json.loads((d / RECEIPT_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return receipt if isinstance(receipt, dict) and \
            receipt.get("session_id") == d.name else None

    def _upsert(self, sid: str, state: State, *, sha: str | None = None,
                receipt: dict[str, Any] | None = None, patient_code: str | None = None,
                interrupted: bool = False, size: int = 0, files: int = 0,
                last_error: str | None = None) -> None:
        self._db.execute(
            "INSERT INTO sessions(session_id, state, manifest_sha256, bytes, files, patient_code,"
            " interrupted, indexed_utc, synced_utc, receipt, last_error)"
            " VALUES(?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT(session_id) DO UPDATE SET"
            " state=excluded.state, manifest_sha256=excluded.manifest_sha256,"
            " bytes=excluded.bytes, files=excluded.files, patient_code=excluded.patient_code,"
            " interrupted=excluded.interrupted, synced_utc=excluded.synced_utc,"
            " receipt=excluded.receipt, last_error=excluded.last_error",
            (sid, state, sha, size, files, patient_code, int(interrupted), utc_now(),
             utc_now() if receipt else None, json.dumps(receipt) if receipt else None,
             last_error))

    def _set(self, sid: str, state: State, **cols: Any) -> None:
        sets = ", ".join(f"{k}=?" for k in ("state", *cols))
        self._db.execute(f"UPDATE sessions SET {sets} WHERE session_id=?",
                         (state, *cols.values(), sid))

    # ------------------------------------------------------------------ sync results
    def mark_synced(self, session_id: str, receipt: dict[str, Any]) -> None:
        """Record the server's receipt; refuses one that does not match this manifest."""
        row = self.get(session_id)
        d = self.path(session_id)
        if row is None or not (d / fmt.MANIFEST_JSON).exists():
            raise SessionError(f"{session_id}: not a sealed session of this store")
        sha = _sha256(d / fmt.MANIFEST_JSON)
        if receipt.get("session_id") != session_id or receipt.get("manifest_sha256") != sha \
                or row.manifest_sha256 != sha:
            raise SessionError(f"{session_id}: the receipt does not match the local manifest")
        atomicio.write_json(d / RECEIPT_FILE, receipt)     # first: rebuild finds it
        self._set(session_id, State.SYNCED, synced_utc=utc_now(), receipt=json.dumps(receipt),
                  last_error=None)

    def mark_failed(self, session_id: str, error: str, state: State | None = None) -> None:
        """Note a failed attempt; ``state`` (conflict, rejected, damaged) parks the session."""
        row = self.get(session_id)
        if row is None:
            return
        self._set(session_id, state or row.state, attempts=row.attempts + 1,
                  last_error=error[:500])

    def reset(self, session_id: str) -> None:
        """A human resolved a conflict or rejection: offer the session again."""
        row = self.get(session_id)
        if row is not None and row.state in (State.CONFLICT, State.REJECTED):
            self._set(session_id, State.SEALED, last_error=None)

    # ------------------------------------------------------------------ retention
    def disk_usage(self) -> DiskUsage:
        u = self._disk_usage(self.data_dir)
        return DiskUsage(u.total, u.used, u.free)

    def apply_retention(self, confirm: Callable[[str, str], bool] | None = None,
                        now: dt.datetime | None = None,
                        on_purged: Callable[[str], None] | None = None) -> list[str]:
        """Delete synced sessions the rule lets go; returns their ids. ``confirm(id, sha)``
        re-asks the server; False sends the session back to ``sealed`` (it will be re-sent),
        an exception stops the purge (nothing is deleted without the answer)."""
        now = now or dt.datetime.now(dt.UTC)
        cutoff = utc_now(now - dt.timedelta(days=self.policy.keep_synced_days))
        purged: list[str] = []
        with self._exclusive():
            for s in self.sessions(State.SYNCED):
                old = s.synced_utc is not None and s.synced_utc <= cutoff
                if not (old or self._below_target()):
                    continue
                if self._purge(s, confirm):
                    purged.append(s.session_id)
                    if on_purged is not None:
                        on_purged(s.session_id)
        return purged

    def _below_target(self) -> bool:
        u = self.disk_usage()
        return u.free < self.policy.free_target_fraction * u.total

    def _purge(self, s: StoredSession, confirm: Callable[[str, str], bool] | None) -> bool:
        d = self.path(s.session_id)
        if not d.exists():
            self._set(s.session_id, State.PURGED)
            return False
        manifest = d / fmt.MANIFEST_JSON
        sha = _sha256(manifest) if manifest.exists() else None
        if s.receipt is None or sha is None or sha != s.manifest_sha256 \
                or s.receipt.get("manifest_sha256") != sha:
            self._set(s.session_id, State.SEALED, last_error="receipt no longer matches")
            return False
        if confirm is not None and not confirm(s.session_id, sha):
            log.warning("server no longer confirms %s; it will be sent again", s.session_id)
            self._set(s.session_id, State.SEALED, last_error="server did not confirm")
            return False
        self._set(s.session_id, State.PURGING)
        trash = self.sessions_dir / PURGING_DIR
        trash.mkdir(exist_ok=True)
        os.replace(d, trash / s.session_id)
        atomicio.fsync_dir(self.sessions_dir)
        shutil.rmtree(trash / s.session_id)
        self._set(s.session_id, State.PURGED)
        log.info("purged synced session %s", s.session_id)
        return True

    def _finish_purges(self) -> None:
        """Complete deletions a crash interrupted; put back anything not proven synced."""
        trash = self.sessions_dir / PURGING_DIR
        for d in sorted(trash.iterdir()) if trash.is_dir() else []:
            row = self.get(d.name)
            if row is not None and row.state in (State.PURGING, State.PURGED):
                shutil.rmtree(d)
                self._set(d.name, State.PURGED)
            elif not (self.sessions_dir / d.name).exists():
                os.replace(d, self.sessions_dir / d.name)
        for s in self.sessions(State.PURGING):
            if self.path(s.session_id).exists():
                self._set(s.session_id, State.SYNCED)    # crashed before the rename

    # ------------------------------------------------------------------ the screen
    def disk_status(self) -> DiskStatus:
        """What the UI shows: a warning long before the disk fills."""
        u = self.disk_usage()
        p = self.policy
        pending = len(self.pending())
        pct = 100.0 * u.free / u.total if u.total else 0.0
        if u.free < max(p.critical_free_bytes, p.critical_free_fraction * u.total):
            level = "critical"
            message = (f"Storage almost full: {u.free / GIB:.1f} GB free ({pct:.0f} %). "
                       f"{pending} session(s) wait for sync; run a sync before recording.")
        elif u.free < max(p.warn_free_bytes, p.warn_free_fraction * u.total):
            level = "warning"
            message = (f"Storage low: {u.free / GIB:.1f} GB free ({pct:.0f} %). "
                       f"{pending} session(s) wait for sync; check the network and sync.")
        else:
            level, message = "ok", f"{u.free / GIB:.1f} GB free ({pct:.0f} %)"
        return DiskStatus(level, u.free, u.total, pending, message)
