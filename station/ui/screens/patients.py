"""Patient pick (recent first) and new patient (code, and a name only if the clinic allows)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pygame

from station.clock import utc_now
from station.ui import theme
from station.ui.screens.base import Screen
from station.ui.store import CODE_RE

ROWS = 5


def ago(utc: str) -> str:
    """'today', 'yesterday', '3 days ago' or the date, from an ISO UTC stamp."""
    try:
        when = dt.datetime.fromisoformat(utc.replace("Z", "+00:00"))
    except ValueError:
        return ""
    days = (dt.datetime.now(dt.UTC).date() - when.date()).days
    if days <= 0:
        return "today"
    if days == 1:
        return "yesterday"
    return f"{days} days ago" if days < 30 else when.strftime("%d %b %Y")


class Patients(Screen):
    name = "patients"
    title = "Choose the patient"
    back_to = "home"

    def setup(self, page: int = 0, **_: Any) -> None:
        self.page = page

    def layout_buttons(self) -> None:
        L, app = self.L, self.app
        people = app.patients.recent_first(app.history)
        pages = max(1, -(-len(people) // ROWS))
        self.page = min(self.page, pages - 1)
        self.pages = pages
        row_h, gap = L.px(62), L.px(4)
        list_w = L.px(692)
        for i, p in enumerate(people[self.page * ROWS:(self.page + 1) * ROWS]):
            last = app.history.last_visit.get(p.code, "")
            n = app.history.sessions(p.code)
            sub = (f"Last visit {ago(last)} · {n} session{'s' if n != 1 else ''}" if last
                   else "No visit yet")
            rect = pygame.Rect(L.pad, L.top_h + L.px(6) + i * (row_h + gap), list_w, row_h)
            self.add(f"patient:{p.code}", rect, app.patient_label(p.code),
                     lambda code=p.code: self.pick(code), sub=sub, align="left")
        col = pygame.Rect(L.pad + list_w + L.px(8), L.top_h + L.px(6), 0, 0)
        col.w = L.w - col.x - L.pad
        half = (ROWS * (row_h + gap) - gap - L.px(8)) // 2
        self.add("page_up", pygame.Rect(col.x, col.y, col.w, half), "", self.prev_page,
                 icon="up", enabled=self.page > 0)
        self.add("page_down", pygame.Rect(col.x, col.y + half + L.px(8), col.w, half), "",
                 self.next_page, icon="down", enabled=self.page < pages - 1)
        self.add("new", L.bar_slot("right", 260), "New patient",
                 lambda: self.app.goto("patient_new"), style="primary", icon="plus")

    def pick(self, code: str) -> None:
        self.app.start_visit(code)
        self.app.goto("drills")

    def prev_page(self) -> None:
        self.page -= 1
        self.refresh()

    def next_page(self) -> None:
        self.page += 1
        self.refresh()

    def draw_content(self, surf: pygame.Surface) -> None:
        L = self.L
        bar = L.bar()
        if not any(b.id.startswith("patient:") for b in self.buttons):
            self.text.draw(surf, "No patients yet: add one with New patient", L.font("label"),
                           theme.MUTED, (L.px(360), L.top_h + L.px(150)), "center")
        elif self.pages > 1:
            self.text.draw(surf, f"Page {self.page + 1} of {self.pages}", L.font("body"),
                           theme.MUTED, (L.pad + L.px(8), bar.centery), "midleft")


KEY_ROWS = ("1234567890", "QWERTYUIOP", "ASDFGHJKL-", "ZXCVBNM")


class NewPatient(Screen):
    name = "patient_new"
    title = "New patient"
    back_to = "patients"

    def setup(self, **_: Any) -> None:
        self.code = self.app.patients.next_code()
        self.person = ""
        self.field = "code"

    @property
    def names(self) -> bool:
        return self.app.settings.show_names

    def valid(self) -> str | None:
        """Why the code cannot be saved, or None."""
        if not CODE_RE.match(self.code):
            return "3-16 letters, digits or dashes"
        if self.code in self.app.patients.items:
            return f"{self.code} already exists: pick it from the list"
        return None

    def layout_buttons(self) -> None:
        L = self.L
        y = L.top_h + L.pad
        fw = (L.w - 3 * L.pad) // 2 if self.names else L.px(380)
        self.add("field:code", pygame.Rect(L.pad, y, fw, L.px(64)), "",
                 lambda: self.select("code"), style="none")
        if self.names:
            self.add("field:name", pygame.Rect(2 * L.pad + fw, y, fw, L.px(64)), "",
                     lambda: self.select("name"), style="none")
        key_h, gap = L.px(54), L.px(6)
        top = y + L.px(64) + L.px(14)
        key_w = (L.w - 2 * L.pad - 10 * gap) // 11
        for r, row in enumerate(KEY_ROWS):
            keys = list(row) + (["⌫"] if r == 0 else [])
            if r == 3 and self.names:
                keys.append("space")
            x = L.pad + r * key_w // 3
            for k in keys:
                w = key_w * 3 if k == "space" else key_w
                label, icon = ("", "erase") if k == "⌫" else (k, None)
                self.add(f"key:{k}", pygame.Rect(x, top + r * (key_h + gap), w, key_h), label,
                         lambda k=k: self.key(k), icon=icon, size="title")
                x += w + gap
        self.add("save", L.bar_slot("right", 280), "Save and start", self.save, style="primary",
                 icon="check", enabled=self.valid() is None)

    def select(self, field: str) -> None:
        self.field = field
        self.refresh()

    def key(self, k: str) -> None:
        value = self.code if self.field == "code" else self.person
        if k == "⌫":
            value = value[:-1]
        elif k == "space":
            value = (value + " ") if value and not value.endswith(" ") else value
        elif self.field == "code" and len(value) < 16 and k != "space":
            value += k
        elif self.field == "name" and len(value) < 40:
            value += k if not value or value.endswith(" ") else k.lower()
        if self.field == "code":
            self.code = value
        else:
            self.person = value
        self.refresh()

    def save(self) -> None:
        if self.valid() is not None:
            return
        app = self.app
        app.patients.add(self.code, utc_now(), self.person.strip() if self.names else "")
        app.save_patients()
        app.start_visit(self.code)
        app.goto("drills")

    def draw_content(self, surf: pygame.Surface) -> None:
        L = self.L
        fields = [("code", "Patient code", self.code)]
        if self.names:
            fields.append(("name", "Name (kept on this station only)", self.person))
        for key, caption, value in fields:
            b = self.button(f"field:{key}")
            assert b is not None
            sel = self.field == key
            pygame.draw.rect(surf, theme.PANEL, b.rect, border_radius=L.px(8))
            pygame.draw.rect(surf, theme.BLUE if sel else theme.LINE, b.rect,
                             width=L.px(3) if sel else max(1, L.px(2)), border_radius=L.px(8))
            self.text.draw(surf, caption, L.font("small"), theme.MUTED,
                           (b.rect.x + L.px(12), b.rect.y + L.px(4)))
            r = self.text.draw(surf, value, L.font("title"), theme.TEXT,
                               (b.rect.x + L.px(12), b.rect.bottom - L.px(6)), "bottomleft",
                               bold=True, max_w=b.rect.w - L.px(30))
            if sel:
                pygame.draw.rect(surf, theme.TEXT, (r.right + L.px(3), r.y + L.px(3),
                                                    L.px(3), r.h - L.px(6)))
        if not self.names:
            hint = pygame.Rect(L.px(410), L.top_h + L.pad, L.w - L.px(422), L.px(64))
            self.text.draw_block(surf, "A pseudonymous code only: no names on this station.",
                                 L.font("body"), theme.MUTED, hint, valign="middle")
        why = self.valid()
        if why:
            bar = L.bar()
            self.text.draw(surf, why, L.font("body"), theme.AMBER,
                           (L.pad + L.px(4), bar.centery), "midleft", max_w=L.px(480))
