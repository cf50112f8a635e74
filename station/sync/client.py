"""HTTP client of the sync protocol: one sealed session at a time, idempotent and resumable.

Per session: ``PUT manifest`` declares it and the answer says what the server already holds
(``stored`` with its receipt, or the files still ``missing``); each missing file goes up with
its SHA-256; ``POST commit`` asks the server to verify everything and returns the receipt.
A run cut off anywhere repeats only the declaration: files the server confirmed are not sent
again, and a session the server committed answers ``stored`` at once.

Errors say what the caller should do: ``TransientError`` (network, 5xx: try again later),
``AuthError`` (token or server set-up: stop the run, a human must act), ``ConflictError`` and
``RejectedError`` (this session needs a human), ``ProtocolError`` (the server misbehaved).
"""

from __future__ import annotations

import json
import logging
import random
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from station import __version__
from station.errors import ConfigError, StationError
from station.session import format as fmt
from station.sync import protocol as proto
from station.sync.retry import RETRY_STATUS, RetryPolicy, parse_retry_after
from station.sync.secret import Secret

log = logging.getLogger(__name__)
CHUNK = 256 * 1024
BATCH_BYTES = 16 * 1024 * 1024      # files per request: a cut costs at most this much
BATCH_FILES = 64
#: 409 answers that mean "ask again what the server holds" rather than "refused".
REDECLARE = frozenset({"incomplete", "not_declared", "manifest_changed", "already_stored"})


class SyncError(StationError, ConnectionError):
    """A sync request failed; ``status`` is the HTTP status when there was one."""

    def __init__(self, message: str, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status, self.code = status, code


class TransientError(SyncError):
    """Network trouble or a server error that outlived the retries: try again later."""


class StorageFullError(TransientError):
    """The server has no room (507): later sessions would fail the same way."""


class AuthError(SyncError):
    """The token was refused or the URL is not a receiver: no session can go up."""


class ConflictError(SyncError):
    """The server holds a different session under this id; nothing was overwritten."""


class RejectedError(SyncError):
    """The server refused this session's content (schema, hash, size)."""


class ProtocolError(SyncError):
    """The server's answer does not follow the protocol (or the receipt does not match)."""


@dataclass(frozen=True)
class UploadResult:
    receipt: dict[str, Any]
    files_sent: int
    bytes_sent: int
    already_stored: bool     # the server had the whole session before this run sent anything


class _Bearer(httpx.Auth):
    """Adds the station's token to each request, so it sits in no default header dict."""

    def __init__(self, token: Secret) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        request.headers["Authorization"] = f"Bearer {self._token.reveal()}"
        yield request


def tls_context(ca_file: str | Path | None) -> ssl.SSLContext:
    """Verify against the clinic's CA (or a pinned self-signed server certificate: a PEM
    holding only that certificate trusts exactly that server); the system CAs otherwise."""
    try:
        return ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"{ca_file}: cannot load the CA / pinned certificate "
                          f"([sync] ca_file): {exc}") from None


class SyncClient:
    """The station's side of the protocol over one keep-alive connection pool."""

    def __init__(self, base_url: str, token: Secret, *, ca_file: str | None = None,
                 allow_plain_http: bool = False, timeout_s: float = 30.0,
                 retry: RetryPolicy | None = None, transport: httpx.BaseTransport | None = None,
                 sleep: Callable[[float], None] = time.sleep,
                 rng: random.Random | None = None) -> None:
        url = httpx.URL(base_url)
        if url.scheme not in ("https", "http") or not url.host:
            raise ConfigError(f"[sync] server_url {base_url!r} is not an https:// URL")
        if url.scheme == "http" and not allow_plain_http:
            raise ConfigError("[sync] server_url is plain http://; use https:// or set "
                              "allow_plain_http = true (lab networks only)")
        self.base_url = str(url).rstrip("/")
        self.retry = retry or RetryPolicy()
        self._sleep = sleep
        self._rng = rng or random.Random()
        verify: ssl.SSLContext | bool = tls_context(ca_file) if url.scheme == "https" else True
        if transport is None:       # headers and body go in separate writes: no Nagle delay
            transport = httpx.HTTPTransport(verify=verify, socket_options=[
                (socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)])
        self._http = httpx.Client(
            base_url=self.base_url, auth=_Bearer(token), transport=transport,
            timeout=httpx.Timeout(timeout_s, connect=min(10.0, timeout_s)),
            headers={"User-Agent": f"balance-station/{__version__}"}, follow_redirects=False)

    @classmethod
    def from_config(cls, cfg: Any, **kw: Any) -> SyncClient:
        """From the ``[sync]`` section; refuses an unset URL or an unreadable token."""
        s = cfg.sync
        if not s.server_url:
            raise ConfigError(f"{cfg.source_file}: [sync] server_url is empty: sync is off")
        return cls(s.server_url, Secret.from_file(s.token_file), ca_file=s.ca_file or None,
                   allow_plain_http=s.allow_plain_http, timeout_s=s.timeout_s, **kw)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ transport
    def _call(self, method: str, url: str, what: str, *,
              body: Callable[[], Any] | None = None, headers: dict[str, str] | None = None,
              json_body: Any = None, attempts: int | None = None) -> tuple[int, dict[str, Any]]:
        """One request with retries; returns (status, JSON body) of the first real answer."""
        last = ""
        attempts = attempts or self.retry.attempts
        for attempt in range(attempts):
            retry_after = None
            try:
                resp = self._http.request(method, url, content=body() if body else None,
                                          json=json_body, headers=headers)
                data = _json_object(resp)
                if data is None and resp.is_success:      # a 2xx that is not ours: garbled
                    raise ValueError("the answer is not a JSON object")
            except httpx.UnsupportedProtocol as exc:
                raise ConfigError(f"[sync] server_url: {exc}") from None
            except httpx.ConnectError as exc:
                if "CERTIFICATE_VERIFY_FAILED" in str(exc) or "WRONG_VERSION" in str(exc):
                    raise AuthError(f"{what}: TLS failed ({exc}); check [sync] server_url and "
                                    "ca_file (the clinic CA or the pinned certificate)") from None
                last = f"{type(exc).__name__}"
            except (httpx.RequestError, ValueError) as exc:
                last = f"{type(exc).__name__}"
            else:
                if resp.status_code == 507:
                    raise StorageFullError(f"{what}: the server is out of storage", 507)
                if resp.status_code not in RETRY_STATUS:
                    return resp.status_code, data or {}
                last = f"HTTP {resp.status_code}"
                retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            if attempt + 1 < attempts:
                log.info("%s: %s; retrying (%d/%d)", what, last, attempt + 1, attempts)
                self._sleep(self.retry.delay(attempt, self._rng, retry_after))
        raise TransientError(f"{what}: {last}" + (f" after {attempts} attempts"
                                                  if attempts > 1 else ""))

    @staticmethod
    def _refusal(status: int, data: dict[str, Any], what: str) -> SyncError:
        """The exception for a non-2xx answer that is not worth retrying."""
        code, detail = data.get("error", ""), str(data.get("detail", ""))[:300]
        text = f"{what}: HTTP {status} {code}: {detail}".rstrip(": ")
        if status == 401 or (status == 403 and code != "other_station"):
            return AuthError(f"{text} (is this station's token valid and not revoked?)", status,
                             code)
        if status in (404, 405):
            return AuthError(f"{text} (is [sync] server_url a station receiver?)", status, code)
        if status == 409 and code == "conflict":
            return ConflictError(text, status, code)
        if status in (400, 403, 409, 411, 413, 415, 422):
            return RejectedError(text, status, code)
        return ProtocolError(text, status, code)

    # ------------------------------------------------------------------ endpoints
    def status(self, session_id: str) -> dict[str, Any]:
        """What the server holds under this id (``state``: absent / receiving / stored)."""
        what = f"status {session_id}"
        code, data = self._call("GET", proto.session_url(session_id), what)
        if code == 404 and data.get("state") == proto.ABSENT:
            return data
        if code != 200:
            raise self._refusal(code, data, what)
        return data

    def confirms(self, session_id: str, manifest_sha256: str) -> bool:
        """Does the server still hold exactly this session? (retention's re-check)"""
        data = self.status(session_id)
        return data.get("state") == proto.STORED and \
            data.get("manifest_sha256") == manifest_sha256

    def declare(self, session_id: str, manifest: bytes) -> dict[str, Any]:
        what = f"declare {session_id}"
        code, data = self._call(
            "PUT", f"{proto.session_url(session_id)}/manifest", what, body=lambda: manifest,
            headers={proto.HASH_HEADER: proto.sha256_hex(manifest),
                     "Content-Type": "application/json"})
        if code not in (200, 201):
            raise self._refusal(code, data, what)
        return data

    def put_files(self, session_id: str, folder: Path,
                  batch: list[tuple[str, str, int]]) -> None:
        """Send (path, sha256, size) files in one body: a JSON line listing them, then their
        bytes. One attempt only: after a failure the caller asks the server what it kept."""
        for rel, _sha, size in batch:
            if (folder / rel).stat().st_size != size:
                raise RejectedError(f"{session_id}/{rel}: size differs from the manifest "
                                    "(damaged locally; see `station check`)")
        preamble = json.dumps({"files": [{"path": r, "sha256": h, "size": n}
                                         for r, h, n in batch]}).encode() + b"\n"

        def chunks() -> Iterator[bytes]:
            yield preamble
            for rel, _sha, _size in batch:
                with open(folder / rel, "rb") as fh:
                    while block := fh.read(CHUNK):
                        yield block

        what = f"upload {session_id} ({len(batch)} file(s))"
        total = len(preamble) + sum(n for _r, _h, n in batch)
        code, data = self._call("POST", f"{proto.session_url(session_id)}/files", what,
                                body=chunks, attempts=1,
                                headers={"Content-Length": str(total),
                                         "Content-Type": proto.FILES_MEDIA_TYPE})
        if code != 201:
            raise self._refusal(code, data, what)

    def commit(self, session_id: str, manifest_sha256: str) -> tuple[int, dict[str, Any]]:
        what = f"commit {session_id}"
        return self._call("POST", f"{proto.session_url(session_id)}/commit", what,
                          json_body={"manifest_sha256": manifest_sha256})

    def heartbeat(self, status: dict[str, Any]) -> None:
        """Tell the server how this station is doing (its web page shows it)."""
        what = "heartbeat"
        code, data = self._call("POST", f"{proto.API}/stations/self/status", what,
                                json_body=status)
        if code != 200:
            raise self._refusal(code, data, what)

    # ------------------------------------------------------------------ one session
    def upload_session(self, folder: Path,
                       on_file: Callable[[str, int], None] | None = None) -> UploadResult:
        """Send what the server lacks of one sealed session; returns the verified receipt.

        Each round declares the manifest (the server answers what it holds), sends the
        missing files in batches, and commits. A failed round (connection cut, 5xx, files
        the server could not keep) backs off and starts over from the declaration, so only
        what the server does not hold is sent again."""
        sid = folder.name
        manifest_bytes = (folder / fmt.MANIFEST_JSON).read_bytes()
        sha = proto.sha256_hex(manifest_bytes)
        files = json.loads(manifest_bytes)["files"]
        sent_files = sent_bytes = 0
        for round_ in range(self.retry.attempts):
            if round_:
                self._sleep(self.retry.delay(round_ - 1, self._rng))
            state = self.declare(sid, manifest_bytes)
            if state.get("state") == proto.STORED:
                return UploadResult(self._checked(state.get("receipt"), sid, sha), sent_files,
                                    sent_bytes, sent_files == 0)
            missing = state.get("missing")
            if state.get("state") != proto.RECEIVING or not isinstance(missing, list) or \
                    any(rel not in files for rel in missing):
                raise ProtocolError(f"declare {sid}: unexpected answer from the server")
            try:
                for batch in _batches([(r, files[r]["sha256"], files[r]["size"])
                                       for r in missing]):
                    self.put_files(sid, folder, batch)
                    for rel, _h, size in batch:
                        sent_files += 1
                        sent_bytes += size
                        if on_file is not None:
                            on_file(rel, size)
                code, data = self.commit(sid, sha)
            except StorageFullError:
                raise
            except TransientError as exc:
                log.info("%s: %s; asking the server what it kept", sid, exc)
                continue
            except RejectedError as exc:
                if exc.code not in REDECLARE:
                    raise
                continue
            if code == 200:
                return UploadResult(self._checked(data.get("receipt"), sid, sha), sent_files,
                                    sent_bytes, False)
            if not (code == 409 and data.get("error") in REDECLARE):
                raise self._refusal(code, data, f"commit {sid}")
            log.info("commit %s: %s; declaring again", sid, data.get("error"))
        raise TransientError(f"{sid}: not stored after {self.retry.attempts} rounds")

    @staticmethod
    def _checked(receipt: Any, sid: str, sha: str) -> dict[str, Any]:
        if not isinstance(receipt, dict) or receipt.get("session_id") != sid or \
                receipt.get("manifest_sha256") != sha:
            raise ProtocolError(f"{sid}: the server's receipt does not match this session")
        return receipt



def _json_object(resp: httpx.Response) -> dict[str, Any] | None:
    if not resp.content:
        return {}
    try:
        data = resp.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _batches(files: list[tuple[str, str, int]]) -> Iterator[list[tuple[str, str, int]]]:
    batch: list[tuple[str, str, int]] = []
    size = 0
    for f in files:
        if batch and (size + f[2] > BATCH_BYTES or len(batch) >= BATCH_FILES):
            yield batch
            batch, size = [], 0
        batch.append(f)
        size += f[2]
    if batch:
        yield batch
