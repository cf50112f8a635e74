"""systemd's notify protocol and watchdog, in a few lines (no sdnotify package).

A service of ``Type=notify`` tells systemd it is up by sending ``READY=1`` as a datagram to the
AF_UNIX socket named in ``$NOTIFY_SOCKET`` (a leading ``@`` means Linux's abstract namespace).
With ``WatchdogSec=`` set, systemd passes ``$WATCHDOG_USEC`` and kills and restarts the service
unless ``WATCHDOG=1`` arrives at least that often; the convention is to feed it at half that.

The watchdog is fed from the UI's main loop, so a hung UI stops the feeding; and only while the
acquisition loop's heartbeat (its status ring, written once per loop iteration) is advancing, so
a hung acquisition process stops it too. A silent load cell does not: the loop still runs and
the UI shows the fault, where a restart would only blank the screen (hardware notes, "systemd").
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)

#: Without a fresh heartbeat for this long the acquisition counts as hung. Its loop writes the
#: status ring at least every read timeout (0.1 s) even when every cell is silent.
DEFAULT_STALE_AFTER_S = 2.0


class Notifier:
    """Sends sd_notify messages; a silent no-op when not started by systemd."""

    def __init__(self, address: str | None = None, *, watchdog_usec: int | None = None,
                 watchdog_pid: int | None = None) -> None:
        self.address = address or None
        self.watchdog_usec = watchdog_usec if watchdog_pid in (None, os.getpid()) else None
        self._sock: socket.socket | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Notifier:
        """Read $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID (the watchdog is ours only
        if WATCHDOG_PID is unset or names this process)."""
        env = os.environ if environ is None else environ
        usec = _positive_int(env.get("WATCHDOG_USEC"))
        pid = _positive_int(env.get("WATCHDOG_PID"))
        return cls(env.get("NOTIFY_SOCKET"), watchdog_usec=usec, watchdog_pid=pid)

    @property
    def enabled(self) -> bool:
        return self.address is not None

    @property
    def watchdog_interval_s(self) -> float | None:
        """How often to feed: half of WatchdogSec, or None when no watchdog is armed."""
        if not self.enabled or self.watchdog_usec is None:
            return None
        return self.watchdog_usec / 2e6

    def notify(self, *assignments: str) -> bool:
        """Send ``KEY=value`` lines in one datagram; False if there is nobody to tell."""
        if self.address is None:
            return False
        addr = self.address
        if addr.startswith("@"):
            addr = "\0" + addr[1:]
        elif not addr.startswith("/"):
            log.warning("NOTIFY_SOCKET=%r is neither a path nor abstract; ignored", self.address)
            self.address = None
            return False
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            self._sock.sendto("\n".join(assignments).encode(), addr)
        except OSError as exc:   # systemd gone or socket full: never crash the kiosk over it
            log.warning("sd_notify failed: %s", exc)
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        return self.notify("READY=1", *([f"STATUS={status}"] if status else []))

    def status(self, text: str) -> bool:
        return self.notify(f"STATUS={text}")

    def watchdog(self) -> bool:
        return self.notify("WATCHDOG=1")

    def stopping(self, status: str | None = None) -> bool:
        return self.notify("STOPPING=1", *([f"STATUS={status}"] if status else []))

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Watchdog:
    """Feeds systemd's watchdog from a main loop, rate-limited, while a heartbeat advances.

    ``heartbeat`` returns a counter that grows while the watched work is alive (the status
    ring's ``written``). Call :meth:`tick` once per loop iteration: it is cheap, samples the
    counter, and sends ``WATCHDOG=1`` at most every WatchdogSec/2.
    """

    def __init__(self, notifier: Notifier, heartbeat: Callable[[], int], *,
                 stale_after_s: float = DEFAULT_STALE_AFTER_S,
                 now_ns: Callable[[], int] = time.monotonic_ns) -> None:
        self.notifier = notifier
        self.heartbeat = heartbeat
        self.now_ns = now_ns
        interval = notifier.watchdog_interval_s
        self.interval_ns = None if interval is None else max(1, round(interval * 1e9))
        self.stale_after_ns = round(stale_after_s * 1e9)
        now = now_ns()
        self._beat = heartbeat()
        self._beat_ns = now
        self._next_feed_ns = now
        self.fed = 0
        self.starving = False

    @property
    def heartbeat_age_s(self) -> float:
        return (self.now_ns() - self._beat_ns) / 1e9

    @property
    def heartbeat_fresh(self) -> bool:
        return self.now_ns() - self._beat_ns <= self.stale_after_ns

    def tick(self) -> bool:
        """Sample the heartbeat; feed the watchdog if due and fresh. True when it fed."""
        now = self.now_ns()
        beat = self.heartbeat()
        if beat != self._beat:
            self._beat, self._beat_ns = beat, now
        if self.interval_ns is None or now < self._next_feed_ns:
            return False
        self._next_feed_ns = now + self.interval_ns
        if now - self._beat_ns > self.stale_after_ns:
            if not self.starving:
                log.error("acquisition heartbeat stale for %.1f s: no longer feeding the "
                          "watchdog, systemd will restart the station", (now - self._beat_ns) / 1e9)
                self.notifier.status("acquisition not responding")
            self.starving = True
            return False
        self.starving = False
        if self.notifier.watchdog():
            self.fed += 1
            return True
        return False


def _positive_int(text: str | None) -> int | None:
    try:
        value = int(text) if text else None
    except ValueError:
        return None
    return value if value and value > 0 else None
