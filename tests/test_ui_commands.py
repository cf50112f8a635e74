"""`station run` and `station screenshot`, the calibration wizard and the audio cues."""

from __future__ import annotations

import argparse
import json

import numpy as np
import pygame
import pytest

from station.ui import commands
from station.ui.driver import close_app, open_app


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="station")
    sub = p.add_subparsers(dest="command", required=True)
    commands.add_parsers(sub)
    return p


def test_add_parsers_registers_run_and_screenshot():
    p = parser()
    args = p.parse_args(["screenshot", "home", "--out", "x.png"])
    assert args.func is commands.cmd_screenshot and args.size == "800x480"
    args = p.parse_args(["run", "--window", "--simulate"])
    assert args.func is commands.cmd_run and args.fps is None and args.simulate
    # the CLI's shared options may come in as parents: no clash
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config")
    common.add_argument("--data-dir")
    common.add_argument("-v", "--verbose", action="store_true")
    q = argparse.ArgumentParser(prog="station")
    commands.add_parsers(q.add_subparsers(dest="command"), parents=[common])
    assert q.parse_args(["run", "--config", "a.toml"]).config == "a.toml"


def test_screenshot_writes_an_800x480_png(tmp_path, monkeypatch):
    monkeypatch.delenv("STATION_CONFIG", raising=False)
    out = tmp_path / "home.png"
    args = parser().parse_args(["screenshot", "home", "--out", str(out)])
    assert args.func(args) == 0
    img = pygame.image.load(str(out))
    assert img.get_size() == (800, 480)


def test_run_starts_the_kiosk_and_stops_cleanly(tmp_path, monkeypatch):
    from station.ui.app import App

    frames = {"n": 0}
    step = App.step

    def counting_step(self, events, dt):
        step(self, events, dt)
        frames["n"] += 1
        if frames["n"] >= 20:
            self.running = False

    monkeypatch.setattr(App, "step", counting_step)
    cfg = tmp_path / "station.toml"
    cfg.write_text(f'[station]\ndata_dir = "{tmp_path / "data"}"\nsource = "simulated"\n'
                   "acquisition_process = false\n")
    args = parser().parse_args(["run", "--config", str(cfg), "--window", "--fps", "200"])
    assert args.func(args) == 0 and frames["n"] == 20
    assert json.loads((tmp_path / "data" / "ui" / "settings.json").read_text())["pin"]


def test_calibration_wizard_tares_and_calibrates_each_cell(config):
    app, drv = open_app(config, pin="2468")
    try:
        sim = app.station.simulation
        app.unlock()
        app.goto("calibrate")
        drv.tap("tare")
        drv.tap("next")                                   # the plate is clear
        assert drv.until(lambda: app.screen.state == "done", 20.0)
        drv.tap("next")
        assert app.screen.name == "settings"
        app.goto("calibrate")
        drv.tap("calibrate")                              # 20 kg on five marks
        drv.tap("next")
        for _ in range(5):
            assert drv.until(lambda: app.screen.state in ("place", "remove"), 20.0)
            if app.screen.state == "remove":
                break
            drv.tap("next")
        assert drv.until(lambda: app.screen.state == "remove", 20.0)
        drv.tap("next")
        assert app.screen.state == "done", app.screen.message
        cal = app.station.calibration
        assert cal.method == "per-cell"
        np.testing.assert_allclose(cal.newtons_per_count, sim.cells.newtons_per_count,
                                   rtol=0.01)
        app.flush()
        saved = json.loads(app.config.calibration_path.read_text())
        assert saved["method"] == "per-cell"
    finally:
        close_app(app)


def test_tare_refuses_a_loaded_plate_unless_told(config):
    app, drv = open_app(config, pin="2468")
    try:
        app.station.calibration = app.station.calibration.with_tare(
            app.station.calibration.offsets_counts)
        app.unlock()
        app.goto("calibrate")
        drv.tap("tare")
        app.station.command("step_on")                    # somebody is on it after all
        drv.tap("next")
        assert drv.until(lambda: app.screen.state in ("warn_load", "error"), 20.0)
    finally:
        close_app(app)


@pytest.mark.parametrize("sound", [True, False])
def test_cues_follow_the_drill(config, sound):
    app, drv = open_app(config)
    try:
        app.audio.enabled = sound
        drv.start_drill("quiet_stance")
        drv.advance(4.0)
        assert app.audio.played[:2] == ["countdown", "start"]
        assert app.audio.ok                               # the dummy driver takes the sound
        app.audio.feedback_on = True
        app.audio.tone({"freq_hz": 523.0, "pan": -0.5, "volume": 0.5})
        app.audio.tone(None)
    finally:
        close_app(app)


def test_run_shows_why_when_the_sensors_do_not_answer(tmp_path, monkeypatch):
    import station.runtime
    from station.errors import SensorError

    def no_plate(*a, **kw):
        raise SensorError("no load-cell frame within 20 s of start")

    monkeypatch.setattr(station.runtime, "Station", no_plate)
    shown = []
    monkeypatch.setattr(commands, "_message", lambda surface, text: shown.append(text))
    monkeypatch.setattr(pygame.event, "get", lambda: [pygame.event.Event(pygame.QUIT)])
    args = parser().parse_args(["run", "--window", "--data-dir", str(tmp_path)])
    assert args.func(args) == 0
    assert shown[-1].startswith("The plate is not answering (no load-cell frame")
