"""Helpers for the analysis tests: synthetic sway and hand-built station session folders
(format 1.0 as specified for the recorder). Imported by the other test_analysis_* modules."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np

FS = 80.0


def sway(duration_s: float = 30.0, fs: float = FS, seed: int = 0,
         amp_m: float = 0.004) -> np.ndarray:
    """Quiet-stance-like COP (N, 2) [ml, ap] in m: a few incommensurate sinusoids per axis with
    random phases plus a little white noise, about a small forward offset."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(duration_s * fs)) / fs
    freqs = rng.uniform(0.1, 1.5, size=(2, 6))
    amps = rng.uniform(0.2, 1.0, size=(2, 6)) / freqs
    phases = rng.uniform(0, 2 * np.pi, size=(2, 6))
    waves = (amps[..., None] * np.sin(2 * np.pi * freqs[..., None] * t + phases[..., None])).sum(1)
    waves /= np.abs(waves).max(axis=1, keepdims=True)
    cop = amp_m * waves.T * np.array([0.6, 1.0]) + rng.normal(0, amp_m * 0.01, (t.size, 2))
    return cop + np.array([0.002, 0.015])


def cop_csv_text(cop: np.ndarray, fs: float = FS, unloaded: slice | None = None,
                 t0: float = 12.5) -> str:
    """Station cop.csv content; rows in ``unloaded`` have empty COP fields and a tiny force."""
    n = cop.shape[0]
    t = t0 + np.arange(n) / fs
    force = np.full(n, 650.0)
    lines = ["# station cop format_version=1.0", "t_s,total_force_n,cop_ml_m,cop_ap_m"]
    empty = np.zeros(n, dtype=bool)
    if unloaded is not None:
        empty[unloaded] = True
        force[unloaded] = 3.0
    for i in range(n):
        if empty[i]:
            lines.append(f"{t[i]:.4f},{force[i]:.2f},,")
        else:
            lines.append(f"{t[i]:.4f},{force[i]:.2f},{cop[i, 0]:.6f},{cop[i, 1]:.6f}")
    return "\n".join(lines) + "\n"


def make_trial(session: Path, index: int, slug: str, cop: np.ndarray, *, name: str = "",
               drill: str = "quiet_stance", vision: str = "open", surface: str = "firm",
               fs: float = FS, gz: bool = False, unloaded: slice | None = None,
               tilt: np.ndarray | None = None, tail: str = "") -> str:
    """Write trials/<NN>-<slug>/ with trial.json and cop.csv[.gz]; returns the folder name."""
    folder_name = f"{index:02d}-{slug}"
    folder = session / "trials" / folder_name
    folder.mkdir(parents=True)
    meta = {
        "format_version": "1.0", "trial_id": folder_name,
        "name": name or slug.replace("-", " "), "drill": drill,
        "conditions": {"vision": vision, "surface": surface}, "parameters": {},
        "sample_rate_hz": fs, "started_utc": "2025-11-20T10:00:00Z",
        "events": [{"t_s": 0.0, "kind": "start"}], "scores": {}, "complete": True,
    }
    (folder / "trial.json").write_text(json.dumps(meta), encoding="utf-8")
    text = cop_csv_text(cop, fs, unloaded) + tail
    if gz:
        (folder / "cop.csv.gz").write_bytes(gzip.compress(text.encode()))
    else:
        (folder / "cop.csv").write_text(text, encoding="utf-8")
    if tilt is not None:
        t = np.arange(tilt.shape[0]) / 100.0
        rows = "\n".join(f"{a:.4f},{r:.6f},{p:.6f}" for a, (r, p) in zip(t, tilt, strict=True))
        (folder / "tilt.csv").write_text("# station tilt format_version=1.0\n"
                                         f"t_s,roll_rad,pitch_rad\n{rows}\n", encoding="utf-8")
    return folder_name


def make_session(data_dir: Path, session_id: str, trials: list[str] | None = None, *,
                 patient: str = "P-0042", started: str = "2025-11-20T10:00:00Z") -> Path:
    """Create <data_dir>/sessions/<id>/ with session.json; ``trials`` may be filled later."""
    folder = data_dir / "sessions" / session_id
    (folder / "trials").mkdir(parents=True, exist_ok=True)
    write_session_json(folder, trials or [], patient=patient, started=started)
    return folder


def write_session_json(folder: Path, trials: list[str], *, patient: str = "P-0042",
                       started: str = "2025-11-20T10:00:00Z") -> None:
    meta = {
        "format_version": "1.0", "session_id": folder.name, "station_id": "station-01",
        "patient_code": patient, "therapist_id": "T-07", "software_version": "0.1.0",
        "started_utc": started, "ended_utc": started, "interrupted": False,
        "plate": {"span_ml_m": 0.4, "span_ap_m": 0.4, "foot_spacing_m": 0.2},
        "trials": trials,
    }
    (folder / "session.json").write_text(json.dumps(meta), encoding="utf-8")


def standard_session(data_dir: Path, session_id: str, *, seed: int = 0, scale: float = 1.0,
                     started: str = "2025-11-20T10:00:00Z", patient: str = "P-0042") -> Path:
    """Four quiet-stance trials (EO/EC x firm/foam) and one wobble-board trial."""
    folder = make_session(data_dir, session_id, patient=patient, started=started)
    names = []
    specs = [("eyes-open-firm", "open", "firm", 1.0), ("eyes-closed-firm", "closed", "firm", 1.5),
             ("eyes-open-foam", "open", "foam", 1.8), ("eyes-closed-foam", "closed", "foam", 2.6)]
    for i, (slug, vision, surface, k) in enumerate(specs, 1):
        cop = sway(30.0, seed=seed + i, amp_m=0.004 * k * scale)
        names.append(make_trial(folder, i, slug, cop, vision=vision, surface=surface,
                                name=f"quiet stance eyes {vision} {surface}", gz=i % 2 == 0))
    rng = np.random.default_rng(seed)
    n = 3000
    tilt = np.column_stack([np.radians(6) * np.sin(np.linspace(0, 20, n)),
                            np.radians(4) * np.sin(np.linspace(0, 13, n))])
    tilt += rng.normal(0, np.radians(0.3), tilt.shape)
    names.append(make_trial(folder, 5, "wobble-board", sway(30.0, seed=seed + 9, amp_m=0.01),
                            drill="wobble_board", name="wobble board", tilt=tilt))
    write_session_json(folder, names, patient=patient, started=started)
    return folder


def test_sway_helper_is_deterministic() -> None:
    assert np.array_equal(sway(10, seed=3), sway(10, seed=3))
    assert sway(10, fs=100).shape == (1000, 2)
