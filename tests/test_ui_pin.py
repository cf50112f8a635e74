"""The therapist PIN: a salted scrypt hash, lockout, and the screens and exit it guards."""

from __future__ import annotations

import json

import pytest

from station.ui.driver import close_app, open_app
from station.ui.settings import DEFAULT_PIN, MAX_TRIES, PinGuard, UiSettings

PIN = "907153"


def enter(drv, digits: str) -> None:
    for d in digits:
        drv.tap(f"key:{d}")
    drv.tap("key:OK")


def test_fresh_install_stores_the_default_pin_as_a_salted_hash(tmp_path):
    path = tmp_path / "ui" / "settings.json"
    s = UiSettings.load(path)
    raw = path.read_text()
    assert DEFAULT_PIN not in raw and s.default_pin
    data = json.loads(raw)
    assert data["pin"]["n"] >= 2**14 and len(bytes.fromhex(data["pin"]["salt"])) == 16
    assert s.pin.matches(DEFAULT_PIN) and not s.pin.matches("0000")
    other = UiSettings.load(tmp_path / "other.json")
    assert other.pin.salt != s.pin.salt                      # a fresh salt per install


def test_lockout_after_failed_attempts_survives_a_restart(tmp_path):
    path = tmp_path / "settings.json"
    s = UiSettings(pin=None)
    guard = PinGuard(s, lambda: s.save(path))
    guard.set_pin("2468", n=2**10)
    for i in range(MAX_TRIES - 1):
        r = guard.verify("1111", now=float(i))
        assert not r.ok and ("tries left" in r.message or "try left" in r.message)
    r = guard.verify("1111", now=10.0)
    assert not r.ok and r.locked_s == 60.0
    assert not guard.verify("2468", now=20.0).ok              # even the right PIN waits
    again = PinGuard(UiSettings.load(path), lambda: None)     # power cycled
    assert again.locked_for(0.0) == 60.0
    assert again.verify("2468", now=61.0).ok
    with pytest.raises(ValueError):
        guard.set_pin("12a4")


def test_settings_and_exit_need_the_pin(config):
    app, drv = open_app(config, pin=PIN)
    try:
        drv.tap("therapist")
        assert app.screen.name == "pin"
        enter(drv, "1234")
        assert app.screen.name == "pin" and "Wrong PIN" in app.screen.message
        enter(drv, PIN)
        assert app.screen.name == "settings" and app.unlocked
        drv.tap("exit")
        assert app.running and app.screen.button("exit").label == "Tap again to exit"
        drv.advance(5.0)                                      # the confirmation lapses
        assert app.screen.button("exit").label == "Exit kiosk"
        drv.tap("exit")
        drv.tap("exit")
        assert not app.running
    finally:
        close_app(app)


def test_therapist_mode_ends_at_home_and_guards_calibration(config):
    app, drv = open_app(config, pin=PIN)
    try:
        app.goto("calibrate")
        assert app.screen.name == "pin"
        enter(drv, PIN)
        assert app.screen.name == "calibrate"
        drv.tap("back")
        drv.tap("lock")
        assert app.screen.name == "home" and not app.unlocked
        app.goto("settings")
        assert app.screen.name == "pin"
    finally:
        close_app(app)


def test_change_pin_twice_and_names_switch(config):
    app, drv = open_app(config, pin=PIN)
    try:
        app.unlock()
        app.goto("settings")
        drv.tap("open:pin")
        enter(drv, "5555")
        enter(drv, "5556")
        assert "differ" in app.screen.message
        enter(drv, "5555")
        enter(drv, "5555")
        assert app.screen.name == "settings" and not app.settings.default_pin
        assert app.pin.settings.pin.matches("5555")
        drv.tap("toggle:names")
        assert app.settings.show_names
        app.goto("patient_new")
        drv.tap("field:name")
        for k in "ANA":
            drv.tap(f"key:{k}")
        drv.tap("save")
        app.flush()
        stored = json.loads((app.config.data_dir / "ui" / "patients.json").read_text())
        assert stored["patients"][0]["name"] == "Ana"
        assert app.patient_label("P0001") == "P0001 · Ana"
        app.unlock()
        app.goto("settings")
        drv.tap("toggle:names")                                # off: names are erased
        app.flush()
        stored = json.loads((app.config.data_dir / "ui" / "patients.json").read_text())
        assert "name" not in stored["patients"][0]
        saved = json.loads((app.config.data_dir / "ui" / "settings.json").read_text())
        assert saved["show_names"] is False and "5555" not in json.dumps(saved)
    finally:
        close_app(app)


def test_therapist_mode_logs_off_when_left_alone(config):
    app, drv = open_app(config, pin=PIN)
    try:
        app.unlock()
        app.goto("settings")
        assert app.screen.name == "settings"
        app.unlocked_until = app.t + 0.5            # as if 5 minutes had passed untouched
        drv.advance(1.0)
        assert app.screen.name == "home" and not app.unlocked
    finally:
        close_app(app)
