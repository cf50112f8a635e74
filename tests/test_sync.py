"""The sync client on its own: retries and backoff, what each answer means, configuration,
the token kept secret, and the run's exit code and status (with httpx.MockTransport)."""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
from pathlib import Path

import httpx
import pytest

from station.config import Config
from station.errors import ConfigError, StationError
from station.session.store import SessionStore, State
from station.sync import protocol as proto
from station.sync import runner
from station.sync.client import (
    AuthError,
    ConflictError,
    ProtocolError,
    RejectedError,
    StorageFullError,
    SyncClient,
    TransientError,
)
from station.sync.commands import add_parsers
from station.sync.retry import RetryPolicy, parse_retry_after
from station.sync.secret import Secret
from station.sync.testing import clone_sessions, record_session

TOKEN = Secret("st_0123456789ab_" + "s" * 43)


def mock_client(handler, sleeps: list[float] | None = None, **kw) -> SyncClient:
    sleeps = sleeps if sleeps is not None else []
    return SyncClient("https://receiver.test", TOKEN, transport=httpx.MockTransport(handler),
                      sleep=sleeps.append, rng=random.Random(1), **kw)


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> Path:
    return record_session(tmp_path_factory.mktemp("tpl") / "s", trials=1, seconds=0.5)


def test_backoff_is_exponential_jittered_and_capped():
    policy = RetryPolicy(attempts=8, base_s=0.5, cap_s=4.0)
    rng = random.Random(3)
    for attempt in range(8):
        waits = [policy.delay(attempt, rng) for _ in range(200)]
        assert min(waits) >= 0 and max(waits) <= min(4.0, 0.5 * 2 ** attempt)
        assert len(set(waits)) > 150                          # jitter: no two runs in step
    assert policy.delay(0, rng, retry_after=3.0) == 3.0
    assert policy.delay(0, rng, retry_after=100.0) == 4.0
    assert parse_retry_after("2") == 2.0 and parse_retry_after("Wed, 21 Oct") is None


def test_transport_errors_and_5xx_are_retried_then_given_up():
    calls = []

    def flaky(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if len(calls) == 1:
            raise httpx.ConnectError("refused", request=request)
        if len(calls) == 2:
            raise httpx.ReadTimeout("slow", request=request)
        if len(calls) == 3:
            return httpx.Response(503, headers={"Retry-After": "1"})
        return httpx.Response(200, json={"state": "stored", "manifest_sha256": "a" * 64})

    sleeps: list[float] = []
    with mock_client(flaky, sleeps) as c:
        assert c.status("20260101T000000Z-00000000")["state"] == "stored"
    assert len(calls) == 4 and len(sleeps) == 3 and sleeps[2] >= 1.0
    assert calls[0].headers["authorization"] == f"Bearer {TOKEN.reveal()}"

    def down(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500)

    sleeps.clear()
    with mock_client(down, sleeps, retry=RetryPolicy(attempts=4)) as c, \
            pytest.raises(TransientError, match="HTTP 500 after 4 attempts"):
        c.status("20260101T000000Z-00000000")
    assert len(sleeps) == 3


@pytest.mark.parametrize(("status", "body", "error"), [
    (401, {"error": "unauthorized"}, AuthError),
    (403, {"error": "forbidden"}, AuthError),
    (404, {"error": "not_found"}, AuthError),
    (403, {"error": "other_station"}, RejectedError),
    (409, {"error": "conflict"}, ConflictError),
    (422, {"error": "invalid_session"}, RejectedError),
    (413, {"error": "too_large"}, RejectedError),
    (507, {"error": "storage_full"}, StorageFullError),
    (418, {}, ProtocolError),
])
def test_answers_that_are_not_retried(template, status, body, error):
    calls = []

    def answer(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(status, json=body)

    with mock_client(answer) as c, pytest.raises(error):
        c.upload_session(template)
    assert len(calls) == 1


def test_an_answer_that_is_not_ours(template):
    calls = []

    def web_server(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(404, html="<h1>Not here</h1>")

    with mock_client(web_server) as c, pytest.raises(AuthError, match="server_url"):
        c.upload_session(template)
    assert len(calls) == 1

    def garbled(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, content=b"\x00garbage")

    calls.clear()
    with mock_client(garbled, retry=RetryPolicy(attempts=3)) as c, \
            pytest.raises(TransientError, match="ValueError after 3 attempts"):
        c.upload_session(template)
    assert len(calls) == 3


def test_a_receipt_for_another_manifest_is_not_accepted(template, tmp_path):
    (folder,) = clone_sessions(template, tmp_path / "data" / "sessions", 1)

    def liar(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"state": "stored", "receipt": {
            "session_id": folder.name, "manifest_sha256": "0" * 64}})

    with SessionStore(tmp_path / "data") as store, mock_client(liar) as c:
        summary = runner.run_sync(store, c, retention=False)
        assert summary.failed == 1 and summary.exit_code == runner.EXIT_INCOMPLETE
        assert store.get(folder.name).state == State.SEALED
        assert "receipt does not match" in store.get(folder.name).last_error


def test_configuration_is_checked_and_the_token_never_shows(tmp_path):
    with pytest.raises(ConfigError, match="plain http"):
        SyncClient("http://10.0.0.5:8080", TOKEN)
    with pytest.raises(ConfigError, match="not an https"):
        SyncClient("ftp://x", TOKEN)
    SyncClient("http://10.0.0.5:8080", TOKEN, allow_plain_http=True).close()
    with pytest.raises(ConfigError, match="ca_file"):
        SyncClient("https://x", TOKEN, ca_file=str(tmp_path / "nope.pem"))
    assert TOKEN.reveal() not in repr(TOKEN) + str(TOKEN) + f"{TOKEN!s:>80}"
    with pytest.raises(TypeError):
        pickle.dumps(TOKEN)
    f = tmp_path / "token"
    f.write_text(TOKEN.reveal() + "\n")
    assert Secret.from_file(f) == TOKEN
    f.write_text("")
    with pytest.raises(ConfigError, match="exactly one token") as exc:
        Secret.from_file(f)
    with pytest.raises(ConfigError, match="not found"):
        Secret.from_file(tmp_path / "missing")
    cfg = Config().with_changes("sync", server_url="")
    with pytest.raises(ConfigError, match="sync is off"):
        SyncClient.from_config(cfg)
    del exc


def station_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="station")
    add_parsers(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_the_sync_command_end_to_end_with_a_mock_server(template, tmp_path, capsys,
                                                         monkeypatch):
    data = tmp_path / "data"
    first, second = clone_sessions(template, data / "sessions", 2)
    (tmp_path / "token").write_text(TOKEN.reveal())
    conf = tmp_path / "station.toml"
    conf.write_text(f'[sync]\nserver_url = "https://receiver.test"\n'
                    f'token_file = "{tmp_path / "token"}"\n')
    heartbeats = []

    def server(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        sid = path.split("/")[4] if path.startswith(f"{proto.API}/sessions/") else ""
        if path.endswith("/manifest"):
            sha = proto.sha256_hex(request.content)
            if sid == second.name:
                return httpx.Response(409, json={"error": "conflict", "detail": "other"})
            return httpx.Response(200, json={"state": "stored", "receipt": {
                "session_id": sid, "manifest_sha256": sha}})
        if path.endswith("/stations/self/status"):
            heartbeats.append(json.loads(request.content))
            return httpx.Response(200, json={"ok": True})
        return httpx.Response(404)

    real = SyncClient.__init__

    def with_mock(self, *a, **kw):
        real(self, *a, transport=httpx.MockTransport(server), **kw)

    monkeypatch.setattr(SyncClient, "__init__", with_mock)
    code = station_cli("sync", "--config", str(conf), "--data-dir", str(data))
    out = capsys.readouterr().out
    with SessionStore(data) as store:
        assert store.get(first.name).state == State.SYNCED
        assert store.get(second.name).state == State.CONFLICT
    assert code == runner.EXIT_ATTENTION
    assert f"[1/2] {first.name}  already on the server" in out
    assert f"[2/2] {second.name}  CONFLICT: " in out
    assert heartbeats == [{"disk_free_bytes": heartbeats[0]["disk_free_bytes"],
                           "disk_level": heartbeats[0]["disk_level"], "failed": 0,
                           "needs_attention": 1, "pending": 0,
                           "software_version": heartbeats[0]["software_version"]}]
    assert station_cli("sync", "--config", str(conf), "--data-dir", str(data), "--status") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["state"] == "idle" and status["counts"] == {"synced": 1, "conflict": 1}
    assert status["exit_code"] == runner.EXIT_ATTENTION
    with runner.run_lock(data) as mine:
        assert mine
        assert station_cli("sync", "--config", str(conf), "--data-dir", str(data)) == 4
    conf.write_text('[sync]\nserver_url = ""\n')
    with pytest.raises(StationError, match="sync is off"):
        station_cli("sync", "--config", str(conf), "--data-dir", str(data))


def test_a_refused_token_stops_the_run_and_says_so(template, tmp_path):
    data = tmp_path / "data"
    clone_sessions(template, data / "sessions", 3)

    def refuse(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "unauthorized", "detail": "no"})

    with SessionStore(data) as store, mock_client(refuse) as c, \
            pytest.raises(AuthError, match="not revoked"):
        runner.run_sync(store, c)
    status = runner.read_status(data)
    assert status["state"] == "idle" and "401" in status["last_result"]["stopped"]
    assert status["exit_code"] == runner.EXIT_ERROR
    ui = runner.ui_summary(data)
    assert not ui["running"] and ui["last_ok_utc"] is None and "refused" in ui["failed"]
    with SessionStore(data) as store:
        assert len(store.pending()) == 3


def test_the_screen_summary(tmp_path):
    assert runner.ui_summary(tmp_path) == {"running": False, "done": None, "total": None,
                                           "last_ok_utc": None, "failed": None}
    (tmp_path / runner.STATUS_FILE).write_text(json.dumps(
        {"state": "running", "pid": 999999999, "done": 3, "total": 9,
         "last_success_utc": "2026-01-01T02:00:00Z"}))
    ui = runner.ui_summary(tmp_path)
    assert not ui["running"] and ui["failed"] == "the last sync was cut off"
    (tmp_path / runner.STATUS_FILE).write_text(json.dumps(
        {"state": "running", "pid": os.getpid(), "done": 3, "total": 9}))
    assert runner.ui_summary(tmp_path)["running"]
    (tmp_path / runner.STATUS_FILE).write_text(json.dumps(
        {"state": "idle", "exit_code": 1, "last_result": {"pending": 4, "stopped": "x"}}))
    assert runner.ui_summary(tmp_path)["failed"].startswith("4 session(s) not sent")


def test_an_unreachable_server_stops_after_three_sessions(template, tmp_path):
    data = tmp_path / "data"
    clone_sessions(template, data / "sessions", 6)
    calls = []

    def down(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    with SessionStore(data) as store, mock_client(down, retry=RetryPolicy(attempts=2)) as c:
        summary = runner.run_sync(store, c)
    assert summary.failed == 3 and summary.pending == 6 and summary.exit_code == 1
    assert "3 failure(s) in a row" in summary.stopped
    assert all(r.url.path.endswith("/manifest") for r in calls)      # no heartbeat, no purge
