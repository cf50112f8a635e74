"""Opening the screen: full screen on KMSDRM on the Pi, a window on a laptop, dummy in tests.

On a Pi without a desktop nothing sets ``SDL_VIDEODRIVER``; we choose ``kmsdrm`` when there
is no X11 or Wayland display and a DRM device exists (the systemd unit may also set it).
``SDL_VIDEODRIVER=dummy`` (tests, screenshots) draws into memory. Audio is pre-initialised
before pygame.init() so cues start with a small buffer.
"""

from __future__ import annotations

import os
from pathlib import Path

import pygame

from station.ui.audio import pre_init


def choose_driver() -> str:
    if os.environ.get("SDL_VIDEODRIVER"):
        return os.environ["SDL_VIDEODRIVER"]
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")) and \
            Path("/dev/dri").exists():
        os.environ["SDL_VIDEODRIVER"] = "kmsdrm"
        return "kmsdrm"
    return ""


def open_display(size: tuple[int, int] = (800, 480), fullscreen: bool | None = None
                 ) -> pygame.Surface:
    """The display surface; ``fullscreen=None`` means full screen on KMSDRM only."""
    driver = choose_driver()
    pre_init()
    pygame.init()
    if fullscreen is None:
        fullscreen = driver == "kmsdrm"
    if fullscreen:
        surf = pygame.display.set_mode((0, 0), pygame.FULLSCREEN)
        pygame.mouse.set_visible(False)
    else:
        surf = pygame.display.set_mode(size)
    pygame.display.set_caption("Balance station")
    return surf


def parse_size(text: str) -> tuple[int, int]:
    w, _, h = text.lower().partition("x")
    size = (int(w), int(h))
    if not (320 <= size[0] <= 3840 and 240 <= size[1] <= 2160):
        raise ValueError(f"screen size {text} is outside 320x240-3840x2160")
    return size
