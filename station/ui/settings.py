"""Kiosk settings and the therapist PIN, in ``<data_dir>/ui/settings.json``.

The PIN is stored as a salted scrypt hash (16 MiB of memory per guess, about 0.05 s on a laptop,
a few tenths on a Pi 4: slow enough that a stolen SD card does not give the PIN away in
seconds, fast enough for one tap of OK). Five wrong PINs lock the pad for 60 s, doubling for
each further lock up to 30 min; the count of failures survives a restart, so pulling the plug
does not reset it. A fresh install gets ``DEFAULT_PIN`` and the settings screen asks the
therapist to change it until they do.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from station import atomicio

log = logging.getLogger(__name__)

DEFAULT_PIN = "2580"
FORMAT_VERSION = "1.0"
MAX_TRIES = 5
LOCK_S = 60.0
MAX_LOCK_S = 1800.0
PIN_LENGTH = (4, 8)


@dataclass
class PinHash:
    salt: str
    hash: str
    n: int = 2**14
    r: int = 8
    p: int = 1

    @classmethod
    def make(cls, pin: str, n: int = 2**14) -> PinHash:
        salt = secrets.token_bytes(16)
        return cls(salt.hex(), _scrypt(pin, salt, n, 8, 1).hex(), n, 8, 1)

    def matches(self, pin: str) -> bool:
        digest = _scrypt(pin, bytes.fromhex(self.salt), self.n, self.r, self.p)
        return hmac.compare_digest(digest, bytes.fromhex(self.hash))


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(pin.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024,
                          dklen=32)


@dataclass
class UiSettings:
    pin: PinHash | None = None
    default_pin: bool = True
    failed_attempts: int = 0
    show_names: bool = False          # clinic's choice: names of patients on this device
    sound: bool = True
    biofeedback: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> UiSettings:
        """Read at start (before the loop). A missing file means a fresh install."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            s = cls(pin=PinHash.make(DEFAULT_PIN))
            try:
                s.save(path)
            except OSError as exc:            # a full or read-only disk: run, and say so
                log.warning("cannot store the kiosk settings: %s", exc.strerror)
            return s
        except (OSError, ValueError):
            return cls(pin=PinHash.make(DEFAULT_PIN))
        pin = data.get("pin")
        return cls(pin=PinHash(**pin) if isinstance(pin, dict) else PinHash.make(DEFAULT_PIN),
                   default_pin=bool(data.get("default_pin", pin is None)),
                   failed_attempts=int(data.get("failed_attempts", 0)),
                   show_names=bool(data.get("show_names", False)),
                   sound=bool(data.get("sound", True)),
                   biofeedback=bool(data.get("biofeedback", False)),
                   extra=dict(data.get("extra", {})))

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["format_version"] = FORMAT_VERSION
        return out

    def save(self, path: Path) -> None:
        atomicio.write_json(path, self.to_json())


@dataclass(frozen=True)
class PinResult:
    ok: bool
    message: str
    locked_s: float = 0.0


class PinGuard:
    """Checks PINs against the settings, with lockout on app time (seconds)."""

    def __init__(self, settings: UiSettings, save: Any) -> None:
        self.settings = settings
        self._save = save                  # callable: persist the settings (off the UI thread)
        self.locked_until = 0.0
        if settings.failed_attempts >= MAX_TRIES:
            self.locked_until = self._lock_s()

    def _lock_s(self) -> float:
        locks = self.settings.failed_attempts // MAX_TRIES
        return min(MAX_LOCK_S, LOCK_S * 2 ** max(0, locks - 1))

    def locked_for(self, now: float) -> float:
        return max(0.0, self.locked_until - now)

    def verify(self, pin: str, now: float) -> PinResult:
        wait = self.locked_for(now)
        if wait > 0:
            return PinResult(False, f"Locked: try again in {wait:.0f} s", wait)
        if self.settings.pin is not None and self.settings.pin.matches(pin):
            if self.settings.failed_attempts:
                self.settings.failed_attempts = 0
                self._save()
            return PinResult(True, "")
        self.settings.failed_attempts += 1
        self._save()
        left = MAX_TRIES - self.settings.failed_attempts % MAX_TRIES
        if self.settings.failed_attempts % MAX_TRIES == 0:
            lock = self._lock_s()
            self.locked_until = now + lock
            return PinResult(False, f"Too many wrong PINs: locked for {lock:.0f} s", lock)
        return PinResult(False, f"Wrong PIN: {left} {'try' if left == 1 else 'tries'} left")

    def set_pin(self, pin: str, n: int = 2**14) -> None:
        if not (pin.isdigit() and PIN_LENGTH[0] <= len(pin) <= PIN_LENGTH[1]):
            raise ValueError(f"a PIN is {PIN_LENGTH[0]}-{PIN_LENGTH[1]} digits")
        self.settings.pin = PinHash.make(pin, n)
        self.settings.default_pin = False
        self.settings.failed_attempts = 0
        self._save()
