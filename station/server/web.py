"""The read-only web page: stations with their last sync and health, sessions by patient code,
and each session's report (an HTML summary of drills and scores, and the PDF report).

Only viewer tokens open it (HTTP Basic, the token as password, so a browser can ask for it);
every page view is written to the audit log with the patient code it showed. Everything shown
is escaped; the pages load nothing from elsewhere (a strict Content-Security-Policy).
"""

from __future__ import annotations

import datetime as dt
import html
import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response
from starlette.routing import Route

from station.errors import StationError
from station.session import format as fmt
from station.sync import protocol as proto

HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
           "X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY",
           "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}
_STYLE = ("body{font:15px system-ui,sans-serif;margin:2em;color:#1b2631}"
          "table{border-collapse:collapse}td,th{padding:.3em .8em;border-bottom:1px solid #ccd}"
          "th{text-align:left}.ok{color:#1e8449}.bad{color:#b03a2e}.muted{color:#5d6d7e}")
_report_lock = threading.Lock()
e = html.escape


def page(title: str, body: str, status: int = 200) -> HTMLResponse:
    nav = '<p><a href="/">Stations</a> · <a href="/patients">Patients</a></p>'
    return HTMLResponse(f"<!doctype html><html><head><meta charset=utf-8><title>{e(title)}"
                        f"</title><style>{_STYLE}</style></head><body>{nav}<h1>{e(title)}</h1>"
                        f"{body}</body></html>", status_code=status, headers=HEADERS)


def error_page(status: int, detail: str) -> HTMLResponse:
    return page(f"{status}", f"<p>{e(detail)}</p>", status)


def _table(head: list[str], rows: list[list[str]]) -> str:
    """Cells are HTML already (escaped by the caller)."""
    if not rows:
        return '<p class="muted">Nothing yet.</p>'
    th = "".join(f"<th>{e(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{th}</tr>{body}</table>"


def _age_hours(utc: str | None) -> float | None:
    if not utc:
        return None
    then = dt.datetime.strptime(utc, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    return (dt.datetime.now(dt.UTC) - then).total_seconds() / 3600


def station_health(row: dict[str, Any], stale_after_hours: float) -> tuple[str, bool]:
    """(text, healthy) from the token state, the last contact and the last heartbeat."""
    if not row["active"]:
        return "revoked", False
    contact = max(filter(None, [row["last_received"], row["heartbeat_utc"]]), default=None)
    age = _age_hours(contact)
    if age is None:
        return "never synced", False
    if age > stale_after_hours:
        return f"silent for {age / 24:.1f} days", False
    beat = json.loads(row["heartbeat"]) if row["heartbeat"] else {}
    trouble = [f"{beat[k]} {k.replace('_', ' ')}" for k in ("pending", "needs_attention")
               if beat.get(k)]
    if beat.get("disk_level", "ok") != "ok":
        trouble.append(f"disk {beat['disk_level']}")
    return ("; ".join(trouble), False) if trouble else ("ok", True)


def _session_rows(rows: list[dict[str, Any]], with_station: bool) -> str:
    out = []
    for r in rows:
        link = f'<a href="/sessions/{e(r["session_id"])}">{e(r["session_id"])}</a>'
        cells = [link, e(r["started_utc"] or ""), f'<a href="/patients?code='
                 f'{e(r["patient_code"])}">{e(r["patient_code"])}</a>', str(r["trials"]),
                 '<span class="bad">interrupted</span>' if r["interrupted"] else "complete",
                 e(r["received_utc"])]
        if with_station:
            cells.insert(1, e(r["station_id"]))
        out.append(cells)
    head = ["session", "started (UTC)", "patient", "trials", "state", "received (UTC)"]
    if with_station:
        head.insert(1, "station")
    return _table(head, out)


def routes(identify: Callable[..., Any]) -> list[Route]:
    """The page routes; ``identify(request, "viewer")`` guards each."""

    async def viewer(request: Request) -> str:
        return (await identify(request, "viewer")).name

    async def audit(request: Request, who: str, action: str, **kw: Any) -> None:
        await run_in_threadpool(request.app.state.index.audit, who, action, "ok",
                                remote=request.client.host if request.client else None, **kw)

    async def stations(request: Request) -> Response:
        who = await viewer(request)
        rows = await run_in_threadpool(request.app.state.index.stations)
        stale = request.app.state.cfg.stale_after_hours
        body = []
        for r in rows:
            text, good = station_health(r, stale)
            body.append([f'<a href="/stations/{e(r["station_id"])}">{e(r["station_id"])}</a>',
                         e(r["last_received"] or "never"), str(r["sessions"]),
                         f'<span class="{"ok" if good else "bad"}">{e(text)}</span>'])
        await audit(request, who, "web.stations")
        return page("Stations", _table(["station", "last sync (UTC)", "sessions", "health"],
                                       body))

    async def station(request: Request) -> Response:
        who = await viewer(request)
        sid = request.path_params["station"]
        if not proto.STATION_ID.fullmatch(sid):
            return error_page(400, "not a station id")
        rows = await run_in_threadpool(request.app.state.index.rows,
                                       "SELECT * FROM sessions WHERE station_id=? "
                                       "ORDER BY started_utc DESC LIMIT 500", (sid,))
        await audit(request, who, "web.station")
        return page(f"Station {sid}", _session_rows(rows, False))

    async def patients(request: Request) -> Response:
        who = await viewer(request)
        code = request.query_params.get("code", "")
        form = ('<form method="get"><label>Patient code <input name="code" value="'
                f'{e(code)}"></label> <button>Show</button></form>')
        if not code:
            return page("Patients", form)
        if not proto.STATION_ID.fullmatch(code):
            return page("Patients", form + "<p class=bad>Not a patient code.</p>", 400)
        rows = await run_in_threadpool(request.app.state.index.rows,
                                       "SELECT * FROM sessions WHERE patient_code=? "
                                       "ORDER BY started_utc DESC", (code,))
        await audit(request, who, "web.patient", patient_code=code)
        return page(f"Patient {code}", form + _session_rows(rows, True))

    async def session(request: Request) -> Response:
        who = await viewer(request)
        row, folder = await _session_folder(request)
        body = await run_in_threadpool(_report_html, row, folder)
        await audit(request, who, "web.session", session_id=row["session_id"],
                    patient_code=row["patient_code"])
        return page(f"Session {row['session_id']}", body)

    async def report_pdf(request: Request) -> Response:
        who = await viewer(request)
        row, folder = await _session_folder(request)
        target = request.app.state.cfg.data_path / "reports" / f"{row['session_id']}.pdf"
        try:
            await run_in_threadpool(_make_pdf, folder, target)
        except StationError as exc:
            return error_page(422, f"The report cannot be drawn for this session: "
                                   f"{str(exc).rpartition(': ')[2]}")
        await audit(request, who, "web.report", session_id=row["session_id"],
                    patient_code=row["patient_code"])
        return FileResponse(target, media_type="application/pdf", headers=HEADERS,
                            filename=f"{row['session_id']}-report.pdf")

    return [Route("/", stations, methods=["GET"]),
            Route("/stations/{station}", station, methods=["GET"]),
            Route("/patients", patients, methods=["GET"]),
            Route("/sessions/{sid}", session, methods=["GET"]),
            Route("/sessions/{sid}/report.pdf", report_pdf, methods=["GET"])]


async def _session_folder(request: Request) -> tuple[dict[str, Any], Path]:
    from starlette.exceptions import HTTPException

    sid = request.path_params["sid"]
    row = None
    if proto.is_session_id(sid):
        row = await run_in_threadpool(request.app.state.index.session, sid)
    if row is None:
        raise HTTPException(404, "no such session")
    return row, request.app.state.receiver.committed(row["station_id"], sid)


def _report_html(row: dict[str, Any], folder: Path) -> str:
    meta = json.loads((folder / fmt.SESSION_JSON).read_text(encoding="utf-8"))
    facts = [("Patient", row["patient_code"]), ("Station", row["station_id"]),
             ("Therapist", meta.get("therapist_id") or "—"),
             ("Started (UTC)", meta.get("started_utc")), ("Ended (UTC)", meta.get("ended_utc")),
             ("Interrupted", "yes" if meta.get("interrupted") else "no"),
             ("Software", meta.get("software_version")),
             ("Calibration", f"{meta['calibration'].get('method')} "
                             f"({meta['calibration'].get('calibrated_utc') or 'not dated'})"),
             ("Received (UTC)", row["received_utc"])]
    out = "<table>" + "".join(f"<tr><th>{e(k)}</th><td>{e(str(v))}</td></tr>"
                              for k, v in facts) + "</table><h2>Drills</h2>"
    rows = []
    for name in meta["trials"]:
        t = json.loads((folder / fmt.TRIALS_DIR / name / fmt.TRIAL_JSON)
                       .read_text(encoding="utf-8"))
        scores = ", ".join(f"{k} = {_num(v)}" for k, v in sorted(t.get("scores", {}).items()))
        conditions = ", ".join(f"{k}: {v}" for k, v in sorted(t.get("conditions", {}).items()))
        seconds = t.get("samples", 0) / t["sample_rate_hz"] if t.get("samples") else None
        state = "complete" if t.get("complete") else (
            "interrupted" if t.get("interrupted") else t.get("abort_reason", "incomplete"))
        rows.append([e(t.get("name", name)), e(t.get("drill", "")), e(conditions),
                     f"{seconds:.0f} s" if seconds else "—", str(len(t.get("events", []))),
                     e(scores), e(str(state))])
    out += _table(["trial", "drill", "conditions", "length", "events", "scores", "state"], rows)
    return out + f'<p><a href="/sessions/{e(row["session_id"])}/report.pdf">PDF report</a></p>'


def _num(v: Any) -> str:
    return f"{v:.3g}" if isinstance(v, float) else str(v)


def _make_pdf(folder: Path, target: Path) -> None:
    """The station's one-page report, drawn once and cached (sessions never change)."""
    if target.exists():
        return
    from station.analysis.report import write_report

    with _report_lock:
        if not target.exists():
            write_report(folder, target)
