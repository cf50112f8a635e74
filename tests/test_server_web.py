"""The receiver's web page, configuration, command line, TLS and start-up repair."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from station.errors import ConfigError
from station.server import config as server_config
from station.server.__main__ import main as server_main
from station.server.app import create_app
from station.server.config import ServerConfig
from station.server.index import Index
from station.server.storage import Receiver
from station.server.tokens import Tokens
from station.server.web import station_health
from station.session import format as fmt
from station.session.store import SessionStore
from station.sync import runner
from station.sync.client import AuthError, SyncClient
from station.sync.testing import LoopbackServer, clone_sessions, record_session, reseal

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A receiver that station-a synced two sessions to (one with a hostile trial name)."""
    root = tmp_path_factory.mktemp("site")
    cfg = ServerConfig(data_dir=str(root / "server"), min_free_bytes=0)
    index = Index(cfg.db_file)
    tokens = Tokens(index)
    station, viewer = tokens.create("station-a")[1], tokens.create("dr-who", "viewer")[1]
    tokens.create("station-b")
    index.close()
    data = root / "station"
    tpl = record_session(root / "tpl", trials=2, seconds=4.0, station_id="station-a")
    a, b = clone_sessions(tpl, data / "sessions", 2, patients=1)
    trial = b / "trials" / "02-quiet-stance-2" / fmt.TRIAL_JSON
    meta = json.loads(trial.read_text())
    meta["name"] = "<script>alert(1)</script>"
    trial.write_text(json.dumps(meta))
    reseal(b)
    with LoopbackServer(create_app(cfg)) as srv:
        with SessionStore(data) as store, SyncClient(srv.url, station,
                                                     allow_plain_http=True) as client:
            assert runner.run_sync(store, client).exit_code == 0
        yield srv, cfg, viewer, (a, b)


def get(srv, viewer, path: str, **kw) -> httpx.Response:
    return httpx.get(srv.url + path, auth=("dr-who", viewer.reveal()), timeout=30, **kw)


def test_station_list_with_last_sync_and_health(site):
    srv, _, viewer, _ = site
    r = get(srv, viewer, "/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'none'" in r.headers["content-security-policy"]
    assert "station-a" in r.text and '<span class="ok">ok</span>' in r.text
    assert "station-b" in r.text and "never synced" in r.text
    unauth = httpx.get(srv.url + "/")
    assert unauth.status_code == 401 and unauth.headers["www-authenticate"].startswith("Basic")


def test_sessions_by_patient_and_the_report(site):
    srv, cfg, viewer, (a, b) = site
    r = get(srv, viewer, "/patients", params={"code": "P-0000"})
    assert r.status_code == 200 and a.name in r.text and b.name in r.text
    assert get(srv, viewer, "/patients", params={"code": "<b>"}).status_code == 400
    r = get(srv, viewer, f"/sessions/{b.name}")
    assert r.status_code == 200 and "quiet_stance" in r.text and "path_length_cm" in r.text
    assert "<script>" not in r.text and "&lt;script&gt;" in r.text
    assert get(srv, viewer, "/sessions/20260101T000000Z-00000000").status_code == 404
    assert get(srv, viewer, "/sessions/..%2F..%2Fetc").status_code == 404
    pdf = get(srv, viewer, f"/sessions/{a.name}/report.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    db = sqlite3.connect(cfg.db_file)
    try:
        rows = db.execute("SELECT actor, action, patient_code FROM audit "
                          "WHERE action LIKE 'web.%'").fetchall()
    finally:
        db.close()
    assert ("dr-who", "web.patient", "P-0000") in rows
    assert ("dr-who", "web.report", "P-0000") in rows
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db = sqlite3.connect(cfg.db_file)
        try:
            db.execute("DELETE FROM audit")
        finally:
            db.close()


def test_health_text():
    row = {"active": 1, "last_received": "2000-01-01T00:00:00Z", "heartbeat_utc": None,
           "heartbeat": None}
    assert station_health(row, 48)[0].startswith("silent for")
    assert station_health(dict(row, active=0), 48) == ("revoked", False)
    assert station_health(dict(row, last_received=None), 48) == ("never synced", False)
    fresh = dict(row, heartbeat_utc="2999-01-01T00:00:00Z",
                 heartbeat=json.dumps({"pending": 3, "disk_level": "warning"}))
    assert station_health(fresh, 48) == ("3 pending; disk warning", False)


def test_config_from_file_and_environment(tmp_path):
    f = tmp_path / "server.toml"
    f.write_text('[server]\ndata_dir = "/srv/x"\nport = 9000\nmax_file_bytes = 1024\n')
    cfg = server_config.load(f, env={"STATION_SERVER_PORT": "9443",
                                     "STATION_SERVER_ALLOW_PLAIN_HTTP": "yes",
                                     "STATION_SERVER_BODY_IDLE_TIMEOUT_S": "5"})
    assert (cfg.data_dir, cfg.port, cfg.max_file_bytes) == ("/srv/x", 9443, 1024)
    assert cfg.allow_plain_http is True and cfg.body_idle_timeout_s == 5.0
    assert cfg.db_file == Path("/srv/x/index.sqlite3")
    assert server_config.load(None, env={"STATION_SERVER_CONFIG": str(f)}).port == 9000
    for text, env, match in [('[server]\nprot = 1\n', {}, "unknown key 'prot'"),
                             ('[server]\nport = "x"\n', {}, "port must be int"),
                             ('[other]\n', {}, "only a \\[server\\] table"),
                             ("", {"STATION_SERVER_PORT": "eighty"}, "port must be int"),
                             ("", {"STATION_SERVER_NOPE": "1"}, "unknown setting"),
                             ("", {"STATION_SERVER_LOG_LEVEL": "loud"}, "log_level")]:
        f.write_text(text)
        with pytest.raises(ConfigError, match=match):
            server_config.load(f, env=env)


def test_token_commands(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("STATION_SERVER_DATA_DIR", str(tmp_path))
    assert server_main(["tokens", "create", "station-07"]) == 0
    out = capsys.readouterr()
    token = out.out.strip()
    assert token.startswith("st_") and "shown once" in out.err
    assert server_main(["tokens", "create", "../evil"]) == 2
    assert server_main(["tokens", "list"]) == 0
    listing = capsys.readouterr().out
    assert "station-07" in listing and "active" in listing and token not in listing
    assert server_main(["tokens", "revoke", "station-07"]) == 0
    assert server_main(["tokens", "revoke", "station-07"]) == 2
    index = Index(tmp_path / "index.sqlite3")
    try:
        assert Tokens(index).verify(token) is None
    finally:
        index.close()
    assert server_main(["audit"]) == 0
    assert "token.revoke" in capsys.readouterr().out
    monkeypatch.setenv("STATION_SERVER_HOST", "0.0.0.0")
    assert server_main(["serve"]) == 2
    assert "refusing plain HTTP" in capsys.readouterr().err


def test_runs_as_a_module():
    r = subprocess.run([sys.executable, "-m", "station.server", "--help"], capture_output=True,
                       text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60)
    assert r.returncode == 0 and "tokens" in r.stdout


def test_startup_returns_unindexed_sessions_to_staging(tmp_path):
    cfg = ServerConfig(data_dir=str(tmp_path), min_free_bytes=0)
    index = Index(cfg.db_file)
    try:
        receiver = Receiver(cfg, index)
        orphan = tmp_path / "sessions" / "station-a" / "20260105T080000Z-00000001"
        orphan.mkdir(parents=True)
        (orphan / "manifest.json").write_text("{}")
        (tmp_path / "tmp" / "abc.part").write_bytes(b"half a body")
        receiver.recover()
        assert not orphan.exists()
        assert (tmp_path / "incoming" / "station-a" / orphan.name / "manifest.json").exists()
        assert list((tmp_path / "tmp").iterdir()) == []
    finally:
        index.close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", str(d / "key.pem"), "-out", str(d / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    return d / "cert.pem", d / "key.pem"


def test_https_with_a_pinned_certificate(tmp_path, certificate):
    cert, key = certificate
    cfg = ServerConfig(data_dir=str(tmp_path / "server"), min_free_bytes=0)
    index = Index(cfg.db_file)
    token = Tokens(index).create("station-01")[1]
    index.close()
    tpl = record_session(tmp_path / "tpl", trials=1, seconds=0.5)
    clone_sessions(tpl, tmp_path / "station" / "sessions", 2)
    with LoopbackServer(create_app(cfg), ssl_certfile=str(cert), ssl_keyfile=str(key)) as srv:
        assert srv.url.startswith("https://localhost:")
        with SessionStore(tmp_path / "station") as store:
            with SyncClient(srv.url, token, ca_file=str(cert)) as client:
                assert runner.run_sync(store, client).sent == 2
            with SyncClient(srv.url, token) as untrusted, pytest.raises(AuthError, match="TLS"):
                untrusted.status(tpl.name)
        with pytest.raises(ConfigError, match="plain http"):
            SyncClient(srv.url.replace("https", "http"), token)
