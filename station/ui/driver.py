"""Driving the app like a finger would: taps by button id, time on the virtual clock.

Used by the tests, the screenshot scenes and the benchmark. A tap is a FINGERDOWN and a
FINGERUP at the button's centre in normalised coordinates (what the panel delivers), each in
its own frame.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pygame

from station.config import Config
from station.runtime import Station
from station.ui.app import App


class Driver:
    def __init__(self, app: App, fps: float = 60.0) -> None:
        self.app = app
        self.dt = 1.0 / fps
        self._finger = 0

    def finger(self, kind: int, x: float, y: float) -> pygame.event.Event:
        return pygame.event.Event(kind, touch_id=1, finger_id=self._finger, x=x, y=y, dx=0.0,
                                  dy=0.0, pressure=1.0)

    def tap_at(self, x_px: float, y_px: float, render: bool = False) -> None:
        w, h = self.app.surface.get_size()
        x, y = x_px / w, y_px / h
        self._finger += 1
        self.step([self.finger(pygame.FINGERDOWN, x, y)], render)
        self.step([self.finger(pygame.FINGERUP, x, y)], render)

    def tap(self, button_id: str, render: bool = False) -> None:
        b = self.app.screen.button(button_id)
        if b is None:
            ids = [b.id for b in self.app.screen.buttons]
            raise LookupError(f"no button {button_id!r} on {self.app.screen.name} ({ids})")
        if not b.enabled:
            raise LookupError(f"button {button_id!r} on {self.app.screen.name} is disabled")
        self.tap_at(*b.rect.center, render=render)

    def show_card(self, button_id: str, max_pages: int = 20) -> None:
        """Page through a paged screen (drill cards, patients) until ``button_id`` shows."""
        for _ in range(max_pages):
            if self.app.screen.button(button_id) is not None:
                return
            nxt = self.app.screen.button("page_down")
            if nxt is None or not nxt.enabled:
                break
            self.tap("page_down")
        raise LookupError(f"no {button_id!r} on any page of {self.app.screen.name}")

    def step(self, events: list[pygame.event.Event] | None = None, render: bool = False) -> None:
        self.app.step(events or [], self.dt)
        if render:
            self.app.render()

    def advance(self, seconds: float, render_every: int = 0) -> None:
        n = round(seconds / self.dt)
        for i in range(n):
            self.step(render=bool(render_every) and i % render_every == 0)

    def until(self, done: Callable[[], bool], max_s: float, render_every: int = 0) -> bool:
        n = round(max_s / self.dt)
        for i in range(n):
            if done():
                return True
            self.step(render=bool(render_every) and i % render_every == 0)
        return done()

    def start_drill(self, drill: str = "quiet_stance") -> None:
        """Home -> new patient -> the drill's card -> start: the drill is counting down."""
        for button in ("start", "new", "save"):
            self.tap(button)
        self.show_card(f"drill:{drill}")
        self.tap(f"drill:{drill}")
        self.tap("go")
        self.advance(1.0)
        self.tap("main")


def open_app(config: Config, size: tuple[int, int] = (800, 480), *, fps: float = 60.0,
             pin: str | None = None, settle_s: float = 2.5, patient_on_plate: bool = False,
             **app_kwargs: Any) -> tuple[App, Driver]:
    """A headless app on a fast (virtual-clock) station, tared and ready (tests, scenes).

    ``pin`` sets the therapist PIN with a cheap hash (tests only)."""
    station = Station(config, fast=True, patient_on_plate=patient_on_plate)
    if not pygame.display.get_init():
        pygame.display.init()
    surface = pygame.display.get_surface()
    if surface is None or surface.get_size() != size:
        surface = pygame.display.set_mode(size)
    app = App(config, station, surface, **app_kwargs)
    if pin is not None:
        app.pin.set_pin(pin, n=2**10)
    drv = Driver(app, fps=fps)
    drv.advance(settle_s)
    return app, drv


def close_app(app: App) -> None:
    app.close()
    app.station.close()
