"""HX711s simulated at the pin level: clock edges in, DOUT levels out, on an injected clock.

Each ``SimHx711`` is a small state machine (the idea of gpiozero's MCP3008 test double): it
converts on its own oscillator, shifts a bit out on every PD_SCK rising edge, counts the pulses
that choose the next channel/gain, powers down when PD_SCK stays high over 60 us and wakes reset
to A/128 after the settling time. ``SimHx711Bank`` wires several of them to GPIO numbers and is
a ``GpioBackend``: the real driver runs on it unchanged, and every pin call advances the clock by
a modelled cost, so the PD_SCK high phase the chips see is the one the driver measures.

Behaviour the datasheet leaves open is modelled pessimistically, to be checked on a bench with a
logic analyser: an unread word is replaced by the next conversion after DOUT goes high for 75 us
(measured in olkal/HX711_ADC#81); a conversion that completes while a word is being shifted out
restarts the shift with the new word, tearing the read in progress (``collision="restart"``),
or is lost (``"hold"``); pulses while DOUT is high and no word is pending are ignored.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from station.clock import Clock, VirtualClock
from station.drivers.gpio import GpioError
from station.sensors.base import HX711_MAX, HX711_MIN

PD_NS = 60_000            # PD_SCK high longer than this powers the chip down
UPDATE_NS = 75_000        # DOUT high before an unread word is replaced
SETTLE_NS = {10: 400_000_000, 80: 50_000_000}
_INF = 1 << 62
_GAINS = {25: "A128", 26: "B32", 27: "A64"}

Analog = int | float | Callable[[int], int | float]


class SimHx711:
    """One HX711. ``value`` is the channel-A input in A/128 counts: a number or f(t_ns).

    The PD_SCK line is the bank's: ``pulse`` is a rising edge, ``power_cycle`` a falling edge
    after more than 60 us high, and ``level`` is told when the line would power the chip down.
    """

    def __init__(self, clock: Clock, *, rate_hz: int = 80, osc_ppm: float = 0.0,
                 value: Analog = 0, channel_b: Analog = 0, phase_ns: int = 0,
                 collision: str = "restart", keep_log: bool = False) -> None:
        if rate_hz not in SETTLE_NS:
            raise ValueError("rate_hz must be 10 or 80")
        if collision not in ("restart", "hold"):
            raise ValueError("collision must be 'restart' or 'hold'")
        self._clock = clock
        self.rate_hz = rate_hz
        self.value: Analog = value
        self.channel_b: Analog = channel_b
        self.collision = collision
        self.saturated = 0             # +1 / -1 forces the positive / negative clip code
        self.drift_counts_per_s = 0.0
        self._drift_t0 = 0
        self._connected = True
        self._float = 1
        self._next_conv = _INF
        self.on_change: Callable[[], None] = lambda: None   # the bank's cache invalidation
        self.set_oscillator(osc_ppm)
        # Counters a test or benchmark reads.
        self.conversions = self.overwritten = self.collisions = self.lost = 0
        self.ignored_pulses = self.protocol_errors = self.power_downs = self.missed_edges = 0
        self.produced: list[int] | None = [] if keep_log else None   # every conversion
        self.shifted: list[int] | None = [] if keep_log else None    # every word sent whole
        self._power_on(clock.monotonic_ns() + phase_ns)

    # ------------------------------------------------------------------ faults and knobs
    def set_oscillator(self, ppm: float) -> None:
        """Run the internal oscillator ``ppm`` fast (+) or slow (-) from the nominal rate."""
        self._catch_up()
        self.osc_ppm = ppm
        self.period_ns = round(1e9 / self.rate_hz / (1.0 + ppm * 1e-6))
        self.on_change()

    def saturate(self, sign: int = 1) -> None:
        """Drive the input past the rail: +1 gives 0x7FFFFF, -1 gives 0x800000, 0 stops."""
        self._catch_up()
        self.saturated = (sign > 0) - (sign < 0)

    def drift(self, counts_per_s: float) -> None:
        """Add a slow offset drift (temperature, creep) from now on."""
        self._catch_up()
        self._drift_t0 = self._clock.monotonic_ns()
        self.drift_counts_per_s = counts_per_s

    def disconnect(self, dout: int = 1) -> None:
        """Chip gone (wire off, no power): DOUT floats to ``dout``, 1 with the pull-up (never
        ready), 0 for a line shorted to GND (always "ready", every bit 0)."""
        self._catch_up()
        self._connected = False
        self._fast = -1
        self._float = dout
        self._pulses, self._dout, self._next_conv = -1, 1, _INF
        self.on_change()

    def reconnect(self) -> None:
        """Wire back on: the chip powers up and settles before its first word."""
        self._connected = True
        self._power_on(self._clock.monotonic_ns())
        self.on_change()

    def glitch(self, kind: str = "hang") -> None:
        """``hang``: stop converting until a power-down reset (latch-up after a spike).
        ``missed_edge``: miss one PD_SCK rising edge of the next word (ringing, slow edge)."""
        self._catch_up()
        if kind == "hang":
            self._pulses, self._dout, self._next_conv = -1, 1, _INF
        elif kind == "missed_edge":
            self._miss_edge = True
            self._fast = -1
        else:
            raise ValueError(f"unknown glitch {kind!r}")
        self.on_change()

    # ------------------------------------------------------------------ pin side
    def level(self, t: int, pd_at: int = _INF) -> int:
        """DOUT at time t (1 = high = not ready); ``pd_at``: when the held-high PD_SCK line
        powers the chip down."""
        if not self._connected:
            return self._float
        if t >= self._next_conv:
            self._run_until(min(t, pd_at))
        if t > pd_at:
            return 1
        if self._pulses == 0 and self._next_conv - t <= UPDATE_NS:
            return 1        # the short high before an unread word is replaced
        return self._dout

    def next_change(self, t: int) -> int:
        """Earliest time after ``t`` at which DOUT may change without a clock edge."""
        nxt = self._next_conv - UPDATE_NS if self._pulses == 0 else self._next_conv
        return nxt if nxt > t else t + 1

    def pulse(self, t: int) -> int:
        """PD_SCK rising edge at t; returns DOUT right after it."""
        p = self._pulses
        if 0 <= p < self._fast and t < self._next_conv:    # mid-word, nothing unusual
            p += 1
            self._pulses = p
            self._dout = bit = (self._word >> (24 - p)) & 1
            return bit
        return self._pulse(t)

    def _pulse(self, t: int) -> int:
        if t >= self._next_conv:
            self._run_until(t)
        p = self._pulses
        if p < 0 or not self._connected:
            self.ignored_pulses += 1
            return self._dout if self._connected else self._float
        if self._miss_edge and p < 24:
            self._miss_edge = False
            self._fast = 23
            self.missed_edges += 1
            return self.level(t)
        p += 1
        self._pulses = p
        if p <= 24:
            self._dout = (self._word >> (24 - p)) & 1
            if p == 24 and self.shifted is not None:
                self.shifted.append(_signed(self._word))
        elif p == 25:
            self._dout = 1
        elif p == 28:
            self.protocol_errors += 1
        return self._dout

    def power_cycle(self, t_down: int, t_up: int) -> None:
        """PD_SCK held high powered the chip down at ``t_down``; back low at ``t_up``."""
        self._run_until(t_down)
        self.power_downs += 1
        if self._connected:
            self._power_on(t_up)       # reset to A/128, settle, then convert

    # ------------------------------------------------------------------ conversion
    def _catch_up(self) -> None:
        """Conversions due by now happen before a knob changes (the chip evolves lazily)."""
        self._run_until(self._clock.monotonic_ns())

    def _power_on(self, t: int) -> None:
        self._gain = "A128"
        self._pulses, self._dout = -1, 1
        self._miss_edge = False
        self._fast = 23 if self._connected else -1     # pulses below this take the fast path
        # The settling time runs on the chip's own oscillator like its conversions do.
        settle = round(SETTLE_NS[self.rate_hz] * self.period_ns * self.rate_hz / 1e9)
        self._next_conv = t + settle if self._connected else _INF

    def _run_until(self, t: int) -> None:
        while self._next_conv <= t:
            self._convert(self._next_conv)
            self._next_conv += self.period_ns

    def _convert(self, tc: int) -> None:
        self.conversions += 1
        p = self._pulses
        if p >= 25:
            self._gain = _GAINS.get(p, "A128")
        value = self._sample(tc)
        if self.produced is not None:
            self.produced.append(value)
        if 0 < p < 25:                # a word is being shifted out right now
            self.collisions += 1
            if self.collision == "hold":
                self.lost += 1
                return
            # "restart": the new word restarts the shift; the read in progress is torn.
        elif p == 0:
            self.overwritten += 1
        self._word = value & 0xFFFFFF
        self._pulses, self._dout = 0, 0

    def _sample(self, tc: int) -> int:
        if self.saturated:
            return HX711_MAX if self.saturated > 0 else HX711_MIN
        src = self.channel_b if self._gain == "B32" else self.value
        v = src(tc) if callable(src) else src
        if self.drift_counts_per_s:
            v += self.drift_counts_per_s * (tc - self._drift_t0) / 1e9
        if self._gain == "A64":
            v = v / 2
        if not isinstance(v, int):
            v = round(v)
        return HX711_MAX if v > HX711_MAX else HX711_MIN if v < HX711_MIN else v


def _signed(word: int) -> int:
    return word - 0x1000000 if word & 0x800000 else word


class _Line:
    """One PD_SCK line: the chips on it and since when it has been high (None: low)."""

    __slots__ = ("bits", "chips", "pulsers", "saved_until", "since")

    def __init__(self) -> None:
        self.chips: list[SimHx711] = []
        self.pulsers: list[tuple[Callable[[int], int], int]] = []
        self.bits = 0                  # the group-read bits of these chips
        self.since: int | None = None
        self.saved_until = -1          # cache validity before this line went high


class SimHx711Bank:
    """Several simulated HX711s wired to GPIO numbers, usable as the driver's ``GpioBackend``.

    Default wiring is the station's: one PD_SCK for all chips, one DOUT each. Pass ``sck_pins``
    to give each chip its own clock (the only wiring a one-chip-per-object driver can use).
    Each pin call advances ``clock`` by ``write_ns`` / ``read_ns``; ``stall_next_high`` adds a
    delay right after the next PD_SCK rising edge, as a preemption there would.
    """

    def __init__(self, clock: Clock, *, n: int = 4, rate_hz: int = 80,
                 osc_ppm: Sequence[float] = (), phase_ns: Sequence[int] = (),
                 sck_pin: int = 5, dout_pins: Sequence[int] = (6, 13, 19, 26),
                 sck_pins: Sequence[int] | None = None, write_ns: int = 1_000,
                 read_ns: int = 1_500, collision: str = "restart", keep_log: bool = False) -> None:
        self.clock = clock
        self.chips = [SimHx711(clock, rate_hz=rate_hz,
                               osc_ppm=osc_ppm[i] if i < len(osc_ppm) else 0.0,
                               phase_ns=phase_ns[i] if i < len(phase_ns) else 0,
                               collision=collision, keep_log=keep_log) for i in range(n)]
        self.dout_pins = tuple(dout_pins[:n])
        self.sck_pins = tuple(sck_pins) if sck_pins is not None else (sck_pin,) * n
        self._lines: dict[int, _Line] = {}
        for chip, pin in zip(self.chips, self.sck_pins, strict=True):
            self._lines.setdefault(pin, _Line()).chips.append(chip)
        self._by_dout = dict(zip(self.dout_pins, self.chips, strict=True))
        self._line_of = {chip: self._lines[pin] for chip, pin in
                         zip(self.chips, self.sck_pins, strict=True)}
        self.write_ns, self.read_ns = write_ns, read_ns
        self._sim_clock = clock if isinstance(clock, VirtualClock) else None   # the fast path
        for chip in self.chips:
            chip.on_change = self._invalidate
        self.writes = self.group_reads = self.pin_reads = 0
        self._outputs: dict[int, _Line] = {}
        self._group: list[SimHx711 | None] = []
        self._members: list[tuple[int, SimHx711, _Line]] = []
        self._unwired = 0
        self._stall_ns = 0
        self._closed = False
        self._mask = 0
        self._mask_valid_until = -1      # the cached group level holds until then
        self._wire()

    # ------------------------------------------------------------------ GpioBackend
    def claim_output(self, pin: int, level: int = 0) -> None:
        self._check_open()
        self._outputs[pin] = self._lines.get(pin) or _Line()
        self.write(pin, level)

    def claim_group_input(self, pins: Sequence[int], pull_up: bool = True) -> None:
        self._check_open()
        self._group = [self._by_dout.get(p) for p in pins]   # unwired pins read high
        self._wire()

    def write(self, pin: int, level: int) -> None:
        line = self._outputs.get(pin)
        if line is None:
            self._check_open()
            raise GpioError(f"GPIO {pin} was not claimed as an output")
        self.writes += 1
        sc = self._sim_clock
        t = sc.now_ns if sc else self.clock.monotonic_ns()
        since = line.since
        cost = self.write_ns
        if level:
            if since is None and line.chips:   # a rising edge: every chip shifts a bit
                line.since = t
                mask = self._mask & ~line.bits
                for pulse, bit in line.pulsers:
                    if pulse(t):
                        mask |= bit
                self._mask = mask
                # Chips only change on their own later than before, but the line may now
                # power them down: hold the cache to that until the falling edge.
                line.saved_until = until = self._mask_valid_until
                if t + PD_NS < until:
                    self._mask_valid_until = t + PD_NS + 1
                if self._stall_ns:
                    cost, self._stall_ns = cost + self._stall_ns, 0
        elif since is not None:              # a falling edge: only a power-down matters
            line.since = None
            if t - since > PD_NS:
                for chip in line.chips:
                    chip.power_cycle(since + PD_NS, t)
                self._mask_valid_until = -1
            elif self._mask_valid_until == since + PD_NS + 1:
                self._mask_valid_until = line.saved_until
        if sc:
            sc.now_ns = t + cost
        else:
            self.clock.sleep_until(t + cost)

    def read_group(self) -> int:
        self.group_reads += 1
        sc = self._sim_clock
        t = sc.now_ns if sc else self.clock.monotonic_ns()
        if t >= self._mask_valid_until:
            mask, until = self._unwired, _INF
            for bit, chip, line in self._members:
                since = line.since
                if since is None:
                    if chip.level(t, _INF):
                        mask |= bit
                else:
                    if chip.level(t, since + PD_NS):
                        mask |= bit
                    until = min(until, since + PD_NS + 1)
                until = min(until, chip.next_change(t))
            self._mask, self._mask_valid_until = mask, until
        if sc:
            sc.now_ns = t + self.read_ns
        else:
            self.clock.sleep_until(t + self.read_ns)
        return self._mask

    def close(self) -> None:
        self._closed = True
        self._outputs.clear()

    # ------------------------------------------------------------------ extras
    def read_pin(self, pin: int) -> int:
        """One DOUT line (what a one-line-per-call library such as RPi.GPIO does)."""
        self.pin_reads += 1
        t = self.clock.monotonic_ns()
        chip = self._by_dout.get(pin)
        level = 1 if chip is None else chip.level(t, self._pd_at(chip))
        self.clock.sleep_until(t + self.read_ns)
        return level

    def catch_up(self) -> None:
        """Run every chip up to now. Chips evolve lazily, when a pin call touches them: call
        this before reading their counters if some were left untouched for a while."""
        t = self.clock.monotonic_ns()
        for chip in self.chips:
            chip.level(t, self._pd_at(chip))

    @property
    def pin_calls(self) -> int:
        return self.writes + self.group_reads + self.pin_reads

    def stall_next_high(self, extra_ns: int) -> None:
        """Hold the next PD_SCK high phase ``extra_ns`` longer (a preemption after the write)."""
        self._stall_ns = extra_ns

    def feed(self, counts: Callable[[int], Sequence[int]]) -> None:
        """Feed every chip from one function of time giving all cells' counts (a virtual plate)."""
        cache: list = [None, ()]

        def cell(i: int) -> Callable[[int], int]:
            def value(t: int) -> int:
                if cache[0] != t:
                    cache[0], cache[1] = t, counts(t)
                return int(cache[1][i])
            return value

        for i, chip in enumerate(self.chips):
            chip.value = cell(i)

    # ------------------------------------------------------------------ internals
    def _wire(self) -> None:
        """Per clock line: each chip's rising-edge handler and its bit in the group read."""
        bit = {chip: 1 << i for i, chip in enumerate(self._group) if chip}
        self._members = [(b, chip, self._line_of[chip]) for chip, b in bit.items()]
        self._unwired = sum(1 << i for i, chip in enumerate(self._group) if chip is None)
        for line in self._lines.values():
            line.pulsers = [(chip.pulse, bit.get(chip, 0)) for chip in line.chips]
            line.bits = sum(bit.get(chip, 0) for chip in line.chips)
        self._mask_valid_until = -1

    def _invalidate(self) -> None:
        self._mask_valid_until = -1

    def _pd_at(self, chip: SimHx711) -> int:
        since = self._line_of[chip].since
        return _INF if since is None else since + PD_NS

    def _check_open(self) -> None:
        if self._closed:
            raise GpioError("simulated GPIO backend is closed")
