"""SIGKILL at random points, 50 times each, of the recorder and of the sync client: no completed
session is ever lost and the store is consistent after every kill.

A "zygote" process imports everything once and forks a child per run; the child prints one line
per step (block written, file sent, session confirmed, session purged) and the test kills it
after reading a random number of lines, so the kill points are spread over the work without
a single sleep. Run as a script, this file is that zygote.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


class Zygote:
    def __init__(self) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), OPENBLAS_NUM_THREADS="1",
                   OMP_NUM_THREADS="1")
        self.proc = subprocess.Popen([sys.executable, __file__, "zygote"], env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE)

    def start(self, *command: str) -> int:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(" ".join(command) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        assert line.startswith("pid "), line
        return int(line.split()[1])

    def lines(self, n: int) -> list[str]:
        """Up to ``n`` progress lines of the running child (fewer if it finishes first)."""
        assert self.proc.stdout
        out = []
        while len(out) < n:
            line = self.proc.stdout.readline()
            assert line, "the zygote died"
            if line.startswith("exit "):
                self._exited = line
                break
            out.append(line.strip())
        return out

    def kill_and_reap(self, pid: int) -> list[str]:
        """SIGKILL the child; returns the lines it wrote before dying."""
        assert self.proc.stdout
        if getattr(self, "_exited", None):
            self._exited = None
            return []
        os.kill(pid, signal.SIGKILL)
        rest = []
        while not (line := self.proc.stdout.readline()).startswith("exit "):
            assert line, "the zygote died"
            rest.append(line.strip())
        return rest

    def close(self) -> None:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.close()
        self.proc.wait(timeout=30)
        self.proc.stdout.close()


@pytest.fixture
def zygote():
    z = Zygote()
    yield z
    z.close()


# ---------------------------------------------------------------------- recorder
@pytest.mark.slow
def test_sigkill_of_the_recorder_50_times(zygote):
    from station.server.config import ServerConfig
    from station.server.index import Index
    from station.server.tokens import Tokens
    from station.session.check import check_session
    from station.session.reader import load_session
    from station.session.store import SessionStore, State
    from station.sync import runner
    from station.sync.client import SyncClient
    from station.sync.testing import ReceiverProcess, scratch_dir

    rng = random.Random(20261126)
    with scratch_dir() as data:
        completed: set[str] = set()
        for k in range(50):
            pid = zygote.start("record", str(data), str(k))
            lines = zygote.lines(rng.randint(1, 45))
            lines += zygote.kill_and_reap(pid)
            completed |= {line.split()[1] for line in lines if line.startswith("sealed ")}
            with SessionStore(data) as store:           # recovers what the kill left open
                rows = {s.session_id: s for s in store.sessions()}
                folders = {d.name for d in (data / "sessions").iterdir()}
                assert set(rows) == folders, (k, lines[-3:])
                for sid in completed:                  # never lost, never altered
                    assert rows[sid].state == State.SEALED and not rows[sid].interrupted, (
                        k, lines[-3:], rows[sid])
                for sid, row in rows.items():
                    listing = sorted(p.relative_to(data).as_posix()
                                     for p in (data / "sessions" / sid).rglob("*"))
                    if row.state == State.RECORDING:   # killed before session.json existed
                        assert "session.json" not in str(listing), (k, row, listing)
                        continue
                    assert row.state == State.SEALED, (k, lines[-3:], row, listing)
                    if sid not in completed:
                        assert row.interrupted, (k, row)
        for d in sorted((data / "sessions").iterdir()):
            if (d / "session.json").exists():
                report = check_session(d)
                assert report.ok, ([str(p) for p in report.problems],
                                   sorted(p.name for p in d.rglob("*")))
                for trial in load_session(d).trials:
                    for kind in ("raw", "cop", "imu", "tilt"):
                        table = trial.samples(kind)
                        assert table is None or not table.truncated
        assert len(completed) >= 5
        # every session, recovered ones included, is accepted by the receiver
        cfg = ServerConfig(data_dir=str(data / "server"), min_free_bytes=0)
        index = Index(cfg.db_file)
        token = Tokens(index).create("station-01")[1]
        index.close()
        with ReceiverProcess(cfg) as srv, SessionStore(data) as store, \
                SyncClient(srv.url, token, allow_plain_http=True) as client:
            summary = runner.run_sync(store, client, retention=False)
            assert summary.exit_code == 0 and summary.attention == 0, summary.line()
            assert summary.sent == len(store.sessions(State.SYNCED)) >= 50
        db = sqlite3.connect(cfg.db_file)
        try:
            assert db.execute("SELECT SUM(interrupted) FROM sessions").fetchone()[0] >= 45
        finally:
            db.close()


# ---------------------------------------------------------------------- sync client
def _server_rows(db_file: Path) -> dict[str, str]:
    db = sqlite3.connect(db_file)
    try:
        return dict(db.execute("SELECT session_id, manifest_sha256 FROM sessions"))
    finally:
        db.close()


@pytest.mark.slow
def test_sigkill_of_the_sync_client_50_times(zygote):
    from station.server.config import ServerConfig
    from station.server.index import Index
    from station.server.tokens import Tokens
    from station.session import format as fmt
    from station.session.reader import verify_manifest
    from station.session.store import PURGING_DIR, SessionStore, State
    from station.sync.testing import ReceiverProcess, clone_sessions, record_session, scratch_dir

    rng = random.Random(20261127)
    with scratch_dir() as root:
        cfg = ServerConfig(data_dir=str(root / "server"), min_free_bytes=0)
        index = Index(cfg.db_file)
        (root / "token").write_text(Tokens(index).create("station-01")[1].reveal())
        index.close()
        tpl = record_session(root / "tpl", trials=2, seconds=1.0)
        station = root / "station"
        made: dict[str, str] = {}

        def add_sessions(n: int, k: int) -> None:
            for d in clone_sessions(tpl, station / "sessions", n, seed=k):
                made[d.name] = hashlib.sha256((d / fmt.MANIFEST_JSON).read_bytes()).hexdigest()

        with ReceiverProcess(cfg) as srv:
            for k in range(50):
                add_sessions(2, k)
                pid = zygote.start("sync", str(station), srv.url, str(root / "token"))
                zygote.lines(rng.randint(1, 20))
                zygote.kill_and_reap(pid)
                on_server = _server_rows(cfg.db_file)
                with SessionStore(station, scan=True) as store:
                    assert not (station / "sessions" / PURGING_DIR).exists() or not any(
                        (station / "sessions" / PURGING_DIR).iterdir())
                    rows = {s.session_id: s for s in store.sessions()}
                    assert set(rows) == set(made)
                    for sid, sha in made.items():
                        folder = station / "sessions" / sid
                        row = rows[sid]
                        assert row.state in (State.SEALED, State.SYNCED, State.PURGED), row
                        if row.state in (State.SYNCED, State.PURGED):
                            assert on_server.get(sid) == sha       # receipt means stored
                        if not folder.exists():                    # gone only when confirmed
                            assert row.state == State.PURGED and on_server.get(sid) == sha
                        elif row.state == State.SEALED or rng.random() < 0.1:
                            assert verify_manifest(folder) == []   # the client changed nothing
            pid = zygote.start("sync", str(station), srv.url, str(root / "token"))
            assert zygote.lines(10_000)[-1] == "done"
        assert _server_rows(cfg.db_file) == made
        stored = root / "server" / "sessions" / "station-01"
        for sid in made:
            manifest = json.loads((stored / sid / fmt.MANIFEST_JSON).read_text())
            for rel, entry in manifest["files"].items():
                assert hashlib.sha256((stored / sid / rel).read_bytes()).hexdigest() == \
                    entry["sha256"]
        with SessionStore(station) as store:
            assert store.counts() == {"purged": 100}


# ---------------------------------------------------------------------- the zygote
def _record_child(data_dir: str, seed: str) -> None:
    from station.clock import VirtualClock
    from station.plate.calibration import Calibration
    from station.plate.model import PlateGeometry
    from station.session.recorder import SessionRecorder
    from station.sync.testing import ring_blocks

    clock = VirtualClock(10**9)
    while True:
        rec = SessionRecorder(Path(data_dir) / "sessions", station_id="station-01",
                              patient_code="P-0001", therapist_id="t1",
                              calibration=Calibration(), geometry=PlateGeometry(), clock=clock,
                              fsync_interval_s=0.2, source_kind="simulated")
        for t in range(3):
            rec.start_trial(f"trial {t}", "quiet_stance", with_imu=True)
            for b in range(4):
                cells, imu = ring_blocks(0.25, seed=int(seed) * 100 + t * 10 + b,
                                         t0_ns=clock.monotonic_ns())
                clock.advance(0.25)
                rec.record(cells, imu)
                print("block", flush=True)
            rec.event("target_hit", target=t)
            rec.end_trial(scores={"n": t})
            print("trial", flush=True)
        rec.seal()
        print(f"sealed {rec.session_id}", flush=True)


def _sync_child(data_dir: str, url: str, token_file: str) -> None:
    from station.session.store import RetentionPolicy, SessionStore
    from station.sync import runner
    from station.sync.client import SyncClient
    from station.sync.retry import RetryPolicy
    from station.sync.secret import Secret

    policy = RetentionPolicy(keep_synced_days=0)        # purge as soon as confirmed
    with SessionStore(data_dir, policy=policy) as store, \
            SyncClient(url, Secret.from_file(token_file), allow_plain_http=True,
                       retry=RetryPolicy(attempts=2), sleep=lambda _s: None) as client:
        print("open", flush=True)
        runner.run_sync(store, client, on_event=lambda kind, d: print(kind, d, flush=True))
    print("done", flush=True)


def _zygote() -> None:
    import station.session.check
    import station.session.store
    import station.sync.client
    import station.sync.runner
    import station.sync.testing  # noqa: F401  (imported once, before any fork)

    for line in sys.stdin:
        command, *args = line.split()
        sys.stdout.flush()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                print(f"pid {os.getpid()}", flush=True)
                {"record": _record_child, "sync": _sync_child}[command](*args)
            except BaseException:
                import traceback

                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                os._exit(code)
        _, status = os.waitpid(pid, 0)
        print(f"exit {status}", flush=True)


if __name__ == "__main__" and sys.argv[1:] == ["zygote"]:
    _zygote()
