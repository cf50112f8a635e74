"""The real client against the real receiver on loopback: 200 sessions, a run cut off midway
that resumes without re-sending anything confirmed, and a second run that sends nothing."""

from __future__ import annotations

import collections
import hashlib
import json
import sqlite3
from pathlib import Path

import httpx
import pytest

from station.server.config import ServerConfig
from station.server.index import Index
from station.server.tokens import Tokens
from station.session import format as fmt
from station.session.store import RECEIPT_FILE, SessionStore, State
from station.sync import runner
from station.sync.client import SyncClient
from station.sync.testing import ReceiverProcess, clone_sessions, record_session, scratch_dir


class Counting(httpx.BaseTransport):
    """The client's transport, counting the requests it sends by method and endpoint."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.counts: collections.Counter[str] = collections.Counter()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.counts[f"{request.method} {request.url.path.rsplit('/', 1)[-1]}"] += 1
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()

    def take(self) -> dict[str, int]:
        out = dict(self.counts)
        self.counts.clear()
        return out


class Cut(BaseException):
    """Stands for the process being killed (the SIGKILL version is in test_sync_crash.py)."""


def verify_on_server(root: Path, station_dir: Path, station: str) -> int:
    """Every session of the station is on the server once, byte for byte; returns how many."""
    db = sqlite3.connect(root / "index.sqlite3")
    try:
        rows = dict(db.execute("SELECT session_id, manifest_sha256 FROM sessions"))
    finally:
        db.close()
    folders = sorted(d for d in (station_dir / "sessions").iterdir() if d.name[0] != ".")
    assert sorted(rows) == [d.name for d in folders]
    for d in folders:
        manifest = (d / fmt.MANIFEST_JSON).read_bytes()
        assert rows[d.name] == hashlib.sha256(manifest).hexdigest()
        stored = root / "sessions" / station / d.name
        assert (stored / fmt.MANIFEST_JSON).read_bytes() == manifest
        for rel, entry in json.loads(manifest)["files"].items():
            assert hashlib.sha256((stored / rel).read_bytes()).hexdigest() == entry["sha256"]
    return len(rows)


@pytest.mark.slow
def test_200_sessions_cut_off_resumed_and_then_nothing_to_send():
    with scratch_dir() as root:
        cfg = ServerConfig(data_dir=str(root / "server"), min_free_bytes=0)
        index = Index(cfg.db_file)
        token = Tokens(index).create("station-01")[1]
        index.close()
        tpl = record_session(root / "tpl", trials=2, seconds=1.0)
        station = root / "station"
        clone_sessions(tpl, station / "sessions", 200)
        files_per_session = len(json.loads((tpl / fmt.MANIFEST_JSON).read_text())["files"])
        app = Counting()
        with ReceiverProcess(cfg) as srv, SessionStore(station) as store, \
                SyncClient(srv.url, token, allow_plain_http=True, transport=app) as client:
            sent = []

            def cut_in_session_101(kind: str, detail: str) -> None:
                sent.append(detail) if kind == "file" else None
                if len(sent) == 100 * files_per_session + files_per_session:
                    raise Cut                      # session 101's files are up, not committed

            with pytest.raises(Cut):
                runner.run_sync(store, client, on_event=cut_in_session_101)
            assert store.counts() == {"synced": 100, "sealed": 100}
            assert app.take()["POST commit"] == 100

            summary = runner.run_sync(store, client)
            assert (summary.sent, summary.failed, summary.pending) == (100, 0, 0)
            assert summary.files == 99 * files_per_session        # nothing confirmed re-sent
            counts = app.take()
            assert counts["PUT manifest"] == 100 and counts["POST files"] == 99
            assert counts["POST commit"] == 100
            assert verify_on_server(root / "server", station, "station-01") == 200
            status = runner.read_status(station)
            assert status["exit_code"] == 0 and status["counts"] == {"synced": 200}

            again = runner.run_sync(store, client)
            assert (again.offered, again.sent, again.files) == (0, 0, 0)
            assert set(app.take()) <= {"POST status"}               # only the heartbeat

        # the station loses its index and the receipts of 20 sessions: it asks, sends nothing
        for name in ("store.sqlite3", "store.sqlite3-wal", "store.sqlite3-shm"):
            (station / name).unlink(missing_ok=True)
        for d in sorted((station / "sessions").iterdir())[:20]:
            (d / RECEIPT_FILE).unlink()
        app = Counting()
        with ReceiverProcess(cfg) as srv, SessionStore(station) as store, \
                SyncClient(srv.url, token, allow_plain_http=True, transport=app) as client:
            assert store.counts() == {"synced": 180, "sealed": 20}
            summary = runner.run_sync(store, client)
            assert (summary.already, summary.sent, summary.files) == (20, 0, 0)
            assert app.take() == {"PUT manifest": 20, "POST status": 1}
            assert all(s.state == State.SYNCED for s in store.sessions())
