"""Faults on screen: each shows a plain message saying what to do; a running drill pauses;
an exception in a screen is logged without patient data and the app goes home."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

from station.drills.base import Phase
from station.ui.driver import close_app, open_app
from station.ui.faults import SyncStatus
from station.ui.screens.results import Results


def to_running_drill(app, drv, drill="quiet_stance"):
    drv.tap("start")
    drv.tap("new")
    drv.tap("save")
    app.goto("params", drill=drill)
    drv.tap("go")
    assert drv.until(lambda: app.snapshot.weight_kg is not None, 5.0)
    drv.tap("main")
    assert drv.until(lambda: app.screen.run.drill.phase is Phase.RUNNING, 5.0)


def banner_text(app) -> str:
    shown = app.banner_faults()
    return shown[0].message + app.screen.fault_suffix(shown[0]) if shown else ""


def test_disconnected_cell_pauses_the_drill_and_says_what_to_do(config):
    app, drv = open_app(config)
    try:
        to_running_drill(app, drv)
        app.station.simulation.faults.silent_cells.add(2)
        drv.advance(0.5)
        run = app.screen.run
        assert run.drill.phase is Phase.PAUSED
        assert banner_text(app) == ("Cell 2 (back-left) not answering: check its cable; "
                                    "the drill is paused")
        assert not app.screen.button("main").enabled          # no resume while it lasts
        assert app.screen.button("stop").enabled
        drv.step(render=True)
        app.station.simulation.faults.silent_cells.clear()
        drv.advance(1.0)
        assert not app.faults and app.screen.button("main").enabled
        drv.tap("main")                                       # resume: the trial restarts
        assert run.drill.phase is Phase.COUNTDOWN
        assert app.crashes == 0
    finally:
        close_app(app)


def test_missing_imu_is_reported(config):
    cfg = config.with_changes("simulation", wobble_board=True)
    app, drv = open_app(cfg)
    try:
        assert app.imu_expected and not app.faults
        app.station.acq.sources.imu.connected = False
        drv.advance(1.0)
        assert [f.key for f in app.faults] == ["imu"]
        assert "Wobble-board sensor missing: check its cable" in banner_text(app)
        drv.step(render=True)
    finally:
        close_app(app)


def test_disk_nearly_full_and_full(config):
    free = {"bytes": 500_000_000}
    app, drv = open_app(config, disk_usage=lambda path: SimpleNamespace(free=free["bytes"]))
    try:
        app.flush()
        drv.step()
        assert [(f.key, f.error) for f in app.faults] == [("disk_low", False)]
        assert "Storage almost full (500 MB left)" in banner_text(app)
        free["bytes"] = 50_000_000
        drv.advance(10.5)                         # the next disk check
        app.flush()
        drv.step()
        assert "Storage full (50 MB left): ask IT" in banner_text(app)
        drv.step(render=True)
    finally:
        close_app(app)


class FullDisk:
    """A recorder whose writes fail with ENOSPC, as a full SD card makes them."""

    def __init__(self) -> None:
        self.replies: list = []
        self.full = False

    def send(self, visit, op, t_ns, args):
        if op == "record" and self.full:
            self.replies.append(("error", visit, "OSError", 28, "No space left on device"))

    def poll(self):
        out, self.replies = self.replies, []
        return out

    def flush(self, timeout=10.0):
        return self.poll()

    def close(self, timeout=10.0):
        pass


def test_write_failure_pauses_the_drill(config):
    disk = FullDisk()
    app, drv = open_app(config, recorder=disk)
    try:
        to_running_drill(app, drv)
        disk.full = True
        drv.advance(0.5)
        assert app.screen.run.drill.phase is Phase.PAUSED
        assert banner_text(app) == ("Storage full: recording stopped. Finish the visit and ask "
                                    "IT to free space; the drill is paused")
        drv.step(render=True)
    finally:
        close_app(app)


def test_failed_sync_shows_an_amber_banner(config):
    app, drv = open_app(config, sync_status=lambda: SyncStatus(failed="connection refused"))
    try:
        drv.advance(1.5)
        (f,) = app.faults
        assert not f.error and not f.pauses
        assert banner_text(app) == ("Last sync failed (connection refused): data stays on the "
                                    "station; check the network cable")
        drv.step(render=True)
        assert app.surface.get_at((app.layout.w // 2, app.layout.top_h + 4))[:3] == (245, 166,
                                                                                     35)
        # a tap on the banner folds it away; the home screen shows the failure too
        drv.tap_at(app.layout.w // 2, app.layout.top_h + 10)
        assert app.banner_faults() == [] and app.screen.name == "home"
    finally:
        close_app(app)


def test_default_sync_status_is_unknown(config):
    app, _ = open_app(config)
    try:
        assert app.sync.last_ok_utc is None and not app.sync.failed
    finally:
        close_app(app)


def test_exception_in_a_screen_goes_home_and_logs_no_patient(config, caplog, monkeypatch):
    app, drv = open_app(config)
    try:
        to_running_drill(app, drv)
        code = app.visit.code

        def broken(self, dt, snap):
            raise KeyError(code)                 # an error carrying the patient's code

        monkeypatch.setattr(type(app.screen), "update", broken)
        with caplog.at_level(logging.ERROR):
            drv.step(render=True)
        assert app.screen.name == "home" and app.crashes == 1 and app.visit is None
        assert "Something went wrong on the Drill screen" in banner_text(app)
        logged = "\n".join(r.getMessage() for r in caplog.records)
        assert "KeyError" in logged and code not in logged
        monkeypatch.undo()
        app.flush()
        session = next((app.config.data_dir / "sessions").iterdir())
        from station.session.reader import load_session
        s = load_session(session)
        assert s.sealed and not s.trials[0].meta["complete"]     # stopped and saved
    finally:
        close_app(app)


def test_exception_while_drawing_goes_home(config, monkeypatch):
    app, drv = open_app(config)
    try:
        drv.start_drill("quiet_stance")
        drv.tap("stop")
        assert drv.until(lambda: app.screen.name == "results", 3.0)

        def broken(self, surf):
            raise ZeroDivisionError

        monkeypatch.setattr(Results, "draw_content", broken)
        app.render()
        assert app.screen.name == "home" and app.crashes == 1
        app.render()
    finally:
        close_app(app)


@pytest.mark.parametrize("state", ["stuck", "saturated"])
def test_other_cell_states_have_their_own_advice(state):
    from station.ui.faults import cell_fault

    f = cell_fault(1, state)
    assert f.message.startswith("Cell 1 (front-right)") and f.pauses
    assert ("connector" in f.message) if state == "stuck" else ("take the load off" in f.message)
