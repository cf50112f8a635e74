"""Buttons and icons. Every tappable thing on every screen is a ``Button``.

Icons are drawn with pygame.draw rather than font glyphs: the bundled fonts lack arrows and
media symbols, and shapes stay crisp at any scale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pygame

from station.ui import theme
from station.ui.text import Text


@dataclass(eq=False)
class Button:
    id: str
    rect: pygame.Rect
    label: str = ""
    action: Callable[[], None] | None = None
    style: str = "secondary"
    icon: str | None = None
    enabled: bool = True
    sub: str = ""                 # a smaller second line
    size: str = "label"           # type size name
    align: str = "center"

    def hit(self, pos: tuple[int, int], slack: int = 0) -> bool:
        return self.enabled and self.rect.inflate(2 * slack, 2 * slack).collidepoint(pos)


def draw_button(surf: pygame.Surface, text: Text, b: Button, layout: theme.Layout) -> None:
    if b.style == "none":             # the screen draws it (cards, list rows)
        return
    fill, fg = theme.STYLES[b.style]
    if not b.enabled:
        fill, fg = theme.DISABLED, theme.DIM
    radius = layout.px(10)
    pygame.draw.rect(surf, fill, b.rect, border_radius=radius)
    if b.style == "ghost" or not b.enabled:
        pygame.draw.rect(surf, theme.LINE, b.rect, width=max(1, layout.px(2)),
                         border_radius=radius)
    pad = layout.px(12)
    inner = b.rect.inflate(-2 * pad, 0)
    x = inner.x
    if b.icon:
        isz = min(b.rect.h - layout.px(20), layout.px(30))
        if not b.label:
            icon_rect = pygame.Rect(0, 0, isz, isz)
            icon_rect.center = b.rect.center
            draw_icon(surf, b.icon, icon_rect, fg)
            return
        icon_rect = pygame.Rect(inner.x, 0, isz, isz)
        icon_rect.centery = b.rect.centery
        draw_icon(surf, b.icon, icon_rect, fg)
        x = icon_rect.right + layout.px(10)
        inner = pygame.Rect(x, inner.y, inner.right - x, inner.h)
    size = layout.font(b.size)
    if b.sub:
        small = layout.font("small")
        top = text.fit(b.label, size, fg, inner.w, bold=True)
        bottom = text.fit(b.sub, small, fg if b.style != "secondary" else theme.MUTED, inner.w)
        h = top.get_height() + bottom.get_height()
        y = b.rect.centery - h // 2
        for img in (top, bottom):
            r = img.get_rect(top=y)
            r.x = inner.x if b.align == "left" else inner.centerx - r.w // 2
            surf.blit(img, r)
            y += img.get_height()
        return
    img = text.fit(b.label, size, fg, inner.w, bold=True)
    r = img.get_rect(centery=b.rect.centery)
    r.x = inner.x if b.align == "left" or b.icon else inner.centerx - r.w // 2
    surf.blit(img, r)


def draw_pressed(surf: pygame.Surface, b: Button, layout: theme.Layout) -> None:
    """Feedback under the finger: a bright outline (drawn each frame, cheap)."""
    pygame.draw.rect(surf, theme.TEXT, b.rect, width=max(2, layout.px(4)),
                     border_radius=layout.px(10))


def draw_icon(surf: pygame.Surface, name: str, r: pygame.Rect, color: theme.Color) -> None:
    w = max(2, r.w // 8)
    cx, cy = r.center
    if name == "back":
        pts = [(r.right - r.w // 4, r.top), (r.left + r.w // 4, cy), (r.right - r.w // 4, r.bottom)]
        pygame.draw.lines(surf, color, False, pts, w + 1)
    elif name in ("up", "down"):
        d = -1 if name == "up" else 1
        pts = [(r.left, cy - d * r.h // 4), (cx, cy + d * r.h // 4), (r.right, cy - d * r.h // 4)]
        pygame.draw.lines(surf, color, False, pts, w + 1)
    elif name == "next":
        pts = [(r.left + r.w // 4, r.top), (r.right - r.w // 4, cy), (r.left + r.w // 4, r.bottom)]
        pygame.draw.lines(surf, color, False, pts, w + 1)
    elif name == "play":
        pygame.draw.polygon(surf, color, [(r.left + r.w // 6, r.top), (r.right, cy),
                                          (r.left + r.w // 6, r.bottom)])
    elif name == "pause":
        bw = r.w // 3
        pygame.draw.rect(surf, color, (r.left + r.w // 12, r.top, bw, r.h))
        pygame.draw.rect(surf, color, (r.right - r.w // 12 - bw, r.top, bw, r.h))
    elif name == "stop":
        pygame.draw.rect(surf, color, r.inflate(-r.w // 8, -r.h // 8))
    elif name == "plus":
        pygame.draw.rect(surf, color, (r.left, cy - w, r.w, 2 * w))
        pygame.draw.rect(surf, color, (cx - w, r.top, 2 * w, r.h))
    elif name == "minus":
        pygame.draw.rect(surf, color, (r.left, cy - w, r.w, 2 * w))
    elif name == "check":
        pts = [(r.left, cy), (r.left + r.w // 3, r.bottom - r.h // 6), (r.right, r.top + r.h // 6)]
        pygame.draw.lines(surf, color, False, pts, w + 1)
    elif name == "cross":
        pygame.draw.line(surf, color, r.topleft, r.bottomright, w + 1)
        pygame.draw.line(surf, color, r.bottomleft, r.topright, w + 1)
    elif name == "erase":
        pts = [(r.left, cy), (r.left + r.w // 3, r.top + r.h // 6), (r.right, r.top + r.h // 6),
               (r.right, r.bottom - r.h // 6), (r.left + r.w // 3, r.bottom - r.h // 6)]
        pygame.draw.polygon(surf, color, pts, max(2, w // 2 + 1))
    elif name == "lock":
        body = pygame.Rect(r.left, cy - r.h // 8, r.w, r.h // 2 + r.h // 8)
        pygame.draw.rect(surf, color, body, border_radius=max(1, r.w // 10))
        shackle = pygame.Rect(r.left + r.w // 5, r.top, r.w * 3 // 5, r.h // 2 + r.h // 4)
        pygame.draw.arc(surf, color, shackle, 0, 3.1416, max(2, w // 2 + 1))
    elif name == "warning":
        pygame.draw.polygon(surf, color, [(cx, r.top), (r.right, r.bottom), (r.left, r.bottom)])
        bw = max(2, w)
        pygame.draw.rect(surf, theme.BLACK, (cx - w // 2, r.top + r.h // 3, bw, r.h // 3))
        pygame.draw.rect(surf, theme.BLACK, (cx - w // 2, r.bottom - r.h // 5, bw, bw))
    else:
        pygame.draw.circle(surf, color, r.center, r.w // 3)
