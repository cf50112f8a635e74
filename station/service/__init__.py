"""Running the station as a systemd service: sd_notify readiness and watchdog, health file.

The kiosk's main loop uses :class:`Service` (see its docstring); `station status` and
`station service` come from :mod:`station.service.commands`.
"""

from station.service.main import Service
from station.service.notify import Notifier, Watchdog

__all__ = ["Notifier", "Service", "Watchdog"]
