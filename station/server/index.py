"""The receiver's SQLite index: sessions, station heartbeats, tokens and the audit log.

One connection shared by the worker threads behind a lock (WAL, synchronous=FULL: a receipt is
only sent after its row is on disk). The audit table refuses UPDATE and DELETE by trigger, so
the application can only append to it.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from station.clock import utc_now  # the server stamps receipts: a Pi's clock may be wrong at boot

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tokens(
  token_id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL,
  secret_sha256 TEXT NOT NULL, created_utc TEXT NOT NULL, revoked_utc TEXT,
  last_used_utc TEXT);
CREATE TABLE IF NOT EXISTS sessions(
  session_id TEXT PRIMARY KEY, station_id TEXT NOT NULL, patient_code TEXT NOT NULL,
  manifest_sha256 TEXT NOT NULL, started_utc TEXT, interrupted INTEGER NOT NULL,
  trials INTEGER NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL,
  received_utc TEXT NOT NULL, receipt TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS sessions_patient ON sessions(patient_code, started_utc);
CREATE INDEX IF NOT EXISTS sessions_station ON sessions(station_id, received_utc);
CREATE TABLE IF NOT EXISTS station_status(
  station_id TEXT PRIMARY KEY, utc TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit(
  id INTEGER PRIMARY KEY AUTOINCREMENT, utc TEXT NOT NULL, actor TEXT NOT NULL,
  action TEXT NOT NULL, session_id TEXT, patient_code TEXT, outcome TEXT NOT NULL,
  remote TEXT);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
  BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""


class Index:
    def __init__(self, path: str | Path) -> None:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, timeout=30, isolation_level=None,
                                   check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            # A second connection for the quick reads of every request (token, session row):
            # in WAL mode they never wait for a commit that is writing.
            self._ro = sqlite3.connect(path, timeout=30, isolation_level=None,
                                       check_same_thread=False)
        except BaseException:
            self._db.close()
            raise
        self._ro.row_factory = sqlite3.Row
        self._ro_lock = threading.Lock()

    def close(self) -> None:
        with self._lock, self._ro_lock:
            self._ro.close()
            self._db.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def rows(self, sql: str, args: tuple = ()) -> list[dict[str, Any]]:
        """Read queries; they see every committed transaction."""
        with self._ro_lock:
            return [dict(r) for r in self._ro.execute(sql, args).fetchall()]

    def row(self, sql: str, args: tuple = ()) -> dict[str, Any] | None:
        found = self.rows(sql, args)
        return found[0] if found else None

    def execute(self, sql: str, args: tuple = ()) -> int:
        with self._lock:
            return self._db.execute(sql, args).rowcount

    # ------------------------------------------------------------------ sessions
    def session(self, session_id: str) -> dict[str, Any] | None:
        return self.row("SELECT * FROM sessions WHERE session_id=?", (session_id,))

    def add_session(self, row: dict[str, Any],
                    audit: tuple[str, str, str, str | None] | None = None) -> None:
        """Insert one committed session and its audit line (actor, action, outcome, remote)
        in one transaction; raises sqlite3.IntegrityError if the id exists."""
        cols = ", ".join(row)
        with self.transaction() as db:
            db.execute(f"INSERT INTO sessions({cols}) VALUES({', '.join('?' * len(row))})",
                       tuple(row.values()))
            if audit is not None:
                actor, action, outcome, remote = audit
                db.execute("INSERT INTO audit(utc, actor, action, session_id, patient_code, "
                           "outcome, remote) VALUES(?,?,?,?,?,?,?)",
                           (utc_now(), actor, action, row["session_id"], row["patient_code"],
                            outcome, remote))

    def stations(self) -> list[dict[str, Any]]:
        """Every known station with its last upload, session count and last heartbeat."""
        return self.rows("""
            SELECT n.name AS station_id, s.last_received, COALESCE(s.n, 0) AS sessions,
                   h.utc AS heartbeat_utc, h.status AS heartbeat,
                   MAX(t.revoked_utc IS NULL) AS active
            FROM (SELECT name FROM tokens WHERE role='station'
                  UNION SELECT station_id FROM sessions) AS n
            LEFT JOIN tokens t ON t.name = n.name AND t.role = 'station'
            LEFT JOIN (SELECT station_id, MAX(received_utc) AS last_received, COUNT(*) AS n
                       FROM sessions GROUP BY station_id) s ON s.station_id = n.name
            LEFT JOIN station_status h ON h.station_id = n.name
            GROUP BY n.name ORDER BY n.name""")

    def set_station_status(self, station_id: str, status: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO station_status VALUES(?,?,?) ON CONFLICT(station_id) "
                       "DO UPDATE SET utc=excluded.utc, status=excluded.status",
                       (station_id, utc_now(), json.dumps(status, sort_keys=True)))

    # ------------------------------------------------------------------ audit
    def audit(self, actor: str, action: str, outcome: str, *, session_id: str | None = None,
              patient_code: str | None = None, remote: str | None = None) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO audit(utc, actor, action, session_id, patient_code, "
                       "outcome, remote) VALUES(?,?,?,?,?,?,?)",
                       (utc_now(), actor, action, session_id, patient_code, outcome, remote))

    def audit_tail(self, limit: int = 50) -> list[dict[str, Any]]:
        return self.rows("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))[::-1]
