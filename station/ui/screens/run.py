"""Drill run: the patient's view (prompt, plate with cursor and targets, timer) and the
therapist's controls. Pause and Stop are always on screen, one tap each.

The plate, its footprints, the grid and the buttons are a cached layer; a frame only draws the
cursor, its short trail, the targets, the prompt and the timer over it. In an assessment
without targets (quiet stance) the patient must not see their own sway while a trial runs:
the big view shows the fixation dot the prompt talks about, and the live COP stays on the
therapist's small monitor.
"""

from __future__ import annotations

import dataclasses
import math
from collections import deque
from typing import Any

import numpy as np
import pygame

from station.drills.base import Display, Phase
from station.ui import theme
from station.ui.faults import Fault
from station.ui.live import Snapshot
from station.ui.screens import scene as scene_mod
from station.ui.screens.base import Screen
from station.ui.visit import DrillRun

TRAIL = 40                    # samples of trail behind the cursor (0.5 s at 80 Hz)
DONE_HOLD_S = 1.5             # "Well done" stays this long before the results
ASK_WORDS = {("vision", "closed"): "Eyes closed", ("vision", "open"): "Eyes open",
             ("stance", "both"): "Both feet", ("stance", "left"): "Left leg",
             ("stance", "right"): "Right leg", ("surface", "foam"): "On foam",
             ("action", "squat"): "Squat"}


def mmss(seconds: float) -> str:
    s = max(0, math.ceil(seconds - 1e-9))
    return f"{s // 60}:{s % 60:02d}"


class Run(Screen):
    name = "run"
    title = "Drill"

    def setup(self, run: DrillRun | None = None, **_: Any) -> None:
        if run is None:
            raise ValueError("the run screen needs a drill run")
        self.run = run
        self.d: Display = run.display
        self._trail: deque[tuple[float, float]] = deque(maxlen=TRAIL)
        self._state: tuple = ()
        self._done_s = 0.0
        drill = run.drill
        self.tilt_mode = "board_target_rad" in self.d.ask
        ctx = drill.context
        self.half = (ctx.max_tilt_rad if self.tilt_mode else
                     float(getattr(drill, "view_half_m", max(ctx.span_ml_m, ctx.span_ap_m) / 2)))
        self._state = self._ui_state()

    def heading(self) -> str:
        return self.run.drill.title

    # ------------------------------------------------------------------ geometry
    def view(self) -> pygame.Rect:
        L = self.L
        left_w = L.px(480)
        top = L.px(76)
        side = min(left_w - 2 * L.pad, L.h - top - L.pad)
        return pygame.Rect((left_w - side) // 2, top, side, side)

    def monitor(self) -> pygame.Rect:
        L = self.L
        return pygame.Rect(L.px(496), L.px(156), L.px(132), L.px(132))

    def to_px(self, x: float, y: float, rect: pygame.Rect | None = None) -> tuple[int, int]:
        """Plate (or tilt) coordinates to screen pixels: right is right, forward is up."""
        r = rect or self.view()
        k = (r.w / 2) / self.half
        return round(r.centerx + x * k), round(r.centery - y * k)

    def banner_rect(self) -> pygame.Rect:
        return pygame.Rect(0, 0, self.L.px(480), self.L.px(72))

    # ------------------------------------------------------------------ state
    def _fault_pause(self) -> bool:
        return any(f.pauses for f in self.app.faults)

    def _ui_state(self) -> tuple:
        d = self.d
        return (d.phase, self._fault_pause() and d.phase is Phase.PAUSED,
                self.app.snapshot.weight_kg is None, tuple(t.state for t in d.targets))

    def layout_buttons(self) -> None:
        L, d = self.L, self.d
        x, w = L.px(496), L.w - L.px(496) - L.pad
        main = pygame.Rect(x, L.px(300), w, L.px(86))
        stop = pygame.Rect(x, L.px(396), w, L.h - L.px(396) - L.pad)
        phase = d.phase
        if phase is Phase.INSTRUCTIONS:
            off = self.app.snapshot.weight_kg is None
            self.add("main", main, "Start", self.start, style="go", icon="play",
                     sub="Step on the plate first" if off else "", enabled=not off)
        elif phase is Phase.REST:
            self.add("main", main, "Start now", self.start, style="go", icon="play")
        elif phase in (Phase.RUNNING, Phase.COUNTDOWN):
            self.add("main", main, "Pause", self.pause, style="warn", icon="pause")
        elif phase is Phase.PAUSED:
            blocked = self._fault_pause()
            self.add("main", main, "Resume", self.resume, style="go", icon="play",
                     enabled=not blocked, sub="Fix the fault first" if blocked else
                     "Repeats the trial")
        else:
            self.add("main", main, "See results", self.results, style="primary", icon="next")
        self.add("stop", stop, "Stop", self.stop, style="danger", icon="stop",
                 enabled=phase is not Phase.DONE)

    # ------------------------------------------------------------------ actions
    def start(self) -> None:
        w = self.app.snapshot.weight_kg
        drill = self.run.drill
        if w and drill.phase is Phase.INSTRUCTIONS:
            drill.context = dataclasses.replace(drill.context, body_mass_kg=w)
        self.run.command("start")
        self._sync()

    def pause(self) -> None:
        self.run.command("pause")
        self._sync()

    def resume(self) -> None:
        if not self._fault_pause():
            self.run.command("resume")
        self._sync()

    def stop(self) -> None:
        self.run.command("stop")
        self._sync()

    def hardware_button(self, long_press: bool) -> None:
        phase = self.run.drill.phase
        if long_press:
            self.stop()
        elif phase in (Phase.RUNNING, Phase.COUNTDOWN):
            self.pause()
        elif phase is Phase.PAUSED:
            self.resume()

    def results(self) -> None:
        self._finish()
        self.app.goto("results", run=self.run)

    def _finish(self) -> None:
        app = self.app
        if not self.run.done:
            r = self.run.finish(app.station.clock.monotonic_ns(),
                                app.visit.code if app.visit else None)
            if r is not None:
                app.add_result(r, self.run.drill.level)
        app.audio.silence()

    def leave(self) -> None:
        """Leaving mid-drill (an error, the therapist menu) stops and saves it."""
        if not self.run.drill.done:
            self.run.command("stop")
        self._finish()

    def fault_suffix(self, fault: Fault) -> str:
        return "; the drill is paused" if fault.pauses and self.d.phase is Phase.PAUSED else ""

    # ------------------------------------------------------------------ frame
    def _sync(self) -> None:
        self.d = self.run.display
        state = self._ui_state()
        if state != self._state:
            self._state = state
            self.refresh()

    def update(self, dt: float, snap: Snapshot) -> None:
        run = self.run
        if not run.done:
            if self._fault_pause() and run.drill.phase in (Phase.RUNNING, Phase.COUNTDOWN):
                run.command("pause", "sensor_fault")
            run.update(snap, dt)
        cop = snap.samples.cop_m
        if len(cop):
            for p in cop[~np.isnan(cop).any(axis=1)][-TRAIL:]:
                self._trail.append((float(p[0]), float(p[1])))
        if snap.cop_m is None:
            self._trail.clear()
        self._sync()
        d = self.d
        self._feedback(d, snap)
        if d.phase is Phase.DONE:
            self._finish()
            self._done_s += dt
            if self._done_s >= DONE_HOLD_S:
                self.app.goto("results", run=run)

    def _feedback(self, d: Display, snap: Snapshot) -> None:
        """Audio biofeedback while a trial runs: the drill's own tone when it gives one, else
        the distance to the active target. Never during an assessment without targets (the
        patient must not get feedback the test does not intend)."""
        audio = self.app.audio
        spec = getattr(d, "audio", None)
        if d.phase is not Phase.RUNNING:
            audio.silence()
        elif spec:
            audio.tone(spec)
        else:
            pos = d.tilt_rad if self.tilt_mode else snap.cop_m
            active = [t for t in d.targets if t.state == "active"]
            if pos is None or not active:
                audio.feedback(None)
            else:
                t = active[0]
                audio.feedback(math.dist(pos, (t.ml_m, t.ap_m)) / (3 * t.radius_m))

    # ------------------------------------------------------------------ drawing
    def draw_top(self, surf: pygame.Surface) -> None:
        pygame.draw.rect(surf, theme.PANEL, self.banner_rect())

    def draw_content(self, surf: pygame.Surface) -> None:
        L = self.L
        side = pygame.Rect(L.px(480), 0, L.w - L.px(480), L.h)
        pygame.draw.rect(surf, theme.PANEL, side)
        v = self.view()
        pygame.draw.rect(surf, (20, 26, 33), v, border_radius=L.px(10))
        self._draw_field(surf, v, fine=True)
        m = self.monitor()
        pygame.draw.rect(surf, theme.BG, m, border_radius=L.px(6))
        self._draw_field(surf, m, fine=False)
        self.text.draw(surf, "Live", L.font("small"), theme.MUTED,
                       (m.right + L.px(10), m.y + L.px(2)))

    def _draw_field(self, surf: pygame.Surface, r: pygame.Rect, fine: bool) -> None:
        L = self.L
        lw = max(1, L.px(2) if fine else 1)
        if self.tilt_mode:
            for deg in (5, 10, 15, 20):
                rad = math.radians(deg) / self.half * r.w / 2
                if rad <= r.w / 2:
                    pygame.draw.circle(surf, theme.LINE, r.center, round(rad), lw)
            pygame.draw.line(surf, theme.LINE, (r.x, r.centery), (r.right, r.centery), 1)
            pygame.draw.line(surf, theme.LINE, (r.centerx, r.y), (r.centerx, r.bottom), 1)
            return
        ctx = self.run.drill.context
        a, b = ctx.span_ml_m / 2, ctx.span_ap_m / 2
        if fine:
            for cm in range(-20, 21, 5):
                x0, _ = self.to_px(cm / 100, 0, r)
                _, y0 = self.to_px(0, cm / 100, r)
                if r.x < x0 < r.right:
                    pygame.draw.line(surf, theme.PANEL, (x0, r.y), (x0, r.bottom), 1)
                if r.y < y0 < r.bottom:
                    pygame.draw.line(surf, theme.PANEL, (r.x, y0), (r.right, y0), 1)
        tl, br = self.to_px(-a, b, r), self.to_px(a, -b, r)
        pygame.draw.rect(surf, theme.LINE, pygame.Rect(tl, (br[0] - tl[0], br[1] - tl[1])), lw)
        half = ctx.foot_spacing_m / 2
        for sx in (-1, 1):
            p0 = self.to_px(sx * half - 0.045, 0.13, r)
            p1 = self.to_px(sx * half + 0.045, -0.13, r)
            foot = pygame.Rect(p0, (p1[0] - p0[0], p1[1] - p0[1]))
            pygame.draw.ellipse(surf, theme.PANEL_HI, foot)
            pygame.draw.ellipse(surf, theme.LINE, foot, lw)
        c = r.center
        pygame.draw.line(surf, theme.DIM, (c[0] - L.px(8), c[1]), (c[0] + L.px(8), c[1]), 1)
        pygame.draw.line(surf, theme.DIM, (c[0], c[1] - L.px(8)), (c[0], c[1] + L.px(8)), 1)
        if fine:
            self.text.draw(surf, "front", L.font("small"), theme.DIM,
                           (r.centerx, r.y + L.px(4)), "midtop")

    def fixation(self) -> bool:
        d = self.d
        return (self.run.drill.kind == "assessment" and not d.targets and not self.tilt_mode
                and d.phase in (Phase.RUNNING, Phase.COUNTDOWN))

    def draw_dynamic(self, surf: pygame.Surface) -> None:
        L, d, app = self.L, self.d, self.app
        band = self.banner_rect().inflate(-2 * L.pad, -L.px(8))
        self.text.draw_block(surf, d.prompt, L.font("prompt"), theme.TEXT, band, bold=True,
                             align="center", valign="middle", min_size=L.font("label"))
        v = self.view()
        scene = getattr(d, "scene", None)
        if scene:
            scene_mod.draw(surf, scene, lambda x, y: self.to_px(x, y, v),
                           (v.w / 2) / self.half, v, self.text, L)
        for t in d.targets:
            self._draw_target(surf, t, v)
        pos = d.tilt_rad if self.tilt_mode else app.snapshot.cop_m
        if self.fixation():
            pygame.draw.circle(surf, theme.TEXT, v.center, L.px(14))
            pygame.draw.circle(surf, theme.BG, v.center, L.px(5))
        elif pos is not None:
            if not self.tilt_mode and len(self._trail) > 1:
                pts = [self.to_px(x, y, v) for x, y in self._trail]
                pygame.draw.lines(surf, (150, 128, 20), False, pts, max(1, L.px(3)))
            self._cursor(surf, self.to_px(*pos, v), L.px(14))
        m = self.monitor()
        if pos is not None:
            pygame.draw.circle(surf, theme.CURSOR, self.to_px(*pos, m), max(3, L.px(5)))
        if d.phase is Phase.COUNTDOWN and d.seconds_left is not None:
            self.text.draw(surf, str(max(1, math.ceil(d.seconds_left - 1e-9))), L.font("huge"),
                           theme.TEXT, (v.centerx, v.centery - L.px(70)), "center", bold=True)
        self._draw_side(surf)

    def _cursor(self, surf: pygame.Surface, c: tuple[int, int], r: int) -> None:
        pygame.draw.circle(surf, theme.BLACK, c, r + max(2, self.L.px(3)))
        pygame.draw.circle(surf, theme.CURSOR, c, r)

    def _draw_target(self, surf: pygame.Surface, t: Any, v: pygame.Rect) -> None:
        c = self.to_px(t.ml_m, t.ap_m, v)
        rad = max(self.L.px(10), round(t.radius_m / self.half * v.w / 2))
        color, width = {"active": (theme.TARGET, self.L.px(5)), "hit": (theme.HIT, 0),
                        "missed": (theme.DIM, self.L.px(2))}.get(t.state, (theme.LINE,
                                                                          self.L.px(2)))
        pygame.draw.circle(surf, color, c, rad, max(0, width))

    def _draw_side(self, surf: pygame.Surface) -> None:
        L, d = self.L, self.d
        x = L.px(496)
        right = L.w - L.pad
        phase = d.phase
        scene = getattr(d, "scene", None) or {}
        if phase is Phase.RUNNING and d.seconds_left is not None:
            big = mmss(d.seconds_left)
        elif phase is Phase.RUNNING and isinstance(scene.get("attempts"), int):
            big = f"{scene.get('attempt', 1)} of {scene['attempts']}"
        elif phase is Phase.REST and d.seconds_left is not None:
            big = f"Rest {mmss(d.seconds_left)}"
        else:
            big = {Phase.INSTRUCTIONS: "Ready", Phase.COUNTDOWN: "Get ready",
                   Phase.PAUSED: "Paused", Phase.DONE: "Done"}.get(phase, "")
        size = L.font("timer") if phase is Phase.RUNNING and ":" in big else L.font("big")
        self.text.draw(surf, big, size, theme.AMBER if phase is Phase.PAUSED else theme.TEXT,
                       ((x + right) // 2, L.px(56)), "center", bold=True, max_w=right - x)
        trial = f"Trial {min(d.trial + 1, d.trials)} of {d.trials}" if d.trials > 1 else ""
        words = [ASK_WORDS.get((k, v), "") for k, v in d.ask.items()]
        line = " · ".join(w for w in [trial, *words] if w)
        self.text.draw(surf, line, L.font("body"), theme.TEXT, ((x + right) // 2, L.px(122)),
                       "center", max_w=right - x)
        m = self.monitor()
        snap = self.app.snapshot
        info = f"{snap.weight_kg:.1f} kg" if snap.weight_kg is not None else "Nobody on"
        self.text.draw(surf, info, L.font("body"), theme.TEXT,
                       (m.right + L.px(10), m.y + L.px(40)), max_w=right - m.right - L.px(10))
        if d.level is not None:
            self.text.draw(surf, f"Level {d.level:.2f}", L.font("body"), theme.TEXT,
                           (m.right + L.px(10), m.y + L.px(72)), max_w=right - m.right - L.px(10))
