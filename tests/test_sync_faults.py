"""Fault injection: a proxy between the station and the receiver drops connections mid-body,
resets them, delays, answers 500 and 503 (before and after the server did the work), and the
receiver itself is killed and restarted. After the faults stop, every session is on the server
exactly once with matching hashes, and nothing left the station before its receipt."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import json
import random
import socket
import sqlite3
import struct
import threading
from pathlib import Path

import pytest

from station.server.config import ServerConfig
from station.server.index import Index
from station.server.tokens import Tokens
from station.session import format as fmt
from station.session.store import RetentionPolicy, SessionStore, State
from station.sync import runner
from station.sync.client import SyncClient
from station.sync.retry import RetryPolicy
from station.sync.testing import ReceiverProcess, clone_sessions, record_session, scratch_dir

MODES = ("pass", "pass", "delay", "drop", "reset", "swap500", "swap503", "early503")


class FaultProxy:
    """A TCP proxy on loopback that breaks some connections on purpose (seeded, so a failure
    can be replayed). Each new connection draws a mode and a byte budget: after that many
    request bytes it drops or resets the connection, or swaps the server's answer for a 500 or
    503 (the server did the work, the station does not learn it)."""

    def __init__(self, upstream_port: int, seed: int) -> None:
        self.upstream_port = upstream_port
        self.rng = random.Random(seed)
        self.faults = True
        self.stats: collections.Counter[str] = collections.Counter()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        self._ready.wait()
        return self

    def __exit__(self, *exc: object) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=15)
        assert not self._thread.is_alive()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._main())
        finally:
            self._loop.close()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self._tasks: set[asyncio.Task] = set()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        await self._stop.wait()
        server.close()
        await server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, creader: asyncio.StreamReader, cwriter: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        mode = self.rng.choice(MODES) if self.faults else "pass"
        budget = self.rng.randint(0, 40_000)
        self.stats[mode] += 1
        swriter = None
        try:
            if mode == "early503":
                await creader.read(1)
                cwriter.write(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                              b"Connection: close\r\n\r\n")
                await cwriter.drain()
                return
            try:
                sreader, swriter = await asyncio.open_connection("127.0.0.1",
                                                                 self.upstream_port)
            except OSError:
                self.stats["server down"] += 1
                return
            tripped = asyncio.Event()
            await asyncio.wait([asyncio.ensure_future(self._up(creader, swriter, mode, budget,
                                                               tripped)),
                                asyncio.ensure_future(self._down(sreader, cwriter, mode,
                                                                 tripped))],
                               return_when=asyncio.FIRST_COMPLETED)
            if mode == "reset" and tripped.is_set():
                sock = cwriter.get_extra_info("socket")
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (cwriter, swriter):
                if w is not None:
                    w.close()
                    with contextlib.suppress(OSError):
                        await w.wait_closed()
            self._tasks.discard(task)

    async def _up(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, mode: str,
                  budget: int, tripped: asyncio.Event) -> None:
        sent = 0
        while data := await reader.read(65536):
            if mode in ("drop", "reset", "swap500", "swap503") and sent + len(data) >= budget:
                if mode in ("drop", "reset"):
                    writer.write(data[:budget - sent])      # cut inside whatever is in flight
                    tripped.set()
                    return
                tripped.set()                               # swap the coming answer
            if mode == "delay":
                await asyncio.sleep(0.002)
            writer.write(data)
            await writer.drain()
            sent += len(data)

    async def _down(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, mode: str,
                    tripped: asyncio.Event) -> None:
        while data := await reader.read(65536):
            if tripped.is_set() and mode in ("swap500", "swap503"):
                code = b"500 Internal Server Error" if mode == "swap500" else \
                    b"503 Service Unavailable"
                writer.write(b"HTTP/1.1 " + code + b"\r\nContent-Length: 0\r\n"
                             b"Connection: close\r\n\r\n")
                await writer.drain()
                return
            writer.write(data)
            await writer.drain()


def server_rows(cfg: ServerConfig) -> dict[str, str]:
    db = sqlite3.connect(cfg.db_file)
    try:
        return dict(db.execute("SELECT session_id, manifest_sha256 FROM sessions"))
    finally:
        db.close()


@pytest.mark.slow
def test_every_session_arrives_once_through_faults_and_restarts():
    with scratch_dir() as root:
        cfg = ServerConfig(data_dir=str(root / "server"), min_free_bytes=0)
        index = Index(cfg.db_file)
        token = Tokens(index).create("station-01")[1]
        index.close()
        tpl = record_session(root / "tpl", trials=3, seconds=20.0)   # ~40 kB per trial
        station = root / "station"
        folders = clone_sessions(tpl, station / "sessions", 40)
        expected = {d.name: hashlib.sha256((d / fmt.MANIFEST_JSON).read_bytes()).hexdigest()
                    for d in folders}
        srv = ReceiverProcess(cfg)
        purged_before_receipt: list[str] = []
        backoffs: list[float] = []                 # the client's waits, recorded, not slept
        restarts = 0
        try:
            with FaultProxy(srv.port, seed=20261125) as proxy, \
                    SessionStore(station, policy=RetentionPolicy(keep_synced_days=0)) as store, \
                    SyncClient(proxy.url, token, allow_plain_http=True, timeout_s=5,
                               retry=RetryPolicy(attempts=3), sleep=backoffs.append,
                               rng=random.Random(5)) as client:
                events = 0

                def watch(kind: str, sid: str) -> None:
                    nonlocal srv, events, restarts
                    if kind == "purged" and server_rows(cfg).get(sid) != expected[sid]:
                        purged_before_receipt.append(sid)
                    events += 1
                    if proxy.faults and events % 101 == 0:     # the receiver crashes
                        srv = srv.restart(kill=True)
                        restarts += 1

                runs = []
                while store.pending() and len(runs) < 12:
                    runs.append(runner.run_sync(store, client, on_event=watch))
                proxy.faults = False
                final = runner.run_sync(store, client, on_event=watch)
                assert final.exit_code == 0 and final.pending == 0, final.line()
                assert store.counts() == {"purged": 40}
                stats = dict(proxy.stats)
        finally:
            srv.stop()
        assert len(backoffs) >= 10 and restarts >= 2, (len(backoffs), restarts)
        for mode in set(MODES):
            assert stats.get(mode, 0) > 0, stats
        assert purged_before_receipt == []
        assert server_rows(cfg) == expected                           # each once, same hash
        stored = root / "server" / "sessions"
        assert sorted(p.name for p in (stored / "station-01").iterdir()) == sorted(expected)
        assert [p.name for p in stored.iterdir()] == ["station-01"]
        for sid in expected:
            manifest = json.loads((stored / "station-01" / sid / fmt.MANIFEST_JSON).read_text())
            for rel, entry in manifest["files"].items():
                data = (stored / "station-01" / sid / rel).read_bytes()
                assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert not any(Path(d).exists() for d in folders)           # all purged, after receipts
        assert list((root / "server" / "incoming" / "station-01").iterdir()) == []
        with SessionStore(station) as store:
            assert all(s.state == State.PURGED for s in store.sessions())
