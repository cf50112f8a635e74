#!/usr/bin/env python3
"""Export the enclosure models to STL (printed parts) and DXF (plates to cut) with OpenSCAD.

The platform's load-cell span and footprint spacing come from the station's configuration
(the same station.toml the plate model reads), passed to OpenSCAD with -D, so the plate that
is built is the plate the software assumes. Usage, from the source folder:

    python enclosure/export.py                       # defaults, or $STATION_CONFIG / /etc
    python enclosure/export.py --config my.toml --out build/enclosure

Needs OpenSCAD (Debian package `openscad`) on PATH or --openscad.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
try:
    from station import config as config_mod
except ImportError:                      # run from a checkout without installing the package
    sys.path.insert(0, str(HERE.parent))
    from station import config as config_mod


@dataclass(frozen=True)
class Output:
    """One exported file: which model, which part of it, under which name."""

    scad: str
    part: str
    name: str

    @property
    def fmt(self) -> str:
        return Path(self.name).suffix.lstrip(".")


OUTPUTS = (
    Output("platform.scad", "top_dxf", "platform-top.dxf"),
    Output("platform.scad", "base_dxf", "platform-base.dxf"),
    Output("platform.scad", "top", "platform-top.stl"),
    Output("platform.scad", "base", "platform-base.stl"),
    Output("platform.scad", "mount", "platform-cell-mount.stl"),
    Output("platform.scad", "cap", "platform-cell-cap.stl"),
    Output("imu_housing.scad", "base", "imu-housing-base.stl"),
    Output("imu_housing.scad", "lid", "imu-housing-lid.stl"),
    Output("screen_housing.scad", "bezel", "screen-bezel.stl"),
    Output("screen_housing.scad", "back", "screen-back.stl"),
    Output("screen_housing.scad", "stand", "screen-stand.stl"),
)

_ECHO = re.compile(r"^ECHO: (.*)$")


class OpenScadError(RuntimeError):
    """OpenSCAD failed or produced a model that is not a valid solid."""


def plate_defines(config: config_mod.Config) -> dict[str, float]:
    """The platform's configured geometry in the model's units (mm)."""
    p = config.plate
    return {"span_ml": round(p.span_ml_m * 1000, 3), "span_ap": round(p.span_ap_m * 1000, 3),
            "foot_spacing": round(p.foot_spacing_m * 1000, 3)}


def _define(key: str, value: object) -> str:
    text = f'"{value}"' if isinstance(value, str) else f"{value:g}"
    return f"{key}={text}"


def render(scad: Path, out: Path, defines: dict[str, object], *, fn: int | None = None,
           openscad: str = "openscad") -> list[list[object]]:
    """Render ``scad`` to ``out`` (format from its suffix, STL as ASCII) and return the model's
    echo() lines as lists of values. Warnings about invalid solids are errors."""
    cmd = [openscad, "-o", str(out)]
    if out.suffix == ".stl":
        cmd += ["--export-format", "asciistl"]
    for key, value in defines.items():
        cmd += ["-D", _define(key, value)]
    if fn is not None:
        cmd += ["-D", f"$fn={fn}"]
    cmd.append(str(scad))
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    log = proc.stderr + proc.stdout
    bad = [line for line in log.splitlines()
           if line.startswith(("ERROR", "WARNING", "EXPORT-WARNING"))]
    if proc.returncode != 0 or bad or not out.exists():
        raise OpenScadError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{log}")
    return parse_echoes(log)


def parse_echoes(text: str) -> list[list[object]]:
    """OpenSCAD's ``ECHO: "KEY", 1, 2`` lines as lists of values."""
    return [json.loads(f"[{m.group(1)}]") for line in text.splitlines()
            if (m := _ECHO.match(line))]


def model_echoes(scad: Path, defines: dict[str, object] | None = None, *,
                 openscad: str = "openscad") -> dict[str, list[object]]:
    """What a model reports with echo() (its key dimensions), keyed by the first value;
    evaluated without rendering any geometry, so it is quick."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "model.echo"
        render(scad, out, defines or {}, openscad=openscad)
        return {str(e[0]): e[1:] for e in parse_echoes(out.read_text())}


def read_stl_vertices(path: Path) -> list[tuple[float, float, float]]:
    """Every vertex of an ASCII STL (repeated per facet; fine for bounds and clusters)."""
    out = []
    with open(path, encoding="ascii") as fh:
        for line in fh:
            parts = line.split()
            if parts and parts[0] == "vertex":
                out.append((float(parts[1]), float(parts[2]), float(parts[3])))
    if not out:
        raise OpenScadError(f"{path}: no facets (not an ASCII STL, or an empty model)")
    return out


def bounds(points: Iterable[Sequence[float]]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(min xyz, max xyz) of some points."""
    pts = list(points)
    return (tuple(min(p[i] for p in pts) for i in range(3)),
            tuple(max(p[i] for p in pts) for i in range(3)))


def export(config: config_mod.Config, out_dir: Path, *, fn: int = 64,
           only: Sequence[str] | None = None, openscad: str = "openscad",
           jobs: int | None = None) -> list[Path]:
    """Render every output (or those named in ``only``) into ``out_dir``; returns the paths."""
    if shutil.which(openscad) is None:
        raise OpenScadError(f"{openscad} not found: install the Debian package `openscad`")
    out_dir.mkdir(parents=True, exist_ok=True)
    plate = plate_defines(config)
    chosen = [o for o in OUTPUTS if not only or o.name in only or o.scad in only]

    def one(o: Output) -> Path:
        defines: dict[str, object] = {"part": o.part}
        if o.scad == "platform.scad":
            defines.update(plate)
        render(HERE / o.scad, out_dir / o.name, defines, fn=fn, openscad=openscad)
        return out_dir / o.name

    with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
        paths = list(pool.map(one, chosen))
    (out_dir / "parameters.json").write_text(json.dumps(
        {"config": config.source_file, "plate_mm": plate, "fn": fn,
         "files": [p.name for p in paths]}, indent=2) + "\n", encoding="utf-8")
    return paths


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="station.toml (default: $STATION_CONFIG, then "
                    "/etc/station/station.toml, then the built-in defaults)")
    ap.add_argument("--out", type=Path, default=HERE / "build", help="output folder")
    ap.add_argument("--fn", type=int, default=64, help="OpenSCAD $fn: facets per circle")
    ap.add_argument("--only", nargs="*", help="output names or .scad files to export")
    ap.add_argument("--openscad", default="openscad", help="the OpenSCAD executable")
    args = ap.parse_args(argv)
    try:
        cfg = config_mod.load(args.config)
        paths = export(cfg, args.out, fn=args.fn, only=args.only, openscad=args.openscad)
    except (config_mod.ConfigError, OpenScadError) as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 2
    plate = plate_defines(cfg)
    print(f"load-cell span {plate['span_ml']:g} x {plate['span_ap']:g} mm "
          f"(from {cfg.source_file})")
    for p in paths:
        print(p)
    return 0


if __name__ == "__main__":
    sys.exit(main())
