"""Stop button, status LED and buzzer through gpiozero, timed by one injectable scheduler.

Why it is built this way:

* The drill engine sees events (``ButtonEvent`` on a queue, ``on_pause`` and
  ``on_emergency_stop`` callbacks), LED states by name and tunes by name, never gpiozero.
* Every timed behaviour (debounce, the long press, blink patterns, tunes) runs on one
  ``Scheduler``: a single daemon thread on the station (``ThreadScheduler``), and in tests a
  ``VirtualScheduler`` that only moves when the test advances its VirtualClock, so a 1.5 s hold
  takes no wall time and gives the same result every run. gpiozero's ``hold_time``/``when_held``
  and ``LED.blink`` run threads on wall time, so they are not used; nor is ``Button``, whose hold
  thread always starts (and takes up to 0.1 s to stop). The button is a pulled-up
  ``DigitalInputDevice``.
* Debounce is done here, on timestamps, the same on every pin backend (gpiozero's MockPin
  ignores ``bounce_time``): a level counts once it has held for ``debounce_s``.
* A short press pauses or resumes, on release. Holding for ``long_press_s`` is an emergency stop,
  fired while the button is still held, so the beep comes at once and the therapist can let go.
  It ends the drill in software; it is not a safety-rated stop (the station moves nothing).
* gpiozero is imported inside the constructors. ``pin_factory`` is passed straight through, as
  gpiozero devices take it (None: gpiozero's default, lgpio on a Pi 4 or 5).
"""

from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from station.clock import Clock, SystemClock, VirtualClock
from station.errors import StationError

if TYPE_CHECKING:
    from station.config import Config

log = logging.getLogger(__name__)

PAUSE = "pause"
EMERGENCY_STOP = "emergency_stop"

#: (lit, seconds) steps, repeated; a single step is a steady level. Every pattern stays at or
#: below 2.5 flashes per second (photosensitivity guidance: no more than 3 per second).
LED_PATTERNS: dict[str, tuple[tuple[bool, float], ...]] = {
    "off": ((False, 0.0),),
    "ready": ((True, 0.0),),                                        # steady: ready for a drill
    "recording": ((True, 0.5), (False, 0.5)),                       # slow blink
    "syncing": ((True, 0.15), (False, 0.25), (True, 0.15), (False, 1.45)),  # double flash
    "fault": ((True, 0.2), (False, 0.2)),                           # fast blink
}

#: (note, seconds) steps played once; None is a rest. Notes stay within A3..A7, the buzzer's
#: range (mid_tone A5, two octaves), toward the loud region of a small piezo.
TUNES: dict[str, tuple[tuple[str | None, float], ...]] = {
    "start": (("C6", 0.12), (None, 0.05), ("G6", 0.2)),     # rising: the drill begins
    "stop": (("G6", 0.12), (None, 0.05), ("C6", 0.2)),      # falling: the drill ended
    "pause": (("E6", 0.08),),                               # a blip: paused or resumed
    "fault": (("A5", 0.15), (None, 0.1)) * 3,               # three low beeps
    "emergency": (("A6", 0.7),),                            # one long beep: drill stopped
}


# ---------------------------------------------------------------- scheduling
class Timer(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    """Runs callables after a delay, one at a time, in order; ``clock`` is its time base."""

    clock: Clock

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Timer: ...

    def close(self) -> None: ...


@dataclass(eq=False)
class _Entry:
    due_ns: int
    fn: Callable[[], None]
    cancelled: bool = False

    def cancel(self) -> None:
        self.cancelled = True


@dataclass
class _Heap:
    entries: list[tuple[int, int, _Entry]] = field(default_factory=list)
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def push(self, entry: _Entry) -> None:
        heapq.heappush(self.entries, (entry.due_ns, next(self.counter), entry))

    def pop_due(self, now_ns: int) -> _Entry | None:
        if self.entries and self.entries[0][0] <= now_ns:
            return heapq.heappop(self.entries)[2]
        return None


class ThreadScheduler:
    """One daemon thread runs every timed step of the three devices, on the real clock."""

    def __init__(self) -> None:
        self.clock: Clock = SystemClock()
        self._heap = _Heap()
        self._cv = threading.Condition()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="peripherals", daemon=True)
        self._thread.start()

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Timer:
        entry = _Entry(self.clock.monotonic_ns() + round(max(0.0, delay_s) * 1e9), fn)
        with self._cv:
            self._heap.push(entry)
            self._cv.notify()
        return entry

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stopping:
                    now = self.clock.monotonic_ns()
                    entry = self._heap.pop_due(now)
                    if entry is not None:
                        break
                    heap = self._heap.entries
                    self._cv.wait((heap[0][0] - now) / 1e9 if heap else None)
                if self._stopping:
                    return
            if not entry.cancelled:
                try:
                    entry.fn()
                except Exception:   # one faulty callback must not silence the button
                    log.exception("peripheral timer callback failed")

    def close(self, timeout_s: float = 2.0) -> None:
        with self._cv:
            self._stopping = True
            self._cv.notify()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise StationError(f"the peripherals thread did not stop within {timeout_s} s")


class VirtualScheduler:
    """Runs timed steps only when ``advance`` moves its VirtualClock (tests, simulation)."""

    def __init__(self, clock: VirtualClock | None = None) -> None:
        self.clock: VirtualClock = clock or VirtualClock()
        self._heap = _Heap()

    def call_later(self, delay_s: float, fn: Callable[[], None]) -> Timer:
        entry = _Entry(self.clock.monotonic_ns() + round(max(0.0, delay_s) * 1e9), fn)
        self._heap.push(entry)
        return entry

    def advance(self, seconds: float) -> None:
        """Move time forward, running each step when its time comes (steps may add steps)."""
        end = self.clock.monotonic_ns() + round(seconds * 1e9)
        while (entry := self._heap.pop_due(end)) is not None:
            self.clock.sleep_until(entry.due_ns)
            if not entry.cancelled:
                entry.fn()
        self.clock.sleep_until(end)

    def close(self) -> None:
        self._heap.entries.clear()


# ---------------------------------------------------------------- the stop button
@dataclass(frozen=True)
class ButtonEvent:
    """What the button says: ``kind`` is PAUSE or EMERGENCY_STOP."""

    kind: str
    t_ns: int          # when the press began (scheduler clock, monotonic)
    held_s: float      # how long it had been held when the event fired


class StopButton:
    """The stop/pause button (to GND, internal pull-up): short press pauses, long press stops.

    Events go to the ``events`` queue (bounded: the oldest is dropped), to ``on_pause`` /
    ``on_emergency_stop`` and to listeners added with ``add_listener``, in the scheduler's
    thread. A press already under way at start-up is ignored until released.
    """

    def __init__(self, pin: int | str, *, scheduler: Scheduler, long_press_s: float = 1.5,
                 debounce_s: float = 0.03, pin_factory: Any = None,
                 queue_len: int = 32) -> None:
        from gpiozero import DigitalInputDevice

        self.long_press_s = long_press_s
        self.debounce_s = debounce_s
        self.on_pause: Callable[[ButtonEvent], None] | None = None
        self.on_emergency_stop: Callable[[ButtonEvent], None] | None = None
        self.events: queue.Queue[ButtonEvent] = queue.Queue(maxsize=queue_len)
        self._listeners: list[Callable[[ButtonEvent], None]] = []
        self._sched = scheduler
        self._lock = threading.Lock()
        self._device = DigitalInputDevice(pin, pull_up=True, pin_factory=pin_factory)
        now = scheduler.clock.monotonic_ns()
        self._raw = self._stable = bool(self._device.is_active)
        self._raw_at = self._pressed_at = now
        self._fired = self._stable       # held at start-up: wait for a release
        self._settle_timer: Timer | None = None
        self._hold_timer: Timer | None = None
        self._device.when_activated = functools.partial(self._edge, True)
        self._device.when_deactivated = functools.partial(self._edge, False)

    @property
    def is_pressed(self) -> bool:
        """The debounced level."""
        return self._stable

    def add_listener(self, fn: Callable[[ButtonEvent], None]) -> None:
        self._listeners.append(fn)

    def _edge(self, pressed: bool) -> None:
        with self._lock:
            self._raw = pressed
            self._raw_at = self._sched.clock.monotonic_ns()
            if self._settle_timer is not None:
                self._settle_timer.cancel()
            self._settle_timer = self._sched.call_later(self.debounce_s, self._settle)

    def _settle(self) -> None:
        event = None
        with self._lock:
            if self._raw == self._stable:
                return                       # a glitch shorter than debounce_s
            self._stable = self._raw
            if self._stable:
                self._pressed_at, self._fired = self._raw_at, False
                held = (self._sched.clock.monotonic_ns() - self._pressed_at) / 1e9
                self._hold_timer = self._sched.call_later(self.long_press_s - held,
                                                          self._hold_check)
            else:
                if self._hold_timer is not None:
                    self._hold_timer.cancel()
                held = (self._raw_at - self._pressed_at) / 1e9
                if not self._fired:
                    self._fired = True
                    kind = EMERGENCY_STOP if held >= self.long_press_s else PAUSE
                    event = ButtonEvent(kind, self._pressed_at, held)
        if event is not None:
            self._emit(event)

    def _hold_check(self) -> None:
        with self._lock:
            if self._fired or not (self._stable and self._raw):
                return                       # released, or a release is settling
            self._fired = True
            held = (self._sched.clock.monotonic_ns() - self._pressed_at) / 1e9
            event = ButtonEvent(EMERGENCY_STOP, self._pressed_at, held)
        self._emit(event)

    def _emit(self, event: ButtonEvent) -> None:
        while True:
            try:
                self.events.put_nowait(event)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self.events.get_nowait()
        for listener in list(self._listeners):
            listener(event)
        callback = self.on_pause if event.kind == PAUSE else self.on_emergency_stop
        if callback is not None:
            callback(event)

    def close(self) -> None:
        with self._lock:
            for timer in (self._settle_timer, self._hold_timer):
                if timer is not None:
                    timer.cancel()
        self._device.close()


# ---------------------------------------------------------------- LED and buzzer
class StatusLed:
    """The status LED (through 330 ohm to GND) showing one of ``LED_PATTERNS`` by name."""

    def __init__(self, pin: int | str, *, scheduler: Scheduler, pin_factory: Any = None,
                 patterns: dict[str, tuple[tuple[bool, float], ...]] | None = None) -> None:
        from gpiozero import LED

        self._patterns = dict(patterns or LED_PATTERNS)
        for name, steps in self._patterns.items():
            if not steps or (len(steps) > 1 and min(d for _, d in steps) <= 0):
                raise ValueError(f"LED pattern {name!r} needs one steady step or timed steps")
        self._sched = scheduler
        self._lock = threading.Lock()
        self._generation = 0
        self._timer: Timer | None = None
        self._led = LED(pin, pin_factory=pin_factory)
        self.state = "off"

    def show(self, state: str) -> None:
        if state not in self._patterns:
            raise ValueError(f"unknown LED state {state!r} (known: {', '.join(self._patterns)})")
        with self._lock:
            self.state = state
            self._generation += 1
            if self._timer is not None:
                self._timer.cancel()
            self._step(self._generation, self._patterns[state], 0)

    def _step(self, generation: int, steps: tuple[tuple[bool, float], ...], i: int) -> None:
        lit, seconds = steps[i]
        self._led.value = lit
        if len(steps) > 1:
            self._timer = self._sched.call_later(
                seconds, functools.partial(self._next, generation, steps, (i + 1) % len(steps)))

    def _next(self, generation: int, steps: tuple[tuple[bool, float], ...], i: int) -> None:
        with self._lock:
            if generation == self._generation:
                self._step(generation, steps, i)

    def close(self) -> None:
        with self._lock:
            self._generation += 1
            if self._timer is not None:
                self._timer.cancel()
        self._led.off()
        self._led.close()


class Buzzer:
    """The passive buzzer on a PWM pin playing one of ``TUNES`` by name (a new tune interrupts)."""

    def __init__(self, pin: int | str, *, scheduler: Scheduler, pin_factory: Any = None,
                 tunes: dict[str, tuple[tuple[str | None, float], ...]] | None = None) -> None:
        from gpiozero import TonalBuzzer
        from gpiozero.tones import Tone

        self._sched = scheduler
        self._lock = threading.Lock()
        self._generation = 0
        self._timer: Timer | None = None
        self.playing: str | None = None
        self._buzzer = TonalBuzzer(pin, mid_tone=Tone("A5"), octaves=2, pin_factory=pin_factory)
        try:
            self._tunes = {name: tuple((None if note is None else Tone(note), seconds)
                                       for note, seconds in steps)
                           for name, steps in (tunes or TUNES).items()}
            lo, hi = self._buzzer.min_tone, self._buzzer.max_tone
            for name, steps in self._tunes.items():
                for tone, seconds in steps:
                    if seconds <= 0 or (tone is not None and not lo <= tone <= hi):
                        raise ValueError(f"tune {name!r}: {tone} for {seconds} s is outside "
                                         f"{lo}..{hi} or not a positive length")
        except BaseException:
            self._buzzer.close()
            raise

    def play(self, name: str) -> None:
        if name not in self._tunes:
            raise ValueError(f"unknown tune {name!r} (known: {', '.join(self._tunes)})")
        with self._lock:
            self._generation += 1
            if self._timer is not None:
                self._timer.cancel()
            self.playing = name
            self._step(self._generation, self._tunes[name], 0)

    def _step(self, generation: int, steps: tuple[tuple[Any, float], ...], i: int) -> None:
        if i >= len(steps):
            self._buzzer.stop()
            self.playing = None
            return
        tone, seconds = steps[i]
        if tone is None:
            self._buzzer.stop()
        else:
            self._buzzer.play(tone)
        self._timer = self._sched.call_later(
            seconds, functools.partial(self._next, generation, steps, i + 1))

    def _next(self, generation: int, steps: tuple[tuple[Any, float], ...], i: int) -> None:
        with self._lock:
            if generation == self._generation:
                self._step(generation, steps, i)

    def stop(self) -> None:
        with self._lock:
            self._generation += 1
            if self._timer is not None:
                self._timer.cancel()
            self.playing = None
            self._buzzer.stop()

    def close(self) -> None:
        self.stop()
        self._buzzer.close()


# ---------------------------------------------------------------- what the engine holds
class Peripherals:
    """Button, LED and buzzer as the drill engine sees them; any may be absent (not fitted).

    An emergency stop plays the "emergency" tune at once, before the engine hears of it; a
    pause plays the "pause" blip. ``show`` and ``beep`` do nothing for a device not fitted.
    """

    def __init__(self, *, button: StopButton | None = None, led: StatusLed | None = None,
                 buzzer: Buzzer | None = None, scheduler: Scheduler | None = None,
                 owns_scheduler: bool = False) -> None:
        self.button, self.led, self.buzzer = button, led, buzzer
        self.scheduler = scheduler
        self._owns_scheduler = owns_scheduler
        self.on_pause: Callable[[ButtonEvent], None] | None = None
        self.on_emergency_stop: Callable[[ButtonEvent], None] | None = None
        self.events: queue.Queue[ButtonEvent] = button.events if button else queue.Queue()
        if button is not None:
            button.add_listener(self._on_button)
        self._closed = False

    def _on_button(self, event: ButtonEvent) -> None:
        self.beep("emergency" if event.kind == EMERGENCY_STOP else "pause")
        callback = self.on_pause if event.kind == PAUSE else self.on_emergency_stop
        if callback is not None:
            callback(event)

    def show(self, state: str) -> None:
        if self.led is not None:
            self.led.show(state)

    def beep(self, tune: str) -> None:
        if self.buzzer is not None:
            self.buzzer.play(tune)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for device in (self.button, self.led, self.buzzer):
            if device is not None:
                device.close()
        if self._owns_scheduler and self.scheduler is not None:
            self.scheduler.close()

    def __enter__(self) -> Peripherals:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_peripherals(config: Config, *, pin_factory: Any = None,
                     scheduler: Scheduler | None = None) -> Peripherals:
    """The devices [peripherals] describes; with ``enabled = false``, a Peripherals that does
    nothing, so the engine has no special case. Anything opened is closed again on failure."""
    cfg = config.peripherals
    if not cfg.enabled:
        return Peripherals()
    owns = scheduler is None
    sched = scheduler or ThreadScheduler()
    with contextlib.ExitStack() as undo:
        if owns:
            undo.callback(sched.close)
        button = StopButton(cfg.button_gpio, scheduler=sched, long_press_s=cfg.long_press_s,
                            pin_factory=pin_factory)
        undo.callback(button.close)
        led = StatusLed(cfg.led_gpio, scheduler=sched, pin_factory=pin_factory)
        undo.callback(led.close)
        buzzer = Buzzer(cfg.buzzer_gpio, scheduler=sched, pin_factory=pin_factory)
        undo.pop_all()
    return Peripherals(button=button, led=led, buzzer=buzzer, scheduler=sched,
                       owns_scheduler=owns)
