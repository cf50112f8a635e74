"""The recorder: writes a visit as a session folder while it happens.

Metadata files (session.json, trial.json, manifest.json) are replaced atomically. Sample files
grow by appending whole lines, flushed and fsynced every ``fsync_interval_s``, so a power cut
costs at most that much and leaves at worst one partial last line, which readers drop. When a
trial ends its sample files are gzipped (atomically) and when the visit ends the manifest with
every file's SHA-256 seals the session. The recorder reads the acquisition rings through its
own cursor, so it never slows the sensors, and it never writes the patient's name: only the
pseudonymous patient code.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Any

import numpy as np

from station import __version__, atomicio
from station.clock import Clock, utc_now
from station.plate.calibration import Calibration
from station.plate.model import PlateGeometry, PlateSamples, plate_samples
from station.plate.tilt import board_tilt
from station.session import format as fmt


class _SampleFile:
    """An append-only CSV with a header, fsynced on demand."""

    def __init__(self, path: Path, kind: str, t0_ns: int) -> None:
        self.path = path
        self._fh = open(path, "a", encoding="ascii", newline="\n")  # noqa: SIM115
        self._fh.write(fmt.header_line(kind, t0_ns) + ",".join(fmt.COLUMNS[kind]) + "\n")
        self.rows = 0

    def append(self, text: str, rows: int) -> None:
        self._fh.write(text)
        self.rows += rows

    def sync(self) -> None:
        self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if not self._fh.closed:
            self.sync()
            self._fh.close()


def _rows(columns: list[np.ndarray], formats: list[str]) -> str:
    """Vectorised CSV formatting; NaN becomes an empty field (undefined, not zero)."""
    n = len(columns[0])
    if n == 0:
        return ""
    parts = []
    for col, f in zip(columns, formats, strict=True):
        s = np.char.mod(f, col)
        if col.dtype.kind == "f":
            s = np.where(np.isnan(col), "", s)
        parts.append(s)
    out = parts[0]
    for p in parts[1:]:
        out = np.char.add(np.char.add(out, ","), p)
    return "\n".join(out.tolist()) + "\n"


class SessionRecorder:
    """One visit. Use ``start_trial`` / ``record`` / ``end_trial`` and finally ``seal``."""

    def __init__(self, sessions_dir: Path, *, station_id: str, patient_code: str,
                 therapist_id: str, calibration: Calibration, geometry: PlateGeometry,
                 clock: Clock, fsync_interval_s: float = 1.0, compress: bool = True,
                 source_kind: str = "unknown") -> None:
        self.session_id = fmt.new_session_id()
        self.path = Path(sessions_dir) / self.session_id
        (self.path / fmt.TRIALS_DIR).mkdir(parents=True)
        atomicio.write_text(self.path / fmt.LOCK_FILE, f"{os.getpid()}\n")
        self.calibration, self.geometry, self.clock = calibration, geometry, clock
        self.fsync_interval_ns = round(fsync_interval_s * 1e9)
        self.compress = compress
        self.meta: dict[str, Any] = {
            "format_version": fmt.FORMAT_VERSION, "session_id": self.session_id,
            "station_id": station_id, "patient_code": patient_code,
            "therapist_id": therapist_id, "software_version": __version__,
            "source": source_kind, "started_utc": utc_now(), "ended_utc": None,
            "interrupted": False, "calibration": calibration.to_json(),
            "plate": {"span_ml_m": geometry.span_ml_m, "span_ap_m": geometry.span_ap_m,
                      "foot_spacing_m": geometry.foot_spacing_m}, "trials": [],
        }
        self._write_meta()
        self.trial: dict[str, Any] | None = None
        self._files: dict[str, _SampleFile] = {}
        self._t0_ns = 0
        self._last_sync_ns = 0
        self.level = calibration.board_level    # wobble-board levelling rotation

    # ------------------------------------------------------------------ metadata
    def _write_meta(self) -> None:
        atomicio.write_json(self.path / fmt.SESSION_JSON, self.meta)

    def _trial_dir(self) -> Path:
        assert self.trial is not None
        return self.path / fmt.TRIALS_DIR / self.trial["dir"]

    def _write_trial(self) -> None:
        assert self.trial is not None
        body = {k: v for k, v in self.trial.items() if k != "dir"}
        atomicio.write_json(self._trial_dir() / fmt.TRIAL_JSON, body)

    # ------------------------------------------------------------------ trials
    def start_trial(self, name: str, drill: str, *, conditions: dict[str, str] | None = None,
                    parameters: dict[str, Any] | None = None, sample_rate_hz: float = 80.0,
                    with_imu: bool = False) -> None:
        if self.trial is not None:
            self.end_trial()
        index = len(self.meta["trials"]) + 1
        dirname = fmt.trial_dirname(index, name)
        self._t0_ns = self.clock.monotonic_ns()
        self.trial = {"format_version": fmt.FORMAT_VERSION, "trial_id": index, "dir": dirname,
                      "name": name, "drill": drill, "conditions": conditions or {},
                      "parameters": parameters or {}, "sample_rate_hz": sample_rate_hz,
                      "started_utc": utc_now(), "t0_ns": self._t0_ns, "events": [],
                      "scores": {}, "complete": False}
        (self.path / fmt.TRIALS_DIR / dirname).mkdir()
        self._write_trial()
        self.meta["trials"].append(dirname)
        self._write_meta()
        kinds = ["raw", "cop"] + (["imu", "tilt"] if with_imu else [])
        self._files = {k: _SampleFile(self._trial_dir() / f"{k}.csv", k, self._t0_ns)
                       for k in kinds}
        self._last_sync_ns = self._t0_ns

    def record(self, cells: np.ndarray, imu: np.ndarray | None = None) -> PlateSamples:
        """Append ring records (see acquisition.ring) to the current trial; returns the plate
        samples computed from them so a caller need not compute them twice."""
        assert self.trial is not None, "start_trial first"
        samples = plate_samples(cells["t_ns"], cells["counts"], self.calibration, self.geometry,
                                cells["missing"])
        t = (cells["t_ns"] - self._t0_ns) / 1e9
        c = cells["counts"]
        self._files["raw"].append(_rows(
            [t, c[:, 0], c[:, 1], c[:, 2], c[:, 3], cells["missing"]],
            ["%.6f", "%d", "%d", "%d", "%d", "%d"]), len(t))
        self._files["cop"].append(_rows(
            [t, samples.total_force_n, samples.cop_m[:, 0], samples.cop_m[:, 1]],
            ["%.6f", "%.3f", "%.6f", "%.6f"]), len(t))
        if imu is not None and len(imu) and "imu" in self._files:
            ti = (imu["t_ns"] - self._t0_ns) / 1e9
            q, a = imu["quat"].astype(float), imu["accel"].astype(float)
            self._files["imu"].append(_rows(
                [ti, q[:, 0], q[:, 1], q[:, 2], q[:, 3], a[:, 0], a[:, 1], a[:, 2]],
                ["%.6f"] + ["%.7f"] * 4 + ["%.4f"] * 3), len(ti))
            tilt = board_tilt(q, self.level)
            self._files["tilt"].append(_rows([ti, tilt[:, 0], tilt[:, 1]],
                                             ["%.6f", "%.6f", "%.6f"]), len(ti))
        now = self.clock.monotonic_ns()
        if now - self._last_sync_ns >= self.fsync_interval_ns:
            self.sync()
            self._last_sync_ns = now
        return samples

    def event(self, kind: str, t_ns: int | None = None, **details: Any) -> None:
        """Note something that happened (target hit, step-off, pause) at a sample time."""
        assert self.trial is not None
        t = self.clock.monotonic_ns() if t_ns is None else t_ns
        self.trial["events"].append({"t_s": round((t - self._t0_ns) / 1e9, 6), "kind": kind,
                                     **details})
        self._write_trial()

    def sync(self) -> None:
        for f in self._files.values():
            f.sync()

    def end_trial(self, scores: dict[str, Any] | None = None, complete: bool = True) -> None:
        if self.trial is None:
            return
        for f in self._files.values():
            f.close()
        if self.compress:
            for f in self._files.values():
                atomicio.write_bytes(f.path.with_suffix(".csv.gz"),
                                     gzip.compress(f.path.read_bytes(), mtime=0))
                f.path.unlink()
            atomicio.fsync_dir(self._trial_dir())
        self.trial["scores"] = scores or {}
        self.trial["complete"] = complete
        self.trial["samples"] = self._files["raw"].rows
        self._write_trial()
        self.trial = None
        self._files = {}

    def abort(self, reason: str) -> Path:
        """Something went wrong mid-visit: keep everything recorded, flag it, seal it."""
        if self.trial is not None:
            self.trial["abort_reason"] = reason
            self.end_trial(self.trial.get("scores"), complete=False)
        self.meta["interrupted"] = True
        return self.seal()

    def release(self) -> None:
        """Close the sample files without sealing; a later recovery seals the session."""
        for f in self._files.values():
            f.close()

    def seal(self) -> Path:
        """End the visit: close the trial, write the manifest (the completion marker)."""
        self.end_trial()
        self.meta["ended_utc"] = utc_now()
        self._write_meta()
        write_manifest(self.path)
        (self.path / fmt.LOCK_FILE).unlink(missing_ok=True)
        atomicio.fsync_dir(self.path)
        return self.path


def write_manifest(session_dir: Path) -> dict[str, Any]:
    """SHA-256 and size of every file of the session, written atomically, last."""
    files = {}
    for p in sorted(session_dir.rglob("*")):
        rel = p.relative_to(session_dir).as_posix()
        if p.is_file() and rel not in (fmt.MANIFEST_JSON, fmt.LOCK_FILE) and \
                not p.name.startswith("."):
            files[rel] = {"sha256": fmt.sha256_file(p), "size": p.stat().st_size}
    manifest = {"format_version": fmt.FORMAT_VERSION, "session_id": session_dir.name,
                "files": files}
    atomicio.write_json(session_dir / fmt.MANIFEST_JSON, manifest)
    return manifest
