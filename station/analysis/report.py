"""The one-page session report a therapist files or shows the patient (A4 PDF or PNG).

Contents: patient code, date, station and therapist; a table of the drills with their main
measures; statokinesigrams on a common scale; bars comparing the main measures with the same
patient's previous session in the same data folder (matched by drill, vision, surface and
order); Romberg quotients; wobble-board stability indices; the conventions used.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from station import __version__
from station.analysis import pipeline, readers
from station.analysis.pipeline import TrialResult
from station.analysis.preprocess import Preprocessing
from station.analysis.validation import AnalysisError
from station.atomicio import write_bytes
from station.errors import SessionError, StationError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

A4_IN = (8.27, 11.69)
MAX_PLOTS = 4
GOOD, BAD, INK, MUTED = "#1e8449", "#b03a2e", "#1b2631", "#5d6d7e"
NOW, PREV = "#1f4e79", "#aab7b8"


@dataclass(eq=False)
class SessionAnalysis:
    """A session and the results of each of its trials."""

    session: readers.Session
    results: list[TrialResult]


def resolve_session(session: str, data_dir: Path | None) -> Path:
    """A session folder from a path, or from an id looked up in ``data_dir``/sessions."""
    p = Path(session)
    if p.is_file() and p.name == "session.json":
        p = p.parent
    if p.is_dir():
        return p
    if data_dir is None:
        from station import config

        data_dir = config.load().data_dir
    candidate = Path(data_dir) / "sessions" / session
    if candidate.is_dir():
        return candidate
    raise SessionError(f"no session folder {session!r} (looked in {candidate.parent})")


def analyse_session(folder: Path, pre: Preprocessing) -> SessionAnalysis:
    session = readers.read_session(folder)
    results = [pipeline.analyse(t, pre, session.foot_spacing_m) for t in session.trials]
    results += [pipeline.failed(name, msg) for name, msg in session.failures]
    return SessionAnalysis(session, results)


def previous_session(folder: Path) -> Path | None:
    """The latest earlier session of the same patient code in the same sessions/ folder."""
    meta = readers.read_session_meta(folder)
    code, started = meta.get("patient_code"), _when(meta.get("started_utc"))
    if not code or started is None:
        return None
    best: tuple[datetime, Path] | None = None
    for other in folder.parent.glob("*/session.json"):
        if other.parent.resolve() == folder.resolve():
            continue
        try:
            m = readers.read_session_meta(other.parent)
        except StationError:
            continue  # a damaged neighbour must not stop this report
        when = _when(m.get("started_utc"))
        if m.get("patient_code") == code and when is not None and when < started and (
                best is None or when > best[0]):
            best = (when, other.parent)
    return best[1] if best else None


def _when(text: object) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _date(text: str) -> str:
    t = _when(text)
    return t.strftime("%d %b %Y, %H:%M UTC") if t else (text or "date unknown")


def _key(r: TrialResult) -> tuple[str, str, str]:
    t = r.trial
    if t is None:
        return ("", "", r.label)
    return (t.drill, str(t.conditions.get("vision", "")), str(t.conditions.get("surface", "")))


def match_previous(now: list[TrialResult], before: list[TrialResult]) -> list[TrialResult | None]:
    """For each current trial, the previous session's trial with the same drill and conditions
    and the same rank among those (first with first, second with second)."""
    pool: dict[tuple[str, str, str], list[TrialResult]] = {}
    for r in before:
        if r.metrics is not None:
            pool.setdefault(_key(r), []).append(r)
    seen: dict[tuple[str, str, str], int] = {}
    out: list[TrialResult | None] = []
    for r in now:
        k = _key(r)
        i = seen.get(k, 0)
        seen[k] = i + 1
        cands = pool.get(k, [])
        out.append(cands[i] if r.metrics is not None and i < len(cands) else None)
    return out


def write_report(folder: Path, output: Path | None, pre: Preprocessing | None = None) -> Path:
    """Analyse the session (and its predecessor) and write the page; returns the file written."""
    pre = pre or Preprocessing()
    if output is not None and output.suffix.lower() not in (".pdf", ".png"):
        raise AnalysisError(f"{output}: the report must be a .pdf or .png file")
    current = analyse_session(folder, pre)
    prev_folder = previous_session(folder)
    previous = analyse_session(prev_folder, pre) if prev_folder else None
    target = output or Path(f"{current.session.session_id}-report.pdf")
    fmt = target.suffix.lower().lstrip(".")
    fig = report_figure(current, previous, pre)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=150)
    write_bytes(target, buf.getvalue())
    return target


def report_figure(current: SessionAnalysis, previous: SessionAnalysis | None,
                  pre: Preprocessing) -> Figure:
    """Lay out the page (A4 portrait, positions in inches from the top)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=A4_IN)
    w, h = A4_IN
    s = current.session
    results = current.results
    before = match_previous(results, previous.results) if previous else [None] * len(results)

    def box(top: float, height: float, left: float = 0.6, width: float = w - 1.2) -> Axes:
        return fig.add_axes((left / w, 1 - (top + height) / h, width / w, height / h))

    fig.text(0.6 / w, 1 - 0.55 / h, "Balance session report", fontsize=18, weight="bold",
             color=INK)
    fig.text(0.6 / w, 1 - 0.85 / h,
             f"Patient {s.patient_code or '?'}   ·   {_date(s.started_utc)}", fontsize=12,
             color=INK)
    who = [f"station {s.meta.get('station_id', '?')}",
           f"therapist {s.meta.get('therapist_id', '?')}", f"session {s.session_id}"]
    if s.meta.get("interrupted"):
        who.append("session was interrupted")
    fig.text(0.6 / w, 1 - 1.08 / h, "   ·   ".join(who), fontsize=8.5, color=MUTED)
    comparison = (f"Compared with the previous session of {_date(previous.session.started_utc)}"
                  if previous else "No earlier session of this patient in this data folder")
    fig.text(0.6 / w, 1 - 1.3 / h, comparison, fontsize=9, color=MUTED, style="italic")

    n_rows = len(results)
    table_h = 0.45 + 0.26 * n_rows
    _drill_table(box(1.5, table_h), results, before)
    y = 1.5 + table_h + 0.1
    notes = _notes(current, previous)
    if previous:
        notes.insert(0, "In brackets: change since the previous session. Green: at least 10 % "
                        "less sway (steadier); red: at least 10 % more.")
    for line in notes:
        fig.text(0.6 / w, 1 - (y + 0.18) / h, line, fontsize=8.5, color=INK)
        y += 0.22
    y += 0.2
    footer_top = h - 0.95
    plotted = _to_plot(results)
    if plotted:
        fig.text(0.6 / w, 1 - (y + 0.1) / h, "Centre-of-pressure paths, same scale (red: 95 % "
                 "ellipse, the area most of the sway stays in)", fontsize=9.5, color=INK,
                 weight="bold")
        n = len(plotted)
        gap = 0.3
        size = min((w - 1.2 - 0.35 - gap * (n - 1)) / n, 0.42 * (footer_top - y), 2.3)
        _paths(fig, plotted, results, y + 0.5, size, gap)
        y += size + 1.4
    ok = [r for r in results if r.metrics is not None]
    bars_h = min(3.2, footer_top - y - 0.45)
    if ok and bars_h > 1.2:
        half = (w - 1.6) / 2
        _bars(box(y, bars_h, width=half), ok, results, before, "area")
        _bars(box(y, bars_h, left=1.0 + half, width=half), ok, results, before, "velocity")

    foot = ("Measures: 95 % prediction ellipse (Santos & Duarte 2016 convention), mean COP "
            "velocity = path length / duration, mean power frequency (BDS convention); "
            "Prieto et al. 1996 definitions elsewhere. Smaller area and velocity = steadier "
            f"standing. Pre-processing: {pre.describe()}. "
            f"Generated {datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC')} by station "
            f"{__version__} (recorded with {s.meta.get('software_version', '?')}). "
            "For clinical follow-up; not a diagnosis.")
    fig.text(0.6 / w, 0.35 / h, _wrap(foot, 150), fontsize=6.8, color=MUTED, va="bottom")
    return fig


def _to_plot(results: list[TrialResult]) -> list[TrialResult]:
    """Up to MAX_PLOTS analysed trials, quiet stance first, in session order."""
    ok = [r for r in results if r.metrics is not None and r.cop is not None]
    quiet = [r for r in ok if r.trial is not None and r.trial.drill in ("quiet_stance", "")]
    rest = [r for r in ok if r not in quiet]
    chosen = (quiet + rest)[:MAX_PLOTS]
    return sorted(chosen, key=results.index)


def _paths(fig: Figure, plotted: list[TrialResult], results: list[TrialResult], top: float,
           size: float, gap: float) -> None:
    from matplotlib.ticker import MaxNLocator

    from station.analysis.plots import draw_statokinesigram, nice_half_span

    w, h = A4_IN
    reach = 0.0
    for r in plotted:
        assert r.cop is not None and r.metrics is not None
        reach = max(reach, float(np.abs(r.cop - r.cop.mean(axis=0)).max()),
                    r.metrics.prediction_ellipse.semi_major_m)
    half = nice_half_span(reach * 100)
    for i, r in enumerate(plotted):
        assert r.cop is not None and r.metrics is not None
        left = 0.95 + i * (size + gap)
        ax = fig.add_axes((left / w, 1 - (top + size) / h, size / w, size / h))
        draw_statokinesigram(ax, r.cop, r.metrics, half_span_cm=half)
        ax.set_title(f"#{results.index(r) + 1}  {_short(r, compact=True)}", fontsize=8.5,
                     color=INK)
        ax.tick_params(labelsize=7)
        ax.xaxis.label.set_fontsize(7)
        ax.yaxis.label.set_fontsize(7)
        ax.set_xlabel("ML (cm)")
        ax.set_ylabel("AP (cm), forward ↑" if i == 0 else "")
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_locator(MaxNLocator(4))
        leg = ax.get_legend()
        if leg:
            leg.remove()
        ax.text(0.04, 0.05, f"{r.metrics.prediction_ellipse.area_m2 * 1e4:.2f} cm²",
                transform=ax.transAxes, fontsize=7.5, color="#c0392b",
                bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 1})


def _drill_name(r: TrialResult) -> str:
    t = r.trial
    if t is None:
        return r.label
    return (t.drill.replace("_", " ") or t.name or r.label).strip()


def _short(r: TrialResult, compact: bool = False) -> str:
    t = r.trial
    if t is None:
        return r.label
    bits = [] if compact and t.drill == "quiet_stance" else [_drill_name(r)]
    if t.conditions.get("vision"):
        bits.append(f"eyes {t.conditions['vision']}")
    if t.conditions.get("surface"):
        bits.append(str(t.conditions["surface"]))
    return ", ".join(bits)


def _abbrev(r: TrialResult) -> str:
    t = r.trial
    if t is None:
        return ""
    eyes = {"open": "EO", "closed": "EC"}.get(str(t.conditions.get("vision", "")), "")
    if t.drill not in ("quiet_stance", ""):
        return _drill_name(r).split()[0]
    return " ".join(s for s in (eyes, str(t.conditions.get("surface", ""))) if s)


def _change(now: float, before: float | None) -> str:
    if before is None or before <= 0:
        return ""
    pct = 100.0 * (now - before) / before
    return f" ({'+' if pct >= 0 else '−'}{abs(pct):.0f} %)"


def _drill_table(ax: Axes, results: list[TrialResult], before: list[TrialResult | None]) -> None:
    ax.axis("off")
    head = ["#", "Drill", "Eyes", "Surface", "Time\n(s)", "Sway area\n(cm²)",
            "Velocity\n(cm/s)", "Path\n(cm)", "Mean freq.\n(Hz)", "Weight L/R\n(%)"]
    widths = [0.04, 0.19, 0.08, 0.08, 0.06, 0.14, 0.14, 0.08, 0.10, 0.11]
    rows, colours = [], []
    for i, (r, b) in enumerate(zip(results, before, strict=True), 1):
        t, m, bm = r.trial, r.metrics, (b.metrics if b else None)
        vision = str(t.conditions.get("vision", "")) if t else ""
        surface = str(t.conditions.get("surface", "")) if t else ""
        shade = ["white"] * len(head)
        if m is None:
            rows.append([str(i), _drill_name(r), vision, surface, "",
                         "not analysed", "", "", "", ""])
            colours.append(shade)
            continue
        area, vel = m.prediction_ellipse.area_m2 * 1e4, m.mean_velocity.planar * 100
        old_area = bm.prediction_ellipse.area_m2 * 1e4 if bm else None
        old_vel = bm.mean_velocity.planar * 100 if bm else None
        rows.append([
            str(i), _drill_name(r), vision, surface, f"{m.duration_s:.0f}",
            f"{area:.2f}" + _change(area, old_area), f"{vel:.2f}" + _change(vel, old_vel),
            f"{m.path_length.planar * 100:.1f}", f"{m.mean_power_frequency.combined_hz:.2f}",
            f"{r.weight.left_pct:.0f} / {r.weight.right_pct:.0f}" if r.weight else "-",
        ])
        for col, now, old in ((5, area, old_area), (6, vel, old_vel)):
            if old:
                shade[col] = "#e9f7ef" if now < 0.9 * old else "#fdedec" if now > 1.1 * old \
                    else "white"
        colours.append(shade)
    table = ax.table(cellText=rows, colLabels=head, cellColours=colours, loc="upper center",
                     cellLoc="center", colWidths=widths)
    table.auto_set_font_size(False)
    table.set_fontsize(8)
    total = 0.45 + 0.26 * len(rows)
    for (row, col), cell in table.get_celld().items():
        cell.set_height((0.45 if row == 0 else 0.26) / total)
        cell.set_edgecolor("#d5d8dc")
        if row == 0:
            cell.set_facecolor("#eaf2f8")
            cell.set_text_props(weight="bold", color=INK)
        elif col == 1:
            cell.set_text_props(ha="left")
            cell.PAD = 0.04


def _notes(current: SessionAnalysis, previous: SessionAnalysis | None) -> list[str]:
    lines = []
    for q in pipeline.romberg(current.results):
        line = (f"Romberg quotient ({q.surface} surface, eyes closed ÷ eyes open): area "
                f"{q.area:.2f}, path length {q.path_length:.2f}")
        if previous:
            old = {p.surface: p for p in pipeline.romberg(previous.results)}.get(q.surface)
            if old:
                line += f"   (previous session: {old.area:.2f}, {old.path_length:.2f})"
        lines.append(line)
    for i, r in enumerate(current.results, 1):
        if r.stability:
            st = r.stability
            lines.append(f"#{i} wobble board stability index: overall {st.overall_deg:.1f}°, "
                         f"AP {st.ap_deg:.1f}°, ML {st.ml_deg:.1f}°; time in zone "
                         f"A {st.zone_a_pct:.0f} %, B {st.zone_b_pct:.0f} %, "
                         f"C {st.zone_c_pct:.0f} %, D {st.zone_d_pct:.0f} %")
    for i, r in enumerate(current.results, 1):
        if r.error:
            reason = r.error.replace(str(current.session.path) + "/", "")
            lines.append(_clip(f"#{i} not analysed: {reason}", 125))
    if any(r.metrics is not None and r.trial is not None and r.trial.note
           for r in current.results):
        lines.append("Some trials had unloaded moments or gaps: the longest continuous part "
                     "was analysed.")
    return lines


def _bars(ax: Axes, ok: list[TrialResult], results: list[TrialResult],
          before: list[TrialResult | None], what: str) -> None:
    idx = [results.index(r) for r in ok]

    def value(r: TrialResult | None) -> float:
        if r is None or r.metrics is None:
            return math.nan
        m = r.metrics
        if what == "area":
            return m.prediction_ellipse.area_m2 * 1e4
        return m.mean_velocity.planar * 100

    now = np.array([value(r) for r in ok])
    prev = np.array([value(before[i]) for i in idx])
    x = np.arange(len(ok))
    has_prev = np.isfinite(prev).any()
    width = 0.38 if has_prev else 0.6
    if has_prev:
        ax.bar(x - width / 2, np.nan_to_num(prev), width, color=PREV, label="previous session")
    ax.bar(x + (width / 2 if has_prev else 0), now, width, color=NOW, label="this session")
    ax.set_xticks(x, [f"#{i + 1}\n{_abbrev(results[i])}" for i in idx], fontsize=7.5)
    ax.tick_params(axis="y", labelsize=8)
    ax.set_title("Sway area, 95 % ellipse (cm²)" if what == "area" else "Mean sway velocity (cm/s)",
                 fontsize=9.5, color=INK)
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, axis="y", lw=0.4, alpha=0.6)
    ax.set_axisbelow(True)
    ax.legend(fontsize=7.5, frameon=False, loc="upper left")
    top = np.nanmax(np.concatenate([now, prev])) if len(now) else 1.0
    ax.set_ylim(0, top * 1.25)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[:n - 1] + "…"


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width))

