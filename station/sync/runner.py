"""One sync run: every sealed, unconfirmed session up, oldest first; then retention.

A session counts as synced only when the server's receipt names its manifest hash, and the
store records the receipt before anything may be deleted. One run at a time (a lock file), so
the nightly timer and the settings screen's button cannot race. The UI reads
``<data_dir>/sync-status.json`` (``read_status``) for the progress and the last result; the
server gets a small heartbeat (counts and disk level, never patient data).
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from station import __version__, atomicio
from station.clock import utc_now
from station.session.reader import pid_alive, verify_manifest
from station.session.store import SessionStore, State
from station.sync.client import (
    AuthError,
    ConflictError,
    ProtocolError,
    RejectedError,
    StorageFullError,
    SyncClient,
    SyncError,
    TransientError,
)

log = logging.getLogger(__name__)
STATUS_FILE = "sync-status.json"
LOCK_FILE = "sync.lock"
EXIT_OK, EXIT_INCOMPLETE, EXIT_ERROR, EXIT_ATTENTION, EXIT_BUSY = 0, 1, 2, 3, 4
ATTENTION = (State.CONFLICT, State.REJECTED, State.DAMAGED, State.MISSING)


@dataclass
class SyncSummary:
    offered: int = 0          # sessions this run tried
    sent: int = 0             # uploaded and confirmed now
    already: int = 0          # the server had them (a receipt lost by an earlier cut-off run)
    failed: int = 0           # network or server trouble: retried on the next run
    attention: int = 0        # conflict / rejected / damaged found in this run
    files: int = 0
    bytes: int = 0
    purged: int = 0
    pending: int = 0          # sealed sessions still without a receipt after the run
    needs_human: int = 0      # all sessions in an attention state, this run or earlier
    seconds: float = 0.0
    stopped: str | None = None   # why the run ended early
    fatal: bool = False          # ... because of the token, TLS or URL: a human must act

    @property
    def exit_code(self) -> int:
        if self.fatal:
            return EXIT_ERROR
        if self.pending:
            return EXIT_INCOMPLETE
        return EXIT_ATTENTION if self.needs_human else EXIT_OK

    def line(self) -> str:
        mb = self.bytes / 1e6
        text = (f"sync: {self.sent} sent, {self.already} already on the server, "
                f"{self.failed} failed, {self.attention} need attention; {self.files} files, "
                f"{mb:.1f} MB in {self.seconds:.1f} s; {self.pending} pending, "
                f"{self.purged} purged")
        return text + (f"; stopped: {self.stopped}" if self.stopped else "")


@contextlib.contextmanager
def run_lock(data_dir: Path) -> Iterator[bool]:
    """Yields False when another sync run holds the lock."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / LOCK_FILE, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def read_status(data_dir: str | Path) -> dict[str, Any]:
    """The UI's view of sync: ``state`` (idle / running), progress, the last result."""
    try:
        data = json.loads((Path(data_dir) / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {"state": "idle", "last_success_utc": None}
    return data if isinstance(data, dict) else {"state": "idle"}


def ui_summary(data_dir: str | Path) -> dict[str, Any]:
    """What the touchscreen shows: ``running``, ``done``/``total``, ``last_ok_utc`` and a
    short ``failed`` reason (None when the last run left nothing behind). Reads one small
    file; a run that was killed does not stay "running"."""
    s = read_status(data_dir)
    last = s.get("last_result") or {}
    pid = s.get("pid")
    running = s.get("state") == "running" and isinstance(pid, int) and pid_alive(pid)
    failed = None
    code = s.get("exit_code")
    if code == EXIT_ERROR:
        failed = "the server refused this station (token, certificate or address)"
    elif code == EXIT_INCOMPLETE:
        failed = (f"{last.get('pending')} session(s) not sent: server unreachable or busy"
                  if last.get("stopped") else f"{last.get('pending')} session(s) not sent")
    elif code == EXIT_ATTENTION:
        failed = f"{last.get('needs_human')} session(s) need attention (station sync --status)"
    elif s.get("state") == "running" and not running:
        failed = "the last sync was cut off"
    return {"running": running, "done": s.get("done"), "total": s.get("total"),
            "last_ok_utc": s.get("last_success_utc"), "failed": failed}




class _Status:
    """Atomic, throttled writes of the status file (one per second at most mid-run)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / STATUS_FILE
        prev = read_status(data_dir)
        self.data: dict[str, Any] = {"last_success_utc": prev.get("last_success_utc")}
        self._last = 0.0

    def update(self, force: bool = False, **fields: Any) -> None:
        self.data.update(fields)
        now = time.monotonic()
        if force or now - self._last >= 1.0:
            atomicio.write_json(self.path, self.data)
            self._last = now


def run_sync(store: SessionStore, client: SyncClient, *,
             out: Callable[[str], None] | None = None,
             on_event: Callable[[str, str], None] | None = None,
             retention: bool = True, max_failed_in_a_row: int = 3) -> SyncSummary:
    """Upload every pending session; ``out`` gets progress lines, ``on_event(kind, detail)``
    each file sent, session confirmed and session purged."""
    say = out or (lambda _line: None)
    event = on_event or (lambda _kind, _detail: None)
    summary = SyncSummary()
    started = time.monotonic()
    status = _Status(store.data_dir)
    pending = store.pending()
    status.update(force=True, state="running", pid=os.getpid(), started_utc=utc_now(),
                  total=len(pending), done=0)
    say(f"sync: {len(pending)} session(s) to send to {client.base_url}")
    in_a_row = 0
    try:
        for i, s in enumerate(pending, 1):
            sid = s.session_id
            summary.offered += 1
            tag = f"[{i:>{len(str(len(pending)))}}/{len(pending)}] {sid}"
            try:
                result = client.upload_session(
                    store.path(sid), on_file=lambda rel, _n, sid=sid: event("file", f"{sid}/{rel}"))
                store.mark_synced(sid, result.receipt)
            except AuthError as exc:
                summary.stopped, summary.fatal = str(exc), True
                raise
            except (TransientError, ProtocolError) as exc:
                store.mark_failed(sid, str(exc))
                summary.failed += 1
                in_a_row += 1
                say(f"{tag}  FAILED (will retry on the next run): {exc}")
                if isinstance(exc, StorageFullError) or in_a_row >= max_failed_in_a_row:
                    summary.stopped = f"{in_a_row} failure(s) in a row; last: {exc}"
                    break
            except (ConflictError, RejectedError, OSError) as exc:     # OSError: local files
                problems = verify_manifest(store.path(sid))
                state = (State.CONFLICT if isinstance(exc, ConflictError)
                         else State.DAMAGED if problems else State.REJECTED)
                detail = problems[0] if problems else str(exc)
                store.mark_failed(sid, detail, state)
                summary.attention += 1
                say(f"{tag}  {state.upper()}: {detail}")
                log.warning("session %s: %s", sid, state)
            else:
                in_a_row = 0
                event("synced", sid)
                if result.already_stored:
                    summary.already += 1
                    say(f"{tag}  already on the server")
                else:
                    summary.sent += 1
                    summary.files += result.files_sent
                    summary.bytes += result.bytes_sent
                    say(f"{tag}  sent {result.files_sent} file(s), "
                        f"{result.bytes_sent / 1e3:.1f} kB")
            status.update(done=i, current=sid)
        if retention and summary.stopped is None:
            confirm = client.confirms if store.policy.recheck_with_server else None
            try:
                purged = store.apply_retention(
                    confirm, on_purged=lambda sid: event("purged", sid))
                summary.purged = len(purged)
            except SyncError as exc:
                say(f"sync: retention skipped, the server could not confirm: {exc}")
    finally:
        summary.seconds = time.monotonic() - started
        summary.pending = len(store.pending())
        summary.needs_human = len(store.sessions(*ATTENTION))
        _finish(store, client, status, summary)
    say(summary.line())
    return summary


def _finish(store: SessionStore, client: SyncClient, status: _Status,
            summary: SyncSummary) -> None:
    disk = store.disk_status()
    ok = summary.stopped is None and summary.pending == 0
    status.update(force=True, state="idle", finished_utc=utc_now(), current=None, pid=None,
                  exit_code=summary.exit_code,
                  last_result=dataclasses.asdict(summary), counts=store.counts(),
                  disk=dataclasses.asdict(disk),
                  **({"last_success_utc": utc_now()} if ok else {}))
    if summary.stopped is not None:
        return          # the server is unreachable or refuses us: do not knock again
    with contextlib.suppress(SyncError):
        client.heartbeat({"software_version": __version__, "pending": summary.pending,
                          "needs_attention": summary.needs_human, "failed": summary.failed,
                          "disk_level": disk.level, "disk_free_bytes": disk.free_bytes})
