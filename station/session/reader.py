"""Reading sessions back, including ones a crash or power cut interrupted.

A reader refuses an unknown major format version, ignores unknown fields, drops a partial last
line of a sample file (a write cut short) and says so, and prefers a trial's gzipped file when
both it and the plain one exist (the crash landed between compressing and deleting).
"""

from __future__ import annotations

import io
import json
import logging
import os
import shutil
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from station import atomicio
from station.errors import SessionError
from station.session import format as fmt

log = logging.getLogger(__name__)


@dataclass
class SampleTable:
    """Columns of one sample file; ``truncated`` when a partial last line was dropped."""

    kind: str
    columns: dict[str, np.ndarray]
    t0_ns: int
    truncated: bool = False
    note: str = ""                  # why the end was dropped, when it was

    def __len__(self) -> int:
        return len(next(iter(self.columns.values()))) if self.columns else 0


def sample_path(trial_dir: Path, kind: str) -> Path | None:
    gz = trial_dir / f"{kind}.csv.gz"
    plain = trial_dir / f"{kind}.csv"
    return gz if gz.exists() else plain if plain.exists() else None


def read_text(path: Path) -> tuple[str, str]:
    """A text file, gzipped or not, without an incomplete last line; returns (text, note).

    A gzip stream cut short by a power cut still yields every complete line before the cut.
    """
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SessionError(f"{path}: cannot read: {exc.strerror or exc}") from None
    note = ""
    if raw[:2] == b"\x1f\x8b":
        d = zlib.decompressobj(wbits=31)
        try:
            raw = d.decompress(raw)
        except zlib.error as exc:
            raise SessionError(f"{path}: damaged gzip data: {exc}") from None
        if not d.eof:
            note = "gzip stream cut short (power cut?); incomplete last line dropped"
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SessionError(f"{path}: not a UTF-8 text file") from None
    if text and not text.endswith("\n"):
        text = text[:text.rfind("\n") + 1]
        note = note or "last line incomplete (power cut?) and dropped"
    return text, note


def read_samples(path: Path) -> SampleTable:
    """Parse a station sample file (plain or gzip); ``truncated`` if a cut end was dropped."""
    text, note = read_text(path)
    truncated = bool(note)
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines = lines[:-1]
    if len(lines) < 2:
        raise SessionError(f"{path}: no header (file cut short before it was written)")
    header = fmt.parse_header(lines[0])
    if not header:
        raise SessionError(f"{path}: not a station sample file: no '# station ... "
                           f"format_version=' first line (found {lines[0][:40]!r})")
    if fmt.major(header.get("format_version", "")) != fmt.major(fmt.FORMAT_VERSION):
        raise SessionError(f"{path}: unknown format_version {header.get('format_version')}")
    names = lines[1].split(",")
    body = lines[2:]
    if body:
        data = np.genfromtxt(io.StringIO("\n".join(body)), delimiter=",", dtype=float,
                             ndmin=2, invalid_raise=False, filling_values=np.nan)
        if data.shape[1] != len(names):
            raise SessionError(f"{path}: expected {len(names)} columns, found {data.shape[1]}")
    else:
        data = np.empty((0, len(names)))
    return SampleTable(header.get("kind", ""), {n: data[:, i] for i, n in enumerate(names)},
                       int(header.get("t0_ns", "0") or 0), truncated, note)


@dataclass
class Trial:
    dir: Path
    meta: dict[str, Any]

    def samples(self, kind: str) -> SampleTable | None:
        path = sample_path(self.dir, kind)
        return read_samples(path) if path else None

    @property
    def name(self) -> str:
        return str(self.meta.get("name", self.dir.name))


@dataclass
class Session:
    path: Path
    meta: dict[str, Any]
    trials: list[Trial] = field(default_factory=list)

    @property
    def sealed(self) -> bool:
        return (self.path / fmt.MANIFEST_JSON).exists()

    @property
    def interrupted(self) -> bool:
        return bool(self.meta.get("interrupted"))


def read_json(path: Path) -> dict[str, Any]:
    """A session or trial JSON file; refuses damage and unknown major versions."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SessionError(f"{path}: missing") from None
    except (OSError, ValueError) as exc:
        raise SessionError(f"{path}: damaged JSON ({exc})") from None
    if not isinstance(data, dict):
        raise SessionError(f"{path}: expected a JSON object")
    if fmt.major(data.get("format_version", "")) != fmt.major(fmt.FORMAT_VERSION):
        raise SessionError(f"{path}: unknown format_version {data.get('format_version')!r}")
    return data


def load_session(path: str | Path) -> Session:
    p = Path(path)
    meta = read_json(p / fmt.SESSION_JSON)
    trials = []
    for name in meta.get("trials", []):
        tdir = p / fmt.TRIALS_DIR / str(name)
        if Path(str(name)).name != str(name):
            raise SessionError(f"{p}: trial name {name!r} is not a plain folder name")
        trials.append(Trial(tdir, read_json(tdir / fmt.TRIAL_JSON)))
    return Session(p, meta, trials)


def pid_alive(pid: int) -> bool:
    """Is a process with this pid running (ours or another user's)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def needs_recovery(path: Path) -> bool:
    """Unsealed and no live recorder owns it."""
    if (path / fmt.MANIFEST_JSON).exists():
        return False
    lock = path / fmt.LOCK_FILE
    try:
        pid = int(lock.read_text().strip())
    except (OSError, ValueError):
        return True
    return pid != os.getpid() and not pid_alive(pid)


def recover_session(path: str | Path) -> Session:
    """Seal a session a crash left open: keep every whole line, flag it interrupted."""
    from station.session.recorder import write_manifest

    p = Path(path)
    if not (p / fmt.SESSION_JSON).exists():
        raise SessionError(f"{p}: no session.json: the crash came before the session began")
    _tidy_unfinished_start(p)
    session = load_session(p)
    for trial in session.trials:
        for kind in fmt.COLUMNS:
            gz, plain = trial.dir / f"{kind}.csv.gz", trial.dir / f"{kind}.csv"
            if gz.exists() and plain.exists():
                plain.unlink()               # compression finished; the plain copy is stale
            elif plain.exists():
                _drop_partial_line(plain)
        if not trial.meta.get("complete"):
            trial.meta["interrupted"] = True
            atomicio.write_json(trial.dir / fmt.TRIAL_JSON, trial.meta)
    session.meta["interrupted"] = True
    session.meta.setdefault("ended_utc", None)
    atomicio.write_json(p / fmt.SESSION_JSON, session.meta)
    write_manifest(p)
    (p / fmt.LOCK_FILE).unlink(missing_ok=True)
    atomicio.fsync_dir(p)
    return load_session(p)


def _tidy_unfinished_start(d: Path) -> None:
    """Mend what a kill inside ``start_trial`` leaves behind.

    A trial folder made (with its trial.json) just before session.json listed it is adopted
    into the list, so the recovered session is consistent; an empty one is removed. Sample
    files opened but killed before their header line reached the disk hold no sample and are
    removed, so a sealed session carries no unreadable file. Nothing with data is dropped."""
    try:
        meta = json.loads((d / fmt.SESSION_JSON).read_text(encoding="utf-8"))
        listed = list(meta["trials"])
    except (OSError, ValueError, KeyError, TypeError):
        return                                   # recover_session reports it
    tdir = d / fmt.TRIALS_DIR
    for t in sorted(tdir.iterdir()) if tdir.is_dir() else []:
        if t.is_dir() and t.name not in listed and not t.name.startswith("."):
            if (t / fmt.TRIAL_JSON).exists():
                listed.append(t.name)
            elif not any(not f.name.startswith(".") for f in t.iterdir()):
                shutil.rmtree(t)        # empty, or only the temp file of an unfinished write
    if listed != meta["trials"]:
        log.warning("session %s: adopting trial folder(s) %s", d.name, listed[len(
            meta["trials"]):])
        atomicio.write_json(d / fmt.SESSION_JSON, dict(meta, trials=listed))
    for f in d.glob(f"{fmt.TRIALS_DIR}/*/*.csv"):
        with open(f, "rb") as fh:
            head = fh.read(4096)
        if head.count(b"\n") < 2 and len(head) < 4096:
            log.warning("session %s: removing %s, cut before its header was written",
                        d.name, f.relative_to(d).as_posix())
            f.unlink()


def _drop_partial_line(path: Path) -> None:
    data = path.read_bytes()
    if data and not data.endswith(b"\n"):
        keep = data.rfind(b"\n") + 1
        with open(path, "r+b") as fh:
            fh.truncate(keep)
            fh.flush()
            os.fsync(fh.fileno())


def verify_manifest(path: str | Path) -> list[str]:
    """Every difference between a sealed session and its manifest; empty when it is intact."""
    p = Path(path)
    try:
        manifest = read_json(p / fmt.MANIFEST_JSON)
    except SessionError as exc:
        return [str(exc)]
    problems = []
    listed = manifest.get("files", {})
    for rel, entry in sorted(listed.items()):
        f = p / rel
        if not f.is_file():
            problems.append(f"{rel}: listed in the manifest but missing")
        elif f.stat().st_size != entry.get("size"):
            problems.append(f"{rel}: size {f.stat().st_size} != manifest {entry.get('size')}")
        elif fmt.sha256_file(f) != entry.get("sha256"):
            problems.append(f"{rel}: SHA-256 does not match the manifest")
    for f in sorted(p.rglob("*")):
        rel = f.relative_to(p).as_posix()
        if f.is_file() and rel not in listed and rel != fmt.MANIFEST_JSON \
                and not f.name.startswith("."):
            problems.append(f"{rel}: not in the manifest")
    return problems
