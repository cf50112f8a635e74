"""The fault banner: the most urgent fault as one plain sentence, over the top of the screen.

Red for faults that need action now, amber for warnings. A tap folds it away for a minute;
a fault that was not showing before brings it back at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pygame

from station.ui import theme
from station.ui.faults import Fault
from station.ui.input import Touch
from station.ui.text import Text
from station.ui.widgets import draw_icon

if TYPE_CHECKING:
    from station.ui.screens.base import Screen

SNOOZE_S = 60.0


class Banner:
    def __init__(self, layout: theme.Layout, text: Text) -> None:
        self.L = layout
        self.text = text
        self._snooze: tuple[frozenset[str], float] | None = None

    def shown(self, faults: list[Fault], now: float) -> list[Fault]:
        """The faults to show, most urgent first; empty while folded away."""
        if not faults:
            return []
        keys = frozenset(f.key for f in faults)
        if self._snooze and self._snooze[0] >= keys and now < self._snooze[1]:
            return []
        return sorted(faults, key=lambda f: (not f.error, not f.pauses))

    def touch(self, t: Touch, faults: list[Fault], now: float, rect: pygame.Rect) -> bool:
        """True when the touch landed on the banner (and so is not the screen's)."""
        if not self.shown(faults, now) or not rect.collidepoint(t.pos):
            return False
        if t.kind == "up":
            self._snooze = (frozenset(f.key for f in faults), now + SNOOZE_S)
        return True

    def draw(self, surf: pygame.Surface, faults: list[Fault], now: float,
             screen: Screen) -> None:
        shown = self.shown(faults, now)
        if not shown:
            return
        L, f = self.L, shown[0]
        r = screen.banner_rect()
        fill, fg = (theme.RED, theme.TEXT) if f.error else (theme.AMBER, theme.BLACK)
        pygame.draw.rect(surf, fill, r)
        icon = pygame.Rect(r.x + L.pad, 0, L.px(28), L.px(26))
        icon.centery = r.centery
        draw_icon(surf, "warning", icon, fg if f.error else theme.BLACK)
        msg = f.message + screen.fault_suffix(f)
        if len(shown) > 1:
            msg += f"  (+{len(shown) - 1} more)"
        box = pygame.Rect(icon.right + L.pad, r.y + L.px(4), r.right - icon.right - 2 * L.pad,
                          r.h - L.px(8))
        self.text.draw_block(surf, msg, L.font("body"), fg, box, bold=True, valign="middle",
                             min_size=L.font("small"))
