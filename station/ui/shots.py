"""Screenshot scenes: each screen in a realistic state, reached by tapping through the real app
with the virtual patient on a virtual clock (so the pictures are reproducible).

A scene gets a fresh data folder with a small clinic in it: a few patient codes and, where the
screen needs it, earlier visits of one patient recorded through the same app (an unsteady
first visit, then steadier ones), so results compare with last time and history has a trend.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

import pygame

from station.clock import utc_now
from station.config import Config
from station.drills import registry
from station.ui.app import App
from station.ui.driver import Driver, close_app, open_app

PATIENT = "P0004"
SHOT_PIN = "4321"
ASSESSMENT = "quiet_stance"       # a drill every station has (the engine's reference drill)
GAMES = ("path_tracing", "target_hold")


def base_config(config: Config, data_dir: Path) -> Config:
    return (config.with_changes("station", data_dir=str(data_dir), source="simulated")
            .with_changes("simulation", seed=11))


def make_app(config: Config, size: tuple[int, int], **sim: float) -> tuple[App, Driver]:
    """A fresh app on the scene's data; the virtual technician tares the plate first."""
    cfg = config.with_changes("simulation", **sim) if sim else config
    return open_app(cfg, size, fps=30, pin=SHOT_PIN)


close = close_app


def register_patients(app: App) -> None:
    for i in (1, 2, 3, 4, 5, 6):
        app.patients.add(f"P{i:04d}", utc_now())
    app.save_patients()


def run_drill(drv: Driver, drill: str, shorten: int = 4) -> None:
    """From the drill cards: pick, shorten, start, run to the results."""
    app = drv.app
    app.goto("params", drill=drill)
    for _ in range(shorten):
        if app.screen.button("minus:duration_s") and app.screen.button("minus:duration_s").enabled:
            drv.tap("minus:duration_s")
    drv.tap("go")
    drv.until(lambda: app.snapshot.weight_kg is not None, 5)
    drv.advance(0.5)
    drv.tap("main")
    drv.until(lambda: app.screen.name == "results", 600)


def prior_visits(config: Config, size: tuple[int, int], scales: tuple[float, ...]) -> None:
    """Earlier visits of PATIENT, less steady at first (one app per visit, same data)."""
    for k, scale in enumerate(scales):
        app, drv = make_app(config, size, sway_scale=scale, seed=20 + k)
        if k == 0:
            register_patients(app)
        app.goto("patients")
        drv.tap(f"patient:{PATIENT}")
        run_drill(drv, ASSESSMENT)
        app.goto("home")
        close(app)


def first(pred: Callable[[type], bool], default: str) -> str:
    return next((n for n, c in registry.available().items() if pred(c)), default)


# ---------------------------------------------------------------------- scenes
def scene_home(app: App, drv: Driver) -> None:
    app.station.command("step_on")
    drv.advance(2.0)


def scene_patients(app: App, drv: Driver) -> None:
    app.goto("patients")


def scene_patient_new(app: App, drv: Driver) -> None:
    app.goto("patients")
    drv.tap("new")


def scene_drills(app: App, drv: Driver) -> None:
    app.goto("patients")
    drv.tap(f"patient:{PATIENT}")


def scene_params(app: App, drv: Driver) -> None:
    scene_drills(app, drv)
    app.goto("params", drill=first(lambda c: any(p.name == "level" for p in c.params),
                                   ASSESSMENT))


def scene_run(app: App, drv: Driver) -> None:
    scene_drills(app, drv)
    drills = registry.available()
    # the README picture: a game with a path and a target, if the station has one
    game = next((n for n in GAMES if n in drills), first(lambda c: c.kind == "training",
                                                        ASSESSMENT))
    app.goto("params", drill=game)
    drv.tap("go")
    drv.until(lambda: app.snapshot.weight_kg is not None, 5)
    drv.tap("main")
    run = app.screen.run  # type: ignore[attr-defined]
    drv.until(lambda: any(t.state == "active" for t in run.display.targets), 30)
    drv.advance(0.6)


def scene_run_fault(app: App, drv: Driver) -> None:
    scene_drills(app, drv)
    app.goto("params", drill=ASSESSMENT)
    drv.tap("go")
    drv.until(lambda: app.snapshot.weight_kg is not None, 5)
    drv.tap("main")
    drv.advance(8.0)
    app.station.simulation.faults.silent_cells.add(2)
    drv.advance(1.0)


def scene_results(app: App, drv: Driver) -> None:
    scene_drills(app, drv)
    run_drill(drv, ASSESSMENT)


def scene_history(app: App, drv: Driver) -> None:
    scene_drills(app, drv)
    drv.tap("history")


def scene_calibrate(app: App, drv: Driver) -> None:
    app.unlock()
    app.goto("calibrate")
    drv.tap("calibrate")
    drv.tap("next")                     # the plate is clear: tare
    drv.until(lambda: getattr(app.screen, "state", "") == "place", 20)


def scene_settings(app: App, drv: Driver) -> None:
    app.goto("settings")
    for d in SHOT_PIN:
        drv.tap(f"key:{d}")
    drv.tap("key:OK")


def scene_pin(app: App, drv: Driver) -> None:
    app.goto("settings")
    for d in "9999":
        drv.tap(f"key:{d}")
    drv.tap("key:OK")
    drv.tap("key:1")
    drv.tap("key:2")


SCENES: dict[str, Callable[[App, Driver], None]] = {
    "home": scene_home, "patients": scene_patients, "patient_new": scene_patient_new,
    "drills": scene_drills, "params": scene_params, "run": scene_run,
    "run_fault": scene_run_fault, "results": scene_results, "history": scene_history,
    "calibrate": scene_calibrate, "settings": scene_settings, "pin": scene_pin,
}
NEEDS_VISITS = {"patients", "drills", "params", "run", "run_fault", "results", "history"}


def render(names: list[str], out: Callable[[str], Path], config: Config,
           size: tuple[int, int] = (800, 480)) -> list[Path]:
    """Render each named scene to ``out(name)``; returns the files written."""
    if not pygame.display.get_init():
        pygame.display.init()
    written = []
    with tempfile.TemporaryDirectory(prefix="station-shots-") as tmp:
        cfg = base_config(config, Path(tmp))
        if NEEDS_VISITS & set(names):
            prior_visits(cfg, size, (2.2, 1.6, 1.25))
        for i, name in enumerate(names):
            app, drv = make_app(cfg, size, seed=40 + i)
            try:
                SCENES[name](app, drv)
                app.flush()
                drv.step()
                path = out(name)
                path.parent.mkdir(parents=True, exist_ok=True)
                pygame.image.save(app.render(), str(path))
                written.append(path)
            finally:
                close(app)
    return written
