"""The kiosk driven headless with synthetic touches through a whole visit.

Pick (add) a patient, pick a drill from the registry's cards, shorten it, run it to the end
against the virtual patient on the virtual clock, see the results; then check the pixels
(the cursor is drawn where the COP is), the session on disk and the history.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from station.drills.base import Phase
from station.session.reader import load_session, verify_manifest
from station.ui import theme
from station.ui.driver import close_app, open_app

PIN = "907153"


@pytest.fixture
def ui(config):
    app, drv = open_app(config, pin=PIN)
    yield app, drv
    close_app(app)


def start_quiet_stance(app, drv, code: str | None = None) -> None:
    drv.tap("start")
    assert app.screen.name == "patients"
    if code is None:
        drv.tap("new")
        drv.tap("save")
    else:
        drv.tap(f"patient:{code}")
    assert app.screen.name == "drills" and app.visit is not None
    drv.show_card("drill:quiet_stance")
    drv.tap("drill:quiet_stance")
    assert app.screen.name == "params"
    for _ in range(4):
        drv.tap("minus:duration_s")                 # 30 s -> 10 s, the drill's minimum
    assert app.screen.values["duration_s"] == 10.0
    drv.tap("go")
    assert app.screen.name == "run"
    assert drv.until(lambda: app.snapshot.weight_kg is not None, 5.0)


def test_whole_visit_with_touches(ui):
    app, drv = ui
    assert app.station.calibration.tared_utc            # the virtual technician tared
    start_quiet_stance(app, drv)
    code = app.visit.code
    run = app.screen
    assert run.run.drill.phase is Phase.INSTRUCTIONS

    # before the start the big view shows the live COP cursor where the COP is
    drv.step(render=True)
    cop = app.snapshot.cop_m
    assert cop is not None
    assert app.surface.get_at(run.to_px(*cop))[:3] == theme.CURSOR

    drv.tap("main")
    assert run.run.drill.phase is Phase.COUNTDOWN
    assert drv.until(lambda: run.run.drill.phase is Phase.RUNNING, 5.0)
    drv.advance(2.0)
    drv.step(render=True)
    cop = app.snapshot.cop_m
    # during an assessment the patient sees a fixation dot; the therapist's monitor the COP
    cx, cy = run.view().center
    assert app.surface.get_at((cx + app.layout.px(9), cy))[:3] == theme.TEXT
    assert app.surface.get_at(run.to_px(*cop, run.monitor()))[:3] == theme.CURSOR
    # the frame shows the newest sample in the ring
    assert app.snapshot.last_sample_ns == int(app.station.rings.cells.latest()["t_ns"])

    assert drv.until(lambda: app.screen.name == "results", 120.0, render_every=20)
    res = app.screen
    assert res.run.complete and {"path_length_cm_eyes_open", "romberg_path_length"} <= set(
        res.scores)
    assert res.keys[:2] == ["path_length_cm_eyes_open", "path_length_cm_eyes_closed"]
    drv.step(render=True)
    plot = app.surface.subsurface((app.layout.pad, app.layout.top_h + app.layout.pad,
                                   app.layout.px(330), app.layout.px(300)))
    pixels = {plot.get_at((x, y))[:3] for x in range(0, plot.get_width(), 2)
              for y in range(0, plot.get_height(), 2)}
    assert theme.TRACE_A in pixels or any(
        np.abs(np.subtract(p, theme.TRACE_A)).sum() < 40 for p in pixels)
    assert [r.drill for r in app.history.results(code)] == ["quiet_stance"]

    drv.tap("history")
    assert app.screen.name == "history" and app.screen.results
    drv.step(render=True)
    drv.tap("back")
    assert app.screen.name == "drills"
    drv.tap("end_visit")
    assert app.screen.name == "home" and app.visit is None
    app.flush()

    sessions = list((app.config.data_dir / "sessions").iterdir())
    assert len(sessions) == 1
    s = load_session(sessions[0])
    assert s.sealed and verify_manifest(sessions[0]) == []
    assert s.meta["patient_code"] == code
    trial = s.trials[0].meta
    assert trial["drill"] == "quiet_stance" and trial["complete"]
    kinds = [e["kind"] for e in trial["events"]]
    assert kinds.count("trial_start") == 2 and kinds.count("trial_end") == 2
    assert trial["scores"]["path_length_cm_eyes_open"] == pytest.approx(
        res.scores["path_length_cm_eyes_open"])
    patients = json.loads((app.config.data_dir / "ui" / "patients.json").read_text())
    assert [p["code"] for p in patients["patients"]] == [code]
    assert "name" not in patients["patients"][0]


def test_second_visit_compares_with_the_last_session(ui):
    app, drv = ui
    for _ in range(2):
        start_quiet_stance(app, drv, code=None if not app.patients.items else "P0001")
        drv.tap("main")
        assert drv.until(lambda: app.screen.name == "results", 120.0)
        drv.tap("next")
        drv.tap("end_visit")
    app.goto("patients")
    drv.tap("patient:P0001")
    drv.tap("history")
    assert len(app.screen.results) == 2
    drv.step(render=True)
    # the results of the second visit compared with the first one
    app.flush()
    results = app.history.results("P0001", "quiet_stance")
    assert len({r.session_id for r in results}) == 2
    assert app.history.last("P0001", "quiet_stance",
                            exclude_session=results[-1].session_id) is results[0]


def test_stop_is_one_tap_and_leaves_an_incomplete_trial(ui):
    app, drv = ui
    start_quiet_stance(app, drv)
    drv.tap("main")
    drv.advance(5.0)
    drv.tap("stop")
    assert app.screen.run.drill.done
    assert drv.until(lambda: app.screen.name == "results", 3.0)
    assert not app.screen.run.complete
    drv.step(render=True)
    drv.tap("next")
    drv.tap("end_visit")
    app.flush()
    session = next((app.config.data_dir / "sessions").iterdir())
    trial = load_session(session).trials[0].meta
    assert not trial["complete"] and trial["events"][-1]["kind"] == "stopped"


def test_pause_and_resume_repeat_the_trial(ui):
    app, drv = ui
    start_quiet_stance(app, drv)
    drv.tap("main")
    assert drv.until(lambda: app.screen.run.drill.phase is Phase.RUNNING, 5.0)
    drv.tap("main")                                   # Pause
    assert app.screen.run.drill.phase is Phase.PAUSED
    assert app.screen.button("main").label == "Resume"
    drv.tap("main")                                   # Resume: a countdown, then again
    assert app.screen.run.drill.phase is Phase.COUNTDOWN


def test_every_drill_in_the_registry_gets_a_card_and_runs(ui):
    """Drill modules added by others appear as cards; each one starts and stops cleanly."""
    from station.drills import registry

    app, drv = ui
    drv.tap("start")
    drv.tap("new")
    drv.tap("save")
    names = list(registry.available())
    seen = set()
    for _ in range(len(names)):
        seen |= {b.id[6:] for b in app.screen.buttons if b.id.startswith("drill:")}
        if app.screen.button("page_down") is None:
            break
        drv.tap("page_down")
    assert seen == set(names)
    for name in names:
        app.goto("params", drill=name)
        drv.step(render=True)
        drv.tap("go")
        drv.advance(1.0)
        drv.tap("main")
        drv.advance(3.0, render_every=10)
        if app.screen.name == "run" and app.screen.button("stop").enabled:
            drv.tap("stop")                 # (a drill may end by itself, e.g. no board)
        assert drv.until(lambda: app.screen.name == "results", 3.0), name
        drv.step(render=True)
    assert app.crashes == 0


def test_wobble_board_drill_shows_the_tilt_cursor(config):
    app, drv = open_app(config.with_changes("simulation", wobble_board=True))
    try:
        drv.tap("start")
        drv.tap("new")
        drv.tap("save")
        app.goto("params", drill="wobble_stability")
        drv.tap("go")
        drv.advance(1.0)
        drv.tap("main")
        drv.advance(6.0)
        run = app.screen
        assert run.tilt_mode and run.run.drill.phase is Phase.RUNNING
        drv.step(render=True)
        tilt = run.d.tilt_rad
        assert app.surface.get_at(run.to_px(*tilt))[:3] == theme.CURSOR
    finally:
        close_app(app)


def test_the_physical_button_pauses_resumes_and_stops(ui):
    import pygame

    from station.ui.input import post_button

    app, drv = ui
    start_quiet_stance(app, drv)
    drv.tap("main")
    assert drv.until(lambda: app.screen.run.drill.phase is Phase.RUNNING, 5.0)
    post_button()
    drv.step(pygame.event.get())
    assert app.screen.run.drill.phase is Phase.PAUSED
    post_button()
    drv.step(pygame.event.get())
    assert app.screen.run.drill.phase is Phase.COUNTDOWN
    post_button(long_press=True)
    drv.step(pygame.event.get())
    assert app.screen.run.drill.done


def test_results_show_the_clinics_normal_range(config):
    """Norms come from the clinic (data_dir/norms.json); the results add a Normal column."""
    config.data_dir.mkdir(parents=True, exist_ok=True)
    (config.data_dir / "norms.json").write_text(json.dumps({"quiet_stance": {
        "path_length_cm_eyes_open": {"lo": 5.0, "hi": 25.0, "source": "clinic test table"}}}))
    app, drv = open_app(config)
    try:
        start_quiet_stance(app, drv)
        drv.tap("main")
        assert drv.until(lambda: app.screen.name == "results", 120.0)
        res = app.screen
        assert res.norms["path_length_cm_eyes_open"].source == "clinic test table"
        assert res.norms["path_length_cm_eyes_closed"] is None
        drv.step(render=True)
        assert app.text.truncations == []
    finally:
        close_app(app)
