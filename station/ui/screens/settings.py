"""Therapist settings (behind the PIN) and the PIN pad itself.

Leaving the kiosk is only possible from here, so the PIN guards it too.
"""

from __future__ import annotations

from typing import Any

import pygame

from station import __version__
from station.ui import theme
from station.ui.screens.base import Screen
from station.ui.settings import PIN_LENGTH

EXIT_CONFIRM_S = 4.0


class Settings(Screen):
    name = "settings"
    title = "Therapist settings"
    guarded = True
    back_to = "home"

    def setup(self, **_: Any) -> None:
        self.confirm_until = -1.0

    def rows(self) -> list[tuple[str, str, str, Any]]:
        s = self.app.settings
        pin_note = "Still the factory PIN: change it" if s.default_pin else "4-8 digits"
        return [
            ("calibrate", "Tare and calibrate the plate", "Zero it each morning", "Open"),
            ("names", "Show patient names on this station", "Off: codes only (names erased)",
             s.show_names),
            ("sound", "Sounds", "Cues at start, stop and faults", s.sound),
            ("biofeedback", "Target tone in games", "Pitch tells how far the target is",
             s.biofeedback),
            ("pin", "Therapist PIN", pin_note, "Change"),
        ]

    def layout_buttons(self) -> None:
        L = self.L
        row_h = L.px(64)
        for i, (key, _, _, value) in enumerate(self.rows()):
            rect = pygame.Rect(L.w - L.pad - L.px(150), L.top_h + L.px(10) + i * row_h,
                               L.px(150), row_h - L.px(10))
            if isinstance(value, bool):
                self.add(f"toggle:{key}", rect, "On" if value else "Off",
                         lambda k=key: self.toggle(k), style="selected" if value else "secondary")
            else:
                self.add(f"open:{key}", rect, value, lambda k=key: self.open(k), style="primary")
        self.add("lock", L.bar_slot("left", 170), "Lock", lambda: self.app.goto("home"),
                 icon="lock")
        confirming = self.app.t < self.confirm_until
        self.add("exit", L.bar_slot("right", 250), "Tap again to exit" if confirming
                 else "Exit kiosk", self.exit, style="danger")

    def toggle(self, key: str) -> None:
        app, s = self.app, self.app.settings
        if key == "names":
            s.show_names = not s.show_names
            if not s.show_names:
                app.patients.forget_names()
            app.save_patients()
        elif key == "sound":
            s.sound = app.audio.enabled = not s.sound
        elif key == "biofeedback":
            s.biofeedback = app.audio.feedback_on = not s.biofeedback
        app.save_settings()
        self.refresh()

    def open(self, key: str) -> None:
        if key == "calibrate":
            self.app.goto("calibrate")
        else:
            self.app.goto("pin", mode="new")

    def exit(self) -> None:
        if self.app.t < self.confirm_until:
            self.app.request_exit()
            return
        self.confirm_until = self.app.t + EXIT_CONFIRM_S
        self.refresh()

    def update(self, dt: float, snap: Any) -> None:
        if self.confirm_until > 0 and self.app.t >= self.confirm_until:
            self.confirm_until = -1.0
            self.refresh()

    def draw_content(self, surf: pygame.Surface) -> None:
        L, app = self.L, self.app
        row_h = L.px(64)
        for i, (key, label, note, _) in enumerate(self.rows()):
            y = L.top_h + L.px(10) + i * row_h
            if i:
                pygame.draw.line(surf, theme.PANEL_HI, (L.pad, y - L.px(5)),
                                 (L.w - L.pad, y - L.px(5)))
            self.text.draw(surf, label, L.font("label"), theme.TEXT, (L.pad + L.px(4), y),
                           bold=True, max_w=L.px(580))
            warn = key == "pin" and app.settings.default_pin
            self.text.draw(surf, note, L.font("small"), theme.AMBER if warn else theme.MUTED,
                           (L.pad + L.px(4), y + L.px(30)), max_w=L.px(580))
        src = "simulated plate" if app.simulated else "plate hardware"
        info = f"{app.config.station.id} · {src} · v{__version__}"
        bar = L.bar()
        self.text.draw(surf, info, L.font("small"), theme.MUTED,
                       (L.px(200), bar.centery), "midleft", max_w=L.px(320))


class PinPad(Screen):
    """Verify the PIN (then go on), or set a new one (twice)."""

    name = "pin"
    title = "Therapist PIN"
    back_to = "home"

    def setup(self, then: tuple[str, dict] | None = None, mode: str = "verify",
              **_: Any) -> None:
        self.then = then or ("settings", {})
        self.mode = mode                 # verify | new | repeat
        self.digits = ""
        self.first = ""
        self.message = {"verify": "Enter the therapist PIN", "new": "Choose a new PIN"}.get(
            mode, "")

    def heading(self) -> str:
        return {"verify": "Therapist PIN", "new": "New PIN", "repeat": "Repeat the new PIN"}[
            self.mode]

    def back(self) -> None:
        self.app.goto("settings" if self.mode != "verify" and self.app.unlocked else "home")

    def layout_buttons(self) -> None:
        L = self.L
        kw, kh, gap = L.px(116), L.px(74), L.px(10)
        x0 = L.w - L.pad - 3 * kw - 2 * gap
        y0 = L.top_h + L.px(10)
        keys = [*"123456789", "⌫", "0", "OK"]
        locked = self.app.pin.locked_for(self.app.t) > 0 and self.mode == "verify"
        for i, k in enumerate(keys):
            rect = pygame.Rect(x0 + (i % 3) * (kw + gap), y0 + (i // 3) * (kh + gap), kw, kh)
            if k == "OK":
                self.add("key:OK", rect, "OK", self.ok, style="primary",
                         enabled=len(self.digits) >= PIN_LENGTH[0] and not locked)
            elif k == "⌫":
                self.add("key:⌫", rect, "", self.erase, icon="erase")
            else:
                self.add(f"key:{k}", rect, k, lambda k=k: self.key(k), size="big",
                         enabled=not locked)

    def key(self, k: str) -> None:
        if len(self.digits) < PIN_LENGTH[1]:
            self.digits += k
        self.refresh()

    def erase(self) -> None:
        self.digits = self.digits[:-1]
        self.refresh()

    def ok(self) -> None:
        app = self.app
        if self.mode == "verify":
            result = app.pin.verify(self.digits, app.t)
            self.digits = ""
            if result.ok:
                app.unlock()
                name, params = self.then
                app.goto(name, **params)
                return
            self.message = result.message
            app.audio.play("miss")
        elif self.mode == "new":
            self.first, self.digits, self.mode = self.digits, "", "repeat"
            self.message = "Enter it again"
        else:
            if self.digits == self.first:
                app.pin.set_pin(self.digits)
                app.goto("settings")
                return
            self.mode, self.digits, self.first = "new", "", ""
            self.message = "The two PINs differ: choose a new PIN again"
        self.refresh()

    def update(self, dt: float, snap: Any) -> None:
        locked = self.app.pin.locked_for(self.app.t) > 0
        ok = self.button("key:1")
        if ok is not None and ok.enabled == locked and self.mode == "verify":
            if not locked:
                self.message = "Enter the therapist PIN"
            self.refresh()

    def draw_content(self, surf: pygame.Surface) -> None:
        L = self.L
        left = pygame.Rect(L.pad, L.top_h + L.px(20), L.px(390), L.px(300))
        n = max(len(self.digits), PIN_LENGTH[0])
        r = L.px(13)
        step = L.px(40)
        x = left.centerx - (n - 1) * step // 2
        for i in range(n):
            c = (x + i * step, left.y + L.px(60))
            if i < len(self.digits):
                pygame.draw.circle(surf, theme.TEXT, c, r)
            else:
                pygame.draw.circle(surf, theme.LINE, c, r, max(2, L.px(3)))
        box = pygame.Rect(left.x, left.y + L.px(110), left.w, L.px(150))
        self.text.draw_block(surf, self.message, L.font("label"), theme.TEXT, box,
                             align="center")

    def draw_dynamic(self, surf: pygame.Surface) -> None:
        wait = self.app.pin.locked_for(self.app.t)
        if wait > 0 and self.mode == "verify":
            L = self.L
            self.text.draw(surf, f"Locked: try again in {wait:.0f} s", L.font("label"),
                           theme.AMBER, (L.pad + L.px(195), L.h - L.px(60)), "center", bold=True)
