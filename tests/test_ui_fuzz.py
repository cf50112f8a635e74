"""10,000 random taps across every screen: no exception, no stuck state.

Taps land uniformly over the panel as FINGERDOWN/FINGERUP pairs (some in one frame, some
across frames, some sliding, some with a second finger or a synthesised mouse echo), the
virtual station runs in between, and every 400 taps the app jumps to another screen so the
therapist-only screens get their share. Every tap is processed; one frame in 20 is drawn.
"""

from __future__ import annotations

import numpy as np
import pygame

from station.drills import registry
from station.ui.driver import close_app, open_app
from station.ui.screens import SCREENS

TAPS = 10_000
JUMPS = ("home", "patients", "patient_new", "drills", "params", "history", "calibrate",
         "settings", "pin")
ESCAPE = ("back", "cancel", "stop", "main", "next", "end_visit")


def finger(kind: int, x: float, y: float, fid: int = 0) -> pygame.event.Event:
    return pygame.event.Event(kind, touch_id=1, finger_id=fid, x=x, y=y, dx=0.0, dy=0.0,
                              pressure=1.0)


def escape_home(app, drv, max_taps: int = 40) -> bool:
    """From anywhere, the ordinary buttons lead home within a few taps."""
    for _ in range(max_taps):
        if app.screen.name == "home":
            return True
        b = next((app.screen.button(i) for i in ESCAPE if app.screen.button(i) is not None
                  and app.screen.button(i).enabled), None)
        if b is None:
            drv.advance(1.0)                   # e.g. a drill finishing its last second
            continue
        drv.tap(b.id)
    return app.screen.name == "home"


def test_ten_thousand_random_taps(config, caplog):
    app, drv = open_app(config, pin="907153", fps=120)   # 1/120 s per frame: less simulation
    rng = np.random.default_rng(20240611)
    drills = list(registry.available())
    visited: set[str] = set()
    exits = 0
    try:
        for i in range(TAPS):
            if i % 400 == 399:
                name = JUMPS[(i // 400) % len(JUMPS)]
                if SCREENS[name].guarded:
                    app.unlock()
                app.goto(name, **({"drill": drills[rng.integers(len(drills))]}
                                  if name == "params" else {}))
            x, y = (float(v) for v in rng.random(2))
            render = i % 20 == 0
            style = rng.random()
            if style < 0.8:                    # a quick tap within one frame
                drv.step([finger(pygame.FINGERDOWN, x, y), finger(pygame.FINGERUP, x, y)],
                         render)
            elif style < 0.88:                 # press, hold a frame, lift
                drv.step([finger(pygame.FINGERDOWN, x, y)], render)
                drv.step([finger(pygame.FINGERUP, x, y)])
            elif style < 0.94:                 # press, slide away, lift (cancels)
                x2, y2 = (float(v) for v in rng.random(2))
                drv.step([finger(pygame.FINGERDOWN, x, y),
                          finger(pygame.FINGERMOTION, x2, y2)], render)
                drv.step([finger(pygame.FINGERUP, x2, y2)])
            else:                              # a second finger and SDL's mouse echo
                w, h = app.surface.get_size()
                pos = (int(x * w), int(y * h))
                drv.step([finger(pygame.FINGERDOWN, x, y),
                          pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=pos, button=1,
                                             touch=True),
                          finger(pygame.FINGERDOWN, 1 - x, 1 - y, fid=1),
                          finger(pygame.FINGERUP, 1 - x, 1 - y, fid=1),
                          finger(pygame.FINGERUP, x, y),
                          pygame.event.Event(pygame.MOUSEBUTTONUP, pos=pos, button=1,
                                             touch=True)], render)
            visited.add(app.screen.name)
            if not app.running:                # "Exit kiosk" tapped twice behind the PIN
                exits += 1
                app.running = True
                app.goto("home")
            if i % 50 == 0:
                assert any(b.enabled for b in app.screen.buttons), app.screen.name
        assert app.crashes == 0, [r.getMessage() for r in caplog.records][-3:]
        assert visited >= set(SCREENS), set(SCREENS) - visited
        assert escape_home(app, drv)
        drv.step(render=True)
    finally:
        close_app(app)
    assert not [r for r in caplog.records if r.levelname in ("ERROR", "CRITICAL")]
