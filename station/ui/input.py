"""One stream of touches from FINGER events or a real mouse.

SDL reports a finger as FINGERDOWN/FINGERMOTION/FINGERUP with x, y normalised to 0-1, and also
synthesises mouse events from it (their ``touch`` attribute is true). We take the FINGER events
and ignore the synthesised mouse events, so a tap acts once; a real mouse (a laptop, a
technician) still works because its events carry ``touch`` false. Only the first finger down is
followed until it lifts: a palm or a second finger on the panel does nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import pygame

#: The physical stop/pause button (gpiozero calls back on its own thread; pygame.event.post is
#: thread-safe, so the callback posts this and the frame loop acts on it).
BUTTON_EVENT = pygame.event.custom_type()


def post_button(long_press: bool = False) -> None:
    """Call from the button's callback: a press pauses or resumes, a long press stops."""
    pygame.event.post(pygame.event.Event(BUTTON_EVENT, long_press=long_press))


@dataclass(frozen=True)
class Touch:
    kind: str                 # "down" | "move" | "up"
    pos: tuple[int, int]


class PointerInput:
    def __init__(self, size: tuple[int, int]) -> None:
        self.size = size
        self._finger: tuple[int, int] | None = None   # (touch_id, finger_id) being followed
        self._mouse_down = False

    def _px(self, ev: pygame.event.Event) -> tuple[int, int]:
        w, h = self.size
        x = min(max(float(ev.x), 0.0), 1.0)
        y = min(max(float(ev.y), 0.0), 1.0)
        return min(int(x * w), w - 1), min(int(y * h), h - 1)

    def translate(self, events: list[pygame.event.Event]) -> list[Touch]:
        out: list[Touch] = []
        for ev in events:
            t = ev.type
            if t in (pygame.FINGERDOWN, pygame.FINGERMOTION, pygame.FINGERUP):
                fid = (getattr(ev, "touch_id", 0), getattr(ev, "finger_id", 0))
                if t == pygame.FINGERDOWN:
                    if self._finger is None and not self._mouse_down:
                        self._finger = fid
                        out.append(Touch("down", self._px(ev)))
                elif fid == self._finger:
                    if t == pygame.FINGERUP:
                        self._finger = None
                        out.append(Touch("up", self._px(ev)))
                    else:
                        out.append(Touch("move", self._px(ev)))
            elif t in (pygame.MOUSEBUTTONDOWN, pygame.MOUSEBUTTONUP, pygame.MOUSEMOTION):
                if getattr(ev, "touch", False) or self._finger is not None:
                    continue                      # synthesised from a finger: already handled
                pos = tuple(int(v) for v in ev.pos)
                if t == pygame.MOUSEBUTTONDOWN and ev.button == 1:
                    self._mouse_down = True
                    out.append(Touch("down", pos))  # type: ignore[arg-type]
                elif t == pygame.MOUSEBUTTONUP and ev.button == 1 and self._mouse_down:
                    self._mouse_down = False
                    out.append(Touch("up", pos))  # type: ignore[arg-type]
                elif t == pygame.MOUSEMOTION and self._mouse_down:
                    out.append(Touch("move", pos))  # type: ignore[arg-type]
        return out
