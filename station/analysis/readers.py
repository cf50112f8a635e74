"""Readers for the recordings ``station analyze`` accepts, each giving ``Trial`` objects with the
COP in metres, [ml, ap], uniformly sampled.

- A station session folder (``session.json`` + ``trials/NN-slug/``) or one trial folder
  (``trial.json`` + ``cop.csv[.gz]``, optional ``tilt.csv[.gz]``): format_version 1.x.
- A BDS text file (Santos & Duarte 2016), detected from its header; COPx is AP, COPy is ML, cm.
- A generic COP CSV (columns in docs/analysis.md).

Missing COP (empty fields: nobody on the plate) and gaps in the time stamps split a recording
into continuous stretches; the analysis uses the longest one and says so in ``Trial.note``.
A file cut by a power failure (truncated gzip stream, or a last line without its newline) loses
only its incomplete last line.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from station.analysis.validation import AnalysisError, check_rate
from station.errors import SessionError
from station.session import reader as session_reader

BDS_HEADER = ("Time[s]", "Fx[N]", "Fy[N]", "Fz[N]", "Mx[Nm]", "My[Nm]", "Mz[Nm]", "COPx[cm]",
              "COPy[cm]")
STATION_COP_MAGIC = "# station cop format_version="
SUPPORTED_MAJOR = "1"
_UNIT = {"m": 1.0, "cm": 0.01, "mm": 0.001}
_COP_COL = re.compile(r"^(?:cop[_ ]?)?(ml|ap)\s*(?:_|\[|\()\s*(m|cm|mm)\s*[\])]?$", re.I)
_TIME_COL = re.compile(r"^(?:t|time)\s*(?:(?:_|\[|\()\s*(s|ms)\s*[\])]?)?$", re.I)
_EMPTY_FIELD = {d: re.compile(rf"(?:^|(?<={re.escape(d)}))(?={re.escape(d)}|$)", re.M)
                for d in (",", ";", "\t")}


@dataclass(eq=False)
class Trial:
    """One analysable recording: the COP stretch to analyse plus what is known about it."""

    cop: np.ndarray
    fs: float
    source: str
    trial_id: str
    name: str = ""
    drill: str = ""
    conditions: dict[str, Any] = field(default_factory=dict)
    started_utc: str = ""
    t_start_s: float = 0.0
    recorded_s: float = 0.0
    note: str = ""
    tilt: np.ndarray | None = None
    scores: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    complete: bool = True
    file_format: str = ""


@dataclass(eq=False)
class Session:
    """A station session: its metadata, the trials that could be read, and those that could not."""

    path: Path
    meta: dict[str, Any]
    trials: list[Trial]
    failures: list[tuple[str, str]]

    @property
    def session_id(self) -> str:
        return str(self.meta.get("session_id", self.path.name))

    @property
    def patient_code(self) -> str:
        return str(self.meta.get("patient_code", ""))

    @property
    def started_utc(self) -> str:
        return str(self.meta.get("started_utc", ""))

    @property
    def foot_spacing_m(self) -> float | None:
        value = (self.meta.get("plate") or {}).get("foot_spacing_m")
        return float(value) if isinstance(value, int | float) and value > 0 else None


def load(path: str | Path, rate: float | None = None) -> tuple[Session | None, list[Trial]]:
    """Open whatever ``path`` is (session, trial folder, BDS file, station or generic CSV).

    Returns (session or None, trials). ``rate`` (Hz) is needed only for a CSV without a time
    column, and overrides the rate estimated from a CSV's time stamps.
    """
    p = Path(path)
    if p.is_file() and p.name in ("session.json", "trial.json"):
        p = p.parent
    if p.is_dir():
        if (p / "session.json").is_file():
            session = read_session(p)
            return session, session.trials
        if (p / "trial.json").is_file():
            return None, read_station_trials(p)
        raise AnalysisError(f"{p}: a folder with neither session.json nor trial.json")
    if not p.exists():
        raise AnalysisError(f"{p}: no such file or folder")
    text, note = read_text(p)
    first = next((ln for ln in text.splitlines() if ln.strip()), "")
    if first.startswith(STATION_COP_MAGIC):
        return None, [_station_cop_file(p, fs=rate)]
    if tuple(first.strip().split("\t")) == BDS_HEADER:
        return None, [read_bds(p, text, note)]
    return None, [read_cop_csv(p, rate, text, note)]


def read_text(path: Path) -> tuple[str, str]:
    """A text file, gzipped or not, without an incomplete last line; returns (text, note)."""
    try:
        return session_reader.read_text(path)
    except SessionError as exc:
        raise AnalysisError(str(exc)) from None


def parse_table(lines: list[str], delimiter: str, where: str) -> np.ndarray:
    """Numeric rows with empty fields read as NaN; shape (rows, columns)."""
    body = "\n".join(lines)
    body = _EMPTY_FIELD[delimiter].sub("nan", body)
    try:
        return np.loadtxt(io.StringIO(body), delimiter=delimiter, ndmin=2)
    except ValueError as exc:
        raise AnalysisError(f"{where}: unreadable data: {exc}") from None


def read_bds(path: Path, text: str | None = None, note: str = "") -> Trial:
    """A Santos & Duarte (2016) BDS file: tab-separated, COPx = AP and COPy = ML in cm."""
    if text is None:
        text, note = read_text(path)
    lines = text.splitlines()
    if not lines or tuple(lines[0].strip().split("\t")) != BDS_HEADER:
        raise AnalysisError(f"{path}: not a BDS file (header {BDS_HEADER[0]}...)")
    data = parse_table([ln for ln in lines[1:] if ln.strip()], "\t", str(path))
    t, cop = data[:, 0], data[:, [8, 7]] / 100.0
    return _trial_from_samples(path, t, cop, None, note, file_format="BDS text",
                               trial_id=_stem(path), name=_stem(path))


def read_cop_csv(path: Path, rate: float | None = None, text: str | None = None,
                 note: str = "") -> Trial:
    """A generic COP CSV: optional time column (t / time, s or ms), ML and AP columns with the
    unit in the name (``ml_cm``, ``cop_ap_mm``, ``AP[m]``...). Comment lines start with #."""
    if text is None:
        text, note = read_text(path)
    lines = [ln for ln in text.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if not lines:
        raise AnalysisError(f"{path}: no header row")
    header = lines[0]
    delim = "\t" if "\t" in header else ";" if ";" in header and "," not in header else ","
    names = [h.strip().strip('"') for h in header.split(delim)]
    time_col, time_scale, cols = None, 1.0, {}
    for i, name in enumerate(names):
        if (m := _COP_COL.match(name)) and m.group(1).lower() not in cols:
            cols[m.group(1).lower()] = (i, _UNIT[m.group(2).lower()])
        elif (m := _TIME_COL.match(name)) and time_col is None:
            time_col, time_scale = i, 0.001 if (m.group(1) or "s").lower() == "ms" else 1.0
    if set(cols) != {"ml", "ap"}:
        raise AnalysisError(f"{path}: need ML and AP columns with a unit, e.g. ml_cm,ap_cm or "
                            f"cop_ml_m,cop_ap_m; header is {header.strip()!r}")
    data = parse_table(lines[1:], delim, str(path))
    if data.shape[1] != len(names):
        raise AnalysisError(f"{path}: {data.shape[1]} columns of data for {len(names)} names")
    cop = np.column_stack([data[:, cols[a][0]] * cols[a][1] for a in ("ml", "ap")])
    if time_col is None:
        if rate is None:
            raise AnalysisError(f"{path}: no time column (t_s, time_s...); give the sample rate "
                                "with --rate")
        t = np.arange(cop.shape[0]) / check_rate(rate)
    else:
        t = data[:, time_col] * time_scale
    return _trial_from_samples(path, t, cop, rate, note, file_format="COP CSV",
                               trial_id=_stem(path), name=_stem(path))


def read_station_trial(folder: Path) -> Trial:
    """A station trial folder as one trial (see ``read_station_trials`` for drill trials)."""
    return read_station_trials(folder, split=False)[0]


def read_station_trials(folder: Path, split: bool = True) -> list[Trial]:
    """A station trial folder: trial.json + cop.csv[.gz] (+ tilt.csv[.gz]).

    A drill records one folder for all its trials and marks each with ``trial_start`` /
    ``trial_end`` events (carrying the trial's conditions); with ``split`` every marked trial is
    analysed on its own, so countdowns and rests never mix into a measurement.
    """
    meta = session_reader.read_json(folder / "trial.json")
    cop_path = session_reader.sample_path(folder, "cop")
    if cop_path is None:
        raise SessionError(f"{folder}: no cop.csv or cop.csv.gz")
    fs = meta.get("sample_rate_hz")
    if not isinstance(fs, int | float) or isinstance(fs, bool) or not fs > 0:
        raise SessionError(f"{folder / 'trial.json'}: sample_rate_hz missing or invalid")
    tilt_path = session_reader.sample_path(folder, "tilt")
    tilt = _station_columns(tilt_path, ("t_s", "roll_rad", "pitch_rad"))[0] \
        if tilt_path is not None else None
    spans = _marked_trials(meta.get("events") or []) if split else []
    if not spans:
        trial = _station_cop_file(cop_path, fs=float(fs), meta=meta)
        trial.tilt = _finite_rows(tilt[:, 1:]) if tilt is not None else None
        return [trial]
    data, note = _station_columns(cop_path, ("t_s", "cop_ml_m", "cop_ap_m"))
    trials = []
    for k, (start, end, cond) in enumerate(spans, 1):
        inside = (data[:, 0] >= start) & (data[:, 0] < end)
        if inside.sum() < 3:
            continue
        part = {**meta, "conditions": {**(meta.get("conditions") or {}), **cond}}
        trial = _station_trial(cop_path, data[inside], note, float(fs), part,
                               trial_id=f"{folder.name}#{k}",
                               name=f"{meta.get('name', folder.name)} #{k}")
        if tilt is not None:
            trial.tilt = _finite_rows(tilt[(tilt[:, 0] >= start) & (tilt[:, 0] < end), 1:])
        trials.append(trial)
    return trials


def _marked_trials(events: list[Any]) -> list[tuple[float, float, dict[str, Any]]]:
    """(start s, end s, conditions) of each completed trial_start .. trial_end pair."""
    spans, start = [], None
    for ev in events:
        if not isinstance(ev, dict) or not isinstance(ev.get("t_s"), int | float):
            continue
        if ev.get("kind") == "trial_start":
            start = ev
        elif ev.get("kind") == "trial_end" and start is not None:
            cond = {k: v for k, v in start.items() if k in ("vision", "surface", "stance")}
            spans.append((float(start["t_s"]), float(ev["t_s"]), cond))
            start = None
        elif ev.get("kind") not in ("trial_start", "trial_end"):
            start = None if ev.get("kind") in _INTERRUPTIONS else start
    return spans


_INTERRUPTIONS = {"pause", "step_off", "loss_of_balance", "board_bottomed_out", "stopped"}


def _finite_rows(data: np.ndarray) -> np.ndarray | None:
    data = data[np.isfinite(data).all(axis=1)]
    return data if data.shape[0] else None


def read_session(folder: Path) -> Session:
    """A station session folder; trials that cannot be read are listed in ``failures``."""
    meta = session_reader.read_json(folder / "session.json")
    names = meta.get("trials")
    if not isinstance(names, list):
        raise SessionError(f"{folder / 'session.json'}: 'trials' must be a list of folder names")
    trials: list[Trial] = []
    failures: list[tuple[str, str]] = []
    for name in names:
        try:
            trials.extend(read_station_trials(folder / "trials" / str(name)))
        except (SessionError, AnalysisError) as exc:
            failures.append((str(name), str(exc)))
    return Session(path=folder, meta=meta, trials=trials, failures=failures)


def read_session_meta(folder: Path) -> dict[str, Any]:
    """Only session.json (to find a patient's earlier sessions without reading their samples)."""
    return session_reader.read_json(folder / "session.json")


def _station_columns(path: Path, columns: tuple[str, ...]) -> tuple[np.ndarray, str]:
    """The named columns of a station sample file (session.reader parses it), and its note."""
    table = session_reader.read_samples(path)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise SessionError(f"{path}: missing column(s) {', '.join(missing)}")
    return np.column_stack([table.columns[c] for c in columns]), table.note


def _station_cop_file(path: Path, fs: float | None, meta: dict[str, Any] | None = None) -> Trial:
    data, note = _station_columns(path, ("t_s", "cop_ml_m", "cop_ap_m"))
    meta = meta or {}
    folder_name = path.parent.name  # the trial's id: what session.json lists, and unique
    return _station_trial(path, data, note, fs, meta, trial_id=folder_name,
                          name=str(meta.get("name", folder_name)))


def _station_trial(path: Path, data: np.ndarray, note: str, fs: float | None,
                   meta: dict[str, Any], *, trial_id: str, name: str) -> Trial:
    return _trial_from_samples(
        path, data[:, 0], data[:, 1:3], fs, note, measure_rate=True,
        file_format="station session", trial_id=trial_id, name=name,
        drill=str(meta.get("drill", "")), conditions=_conditions(meta.get("conditions")),
        started_utc=str(meta.get("started_utc", "")), scores=dict(meta.get("scores") or {}),
        events=list(meta.get("events") or []), complete=bool(meta.get("complete", True)))


def _trial_from_samples(path: Path, t: np.ndarray, cop: np.ndarray, fs: float | None,
                        note: str, *, measure_rate: bool = False, **info: Any) -> Trial:
    """Keep the longest stretch with COP defined and no gap in time.

    The rate is ``fs`` if given, else the mean rate of the stretch's time stamps. With
    ``measure_rate`` ``fs`` is only the nominal rate (gap detection, a 10 % sanity check) and
    the time stamps decide: a station's HX711 runs at 80 Hz only to its oscillator's tolerance.
    """
    n = cop.shape[0]
    if n == 0:
        raise AnalysisError(f"{path}: no samples")
    valid = np.isfinite(cop).all(axis=1) & np.isfinite(t)
    if not valid.any():
        raise AnalysisError(f"{path}: COP is never defined (nobody on the plate?)")
    dt = np.diff(t)
    ok_dt = dt[np.isfinite(dt) & (dt > 0)]
    if ok_dt.size == 0 and n > 1:
        raise AnalysisError(f"{path}: time stamps do not increase")
    step = float(np.median(ok_dt)) if ok_dt.size else 1.0 / (fs or 1.0)
    if fs is not None and abs(step * fs - 1.0) > 0.1 and ok_dt.size:
        raise AnalysisError(f"{path}: time stamps say {1 / step:.4g} Hz but the rate is {fs:g} Hz")
    nominal = 1.0 / fs if fs else step
    # a new stretch starts at every defined sample whose predecessor is undefined or too far
    joined = np.zeros(n, dtype=bool)
    joined[1:] = valid[:-1] & valid[1:] & (dt > 0.5 * nominal) & (dt < 1.5 * nominal)
    starts = valid & ~joined
    run_id = np.cumsum(starts) - 1
    lengths = np.bincount(run_id[valid], minlength=int(starts.sum()))
    best = int(np.argmax(lengths))
    idx = np.flatnonzero(valid & (run_id == best))
    i0, i1 = int(idx[0]), int(idx[-1]) + 1
    notes = [note] if note else []
    if fs is None or measure_rate:
        span = t[i1 - 1] - t[i0]
        measured = (i1 - i0 - 1) / span if span > 0 else None
        if measured is None and fs is None:
            raise AnalysisError(f"{path}: cannot estimate a sample rate from one sample")
        if measured is not None and fs is not None and abs(measured / fs - 1.0) > 0.01:
            notes.append(f"time stamps give {measured:.3f} Hz (nominal {fs:g} Hz): used")
        if measured is not None and not (fs is not None and abs(measured / fs - 1.0) < 1e-4):
            fs = measured  # within 0.01 % the nominal rate stands (time-stamp rounding)
    assert fs is not None
    t_first = float(t[np.isfinite(t)][0]) if np.isfinite(t).any() else 0.0
    recorded = float(n / fs)
    if i1 - i0 < n:
        notes.append(f"longest continuous COP stretch used: {t[i0] - t_first:.2f}-"
                     f"{t[i1 - 1] - t_first + 1 / fs:.2f} s of {recorded:.2f} s "
                     f"({int(starts.sum())} stretch(es); COP undefined or time gaps elsewhere)")
    return Trial(cop=np.ascontiguousarray(cop[i0:i1]), fs=float(fs), source=str(path),
                 t_start_s=float(t[i0] - t_first), recorded_s=recorded, note="; ".join(notes),
                 **info)


def _conditions(raw: object) -> dict[str, Any]:
    """Trial conditions with vision and surface first (the recorder sorts keys)."""
    cond = dict(raw) if isinstance(raw, dict) else {}
    first = {k: cond.pop(k) for k in ("vision", "surface") if k in cond}
    return {**first, **cond}


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".gz", ".txt", ".csv", ".tsv"):
        name = name.removesuffix(suffix)
    return name
