"""Benchmark: the kiosk's drill-run screen at 800x480. Run on demand:

    .venv/bin/python benchmarks/bench_ui.py [--frames 3000] [--seconds 8]

(1) Frame time: the real app on a virtual-clock station, a drill running (an assessment with
the fixation dot, then a training game with targets and a path); per frame we time what the
kiosk loop does each frame: process the frame's events and samples (ring poll, plate model,
drill, recording hand-off), draw and flip. The simulated patient's own cost is outside the
timed part (on the Pi it runs nowhere; the real sensors run in the acquisition process).
Reported: median, 99th percentile and max of wall time, and of the main thread's CPU time: on
a busy machine the gap between the two is other processes, not the UI.

(2) Latency: the station as `station run` starts it (acquisition in its own process, real
clock, simulated sensors at 80 Hz) and the loop paced at 60 fps; after each flip we take
now - timestamp of the newest sample the frame drew. Target: median under 4 ms and p99 under
8 ms per frame; latency under one frame plus one sample period (16.7 + 12.5 ms).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")

import numpy as np
import pygame

from station.config import Config
from station.drills import registry
from station.runtime import Station
from station.ui.app import App
from station.ui.driver import Driver, close_app, open_app
from station.ui.shots import GAMES

FPS = 60


def stats(ms: np.ndarray) -> str:
    return (f"median {np.median(ms):6.2f}  p99 {np.percentile(ms, 99):6.2f}  "
            f"max {np.max(ms):6.2f} ms")


def start_drill(app: App, drv: Driver, drill: str,
                wait: Callable[[Callable[[], bool], float], object] | None = None) -> None:
    """Through the screens to a started drill; ``wait(done, max_s)`` lets station time pass."""
    wait = wait or drv.until
    if app.visit is None:
        drv.tap("start")
        drv.tap("new")
        drv.tap("save")
    app.goto("params", drill=drill)
    drv.tap("go")
    wait(lambda: app.snapshot.weight_kg is not None, 10.0)
    wait(lambda: False, 0.5)
    drv.tap("main")


def frame_times(config: Config, drill: str, frames: int) -> tuple[np.ndarray, np.ndarray]:
    app, drv = open_app(config)
    try:
        start_drill(app, drv, drill)
        drv.advance(4.0)                           # past the countdown: running
        wall, cpu = np.empty(frames), np.empty(frames)
        dt = 1.0 / FPS
        for i in range(frames):
            app.advance_station(dt)                # the virtual patient: not the UI's cost
            t0, c0 = time.perf_counter(), time.thread_time()
            app.process([], dt)
            app.render()
            pygame.display.flip()
            wall[i] = time.perf_counter() - t0
            cpu[i] = time.thread_time() - c0
            if app.screen.name != "run":           # a drill ended: start it again
                start_drill(app, drv, drill)
        return wall * 1e3, cpu * 1e3
    finally:
        close_app(app)


def latency(config: Config, seconds: float) -> tuple[np.ndarray, np.ndarray, int]:
    cfg = config.with_changes("station", acquisition_process=True)
    station = Station(cfg, patient_on_plate=False)
    app = App(cfg, station, pygame.display.get_surface())
    drv = Driver(app, FPS)
    clock = pygame.time.Clock()

    def realtime(done: Callable[[], bool], max_s: float) -> None:
        end = time.monotonic() + max_s
        while not done() and time.monotonic() < end:
            app.step(pygame.event.get(), clock.tick(FPS) / 1000.0)

    try:
        realtime(lambda: app.auto_tare is None, 10.0)   # real time: the plate is tared first
        start_drill(app, drv, "quiet_stance", realtime)
        lat, work, seen = [], [], set()
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            dt = clock.tick(FPS) / 1000.0
            t0 = time.perf_counter()
            app.step(pygame.event.get(), dt)
            app.render()
            pygame.display.flip()
            now = time.monotonic_ns()
            work.append(time.perf_counter() - t0)
            shown = app.snapshot.last_sample_ns
            if shown is not None:
                lat.append((now - shown) / 1e6)
                seen.add(shown)
        return np.array(lat), np.array(work) * 1e3, len(seen)
    finally:
        app.close()
        station.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--frames", type=int, default=3000)
    ap.add_argument("--seconds", type=float, default=8.0)
    args = ap.parse_args()
    pygame.init()
    pygame.display.set_mode((800, 480))
    with tempfile.TemporaryDirectory(prefix="bench-ui-") as tmp:
        cfg = (Config().with_changes("station", data_dir=str(Path(tmp)), source="simulated")
               .with_changes("simulation", seed=3))
        print(f"drill-run screen, 800x480, {args.frames} frames each "
              f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)")
        available = registry.available()
        games = [n for n in GAMES if n in available] + [
            n for n, c in available.items() if c.kind == "training"]
        drills = ["quiet_stance", *games[:1]]
        for name in drills:
            wall, cpu = frame_times(cfg, name, args.frames)
            print(f"  {name:<16} frame wall {stats(wall)}")
            print(f"  {'':<16} frame CPU  {stats(cpu)}")
        lat, work, n = latency(cfg, args.seconds)
        budget = 1000 / FPS + 1000 / cfg.plate.sample_rate_hz
        print(f"real time at {FPS} fps, acquisition process at {cfg.plate.sample_rate_hz} Hz, "
              f"{len(lat)} frames, {n} distinct newest samples shown")
        print(f"  frame work          {stats(work)}")
        print(f"  sample-to-frame     {stats(lat)}  (target < {budget:.1f} ms)")
    pygame.quit()


if __name__ == "__main__":
    main()
