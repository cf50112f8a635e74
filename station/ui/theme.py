"""Colours and the scale that maps the 800x480 design onto any screen.

Everything is designed in 800x480 "design pixels"; ``Layout.px`` scales them by
``s = min(w / 800, h / 480)`` so the 7" panel and a 1280x800 screen show the same layout, the
larger one with bigger type. A dark background keeps glare low on a clinic screen; text and
buttons keep at least 4.5:1 contrast (WCAG AA), and every touch target is >= 48 design px.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygame

Color = tuple[int, int, int]

BG: Color = (14, 18, 23)
PANEL: Color = (30, 37, 46)
PANEL_HI: Color = (48, 58, 71)
LINE: Color = (70, 82, 97)
DISABLED: Color = (24, 30, 37)
TEXT: Color = (242, 245, 248)
MUTED: Color = (168, 180, 192)
DIM: Color = (110, 122, 136)
BLUE: Color = (23, 103, 196)        # primary actions (white text 5.6:1)
GREEN: Color = (24, 122, 60)        # start / go (white text 5.4:1)
AMBER: Color = (245, 166, 35)       # pause, warnings (dark text)
RED: Color = (190, 36, 36)          # stop, errors (white text 5.9:1)
CURSOR: Color = (255, 214, 0)       # the live COP / tilt cursor
TARGET: Color = (54, 197, 240)
HIT: Color = (61, 220, 132)
TRACE_A: Color = (92, 170, 255)
TRACE_B: Color = (255, 150, 80)
BLACK: Color = (0, 0, 0)

#: Button styles: (fill, text colour).
STYLES: dict[str, tuple[Color, Color]] = {
    "primary": (BLUE, TEXT),
    "go": (GREEN, TEXT),
    "warn": (AMBER, BLACK),
    "danger": (RED, TEXT),
    "secondary": (PANEL_HI, TEXT),
    "ghost": (BG, TEXT),
    "selected": (TEXT, BG),
}

#: Type sizes in design pixels. "body" (22 px on the 7" panel, about 4 mm cap height) is the
#: smallest the therapist reads at arm's length; patient prompts use "prompt" or larger so they
#: read from 1.5 m.
SIZES = {"small": 18, "body": 22, "label": 24, "title": 28, "prompt": 34, "big": 48,
         "timer": 84, "huge": 120}

MIN_TOUCH = 48


@dataclass(frozen=True)
class Layout:
    """Screen size and the standard regions every screen shares."""

    w: int
    h: int

    @property
    def s(self) -> float:
        return min(self.w / 800, self.h / 480)

    def px(self, v: float) -> int:
        return round(v * self.s)

    def font(self, name: str) -> int:
        return max(10, round(SIZES[name] * self.s))

    @property
    def top_h(self) -> int:
        return self.px(60)

    @property
    def bar_h(self) -> int:
        return self.px(80)

    @property
    def pad(self) -> int:
        return self.px(12)

    def top(self) -> pygame.Rect:
        return pygame.Rect(0, 0, self.w, self.top_h)

    def content(self) -> pygame.Rect:
        return pygame.Rect(0, self.top_h, self.w, self.h - self.top_h - self.bar_h)

    def bar(self) -> pygame.Rect:
        return pygame.Rect(0, self.h - self.bar_h, self.w, self.bar_h)

    def bar_slot(self, side: str, width: float) -> pygame.Rect:
        """A button in the bottom action bar: "right" holds the primary action."""
        bar, pad = self.bar(), self.pad
        w = self.px(width)
        h = bar.h - 2 * pad
        x = bar.right - pad - w if side == "right" else bar.x + pad
        return pygame.Rect(x, bar.y + pad, w, h)
