"""The BNO08x source: conversion, fresh-report detection, reconnection, bounded reads.

How it is tested, and why. The unit tests run against ``FakeSensor``, a stand-in for
adafruit_bno08x's sensor object injected through the bus the factory takes, with its reports
scripted. That is where this code's own decisions live (the (i, j, k, real) -> (w, x, y, z)
conversion, telling a fresh report from a repeated one, back-off, staleness, a read that never
waits longer than asked), and it needs neither Blinka nor the library, so the tests run on any
laptop. The fake copies the library behaviours the source relies on, as read in
adafruit_bno08x 1.3.3: properties that process waiting packets and return the stored tuple,
the same object until a new report is parsed; an all-zero placeholder once a report is enabled
and before it first arrives; RuntimeError for a report never enabled.

A simulated bus that answers the driver's packets checks those assumptions against the real
library instead of trusting them: ``test_contract_*`` run BNO08X_I2C and BNO08X_UART over
in-memory SHTP devices (the wire format of the SH-2/SHTP reference manuals). They are skipped
when adafruit-circuitpython-bno08x is not installed; it installs from wheels on x86_64.
"""

from __future__ import annotations

import math
import os
import signal
import struct
import subprocess
import sys
import threading
import time
import types
from collections import deque
from pathlib import Path
from typing import Any

import pytest

from station.clock import VirtualClock
from station.config import Config
from station.drivers.bno08x import (
    GAME_ROTATION_VECTOR,
    LINEAR_ACCELERATION,
    Bno08xBus,
    Bno08xLink,
    Bno08xPoller,
    ProcessBno08x,
    ThreadedBno08x,
    open_bno08x,
    to_frame,
)
from station.errors import ConfigError, SensorTimeout
from station.sensors.base import ImuFrame


class FakePacketError(Exception):
    """Stands for adafruit_bno08x.PacketError: not an OSError nor a RuntimeError."""


class FakeSensor:
    """adafruit_bno08x.BNO08X as far as the station uses it, reports scripted by the test."""

    def __init__(self, world: FakeWorld) -> None:
        self.world = world
        self.enabled: dict[int, int] = {}
        self._readings: dict[int, tuple[float, ...]] = {}

    def enable_feature(self, feature_id: int, report_interval: int = 50000) -> None:
        self.world.check()
        self.enabled[feature_id] = report_interval
        self._readings[feature_id] = (0.0,) * (4 if feature_id == GAME_ROTATION_VECTOR else 3)

    def _process(self) -> None:
        self.world.check()
        while self.world.pending:
            feature, values = self.world.pending.popleft()
            if feature in self.enabled:
                self._readings[feature] = tuple(values)   # a new object per report

    @property
    def game_quaternion(self) -> tuple[float, ...]:
        self._process()
        try:
            return self._readings[GAME_ROTATION_VECTOR]
        except KeyError:
            raise RuntimeError("No game quaternion report found, is it enabled?") from None

    @property
    def linear_acceleration(self) -> tuple[float, ...]:
        self._process()
        try:
            return self._readings[LINEAR_ACCELERATION]
        except KeyError:
            raise RuntimeError("No lin. accel report found, is it enabled?") from None


class FakeWorld:
    """The board and its cable: plugged or not, what it raises, what it reports."""

    def __init__(self) -> None:
        self.plugged = True
        self.fault: BaseException | None = None     # raised once by the next bus access
        self.pending: deque[tuple[int, tuple[float, ...]]] = deque()
        self.opens = self.closes = 0
        self.sensors: list[FakeSensor] = []

    def check(self) -> None:
        if not self.plugged:
            raise OSError(121, "Remote I/O error")
        if self.fault is not None:
            fault, self.fault = self.fault, None
            raise fault

    def open(self) -> Bno08xLink:
        self.opens += 1
        if not self.plugged:
            raise ValueError("No I2C device at address: 0x4a")
        sensor = FakeSensor(self)
        self.sensors.append(sensor)
        return Bno08xLink(sensor, self._closed)

    def _closed(self) -> None:
        self.closes += 1

    def report(self, ijkr: tuple[float, float, float, float],
               accel: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> None:
        self.pending.append((LINEAR_ACCELERATION, accel))
        self.pending.append((GAME_ROTATION_VECTOR, ijkr))

    def bus(self) -> Bno08xBus:
        return Bno08xBus(self.open, "fake BNO08x", (FakePacketError,))


def tilt_ijkr(roll_deg: float) -> tuple[float, float, float, float]:
    """A rotation about y (roll) in the library's (i, j, k, real) order."""
    half = math.radians(roll_deg) / 2
    return (0.0, math.sin(half), 0.0, math.cos(half))


@pytest.fixture
def world() -> FakeWorld:
    return FakeWorld()


@pytest.fixture
def clock() -> VirtualClock:
    return VirtualClock()


@pytest.fixture
def poller(world: FakeWorld, clock: VirtualClock
           ) -> tuple[Bno08xPoller, list[tuple[int, ImuFrame]]]:
    frames: list[tuple[int, ImuFrame]] = []
    p = Bno08xPoller(world.bus(), report_interval_s=0.01, clock=clock,
                     on_frame=lambda t, f: frames.append((t, f)))
    return p, frames


def run(p: Bno08xPoller, clock: VirtualClock, seconds: float) -> None:
    """Step the poller for ``seconds`` of virtual time, sleeping as it asks."""
    end = clock.monotonic_ns() + round(seconds * 1e9)
    while clock.monotonic_ns() < end:
        delay = p.step()
        clock.sleep_until(min(end, clock.monotonic_ns() + round(max(delay, 1e-4) * 1e9)))


# ---------------------------------------------------------------- conversion
def test_to_frame_reorders_to_wxyz_and_passes_acceleration() -> None:
    frame = to_frame((0.1, 0.2, 0.3, math.sqrt(1 - 0.14)), (0.5, -0.25, 9.0))
    assert frame is not None
    assert frame.quat == pytest.approx((math.sqrt(0.86), 0.1, 0.2, 0.3))
    assert frame.accel_m_s2 == (0.5, -0.25, 9.0)


def test_to_frame_normalises_q14_rounding_and_rejects_garbage() -> None:
    frame = to_frame((0.0, 0.0, 0.0, 1.0005), None)
    assert frame is not None and frame.quat == (1.0, 0.0, 0.0, 0.0)
    assert frame.accel_m_s2 == (0.0, 0.0, 0.0)
    assert to_frame((0.0, 0.0, 0.0, 0.0), None) is None
    assert to_frame((1.2, 0.9, 0.0, 0.3), None) is None


# ---------------------------------------------------------------- the poller
def test_enables_both_reports_at_the_configured_interval(poller, world, clock) -> None:
    p, _ = poller
    assert p.step() == 0.0
    assert p.connected and p.status.startswith("ok")
    assert world.sensors[0].enabled == {GAME_ROTATION_VECTOR: 10_000, LINEAR_ACCELERATION: 10_000}


def test_each_fresh_report_is_one_frame_even_with_repeated_values(poller, world, clock) -> None:
    p, frames = poller
    p.step()
    p.step()                              # the all-zero placeholder: no frame, not an error
    assert frames == [] and p.bad_reports == 0
    world.report(tilt_ijkr(5.0), (0.1, 0.0, 0.0))
    p.step()
    p.step()                              # nothing new: the same tuple object comes back
    world.report(tilt_ijkr(5.0), (0.1, 0.0, 0.0))   # a still board: equal values, new report
    clock.advance(0.01)
    p.step()
    assert len(frames) == 2
    (t0, f0), (t1, f1) = frames
    assert t1 - t0 == 10_000_000 and f1 == f0
    w, x, y, z = f0.quat
    assert (w, y) == pytest.approx((math.cos(math.radians(2.5)), math.sin(math.radians(2.5))))
    assert x == z == 0.0
    assert f0.accel_m_s2 == (0.1, 0.0, 0.0)


def test_a_garbled_report_is_counted_and_dropped(poller, world) -> None:
    p, frames = poller
    p.step()
    world.report((0.9, 0.9, 0.9, 0.9))
    p.step()
    assert frames == [] and p.bad_reports == 1 and p.connected


def test_unplug_backs_off_and_replug_reconnects(poller, world, clock) -> None:
    p, frames = poller
    run(p, clock, 0.05)
    world.plugged = False
    delay = p.step()                      # OSError 121 from the bus: lost
    assert not p.connected and p.lost == 1 and world.closes == 1
    assert delay == 0.5 and "lost fake BNO08x" in p.status and "Remote I/O" in p.status
    assert p.step() == pytest.approx(0.5)  # not due yet: no attempt
    assert world.opens == 1
    delays = []
    for _ in range(4):                    # open fails: 1, 2, 4, 4 s
        clock.advance(delays[-1] if delays else 0.5)
        delays.append(p.step())
    assert delays == [1.0, 2.0, 4.0, 4.0] and world.opens == 5
    assert "cannot open" in p.status and "retrying in 4.0 s" in p.status
    world.plugged = True
    clock.advance(4.0)
    assert p.step() == 0.0 and p.connected and world.opens == 6
    world.report(tilt_ijkr(1.0))
    p.step()
    assert len(frames) == 1
    world.plugged = False                 # the back-off starts from the bottom again
    assert p.step() == 0.5


@pytest.mark.parametrize("fault", [
    FakePacketError("No packet available"),
    RuntimeError("Unprocessable Batch bytes", 2),
    KeyError(0x7B),
    SensorTimeout("silent port"),
])
def test_library_errors_are_transient(poller, world, clock, fault) -> None:
    p, _ = poller
    p.step()
    world.fault = fault
    p.step()
    assert not p.connected and p.lost == 1
    clock.advance(0.5)
    assert p.step() == 0.0 and p.connected


def test_failure_while_enabling_closes_the_link(world, clock) -> None:
    def open_then_fail() -> Bno08xLink:
        link = world.open()
        world.fault = RuntimeError("Was not able to enable feature", 8)
        return link

    p = Bno08xPoller(Bno08xBus(open_then_fail, "fake"), report_interval_s=0.01, clock=clock,
                     on_frame=lambda _t, _f: None)
    assert p.step() == 0.5
    assert not p.connected and world.closes == 1 and "cannot enable" in p.status


def test_a_silent_sensor_is_lost_after_stale_after_s(poller, world, clock) -> None:
    p, frames = poller
    world.report(tilt_ijkr(0.0))
    run(p, clock, 0.45)
    assert p.connected and len(frames) == 1
    run(p, clock, 0.1)                    # 0.5 s without a fresh report
    assert not p.connected and "no report for" in p.status


def test_a_bug_is_not_mistaken_for_a_sensor_fault(poller, world) -> None:
    p, _ = poller
    p.step()
    world.fault = TypeError("a bug")
    with pytest.raises(TypeError):
        p.step()


# ---------------------------------------------------------------- the thread runner
def test_threaded_source_reads_without_waiting(world) -> None:
    """read(0) returns at once; reports appear; close stops the worker and the bus."""
    src = ThreadedBno08x(world.bus(), report_interval_s=0.005)
    try:
        assert src.sample_rate_hz == pytest.approx(200.0)
        world.report(tilt_ijkr(2.0))
        frame = src.read(2.0)             # returns as soon as the worker has the report
        assert frame is not None and frame.quat[2] == pytest.approx(math.sin(math.radians(1)))
        assert src.last_t_ns is not None and src.connected
        t0 = time.monotonic()
        assert src.read(0.0) is None
        assert time.monotonic() - t0 < 0.05
    finally:
        src.close()
    assert world.closes == 1 and src.status == "closed"
    src.close()                           # idempotent


def test_read_is_bounded_while_the_driver_blocks(world) -> None:
    """The library's multi-second open never holds up read()."""
    release = threading.Event()

    def slow_open() -> Bno08xLink:
        release.wait(5.0)
        return world.open()

    src = ThreadedBno08x(Bno08xBus(slow_open, "slow"), report_interval_s=0.01)
    try:
        t0 = time.monotonic()
        assert src.read(0.002) is None
        assert time.monotonic() - t0 < 0.05
        assert src.status.startswith("connecting") and not src.connected
    finally:
        release.set()
        src.close()


def test_stepped_by_hand_without_a_thread(world, clock) -> None:
    src = ThreadedBno08x(world.bus(), report_interval_s=0.01, clock=clock, start=False,
                         queue_len=2)
    src.poller.step()
    for roll in (1.0, 2.0, 3.0):
        world.report(tilt_ijkr(roll))
        clock.advance(0.01)
        src.poller.step()
    assert src.dropped == 1               # the queue keeps the newest two
    first = src.read(0.0)
    assert first is not None and first.quat[2] == pytest.approx(math.sin(math.radians(1.0)))
    assert src.read(0.0) is not None and src.read(0.0) is None
    src.close()
    assert world.closes == 1


# ---------------------------------------------------------------- the factory
def imu_config(**changes: Any) -> Config:
    return Config().with_changes("imu", **{"enabled": True, **changes})


def test_factory_refuses_a_disabled_imu() -> None:
    with pytest.raises(ConfigError, match="enabled"):
        open_bno08x(Config(), bus=FakeWorld().bus())


def test_factory_runs_an_injected_bus_in_a_thread(world) -> None:
    src = open_bno08x(imu_config(report_interval_ms=20), bus=world.bus())
    try:
        assert isinstance(src, ThreadedBno08x) and src.sample_rate_hz == pytest.approx(50.0)
        world.report(tilt_ijkr(0.0))
        assert src.read(2.0) is not None
    finally:
        src.close()
    with pytest.raises(ValueError):
        open_bno08x(imu_config(), bus=world.bus(), runner="process")


def test_importing_the_drivers_pulls_in_no_hardware_library() -> None:
    code = ("import sys, station.drivers.bno08x, station.drivers.peripherals; "
            "bad = {'board', 'busio', 'adafruit_bno08x', 'serial', 'gpiozero', 'lgpio'} "
            "& set(sys.modules); print(sorted(bad)); sys.exit(1 if bad else 0)")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


# ---------------------------------------------------------------- the driver process
def scripted_bus(reports: int) -> Bno08xBus:
    """Imported by the driver process in the test below: a board that sends ``reports``."""
    world = FakeWorld()
    for n in range(reports):
        world.report(tilt_ijkr(float(n)), (float(n), 0.0, 0.0))
    return world.bus()


def test_driver_process_delivers_frames_and_status(tmp_path) -> None:
    spec = {"connector": "test_bno08x:scripted_bus", "kwargs": {"reports": 1},
            "report_interval_ms": 10, "bus": "i2c"}
    src = ProcessBno08x(spec, pythonpath=(str(Path(__file__).parent),), restart_after_s=0.0)
    try:
        t0 = time.monotonic()
        assert src.read(0.0) is None and time.monotonic() - t0 < 0.05
        frame = src.read(20.0)            # the child's interpreter start dominates
        assert frame is not None and frame.quat == pytest.approx((1.0, 0.0, 0.0, 0.0))
        assert src.connected and src.status.startswith("ok") and src.last_t_ns
        first_pid = src.pid
        assert first_pid is not None
        os.kill(first_pid, signal.SIGKILL)
        frame = src.read(20.0)            # noticed, restarted, the new board reports again
        assert frame is not None and src.pid not in (None, first_pid)
    finally:
        src.close()
    assert src.status == "closed" and src.read(0.0) is None


def test_driver_process_reports_a_missing_driver() -> None:
    spec = {"connector": "no_such_module_here:bus", "report_interval_ms": 10, "bus": "i2c"}
    src = ProcessBno08x(spec)
    try:
        deadline = time.monotonic() + 20.0
        while "cannot start" not in src.status and time.monotonic() < deadline:
            src.read(0.05)
        assert "cannot start" in src.status and not src.connected
    finally:
        src.close()


# ---------------------------------------------------------------- contract with the library
Q14, Q8 = 2.0 ** 14, 2.0 ** 8


class ShtpDevice:
    """A BNO08x at the SHTP packet level: answers ID and feature requests, queues reports."""

    def __init__(self) -> None:
        self.plugged = True
        self.outbox: deque[bytes] = deque()
        self.features: dict[int, int] = {}
        self._seq = [0] * 6
        self._report_seq = 0

    def packet(self, channel: int, payload: bytes) -> bytes:
        header = struct.pack("<HBB", len(payload) + 4, channel, self._seq[channel])
        self._seq[channel] = (self._seq[channel] + 1) % 256
        return header + payload

    def host_packet(self, channel: int, payload: bytes) -> None:
        if channel == 0:                  # SHTP command (UART soft reset): an advertisement
            self.outbox.append(self.packet(0, b"\x00\x01"))
        elif channel == 1 and payload[:1] == b"\x01":   # reset
            self.features.clear()
        elif channel == 2 and payload[:1] == b"\xf9":   # product ID request
            self.outbox.append(self.packet(2, struct.pack(
                "<BBBBIIHH", 0xF8, 0, 3, 2, 10004251, 300, 7, 0)))
        elif channel == 2 and payload[:1] == b"\xfd":   # set feature
            feature = payload[1]
            (interval,) = struct.unpack_from("<I", payload, 5)
            self.features[feature] = interval
            self.outbox.append(self.packet(2, struct.pack(
                "<BBBHIII", 0xFC, feature, 0, 0, interval, 0, 0)))

    def report(self, ijkr: tuple[float, ...], accel: tuple[float, float, float]) -> None:
        """One input-report packet: base timestamp, linear acceleration, game rotation vector."""
        seq = self._report_seq = (self._report_seq + 1) % 256
        acc = struct.pack("<BBBB3h", LINEAR_ACCELERATION, seq, 3, 0,
                          *(round(v * Q8) for v in accel))
        game = struct.pack("<BBBB4h", GAME_ROTATION_VECTOR, seq, 3, 0,
                           *(round(v * Q14) for v in ijkr))
        self.outbox.append(self.packet(3, b"\xfb\x00\x00\x00\x00" + acc + game))


class ShtpI2C(ShtpDevice):
    """A Linux I2C bus with the device at 0x4A, as adafruit_bus_device.I2CDevice uses it.

    Every read starts with the next packet's header; a read of the whole packet consumes it
    (the driver reads the 4-byte header first, then the whole packet).
    """

    def try_lock(self) -> bool:
        return True

    def unlock(self) -> None:
        pass

    def _check(self, address: int) -> None:
        if not self.plugged or address != 0x4A:
            raise OSError(121, "Remote I/O error")

    def writeto(self, address: int, buffer: Any, *, start: int = 0, end: int | None = None
                ) -> None:
        self._check(address)
        data = bytes(buffer[start:end])
        if data:
            (length,) = struct.unpack_from("<H", data)
            self.host_packet(data[2], data[4:length])

    def readfrom_into(self, address: int, buffer: Any, *, start: int = 0,
                      end: int | None = None) -> None:
        self._check(address)
        end = len(buffer) if end is None else end
        packet = self.outbox[0] if self.outbox else bytes(4)
        buffer[start:end] = packet[:end - start].ljust(end - start, b"\0")
        if self.outbox and end - start >= len(packet):
            self.outbox.popleft()


class ShtpUart(ShtpDevice):
    """A serial port with the device in UART (SHTP) mode: 0x7E 0x01 frames, 0x7D escapes."""

    def __init__(self) -> None:
        super().__init__()
        self._rx = bytearray()            # host -> device
        self._tx = bytearray()            # device -> host

    def _flush_outbox(self) -> None:
        while self.outbox:
            body = bytearray()
            for b in self.outbox.popleft():
                body += bytes((0x7D, b ^ 0x20)) if b in (0x7D, 0x7E) else bytes((b,))
            self._tx += b"\x7e\x01" + body + b"\x7e"

    @property
    def in_waiting(self) -> int:
        self._flush_outbox()
        return len(self._tx) if self.plugged else 0

    def read(self, size: int = 1) -> bytes:
        self._flush_outbox()
        if not self.plugged:
            return b""
        data, self._tx[:] = bytes(self._tx[:size]), self._tx[size:]
        return data

    def write(self, data: bytes) -> int:
        self._rx += data
        while True:                       # the driver sends 0x7E 0x01 <packet> 0x7E
            start = self._rx.find(b"\x7e\x01")
            end = self._rx.find(b"\x7e", start + 2) if start >= 0 else -1
            if end < 0:
                break
            frame, self._rx[:] = bytes(self._rx[start + 2:end]), self._rx[end + 1:]
            if self.plugged and len(frame) >= 4:
                self.host_packet(frame[2], frame[4:])
        return len(data)

    def close(self) -> None:
        pass


@pytest.fixture
def library(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The real driver with its fixed sleeps (1 s per soft reset) taken out."""
    bno = pytest.importorskip("adafruit_bno08x")
    uart = pytest.importorskip("adafruit_bno08x.uart")
    no_sleep = types.SimpleNamespace(monotonic=time.monotonic, sleep=lambda _s: None)
    monkeypatch.setattr(bno, "time", no_sleep)
    monkeypatch.setattr(uart, "time", no_sleep)
    return bno


def test_contract_i2c_conversion_freshness_and_reconnection(library, clock) -> None:
    from station.drivers.bno08x import i2c_bus

    device = ShtpI2C()
    frames: list[ImuFrame] = []
    p = Bno08xPoller(i2c_bus(0x4A, open_i2c=lambda: device), report_interval_s=0.01,
                     clock=clock, on_frame=lambda _t, f: frames.append(f))
    assert p.step() == 0.0, p.status
    assert device.features == {GAME_ROTATION_VECTOR: 10_000, LINEAR_ACCELERATION: 10_000}
    assert library.BNO_REPORT_GAME_ROTATION_VECTOR == GAME_ROTATION_VECTOR
    assert library.BNO_REPORT_LINEAR_ACCELERATION == LINEAR_ACCELERATION
    ijkr = (0.125, -0.25, 0.0625, math.sqrt(1 - 0.125**2 - 0.25**2 - 0.0625**2))
    device.report(ijkr, (0.5, -1.0, 0.25))
    p.step()
    p.step()                              # nothing new on the bus: no second frame
    device.report(ijkr, (0.5, -1.0, 0.25))   # same values, fresh report
    p.step()
    assert len(frames) == 2 and p.bad_reports == 0
    assert frames[0].quat == pytest.approx((ijkr[3], *ijkr[:3]), abs=1e-4)
    assert frames[0].accel_m_s2 == pytest.approx((0.5, -1.0, 0.25))
    device.plugged = False
    p.step()
    assert not p.connected and "Remote I/O" in p.status
    clock.advance(0.5)
    p.step()
    assert "No I2C device" in p.status    # adafruit_bus_device's probe: ValueError
    device.plugged = True
    clock.advance(1.0)
    assert p.step() == 0.0 and p.connected, p.status
    device.report(ijkr, (0.0, 0.0, 0.0))
    p.step()
    assert len(frames) == 3


def test_contract_uart_silent_board_and_replug(library, clock) -> None:
    from station.drivers.bno08x import uart_bus

    device = ShtpUart()
    frames: list[ImuFrame] = []
    p = Bno08xPoller(uart_bus("/dev/sim", open_serial=lambda: device), report_interval_s=0.01,
                     clock=clock, on_frame=lambda _t, f: frames.append(f))
    assert p.step() == 0.0, p.status
    device.report((0.0, 0.0, 0.0, 1.0), (0.0, 0.0, 1.0))
    p.step()
    assert len(frames) == 1 and frames[0].quat == pytest.approx((1.0, 0.0, 0.0, 0.0))
    device.plugged = False                # nothing raises: the board just goes quiet
    run(p, clock, 1.2)                    # lost after 0.5 s, a retry 0.5 s later
    assert p.lost == 1, p.status
    assert "cannot open" in p.status and "SensorTimeout" in p.status   # no hang on reconnect
    device.plugged = True
    run(p, clock, 2.0)
    assert p.connected, p.status
