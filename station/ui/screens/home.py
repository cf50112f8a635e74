"""Home: live weight (or "step on"), the station's status, and the way into a visit.

Nobody's name or code is shown here: this is what the waiting room sees.
"""

from __future__ import annotations

import pygame

from station.sensors.base import CELL_NAMES
from station.ui import theme
from station.ui.screens.base import Screen


class Home(Screen):
    name = "home"
    title = "Balance station"

    def layout_buttons(self) -> None:
        L = self.L
        x = L.px(484)
        self.add("start", pygame.Rect(x, L.top_h + L.px(24), L.w - x - L.pad, L.px(200)),
                 "Start visit", lambda: self.app.goto("patients"), style="primary", icon="play",
                 sub="Choose the patient", size="big")
        self.add("therapist", pygame.Rect(x, L.top_h + L.px(240), L.w - x - L.pad, L.px(80)),
                 "Therapist", lambda: self.app.goto("settings"), icon="lock",
                 sub="Settings, tare, calibration")

    def _panel(self) -> pygame.Rect:
        L = self.L
        return pygame.Rect(L.pad, L.top_h + L.pad, L.px(460), L.h - L.top_h - 2 * L.pad)

    def draw_content(self, surf: pygame.Surface) -> None:
        L = self.L
        panel = self._panel()
        pygame.draw.rect(surf, theme.PANEL, panel, border_radius=L.px(12))
        y = panel.y + L.px(222)
        pygame.draw.line(surf, theme.LINE, (panel.x + L.pad, y - L.px(10)),
                         (panel.right - L.pad, y - L.px(10)), max(1, L.px(2)))
        labels = ["Sensors", "Wobble board", "Last sync", "Storage"]
        for i, text in enumerate(labels):
            self.text.draw(surf, text, L.font("body"), theme.MUTED,
                           (panel.x + L.px(18), y + i * L.px(40)))

    def draw_dynamic(self, surf: pygame.Surface) -> None:
        L, app, snap = self.L, self.app, self.app.snapshot
        panel = self._panel()
        font = L.font
        cx = panel.centerx
        if app.auto_tare is not None:
            self.text.draw(surf, "Zeroing the plate…", font("big"), theme.TEXT,
                           (cx, panel.y + L.px(100)), "center")
        elif snap.weight_kg is None:
            self.text.draw(surf, "Step on the plate", font("big"), theme.TEXT,
                           (cx, panel.y + L.px(86)), "center", bold=True,
                           max_w=panel.w - 2 * L.pad)
            self.text.draw(surf, "Feet on the two footprints", font("label"), theme.MUTED,
                           (cx, panel.y + L.px(146)), "center")
        else:
            self.text.draw(surf, "Weight on the plate", font("label"), theme.MUTED,
                           (cx, panel.y + L.px(34)), "center")
            num = self.text.render(f"{snap.weight_kg:.1f}", font("huge"), theme.TEXT, True)
            unit = self.text.render(" kg", font("big"), theme.TEXT, True)
            w = num.get_width() + unit.get_width()
            x0 = cx - w // 2
            base = panel.y + L.px(190)
            surf.blit(num, num.get_rect(bottomleft=(x0, base)))
            surf.blit(unit, unit.get_rect(bottomleft=(x0 + num.get_width(), base - L.px(14))))
        y = panel.y + L.px(222)
        x = panel.x + L.px(190)
        r = L.px(11)
        h = snap.health
        for i, state in enumerate(h.cell_state):
            c = (x + r + i * L.px(64), y + L.px(14))
            pygame.draw.circle(surf, theme.HIT if state == "ok" else theme.RED, c, r)
            short = "".join(w[0].upper() for w in CELL_NAMES[i].split("-"))
            self.text.draw(surf, short, font("small"), theme.TEXT, (c[0] + r + L.px(4), c[1]),
                           "midleft")
        if app.imu_expected:
            board = "OK" if h.imu_state == "ok" else "not answering"
        else:
            board = "not in use"
        sync = app.sync
        sync_text = "failed" if sync.failed else sync.last_ok_utc or "unknown"
        if app.free_bytes is None:
            disk = "checking…"
        else:
            disk = f"{app.free_bytes / 1e9:.1f} GB free"
        for i, value in enumerate((board, sync_text, disk), start=1):
            self.text.draw(surf, value, font("body"), theme.TEXT, (x, y + i * L.px(40)),
                           max_w=panel.right - x - L.pad)
        if app.simulated:
            self.text.draw(surf, "Simulated plate: virtual patient", font("small"), theme.AMBER,
                           (L.w - L.pad - L.px(4), L.h - L.pad - L.px(4)), "bottomright")
