"""``station analyze`` and ``station report``: argparse wiring and the command bodies.

Registration imports nothing heavy, so ``station --help`` stays quick; numpy is loaded when a
command runs and matplotlib only when a plot or report is drawn. Also runnable on its own:
``python -m station.analysis.commands analyze PATH --json``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from station.analysis.pipeline import Romberg, TrialResult
    from station.analysis.preprocess import Preprocessing


def add_analyze_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``analyze PATH`` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "analyze", help="sway metrics of a session, trial, COP CSV or BDS file",
        description="Compute sway metrics (docs/analysis.md) of a station session or trial "
                    "folder, a COP CSV, or a BDS text file (detected from its header). Prints a "
                    "table, or with --json one JSON object per trial. No pre-processing unless "
                    "asked for: the numbers are those of the COP as recorded.")
    p.add_argument("path", type=Path, help="session folder, trial folder, or CSV / BDS file")
    p.add_argument("--json", action="store_true", help="one JSON object per trial on stdout")
    p.add_argument("--plot", type=Path, metavar="OUT.png",
                   help="write a statokinesigram with the ellipse and both time series "
                        "(several trials: OUT-<trial>.png)")
    p.add_argument("--rate", type=float, metavar="HZ",
                   help="sample rate of a CSV without a time column (overrides its time stamps)")
    _add_preprocessing(p)
    p.set_defaults(func=run_analyze)
    return p


def add_report_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register ``report SESSION`` on an argparse subparsers object."""
    p = subparsers.add_parser(
        "report", help="one-page PDF/PNG report of a session",
        description="Write a one-page report of a session (patient code, date, drills, metrics, "
                    "plots, and the change since the same patient's previous session in the "
                    "same data folder).")
    p.add_argument("session", help="session folder, or a session id looked up in --data-dir")
    p.add_argument("-o", "--output", type=Path, metavar="OUT.pdf",
                   help="output file, .pdf or .png (default: ./<session_id>-report.pdf)")
    p.add_argument("--data-dir", type=Path,
                   help="data folder holding sessions/ (default: the station configuration's)")
    _add_preprocessing(p)
    p.set_defaults(func=run_report)
    return p


def _add_preprocessing(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("pre-processing (default: none, the COP as recorded)")
    g.add_argument("--trim-start", type=float, default=0.0, metavar="S",
                   help="drop S seconds at the start")
    g.add_argument("--trim-end", type=float, default=0.0, metavar="S",
                   help="drop S seconds at the end")
    g.add_argument("--resample", type=float, metavar="HZ", help="resample to HZ (polyphase)")
    g.add_argument("--lowpass", type=float, metavar="HZ",
                   help="zero-phase Butterworth low-pass at HZ")
    g.add_argument("--lowpass-order", type=int, default=4, metavar="N",
                   help="Butterworth order (default 4)")
    g.add_argument("--detrend", choices=("none", "constant", "linear"), default="none",
                   help="remove mean or linear trend (default none)")


def _preprocessing(args: argparse.Namespace) -> Preprocessing:
    from station.analysis.preprocess import Preprocessing

    return Preprocessing(trim_start_s=args.trim_start, trim_end_s=args.trim_end,
                         resample_hz=args.resample, lowpass_hz=args.lowpass,
                         lowpass_order=args.lowpass_order, detrend=args.detrend)


def run_analyze(args: argparse.Namespace) -> int:
    """Analyse every trial under ``args.path``; exit 0 if at least one trial gave metrics."""
    from station.analysis import pipeline, readers
    from station.analysis.validation import AnalysisError

    pre = _preprocessing(args)
    session, trials = readers.load(args.path, rate=args.rate)
    spacing = session.foot_spacing_m if session else None
    results = [pipeline.analyse(t, pre, spacing) for t in trials]
    if session:
        results += [pipeline.failed(name, msg, str(session.path / "trials" / name))
                    for name, msg in session.failures]
    if len(results) == 1 and results[0].error:
        raise AnalysisError(f"{args.path}: {results[0].error}")
    out = sys.stdout
    if args.json:
        for r in results:
            out.write(json.dumps(_finite(r.record), ensure_ascii=False) + "\n")
    else:
        out.write(format_table(results, pipeline.romberg(results)))
    if args.plot:
        _plots(results, args.plot, many=len(results) > 1)
    return 0 if any(r.metrics is not None for r in results) else 1


def _plots(results: list[TrialResult], out: Path, many: bool) -> None:
    from station.analysis.plots import save_figure, trial_figure

    for r in results:
        if r.metrics is None or r.trial is None or r.cop is None:
            continue
        target = out.with_name(f"{out.stem}-{r.trial.trial_id}{out.suffix}") if many else out
        t = r.trial
        cond = ", ".join(f"{k} {v}" for k, v in t.conditions.items() if v)
        subtitle = " · ".join(s for s in (t.file_format, cond, f"{r.metrics.duration_s:.1f} s at "
                                          f"{r.fs:g} Hz") if s)
        save_figure(trial_figure(r.cop, r.fs, r.metrics, t.name or t.trial_id, subtitle), target)
        print(f"plot written: {target}", file=sys.stderr)


def _finite(record: dict[str, Any]) -> dict[str, Any]:
    """JSON has no NaN: a non-finite float (never expected) becomes null rather than invalid."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v)
            for k, v in record.items()}


def fmt(value: float | int) -> str:
    """Table number: integers as is, else 3 / 2 / 1 decimals by magnitude."""
    if isinstance(value, int):
        return str(value)
    if not math.isfinite(value):
        return "-"
    a = abs(value)
    if 0 < a < 0.1:
        return f"{value:.3g}"
    return f"{value:.3f}" if a < 10 else f"{value:.2f}" if a < 100 else f"{value:.1f}"


def format_table(results: list[TrialResult], romberg: list[Romberg] | None = None) -> str:
    """A plain-text table: one row per metric, one column per trial."""
    from station.analysis.summary import GROUPS, KEY_BY_NAME, KEYS, TABLE_ORDER

    lines: list[str] = []
    ok = [r for r in results if r.metrics is not None]
    for i, r in enumerate(results, 1):
        t = r.trial
        head = f"#{i} {r.label}"
        if t is not None:
            cond = ", ".join(f"{k} {v}" for k, v in t.conditions.items() if v)
            desc = " · ".join(s for s in (t.name if t.name != r.label else "", cond,
                                          t.file_format) if s)
            head += f": {desc}" if desc else ""
        lines.append(head)
        if r.error:
            lines.append(f"    not analysed: {r.error}")
        else:
            lines.append(f"    pre-processing: {r.record.get('preprocessing')}")
        if t is not None and t.note:
            lines.append(f"    note: {t.note}")
    if ok:
        cols = [f"#{results.index(r) + 1}" for r in ok]
        extras = _extra_rows(ok)
        width = 2 + max(7, *(len(fmt(k.get(r.metrics) * k.factor)) for k in KEYS for r in ok
                             if r.metrics), *(len(c) for _, _, cells in extras for c in cells))
        label_w = max(len(k.label) for k in KEYS) + 2
        unit_w = 6
        lines.append("")
        lines.append(f"{'metric':<{label_w}}{'unit':<{unit_w}}"
                     + "".join(f"{c:>{width}}" for c in cols))
        for group in GROUPS:
            lines.append(f"-- {group}")
            for k in (KEY_BY_NAME[n] for n in TABLE_ORDER if KEY_BY_NAME[n].group == group):
                vals = [k.get(r.metrics) for r in ok if r.metrics]
                cells = [fmt(v if isinstance(v, int) else v * k.factor) for v in vals]
                lines.append(f"{k.label:<{label_w}}{k.unit:<{unit_w}}"
                             + "".join(f"{c:>{width}}" for c in cells))
        if extras:
            lines.append("-- Station")
            for label, unit, cells in extras:
                lines.append(f"{label:<{label_w}}{unit:<{unit_w}}"
                             + "".join(f"{c:>{width}}" for c in cells))
    for q in romberg or []:
        lines.append(f"Romberg quotient ({q.surface}): area {q.area:.2f}, "
                     f"path length {q.path_length:.2f} (eyes closed / eyes open)")
    return "\n".join(lines) + "\n"


def _extra_rows(ok: list[TrialResult]) -> list[tuple[str, str, list[str]]]:
    rows = []
    if any(r.weight for r in ok):
        rows.append(("weight on left / right", "%", [
            f"{r.weight.left_pct:.0f}/{r.weight.right_pct:.0f}" if r.weight else "-" for r in ok]))
        rows.append(("weight symmetry", "%", [fmt(r.weight.symmetry_pct) if r.weight else "-"
                                              for r in ok]))
    if any(r.stability for r in ok):
        for label, attr in (("stability index overall", "overall_deg"),
                            ("stability index AP", "ap_deg"), ("stability index ML", "ml_deg")):
            rows.append((label, "°", [fmt(getattr(r.stability, attr)) if r.stability else "-"
                                      for r in ok]))
        rows.append(("time in zone A/B/C/D", "%", [
            "/".join(f"{getattr(r.stability, z):.0f}" for z in
                     ("zone_a_pct", "zone_b_pct", "zone_c_pct", "zone_d_pct"))
            if r.stability else "-" for r in ok]))
    return rows


def run_report(args: argparse.Namespace) -> int:
    """Write the one-page session report."""
    from station.analysis.report import resolve_session, write_report

    folder = resolve_session(args.session, args.data_dir)
    out = args.output
    written = write_report(folder, out, _preprocessing(args))
    print(f"report written: {written}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (the station CLI registers the same parsers)."""
    from station.errors import StationError

    parser = argparse.ArgumentParser(prog="python -m station.analysis.commands")
    sub = parser.add_subparsers(dest="command", required=True)
    add_analyze_parser(sub)
    add_report_parser(sub)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except StationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    raise SystemExit(main())
