"""The receiver over a real socket: the happy path, then every kind of hostile input, each
refused with its status and nothing written."""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import select
import socket
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from station.server.app import create_app
from station.server.config import ServerConfig
from station.server.index import Index
from station.server.tokens import Tokens
from station.session import format as fmt
from station.sync import protocol as proto
from station.sync.secret import Secret
from station.sync.testing import LoopbackServer, clone_sessions, record_session, reseal

MIB = 1 << 20


@dataclass
class Env:
    url: str
    port: int
    root: Path
    cfg: ServerConfig
    a: Secret            # station-a
    b: Secret            # station-b
    viewer: Secret
    revoked: Secret
    template: Path
    folders: Path

    def client(self, token: Secret | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token.reveal()}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=10)

    def session(self, station: str = "station-a", **changes) -> Path:
        (folder,) = clone_sessions(self.template, self.folders, 1, station_id=station,
                                   seed=hash(str(sorted(changes.items()))) + len(
                                       list(self.folders.iterdir())))
        if changes:
            meta = json.loads((folder / fmt.SESSION_JSON).read_text())
            meta.update(changes)
            (folder / fmt.SESSION_JSON).write_text(json.dumps(meta))
            reseal(folder)
        return folder

    def tree(self) -> set[str]:
        return {p.relative_to(self.root).as_posix() for p in self.root.rglob("*")
                if not p.name.startswith("index.sqlite3")}

    def audit(self) -> list[dict]:
        db = sqlite3.connect(self.cfg.db_file)
        db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in db.execute("SELECT * FROM audit ORDER BY id")]
        finally:
            db.close()


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    root = tmp_path_factory.mktemp("receiver")
    cfg = ServerConfig(data_dir=str(root), min_free_bytes=0, body_idle_timeout_s=0.5,
                       max_file_bytes=MIB, max_json_bytes=64 * 1024)
    index = Index(cfg.db_file)
    tokens = Tokens(index)
    a, b = tokens.create("station-a")[1], tokens.create("station-b")[1]
    viewer = tokens.create("viewer-1", "viewer")[1]
    revoked_id, revoked = tokens.create("station-c")
    tokens.revoke(revoked_id)
    index.close()
    template = record_session(tmp_path_factory.mktemp("tpl") / "s", trials=2, seconds=0.5,
                              station_id="station-a")
    folders = tmp_path_factory.mktemp("station") / "sessions"
    folders.mkdir()
    with LoopbackServer(create_app(cfg)) as srv:
        yield Env(srv.url, srv.port, root, cfg, a, b, viewer, revoked, template, folders)


# ---------------------------------------------------------------------- protocol helpers
def manifest_of(folder: Path) -> tuple[bytes, str, dict]:
    data = (folder / fmt.MANIFEST_JSON).read_bytes()
    return data, proto.sha256_hex(data), json.loads(data)["files"]


def declare(c: httpx.Client, folder: Path, body: bytes | None = None,
            sha: str | None = None) -> httpx.Response:
    data = body if body is not None else manifest_of(folder)[0]
    return c.put(f"{proto.session_url(folder.name)}/manifest", content=data,
                 headers={proto.HASH_HEADER: sha or proto.sha256_hex(data)})


def files_body(folder: Path, rels: list[str], override: dict[str, bytes] | None = None,
               listing: list[dict] | None = None) -> bytes:
    files = manifest_of(folder)[2]
    override = override or {}
    listing = listing or [{"path": r, "sha256": files[r]["sha256"], "size": files[r]["size"]}
                          for r in rels]
    blobs = [override.get(r, (folder / r).read_bytes() if (folder / r).exists() else b"")
             for r in rels]
    return json.dumps({"files": listing}).encode() + b"\n" + b"".join(blobs)


def send_files(c: httpx.Client, folder: Path, body: bytes) -> httpx.Response:
    return c.post(f"{proto.session_url(folder.name)}/files", content=body)


def commit(c: httpx.Client, folder: Path, sha: str | None = None) -> httpx.Response:
    return c.post(f"{proto.session_url(folder.name)}/commit",
                  json={"manifest_sha256": sha or manifest_of(folder)[1]})


def upload(c: httpx.Client, folder: Path) -> httpx.Response:
    r = declare(c, folder)
    assert r.status_code in (200, 201), r.text
    if r.json()["state"] == proto.RECEIVING:
        assert send_files(c, folder, files_body(folder, r.json()["missing"])).status_code == 201
    return commit(c, folder)


def raw_http(port: int, head: bytes, chunks=(), limit: int = 64 * MIB) -> tuple[int, bytes]:
    """Send a request over a bare socket, body piece by piece, until the server answers;
    returns (status, response bytes). Lets a test send what no HTTP client would."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(head)
        sent = 0
        answer = b""
        for chunk in chunks:
            readable, _, _ = select.select([s], [], [], 0)
            if readable or sent > limit:
                break
            try:
                s.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        while b"\r\n\r\n" not in answer:
            readable, _, _ = select.select([s], [], [], 10)
            part = s.recv(65536) if readable else b""
            if not part:
                break
            answer += part
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return status, answer


# ---------------------------------------------------------------------- the happy path
def test_upload_commit_receipt_and_idempotent_replays(env):
    folder = env.session()
    manifest, sha, files = manifest_of(folder)
    with env.client(env.a) as c:
        assert c.get(proto.session_url(folder.name)).json() == {"state": "absent"}
        r = declare(c, folder)
        assert r.status_code == 201 and sorted(r.json()["missing"]) == sorted(files)
        first = sorted(files)[:2]
        assert send_files(c, folder, files_body(folder, first)).json() == {"stored": first}
        status = c.get(proto.session_url(folder.name)).json()
        assert status["state"] == "receiving" and set(status["missing"]) == set(files) - set(
            first)
        r = upload(c, folder)
        assert r.status_code == 200
        receipt = r.json()["receipt"]
        assert receipt["session_id"] == folder.name and receipt["manifest_sha256"] == sha
        assert receipt["station_id"] == "station-a" and receipt["files"] == len(files)
        stored = env.root / "sessions" / "station-a" / folder.name
        for rel, entry in files.items():
            assert hashlib.sha256((stored / rel).read_bytes()).hexdigest() == entry["sha256"]
        assert (stored / fmt.MANIFEST_JSON).read_bytes() == manifest
        before = env.tree()
        again = declare(c, folder)                         # a replayed declaration
        assert again.status_code == 200 and again.json()["receipt"] == receipt
        replay = commit(c, folder)                         # a replayed commit
        assert replay.status_code == 200 and replay.json() == {"already_stored": True,
                                                               "receipt": receipt}
        late = send_files(c, folder, files_body(folder, [fmt.SESSION_JSON]))
        assert late.status_code == 409 and late.json()["error"] == "already_stored"
        assert env.tree() == before
    assert any(a["action"] == "upload.commit" and a["session_id"] == folder.name
               and a["outcome"] == "stored" for a in env.audit())


# ---------------------------------------------------------------------- authentication
def test_tokens_missing_wrong_revoked_or_of_the_wrong_role(env):
    url = proto.session_url("20260105T080000Z-00000001")
    for token in (None, Secret("st_000000000000_" + "a" * 43), Secret("garbage"), env.revoked):
        with env.client(token) as c:
            r = c.get(url)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    with env.client(env.viewer) as c:
        assert c.get(url).status_code == 403
    with env.client(env.a) as c:
        assert c.get("/").status_code == 403             # a station cannot read the web page
    assert sum(a["action"] == "auth.failed" for a in env.audit()) >= 4


# ---------------------------------------------------------------------- hostile names
@pytest.mark.parametrize("path", [
    "/api/v1/sessions/..%2F..%2Fetc%2Fpasswd/manifest",
    "/api/v1/sessions/%2E%2E/manifest",
    "/api/v1/sessions/20260105T080000Z-0000000%2F/commit",
    "/api/v1/sessions/../../../etc/manifest",
])
def test_traversal_in_the_session_id_is_refused(env, path):
    before = env.tree()
    head = (f"PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {env.a.reveal()}\r\n"
            f"{proto.HASH_HEADER}: {'0' * 64}\r\nContent-Length: 2\r\n\r\n{{}}").encode()
    status, _ = raw_http(env.port, head)
    assert status in (400, 404)
    assert env.tree() == before


@pytest.mark.parametrize("bad", ["../../etc/passwd", "trials/../../x", "/etc/passwd",
                                 ".hidden", "trials/01-a/..", "a\\b", "trials//x", "x\x00y"])
def test_traversal_in_file_names_is_refused(env, bad):
    folder = env.session()
    with env.client(env.a) as c:
        manifest = manifest_of(folder)[0]
        bent = json.loads(manifest)
        bent["files"][bad] = {"sha256": "0" * 64, "size": 1}
        body = json.dumps(bent).encode()
        before = env.tree()
        r = declare(c, folder, body)
        assert r.status_code == 422 and r.json()["error"] == "invalid_manifest"
        assert env.tree() == before
        assert declare(c, folder).status_code == 201
        listing = [{"path": bad, "sha256": "0" * 64, "size": 1}]
        before = env.tree()
        r = send_files(c, folder, files_body(folder, [], listing=listing) + b"x")
        assert r.status_code == 400 and r.json()["error"] == "bad_name"
        assert env.tree() == before


# ---------------------------------------------------------------------- sizes and bodies
def test_oversized_bodies_are_refused_before_or_while_reading(env):
    folder = env.session()
    with env.client(env.a) as c:
        big = b"{" + b" " * (env.cfg.max_json_bytes + 10) + b"}"
        before = env.tree()
        r = declare(c, folder, big)
        assert r.status_code == 413 and r.json()["error"] == "too_large"
        manifest = json.loads(manifest_of(folder)[0])
        manifest["files"]["trials/01-quiet-stance-1/raw.csv.gz"]["size"] = 2 * MIB
        r = declare(c, folder, json.dumps(manifest).encode())
        assert r.status_code == 413
        assert env.tree() == before
        assert declare(c, folder).status_code == 201
        before = env.tree()
        body = files_body(folder, [fmt.SESSION_JSON]) + b"trailing junk"
        r = send_files(c, folder, body)
        assert r.status_code == 413 and r.json()["error"] in ("too_large", "size_mismatch")
    # Content-Length says more than the listed files: refused before the bytes come
    head = (f"POST {proto.session_url(folder.name)}/files HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {env.a.reveal()}\r\nContent-Length: 999999\r\n\r\n")
    listing = files_body(folder, [fmt.SESSION_JSON]).split(b"\n", 1)[0] + b"\n"
    status, _ = raw_http(env.port, head.encode() + listing)
    assert status == 413
    assert env.tree() == before


def test_an_endless_chunked_body_is_cut_off(env):
    folder = env.session()
    head = (f"PUT {proto.session_url(folder.name)}/manifest HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {env.a.reveal()}\r\n{proto.HASH_HEADER}: {'0' * 64}\r\n"
            "Transfer-Encoding: chunked\r\n\r\n").encode()
    piece = b"%x\r\n%s\r\n" % (16384, b"x" * 16384)
    before = env.tree()

    def forever():
        while True:
            yield piece

    status, _ = raw_http(env.port, head, forever())
    assert status == 413
    assert env.tree() == before


def test_a_stalled_body_times_out(env):
    folder = env.session()
    head = (f"PUT {proto.session_url(folder.name)}/manifest HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {env.a.reveal()}\r\n{proto.HASH_HEADER}: {'0' * 64}\r\n"
            "Content-Length: 1000\r\n\r\n{\"fo").encode()
    before = env.tree()
    status, _ = raw_http(env.port, head)      # the server gives up after body_idle_timeout_s
    assert status == 408
    assert env.tree() == before


# ---------------------------------------------------------------------- wrong content
def test_wrong_content_is_refused_and_not_kept(env):
    folder = env.session()
    _, _, files = manifest_of(folder)
    raw = "trials/01-quiet-stance-1/raw.csv.gz"
    with env.client(env.a) as c:
        r = declare(c, folder, sha="f" * 64)
        assert r.status_code == 422 and r.json()["error"] == "hash_mismatch"
        assert declare(c, folder).status_code == 201
        staging = env.root / "incoming" / "station-a" / folder.name
        tampered = bytearray((folder / raw).read_bytes())
        tampered[40] ^= 1
        r = send_files(c, folder, files_body(folder, [raw], {raw: bytes(tampered)}))
        assert r.status_code == 422 and r.json()["error"] == "hash_mismatch"
        # a listing that disagrees with the manifest
        lie = [{"path": raw, "sha256": "0" * 64, "size": files[raw]["size"]}]
        r = send_files(c, folder, files_body(folder, [raw], listing=lie))
        assert r.status_code == 422
        assert sorted(p.name for p in staging.rglob("*") if p.is_file()) == ["manifest.json"]

    # a session whose content is wrong although its own manifest matches it
    for name, content in [("trials/01-quiet-stance-1/cop.csv.gz", b"\x1f\x8b not really"),
                          ("trials/01-quiet-stance-1/trial.json", b'{"trial_id": "one"}')]:
        bad = env.session()
        (bad / name).write_bytes(content)
        reseal(bad)
        with env.client(env.a) as c:
            assert declare(c, bad).status_code == 201
            r = send_files(c, bad, files_body(bad, [name]))
            assert r.status_code == 422 and r.json()["error"] == "invalid_content"
            assert commit(c, bad).json()["error"] == "incomplete"
    bomb = env.session()                                 # a valid start, then 20 MB of zeros
    name = "trials/01-quiet-stance-1/cop.csv.gz"
    head = b"# station cop format_version=1.0 t0_ns=0\nt_s,total_force_n,cop_ml_m,cop_ap_m\n"
    (bomb / name).write_bytes(gzip.compress(head + bytes(20 << 20)))
    reseal(bomb)
    with env.client(env.a) as c:
        assert declare(c, bomb).status_code == 201
        r = send_files(c, bomb, files_body(bomb, [name]))
        assert r.status_code == 422 and "decompresses to more than" in r.json()["detail"]
    bad = env.session(patient_code="Jane Doe")
    with env.client(env.a) as c:
        assert declare(c, bad).status_code == 201
        r = send_files(c, bad, files_body(bad, [fmt.SESSION_JSON]))
        assert r.status_code == 422 and "patient_code" in r.json()["detail"]
        assert "Jane" not in r.text


def test_malformed_json_anywhere_is_a_400(env):
    folder = env.session()
    with env.client(env.a) as c:
        for body in (b"{", b"[1, 2]", b"\xff\xfe", b""):
            r = declare(c, folder, body)
            assert r.status_code == 400 and r.json()["error"] == "malformed_json"
        assert declare(c, folder).status_code == 201
        r = c.post(f"{proto.session_url(folder.name)}/files", content=b"not json\nxx")
        assert r.status_code == 400
        r = c.post(f"{proto.session_url(folder.name)}/files", content=b"no newline at all")
        assert r.status_code == 400 and r.json()["error"] == "bad_preamble"
        r = c.post(f"{proto.session_url(folder.name)}/commit", content=b"{'single': 1}")
        assert r.status_code == 400
        r = c.post(f"{proto.API}/stations/self/status", content=b"[]")
        assert r.status_code == 400
        bad_session = json.loads(manifest_of(folder)[0])
        bad_session["files"] = []
        assert declare(c, folder, json.dumps(bad_session).encode()).status_code == 422


# ---------------------------------------------------------------------- replay and cross-station
def test_cross_station_and_conflicting_uploads_are_refused(env):
    folder = env.session()
    with env.client(env.a) as a, env.client(env.b) as b:
        assert upload(a, folder).status_code == 200
        stored = env.root / "sessions" / "station-a" / folder.name
        snapshot = {p: p.read_bytes() for p in stored.rglob("*") if p.is_file()}
        before = env.tree()
        # another station replays the same session id
        for r in (b.get(proto.session_url(folder.name)), declare(b, folder),
                  commit(b, folder)):
            assert r.status_code == 403 and r.json()["error"] == "other_station"
        # the same station, the same id, another manifest: a conflict, nothing overwritten
        other = json.loads(manifest_of(folder)[0])
        other["files"][fmt.SESSION_JSON]["size"] += 1
        r = declare(a, folder, json.dumps(other).encode())
        assert r.status_code == 409 and r.json()["error"] == "conflict"
        assert commit(a, folder, "e" * 64).status_code == 409
        assert env.tree() == before
        assert snapshot == {p: p.read_bytes() for p in stored.rglob("*") if p.is_file()}
        # station-b sending a session that says it comes from station-a
        forged = env.session()
        assert declare(b, forged).status_code == 201
        r = send_files(b, forged, files_body(forged, [fmt.SESSION_JSON]))
        assert r.status_code == 403 and r.json()["error"] == "other_station"


def test_commit_before_all_files_arrived(env):
    folder = env.session()
    with env.client(env.a) as c:
        r = commit(c, folder)
        assert r.status_code == 409 and r.json()["error"] == "not_declared"
        declare(c, folder)
        send_files(c, folder, files_body(folder, [fmt.SESSION_JSON]))
        r = commit(c, folder)
        assert r.status_code == 409 and r.json()["error"] == "incomplete"
        assert fmt.SESSION_JSON not in r.json()["missing"] and len(r.json()["missing"]) == 6


# ---------------------------------------------------------------------- secrets and logs
def test_no_token_or_patient_code_reaches_the_log(env, caplog):
    folder = env.session(patient_code="PX-77123")
    caplog.set_level(logging.DEBUG)
    with env.client(env.a) as c:
        assert upload(c, folder).status_code == 200
    with env.client(Secret(env.a.reveal()[:-1] + "x")) as c:
        c.get(proto.session_url(folder.name))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert folder.name in text
    assert env.a.reveal() not in text and "PX-77123" not in text
    assert repr(env.a) == "Secret('**********')" and f"{env.a}" == repr(env.a)
    db = sqlite3.connect(env.cfg.db_file)
    try:
        dump = "\n".join(db.iterdump())
    finally:
        db.close()
    secret_part = env.a.reveal()[len("st_") + 12 + 1:]         # st_<12 hex id>_<secret>
    assert len(secret_part) == 43 and secret_part not in dump and env.a.reveal() not in dump
