"""Filing uploads: staging per station, verification, the atomic move, the index row.

Layout under ``data_dir``::

    tmp/                          bodies being received (removed at start-up)
    incoming/<station>/<session>/ staging: manifest.json + the files received so far
    sessions/<station>/<session>/ committed sessions, never modified
    reports/                      cached PDF reports for the web page

Names from the network are checked against ``station.sync.protocol`` before they become path
parts, and the final path is checked to lie inside its root. A body is written to ``tmp/``
while it is hashed and counted, then checked (hash, size, content) and renamed into staging.
``commit`` re-hashes every staged file, checks the schemas and the layout, renames the staging
folder into ``sessions/`` and inserts the index row; only then is a receipt returned. A crash
between the rename and the row leaves an unindexed folder that start-up moves back to staging.
Every refusal is a ``Refusal`` (HTTP status, error code, detail) and leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
import sqlite3
import threading
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from station import __version__, atomicio
from station.server.config import ServerConfig
from station.server.index import Index, utc_now
from station.session import check
from station.session import format as fmt
from station.sync import protocol as proto

log = logging.getLogger("station.server")


@dataclass(eq=False)
class Refusal(Exception):
    """A request refused on purpose: HTTP status, stable error code, human detail."""

    status: int
    code: str
    detail: str
    extra: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] | None = None

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail, **self.extra}


@dataclass(frozen=True)
class Expected:
    """A file the staged manifest announces."""

    sha256: str
    size: int
    manifest_sha256: str


class Receiver:
    """Everything below HTTP: thread-safe, called from the app's worker threads."""

    def __init__(self, cfg: ServerConfig, index: Index) -> None:
        self.cfg, self.index = cfg, index
        root = cfg.data_path
        self.tmp, self.incoming, self.store = root / "tmp", root / "incoming", root / "sessions"
        for d in (self.tmp, self.incoming, self.store, root / "reports"):
            d.mkdir(parents=True, exist_ok=True)
        self._locks = [threading.Lock() for _ in range(64)]
        self._manifests: dict[Path, tuple[tuple[int, int, int], dict[str, Any], str]] = {}
        self._cache_lock = threading.Lock()

    def _lock(self, session_id: str) -> threading.Lock:
        return self._locks[zlib.crc32(session_id.encode()) % len(self._locks)]

    # ------------------------------------------------------------------ start-up
    def recover(self) -> None:
        """Drop partial bodies; return committed-but-unindexed folders to staging."""
        for f in self.tmp.iterdir():
            f.unlink(missing_ok=True)
        for station in self.store.iterdir():
            for d in list(station.iterdir()):
                if self.index.session(d.name) is None:
                    staging = self.incoming / station.name / d.name
                    if staging.exists():
                        shutil.rmtree(d)
                    else:
                        staging.parent.mkdir(parents=True, exist_ok=True)
                        os.replace(d, staging)
                    log.warning("session %s was not indexed; back to staging", d.name)

    # ------------------------------------------------------------------ names
    @staticmethod
    def check_names(session_id: str, rel: str | None = None) -> None:
        if not proto.is_session_id(session_id):
            raise Refusal(400, "bad_name", "not a session id")
        if rel is not None and not proto.is_file_path(rel):
            raise Refusal(400, "bad_name", "not an acceptable file path")

    @staticmethod
    def _inside(root: Path, *parts: str) -> Path:
        """Join checked names; a second, lexical guard behind the patterns."""
        for part in parts:
            if part in ("", ".", "..") or any(c in part for c in "/\\\0"):
                raise Refusal(400, "bad_name", "path outside the session")
        return root.joinpath(*parts)

    def staging(self, station: str, session_id: str) -> Path:
        return self._inside(self.incoming, station, session_id)

    def committed(self, station: str, session_id: str) -> Path:
        return self._inside(self.store, station, session_id)

    def new_temp(self) -> Path:
        return self.tmp / f"{secrets.token_hex(8)}.part"

    def _room_for(self, size: int) -> None:
        if shutil.disk_usage(self.cfg.data_path).free - size < self.cfg.min_free_bytes:
            raise Refusal(507, "storage_full", "the receiver is short of disk space")

    # ------------------------------------------------------------------ state
    def _stored(self, station: str, session_id: str) -> dict[str, Any] | None:
        row = self.index.session(session_id)
        if row is not None and row["station_id"] != station:
            raise Refusal(403, "other_station", "this session id belongs to another station")
        return row

    def _staged_manifest(self, station: str, session_id: str) -> tuple[dict[str, Any], str]:
        path = self.staging(station, session_id) / fmt.MANIFEST_JSON
        try:
            st = path.stat()
            key = (st.st_ino, st.st_mtime_ns, st.st_size)
            with self._cache_lock:
                cached = self._manifests.get(path)
            if cached is None or cached[0] != key:
                data = path.read_bytes()
                cached = (key, json.loads(data), proto.sha256_hex(data))
                with self._cache_lock:
                    self._manifests[path] = cached
                    if len(self._manifests) > 256:
                        self._manifests.pop(next(iter(self._manifests)))
        except FileNotFoundError:
            raise Refusal(409, "not_declared", "declare the manifest first") from None
        return cached[1], cached[2]

    def _missing(self, station: str, session_id: str, manifest: dict[str, Any]) -> list[str]:
        staging = self.staging(station, session_id)
        return [rel for rel, e in manifest["files"].items()
                if not (staging / rel).is_file() or (staging / rel).stat().st_size != e["size"]]

    def status(self, station: str, session_id: str) -> tuple[int, dict[str, Any]]:
        self.check_names(session_id)
        row = self._stored(station, session_id)
        if row is not None:
            return 200, {"state": proto.STORED, "manifest_sha256": row["manifest_sha256"],
                         "receipt": json.loads(row["receipt"])}
        try:
            manifest, sha = self._staged_manifest(station, session_id)
        except Refusal:
            return 404, {"state": proto.ABSENT}
        return 200, {"state": proto.RECEIVING, "manifest_sha256": sha,
                     "missing": self._missing(station, session_id, manifest)}

    # ------------------------------------------------------------------ declare
    def declare(self, station: str, session_id: str, body: bytes,
                claimed_sha: str) -> tuple[int, dict[str, Any]]:
        """Stage a manifest; answer what the server already holds of this session."""
        self.check_names(session_id)
        sha = proto.sha256_hex(body)
        if claimed_sha != sha:
            raise Refusal(422, "hash_mismatch", "the manifest does not match its SHA-256")
        manifest = parse_json(body, "manifest")
        problems = check.manifest_problems(manifest, session_id)
        if problems:
            raise Refusal(422, "invalid_manifest", "; ".join(problems[:5]))
        self._limits(manifest)
        with self._lock(session_id):
            row = self._stored(station, session_id)
            if row is not None:
                if row["manifest_sha256"] != sha:
                    raise Refusal(409, "conflict", "a different session is stored under this "
                                  "id; nothing was overwritten")
                return 200, {"state": proto.STORED, "manifest_sha256": sha,
                             "receipt": json.loads(row["receipt"])}
            staging = self.staging(station, session_id)
            try:
                _, staged_sha = self._staged_manifest(station, session_id)
            except Refusal:
                staged_sha = None
            if staged_sha != sha:
                self._room_for(sum(e["size"] for e in manifest["files"].values()))
                if staging.exists():            # a re-sealed session: start over
                    shutil.rmtree(staging)
                atomicio.write_bytes(staging / fmt.MANIFEST_JSON, body)
            return (201 if staged_sha != sha else 200), {
                "state": proto.RECEIVING, "manifest_sha256": sha,
                "missing": self._missing(station, session_id, manifest)}

    def _limits(self, manifest: dict[str, Any]) -> None:
        files = manifest["files"]
        sizes = [e["size"] for e in files.values()]
        if len(files) > self.cfg.max_files_per_session:
            raise Refusal(413, "too_large", f"more than {self.cfg.max_files_per_session} files")
        if max(sizes) > self.cfg.max_file_bytes or sum(sizes) > self.cfg.max_session_bytes:
            raise Refusal(413, "too_large", "a file or the session exceeds the size limit")
        for rel in files:
            name = rel.rsplit("/", 1)[-1]
            if name.endswith(".json") and files[rel]["size"] > self.cfg.max_json_bytes:
                raise Refusal(413, "too_large", f"{rel} exceeds the JSON size limit")
        layout = check.layout_problems(manifest, sorted({r.split("/")[1] for r in files
                                                         if r.count("/") == 2}))
        if layout:
            raise Refusal(422, "invalid_manifest", "; ".join(layout[:5]))

    # ------------------------------------------------------------------ files
    def expect(self, station: str, session_id: str, rel: str, claimed_sha: str) -> Expected:
        """Before a body is read: is this file wanted, and with which hash and size?"""
        self.check_names(session_id, rel)
        if self._stored(station, session_id) is not None:
            raise Refusal(409, "already_stored", "this session is stored; nothing was written")
        manifest, sha = self._staged_manifest(station, session_id)
        entry = manifest["files"].get(rel)
        if entry is None:
            raise Refusal(422, "not_in_manifest", "this file is not in the declared manifest")
        if claimed_sha != entry["sha256"]:
            raise Refusal(422, "hash_mismatch", "the SHA-256 sent differs from the manifest's")
        self._room_for(entry["size"])
        return Expected(entry["sha256"], entry["size"], sha)

    def expect_many(self, station: str, session_id: str,
                    listing: list[dict[str, Any]]) -> list[Expected]:
        """``expect`` for each file of a batch; sizes must match the manifest too."""
        plan = []
        for f in listing:
            exp = self.expect(station, session_id, f["path"], f["sha256"])
            if f["size"] != exp.size:
                raise Refusal(422, "size_mismatch", f"{f['path']}: size differs from the "
                              "manifest's")
            plan.append(exp)
        return plan

    def place(self, station: str, session_id: str, rel: str, tmp: Path, exp: Expected) -> None:
        """A fully received, hash-checked body: check its content, move it into staging."""
        problems = self._content_problems(station, session_id, rel, tmp)
        if problems:
            raise Refusal(422, "invalid_content", "; ".join(problems[:5]))
        with self._lock(session_id):
            if self._stored(station, session_id) is not None:
                raise Refusal(409, "already_stored", "this session is stored")
            if self._staged_manifest(station, session_id)[1] != exp.manifest_sha256:
                raise Refusal(409, "manifest_changed", "the manifest was declared again")
            dest = self._inside(self.staging(station, session_id), *rel.split("/"))
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, dest)     # made durable by commit, before any receipt

    def _content_problems(self, station: str, session_id: str, rel: str,
                          path: Path) -> list[str]:
        name = rel.rsplit("/", 1)[-1]
        if rel == fmt.SESSION_JSON:
            meta = parse_json(path.read_bytes(), rel)
            problems = check.session_meta_problems(meta, session_id)
            if not problems and meta["station_id"] != station:
                raise Refusal(403, "other_station", "session.json names another station")
            return problems
        if name == fmt.TRIAL_JSON:
            return check.trial_meta_problems(parse_json(path.read_bytes(), rel))
        if check.SAMPLE_NAME.match(name):      # CSV gzips 3-10x; a bomb far more
            limit = min(check.MAX_SAMPLE_BYTES, 64 * path.stat().st_size + (1 << 20))
            return check.sample_file_problems(path, name, limit)
        return [f"{rel}: not a version-1 session file"]

    # ------------------------------------------------------------------ commit
    def commit(self, station: str, session_id: str, sha: str,
               remote: str | None = None) -> tuple[int, dict[str, Any]]:
        """Verify everything, move it into place, index it; then (only then) the receipt."""
        self.check_names(session_id)
        with self._lock(session_id):
            row = self._stored(station, session_id)
            if row is not None:
                if row["manifest_sha256"] != sha:
                    raise Refusal(409, "conflict", "a different session is stored under this id")
                self.index.audit(station, "upload.commit", "already stored",
                                 session_id=session_id, remote=remote)
                return 200, {"already_stored": True, "receipt": json.loads(row["receipt"])}
            manifest, staged_sha = self._staged_manifest(station, session_id)
            if staged_sha != sha:
                raise Refusal(409, "manifest_changed", "commit names another manifest")
            staging = self.staging(station, session_id)
            missing = self._verify_files(staging, manifest)
            if missing:
                raise Refusal(409, "incomplete", "files missing or damaged; send them again",
                              {"missing": missing})
            meta = parse_json((staging / fmt.SESSION_JSON).read_bytes(), fmt.SESSION_JSON)
            problems = check.session_meta_problems(meta, session_id)
            problems += check.layout_problems(manifest, meta.get("trials", []))
            if problems:
                raise Refusal(422, "invalid_session", "; ".join(problems[:5]))
            if meta["station_id"] != station:
                raise Refusal(403, "other_station", "session.json names another station")
            dest = self.committed(station, session_id)
            if dest.exists():                    # unindexed leftover: never confirmed
                shutil.rmtree(dest)
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging, dest)
            atomicio.fsync_dir(dest.parent)
            atomicio.fsync_dir(staging.parent)
            receipt = {"session_id": session_id, "station_id": station,
                       "manifest_sha256": sha, "files": len(manifest["files"]),
                       "bytes": sum(e["size"] for e in manifest["files"].values()),
                       "received_utc": utc_now(), "receipt_id": secrets.token_hex(8),
                       "server_version": __version__}
            try:
                self.index.add_session({
                    "session_id": session_id, "station_id": station,
                    "patient_code": meta["patient_code"], "manifest_sha256": sha,
                    "started_utc": meta["started_utc"], "interrupted": int(meta["interrupted"]),
                    "trials": len(meta["trials"]), "files": receipt["files"],
                    "bytes": receipt["bytes"], "received_utc": receipt["received_utc"],
                    "receipt": json.dumps(receipt, sort_keys=True)},
                    audit=(station, "upload.commit", "stored", remote))
            except sqlite3.IntegrityError:       # cannot happen under the lock; be safe
                raise Refusal(409, "conflict", "stored meanwhile") from None
        log.info("stored session %s from station %s (%d files, %d bytes)", session_id,
                 station, receipt["files"], receipt["bytes"])
        return 200, {"already_stored": False, "receipt": receipt}

    @staticmethod
    def _verify_files(staging: Path, manifest: dict[str, Any]) -> list[str]:
        """Re-hash every staged file and make it durable; files absent or not matching the
        manifest are removed and returned (the station sends them again)."""
        bad, dirs = [], {staging}
        for rel, entry in manifest["files"].items():
            f = staging / rel
            ok = False
            with contextlib.suppress(FileNotFoundError), open(f, "rb") as fh:
                digest = hashlib.sha256()
                while block := fh.read(1 << 20):
                    digest.update(block)
                ok = fh.tell() == entry["size"] and digest.hexdigest() == entry["sha256"]
                if ok:
                    os.fsync(fh.fileno())
            if ok:
                dirs.update(p for p in f.parents if p.is_relative_to(staging))
            else:
                bad.append(rel)
                f.unlink(missing_ok=True)
        if not bad:
            for d in sorted(dirs, key=lambda p: len(p.parts), reverse=True):
                atomicio.fsync_dir(d)
        return bad


def parse_json(data: bytes, what: str) -> Any:
    try:
        value = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        raise Refusal(400, "malformed_json", f"{what} is not valid JSON") from None
    if not isinstance(value, dict):
        raise Refusal(400, "malformed_json", f"{what} must be a JSON object")
    return value
