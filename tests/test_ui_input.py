"""Touch and mouse input, and the layout from 800x480 to 1280x800."""

from __future__ import annotations

import pygame
import pytest

from station.ui.driver import close_app, open_app
from station.ui.input import PointerInput
from station.ui.theme import MIN_TOUCH


def fe(kind, x, y, fid=0):
    return pygame.event.Event(kind, touch_id=1, finger_id=fid, x=x, y=y, dx=0.0, dy=0.0,
                              pressure=1.0)


def test_fingers_are_normalised_and_mouse_echoes_ignored():
    p = PointerInput((800, 480))
    out = p.translate([
        fe(pygame.FINGERDOWN, 0.5, 0.25),
        pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(400, 120), button=1, touch=True),
        fe(pygame.FINGERDOWN, 0.9, 0.9, fid=1),               # a second finger: ignored
        fe(pygame.FINGERMOTION, 0.51, 0.25),
        fe(pygame.FINGERUP, 0.9, 0.9, fid=1),
        fe(pygame.FINGERUP, 1.0, 1.0),
        pygame.event.Event(pygame.MOUSEBUTTONUP, pos=(400, 120), button=1, touch=True),
    ])
    assert [(t.kind, t.pos) for t in out] == [("down", (400, 120)), ("move", (408, 120)),
                                              ("up", (799, 479))]


def test_a_real_mouse_works():
    p = PointerInput((800, 480))
    out = p.translate([
        pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(10, 20), button=1, touch=False),
        pygame.event.Event(pygame.MOUSEMOTION, pos=(12, 20), rel=(2, 0), buttons=(1, 0, 0),
                           touch=False),
        pygame.event.Event(pygame.MOUSEBUTTONUP, pos=(12, 20), button=1, touch=False),
        pygame.event.Event(pygame.MOUSEBUTTONDOWN, pos=(10, 20), button=3, touch=False),
    ])
    assert [t.kind for t in out] == ["down", "move", "up"]


def test_mouse_clicks_drive_the_app(config):
    app, drv = open_app(config)
    try:
        b = app.screen.button("start")
        for kind in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP):
            drv.step([pygame.event.Event(kind, pos=b.rect.center, button=1, touch=False)])
        assert app.screen.name == "patients"
        # sliding off a button before lifting cancels the tap
        b = app.screen.button("new")
        drv.step([fe(pygame.FINGERDOWN, b.rect.centerx / 800, b.rect.centery / 480),
                  fe(pygame.FINGERMOTION, 0.1, 0.1), fe(pygame.FINGERUP, 0.1, 0.1)])
        assert app.screen.name == "patients"
    finally:
        close_app(app)


def visit_every_screen(app, drv):
    """(name, screen) for every screen, reached the way a therapist would."""
    yield "home", app.screen
    drv.tap("start")
    yield "patients", app.screen
    drv.tap("new")
    yield "patient_new", app.screen
    drv.tap("save")
    yield "drills", app.screen
    drv.show_card("drill:quiet_stance")
    drv.tap("drill:quiet_stance")
    yield "params", app.screen
    drv.tap("go")
    drv.advance(1.0)
    yield "run", app.screen
    drv.tap("main")
    drv.advance(5.0)
    yield "run", app.screen
    drv.tap("stop")
    drv.advance(2.0)
    yield "results", app.screen
    drv.tap("history")
    yield "history", app.screen
    app.goto("settings")
    yield "pin", app.screen
    app.unlock()
    app.goto("settings")
    yield "settings", app.screen
    app.goto("calibrate")
    yield "calibrate", app.screen


@pytest.mark.parametrize("size", [(800, 480), (1024, 600), (1280, 800)])
def test_layout_scales_and_keeps_large_separate_touch_targets(config, size):
    app, drv = open_app(config, size=size)
    try:
        screen_rect = app.surface.get_rect()
        minimum = round(MIN_TOUCH * app.layout.s)
        for name, screen in visit_every_screen(app, drv):
            assert screen.name == name
            drv.step(render=True)
            buttons = [b for b in screen.buttons]
            for b in buttons:
                assert screen_rect.contains(b.rect), (name, b.id, b.rect)
                assert min(b.rect.size) >= minimum, (name, b.id, b.rect.size)
            for i, a in enumerate(buttons):
                for b in buttons[i + 1:]:
                    assert not a.rect.colliderect(b.rect), (name, a.id, b.id)
        assert app.text.truncations == [], app.text.truncations
        assert app.crashes == 0
    finally:
        close_app(app)
