"""Clocks: the one monotonic time base every sample is stamped with.

``SystemClock`` is time.monotonic_ns. ``VirtualClock`` only moves when somebody sleeps on it, so
simulated sources, drills and tests run as fast as the CPU allows and give the same result
every time (no sleep-based timing in tests).
"""

from __future__ import annotations

import datetime as dt
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
    """Simulated time: ``sleep_until`` jumps straight there.

    ``now_ns`` is public so a simulator on a hot path (the HX711 pin model) can advance it by
    each pin call's modelled cost without a method call.
    """

    def __init__(self, start_ns: int = 0) -> None:
        self.now_ns = start_ns

    def monotonic_ns(self) -> int:
        return self.now_ns

    def sleep_until(self, t_ns: int) -> None:
        if t_ns > self.now_ns:
            self.now_ns = t_ns

    def advance(self, seconds: float) -> None:
        self.now_ns += round(seconds * 1e9)

    def advance_ns(self, ns: int) -> None:
        self.now_ns += ns


def utc_now(now: dt.datetime | None = None) -> str:
    """Wall-clock time for file metadata only (design.md), ISO 8601 UTC to the second."""
    return (now or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
