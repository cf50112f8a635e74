"""Helpers for tests and benchmarks of sync: real sessions, a real receiver on loopback.

``record_session`` writes a session with the real ``SessionRecorder`` from synthetic ring
records (a person standing still, plus a wobble board), so it needs no simulator.
``clone_sessions`` turns one such session into many with new ids. ``LoopbackServer`` runs the
receiver under uvicorn in a thread on a socket bound before the thread starts, so requests
queue in the backlog and nobody waits for start-up by sleeping.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import random
import shutil
import socket
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from station.acquisition.ring import CELL_RECORD, IMU_RECORD
from station.clock import VirtualClock
from station.plate.calibration import NOMINAL_NEWTONS_PER_COUNT, Calibration
from station.plate.model import PlateGeometry
from station.session import format as fmt
from station.session.recorder import SessionRecorder, write_manifest


def ring_blocks(seconds: float, rate_hz: float = 80.0, seed: int = 0,
                t0_ns: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Cell and IMU records of a 70 kg person swaying a little, as the rings hold them."""
    rng = np.random.default_rng(seed)
    n = max(1, round(seconds * rate_hz))
    cells = np.zeros(n, CELL_RECORD)
    cells["seq"] = np.arange(1, n + 1)
    cells["t_ns"] = t0_ns + np.arange(1, n + 1) * round(1e9 / rate_hz)
    per_cell = 70 * 9.80665 / 4 / NOMINAL_NEWTONS_PER_COUNT
    sway = np.cumsum(rng.normal(0, 0.002, (n, 2)), axis=0)
    signs = np.array([[-1, 1], [1, 1], [-1, -1], [1, -1]], dtype=float)
    cells["counts"] = (per_cell * (1 + sway @ signs.T) + rng.normal(0, 30, (n, 4))).astype(int)
    imu = np.zeros(n, IMU_RECORD)
    imu["seq"], imu["t_ns"] = cells["seq"], cells["t_ns"]
    imu["quat"] = [1.0, 0.0, 0.0, 0.0]
    imu["accel"] = rng.normal(0, 0.05, (n, 3))
    return cells, imu


def record_session(sessions_dir: Path, *, trials: int = 2, seconds: float = 1.0,
                   station_id: str = "station-01", patient_code: str = "P-0001",
                   with_imu: bool = False, seed: int = 0, seal: bool = True,
                   compress: bool = True) -> Path:
    """A real session folder written by the recorder, trial by trial."""
    clock = VirtualClock(1_000_000_000)
    rec = SessionRecorder(sessions_dir, station_id=station_id, patient_code=patient_code,
                          therapist_id="t01", calibration=Calibration(),
                          geometry=PlateGeometry(), clock=clock, fsync_interval_s=1.0,
                          compress=compress, source_kind="simulated")
    for k in range(trials):
        rec.start_trial(f"quiet stance {k + 1}", "quiet_stance",
                        conditions={"vision": "open" if k % 2 == 0 else "closed",
                                    "surface": "firm"},
                        parameters={"duration_s": seconds}, with_imu=with_imu)
        cells, imu = ring_blocks(seconds, seed=seed + k, t0_ns=clock.monotonic_ns())
        rec.record(cells, imu if with_imu else None)
        clock.advance(seconds)
        rec.event("end", t_ns=clock.monotonic_ns())
        rec.end_trial(scores={"path_length_cm": round(10 + k + seed % 7, 2)})
    return rec.seal() if seal else rec.path


def clone_sessions(template: Path, sessions_dir: Path, n: int, *, station_id: str | None = None,
                   patients: int = 20, start: dt.datetime | None = None,
                   seed: int = 0) -> list[Path]:
    """``n`` sealed copies of ``template`` with new session ids (minutes apart) and patient
    codes; files are written plainly (no fsync): a fixture, not the code under test."""
    rng = random.Random(seed)
    start = start or dt.datetime(2026, 1, 5, 8, 0, tzinfo=dt.UTC)
    meta = json.loads((template / fmt.SESSION_JSON).read_text(encoding="utf-8"))
    manifest = json.loads((template / fmt.MANIFEST_JSON).read_text(encoding="utf-8"))
    out = []
    sessions_dir.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        when = start + dt.timedelta(minutes=i)
        sid = f"{when:%Y%m%dT%H%M%SZ}-{rng.getrandbits(32):08x}"
        d = sessions_dir / sid
        shutil.copytree(template, d, ignore=shutil.ignore_patterns(
            fmt.MANIFEST_JSON, fmt.SESSION_JSON, ".*"))
        m = dict(meta, session_id=sid, patient_code=f"P-{i % patients:04d}",
                 started_utc=when.strftime("%Y-%m-%dT%H:%M:%SZ"),
                 station_id=station_id or meta["station_id"])
        body = (json.dumps(m, indent=2, sort_keys=True) + "\n").encode()
        (d / fmt.SESSION_JSON).write_bytes(body)
        files = dict(manifest["files"])
        files[fmt.SESSION_JSON] = {"sha256": hashlib.sha256(body).hexdigest(),
                                   "size": len(body)}
        (d / fmt.MANIFEST_JSON).write_text(json.dumps(
            {"format_version": fmt.FORMAT_VERSION, "session_id": sid, "files": files},
            indent=2, sort_keys=True) + "\n")
        out.append(d)
    return out


@contextlib.contextmanager
def scratch_dir(prefix: str = "station-test-") -> Iterator[Path]:
    """A temporary folder on tmpfs when there is one: tests exercise the logic, and an fsync
    there costs nothing (durability is what the production paths add, not what tests see)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def reseal(session_dir: Path) -> None:
    """Rewrite a session's manifest after a test changed its files."""
    write_manifest(session_dir)


class LoopbackServer:
    """The real receiver under uvicorn on 127.0.0.1 in a thread; a context manager."""

    def __init__(self, app: Any, port: int = 0, **uvicorn_kw: Any) -> None:
        import uvicorn

        # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind(("127.0.0.1", port))
            self.sock.listen(128)
        except OSError:
            self.sock.close()
            raise
        self.port = self.sock.getsockname()[1]
        tls = "ssl_certfile" in uvicorn_kw
        self.url = f"{'https' if tls else 'http'}://{'localhost' if tls else '127.0.0.1'}:" \
                   f"{self.port}"
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on",
                                loop="asyncio", http="h11", timeout_graceful_shutdown=2,
                                **uvicorn_kw)
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]},
                                        name=f"receiver:{self.port}", daemon=True)

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=15)
        self.sock.close()
        if self._thread.is_alive():
            raise RuntimeError("the receiver thread did not stop")


class ReceiverProcess:
    """The real receiver in its own process (as deployed: no GIL shared with the client).

    The child binds the port (0: any free one, or a given one to come back on after a
    restart), prints it, then serves; the parent reads that line, so nobody sleeps."""

    def __init__(self, cfg: Any, port: int = 0) -> None:
        import dataclasses
        import subprocess
        import sys

        self.cfg, self._port = cfg, port
        fields = {f.name: getattr(cfg, f.name) for f in dataclasses.fields(cfg)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "station.sync.testing", json.dumps(fields), str(port)],
            stdout=subprocess.PIPE, text=True,
            env=dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2])))
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if not line.startswith("port "):
            self.stop()
            raise RuntimeError("the receiver process did not start")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ReceiverProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self, kill: bool = False) -> None:
        """SIGTERM (a clean stop) or SIGKILL (a crash); waits for the process."""
        if self.proc.poll() is None:
            (self.proc.kill if kill else self.proc.terminate)()
        self.proc.wait(timeout=30)
        if self.proc.stdout:
            self.proc.stdout.close()

    def restart(self, kill: bool = True) -> ReceiverProcess:
        """Crash (or stop) the receiver and start it again on the same port."""
        self.stop(kill=kill)
        return ReceiverProcess(self.cfg, self.port)


def _serve_child(config_json: str, port: int) -> None:
    import uvicorn

    from station.server.app import create_app
    from station.server.config import ServerConfig

    cfg = ServerConfig(**json.loads(config_json))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(256)
    print(f"port {sock.getsockname()[1]}", flush=True)
    server = uvicorn.Server(uvicorn.Config(create_app(cfg), log_level="warning",
                                           access_log=False, lifespan="on", http="h11",
                                           timeout_graceful_shutdown=2))
    server.run(sockets=[sock])


if __name__ == "__main__":
    import sys

    _serve_child(sys.argv[1], int(sys.argv[2]))
