"""Four HX711s on one PD_SCK line, one DOUT each, read in one clock train (design.md).

One train of 25 pulses shifts out all four 24-bit words at once and selects channel A, gain 128
for the next conversion. Per pulse the driver makes three pin calls (SCK high, SCK low, one group
read of the four DOUT lines) and times the high phase with the injected clock: a frame whose
high phase may have exceeded 50 us is discarded, because past 60 us the chips power down in the
middle of the word. Everything a cell can do wrong ends in ``LoadCellFrame.missing`` plus a
readable fault in ``faults``; nothing waits forever.

The chips run on their own oscillators, so their conversions drift in phase. The driver learns
each chip's conversion time and period from the DOUT edges it polls, sleeps until the next one is
due, and when a chip's next conversion would land inside the clock train it waits for that
conversion first: a word replaced while it is being shifted out would come back torn.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from station.clock import Clock, SystemClock
from station.config import Config
from station.drivers.gpio import GpioBackend
from station.errors import SensorError
from station.sensors.base import CELL_NAMES, LoadCellFrame

log = logging.getLogger(__name__)

PULSES = 25                 # 24 data bits + 1 pulse selecting channel A, gain 128
MAX_HIGH_NS = 50_000        # datasheet maximum PD_SCK high time; power-down starts past 60 us
RESET_HIGH_NS = 200_000     # comfortably past 60 us: power-down, then back low = reset
UPDATE_NS = 75_000          # DOUT goes high this long before an unread word is replaced
SETTLE_NS = {10: 400_000_000, 80: 50_000_000}
CLIP_CODES = (0x7FFFFF, 0x800000)
_LEARNED = 4                # period samples before predictions are trusted
_TOL = 0.0025               # relative period uncertainty once learned
_NEVER = 1 << 62


class Hx711Error(SensorError):
    """The HX711 bank misbehaves."""


class Hx711NotFoundError(Hx711Error):
    """No HX711 answered after a reset (no power, no wiring, or wrong GPIOs)."""


class Hx711CellError(Hx711Error):
    """One or more cells are faulty; ``faults`` holds one ``CellFault`` per cell."""

    def __init__(self, faults: Sequence[CellFault]) -> None:
        super().__init__("; ".join(f.message for f in faults))
        self.faults = tuple(faults)


@dataclass(frozen=True)
class CellFault:
    """A persistent problem of one cell, worded for the technician."""

    cell: int
    kind: str          # "not_ready" (no word for ready_timeout_s) or "stuck_low"
    since_ns: int
    message: str


@dataclass
class Hx711Stats:
    """Counters since open. ``frames`` counts clock trains (discarded ones too), per-cell lists
    count valid ``words``, ``missing`` frames, ``clipped`` words and ``protocol_errors`` (DOUT
    low after the 25th pulse); ``worst_high_ns`` is the longest PD_SCK high phase measured."""

    frames: int = 0
    words: list[int] = field(default_factory=list)
    missing: list[int] = field(default_factory=list)
    clipped: list[int] = field(default_factory=list)
    protocol_errors: list[int] = field(default_factory=list)
    timing_discards: int = 0
    worst_high_ns: int = 0
    resets: int = 0
    polls: int = 0
    collision_waits: int = 0


class Hx711BankSource:
    """``LoadCellSource`` over an HX711 bank on any ``GpioBackend`` (lgpio or the simulator).

    Per-cell status: ``clipped`` (clip flags of the last frame; counts are kept), ``faults``
    (cell -> CellFault, cleared when the cell delivers again), ``check()`` raises
    ``Hx711CellError`` while any fault stands, ``stats`` counts everything. A cell silent for
    ``ready_timeout_s`` becomes a fault and the bank is reset (PD_SCK high > 60 us), again with
    a backoff of 1 s doubling to 60 s while it stays silent; a frame lost to the timing check
    three times running also resets. ``read`` returns None only when no cell delivered in time.
    """

    def __init__(self, backend: GpioBackend, *, sck_pin: int, dout_pins: Sequence[int],
                 sample_rate_hz: int = 80, ready_timeout_s: float = 0.25,
                 clock: Clock | None = None, poll_s: float = 200e-6,
                 max_high_ns: int = MAX_HIGH_NS, cell_names: Sequence[str] = CELL_NAMES,
                 reset_after_failures: int = 3) -> None:
        if sample_rate_hz not in SETTLE_NS:
            raise ValueError("sample_rate_hz must be 10 or 80 (the HX711 RATE pin)")
        self.sample_rate_hz: float = float(sample_rate_hz)
        self._backend = backend
        self._clock = clock or SystemClock()
        self._sck = sck_pin
        self.dout_pins = tuple(dout_pins)
        self.cell_names = tuple(cell_names)
        n = self._n = len(self.dout_pins)
        if not 1 <= n <= 8:
            raise ValueError("an HX711 bank has 1 to 8 DOUT lines")
        self._full = (1 << n) - 1
        self._nominal_ns = round(1e9 / sample_rate_hz)
        self._settle_ns = SETTLE_NS[sample_rate_hz]
        self._ready_timeout_ns = max(round(ready_timeout_s * 1e9), 2 * self._nominal_ns)
        self._poll_ns = round(poll_s * 1e9)
        self._max_high_ns = max_high_ns
        self._reset_after = reset_after_failures
        self.stats = Hx711Stats(words=[0] * n, missing=[0] * n, clipped=[0] * n,
                                protocol_errors=[0] * n)
        self.clipped: tuple[bool, ...] = (False,) * n
        self.faults: dict[int, CellFault] = {}
        self._buf = [0] * PULSES
        # Per-chip timing model: last conversion c +- u, learned period (nper samples) and its
        # uncertainty per period, last precise conversion time (the next period sample).
        self._c = [-1] * n
        self._u = [0] * n
        self._per = [self._nominal_ns] * n
        self._nper = [0] * n
        self._tol_ns = [self._nominal_ns // 5] * n
        self._cm = [-1] * n
        self._ready = 0             # chips seen converting since the last train
        self._prev_high = self._full  # DOUT levels at the previous poll, and its time
        self._prev_t0 = 0
        self._stale = 0             # cells whose serial state is unknown until the next reset
        self._silent = 0            # cells with a "not_ready" fault: no longer waited for
        self._silence_check = 0     # no cell can time out before this
        self._last_good = [self._clock.monotonic_ns()] * n
        self._stuck = [0] * n
        self._train_ns = 200_000
        self._late_ns = 0           # how late a sleep wakes, learned (a Pi 4: ~70-100 us)
        self._expect_by = 0
        self._fail_streak = 0
        self._next_reset_ok = 0
        self._backoff_ns = 1_000_000_000
        self._last_frame_ns = -1
        self._interval_ns = float(self._nominal_ns)
        self._closed = False
        try:
            backend.claim_output(sck_pin, 0)
            backend.claim_group_input(self.dout_pins)
        except BaseException:
            backend.close()
            raise

    # ------------------------------------------------------------------ public
    def start(self, timeout_s: float | None = None) -> None:
        """Reset the chips (aligns their conversions) and wait for the first frame."""
        self.reset()
        if timeout_s is None:
            timeout_s = (self._settle_ns * 1.5 + self._ready_timeout_ns) / 1e9
        if self.read(timeout_s) is None:
            pins = ", ".join(map(str, self.dout_pins))
            raise Hx711NotFoundError(
                f"no HX711 answered on DOUT GPIO {pins} within {timeout_s:.2f} s of a reset: "
                f"check the modules' power (VCC, GND) and the PD_SCK wire on GPIO {self._sck}")

    def read(self, timeout_s: float) -> LoadCellFrame | None:
        """Next conversion of the bank, or None if no cell delivered within ``timeout_s``."""
        deadline = self._clock.monotonic_ns() + round(timeout_s * 1e9)
        mask = self._wait(deadline)
        if mask < 0:
            return None
        return self._shift(mask)

    def reset(self) -> None:
        """Power the chips down (PD_SCK high > 60 us) and back up: A/128, aligned phases."""
        clock, write = self._clock, self._backend.write
        write(self._sck, 1)
        clock.sleep_until(clock.monotonic_ns() + RESET_HIGH_NS)
        write(self._sck, 0)
        wake = clock.monotonic_ns()
        self.stats.resets += 1
        self._stale = self._ready = 0
        self._prev_high, self._prev_t0 = self._full, wake
        for i in range(self._n):
            settle = self._settle_ns * self._per[i] // self._nominal_ns
            learned = self._nper[i] >= _LEARNED
            self._cm[i] = -1
            self._u[i] = settle // 100 if learned else settle // 5
            self._c[i] = wake + settle - self._per[i]       # a virtual "previous" conversion
            self._last_good[i] = max(self._last_good[i], wake + settle)
        self._expect_by = wake + self._settle_ns * 13 // 10 + self._nominal_ns

    def check(self) -> None:
        """Raise ``Hx711CellError`` naming every faulty cell; return quietly if none."""
        if self.faults:
            raise Hx711CellError([self.faults[i] for i in sorted(self.faults)])

    @property
    def measured_rate_hz(self) -> float:
        """Frame rate actually delivered (the slowest chip's; HX711 oscillators vary)."""
        return 1e9 / self._interval_ns

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._backend.close()

    def __enter__(self) -> Hx711BankSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ waiting
    def _wait(self, deadline: int) -> int:
        """Mask of the chips to clock out now, or -1 at ``deadline``.

        Each poll is one group read; a chip's conversion is seen as its DOUT going from high
        (at the previous poll, ``_prev_t0``) to low (now): that window feeds its timing model.
        """
        now, read, sleep_until = (self._clock.monotonic_ns, self._backend.read_group,
                                  self._clock.sleep_until)
        poll_ns, full = self._poll_ns, self._full
        polls = 0
        planned = -1
        try:
            while True:
                t0 = now()
                m = read()
                t1 = now()
                polls += 1
                fresh = self._prev_high & ~m & ~self._stale & full
                if fresh:
                    for i in range(self._n):
                        if (fresh >> i) & 1:
                            self._observe(i, self._prev_t0, t1)
                self._ready = ready = (self._ready | fresh) & ~m
                self._prev_high, self._prev_t0 = m, t0
                want = full & ~self._stale & ~self._silent
                if ready and ((ready & want) == want or t1 >= self._expect_by):
                    target = self._collision_guard(t1)
                    if target <= t1:
                        return ready
                    self.stats.collision_waits += 1
                else:
                    if t1 >= self._silence_check:
                        self._check_silence(t1)
                    # Plan a long sleep when the picture changed; otherwise keep polling.
                    target = self._next_poll(t1) if ready != planned else t1 + poll_ns
                    planned = ready
                target = min(target, deadline)
                sleep_until(target - self._late_ns)
                woke = now()
                if woke >= deadline:
                    return -1
                if target - poll_ns > t1:     # learn how late a long sleep wakes (0 in sim)
                    self._late_ns += (woke - (target - self._late_ns) - self._late_ns) >> 3
        finally:
            self.stats.polls += polls

    def _observe(self, i: int, lo: int, hi: int) -> None:
        """Chip i converted within (lo, hi]: refine its conversion time and learn its period."""
        mid, half, per = (lo + hi) // 2, (hi - lo) // 2, self._per[i]
        c, u = mid, half
        if self._c[i] >= 0 and self._nper[i] >= _LEARNED:
            pred, pu = self._next_conv(i, mid - per // 2)
            a, b = max(lo, pred - pu), min(hi, pred + pu)
            if a <= b:                        # measurement and prediction agree: intersect
                c, u = (a + b) // 2, (b - a) // 2
        self._c[i], self._u[i] = c, u
        if half > 2 * self._poll_ns:          # too coarse to learn the period from
            return
        if self._cm[i] >= 0:
            k = max(1, (mid - self._cm[i] + per // 2) // per)
            sample = (mid - self._cm[i]) // k
            if abs(sample - self._nominal_ns) * 20 < self._nominal_ns * 7:   # within 35 %
                n = self._nper[i] = self._nper[i] + 1
                per += (sample - per) // min(n, 32)
                self._per[i] = per
                self._tol_ns[i] = round(per * _TOL) if n >= _LEARNED else per // 5
        self._cm[i] = mid

    def _next_conv(self, i: int, after: int) -> tuple[int, int]:
        """Chip i's first predicted conversion not before ``after``, and its uncertainty."""
        c, per = self._c[i], self._per[i]
        k = max(1, (after - c + per - 1) // per)
        return c + k * per, self._u[i] + k * self._tol_ns[i]

    def _collision_guard(self, t: int) -> int:
        """Time to wait until no live chip can convert during the next clock train.

        Ready or not, every chip on the shared clock sees the pulses: a chip converting
        mid-train hands out a torn word, or takes part of a word and falls out of step.
        """
        end = t + self._train_ns * 5 // 4 + 20_000
        hold = t
        skip = self._stale | self._silent
        for i in range(self._n):
            if (skip >> i) & 1 or self._c[i] < 0 or self._nper[i] < _LEARNED:
                continue
            # Once a window has passed, ``after`` moves beyond it and the next one is checked.
            nxt, spread = self._next_conv(i, t - self._u[i] - UPDATE_NS)
            if nxt - spread - UPDATE_NS < end and nxt + spread > t:
                hold = max(hold, nxt + spread + UPDATE_NS + 1)
        return hold

    def _next_poll(self, t: int) -> int:
        """Sleep until shortly before the earliest conversion still awaited."""
        skip = self._ready | self._stale | self._silent
        wake = self._expect_by if self._expect_by > t else t + 4 * self._poll_ns
        for i in range(self._n):
            if (skip >> i) & 1:
                continue
            if self._c[i] < 0:
                return t + self._poll_ns
            nxt, spread = self._next_conv(i, t)
            wake = min(wake, nxt - spread)
        return max(wake, t + self._poll_ns)

    # ------------------------------------------------------------------ clocking
    def _shift(self, ready: int) -> LoadCellFrame:
        """Clock 25 pulses, sample all DOUT lines after each, then decode and check."""
        write, read, now, sck, buf = (self._backend.write, self._backend.read_group,
                                      self._clock.monotonic_ns, self._sck, self._buf)
        worst = 0
        start = now()
        for k in range(PULSES):
            t0 = now()
            write(sck, 1)
            write(sck, 0)
            t1 = now()
            buf[k] = read()          # DOUT after pulse k+1; buf[24] must be all high
            if t1 - t0 > worst:
                worst = t1 - t0
        end = now()
        n, stats = self._n, self.stats
        self._train_ns = max(end - start, self._train_ns - (self._train_ns >> 4))
        stats.frames += 1
        stats.worst_high_ns = max(stats.worst_high_ns, worst)
        tail = buf[PULSES - 1]
        data = int.from_bytes(bytes(buf), "big") >> 8   # byte k: DOUT levels after pulse k+1
        self._ready, self._prev_high, self._prev_t0 = 0, tail, t1
        self._expect_by = end + max(self._per) * (102 if min(self._nper) >= _LEARNED else 135) \
            // 100 + 2 * self._poll_ns + UPDATE_NS
        if worst > self._max_high_ns:
            self._stale |= ~tail & self._full     # still low after 25 pulses: out of step
            stats.timing_discards += 1
            log.warning("PD_SCK stayed high up to %d us (limit %d us): frame discarded; run the "
                        "HX711 reader alone at real-time priority", worst // 1000,
                        self._max_high_ns // 1000)
            self._failed_frame(end)
            if self._stale:
                self._maybe_reset(end)
            return LoadCellFrame((0,) * n, self._full)  # type: ignore[arg-type]
        counts = [0] * n
        clipped = [False] * n
        missing = 0
        for i in range(n):
            if not (tail >> i) & 1:
                # DOUT still low after the 25th pulse: the chip's serial state is out of step
                # (missed edge, short to GND, or it became ready mid-train).
                missing |= 1 << i
                self._stale |= 1 << i
                if (ready >> i) & 1:
                    stats.protocol_errors[i] += 1
                    self._stuck[i] += 1
                    if self._stuck[i] >= 3:
                        self._set_fault(i, "stuck_low", end)
                continue
            if not (ready >> i) & 1:
                missing |= 1 << i
                continue
            self._stuck[i] = 0
            word = _gather(data >> i)
            if word in CLIP_CODES:
                clipped[i] = True
                stats.clipped[i] += 1
            counts[i] = word - 0x1000000 if word & 0x800000 else word
            stats.words[i] += 1
            self._last_good[i] = end
            if i in self.faults:
                self._clear_fault(i)
        for i in range(n):
            if (missing >> i) & 1:
                stats.missing[i] += 1
        self.clipped = tuple(clipped)
        if missing == self._full:
            self._failed_frame(end)
        else:
            self._fail_streak = 0
            if self._last_frame_ns >= 0:
                self._interval_ns += (end - self._last_frame_ns - self._interval_ns) / 32
            self._last_frame_ns = end
            if not missing:
                self._backoff_ns = 1_000_000_000
        if self._stale:
            self._maybe_reset(end)
        return LoadCellFrame(tuple(counts), missing)  # type: ignore[arg-type]

    # ------------------------------------------------------------------ faults
    def _failed_frame(self, t: int) -> None:
        self._fail_streak += 1
        self._last_frame_ns = -1
        if self._fail_streak >= self._reset_after:
            self._maybe_reset(t)

    def _check_silence(self, t: int) -> None:
        """Turn a cell silent for ready_timeout_s into a fault, and try a reset for it."""
        for i in range(self._n):
            if t - self._last_good[i] > self._ready_timeout_ns and not (self._ready >> i) & 1:
                if i not in self.faults:
                    self._set_fault(i, "not_ready", t)
                self._maybe_reset(t)
        # Next look: when a healthy cell could time out; every 10 ms while one is faulty (its
        # reset retries are paced by the backoff, not by this).
        nxt = t + 10_000_000 if self._silent else _NEVER
        for i in range(self._n):
            if not (self._silent >> i) & 1:
                nxt = min(nxt, self._last_good[i] + self._ready_timeout_ns)
        self._silence_check = max(nxt, t + self._poll_ns)

    def _maybe_reset(self, t: int) -> None:
        if t >= self._next_reset_ok:
            self._next_reset_ok = t + self._backoff_ns
            self._backoff_ns = min(self._backoff_ns * 2, 60_000_000_000)
            self._fail_streak = 0
            self.reset()

    def _set_fault(self, i: int, kind: str, t: int) -> None:
        name = self.cell_names[i] if i < len(self.cell_names) else f"cell {i}"
        gpio = self.dout_pins[i]
        if kind == "stuck_low":
            msg = (f"cell {i} ({name}) DOUT stays low after the 25th clock: check GPIO {gpio} "
                   f"for a short to GND and the module's PD_SCK wire")
        else:
            secs = self._ready_timeout_ns / 1e9
            msg = (f"cell {i} ({name}) not ready for {secs:.2f} s: check DOUT wire on "
                   f"GPIO {gpio} and the module's VCC/GND")
        self.faults[i] = CellFault(i, kind, t, msg)
        if kind == "not_ready":
            self._silent |= 1 << i
        log.error("%s", msg)

    def _clear_fault(self, i: int) -> None:
        fault = self.faults.pop(i)
        self._silent &= ~(1 << i)
        log.warning("cell %d (%s) delivers again after: %s", i, self.cell_names[i], fault.kind)


def _gather(x: int) -> int:
    """The 24 bits at positions 0, 8, 16, ... 184 of x, as one word (bit 0 stays bit 0).

    Eight bits spaced 8 apart are collected into one byte by a single multiplication
    (0x0102040810204080 moves bit 8j to bit 56+j without carries); three bytes make a word.
    """
    word = 0
    for g in (16, 8, 0):
        byte = (((x >> (8 * g)) & 0x0101010101010101) * 0x0102040810204080 >> 56) & 0xFF
        word = (word << 8) | byte
    return word


def open_hx711_bank(config: Config, *, backend: GpioBackend | None = None,
                    clock: Clock | None = None) -> Hx711BankSource:
    """Open the bank wired as in ``config`` (lgpio unless a backend is given), reset it and
    wait for a first frame; raises ``Hx711NotFoundError`` if no chip answers."""
    hx = config.hx711
    if backend is None:
        from station.drivers.gpio import LgpioBackend

        backend = LgpioBackend(hx.gpiochip)
    source = Hx711BankSource(backend, sck_pin=hx.pd_sck_gpio, dout_pins=hx.dout_gpio,
                             sample_rate_hz=config.plate.sample_rate_hz,
                             ready_timeout_s=hx.ready_timeout_s, clock=clock)
    try:
        source.start()
    except BaseException:
        source.close()
        raise
    return source
