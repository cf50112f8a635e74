"""The OpenSCAD enclosure: it renders, and the plate is built at the configured span.

The export runs once per module with a non-default span (so a number hard-coded in a model
would show), at a low $fn to stay fast. The load-cell positions are read back from what
OpenSCAD produced: the four rendered mounts (STL) and the bolt holes in the cut base (DXF).
"""

from __future__ import annotations

import importlib.util
import json
import math
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from station import config as config_mod

ROOT = Path(__file__).resolve().parents[1]
ENCLOSURE = ROOT / "enclosure"
OPENSCAD = shutil.which("openscad")
FN = 8
SPAN_ML_M, SPAN_AP_M, FOOT_SPACING_M = 0.46, 0.34, 0.22

pytestmark = pytest.mark.skipif(
    OPENSCAD is None, reason="OpenSCAD is needed to render the models (Debian package `openscad`)")


def _load_export():
    spec = importlib.util.spec_from_file_location("enclosure_export", ENCLOSURE / "export.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module          # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


export = _load_export()


@pytest.fixture(scope="module")
def station_toml(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("cfg") / "station.toml"
    path.write_text(f"[plate]\nspan_ml_m = {SPAN_ML_M}\nspan_ap_m = {SPAN_AP_M}\n"
                    f"foot_spacing_m = {FOOT_SPACING_M}\n")
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory, station_toml) -> Path:
    out = tmp_path_factory.mktemp("enclosure")
    assert export.main(["--config", str(station_toml), "--out", str(out), "--fn", str(FN)]) == 0
    return out


def size(points) -> tuple[float, float, float]:
    lo, hi = export.bounds(points)
    return tuple(round(h - lo_, 3) for lo_, h in zip(lo, hi, strict=True))


def centre(points) -> tuple[float, float]:
    lo, hi = export.bounds(points)
    return ((lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2)


def by_quadrant(points) -> dict[str, list]:
    """Points grouped by corner, named like the cells (front = +y, right = +x)."""
    groups: dict[str, list] = defaultdict(list)
    for p in points:
        groups[("front" if p[1] > 0 else "back") + "-" + ("right" if p[0] > 0 else "left")]\
            .append(p)
    return groups


def dxf_loops(path: Path) -> list[list[tuple[float, float]]]:
    """The closed outlines of an OpenSCAD DXF (LINE entities chained end to start)."""
    lines = path.read_text().splitlines()
    pairs = list(zip(lines[::2], lines[1::2], strict=False))
    segments, current = [], None
    for code, value in pairs:
        code, value = code.strip(), value.strip()
        if code == "0":
            current = {} if value == "LINE" else None
            if current is not None:
                segments.append(current)
        elif current is not None and code in ("10", "20", "11", "21"):
            current[code] = float(value)
    key = lambda x, y: (round(x, 3), round(y, 3))  # noqa: E731
    nxt = {key(s["10"], s["20"]): key(s["11"], s["21"]) for s in segments}
    loops, seen = [], set()
    for start in nxt:
        if start in seen:
            continue
        loop, p = [], start
        while p not in seen:
            seen.add(p)
            loop.append(p)
            p = nxt[p]
        loops.append(loop)
    return loops


def test_model_numbers_come_from_the_station_configuration(station_toml):
    assert export.plate_defines(config_mod.Config()) == {
        "span_ml": 400.0, "span_ap": 400.0, "foot_spacing": 200.0}
    assert export.plate_defines(config_mod.load(station_toml)) == {
        "span_ml": SPAN_ML_M * 1000, "span_ap": SPAN_AP_M * 1000,
        "foot_spacing": FOOT_SPACING_M * 1000}


def test_export_writes_every_stl_and_dxf(exported):
    params = json.loads((exported / "parameters.json").read_text())
    assert params["plate_mm"] == {"span_ml": 460.0, "span_ap": 340.0, "foot_spacing": 220.0}
    for o in export.OUTPUTS:
        text = (exported / o.name).read_text()
        if o.fmt == "stl":
            assert text.startswith("solid") and "facet normal" in text, o.name
        else:
            assert "ENTITIES" in text and "LINE" in text, o.name


def test_rendered_load_cell_mounts_are_at_the_configured_span(tmp_path, station_toml):
    cfg = config_mod.load(station_toml)
    stl = tmp_path / "mounts.stl"
    echoes = export.render(ENCLOSURE / "platform.scad", stl,
                           {"part": "mounts", **export.plate_defines(cfg)}, fn=FN)
    mounts = {name: centre(pts) for name, pts in
              by_quadrant(export.read_stl_vertices(stl)).items()}
    assert len(mounts) == 4
    fl, fr, bl, br = (mounts[n] for n in ("front-left", "front-right", "back-left", "back-right"))
    # centre to centre, as the plate model uses it
    assert fr[0] - fl[0] == pytest.approx(cfg.plate.span_ml_m * 1000, abs=1e-3)
    assert br[0] - bl[0] == pytest.approx(cfg.plate.span_ml_m * 1000, abs=1e-3)
    assert fl[1] - bl[1] == pytest.approx(cfg.plate.span_ap_m * 1000, abs=1e-3)
    assert fr[1] - br[1] == pytest.approx(cfg.plate.span_ap_m * 1000, abs=1e-3)
    assert sum(x for x, _ in mounts.values()) == pytest.approx(0, abs=1e-3)   # centred
    # the model's own report names the cells as the station does (design.md numbering)
    cells = [e[1:] for e in echoes if e[0] == "LOAD_CELL"]
    assert [c[:2] for c in cells] == [[0, "front-left"], [1, "front-right"],
                                      [2, "back-left"], [3, "back-right"]]
    for _, name, x, y in cells:
        assert (x, y) == pytest.approx(mounts[name], abs=1e-3)


def test_cut_base_has_the_mount_bolts_around_each_load_cell(exported):
    loops = dxf_loops(exported / "platform-base.dxf")
    loops.sort(key=lambda loop: -size([(x, y, 0) for x, y in loop])[0])
    outline, holes = loops[0], loops[1:]
    assert size([(x, y, 0) for x, y in outline])[:2] == (460 + 120, 340 + 120)
    assert len(holes) == 16
    hole_centres = [centre([(x, y, 0) for x, y in h]) for h in holes]
    for name, group in by_quadrant(hole_centres).items():
        assert len(group) == 4, name
        cx = sum(p[0] for p in group) / 4
        cy = sum(p[1] for p in group) / 4
        sx = 1 if name.endswith("right") else -1
        sy = 1 if name.startswith("front") else -1
        assert (cx, cy) == pytest.approx((sx * 230, sy * 170), abs=1e-3)


def test_top_plate_size_thickness_and_outline(exported):
    top = export.read_stl_vertices(exported / "platform-top.stl")
    assert size(top) == (580.0, 460.0, 18.0)          # span + 60 mm each side, 18 mm ply
    assert centre(top) == pytest.approx((0, 0), abs=1e-3)
    outline = dxf_loops(exported / "platform-top.dxf")
    assert len(outline) == 1
    assert size([(x, y, 0) for x, y in outline[0]])[:2] == (580.0, 460.0)


def test_printed_parts_have_their_designed_sizes(exported):
    """Each part's rendered bounding box equals the outer size the model reports."""
    cases = [("imu_housing.scad", "imu-housing-base.stl", "IMU_BASE"),
             ("imu_housing.scad", "imu-housing-lid.stl", "IMU_LID"),
             ("screen_housing.scad", "screen-bezel.stl", "BEZEL"),
             ("screen_housing.scad", "screen-back.stl", "BACK")]
    for scad, stl, key in cases:
        reported = export.model_echoes(ENCLOSURE / scad)
        rendered = size(export.read_stl_vertices(exported / stl))
        assert rendered == pytest.approx(reported[key], abs=1e-3), key
    # the screen fits: window < glass < bezel
    screen = export.model_echoes(ENCLOSURE / "screen_housing.scad")
    assert screen["WINDOW"][0] < screen["GLASS"][0] < screen["BEZEL"][0]
    assert screen["WINDOW"][1] < screen["GLASS"][1] < screen["BEZEL"][1]


def test_stand_stands_on_its_foot(exported):
    pts = export.read_stl_vertices(exported / "screen-stand.stl")
    lo, hi = export.bounds(pts)
    assert lo[2] == pytest.approx(0) and hi[2] > 100
    assert size(pts)[0] == pytest.approx(220)
    assert math.isclose(lo[1], -80, abs_tol=1e-3) and math.isclose(hi[1], 80, abs_tol=1e-3)
