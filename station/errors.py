"""One exception tree for the station (gpiozero's exc.py is the model).

Each error also inherits the matching builtin so callers that only know the builtin still
catch it. The CLI turns any StationError into one clear line and a non-zero exit.
"""


class StationError(Exception):
    """Base of every error the station raises on purpose."""


class ConfigError(StationError, ValueError):
    """The configuration file is unreadable or a key is unknown, mistyped or out of range."""


class SensorError(StationError, IOError):
    """A sensor is missing, silent, stuck or returns invalid data."""


class SensorTimeout(SensorError, TimeoutError):
    """A sensor did not deliver a sample within its timeout."""


class CalibrationError(StationError, ValueError):
    """Tare or calibration could not be done (load not steady, bad reference mass...)."""


class SessionError(StationError, IOError):
    """A session on disk is missing, damaged or of an unknown format version."""


class ReplayError(StationError, ValueError):
    """A recording cannot be replayed (unknown format, bad columns)."""
