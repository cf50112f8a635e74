"""What the station and the clinic receiver agree on (docs/sync.md, "Protocol").

Names arriving from the network are checked against these patterns before they come near a
path: a session id, a station id and each part of a file path are plain names (no ``..``, no
leading dot, no separators), so no request can name a file outside its session.
"""

from __future__ import annotations

import hashlib
import re
from urllib.parse import quote

API = "/api/v1"
HASH_HEADER = "X-Content-SHA256"
#: Body of ``POST .../files``: one JSON line ``{"files": [{path, sha256, size}...]}`` + bytes.
FILES_MEDIA_TYPE = "application/vnd.balance-station.files"
SESSION_ID = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}")
STATION_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SHA256_HEX = re.compile(r"[0-9a-f]{64}")
_PART = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
FILE_PATH = re.compile(rf"{_PART}(?:/{_PART}){{0,3}}")

#: Server states of a session, as ``GET /sessions/{id}`` and ``PUT .../manifest`` report them.
ABSENT, RECEIVING, STORED = "absent", "receiving", "stored"


def is_session_id(text: str) -> bool:
    return bool(SESSION_ID.fullmatch(text))


def is_file_path(text: str) -> bool:
    return bool(FILE_PATH.fullmatch(text))


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def session_url(session_id: str) -> str:
    return f"{API}/sessions/{quote(session_id, safe='')}"
