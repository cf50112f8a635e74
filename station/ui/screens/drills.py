"""Drill pick (cards from the registry) and drill parameters (therapist-adjustable)."""

from __future__ import annotations

import math
from typing import Any

import pygame

from station.drills import registry
from station.drills.base import Drill, Param
from station.ui import metrics, theme
from station.ui.screens.base import Screen
from station.ui.screens.patients import ago
from station.ui.visit import DrillRun, drill_context

CARDS = 6
COLS = 3


def drill_classes() -> dict[str, type[Drill]]:
    """The registry, read at each visit to the screen: drills added as modules just appear."""
    return registry.available()


def takes_level(cls: type[Drill]) -> bool:
    """Does the drill take a starting level as a parameter (the adaptive games do)?"""
    return any(p.name == "level" for p in cls.params)


def supports_level(cls: type[Drill]) -> bool:
    """A drill without a level parameter that can still be set to one."""
    return not takes_level(cls) and callable(getattr(cls, "set_level", None))


class DrillPick(Screen):
    name = "drills"
    title = "Choose a drill"
    back_to = "patients"

    def setup(self, page: int = 0, **_: Any) -> None:
        self.page = page
        self.classes = drill_classes()

    def layout_buttons(self) -> None:
        L = self.L
        names = list(self.classes)
        self.pages = max(1, -(-len(names) // CARDS))
        self.page = min(self.page, self.pages - 1)
        gap = L.px(10)
        w = (L.w - 2 * L.pad - (COLS - 1) * gap) // COLS
        h = (L.h - L.top_h - L.bar_h - L.pad - gap) // 2
        for i, name in enumerate(names[self.page * CARDS:(self.page + 1) * CARDS]):
            rect = pygame.Rect(L.pad + (i % COLS) * (w + gap),
                               L.top_h + L.pad + (i // COLS) * (h + gap), w, h)
            self.add(f"drill:{name}", rect, "", lambda n=name: self.app.goto("params", drill=n),
                     style="none")
        self.add("end_visit", L.bar_slot("left", 180), "End visit", lambda: self.app.goto("home"))
        hist = L.bar_slot("left", 180).move(L.px(192), 0)
        self.add("history", hist, "History", lambda: self.app.goto("history"))
        if self.pages > 1:
            nxt = L.bar_slot("right", 90)
            self.add("page_down", nxt, "", self.flip, icon="next")

    def flip(self) -> None:
        self.page = (self.page + 1) % self.pages
        self.refresh()

    def draw_content(self, surf: pygame.Surface) -> None:
        L, app = self.L, self.app
        code = app.visit.code if app.visit else None
        nxt = self.button("page_down")
        if nxt is not None:
            self.text.draw(surf, f"Page {self.page + 1} of {self.pages}", L.font("body"),
                           theme.MUTED, (nxt.rect.x - L.px(14), nxt.rect.centery), "midright")
        for b in self.buttons:
            if not b.id.startswith("drill:"):
                continue
            cls = self.classes[b.id[6:]]
            r = b.rect
            pygame.draw.rect(surf, theme.PANEL_HI, r, border_radius=L.px(12))
            inner = r.inflate(-2 * L.px(14), -2 * L.px(10))
            kind = "Training" if cls.kind == "training" else "Assessment"
            chip = self.text.render(kind, L.font("small"), theme.BLACK, True)
            cr = chip.get_rect(topleft=(inner.x, inner.y)).inflate(L.px(14), L.px(6))
            cr.topleft = inner.topleft
            pygame.draw.rect(surf, theme.TARGET if cls.kind == "training" else theme.AMBER, cr,
                             border_radius=L.px(6))
            surf.blit(chip, chip.get_rect(center=cr.center))
            title = pygame.Rect(inner.x, cr.bottom + L.px(6), inner.w,
                                inner.bottom - L.px(26) - cr.bottom - L.px(6))
            self.text.draw_block(surf, cls.title or cls.name, L.font("body"), theme.TEXT, title,
                                 bold=True, min_size=L.font("small"), spacing=1.1)
            last = app.history.last(code, cls.name) if code else None
            level = app.levels.get(code or "", {}).get(cls.name)
            if last is not None:
                line = metrics.headline(cls, last.scores) or "done"
                when = ago(last.started_utc)
                line = f"{when[:1].upper() + when[1:]} · {line}" if when else f"Last: {line}"
            else:
                line = "Not done yet"
            self.text.draw(surf, line, L.font("small"), theme.MUTED,
                           (inner.x, inner.bottom), "bottomleft", max_w=inner.w)
            if level is not None:
                self.text.draw(surf, f"Level {level:.2f}", L.font("small"), theme.TEXT,
                               (inner.right, cr.centery), "midright", bold=True)


def step_for(p: Param) -> float:
    span = p.hi - p.lo
    if all(float(v).is_integer() for v in (p.lo, p.hi, p.default)) and span <= 20:
        return 1.0
    if p.unit == "s":
        return 5.0 if span >= 30 else 1.0
    raw = span / 20
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    return next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)


def show_value(value: float, p: Param) -> str:
    if (p.lo, p.hi) == (0.0, 1.0) and step_for(p) == 1.0:
        return "On" if value >= 0.5 else "Off"
    text = f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}".rstrip("0")
    return f"{text} {p.unit}".strip()


ACRONYMS = {"los": "LOS", "cop": "COP", "ml": "ML", "ap": "AP", "rms": "RMS"}


def pretty(name: str) -> str:
    for unit in ("_s", "_m", "_cm", "_deg", "_kg", "_pct", "_hz"):
        if name.endswith(unit):
            name = name[: -len(unit)]
            break
    words = [ACRONYMS.get(w, w) for w in name.split("_")]
    text = " ".join(words)
    return text[:1].upper() + text[1:]


LEVEL = Param("level", 0.3, 0.0, 1.0, "", "Difficulty (0 easy - 1 hard); adapts as the patient "
              "succeeds.")
ROWS = 4


class Params(Screen):
    name = "params"
    title = "Drill settings"
    back_to = "drills"

    def setup(self, drill: str = "", **_: Any) -> None:
        classes = drill_classes()
        self.cls = classes.get(drill) or next(iter(classes.values()))
        self.params = list(self.cls.params)
        code = self.app.visit.code if self.app.visit else ""
        if supports_level(self.cls):
            self.params.append(LEVEL)
        stored = self.app.levels.get(code, {}).get(self.cls.name)
        self.values = {p.name: p.default for p in self.params}
        if stored is not None and "level" in self.values:
            self.values["level"] = stored
        self.page = 0

    def heading(self) -> str:
        return self.cls.title or self.cls.name

    def layout_buttons(self) -> None:
        L = self.L
        row_h = L.px(74)
        pages = max(1, -(-len(self.params) // ROWS))
        self.page = min(self.page, pages - 1)
        for i, p in enumerate(self.params[self.page * ROWS:(self.page + 1) * ROWS]):
            y = L.top_h + L.px(8) + i * row_h
            v = self.values[p.name]
            self.add(f"minus:{p.name}", pygame.Rect(L.px(470), y + L.px(6), L.px(76), L.px(60)),
                     "", lambda p=p: self.change(p, -1), icon="minus", enabled=v > p.lo)
            self.add(f"plus:{p.name}", pygame.Rect(L.w - L.pad - L.px(76), y + L.px(6),
                                                   L.px(76), L.px(60)),
                     "", lambda p=p: self.change(p, +1), icon="plus", enabled=v < p.hi)
        self.add("defaults", L.bar_slot("left", 170), "Defaults", self.defaults)
        if pages > 1:
            self.add("page_down", L.bar_slot("left", 90).move(L.px(182), 0), "", self.flip,
                     icon="next")
        self.add("go", L.bar_slot("right", 260), "Start drill", self.start, style="go",
                 icon="play")

    def flip(self) -> None:
        self.page += 1
        if self.page * ROWS >= len(self.params):
            self.page = 0
        self.refresh()

    def change(self, p: Param, sign: int) -> None:
        step = step_for(p)
        v = round((self.values[p.name] + sign * step) / step) * step
        self.values[p.name] = min(p.hi, max(p.lo, round(v, 6)))
        self.refresh()

    def defaults(self) -> None:
        self.values = {p.name: p.default for p in self.params}
        self.refresh()

    def start(self) -> None:
        app = self.app
        values = {k: v for k, v in self.values.items() if k != "level" or takes_level(self.cls)}
        ctx = drill_context(app.config, app.station, app.snapshot.weight_kg, app.simulated)
        drill = self.cls(ctx, **values)
        if supports_level(self.cls):
            drill.set_level(self.values["level"])       # type: ignore[attr-defined]
        run = DrillRun(drill, station=app.station, visit=app.visit, play=app.audio.play,
                       simulated=app.simulated, now_ns=app.station.clock.monotonic_ns())
        app.goto("run", run=run)

    def draw_content(self, surf: pygame.Surface) -> None:
        L = self.L
        row_h = L.px(74)
        nxt = self.button("page_down")
        if nxt is not None:
            pages = -(-len(self.params) // ROWS)
            self.text.draw(surf, f"Page {self.page + 1} of {pages}", L.font("body"),
                           theme.MUTED, (nxt.rect.right + L.px(14), nxt.rect.centery), "midleft")
        for i, p in enumerate(self.params[self.page * ROWS:(self.page + 1) * ROWS]):
            y = L.top_h + L.px(8) + i * row_h
            if i:
                pygame.draw.line(surf, theme.PANEL_HI, (L.pad, y), (L.w - L.pad, y))
            self.text.draw(surf, pretty(p.name), L.font("label"), theme.TEXT,
                           (L.pad + L.px(4), y + L.px(4)), bold=True, max_w=L.px(440))
            self.text.draw_block(surf, p.doc, L.font("small"), theme.MUTED,
                                 pygame.Rect(L.pad + L.px(4), y + L.px(34), L.px(444), L.px(38)),
                                 min_size=L.px(14), spacing=1.0)
            cx = (L.px(546) + L.w - L.pad - L.px(76)) // 2
            self.text.draw(surf, show_value(self.values[p.name], p), L.font("title"), theme.TEXT,
                           (cx, y + L.px(36)), "center", bold=True, max_w=L.px(150))
