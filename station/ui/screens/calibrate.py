"""Tare and calibration wizard: one instruction at a time, the plate drawn with the mark to use.

Steps: clear the plate -> tare; for a calibration, the known mass on the centre mark and then
on each corner mark -> solve each cell's scale; optionally level the wobble board. Measuring
never blocks: the wizard feeds each frame's records to a ``SteadyMeter``. In simulation the
virtual technician steps the patient off and moves the mass when the therapist confirms.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pygame

from station.errors import CalibrationError
from station.plate.calibration import Placement, calibrate_per_cell
from station.plate.tilt import levelling_matrix
from station.ui import theme
from station.ui.calib import ImuMeter, SteadyMeter
from station.ui.live import Snapshot
from station.ui.screens.base import Screen

G = 9.80665


class Calibrate(Screen):
    name = "calibrate"
    title = "Tare and calibration"
    guarded = True
    back_to = "settings"

    def setup(self, **_: Any) -> None:
        self.state = "menu"
        self.mass_kg = 20.0
        self.full = False
        self.marks = self.app.station.calibration_marks()
        self.mark = 0
        self.placements: list[Placement] = []
        self.meter: SteadyMeter | ImuMeter | None = None
        self.message = ""
        self.progress = 0.0

    # ------------------------------------------------------------------ steps
    def layout_buttons(self) -> None:
        L = self.L
        s = self.state
        left = pygame.Rect(L.pad, L.top_h + L.pad, L.px(430), L.px(74))
        if s == "menu":
            self.add("tare", left, "Tare (zero) the plate", lambda: self.begin(False),
                     style="primary", sub="Empty plate, about 2 s")
            full = left.move(0, L.px(86))
            self.add("calibrate", full, f"Calibrate with {self.mass_kg:g} kg",
                     lambda: self.begin(True), sub="Tare, then the mass on 5 marks")
            y = full.bottom + L.px(10)
            self.add("mass_minus", pygame.Rect(left.x, y, L.px(76), L.px(60)), "",
                     lambda: self.set_mass(-0.5), icon="minus", enabled=self.mass_kg > 1)
            self.add("mass_plus", pygame.Rect(left.x + L.px(214), y, L.px(76), L.px(60)), "",
                     lambda: self.set_mass(+0.5), icon="plus", enabled=self.mass_kg < 100)
            if self.app.imu_expected:
                self.add("level", pygame.Rect(left.x, y + L.px(72), left.w, L.px(64)),
                         "Level the wobble board", self.begin_level)
            return
        action = {"clear": ("The plate is clear", self.measure_tare),
                  "place": ("The mass is on the mark", self.measure_mark),
                  "remove": ("The mass is off", self.solve),
                  "level": ("The board is level", self.measure_level),
                  "warn_load": ("Tare anyway", self.force_tare),
                  "done": ("Finish", lambda: self.app.goto("settings")),
                  "error": ("Start again", self.restart)}.get(s)
        if action is not None:
            self.add("next", L.bar_slot("right", 360), action[0], action[1], style="primary",
                     icon="check")
        if s not in ("done",):
            self.add("cancel", L.bar_slot("left", 170), "Cancel", self.restart)

    def set_mass(self, delta: float) -> None:
        self.mass_kg = min(100.0, max(1.0, self.mass_kg + delta))
        self.refresh()

    def _go(self, state: str, message: str) -> None:
        self.state, self.message = state, message
        self.refresh()

    def restart(self) -> None:
        self.meter = None
        if self.app.simulated:
            self.app.station.command("clear_masses")
        self.setup()
        self.refresh()

    def begin(self, full: bool) -> None:
        self.full, self.mark, self.placements = full, 0, []
        if self.app.simulated:
            self.app.station.command("clear_masses")
            self.app.station.command("step_off")
        self._go("clear", "Clear the plate: nobody on it, nothing touching it, then tap "
                 "The plate is clear.")

    def measure_tare(self) -> None:
        self.meter = SteadyMeter(self.app.station)
        self._go("measure_tare", "Measuring the empty plate: keep it clear and still…")

    def force_tare(self) -> None:
        if self.meter is not None and self.meter.mean_counts is not None:
            self._tared(self.meter.mean_counts)

    def _tared(self, counts: np.ndarray) -> None:
        st = self.app.station
        st.calibration = st.calibration.with_tare(counts)
        self._save()
        if self.full:
            self._place()
        else:
            self._go("done", f"Tared. The plate reads zero now.\n{self._summary()}")

    def _place(self) -> None:
        name = self.marks[self.mark][0]
        self._go("place", f"Place the {self.mass_kg:g} kg mass on the {name.upper()} mark "
                 f"(mark {self.mark + 1} of {len(self.marks)}), step away, then tap The mass "
                 "is on the mark.")

    def measure_mark(self) -> None:
        name, ml, ap = self.marks[self.mark]
        if self.app.simulated:
            self.app.station.command("clear_masses")
            self.app.station.command("place_mass", self.mass_kg, ml, ap)
        self.meter = SteadyMeter(self.app.station)
        self._go("measure_mark", f"Measuring the mass on the {name} mark: do not touch the "
                 "plate…")

    def solve(self) -> None:
        st = self.app.station
        if self.app.simulated:
            st.command("clear_masses")
        try:
            cal = calibrate_per_cell(st.calibration, self.placements, self.mass_kg,
                                     st.geometry.span_ml_m / 2, st.geometry.span_ap_m / 2)
        except CalibrationError as exc:
            self._go("error", f"Calibration failed: {exc}")
            return
        st.calibration = cal
        self._save()
        self._go("done", f"Calibrated each cell with {self.mass_kg:g} kg.\n{self._summary()}")

    def begin_level(self) -> None:
        self._go("level", "Put the wobble board level on its blocks, then tap The board is "
                 "level.")

    def measure_level(self) -> None:
        self.meter = ImuMeter()
        self._go("measure_level", "Measuring the board: keep it level and still…")

    def _save(self) -> None:
        app = self.app
        cal, path = app.station.calibration, app.config.calibration_path
        app.io.submit(lambda: cal.save(path), on_error=app._write_failed)

    def _summary(self) -> str:
        cal = self.app.station.calibration
        parts = [f"Method: {cal.method}"]
        if cal.residual_n is not None:
            parts.append(f"residual {cal.residual_n:.2f} N")
        if cal.tared_utc:
            parts.append(f"tared {cal.tared_utc}")
        return "; ".join(parts) + "."

    # ------------------------------------------------------------------ frame
    def update(self, dt: float, snap: Snapshot) -> None:
        m = self.meter
        if m is None or not self.state.startswith("measure"):
            return
        state = m.feed(snap.imu, dt) if isinstance(m, ImuMeter) else m.feed(snap.cells, dt)
        self.progress = getattr(m, "progress", min(1.0, m.elapsed_s / m.window_s))
        if state == "measuring":
            if isinstance(m, SteadyMeter) and m.moving_n > 0:
                self.message = f"Waiting for a steady load (moving by {m.moving_n:.1f} N)…"
            return
        if state == "timeout":
            self._go("error", "The load did not settle: make sure nobody touches the plate and "
                     "it stands firmly on the floor.")
        elif state == "fault":
            self._go("error", "A sensor is not answering: see the message at the top, fix "
                     "it, then start again.")
        elif self.state == "measure_tare":
            self._check_tare(m)
        elif self.state == "measure_mark":
            _, ml, ap = self.marks[self.mark]
            assert m.mean_counts is not None
            self.placements.append(Placement(ml, ap, m.mean_counts))
            self.mark += 1
            if self.mark < len(self.marks):
                self._place()
            else:
                self._go("remove", "Take the mass off the plate, then tap The mass is off.")
        elif self.state == "measure_level" and isinstance(m, ImuMeter):
            st = self.app.station
            assert m.quats is not None
            st.calibration = st.calibration.with_board_level(levelling_matrix(m.quats))
            self._save()
            self._go("done", "The wobble board is levelled: tilt reads zero now.")

    def _check_tare(self, m: Any) -> None:
        st = self.app.station
        cal = st.calibration
        load = float((m.mean_counts - cal.offsets_counts) @ cal.newtons_per_count)
        if cal.tared_utc and abs(load) > st.geometry.min_load_n:
            self._go("warn_load", f"The plate carries {load / G:.1f} kg more than at the last "
                     "tare. Clear it and Cancel, or Tare anyway if it is really empty.")
            return
        self._tared(m.mean_counts)

    # ------------------------------------------------------------------ drawing
    def diagram(self) -> pygame.Rect:
        L = self.L
        side = L.h - L.top_h - L.bar_h - 2 * L.pad
        return pygame.Rect(L.w - L.pad - side - L.px(20), L.top_h + L.pad, side, side)

    def draw_content(self, surf: pygame.Surface) -> None:
        L = self.L
        d = self.diagram()
        pygame.draw.rect(surf, theme.PANEL, d, border_radius=L.px(10))
        plate = d.inflate(-L.px(48), -L.px(48))
        pygame.draw.rect(surf, theme.LINE, plate, max(1, L.px(2)))
        st = self.app.station
        half = max(st.geometry.span_ml_m, st.geometry.span_ap_m) / 2
        for i, (_, ml, ap) in enumerate(self.marks):
            c = (round(plate.centerx + ml / half * plate.w / 2),
                 round(plate.centery - ap / half * plate.h / 2))
            active = self.state in ("place", "measure_mark") and i == self.mark
            done = self.state in ("place", "measure_mark", "remove") and i < self.mark
            col = theme.CURSOR if active else theme.HIT if done else theme.DIM
            pygame.draw.circle(surf, col, c, L.px(16) if active else L.px(10),
                               0 if active or done else max(2, L.px(3)))
        self.text.draw(surf, "front", L.font("small"), theme.DIM, (d.centerx, d.y + L.px(4)),
                       "midtop")
        if self.state == "menu":
            b = self.button("mass_minus")
            if b is not None:
                self.text.draw(surf, f"{self.mass_kg:g} kg", L.font("title"), theme.TEXT,
                               (b.rect.right + L.px(69), b.rect.centery), "center", bold=True)
            cal = st.calibration
            box = pygame.Rect(L.pad, L.h - L.bar_h - L.px(10), d.x - 2 * L.pad, L.bar_h)
            self.text.draw_block(surf, f"Now: {cal.method} calibration; tared "
                                 f"{cal.tared_utc or 'never'}.", L.font("small"), theme.MUTED,
                                 box, valign="middle")
            return
        box = pygame.Rect(L.pad + L.px(6), L.top_h + L.px(20), d.x - 3 * L.pad, L.px(230))
        self.text.draw_block(surf, self.message, L.font("title"), theme.TEXT, box, bold=True,
                             min_size=L.font("body"))

    def draw_dynamic(self, surf: pygame.Surface) -> None:
        if not self.state.startswith("measure"):
            return
        L = self.L
        d = self.diagram()
        bar = pygame.Rect(L.pad + L.px(6), L.top_h + L.px(270), d.x - 3 * L.pad, L.px(24))
        pygame.draw.rect(surf, theme.PANEL_HI, bar, border_radius=L.px(6))
        fill = bar.copy()
        fill.w = round(bar.w * self.progress)
        pygame.draw.rect(surf, theme.BLUE, fill, border_radius=L.px(6))
        if isinstance(self.meter, SteadyMeter) and self.meter.moving_n > 0:
            self.text.draw(surf, self.message, L.font("body"), theme.AMBER,
                           (bar.x, bar.bottom + L.px(12)), max_w=bar.w)
