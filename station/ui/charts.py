"""Plots drawn straight with pygame: the statokinesigram with its ellipse, and trend lines.

Drawn once into the screen's static layer, so their cost does not matter per frame; no
matplotlib in the kiosk process (it would add seconds to start-up on a Pi).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pygame

from station.analysis.areas import prediction_ellipse
from station.analysis.validation import AnalysisError
from station.ui import theme
from station.ui.metrics import NormRange
from station.ui.text import Text

NICE = (0.5, 1.0, 2.0, 2.5, 5.0, 10.0, 20.0, 50.0)


def nice_ceil(x: float) -> float:
    return next((n for n in NICE if n >= x), NICE[-1])


def statokinesigram(surf: pygame.Surface, rect: pygame.Rect, traces: Sequence[tuple[str,
                    np.ndarray]], text: Text, layout: theme.Layout) -> list[float]:
    """COP paths (cm grid, common centre) and each one's 95 % prediction ellipse.

    Returns the ellipse areas (cm², NaN where one cannot be computed)."""
    L = layout
    pygame.draw.rect(surf, theme.PANEL, rect, border_radius=L.px(10))
    colours = (theme.TRACE_A, theme.TRACE_B, theme.HIT, theme.TARGET)
    usable = [(name, np.asarray(c, float)) for name, c in traces if len(c) >= 3]
    plot = rect.inflate(-2 * L.px(14), -2 * L.px(14))
    plot.h -= L.px(26)
    if not usable:
        text.draw(surf, "No complete trial to plot", L.font("body"), theme.MUTED, rect.center,
                  "center")
        return []
    centre = np.mean(np.concatenate([c for _, c in usable]), axis=0)
    reach = max(float(np.max(np.abs(c - centre))) for _, c in usable) * 100 * 1.15
    half_cm = nice_ceil(max(reach, 0.5))
    side = min(plot.w, plot.h)
    box = pygame.Rect(0, 0, side, side)
    box.midtop = (plot.centerx, plot.y)
    k = (side / 2) / half_cm

    def px(p: np.ndarray) -> np.ndarray:
        d = (p - centre) * 100 * k
        return np.column_stack([box.centerx + d[:, 0], box.centery - d[:, 1]])

    step = half_cm / 2
    for i in range(-2, 3):
        off = round(i * step * k)
        col = theme.LINE if i == 0 else theme.PANEL_HI
        pygame.draw.line(surf, col, (box.centerx + off, box.y), (box.centerx + off, box.bottom))
        pygame.draw.line(surf, col, (box.x, box.centery + off), (box.right, box.centery + off))
    areas = []
    for i, (_, c) in enumerate(usable):
        col = colours[i % len(colours)]
        pts = px(c[:: max(1, len(c) // 600)])
        pygame.draw.aalines(surf, col, False, pts.tolist())
        try:
            e = prediction_ellipse(c)
        except AnalysisError:
            areas.append(math.nan)
            continue
        areas.append(e.area_m2 * 1e4)
        pygame.draw.lines(surf, theme.TEXT if len(usable) == 1 else col, True,
                          px(e.outline(90)).tolist(), max(2, L.px(3)))
    y = box.bottom + L.px(6)
    x = plot.x
    for i, (name, _) in enumerate(usable):
        col = colours[i % len(colours)]
        pygame.draw.rect(surf, col, (x, y + L.px(6), L.px(16), L.px(8)))
        r = text.draw(surf, name, L.font("small"), theme.TEXT, (x + L.px(22), y))
        x = r.right + L.px(16)
    text.draw(surf, f"grid {step:g} cm", L.font("small"), theme.MUTED,
              (box.x + L.px(4), box.y + L.px(2)))
    return areas


def trend(surf: pygame.Surface, rect: pygame.Rect, values: Sequence[float], dates: Sequence[str],
          title: str, unit: str, norm: NormRange | None, text: Text,
          layout: theme.Layout) -> None:
    """One measure across sessions: points joined by a line, the latest value, a normal band."""
    L = layout
    pygame.draw.rect(surf, theme.PANEL, rect, border_radius=L.px(10))
    vals = np.asarray(values, float)
    ok = np.isfinite(vals)
    text.draw(surf, title, L.font("body"), theme.TEXT, (rect.x + L.px(12), rect.y + L.px(8)),
              bold=True, max_w=rect.w - L.px(24))
    if not ok.any():
        return
    plot = pygame.Rect(rect.x + L.px(70), rect.y + L.px(44), rect.w - L.px(200),
                       rect.h - L.px(72))
    lo, hi = float(np.min(vals[ok])), float(np.max(vals[ok]))
    if norm is not None:
        lo, hi = min(lo, norm.lo), max(hi, norm.hi)
    if hi - lo < 1e-9:
        lo, hi = lo - max(abs(lo) * 0.25, 0.5), hi + max(abs(hi) * 0.25, 0.5)
    pad = (hi - lo) * 0.1
    lo, hi = lo - pad, hi + pad

    def y_of(v: float) -> int:
        return round(plot.bottom - (v - lo) / (hi - lo) * plot.h)

    if norm is not None:
        band = pygame.Rect(plot.x, y_of(norm.hi), plot.w, y_of(norm.lo) - y_of(norm.hi))
        pygame.draw.rect(surf, (28, 64, 44), band)
        text.draw(surf, "normal", L.font("small"), theme.HIT, (plot.right, band.y), "topright")
    for v in (lo + pad, hi - pad):
        text.draw(surf, f"{v:.3g}", L.font("small"), theme.MUTED, (plot.x - L.px(8), y_of(v)),
                  "midright")
        pygame.draw.line(surf, theme.PANEL_HI, (plot.x, y_of(v)), (plot.right, y_of(v)))
    n = len(vals)
    xs = [plot.x + (plot.w * i // max(1, n - 1) if n > 1 else plot.w // 2) for i in range(n)]
    pts = [(xs[i], y_of(vals[i])) for i in range(n) if ok[i]]
    if len(pts) > 1:
        pygame.draw.lines(surf, theme.TRACE_A, False, pts, max(2, L.px(3)))
    for p in pts:
        pygame.draw.circle(surf, theme.TEXT, p, max(3, L.px(5)))
    last = pts[-1]
    text.draw(surf, f"{vals[ok][-1]:.3g} {unit}".strip(), L.font("body"), theme.TEXT,
              (last[0] + L.px(12), last[1]), "midleft", bold=True,
              max_w=rect.right - last[0] - L.px(20))
    if dates:
        text.draw(surf, dates[0], L.font("small"), theme.MUTED, (plot.x, plot.bottom + L.px(4)))
        if n > 1:
            text.draw(surf, dates[-1], L.font("small"), theme.MUTED,
                      (plot.right, plot.bottom + L.px(4)), "topright")
