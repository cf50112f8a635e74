"""Cached text: fonts by size, rendered surfaces by (text, size, colour), wrapped lines.

Rendering a string is the most expensive thing a frame does, so every surface is kept in an LRU
cache: a screen that shows the same label every frame renders it once. DejaVu Sans is used when
the system has it (Raspberry Pi OS ships it); otherwise pygame's bundled font.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import pygame

_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"))


def _font_file(bold: bool) -> str | None:
    name = "DejaVuSans-Bold.ttf" if bold else "DejaVuSans.ttf"
    for d in _FONT_DIRS:
        if (d / name).exists():
            return str(d / name)
    return None


class Text:
    """Font and surface caches shared by every screen."""

    def __init__(self, max_items: int = 768) -> None:
        if not pygame.font.get_init():
            pygame.font.init()
        self._fonts: dict[tuple[int, bool], pygame.font.Font] = {}
        self._cache: OrderedDict[tuple, pygame.Surface] = OrderedDict()
        self._wrap: OrderedDict[tuple, list[str]] = OrderedDict()
        self.max_items = max_items
        self.truncations: list[str] = []      # labels that did not fit even at the min size

    def font(self, size: int, bold: bool = False) -> pygame.font.Font:
        key = (size, bold)
        f = self._fonts.get(key)
        if f is None:
            f = pygame.font.Font(_font_file(bold), size)
            self._fonts[key] = f
        return f

    def render(self, text: str, size: int, color: tuple[int, int, int],
               bold: bool = False) -> pygame.Surface:
        key = (text, size, color, bold)
        surf = self._cache.get(key)
        if surf is None:
            surf = self.font(size, bold).render(text, True, color)
            self._cache[key] = surf
            if len(self._cache) > self.max_items:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        return surf

    def width(self, text: str, size: int, bold: bool = False) -> int:
        return self.font(size, bold).size(text)[0]

    def fit(self, text: str, size: int, color: tuple[int, int, int], max_w: int,
            bold: bool = False, min_size: int = 14) -> pygame.Surface:
        """The text at the largest size <= ``size`` that fits ``max_w``; else ellipsised."""
        s = size
        while s > min_size and self.width(text, s, bold) > max_w:
            s -= 1
        if self.width(text, s, bold) <= max_w:
            return self.render(text, s, color, bold)
        self.truncations.append(text)
        cut = text
        while cut and self.width(cut + "…", s, bold) > max_w:
            cut = cut[:-1]
        return self.render(cut.rstrip() + "…", s, color, bold)

    def wrap(self, text: str, size: int, max_w: int, bold: bool = False) -> list[str]:
        """Greedy word wrap (explicit newlines kept); cached."""
        key = (text, size, max_w, bold)
        lines = self._wrap.get(key)
        if lines is not None:
            return lines
        font = self.font(size, bold)
        lines = []
        for para in text.split("\n"):
            line = ""
            for word in para.split():
                trial = f"{line} {word}" if line else word
                if font.size(trial)[0] <= max_w or not line:
                    line = trial
                else:
                    lines.append(line)
                    line = word
            lines.append(line)
        self._wrap[key] = lines
        if len(self._wrap) > self.max_items:
            self._wrap.popitem(last=False)
        return lines

    def draw(self, surf: pygame.Surface, text: str, size: int, color: tuple[int, int, int],
             pos: tuple[int, int], anchor: str = "topleft", bold: bool = False,
             max_w: int | None = None) -> pygame.Rect:
        """Blit one line at ``pos`` by ``anchor`` (a pygame.Rect attribute name)."""
        img = (self.fit(text, size, color, max_w, bold) if max_w is not None
               else self.render(text, size, color, bold))
        rect = img.get_rect(**{anchor: pos})
        surf.blit(img, rect)
        return rect

    def draw_block(self, surf: pygame.Surface, text: str, size: int,
                   color: tuple[int, int, int], rect: pygame.Rect, *, bold: bool = False,
                   align: str = "left", valign: str = "top", min_size: int = 14,
                   spacing: float = 1.2) -> int:
        """Wrapped text inside ``rect``, shrinking the type until it fits; returns lines used."""
        s = size
        while True:
            lines = self.wrap(text, s, rect.w, bold)
            line_h = round(self.font(s, bold).get_linesize() * spacing / 1.2)
            if len(lines) * line_h <= rect.h or s <= min_size:
                break
            s -= 1
        total = len(lines) * line_h
        y = rect.y + {"top": 0, "middle": (rect.h - total) // 2, "bottom": rect.h - total}[valign]
        for line in lines:
            if y + line_h > rect.bottom + line_h // 3:
                self.truncations.append(text)
                break
            img = self.render(line, s, color, bold)
            x = {"left": rect.x, "center": rect.centerx - img.get_width() // 2,
                 "right": rect.right - img.get_width()}[align]
            surf.blit(img, (x, y))
            y += line_h
        return len(lines)
