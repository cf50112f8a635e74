"""Session format version 1: names, columns and the small helpers both writer and reader use.

Layout (documented in docs/session-format.md):
  <data_dir>/sessions/<session_id>/
    session.json                 metadata; rewritten atomically as trials start and end
    recording.lock               present while a recorder owns the session (holds its pid)
    trials/<NN>-<slug>/trial.json  drill, conditions, parameters, events, scores
    trials/<NN>-<slug>/raw.csv[.gz]   t_s, c0..c3 raw counts, missing bits
    trials/<NN>-<slug>/imu.csv[.gz]   t_s, qw, qx, qy, qz, ax, ay, az (wobble board only)
    trials/<NN>-<slug>/cop.csv[.gz]   t_s, total_force_n, cop_ml_m, cop_ap_m (empty = undefined)
    trials/<NN>-<slug>/tilt.csv[.gz]  t_s, roll_rad, pitch_rad (wobble board only)
    manifest.json                written last: SHA-256 and size of every file; its presence
                                 seals the session (the completion marker)
Sample files start with one comment line ``# station <kind> format_version=1.0 t0_ns=<n>``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from pathlib import Path

FORMAT_VERSION = "1.0"
SESSION_JSON = "session.json"
MANIFEST_JSON = "manifest.json"
LOCK_FILE = "recording.lock"
TRIALS_DIR = "trials"
TRIAL_JSON = "trial.json"

COLUMNS: dict[str, tuple[str, ...]] = {
    "raw": ("t_s", "c0", "c1", "c2", "c3", "missing"),
    "imu": ("t_s", "qw", "qx", "qy", "qz", "ax", "ay", "az"),
    "cop": ("t_s", "total_force_n", "cop_ml_m", "cop_ap_m"),
    "tilt": ("t_s", "roll_rad", "pitch_rad"),
}


def new_session_id() -> str:
    """Sortable by start time, unique across stations without coordination."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(4)}"


_SLUG = re.compile(r"[^a-z0-9]+")


def trial_dirname(index: int, name: str) -> str:
    slug = _SLUG.sub("-", name.lower()).strip("-")[:40] or "trial"
    return f"{index:02d}-{slug}"


def header_line(kind: str, t0_ns: int) -> str:
    return f"# station {kind} format_version={FORMAT_VERSION} t0_ns={t0_ns}\n"


def parse_header(line: str) -> dict[str, str]:
    """Fields of a sample file's comment line; empty when it is not one."""
    if not line.startswith("# station "):
        return {}
    parts = line[2:].split()
    out = {"kind": parts[1] if len(parts) > 1 else ""}
    for part in parts[2:]:
        key, _, value = part.partition("=")
        out[key] = value
    return out


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def major(version: str) -> str:
    return str(version).split(".")[0]
