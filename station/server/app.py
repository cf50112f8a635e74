"""The receiver's Starlette application: the upload API and the read-only web page.

Handlers stay thin: they authenticate, read bodies under limits, and hand the work to
``storage.Receiver`` in a worker thread (file and SQLite I/O never block the event loop for
long). A body is read message by message with an idle timeout, so an endless or stalled body
ends in 413 or 408 instead of holding a worker. Every refusal is JSON ``{"error", "detail"}``
with its status, and is written to the audit log. The request log carries the method, the path
without its query, the status and the time; never a token, never a patient code.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from station import __version__
from station.server import web
from station.server.config import ServerConfig
from station.server.config import load as load_config
from station.server.index import Index
from station.server.storage import Receiver, Refusal, parse_json
from station.server.tokens import Identity, Tokens
from station.sync import protocol as proto

log = logging.getLogger("station.server")
INLINE_BYTES = 256 * 1024
HEARTBEAT_FIELDS = {"software_version": str, "pending": int, "needs_attention": int,
                    "failed": int, "disk_level": str, "disk_free_bytes": int}


class Body:
    """Reads a request body message by message, with an idle timeout and a size limit, and
    hands it out in pieces of a requested length (no async generator to leave unclosed)."""

    def __init__(self, request: Request, idle_s: float, limit: int) -> None:
        self._receive, self.idle_s, self.limit = request.receive, idle_s, limit
        self.done, self.size, self._buf = False, 0, b""
        length = request.headers.get("content-length")
        self.length = None
        if length is not None:
            if not length.isdigit():
                raise Refusal(400, "bad_length", "Content-Length is not a number")
            self.length = int(length)
            if self.length > limit:
                raise Refusal(413, "too_large", f"the body may be at most {limit} bytes")

    async def _message(self) -> bytes:
        while not self.done:
            try:
                with anyio.fail_after(self.idle_s):
                    message = await self._receive()
            except TimeoutError:
                raise Refusal(408, "body_timeout", "the body stalled") from None
            if message["type"] == "http.disconnect":
                raise Refusal(400, "disconnected", "the client went away mid-body")
            self.done = not message.get("more_body", False)
            data = message.get("body", b"")
            self.size += len(data)
            if self.size > self.limit:
                raise Refusal(413, "too_large", f"the body may be at most {self.limit} bytes")
            if data:
                return data
        return b""

    async def chunk(self, most: int | None = None) -> bytes:
        """The next piece (at most ``most`` bytes); b"" at the end of the body."""
        data, self._buf = (self._buf, b"") if self._buf else (await self._message(), b"")
        if most is not None and len(data) > most:
            data, self._buf = data[:most], data[most:]
        return data

    async def line(self, limit: int) -> bytes:
        """Up to and without the first newline; 400 if there is none within ``limit``."""
        got = b""
        while b"\n" not in got:
            piece = await self.chunk(limit + 1 - len(got))
            if not piece or len(got) + len(piece) > limit:
                raise Refusal(400, "bad_preamble", "expected one JSON line before the files")
            got += piece
        head, _, rest = got.partition(b"\n")
        self._buf = rest + self._buf
        return head

    async def read(self) -> bytes:
        parts = []
        while part := await self.chunk():
            parts.append(part)
        return b"".join(parts)


def _cfg(request: Request) -> ServerConfig:
    return request.app.state.cfg


def _remote(request: Request) -> str | None:
    return request.client.host if request.client else None


async def identify(request: Request, role: str) -> Identity:
    """The token's identity; 401 without a valid one, 403 with one of the wrong role."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    token = None
    if scheme.lower() == "bearer":
        token = value.strip()
    elif scheme.lower() == "basic":
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            token = base64.b64decode(value.strip(), validate=True).decode().partition(":")[2]
    ident = request.app.state.tokens.verify(token) if token else None     # a quick read
    if ident is None:
        challenge = 'Basic realm="balance station"' if role == "viewer" else "Bearer"
        raise Refusal(401, "unauthorized", "a valid token is required",
                      headers={"WWW-Authenticate": challenge})
    if ident.role != role:
        raise Refusal(403, "forbidden", f"a {ident.role} token cannot do this")
    request.state.actor = ident.name
    return ident


def _hash_header(request: Request) -> str:
    value = request.headers.get(proto.HASH_HEADER, "")
    if not proto.SHA256_HEX.fullmatch(value):
        raise Refusal(400, "missing_hash", f"{proto.HASH_HEADER} must be a lowercase SHA-256")
    return value


# ---------------------------------------------------------------------- API
async def health(request: Request) -> Response:
    return JSONResponse({"status": "ok", "version": __version__})


async def session_status(request: Request) -> Response:
    ident = await identify(request, "station")
    code, body = await run_in_threadpool(request.app.state.receiver.status, ident.name,
                                         request.path_params["sid"])
    return JSONResponse(body, status_code=code)


async def declare(request: Request) -> Response:
    ident = await identify(request, "station")
    sid = request.path_params["sid"]
    Receiver.check_names(sid)
    claimed = _hash_header(request)
    body = await Body(request, _cfg(request).body_idle_timeout_s, _cfg(request).max_json_bytes)\
        .read()
    code, answer = await run_in_threadpool(request.app.state.receiver.declare, ident.name, sid,
                                           body, claimed)
    return JSONResponse(answer, status_code=code)


async def put_files(request: Request) -> Response:
    """Files of a declared session in one body: a JSON line listing path, SHA-256 and size of
    each, then their bytes back to back. Each file is hashed and checked as it completes and
    kept at once, so a body cut short keeps every file finished before the cut."""
    ident = await identify(request, "station")
    sid = request.path_params["sid"]
    receiver: Receiver = request.app.state.receiver
    receiver.check_names(sid)
    cfg = _cfg(request)
    body = Body(request, cfg.body_idle_timeout_s, cfg.max_session_bytes + cfg.max_json_bytes)
    preamble = await body.line(cfg.max_json_bytes)
    listing = parse_json(preamble, "the file list").get("files")
    if not isinstance(listing, list) or not listing or not all(
            isinstance(f, dict) and isinstance(f.get("path"), str) for f in listing):
        raise Refusal(400, "bad_preamble", "files must be a list of {path, sha256, size}")
    paths = [f["path"] for f in listing]
    if len(set(paths)) != len(paths):
        raise Refusal(400, "bad_preamble", "a file is listed twice")
    for f in listing:
        receiver.check_names(sid, f["path"])
        if not isinstance(f.get("sha256"), str) or not isinstance(f.get("size"), int):
            raise Refusal(400, "bad_preamble", "each file needs sha256 and size")
    plan = receiver.expect_many(ident.name, sid, listing)       # quick: cached manifest
    total = len(preamble) + 1 + sum(exp.size for exp in plan)
    if body.length is not None and body.length != total:
        raise Refusal(413 if body.length > total else 400, "size_mismatch",
                      "Content-Length differs from the sizes listed")
    stored = []
    for f, exp in zip(listing, plan, strict=True):
        await _receive_file(request, receiver, body, ident.name, sid, f["path"], exp)
        stored.append(f["path"])
    if await body.chunk(1):
        raise Refusal(413, "too_large", "bytes after the last listed file")
    return JSONResponse({"stored": stored}, status_code=201)


async def _receive_file(request: Request, receiver: Receiver, body: Body, station: str,
                        sid: str, rel: str, exp: Any) -> None:
    tmp = receiver.new_temp()
    digest = hashlib.sha256()
    left = exp.size
    try:
        with open(tmp, "wb") as fh:
            while left:
                chunk = await body.chunk(left)
                if not chunk:
                    raise Refusal(400, "size_mismatch", f"the body ended inside {rel}")
                digest.update(chunk)
                fh.write(chunk)
                left -= len(chunk)
        if digest.hexdigest() != exp.sha256:
            raise Refusal(422, "hash_mismatch", f"{rel} does not match its SHA-256")
        if exp.size <= INLINE_BYTES:      # small: cheaper than a trip to a worker thread
            receiver.place(station, sid, rel, tmp, exp)
        else:
            await run_in_threadpool(receiver.place, station, sid, rel, tmp, exp)
    finally:
        tmp.unlink(missing_ok=True)


async def commit(request: Request) -> Response:
    ident = await identify(request, "station")
    sid = request.path_params["sid"]
    Receiver.check_names(sid)
    body = parse_json(await Body(request, _cfg(request).body_idle_timeout_s, 4096).read(),
                       "the commit request")
    sha = body.get("manifest_sha256")
    if not isinstance(sha, str) or not proto.SHA256_HEX.fullmatch(sha):
        raise Refusal(400, "missing_hash", "manifest_sha256 must be a lowercase SHA-256")
    code, answer = await run_in_threadpool(request.app.state.receiver.commit, ident.name, sid,
                                           sha, _remote(request))
    return JSONResponse(answer, status_code=code)


async def heartbeat(request: Request) -> Response:
    ident = await identify(request, "station")
    body = parse_json(await Body(request, _cfg(request).body_idle_timeout_s, 8192).read(),
                       "the status")
    status = {k: v for k, v in body.items() if k in HEARTBEAT_FIELDS
              and isinstance(v, HEARTBEAT_FIELDS[k]) and not isinstance(v, bool)
              and (not isinstance(v, str) or len(v) <= 64)}
    await run_in_threadpool(request.app.state.index.set_station_status, ident.name, status)
    return JSONResponse({"ok": True})


# ---------------------------------------------------------------------- errors and logging
async def on_refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    sid = request.path_params.get("sid") if hasattr(request, "path_params") else None
    actor = getattr(request.state, "actor", "anonymous")
    action = "auth.failed" if exc.status == 401 else (
        "upload.refused" if request.url.path.startswith(proto.API) else "web.refused")
    await run_in_threadpool(request.app.state.index.audit, actor, action,
                            f"{exc.status} {exc.code}",
                            session_id=sid if sid and proto.is_session_id(sid) else None,
                            remote=_remote(request))
    log.info("refused %s %s: %d %s (station %s)", request.method, request.url.path[:120],
             exc.status, exc.code, actor)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if request.url.path.startswith(proto.API):
        return JSONResponse({"error": "not_found" if exc.status_code == 404 else "bad_request",
                             "detail": str(exc.detail)}, status_code=exc.status_code,
                            headers=exc.headers)
    return web.error_page(exc.status_code, str(exc.detail))


async def on_crash(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s %s: %s", request.method, request.url.path[:120],
              type(exc).__name__)
    return JSONResponse({"error": "internal", "detail": "internal error"}, status_code=500)


class RequestLog:
    """Pure ASGI (streaming bodies pass untouched): one line per request, no query string."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = [0]
        start = time.perf_counter()

        async def send_logged(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_logged)
        finally:
            log.debug("%s %r %d %.1f ms", scope["method"], scope["path"][:120], status[0],
                      (time.perf_counter() - start) * 1e3)


# ---------------------------------------------------------------------- application
def create_app(cfg: ServerConfig | None = None) -> Starlette:
    cfg = cfg or load_config()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        index = Index(cfg.db_file)
        try:
            receiver = Receiver(cfg, index)
            receiver.recover()
            app.state.cfg, app.state.index = cfg, index
            app.state.receiver, app.state.tokens = receiver, Tokens(index)
            yield
        finally:
            index.close()

    api = proto.API
    routes = [
        Route(f"{api}/health", health, methods=["GET"]),
        Route(f"{api}/sessions/{{sid}}", session_status, methods=["GET"]),
        Route(f"{api}/sessions/{{sid}}/manifest", declare, methods=["PUT"]),
        Route(f"{api}/sessions/{{sid}}/files", put_files, methods=["POST"]),
        Route(f"{api}/sessions/{{sid}}/commit", commit, methods=["POST"]),
        Route(f"{api}/stations/self/status", heartbeat, methods=["POST"]),
        *web.routes(identify),
    ]
    handlers: dict[Any, Any] = {Refusal: on_refusal, HTTPException: on_http_error,
                                Exception: on_crash}
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers=handlers)
    app.add_middleware(RequestLog)
    return app
