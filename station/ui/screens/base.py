"""The screen base class: buttons, the top bar, a cached static layer, tap handling.

A screen draws in two layers. ``draw_static`` (background, top bar, buttons, fixed text) is
rendered once into a cached surface and redrawn only after ``refresh()``; ``draw_dynamic``
draws what changes every frame on top. A tap acts when the finger lifts inside the button it
went down on (sliding off cancels), which forgives a shaky press.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

import pygame

from station.ui import theme
from station.ui.faults import Fault
from station.ui.input import Touch
from station.ui.live import Snapshot
from station.ui.widgets import Button, draw_button, draw_pressed

if TYPE_CHECKING:
    from station.ui.app import App


class Screen:
    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    guarded: ClassVar[bool] = False          # needs the therapist PIN
    back_to: ClassVar[str | None] = None     # where the top-left Back button goes

    def __init__(self, app: App, **params: Any) -> None:
        self.app = app
        self.L = app.layout
        self.text = app.text
        self.buttons: list[Button] = []
        self._static: pygame.Surface | None = None
        self._pressed: Button | None = None
        self.setup(**params)
        self.build()

    # ------------------------------------------------------------------ for subclasses
    def setup(self, **params: Any) -> None:
        """Take the screen's parameters (before the first build)."""

    def layout_buttons(self) -> None:
        """Add this screen's buttons (called by ``build``)."""

    def draw_content(self, surf: pygame.Surface) -> None:
        """Static content below the top bar (cached)."""

    def draw_dynamic(self, surf: pygame.Surface) -> None:
        """What changes every frame (drawn over the cached layer)."""

    def update(self, dt: float, snap: Snapshot) -> None:
        """Advance by ``dt`` with the frame's snapshot."""

    def leave(self) -> None:
        """The app moves to another screen."""

    def abandon(self) -> None:
        """An error sends the app home: stop anything running, safely."""
        self.leave()

    def fault_suffix(self, fault: Fault) -> str:
        return ""

    def hardware_button(self, long_press: bool) -> None:
        """The physical stop/pause button; only the drill screen uses it."""

    def back(self) -> None:
        if self.back_to:
            self.app.goto(self.back_to)

    def heading(self) -> str:
        return self.title

    def banner_rect(self) -> pygame.Rect:
        L = self.L
        return pygame.Rect(0, L.top_h, L.w, L.px(56))

    # ------------------------------------------------------------------ building
    def build(self) -> None:
        self.buttons = []
        self._pressed = None
        if self.back_to:
            L = self.L
            self.add("back", pygame.Rect(L.px(6), L.px(6), L.px(120), L.top_h - L.px(12)),
                     "Back", self.back, icon="back", style="ghost")
        self.layout_buttons()

    def refresh(self) -> None:
        """Rebuild the buttons and redraw the static layer on the next frame."""
        self.build()
        self._static = None

    def add(self, id: str, rect: pygame.Rect, label: str = "",
            action: Callable[[], None] | None = None, **kw: Any) -> Button:
        b = Button(id, rect, label, action, **kw)
        self.buttons.append(b)
        return b

    def button(self, id: str) -> Button | None:
        return next((b for b in self.buttons if b.id == id), None)

    # ------------------------------------------------------------------ input
    def touch(self, t: Touch) -> None:
        slack = self.L.px(12)
        if t.kind == "down":
            self._pressed = next((b for b in reversed(self.buttons) if b.hit(t.pos)), None)
        elif t.kind == "up":
            b, self._pressed = self._pressed, None
            if b is not None and b.hit(t.pos, slack) and b in self.buttons and b.action:
                b.action()
        elif t.kind == "move" and self._pressed is not None and \
                not self._pressed.hit(t.pos, slack):
            self._pressed = None

    # ------------------------------------------------------------------ drawing
    def draw(self, surf: pygame.Surface) -> None:
        if self._static is None or self._static.get_size() != surf.get_size():
            self._static = pygame.Surface(surf.get_size(), 0, surf)
            self.draw_static(self._static)
        surf.blit(self._static, (0, 0))
        self.draw_dynamic(surf)
        if self._pressed is not None and self._pressed in self.buttons:
            draw_pressed(surf, self._pressed, self.L)

    def draw_static(self, surf: pygame.Surface) -> None:
        surf.fill(theme.BG)
        self.draw_top(surf)
        self.draw_content(surf)
        for b in self.buttons:
            draw_button(surf, self.text, b, self.L)

    def draw_top(self, surf: pygame.Surface) -> None:
        L = self.L
        top = L.top()
        pygame.draw.rect(surf, theme.PANEL, top)
        x = L.px(140) if self.back_to else L.pad + L.px(4)
        right = L.w - L.pad
        visit = self.app.visit
        if visit is not None:
            chip = self.text.fit(self.app.patient_label(visit.code), L.font("label"), theme.TEXT,
                                 L.px(260), bold=True)
            r = chip.get_rect(midright=(right - L.px(10), top.centery))
            pygame.draw.rect(surf, theme.PANEL_HI, r.inflate(L.px(20), L.px(10)),
                             border_radius=L.px(8))
            surf.blit(chip, r)
            right = r.x - L.px(24)
        self.text.draw(surf, self.heading(), L.font("title"), theme.TEXT,
                       (x, top.centery), "midleft", bold=True, max_w=right - x)
