"""The few GPIO operations the HX711 bank needs, behind a protocol the simulator also speaks.

The bank driver bit-bangs one clock line and samples four data lines per clock pulse, so what
matters is the number of library calls per pulse. lgpio reads a whole group of input lines in one
call (``group_read``), where gpiozero and RPi.GPIO need one call per line; hence this thin layer
straight over lgpio instead of gpiozero devices. ``lgpio`` is imported only when a backend is
built, so every module of the station imports on a laptop.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Sequence
from functools import partial
from typing import Any, Protocol

from station.errors import SensorError


class GpioError(SensorError):
    """A GPIO line could not be opened, claimed or driven."""


class GpioBackend(Protocol):
    """Minimal pin access for a shared-clock sensor bank.

    ``read_group`` returns the levels of the lines given to ``claim_group_input``: bit i is the
    level of ``pins[i]``. Implementations must be cheap per call: the driver calls ``write``
    twice and ``read_group`` once per clock pulse.
    """

    def claim_output(self, pin: int, level: int = 0) -> None: ...

    def claim_group_input(self, pins: Sequence[int], pull_up: bool = True) -> None: ...

    def write(self, pin: int, level: int) -> None: ...

    def read_group(self) -> int: ...

    def close(self) -> None: ...


class LgpioBackend:
    """GpioBackend over lgpio (/dev/gpiochipN): gpiozero's own backend on Pi 4 and Pi 5.

    ``write`` is bound straight to ``lgpio.gpio_write`` with the handle filled in (no Python
    frame of ours per call); ``read_group`` adds one frame to pick the levels out of lgpio's
    ``[count, levels]`` answer. lgpio changes the working directory to $LG_WD at import and
    creates its notification pipe there: on a read-only root set LG_WD to a tmpfs.
    """

    def __init__(self, gpiochip: int = 0) -> None:
        try:
            import lgpio  # type: ignore[import-not-found]  # only on the Pi
        except ImportError as exc:
            raise GpioError("lgpio is not installed: install the station's [pi] extra "
                            "(pip install 'balance-station[pi]') on the Raspberry Pi") from exc
        except OSError as exc:  # its notification pipe could not be made in $LG_WD
            raise GpioError(f"lgpio could not start: {exc}; {_lg_wd_hint()}") from exc
        self._lg: Any = lgpio
        self.gpiochip = gpiochip
        self._claimed: list[int] = []
        self._group_leader: int | None = None
        try:
            self._handle: int | None = lgpio.gpiochip_open(gpiochip)
        except lgpio.error as exc:
            raise GpioError(f"cannot open /dev/gpiochip{gpiochip}: {exc} (is the user in group "
                            f"'gpio'? is [hx711] gpiochip right for this Pi?)") from exc
        self.write = partial(lgpio.gpio_write, self._handle)  # type: ignore[method-assign]
        self._group_read = partial(lgpio.group_read, self._handle)

    def claim_output(self, pin: int, level: int = 0) -> None:
        try:
            self._lg.gpio_claim_output(self._handle, pin, level)
        except self._lg.error as exc:
            raise GpioError(f"cannot claim GPIO {pin} as output on gpiochip{self.gpiochip}: "
                            f"{exc} (is another program using it?)") from exc
        self._claimed.append(pin)

    def claim_group_input(self, pins: Sequence[int], pull_up: bool = True) -> None:
        lg = self._lg
        # A pull-up makes an unplugged DOUT read high, i.e. "not ready", instead of floating.
        flags = getattr(lg, "SET_PULL_UP", getattr(lg, "SET_BIAS_PULL_UP", 0)) if pull_up else 0
        try:
            lg.group_claim_input(self._handle, list(pins), flags)
        except lg.error as exc:
            raise GpioError(f"cannot claim GPIOs {', '.join(map(str, pins))} as inputs on "
                            f"gpiochip{self.gpiochip}: {exc}") from exc
        self._group_leader = pins[0]

    def write(self, pin: int, level: int) -> None:  # replaced per instance by a partial
        self._lg.gpio_write(self._handle, pin, level)

    def read_group(self) -> int:
        return self._group_read(self._group_leader)[1]

    def close(self) -> None:
        """Release the lines and the chip handle; safe to call twice."""
        if self._handle is None:
            return
        lg, handle = self._lg, self._handle
        self._handle = None
        for pin in self._claimed:
            with contextlib.suppress(lg.error):
                lg.gpio_write(handle, pin, 0)
                lg.gpio_free(handle, pin)
        if self._group_leader is not None:
            with contextlib.suppress(lg.error):
                lg.group_free(handle, self._group_leader)
        with contextlib.suppress(lg.error):
            lg.gpiochip_close(handle)


def _lg_wd_hint() -> str:
    wd = os.environ.get("LG_WD", os.getcwd())
    state = "writable" if os.access(wd, os.W_OK) else "NOT writable"
    return f"lgpio works in LG_WD={wd} ({state}): point LG_WD at a writable tmpfs"
