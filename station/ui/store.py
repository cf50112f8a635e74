"""What the kiosk remembers between visits: patients, their results, their drill levels.

- Patients: ``<data_dir>/ui/patients.json`` holds the pseudonymous codes the station knows (and
  names only when the clinic switched names on: switching them off erases the stored names).
  Sessions on disk (also those recorded by `station demo` or `station record`) add their codes.
- Results: built by scanning ``sessions/*/session.json`` and each ``trial.json`` once at start
  on the loader thread (metadata only, no sample files), then kept up to date in memory as
  drills end. Patient history, drill cards and results comparisons read this index.
- Levels: the challenge levels of ``station.drills.challenge.LevelStore``, read once, written
  through the worker.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FORMAT_VERSION = "1.0"
CODE_RE = re.compile(r"^[A-Z0-9][A-Z0-9-]{2,15}$")


@dataclass(frozen=True)
class Result:
    patient: str
    session_id: str
    started_utc: str
    drill: str
    title: str
    scores: dict[str, Any]
    complete: bool


@dataclass
class History:
    """Results by patient, oldest first."""

    by_patient: dict[str, list[Result]] = field(default_factory=lambda: defaultdict(list))
    last_visit: dict[str, str] = field(default_factory=dict)

    def add(self, r: Result) -> None:
        self.by_patient[r.patient].append(r)
        self.note_visit(r.patient, r.started_utc)

    def note_visit(self, code: str, utc: str) -> None:
        if utc > self.last_visit.get(code, ""):
            self.last_visit[code] = utc

    def results(self, code: str, drill: str | None = None) -> list[Result]:
        return [r for r in self.by_patient.get(code, []) if drill is None or r.drill == drill]

    def last(self, code: str, drill: str, *, exclude_session: str | None = None,
             complete: bool = True) -> Result | None:
        for r in reversed(self.results(code, drill)):
            if r.session_id != exclude_session and (r.complete or not complete):
                return r
        return None

    def sessions(self, code: str) -> int:
        return len({r.session_id for r in self.by_patient.get(code, [])})


def scan_sessions(sessions_dir: Path) -> History:
    """Read every session's metadata (loader thread). Damaged sessions are skipped."""
    h = History()
    if not sessions_dir.is_dir():
        return h
    for sdir in sorted(p for p in sessions_dir.iterdir() if p.is_dir()):
        try:
            meta = json.loads((sdir / "session.json").read_text(encoding="utf-8"))
            code = str(meta["patient_code"])
            started = str(meta.get("started_utc") or "")
            h.note_visit(code, started)
            for name in meta.get("trials", []):
                tmeta = json.loads((sdir / "trials" / str(name) / "trial.json")
                                   .read_text(encoding="utf-8"))
                h.add(Result(code, str(meta.get("session_id", sdir.name)),
                             str(tmeta.get("started_utc") or started), str(tmeta.get("drill")),
                             str(tmeta.get("name", "")), dict(tmeta.get("scores") or {}),
                             bool(tmeta.get("complete"))))
        except (OSError, ValueError, KeyError, TypeError):
            continue
    return h


@dataclass
class Patient:
    code: str
    created_utc: str = ""
    name: str = ""


class Patients:
    """The patient list in memory; ``to_json`` is what the worker writes."""

    def __init__(self, patients: list[Patient] | None = None) -> None:
        self.items: dict[str, Patient] = {p.code: p for p in patients or []}

    @classmethod
    def load(cls, path: Path) -> Patients:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            rows = data.get("patients", [])
            return cls([Patient(str(r["code"]), str(r.get("created_utc", "")),
                                str(r.get("name", ""))) for r in rows])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls()

    def to_json(self, keep_names: bool) -> dict[str, Any]:
        rows = []
        for p in self.items.values():
            row = {"code": p.code, "created_utc": p.created_utc}
            if keep_names and p.name:
                row["name"] = p.name
            rows.append(row)
        return {"format_version": FORMAT_VERSION, "patients": rows}

    def add(self, code: str, created_utc: str, name: str = "") -> Patient:
        p = Patient(code, created_utc, name)
        self.items[code] = p
        return p

    def forget_names(self) -> None:
        for p in self.items.values():
            p.name = ""

    def recent_first(self, history: History) -> list[Patient]:
        for code in history.last_visit:
            self.items.setdefault(code, Patient(code))
        return sorted(self.items.values(),
                      key=lambda p: (history.last_visit.get(p.code) or p.created_utc, p.code),
                      reverse=True)

    def next_code(self, prefix: str = "P") -> str:
        nums = [int(m.group(1)) for c in self.items if (m := re.fullmatch(rf"{prefix}(\d+)", c))]
        return f"{prefix}{(max(nums) + 1 if nums else 1):04d}"


def read_levels(path: Path) -> dict[str, dict[str, float]]:
    """All levels of ``LevelStore``'s file at once (loader thread): {patient: {drill: level}}."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        levels = data.get("levels", {})
        return {str(p): {str(d): float(v) for d, v in by.items()} for p, by in levels.items()}
    except (OSError, ValueError, AttributeError, TypeError):
        return {}
