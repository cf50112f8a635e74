"""Stop button, status LED and buzzer on gpiozero's MockFactory, timed by a VirtualScheduler.

Presses are MockPin.drive_low/drive_high; time moves only when the test advances the
scheduler's VirtualClock, so a 1.5 s hold takes no wall time and no test sleeps. Every pin is
a MockPWMPin (the buzzer needs PWM) and each test gets a fresh factory, reset afterwards.
"""

from __future__ import annotations

import itertools
import threading

import pytest
from gpiozero import Device
from gpiozero.pins.mock import MockFactory, MockPWMPin
from gpiozero.tones import Tone

from station.config import Config
from station.drivers.peripherals import (
    EMERGENCY_STOP,
    LED_PATTERNS,
    PAUSE,
    TUNES,
    ButtonEvent,
    Buzzer,
    Peripherals,
    StatusLed,
    StopButton,
    ThreadScheduler,
    VirtualScheduler,
    open_peripherals,
)

BUTTON, LED, BUZZER = 17, 27, 12


@pytest.fixture
def factory():
    f = MockFactory(pin_class=MockPWMPin)
    yield f
    f.reset()


@pytest.fixture
def sched() -> VirtualScheduler:
    return VirtualScheduler()


@pytest.fixture
def button(factory, sched):
    b = StopButton(BUTTON, scheduler=sched, long_press_s=1.5, debounce_s=0.03,
                   pin_factory=factory)
    yield b
    b.close()


def drained(q) -> list[ButtonEvent]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


def press(factory, sched, seconds: float) -> None:
    pin = factory.pin(BUTTON)
    pin.drive_low()
    sched.advance(seconds)
    pin.drive_high()
    sched.advance(0.1)


# ---------------------------------------------------------------- the button
def test_short_press_pauses_on_release(factory, sched, button) -> None:
    seen = []
    button.on_pause = seen.append
    button.on_emergency_stop = lambda e: pytest.fail(f"unexpected {e}")
    factory.pin(BUTTON).drive_low()
    sched.advance(0.2)
    assert button.is_pressed and button.events.empty()   # nothing until released
    factory.pin(BUTTON).drive_high()
    sched.advance(0.1)
    events = drained(button.events)
    assert [e.kind for e in events] == [PAUSE] and seen == events
    assert events[0].held_s == pytest.approx(0.2)
    assert not button.is_pressed


def test_holding_is_an_emergency_stop_while_still_held(factory, sched, button) -> None:
    stops = []
    button.on_emergency_stop = stops.append
    factory.pin(BUTTON).drive_low()
    sched.advance(1.49)
    assert stops == []
    sched.advance(0.02)
    assert [e.kind for e in stops] == [EMERGENCY_STOP]
    assert stops[0].held_s == pytest.approx(1.5)
    sched.advance(3.0)
    factory.pin(BUTTON).drive_high()       # letting go adds nothing
    sched.advance(0.1)
    assert [e.kind for e in drained(button.events)] == [EMERGENCY_STOP]


def test_just_short_of_the_long_press_is_a_pause(factory, sched, button) -> None:
    press(factory, sched, 1.45)
    assert [e.kind for e in drained(button.events)] == [PAUSE]


def test_contact_bounce_gives_one_press(factory, sched, button) -> None:
    pin = factory.pin(BUTTON)
    for _ in range(5):                      # 2 ms bounces when pressed...
        pin.drive_low()
        sched.advance(0.002)
        pin.drive_high()
        sched.advance(0.002)
    pin.drive_low()
    sched.advance(0.3)
    for _ in range(3):                      # ...and when released
        pin.drive_high()
        sched.advance(0.002)
        pin.drive_low()
        sched.advance(0.002)
    pin.drive_high()
    sched.advance(0.2)
    events = drained(button.events)
    assert [e.kind for e in events] == [PAUSE]
    assert events[0].held_s == pytest.approx(0.32, abs=0.02)


def test_a_glitch_shorter_than_debounce_is_ignored(factory, sched, button) -> None:
    press(factory, sched, 0.01)
    sched.advance(5.0)
    assert button.events.empty() and not button.is_pressed


def test_a_button_held_at_start_up_fires_nothing_until_pressed_again(factory, sched) -> None:
    factory.pin(BUTTON).drive_low()         # stuck, or held while the station boots
    b = StopButton(BUTTON, scheduler=sched, pin_factory=factory)
    try:
        sched.advance(5.0)
        factory.pin(BUTTON).drive_high()
        sched.advance(0.1)
        assert b.events.empty()
        press(factory, sched, 0.2)
        assert [e.kind for e in drained(b.events)] == [PAUSE]
    finally:
        b.close()


def test_the_event_queue_keeps_the_newest(factory, sched) -> None:
    b = StopButton(BUTTON, scheduler=sched, pin_factory=factory, queue_len=2)
    try:
        for held in (0.1, 0.2, 0.3):
            press(factory, sched, held)
        assert [round(e.held_s, 1) for e in drained(b.events)] == [0.2, 0.3]
    finally:
        b.close()


def test_close_releases_the_pin_and_cancels_timers(factory, sched) -> None:
    b = StopButton(BUTTON, scheduler=sched, pin_factory=factory)
    factory.pin(BUTTON).drive_low()
    sched.advance(0.1)
    b.close()
    sched.advance(2.0)                      # the pending long-press check does nothing
    assert b.events.empty()
    StopButton(BUTTON, scheduler=sched, pin_factory=factory).close()   # the pin is free


# ---------------------------------------------------------------- LED
@pytest.fixture
def led(factory, sched):
    device = StatusLed(LED, scheduler=sched, pin_factory=factory)
    yield device
    device.close()


def test_steady_states(factory, led, sched) -> None:
    pin = factory.pin(LED)
    assert pin.state == 0
    led.show("ready")
    sched.advance(10.0)
    assert pin.state == 1 and led.state == "ready"
    led.show("off")
    assert pin.state == 0


def test_recording_blinks_once_a_second(factory, led, sched) -> None:
    pin = factory.pin(LED)
    led.show("recording")
    levels = []
    for _ in range(8):
        levels.append(pin.state)
        sched.advance(0.25)
    assert levels == [1, 1, 0, 0, 1, 1, 0, 0]


def test_syncing_double_flash(factory, led, sched) -> None:
    pin = factory.pin(LED)
    led.show("syncing")
    levels = []
    for _ in range(50):                     # 2.5 s in 50 ms steps
        levels.append(int(pin.state))
        sched.advance(0.05)
    rising = [i for i in range(1, 50) if levels[i] and not levels[i - 1]]
    assert levels[0] == 1 and rising == [8, 40, 48]   # 0.4 s apart, pairs every 2 s


def test_a_new_state_cancels_the_old_pattern(factory, led, sched) -> None:
    pin = factory.pin(LED)
    led.show("fault")
    sched.advance(0.3)
    led.show("off")
    for _ in range(10):
        sched.advance(0.1)
        assert pin.state == 0


def test_patterns_stay_below_three_flashes_a_second() -> None:
    for name, steps in LED_PATTERNS.items():
        if len(steps) == 1:
            continue
        starts, t = [], 0.0
        for _ in range(3):
            for lit, seconds in steps:
                if lit:
                    starts.append(t)
                t += seconds
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        assert min(gaps) >= 1 / 3 - 1e-9, name


def test_unknown_state_is_refused(led) -> None:
    with pytest.raises(ValueError, match="known"):
        led.show("disco")


# ---------------------------------------------------------------- buzzer
@pytest.fixture
def buzzer(factory, sched):
    device = Buzzer(BUZZER, scheduler=sched, pin_factory=factory)
    yield device
    device.close()


def test_start_tune_rises_then_falls_silent(factory, buzzer, sched) -> None:
    pin = factory.pin(BUZZER)
    buzzer.play("start")
    assert pin.frequency == pytest.approx(Tone("C6").frequency) and pin.state == 0.5
    sched.advance(0.13)
    assert pin.frequency is None            # the rest
    sched.advance(0.05)
    assert pin.frequency == pytest.approx(Tone("G6").frequency)
    sched.advance(0.2)
    assert pin.frequency is None and buzzer.playing is None


def test_a_new_tune_interrupts_the_old_one(factory, buzzer, sched) -> None:
    pin = factory.pin(BUZZER)
    buzzer.play("fault")
    sched.advance(0.05)
    buzzer.play("emergency")
    assert pin.frequency == pytest.approx(1760.0) and buzzer.playing == "emergency"
    sched.advance(0.69)
    assert pin.frequency == pytest.approx(1760.0)
    sched.advance(0.02)
    assert pin.frequency is None


def test_every_tune_fits_the_buzzer(buzzer, sched) -> None:
    for name in TUNES:
        buzzer.play(name)
        sched.advance(5.0)
        assert buzzer.playing is None
    with pytest.raises(ValueError, match="known"):
        buzzer.play("fanfare")


def test_a_tune_out_of_range_is_refused_and_the_pin_released(factory, sched) -> None:
    with pytest.raises(ValueError, match="outside"):
        Buzzer(BUZZER, scheduler=sched, pin_factory=factory, tunes={"low": (("C2", 0.1),)})
    Buzzer(BUZZER, scheduler=sched, pin_factory=factory).close()


# ---------------------------------------------------------------- the engine's view
def enabled_config() -> Config:
    return Config().with_changes("peripherals", enabled=True, long_press_s=2.0)


def test_emergency_stop_beeps_at_once_and_reaches_the_engine(factory, sched) -> None:
    with open_peripherals(enabled_config(), pin_factory=factory, scheduler=sched) as p:
        stops, pauses = [], []
        p.on_emergency_stop, p.on_pause = stops.append, pauses.append
        p.show("recording")
        factory.pin(BUTTON).drive_low()
        sched.advance(2.0)
        assert [e.kind for e in stops] == [EMERGENCY_STOP] and pauses == []
        assert p.buzzer is not None and p.buzzer.playing == "emergency"
        assert factory.pin(BUZZER).frequency == pytest.approx(1760.0)
        assert [e.kind for e in drained(p.events)] == [EMERGENCY_STOP]
        factory.pin(BUTTON).drive_high()
        sched.advance(1.0)
        press(factory, sched, 0.2)
        assert [e.kind for e in pauses] == [PAUSE] and p.events.get_nowait().kind == PAUSE
    assert factory.pin(LED).state == 0      # closed: LED off, pins released
    open_peripherals(enabled_config(), pin_factory=factory, scheduler=sched).close()


def test_not_fitted_peripherals_do_nothing() -> None:
    p = open_peripherals(Config())
    p.show("fault")
    p.beep("start")
    assert p.events.empty() and p.button is None
    p.close()
    p.close()


def test_a_failed_open_releases_what_it_opened(factory, sched) -> None:
    config = Config().with_changes("peripherals", enabled=True, buzzer_gpio=LED)  # clash
    with pytest.raises(Exception, match=r"(?i)in use|already"):
        open_peripherals(config, pin_factory=factory, scheduler=sched)
    Peripherals(button=StopButton(BUTTON, scheduler=sched, pin_factory=factory),
                led=StatusLed(LED, scheduler=sched, pin_factory=factory)).close()


@pytest.fixture
def global_mock_factory():
    """GPIOZERO_PIN_FACTORY=mock (conftest) as gpiozero resolves it, restored afterwards."""
    saved = Device.pin_factory
    Device.pin_factory = MockFactory(pin_class=MockPWMPin)
    yield Device.pin_factory
    Device.pin_factory.reset()
    Device.pin_factory = saved


def test_default_pin_factory_is_gpiozeros(global_mock_factory, sched) -> None:
    with open_peripherals(enabled_config(), scheduler=sched) as p:
        p.show("ready")
        assert global_mock_factory.pin(LED).state == 1


# ---------------------------------------------------------------- the real scheduler
def test_thread_scheduler_runs_in_order_and_honours_cancel() -> None:
    sched = ThreadScheduler()
    ran: list[str] = []
    done = threading.Event()
    try:
        sched.call_later(0.002, lambda: ran.append("b"))
        sched.call_later(0.0, lambda: ran.append("a"))
        sched.call_later(0.001, lambda: ran.append("x")).cancel()
        sched.call_later(0.001, lambda: 1 / 0)       # logged, the thread carries on
        sched.call_later(0.003, done.set)
        assert done.wait(5.0)
    finally:
        sched.close()
    assert ran == ["a", "b"]
