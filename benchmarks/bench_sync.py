"""Sync benchmark: the real client against the real receiver over loopback.

1. One station syncs N typical sessions (default 1,000): wall time, sessions/s, MB/s.
2. S stations (default 20, each its own process, token and store) upload at once to one
   receiver: its ingest rate, sessions/s and MB/s, from the first byte to the last receipt.

A typical session is 5 trials of 30 s at 80 Hz (raw and COP, gzipped) written by the real
recorder, then cloned with new ids. The receiver runs in its own process (uvicorn, h11) with
its files and SQLite index on the same disk as the stations (``--dir``, default a temporary
folder under /tmp; pass a tmpfs path to leave fsync out of the figures).

    python benchmarks/bench_sync.py [--sessions 1000] [--stations 20] [--per-station 50]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from station.server.config import ServerConfig
from station.server.index import Index
from station.server.tokens import Tokens
from station.session.store import SessionStore
from station.sync import runner
from station.sync.client import SyncClient
from station.sync.secret import Secret
from station.sync.testing import ReceiverProcess, clone_sessions, record_session


def _size(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def one_station(root: Path, template: Path, n: int) -> dict:
    cfg = ServerConfig(data_dir=str(root / "server-1"), min_free_bytes=0)
    index = Index(cfg.db_file)
    token = Tokens(index).create("station-01")[1]
    index.close()
    station = root / "station-1"
    clone_sessions(template, station / "sessions", n, station_id="station-01")
    with SessionStore(station) as store:          # indexing is not part of the figure
        pass
    with ReceiverProcess(cfg) as srv, SessionStore(station) as store, \
            SyncClient(srv.url, token, allow_plain_http=True) as client:
        t0 = time.perf_counter()
        summary = runner.run_sync(store, client, retention=False)
        seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = runner.run_sync(store, client, retention=False)
        second = time.perf_counter() - t0
    assert summary.sent == n and again.offered == 0, summary.line()
    return {"sessions": n, "seconds": seconds, "sessions_per_s": n / seconds,
            "mb_per_s": summary.bytes / 1e6 / seconds, "mb": summary.bytes / 1e6,
            "files": summary.files, "second_run_s": second}


def _worker(station: str, url: str, token: str, barrier, out) -> None:
    with SessionStore(station) as store, SyncClient(url, Secret(token),
                                                    allow_plain_http=True) as client:
        barrier.wait()
        t0 = time.perf_counter()
        summary = runner.run_sync(store, client, retention=False)
        out.put((summary.sent, summary.bytes, time.perf_counter() - t0, summary.failed))


def many_stations(root: Path, template: Path, stations: int, per_station: int) -> dict:
    cfg = ServerConfig(data_dir=str(root / "server-n"), min_free_bytes=0)
    index = Index(cfg.db_file)
    tokens = Tokens(index)
    secrets = [tokens.create(f"station-{i:02d}")[1].reveal() for i in range(stations)]
    index.close()
    dirs = []
    for i in range(stations):
        d = root / f"station-n{i:02d}"
        clone_sessions(template, d / "sessions", per_station, station_id=f"station-{i:02d}",
                       seed=i)
        with SessionStore(d):
            pass
        dirs.append(d)
    ctx = mp.get_context("fork")
    barrier, out = ctx.Barrier(stations + 1), ctx.Queue()
    with ReceiverProcess(cfg) as srv:
        procs = [ctx.Process(target=_worker, args=(str(d), srv.url, s, barrier, out))
                 for d, s in zip(dirs, secrets, strict=True)]
        for p in procs:
            p.start()
        barrier.wait()
        t0 = time.perf_counter()
        results = [out.get(timeout=3600) for _ in procs]
        seconds = time.perf_counter() - t0
        for p in procs:
            p.join()
    sent = sum(r[0] for r in results)
    mb = sum(r[1] for r in results) / 1e6
    assert sent == stations * per_station and not any(r[3] for r in results)
    return {"stations": stations, "sessions": sent, "seconds": seconds,
            "sessions_per_s": sent / seconds, "mb_per_s": mb / seconds, "mb": mb,
            "slowest_station_s": max(r[2] for r in results)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--stations", type=int, default=20)
    ap.add_argument("--per-station", type=int, default=50)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each trial")
    ap.add_argument("--dir", type=Path, help="work folder (default: a temporary one)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-sync-", dir=args.dir))
    try:
        template = record_session(root / "template", trials=args.trials, seconds=args.seconds)
        size = _size(template)
        one = one_station(root, template, args.sessions)
        many = many_stations(root, template, args.stations, args.per_station)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    result = {"typical_session": {"trials": args.trials, "trial_s": args.seconds,
                                  "bytes": size}, "one_station": one, "many_stations": many,
              "cpus": os.cpu_count(), "work_dir": str(args.dir or tempfile.gettempdir())}
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"typical session: {args.trials} trials x {args.seconds:.0f} s, {size / 1e3:.0f} kB "
          f"({os.cpu_count()} CPUs, work dir {result['work_dir']})")
    print(f"1 station, {one['sessions']} sessions: {one['seconds']:.1f} s "
          f"({one['sessions_per_s']:.1f} sessions/s, {one['mb_per_s']:.1f} MB/s, "
          f"{one['mb']:.0f} MB); second run {one['second_run_s'] * 1e3:.0f} ms, sends nothing")
    print(f"{many['stations']} stations at once, {many['sessions']} sessions: "
          f"{many['seconds']:.1f} s ({many['sessions_per_s']:.1f} sessions/s, "
          f"{many['mb_per_s']:.1f} MB/s ingest; slowest station {many['slowest_station_s']:.1f} s)")


if __name__ == "__main__":
    main()
