"""`station check SESSION`: say exactly what is wrong with a session folder.

The same checks guard the clinic receiver, so a session the station calls intact is one the
server accepts. The JSON files are checked against the versioned JSON Schemas in
``station/session/schemas/`` (the documents researchers read) by a small interpreter of the
subset of JSON Schema they use, so the schema files stay the single source of truth without a
new dependency. Messages never echo string values: a patient name typed where a code belongs
must not end up in a log.
"""

from __future__ import annotations

import functools
import gzip
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from station.errors import SessionError
from station.session import format as fmt
from station.session.reader import needs_recovery, read_samples, sample_path, verify_manifest

SCHEMA_DIR = Path(__file__).with_name("schemas")
#: Largest decompressed sample file accepted (a 2 h trial at 80 Hz is about 30 MB).
MAX_SAMPLE_BYTES = 512 * 1024 * 1024
SAMPLE_NAME = re.compile(r"^(raw|cop|imu|tilt)\.csv(\.gz)?$")
TRIAL_DIR = re.compile(r"[0-9]{2,3}-[a-z0-9-]{1,40}")


# ------------------------------------------------------------------ JSON Schema subset
@functools.cache
def schema(name: str) -> dict[str, Any]:
    """One of the bundled schemas: ``session``, ``trial`` or ``manifest``."""
    return json.loads((SCHEMA_DIR / f"{name}-v1.schema.json").read_text(encoding="utf-8"))


_TYPES = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
}


def validate(value: Any, sch: dict[str, Any], root: dict[str, Any] | None = None,
             where: str = "") -> list[str]:
    """Problems of ``value`` against ``sch`` (type, enum, pattern, bounds, items, properties,
    required, additionalProperties, propertyNames, anyOf, local $ref); empty when valid."""
    root = root or sch
    here = where or "(top level)"
    if "$ref" in sch:
        target: Any = root
        for part in sch["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return validate(value, target, root, where)
    if "anyOf" in sch:
        if all(validate(value, s, root, where) for s in sch["anyOf"]):
            return [f"{here}: has the wrong type or form"]
        return []
    types = sch.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not any(_TYPES[t](value) for t in names):
            return [f"{here}: must be {' or '.join(names)}, not {_json_type(value)}"]
    out: list[str] = []
    if "enum" in sch and value not in sch["enum"]:
        out.append(f"{here}: must be one of {', '.join(map(str, sch['enum']))}")
    if isinstance(value, str):
        if "pattern" in sch and not re.search(sch["pattern"], value):
            out.append(f"{here}: does not match the required form {sch['pattern']}")
        if len(value) < sch.get("minLength", 0) or len(value) > sch.get("maxLength", 1 << 30):
            out.append(f"{here}: length {len(value)} is out of range")
    if _TYPES["number"](value):
        if "minimum" in sch and value < sch["minimum"]:
            out.append(f"{here}: {value} is below {sch['minimum']}")
        if "exclusiveMinimum" in sch and value <= sch["exclusiveMinimum"]:
            out.append(f"{here}: {value} must be above {sch['exclusiveMinimum']}")
        if "maximum" in sch and value > sch["maximum"]:
            out.append(f"{here}: {value} is above {sch['maximum']}")
    if isinstance(value, list):
        if not sch.get("minItems", 0) <= len(value) <= sch.get("maxItems", 1 << 30):
            out.append(f"{here}: has {len(value)} items, which is out of range")
        if "items" in sch:
            for i, item in enumerate(value):
                out += validate(item, sch["items"], root, f"{where}[{i}]")
    if isinstance(value, dict):
        out += _validate_object(value, sch, root, where)
    return out


def _validate_object(value: dict[str, Any], sch: dict[str, Any], root: dict[str, Any],
                     where: str) -> list[str]:
    out = []
    prefix = f"{where}." if where else ""
    for key in sch.get("required", []):
        if key not in value:
            out.append(f"{prefix}{key}: missing")
    if len(value) < sch.get("minProperties", 0):
        out.append(f"{where or '(top level)'}: needs at least {sch['minProperties']} entries")
    props = sch.get("properties", {})
    for key, item in value.items():
        if "propertyNames" in sch and validate(key, sch["propertyNames"], root):
            out.append(f"{prefix}{key!r}: not an allowed name")
            continue
        if key in props:
            out += validate(item, props[key], root, f"{prefix}{key}")
        elif isinstance(sch.get("additionalProperties"), dict):
            out += validate(item, sch["additionalProperties"], root, f"{prefix}{key}")
        elif sch.get("additionalProperties") is False:
            out.append(f"{prefix}{key}: not allowed here")
    return out


def _json_type(value: Any) -> str:
    return next((t for t in ("null", "boolean", "integer", "number", "string", "array",
                             "object") if _TYPES[t](value)), type(value).__name__)


# ------------------------------------------------------------------ per-document checks
def session_meta_problems(meta: Any, session_id: str | None = None) -> list[str]:
    out = validate(meta, schema("session"))
    if not out and session_id is not None and meta["session_id"] != session_id:
        out.append("session_id: does not match the session's folder name")
    return out


def trial_meta_problems(meta: Any) -> list[str]:
    return validate(meta, schema("trial"))


def manifest_problems(meta: Any, session_id: str | None = None) -> list[str]:
    out = validate(meta, schema("manifest"))
    if not out and session_id is not None and meta["session_id"] != session_id:
        out.append("session_id: does not match the session's folder name")
    return out


def layout_problems(manifest: dict[str, Any], trials: list[str]) -> list[str]:
    """Files of a manifest that do not belong to the version-1 layout of these trials."""
    out = []
    if fmt.SESSION_JSON not in manifest["files"]:
        out.append(f"{fmt.SESSION_JSON}: not in the manifest")
    for rel in manifest["files"]:
        parts = rel.split("/")
        if rel == fmt.SESSION_JSON:
            continue
        if len(parts) != 3 or parts[0] != fmt.TRIALS_DIR or parts[1] not in trials \
                or not TRIAL_DIR.fullmatch(parts[1]):
            out.append(f"{rel}: not part of a version-1 session (unknown file or trial)")
        elif parts[2] != fmt.TRIAL_JSON and not SAMPLE_NAME.match(parts[2]):
            out.append(f"{rel}: not a version-1 trial file")
    for name in trials:
        if f"{fmt.TRIALS_DIR}/{name}/{fmt.TRIAL_JSON}" not in manifest["files"]:
            out.append(f"{fmt.TRIALS_DIR}/{name}/{fmt.TRIAL_JSON}: listed trial has no trial.json")
    return out


def sample_file_problems(path: Path, name: str | None = None,
                         limit: int = MAX_SAMPLE_BYTES) -> list[str]:
    """Content of one sample file: gzip intact (bounded, so a bomb stops early), the station
    header with the kind its name says, the version-1 columns, whole lines only."""
    name = name or path.name
    m = SAMPLE_NAME.match(name)
    if not m:
        return [f"{name}: not a sample file name"]
    kind = m.group(1)
    head, last, total = b"", b"", 0
    try:
        opener = gzip.open if name.endswith(".gz") else open
        with opener(path, "rb") as fh:
            while block := fh.read(1 << 20):
                if len(head) < 4096:
                    head += block[:4096 - len(head)]
                last, total = block[-1:], total + len(block)
                if total > limit:
                    return [f"{name}: decompresses to more than {limit} bytes"]
    except (OSError, EOFError, zlib.error) as exc:
        return [f"{name}: unreadable ({type(exc).__name__}: not a whole {kind} file)"]
    lines = head.split(b"\n")
    try:
        header = fmt.parse_header(lines[0].decode("ascii"))
        columns = lines[1].decode("ascii").split(",") if len(lines) > 2 else []
    except UnicodeDecodeError:
        return [f"{name}: not a station sample file (binary content)"]
    if not header:
        return [f"{name}: not a station sample file (no '# station' header line)"]
    out = []
    if header.get("kind") != kind:
        out.append(f"{name}: header says kind {header.get('kind')!r}, the name says {kind!r}")
    if fmt.major(header.get("format_version", "")) != fmt.major(fmt.FORMAT_VERSION):
        out.append(f"{name}: unknown format_version in the header")
    if tuple(columns) != fmt.COLUMNS[kind]:
        out.append(f"{name}: columns are not {','.join(fmt.COLUMNS[kind])}")
    if total and last != b"\n":
        out.append(f"{name}: partial last line (a sealed session holds whole lines only)")
    return out


# ------------------------------------------------------------------ the whole session
@dataclass
class Problem:
    severity: str          # "error": damaged or refused by the server; "warning": worth knowing
    where: str             # path relative to the session folder ("" for the whole session)
    message: str

    def __str__(self) -> str:
        return f"{self.severity:<8}{self.where + ': ' if self.where else ''}{self.message}"


@dataclass
class CheckReport:
    path: Path
    problems: list[Problem] = field(default_factory=list)
    sealed: bool = False
    interrupted: bool = False

    @property
    def ok(self) -> bool:
        return not any(p.severity == "error" for p in self.problems)

    def add(self, severity: str, where: str, message: str) -> None:
        self.problems.append(Problem(severity, where, message))

    def to_json(self) -> dict[str, Any]:
        return {"session": self.path.name, "ok": self.ok, "sealed": self.sealed,
                "interrupted": self.interrupted,
                "problems": [p.__dict__ for p in self.problems]}


def _load(report: CheckReport, rel: str) -> Any:
    try:
        return json.loads((report.path / rel).read_text(encoding="utf-8"))
    except FileNotFoundError:
        report.add("error", rel, "missing")
    except (OSError, ValueError) as exc:
        report.add("error", rel, f"damaged JSON ({type(exc).__name__})")
    return None


def _split(message: str) -> tuple[str, str]:
    field_, _, rest = message.partition(": ")
    return field_, rest


def check_session(path: str | Path) -> CheckReport:
    """Every problem of one session folder, errors first in the order a human fixes them."""
    report = CheckReport(Path(path))
    p = report.path
    if not p.is_dir():
        report.add("error", "", "not a folder")
        return report
    if not re.fullmatch(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}", p.name):
        report.add("error", "", "folder name is not a session id (YYYYMMDDTHHMMSSZ-xxxxxxxx)")
    report.sealed = (p / fmt.MANIFEST_JSON).exists()
    if not report.sealed:
        state = ("interrupted and not yet recovered (the store seals it at start-up)"
                 if needs_recovery(p) else "still being recorded")
        report.add("error", fmt.MANIFEST_JSON, f"missing: the session is not sealed, {state}")
    elif (p / fmt.LOCK_FILE).exists():
        report.add("warning", fmt.LOCK_FILE, "left behind in a sealed session")
    meta = _load(report, fmt.SESSION_JSON)
    trials: list[str] = []
    if meta is not None:
        for msg in session_meta_problems(meta, p.name):
            report.add("error", fmt.SESSION_JSON, msg)
        if isinstance(meta, dict):
            report.interrupted = bool(meta.get("interrupted"))
            trials = [t for t in meta.get("trials", []) if isinstance(t, str)
                      and TRIAL_DIR.fullmatch(t)]
    if report.interrupted:
        report.add("warning", "", "interrupted: kept up to the interruption and flagged")
    if report.sealed:
        manifest = _load(report, fmt.MANIFEST_JSON)
        if manifest is not None:
            problems = manifest_problems(manifest, p.name)
            for msg in problems:
                report.add("error", fmt.MANIFEST_JSON, msg)
            if not problems:
                for msg in layout_problems(manifest, trials):
                    report.add("error", *_split(msg))
                for msg in verify_manifest(p):
                    if not msg.startswith(f"{fmt.LOCK_FILE}:"):     # reported just above
                        report.add("error", *_split(msg))
    for name in trials:
        _check_trial(report, name)
    listed = set(trials)
    tdir = p / fmt.TRIALS_DIR
    for d in sorted(tdir.iterdir()) if tdir.is_dir() else []:
        if d.name not in listed and not d.name.startswith("."):
            report.add("error", f"{fmt.TRIALS_DIR}/{d.name}", "not listed in session.json")
    report.problems.sort(key=lambda x: x.severity != "error")
    return report


def _check_trial(report: CheckReport, name: str) -> None:
    rel_dir = f"{fmt.TRIALS_DIR}/{name}"
    tdir = report.path / rel_dir
    if not tdir.is_dir():
        report.add("error", rel_dir, "listed in session.json but missing")
        return
    meta = _load(report, f"{rel_dir}/{fmt.TRIAL_JSON}")
    if meta is None:
        return
    for msg in trial_meta_problems(meta):
        report.add("error", f"{rel_dir}/{fmt.TRIAL_JSON}", msg)
    meta = meta if isinstance(meta, dict) else {}
    cut_short = bool(meta.get("interrupted") or not meta.get("complete", True))
    for f in sorted(tdir.iterdir()):
        if f.name != fmt.TRIAL_JSON and not SAMPLE_NAME.match(f.name) \
                and not f.name.startswith("."):
            report.add("warning", f"{rel_dir}/{f.name}", "unknown file (readers ignore it)")
    for kind in fmt.COLUMNS:
        gz, plain = tdir / f"{kind}.csv.gz", tdir / f"{kind}.csv"
        if gz.exists() and plain.exists():
            report.add("error", f"{rel_dir}/{plain.name}", "stale plain copy next to the .gz")
        f = gz if gz.exists() else plain if plain.exists() else None
        if f is None:
            if kind in ("raw", "cop"):
                report.add("warning" if cut_short else "error", rel_dir,
                           f"no {kind} samples" + (" (trial cut short)" if cut_short else ""))
            continue
        rel = f"{rel_dir}/{f.name}"
        problems = sample_file_problems(f)
        for msg in problems:
            report.add("error", rel, _split(msg)[1])
        if problems:
            continue
        try:
            table = read_samples(f)
        except SessionError as exc:
            report.add("error", rel, str(exc).rpartition(": ")[2])
            continue
        t = table.columns.get("t_s")
        if t is not None and len(t) > 1 and not (t[1:] > t[:-1]).all():
            report.add("error", rel, "t_s is not strictly increasing")
        if kind == "raw" and meta.get("complete") and "samples" in meta \
                and meta["samples"] != len(table):
            report.add("error", rel, f"{len(table)} rows, trial.json says {meta['samples']}")
    if (sample_path(tdir, "imu") is None) != (sample_path(tdir, "tilt") is None):
        report.add("warning", rel_dir, "imu and tilt samples should come together")
