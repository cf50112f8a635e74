"""Results of a drill: its scores, the statokinesigram with its 95 % ellipse, the comparison
with the patient's last session, and the normal range where the clinic has one on file."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pygame

from station.drills import registry
from station.ui import charts, metrics, theme
from station.ui.screens.base import Screen
from station.ui.store import Result
from station.ui.visit import DrillRun


def short_date(utc: str) -> str:
    try:
        return dt.datetime.fromisoformat(utc.replace("Z", "+00:00")).strftime("%d %b")
    except ValueError:
        return ""


class Results(Screen):
    name = "results"
    title = "Results"

    def setup(self, run: DrillRun | None = None, **_: Any) -> None:
        if run is None:
            raise ValueError("the results screen needs a finished drill run")
        self.run = run
        app = self.app
        self.scores = dict(run.scores or {})
        self.cls = registry.available().get(run.drill.name, type(run.drill))
        self.keys = metrics.key_metrics(self.cls, self.scores, 6)
        code = app.visit.code if app.visit else (run.result.patient if run.result else "")
        session = run.result.session_id if run.result else None
        self.previous: Result | None = app.history.last(code, run.drill.name,
                                                        exclude_session=session)
        self.norms = {k: app.norms(run.drill.name, k) for k in self.keys}
        self.traces = run.trial_traces()

    def heading(self) -> str:
        return f"Results · {self.run.drill.title}"

    def layout_buttons(self) -> None:
        L = self.L
        name = self.run.drill.name
        self.add("repeat", L.bar_slot("left", 170), "Repeat",
                 lambda: self.app.goto("params", drill=name))
        self.add("history", L.bar_slot("left", 170).move(L.px(182), 0), "History",
                 lambda: self.app.goto("history", drill=name))
        self.add("next", L.bar_slot("right", 250), "Next drill", lambda: self.app.goto("drills"),
                 style="primary", icon="next")

    def draw_content(self, surf: pygame.Surface) -> None:
        L = self.L
        content = L.content()
        has_norm = any(n is not None for n in self.norms.values())
        plot = pygame.Rect(L.pad, content.y + L.pad, L.px(280 if has_norm else 330),
                           content.h - 2 * L.pad)
        charts.statokinesigram(surf, plot, self.traces, self.text, L)
        x0 = plot.right + L.px(16)
        right = L.w - L.pad
        # right edges of the value columns: now, last time (+ arrow), normal range
        cols = ([right - L.px(196), right - L.px(100), right] if has_norm
                else [right - L.px(140), right - L.px(8)])
        label_w = cols[0] - L.px(72) - x0
        y = content.y + L.px(6)
        heads = ["Now", "Last", "Normal"] if has_norm else ["Now", "Last time"]
        for i, h in enumerate(heads):
            self.text.draw(surf, h, L.font("small"), theme.MUTED,
                           (cols[i] - (L.px(22) if i == 1 else 0), y), "topright")
        y += L.px(24)
        row_h = L.px(46)
        prev = self.previous.scores if self.previous else {}
        if not self.keys:
            box = pygame.Rect(x0, y, right - x0, L.px(120))
            self.text.draw_block(surf, "No scores: the drill was stopped before a trial "
                                 "finished.", L.font("label"), theme.TEXT, box)
        for key in self.keys:
            name, cond, unit = metrics.parts(key)
            pygame.draw.line(surf, theme.PANEL_HI, (x0, y), (right, y))
            self.text.draw(surf, name, L.font("body"), theme.TEXT, (x0, y + L.px(2)), bold=True,
                           max_w=label_w)
            detail = " · ".join(w for w in (cond, unit) if w)
            self.text.draw(surf, detail, L.font("small"), theme.MUTED, (x0, y + L.px(25)),
                           max_w=label_w)
            now = self.scores.get(key)
            self.text.draw(surf, metrics.fmt(now), L.font("title"), theme.TEXT,
                           (cols[0], y + row_h // 2), "midright", bold=True)
            before = prev.get(key)
            self.text.draw(surf, metrics.fmt(before), L.font("label"), theme.MUTED,
                           (cols[1] - L.px(22), y + row_h // 2), "midright")
            self._arrow(surf, now, before, (cols[1] - L.px(8), y + row_h // 2))
            norm = self.norms.get(key)
            if has_norm:
                txt = f"{metrics.fmt(norm.lo)}–{metrics.fmt(norm.hi)}" if norm else "–"
                self.text.draw(surf, txt, L.font("body"), theme.MUTED, (cols[2], y + row_h // 2),
                               "midright", max_w=L.px(100))
            y += row_h
        self._footer(surf, x0, right, content.bottom - L.px(4), has_norm)

    def _arrow(self, surf: pygame.Surface, now: Any, before: Any, c: tuple[int, int]) -> None:
        if not all(isinstance(v, int | float) and math.isfinite(v) for v in (now, before)):
            return
        if abs(now - before) <= 1e-3 * max(abs(before), 1e-9):
            return
        s = self.L.px(7)
        up = now > before
        pts = ([(c[0], c[1] - s), (c[0] - s, c[1] + s // 2), (c[0] + s, c[1] + s // 2)] if up
               else [(c[0], c[1] + s), (c[0] - s, c[1] - s // 2), (c[0] + s, c[1] - s // 2)])
        pygame.draw.polygon(surf, theme.TEXT, pts)

    def _footer(self, surf: pygame.Surface, x0: int, right: int, bottom: int,
                has_norm: bool) -> None:
        L = self.L
        notes = []
        if self.run.result is not None and not self.run.result.complete:
            notes.append("Stopped early")
        if self.previous is not None:
            notes.append(f"last time: {short_date(self.previous.started_utc)}")
        else:
            notes.append("first time")
        if not has_norm:
            notes.append("no norms on file")
        self.text.draw(surf, " · ".join(notes), L.font("small"), theme.MUTED, (x0, bottom),
                       "bottomleft", max_w=right - x0)
