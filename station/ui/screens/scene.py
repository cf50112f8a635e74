"""Drawing a drill's ``Display.scene``: the extra shapes training games hand the screen.

Drills document their own scene keys; this draws the shapes they share by naming convention
(SI units): a key ending in ``_m`` holding a list of points is a path or track (``segment_m``
is the part to follow now, ``half_width_m`` its tolerance), one point is a marker, ``los_m``
is the limits of stability (forward, back, side); ``target_pct``/``band_pct`` with a current
``*_pct`` share is drawn as a bar meter. Unknown keys are ignored, so a new drill still runs
with the cursor and targets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pygame

from station.ui import theme
from station.ui.text import Text

ToPx = Callable[[float, float], tuple[int, int]]


def _points(v: Any) -> list[tuple[float, float]] | None:
    try:
        pts = [(float(p[0]), float(p[1])) for p in v]
    except (TypeError, ValueError, IndexError):
        return None
    return pts if len(pts) >= 2 else None


def _point(v: Any) -> tuple[float, float] | None:
    try:
        if len(v) == 2 and all(isinstance(c, int | float) for c in v):
            return float(v[0]), float(v[1])
    except TypeError:
        return None
    return None


def draw(surf: pygame.Surface, scene: dict[str, Any], to_px: ToPx, scale: float,
         view: pygame.Rect, text: Text, layout: theme.Layout) -> None:
    """``scale``: pixels per metre of the view."""
    L = layout
    los = scene.get("los_m")
    if isinstance(los, list | tuple) and len(los) == 3:
        fwd, back, side = (float(v) for v in los)
        pts = []
        for i in range(73):
            a = 2 * math.pi * i / 72
            x, y = math.cos(a), math.sin(a)
            pts.append(to_px(side * x, (fwd if y > 0 else back) * y))
        pygame.draw.lines(surf, theme.DIM, True, pts, max(1, L.px(2)))
    for key, value in scene.items():
        if not key.endswith("_m") or key in ("los_m", "segment_m"):
            continue
        pts = _points(value)
        if pts is not None and _point(value) is None:
            closed = bool(scene.get("closed")) and key == "path_m"
            pygame.draw.lines(surf, theme.LINE, closed, [to_px(*p) for p in pts],
                              max(2, L.px(4)))
            continue
        p = _point(value)
        if p is not None:
            c = to_px(*p)
            r = L.px(12)
            pygame.draw.polygon(surf, theme.TARGET, [(c[0], c[1] - r), (c[0] + r, c[1]),
                                                     (c[0], c[1] + r), (c[0] - r, c[1])],
                                max(2, L.px(4)))
    seg = _points(scene.get("segment_m"))
    if seg is not None:
        width = float(scene.get("half_width_m") or 0.005) * 2 * scale
        pygame.draw.lines(surf, theme.TARGET, False, [to_px(*p) for p in seg],
                          max(3, round(width)))
    _meter(surf, scene, view, text, L)


def _meter(surf: pygame.Surface, scene: dict[str, Any], view: pygame.Rect, text: Text,
           L: theme.Layout) -> None:
    target = scene.get("target_pct")
    if not isinstance(target, int | float):
        return
    current = next((v for k, v in scene.items() if k.endswith("_pct") and k not in
                    ("target_pct", "band_pct") and isinstance(v, int | float)), None)
    band = float(scene.get("band_pct") or 0.0)
    bar = pygame.Rect(view.x + L.px(20), view.bottom - L.px(62), view.w - L.px(40), L.px(26))
    pygame.draw.rect(surf, theme.PANEL_HI, bar, border_radius=L.px(6))

    def x_of(pct: float) -> int:
        return round(bar.x + min(max(pct, 0.0), 100.0) / 100 * bar.w)

    lo, hi = x_of(target - band), x_of(target + band)
    pygame.draw.rect(surf, (28, 80, 52), (lo, bar.y, max(2, hi - lo), bar.h))
    pygame.draw.line(surf, theme.HIT, (x_of(target), bar.y - L.px(4)),
                     (x_of(target), bar.bottom + L.px(4)), max(2, L.px(3)))
    if current is not None:
        c = (x_of(float(current)), bar.centery)
        pygame.draw.circle(surf, theme.CURSOR, c, L.px(12))
        text.draw(surf, f"{float(current):.0f} %", L.font("body"), theme.TEXT,
                  (c[0], bar.y - L.px(6)), "midbottom", bold=True)
    side = scene.get("affected_side")
    if isinstance(side, str):
        text.draw(surf, f"Weight on the {side} leg", L.font("small"), theme.MUTED,
                  (bar.x, bar.bottom + L.px(2)))
