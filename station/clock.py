"""Clocks: the one monotonic time base every sample is stamped with.

``SystemClock`` is time.monotonic_ns. ``VirtualClock`` only moves when somebody sleeps on it, so
simulated sources, drills and tests run as fast as the CPU allows and give the same result
every time (no sleep-based timing in tests).
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def monotonic_ns(self) -> int: ...

    def sleep_until(self, t_ns: int) -> None: ...


class SystemClock:
    """The real monotonic clock; sleeps for real."""

    def monotonic_ns(self) -> int:
        return time.monotonic_ns()

    def sleep_until(self, t_ns: int) -> None:
        delay = (t_ns - time.monotonic_ns()) / 1e9
        if delay > 0:
            time.sleep(delay)


class VirtualClock:
    """Simulated time: ``sleep_until`` jumps straight there."""

    def __init__(self, start_ns: int = 0) -> None:
        self._now = start_ns

    def monotonic_ns(self) -> int:
        return self._now

    def sleep_until(self, t_ns: int) -> None:
        self._now = max(self._now, t_ns)

    def advance(self, seconds: float) -> None:
        self._now += round(seconds * 1e9)
