"""Hardware drivers behind small injected interfaces; nothing here imports a hardware library
at module level, so the station imports (and its tests run) on a laptop."""

from station.drivers.gpio import GpioBackend, GpioError, LgpioBackend
from station.drivers.hx711 import (
    CellFault,
    Hx711BankSource,
    Hx711CellError,
    Hx711Error,
    Hx711NotFoundError,
    Hx711Stats,
    open_hx711_bank,
)

__all__ = [
    "CellFault",
    "GpioBackend",
    "GpioError",
    "Hx711BankSource",
    "Hx711CellError",
    "Hx711Error",
    "Hx711NotFoundError",
    "Hx711Stats",
    "LgpioBackend",
    "open_hx711_bank",
]
