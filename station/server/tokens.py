"""Per-station (and per-viewer) tokens: created and revoked with ``station-server tokens``.

A token is ``st_<12 hex id>_<43 url-safe chars>`` (256 random bits). The index keeps the id,
the name (station id or viewer name), the role and the SHA-256 of the secret part, never the
token: with 256 random bits a fast hash is as good as a slow one, and verifying stays cheap
per request. The comparison is constant-time.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any

from station.errors import ConfigError
from station.server.index import Index, utc_now
from station.sync import protocol as proto
from station.sync.secret import Secret

ROLES = ("station", "viewer")
TOKEN = re.compile(r"st_([0-9a-f]{12})_([A-Za-z0-9_-]{43})")


@dataclass(frozen=True)
class Identity:
    token_id: str
    name: str         # the station id for role "station"
    role: str


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


class Tokens:
    def __init__(self, index: Index) -> None:
        self.index = index
        self._touched: dict[str, float] = {}

    def create(self, name: str, role: str = "station") -> tuple[str, Secret]:
        """A new token for ``name``; the token itself is shown once and never stored."""
        if role not in ROLES:
            raise ConfigError(f"role must be one of {', '.join(ROLES)}")
        if not proto.STATION_ID.fullmatch(name):
            raise ConfigError("a station or viewer name is 1-64 letters, digits, '.', '_', '-'")
        token_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        with self.index.transaction() as db:
            db.execute("INSERT INTO tokens(token_id, name, role, secret_sha256, created_utc) "
                       "VALUES(?,?,?,?,?)", (token_id, name, role, _digest(secret), utc_now()))
        self.index.audit("cli", "token.create", f"{role} {name} {token_id}")
        return token_id, Secret(f"st_{token_id}_{secret}")

    def revoke(self, key: str) -> int:
        """Revoke one token by id, or every active token of a name; returns how many."""
        with self.index.transaction() as db:
            n = db.execute("UPDATE tokens SET revoked_utc=? WHERE revoked_utc IS NULL AND "
                           "(token_id=? OR name=?)", (utc_now(), key, key)).rowcount
        self.index.audit("cli", "token.revoke", f"{key}: {n} revoked")
        return n

    def list(self) -> list[dict[str, Any]]:
        return self.index.rows("SELECT token_id, name, role, created_utc, revoked_utc, "
                               "last_used_utc FROM tokens ORDER BY name, created_utc")

    def verify(self, token: str) -> Identity | None:
        """The identity behind a presented token, or None (unknown, malformed, revoked)."""
        m = TOKEN.fullmatch(token)
        if not m:
            return None
        row = self.index.row("SELECT name, role, secret_sha256 FROM tokens WHERE token_id=? "
                             "AND revoked_utc IS NULL", (m.group(1),))
        if row is None or not hmac.compare_digest(row["secret_sha256"], _digest(m.group(2))):
            return None
        now = time.monotonic()
        if now - self._touched.get(m.group(1), -1e9) > 60:      # one write a minute at most
            self._touched[m.group(1)] = now
            self.index.execute("UPDATE tokens SET last_used_utc=? WHERE token_id=?",
                               (utc_now(), m.group(1)))
        return Identity(m.group(1), row["name"], row["role"])
