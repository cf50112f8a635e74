"""Patient history: trend plots of a drill's key measures across sessions."""

from __future__ import annotations

from typing import Any

import pygame

from station.drills import registry
from station.ui import charts, metrics, theme
from station.ui.screens.base import Screen
from station.ui.screens.results import short_date

TABS = 4


class History(Screen):
    name = "history"
    title = "History"
    back_to = "drills"

    def setup(self, drill: str | None = None, **_: Any) -> None:
        app = self.app
        self.code = app.visit.code if app.visit else ""
        done = [r for r in app.history.results(self.code) if r.complete]
        order: list[str] = []
        for r in reversed(done):
            if r.drill not in order:
                order.append(r.drill)
        self.drills = order[:TABS]
        self.drill = drill if drill in order else (order[0] if order else None)
        if self.drill and self.drill not in self.drills:
            self.drills = [self.drill, *self.drills[:TABS - 1]]
        self.results = [r for r in done if r.drill == self.drill]

    def heading(self) -> str:
        n = len(self.results)
        return f"History · {n} result{'s' if n != 1 else ''}" if n else "History"

    def layout_buttons(self) -> None:
        L = self.L
        titles = {r.drill: r.title for r in self.app.history.results(self.code)}
        if len(self.drills) > 1:
            w = (L.w - 2 * L.pad - (TABS - 1) * L.px(8)) // TABS
            for i, name in enumerate(self.drills):
                rect = pygame.Rect(L.pad + i * (w + L.px(8)), L.top_h + L.px(8), w, L.px(52))
                self.add(f"tab:{name}", rect, titles.get(name, name),
                         lambda n=name: self.show(n), size="body",
                         style="selected" if name == self.drill else "secondary")

    def show(self, name: str) -> None:
        self.setup(drill=name)
        self.refresh()

    def draw_content(self, surf: pygame.Surface) -> None:
        L = self.L
        top = L.top_h + (L.px(68) if len(self.drills) > 1 else L.px(8))
        area = pygame.Rect(L.pad, top, L.w - 2 * L.pad, L.h - top - L.pad)
        if not self.results:
            self.text.draw_block(surf, "No finished drills yet for this patient: results "
                                 "appear here after each drill.", L.font("label"), theme.MUTED,
                                 area.inflate(-L.px(80), -L.px(120)), align="center",
                                 valign="middle")
            return
        cls = registry.available().get(self.drill or "")
        keys: list[str] = []
        for r in reversed(self.results):
            for k in metrics.key_metrics(cls, r.scores, 4):
                if k not in keys:
                    keys.append(k)
        keys = keys[:4]
        gap = L.px(10)
        cols = 2 if len(keys) > 1 else 1
        rows = -(-len(keys) // cols)
        w = (area.w - (cols - 1) * gap) // cols
        h = (area.h - (rows - 1) * gap) // max(1, rows)
        dates = [short_date(r.started_utc) for r in self.results]
        for i, key in enumerate(keys):
            rect = pygame.Rect(area.x + (i % cols) * (w + gap), area.y + (i // cols) * (h + gap),
                               w, h)
            name, cond, unit = metrics.parts(key)
            label = f"{name}, {cond}" if cond else name
            values = [float(r.scores.get(key, float("nan"))) if isinstance(
                r.scores.get(key), int | float) else float("nan") for r in self.results]
            charts.trend(surf, rect, values, dates, label, unit,
                         self.app.norms(self.drill or "", key), self.text, L)
