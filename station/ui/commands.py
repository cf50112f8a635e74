"""`station run` (the kiosk) and `station screenshot` (any screen, headless, to a PNG).

The lead wires these into the CLI with ``add_parsers(subparsers)``; each parser sets
``func=callable(args) -> int`` like the other commands.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from station import config as config_mod
from station.ui.faults import SyncStatus, unknown_sync

log = logging.getLogger(__name__)

DEFAULT_SIZE = "800x480"
SCREEN_CHOICES = ("home", "patients", "patient_new", "drills", "params", "run", "run_fault",
                  "results", "history", "calibrate", "settings", "pin")


def _common(p: argparse.ArgumentParser) -> None:
    """--config and --data-dir, unless the parents the CLI passes already define them."""
    for flags, kw in ((("--config",), {"metavar": "PATH", "help": "configuration file"}),
                      (("--data-dir",), {"type": Path, "help": "override [station] data_dir"}),
                      (("-v", "--verbose"), {"action": "store_true", "help": "log more"})):
        with contextlib.suppress(argparse.ArgumentError):
            p.add_argument(*flags, **kw)


def add_parsers(subparsers: argparse._SubParsersAction,
                parents: Sequence[argparse.ArgumentParser] = ()) -> None:
    r = subparsers.add_parser("run", parents=list(parents), conflict_handler="error",
                              help="start the touchscreen kiosk")
    _common(r)
    r.add_argument("--window", action="store_true",
                   help="a window even on the Pi's panel (default: full screen on KMSDRM)")
    r.add_argument("--fullscreen", action="store_true", help="full screen even on a desktop")
    r.add_argument("--size", help="window size WxH (default 800x480)")
    r.add_argument("--fps", type=int, help="frame rate (default 60)")
    r.add_argument("--simulate", action="store_true",
                   help="use the virtual patient whatever [station] source says")
    r.set_defaults(func=cmd_run)

    s = subparsers.add_parser("screenshot", parents=list(parents),
                              help="render a screen headless with the virtual patient",
                              description="Render a screen headless with the virtual patient, "
                              "in a realistic state, on a fresh temporary data folder (the "
                              "station's own data is never touched).")
    _common(s)
    s.add_argument("screen", choices=(*SCREEN_CHOICES, "all"),
                   help="which screen ('all': every screen into the --out folder)")
    s.add_argument("--out", type=Path, required=True,
                   help="PNG file (a folder with 'all'; files are named <screen>.png)")
    s.add_argument("--size", default=DEFAULT_SIZE, help="screen size WxH (default 800x480)")
    s.set_defaults(func=cmd_screenshot)


def _config(args: argparse.Namespace) -> config_mod.Config:
    cfg = config_mod.load(getattr(args, "config", None))
    if getattr(args, "data_dir", None):
        cfg = cfg.with_changes("station", data_dir=str(args.data_dir))
    return cfg


def cmd_screenshot(args: argparse.Namespace) -> int:
    from station.errors import StationError
    from station.ui.display import parse_size

    os.environ["SDL_VIDEODRIVER"] = "dummy"          # headless even on the kiosk itself
    os.environ["SDL_AUDIODRIVER"] = "dummy"
    try:
        size = parse_size(args.size)
    except ValueError as exc:
        raise StationError(str(exc)) from None
    import pygame

    from station.ui import shots

    cfg = _config(args)
    names = list(SCREEN_CHOICES) if args.screen == "all" else [args.screen]
    out: Path = args.out

    def target(name: str) -> Path:
        return out / f"{name}.png" if args.screen == "all" else out

    pygame.init()
    try:
        for path in shots.render(names, target, cfg, size):
            print(path)
    finally:
        pygame.quit()
    return 0


def _message(surface, text: str) -> None:
    """A plain full-screen message (start-up, or a station that cannot open its sensors)."""
    import pygame

    from station.ui import theme
    from station.ui.text import Text

    layout = theme.Layout(*surface.get_size())
    surface.fill(theme.BG)
    box = surface.get_rect().inflate(-2 * layout.px(40), -2 * layout.px(40))
    Text().draw_block(surface, text, layout.font("title"), theme.TEXT, box, bold=True,
                      align="center", valign="middle")
    pygame.display.flip()


def _open_station(cfg, surface, retry_s: float = 10.0):
    """The station, retried every ``retry_s`` while its sensors do not answer: the kiosk
    shows why instead of exiting (systemd would only restart it into the same error)."""
    import pygame

    from station.errors import StationError
    from station.runtime import Station

    while True:
        _message(surface, "Starting the station…")
        try:
            return Station(cfg, patient_on_plate=False)
        except StationError as exc:
            log.error("station not ready: %s", exc)
            _message(surface, f"The plate is not answering ({exc}). Check its cable; the "
                     f"station tries again every {retry_s:.0f} s.")
        end = time.monotonic() + retry_s
        while time.monotonic() < end:
            if any(e.type == pygame.QUIT for e in pygame.event.get()):
                return None
            time.sleep(0.1)


def _stop_on_sigterm() -> threading.Event:
    """systemd stops the kiosk with SIGTERM: leave the loop and close everything cleanly."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda _sig, _frame: stop.set())
    return stop


def sync_status_provider(config: config_mod.Config) -> Callable[[], SyncStatus]:
    """The last sync as the home screen shows it, from the status file `station sync` writes
    (`<data_dir>/sync-status.json`, see station.sync.runner): re-read only when it changes."""
    from station.sync.runner import ui_summary

    path = config.data_dir / "sync-status.json"
    cache: dict[str, Any] = {"mtime": None, "status": unknown_sync()}

    def read() -> SyncStatus:
        try:
            mtime = path.stat().st_mtime_ns
        except OSError:
            return cache["status"]
        if mtime != cache["mtime"]:
            cache["mtime"] = mtime
            try:
                summary = ui_summary(config.data_dir)
                cache["status"] = SyncStatus(summary["last_ok_utc"], summary["failed"])
            except (OSError, ValueError, KeyError, AttributeError):
                cache["status"] = unknown_sync()
        return cache["status"]

    return read


def cmd_run(args: argparse.Namespace) -> int:
    """The kiosk loop: dt = clock.tick(fps); events; update; draw; flip."""
    from station.errors import StationError
    from station.ui.app import App
    from station.ui.display import open_display, parse_size

    cfg = _config(args)
    display = cfg.display
    size_text = args.size or f"{display.width}x{display.height}"
    fps = args.fps or display.fps
    try:
        size = parse_size(size_text)
    except ValueError as exc:
        raise StationError(str(exc)) from None
    if args.simulate:
        cfg = cfg.with_changes("station", source="simulated")
    fullscreen = (True if args.fullscreen else False if args.window
                  else {"yes": True, "no": False}.get(display.fullscreen))
    import pygame

    from station.drivers.peripherals import open_peripherals
    from station.service import Service
    from station.ui.input import post_button

    surface = open_display(size, fullscreen)
    station = _open_station(cfg, surface)
    if station is None:
        pygame.quit()
        return 0
    stop = _stop_on_sigterm()
    peripherals = open_peripherals(cfg)     # does nothing unless [peripherals] enabled
    peripherals.on_pause = lambda _event: post_button(False)
    peripherals.on_emergency_stop = lambda _event: post_button(True)
    service = Service(station, background_writes=True)   # sd_notify; no-op outside systemd
    try:
        kiosk = bool(fullscreen or pygame.display.get_driver() == "kmsdrm")
        app = App(cfg, station, surface, kiosk=kiosk, sync_status=sync_status_provider(cfg))
        clock = pygame.time.Clock()
        ready = False
        try:
            while app.running and not stop.is_set():
                dt = clock.tick(fps) / 1000.0
                app.step(pygame.event.get(), min(dt, 0.25))
                app.render()
                pygame.display.flip()
                if not ready:
                    service.ready()         # sensors are up and the first frame is shown
                    peripherals.show("ready")
                    ready = True
                service.tick()              # feeds the watchdog while acquisition is alive
        except KeyboardInterrupt:
            print("station run: interrupted", file=sys.stderr)
        finally:
            app.close()
    finally:
        service.close()
        peripherals.close()
        station.close()
        pygame.quit()
    return 0
    try:
        kiosk = bool(fullscreen or pygame.display.get_driver() == "kmsdrm")
        app = App(cfg, station, surface, kiosk=kiosk)
        clock = pygame.time.Clock()
        try:
            while app.running:
                dt = clock.tick(fps) / 1000.0
                app.step(pygame.event.get(), min(dt, 0.25))
                app.render()
                pygame.display.flip()
        except KeyboardInterrupt:
            print("station run: interrupted", file=sys.stderr)
        finally:
            app.close()
    finally:
        station.close()
        pygame.quit()
    return 0
