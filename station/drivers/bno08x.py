"""BNO08x wobble-board IMU through adafruit_bno08x: bounded reads, reconnection, no shared GIL.

Why it is built this way:

* adafruit_bno08x blocks. Opening the sensor soft-resets it and waits for its ID (seconds; up to
  about 18 s on a wedged bus), and its UART reader spins forever on a silent port. The
  acquisition loop polls the IMU with ``read(0.0)`` between HX711 conversions and must never
  wait, so the library runs in a worker and ``read`` only collects what the worker produced.
* On the Pi the worker is a child process (``ProcessBno08x``, the default). A thread in the
  acquisition process would inherit its real-time priority and CPU core and take the GIL in the
  middle of a PD_SCK pulse (hardware-notes.md). ``ThreadedBno08x`` is for tools and tests.
* Reports: the game rotation vector (no magnetometer: it drifts near steel gym equipment) and
  linear acceleration (gravity removed) for step-off and fall detection, both every
  [imu] report_interval_ms. The library gives quaternions as (i, j, k, real); ImuFrame wants
  (w, x, y, z).
* The library keeps the newest value of each report and returns the same tuple object until it
  parses a new report, so a fresh report is told by identity, not value (a still board repeats
  values). No fresh report for ``stale_after_s`` means the sensor is lost: an unplugged UART
  board raises nothing, it just goes quiet.
* Blinka (board, busio), pyserial and adafruit_bno08x are imported only inside the bus
  factories, which run in the driver process: a laptop imports this module without them.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import json
import logging
import math
import os
import select
import signal
import struct
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from station.clock import Clock, SystemClock
from station.errors import ConfigError, SensorError, SensorTimeout
from station.sensors.base import ImuFrame

if TYPE_CHECKING:
    from station.config import Config
    from station.sensors.base import ImuSource

log = logging.getLogger(__name__)

#: SH-2 sensor report IDs (SH-2 Reference Manual; adafruit_bno08x exports the same values as
#: BNO_REPORT_GAME_ROTATION_VECTOR and BNO_REPORT_LINEAR_ACCELERATION).
GAME_ROTATION_VECTOR = 0x08
LINEAR_ACCELERATION = 0x04

#: What a lost or garbled link raises inside adafruit_bno08x and its buses: OSError (I2C
#: EREMOTEIO, serial errors, our SensorTimeout), RuntimeError (its timeouts, "Unprocessable Batch
#: bytes"), ValueError (adafruit_bus_device: "No I2C device at address"), KeyError (an unknown
#: report ID from a corrupted read: adafruit_bno08x issues #9, #16), IndexError and struct.error
#: (short buffers). The library's own PacketError is added by the bus factory that imports it.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OSError, RuntimeError, ValueError, KeyError, IndexError, struct.error)


class Bno08xSensor(Protocol):
    """The part of adafruit_bno08x.BNO08X the station uses; tests substitute a fake."""

    def enable_feature(self, feature_id: int, report_interval: int = ...) -> None: ...

    @property
    def game_quaternion(self) -> tuple[float, float, float, float] | None: ...

    @property
    def linear_acceleration(self) -> tuple[float, float, float] | None: ...


@dataclass
class Bno08xLink:
    """An opened sensor and how to let go of its bus."""

    sensor: Bno08xSensor
    close: Callable[[], None] = lambda: None


@dataclass(frozen=True)
class Bno08xBus:
    """How to reach the sensor: ``open()`` constructs it; ``errors`` are the library's own."""

    open: Callable[[], Bno08xLink]
    label: str
    errors: tuple[type[BaseException], ...] = ()


def to_frame(game_quaternion: tuple[float, ...],
             linear_acceleration: tuple[float, ...] | None) -> ImuFrame | None:
    """ImuFrame from the library's (i, j, k, real) and (x, y, z); None for a garbled report.

    A Q14 quaternion has norm 1 within 1e-3; one off by 10 % is a corrupted read (the Pi's I2C
    clock-stretching errors), which would otherwise show as a sudden board tilt.
    """
    i, j, k, real = (float(v) for v in game_quaternion)
    norm = math.sqrt(i * i + j * j + k * k + real * real)
    if not 0.9 <= norm <= 1.1:
        return None
    ax, ay, az = (0.0, 0.0, 0.0) if linear_acceleration is None else linear_acceleration
    return ImuFrame((real / norm, i / norm, j / norm, k / norm), (float(ax), float(ay), float(az)))


def _describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]


def _close_quietly(link: Bno08xLink) -> None:
    try:
        link.close()
    except Exception as exc:  # the bus is already gone; nothing more to release
        log.debug("closing the BNO08x bus: %s", _describe(exc))


class Bno08xPoller:
    """Open, enable both reports, poll, and start over with back-off when the sensor is lost.

    Single-threaded and clock-driven: ``step`` does one unit of work and returns how long to wait
    before the next, so tests drive it on a VirtualClock with no thread and no sleep.
    """

    def __init__(self, bus: Bno08xBus, *, report_interval_s: float,
                 on_frame: Callable[[int, ImuFrame], None], clock: Clock | None = None,
                 backoff_s: tuple[float, float] = (0.5, 4.0),
                 stale_after_s: float | None = None) -> None:
        self.bus = bus
        self._on_frame = on_frame
        self._clock = clock or SystemClock()
        self._errors = TRANSIENT_ERRORS + tuple(bus.errors)
        self.interval_us = round(report_interval_s * 1e6)
        self.poll_s = max(0.001, report_interval_s / 3)
        self._stale_ns = round((stale_after_s or max(0.5, 20 * report_interval_s)) * 1e9)
        self._backoff_min, self._backoff_max = backoff_s
        self._backoff = self._backoff_min
        self._link: Bno08xLink | None = None
        self._retry_at_ns = self._clock.monotonic_ns()
        self._last_quat: object = None
        self._last_report_ns = 0
        self._warned = False
        self.status = f"connecting to {bus.label}"
        self.connected = False
        self.frames = 0
        self.lost = 0          # times a working connection was lost
        self.bad_reports = 0   # garbled quaternions dropped

    def step(self) -> float:
        """Connect, or poll once; seconds until the next step is due."""
        if self._link is None:
            now = self._clock.monotonic_ns()
            if now < self._retry_at_ns:
                return (self._retry_at_ns - now) / 1e9
            return self._connect()
        sensor = self._link.sensor
        try:
            quat = sensor.game_quaternion          # each read processes the waiting packets
            accel = sensor.linear_acceleration
        except self._errors as exc:
            return self._lose(_describe(exc))
        now = self._clock.monotonic_ns()
        if quat is not None and quat is not self._last_quat:
            self._last_quat = quat
            frame = to_frame(quat, accel)
            if frame is not None:
                self._last_report_ns = now
                self.frames += 1
                self._on_frame(now, frame)
            elif any(quat):   # all zeros is the library's placeholder before the first report
                self.bad_reports += 1
        if now - self._last_report_ns > self._stale_ns:
            return self._lose(f"no report for {(now - self._last_report_ns) / 1e9:.1f} s")
        return self.poll_s

    def _connect(self) -> float:
        self.status = f"connecting to {self.bus.label}"
        try:
            link = self.bus.open()
        except self._errors as exc:
            return self._retry_later(f"cannot open {self.bus.label}: {_describe(exc)}")
        try:
            for feature in (GAME_ROTATION_VECTOR, LINEAR_ACCELERATION):
                link.sensor.enable_feature(feature, self.interval_us)
        except self._errors as exc:
            _close_quietly(link)
            return self._retry_later(f"cannot enable reports on {self.bus.label}: "
                                     f"{_describe(exc)}")
        self._link = link
        self._last_quat = None
        self._last_report_ns = self._clock.monotonic_ns()
        self._backoff = self._backoff_min
        self._warned = False
        self.connected = True
        self.status = f"ok: {self.bus.label}"
        log.info("%s connected", self.bus.label)
        return 0.0

    def _retry_later(self, why: str) -> float:
        delay = self._backoff
        self._backoff = min(self._backoff * 2, self._backoff_max)
        self._retry_at_ns = self._clock.monotonic_ns() + round(delay * 1e9)
        self.status = f"{why}; retrying in {delay:.1f} s"
        if not self._warned:
            log.warning("%s", why)
            self._warned = True
        return delay

    def _lose(self, why: str) -> float:
        if self._link is not None:
            _close_quietly(self._link)
        self._link = None
        self.connected = False
        self.lost += 1
        log.warning("lost %s: %s", self.bus.label, why)
        self._warned = True
        return self._retry_later(f"lost {self.bus.label} ({why})")

    def close(self) -> None:
        if self._link is not None:
            _close_quietly(self._link)
            self._link = None
        self.connected = False
        self.status = "closed"


class ThreadedBno08x:
    """ImuSource with the poller in a daemon thread of this process (tools, tests, laptops).

    Never in the acquisition process on the Pi: see the module docstring. ``start=False`` lets a
    test step ``poller`` by hand and then ``read(0)``.
    """

    def __init__(self, bus: Bno08xBus, *, report_interval_s: float, clock: Clock | None = None,
                 queue_len: int = 256, start: bool = True, **poller_options: Any) -> None:
        self.sample_rate_hz = 1.0 / report_interval_s
        self.last_t_ns: int | None = None   # monotonic stamp of the last frame read, at the bus
        self.dropped = 0
        self._frames: deque[tuple[int, ImuFrame]] = deque()
        self._queue_len = queue_len
        self._cv = threading.Condition()
        self._stop = threading.Event()
        self._closed = False
        self.poller = Bno08xPoller(bus, report_interval_s=report_interval_s, on_frame=self._put,
                                   clock=clock, **poller_options)
        self._thread = threading.Thread(target=self._run, name="bno08x", daemon=True)
        if start:
            self._thread.start()

    @property
    def status(self) -> str:
        return self.poller.status

    @property
    def connected(self) -> bool:
        return self.poller.connected

    def _put(self, t_ns: int, frame: ImuFrame) -> None:
        with self._cv:
            if len(self._frames) >= self._queue_len:
                self._frames.popleft()
                self.dropped += 1
            self._frames.append((t_ns, frame))
            self._cv.notify()

    def _run(self) -> None:
        try:
            delay = 0.0
            while not self._stop.wait(delay):
                delay = self.poller.step()
        except Exception as exc:   # a bug, not a sensor fault: say so instead of going silent
            log.exception("BNO08x worker failed")
            self.poller.status = f"worker failed: {_describe(exc)}"
        finally:
            self.poller.close()

    def read(self, timeout_s: float) -> ImuFrame | None:
        deadline = time.monotonic() + max(0.0, timeout_s)
        with self._cv:
            while not self._frames:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._closed:
                    return None
                self._cv.wait(remaining)
            t_ns, frame = self._frames.popleft()
        self.last_t_ns = t_ns
        return frame

    def close(self, timeout_s: float = 5.0) -> None:
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        with self._cv:
            self._cv.notify_all()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
            if self._thread.is_alive():
                raise SensorTimeout(f"the BNO08x worker did not stop within {timeout_s} s "
                                    "(stuck inside the driver)")
        elif self._thread.ident is None:   # never started
            self.poller.close()


# ---------------------------------------------------------------- the driver process
_FRAME = struct.Struct("<q7d")      # b"F" + t_ns, w, x, y, z, ax, ay, az
_STATUS = struct.Struct("<BH")      # b"S" + connected, length, then that many UTF-8 bytes


class ProcessBno08x:
    """ImuSource whose driver runs in a child process; the caller only reads a pipe.

    The child (``_child_main``) leaves the real-time priority and CPU core it inherits, sends
    frames and status changes down a pipe, drops frames rather than block when nobody reads,
    and exits when its parent goes away. If the child dies it is started again.
    """

    def __init__(self, spec: dict[str, Any], *, queue_len: int = 256,
                 restart_after_s: float = 5.0, pythonpath: tuple[str, ...] = ()) -> None:
        self.spec = spec
        self.sample_rate_hz = 1000.0 / spec["report_interval_ms"]
        self.status = "starting the BNO08x driver process"
        self.connected = False
        self.last_t_ns: int | None = None
        self.dropped = 0
        self._queue_len = queue_len
        self._restart_after_s = restart_after_s
        self._pythonpath = pythonpath
        self._frames: deque[tuple[int, ImuFrame]] = deque()
        self._buf = bytearray()
        self._child_status = "nothing"
        self._proc: subprocess.Popen[bytes] | None = None
        self._restart_at = 0.0
        self._closed = False
        self._spawn()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def _spawn(self) -> None:
        env = dict(os.environ)
        root = str(Path(__file__).resolve().parents[2])   # the folder holding station/
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (root, *self._pythonpath, env.get("PYTHONPATH", "")) if p)
        code = ("import sys; from station.drivers.bno08x import _child_main; "
                "sys.exit(_child_main(sys.argv[1]))")
        self._proc = subprocess.Popen([sys.executable, "-c", code, json.dumps(self.spec)],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, env=env)
        assert self._proc.stdout is not None
        os.set_blocking(self._proc.stdout.fileno(), False)
        self._buf.clear()

    def read(self, timeout_s: float) -> ImuFrame | None:
        deadline = time.monotonic() + max(0.0, timeout_s)
        while not self._frames:
            if self._closed:
                return None
            remaining = deadline - time.monotonic()
            if not self._pump(max(0.0, remaining)) and remaining <= 0:
                return None
        t_ns, frame = self._frames.popleft()
        self.last_t_ns = t_ns
        return frame

    def _pump(self, timeout_s: float) -> bool:
        """Read what the child sent (waiting up to ``timeout_s``); False if nothing came."""
        if self._proc is None:
            if self._closed:
                return False
            wait = self._restart_at - time.monotonic()
            if wait > 0:
                time.sleep(min(wait, timeout_s))
                return False
            self._spawn()
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        if not select.select([fd], [], [], timeout_s)[0]:
            return False
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return False
        if not chunk:
            self._child_gone(f"exited with code {self._proc.wait()}")
            return False
        self._buf += chunk
        self._parse()
        return True

    def _parse(self) -> None:
        buf, pos = self._buf, 0
        while pos < len(buf):
            kind = buf[pos]
            if kind == ord("F"):
                end = pos + 1 + _FRAME.size
                if end > len(buf):
                    break
                t_ns, w, x, y, z, ax, ay, az = _FRAME.unpack_from(buf, pos + 1)
                if len(self._frames) >= self._queue_len:
                    self._frames.popleft()
                    self.dropped += 1
                self._frames.append((t_ns, ImuFrame((w, x, y, z), (ax, ay, az))))
            elif kind == ord("S"):
                if pos + 1 + _STATUS.size > len(buf):
                    break
                connected, n = _STATUS.unpack_from(buf, pos + 1)
                end = pos + 1 + _STATUS.size + n
                if end > len(buf):
                    break
                self.connected = bool(connected)
                self.status = self._child_status = bytes(buf[end - n:end]).decode(
                    "utf-8", "replace")
            else:
                self._child_gone(f"sent an unknown record {kind:#04x}")
                return
            pos = end
        del buf[:pos]

    def _child_gone(self, why: str) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            _stop_process(proc, 1.0)
        self.connected = False
        self.status = (f"BNO08x driver process {why} (it said: {self._child_status}); "
                       f"restarting in {self._restart_after_s:.0f} s")
        self._child_status = "nothing"
        log.error("%s", self.status)
        self._restart_at = time.monotonic() + self._restart_after_s

    def close(self, timeout_s: float = 3.0) -> None:
        if self._closed:
            return
        self._closed = True
        proc, self._proc = self._proc, None
        if proc is not None:
            _stop_process(proc, timeout_s)
        self.connected = False
        self.status = "closed"


def _stop_process(proc: subprocess.Popen[bytes], timeout_s: float) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout_s)
    if proc.stdout is not None:
        proc.stdout.close()


def _leave_realtime() -> None:
    """Drop the SCHED_FIFO priority and the CPU core inherited from the acquisition process."""
    with contextlib.suppress(AttributeError, OSError):
        os.sched_setscheduler(0, os.SCHED_OTHER, os.sched_param(0))
    with contextlib.suppress(AttributeError, OSError):
        others = set(range(os.cpu_count() or 1)) - os.sched_getaffinity(0)
        if others:
            os.sched_setaffinity(0, others)


def _child_main(spec_json: str) -> int:
    """The driver process: poll the sensor, write records to the pipe on (the real) stdout."""
    spec = json.loads(spec_json)
    out = os.dup(1)          # the pipe to the parent, private from here on
    os.dup2(2, 1)            # the library prints ("Soft resetting...") to stdout
    sys.stdout = sys.stderr
    os.set_blocking(out, False)
    _leave_realtime()
    logging.basicConfig(level=logging.INFO, format="bno08x driver: %(levelname)s %(message)s")
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    parent = os.getppid()

    def send(record: bytes) -> bool:
        try:
            os.write(out, record)   # records are below PIPE_BUF: written whole or not at all
        except BlockingIOError:
            return False
        return True

    def on_frame(t_ns: int, frame: ImuFrame) -> None:
        send(b"F" + _FRAME.pack(t_ns, *frame.quat, *frame.accel_m_s2))

    def send_status(connected: bool, text: str) -> bool:
        data = text.encode("utf-8")[:1000]
        return send(b"S" + _STATUS.pack(connected, len(data)) + data)

    try:
        bus = make_bus(spec)
    except (SensorError, ConfigError, ImportError) as exc:
        send_status(False, f"cannot start the BNO08x driver: {_describe(exc)}")
        return 2
    poller = Bno08xPoller(bus, report_interval_s=spec["report_interval_ms"] / 1000,
                          on_frame=on_frame)
    sent = None
    delay = 0.0
    try:
        while not stop.wait(delay) and os.getppid() == parent:
            delay = poller.step()
            if poller.status != sent and send_status(poller.connected, poller.status):
                sent = poller.status
    except BrokenPipeError:
        pass   # the parent is gone
    finally:
        poller.close()
    return 0


# ---------------------------------------------------------------- buses and the factory
def _import_driver(submodule: str) -> tuple[Any, Any]:
    try:
        return importlib.import_module("adafruit_bno08x"), importlib.import_module(submodule)
    except ImportError as exc:
        raise SensorError(f"the BNO08x driver is not installed ({exc.name}): "
                          "pip install 'balance-station[pi]'") from exc


def _deinit(i2c: Any) -> None:
    deinit = getattr(i2c, "deinit", None)
    if deinit is not None:
        deinit()


def _open_linux_i2c(bus: int) -> Any:
    if bus == 1:
        import board
        import busio

        return busio.I2C(board.SCL, board.SDA)   # Linux ignores a frequency: config.txt sets it
    from adafruit_extended_bus import ExtendedI2C  # an i2c-gpio (software) bus

    return ExtendedI2C(bus)


def i2c_bus(address: int = 0x4A, bus: int = 1, *,
            open_i2c: Callable[[], Any] | None = None) -> Bno08xBus:
    """The BNO08x on Linux I2C (/dev/i2c-N) through Blinka; ``open_i2c`` replaces the bus."""
    library, driver = _import_driver("adafruit_bno08x.i2c")
    opener = open_i2c or (lambda: _open_linux_i2c(bus))

    def open_sensor() -> Bno08xLink:
        i2c = opener()
        try:
            sensor = driver.BNO08X_I2C(i2c, address=address)
        except BaseException:
            _deinit(i2c)
            raise
        return Bno08xLink(sensor, lambda: _deinit(i2c))

    return Bno08xBus(open_sensor, f"BNO08x on i2c-{bus} at {address:#04x}",
                     (library.PacketError,))


class _DeadlineSerial:
    """A serial port whose short read raises SensorTimeout.

    adafruit_bno08x's UART reader loops until a start byte arrives and indexes the result of
    every other read, so on a silent port it spins forever or fails with IndexError. With a read
    timeout on the port and this wrapper, a silent port raises within that timeout instead.
    """

    def __init__(self, port: Any, name: str) -> None:
        self._port = port
        self._name = name

    @property
    def in_waiting(self) -> int:
        return int(self._port.in_waiting)

    def read(self, size: int = 1) -> bytes:
        data = bytes(self._port.read(size))
        if len(data) < size:
            raise SensorTimeout(f"{self._name}: the BNO08x stopped talking mid-packet")
        return data

    def write(self, data: bytes) -> Any:
        return self._port.write(data)


def _serial_opener(port: str, baudrate: int, read_timeout_s: float) -> Callable[[], Any]:
    import serial

    # exclusive: a second station process (or a getty) cannot share the port unnoticed
    return lambda: serial.Serial(port, baudrate, timeout=read_timeout_s, write_timeout=1.0,
                                 exclusive=True)


def uart_bus(port: str = "/dev/ttyAMA0", baudrate: int = 3_000_000, *,
             open_serial: Callable[[], Any] | None = None,
             read_timeout_s: float = 0.25) -> Bno08xBus:
    """The BNO08x in UART (SHTP) mode, PS1 high, on a pyserial port; 3 Mbaud needs a PL011."""
    library, driver = _import_driver("adafruit_bno08x.uart")
    opener = open_serial or _serial_opener(port, baudrate, read_timeout_s)

    def open_sensor() -> Bno08xLink:
        ser = opener()
        try:
            sensor = driver.BNO08X_UART(_DeadlineSerial(ser, port))
        except BaseException:
            ser.close()
            raise
        return Bno08xLink(sensor, ser.close)

    return Bno08xBus(open_sensor, f"BNO08x on {port} at {baudrate} baud", (library.PacketError,))


def bus_spec(config: Config) -> dict[str, Any]:
    """The plain-data description of the IMU bus that the driver process rebuilds."""
    imu = config.imu
    return {"bus": imu.bus, "i2c_address": imu.i2c_address,
            "i2c_bus": imu.i2c_bus,
            "uart_port": imu.uart_port,
            "baudrate": imu.uart_baudrate,
            "report_interval_ms": imu.report_interval_ms}


def make_bus(spec: dict[str, Any]) -> Bno08xBus:
    """The bus a spec describes; ``connector = "module:function"`` builds a custom one (tests)."""
    if spec.get("connector"):
        module, _, name = str(spec["connector"]).partition(":")
        bus: Bno08xBus = getattr(importlib.import_module(module), name)(**spec.get("kwargs", {}))
        return bus
    if spec["bus"] == "i2c":
        return i2c_bus(spec["i2c_address"], spec.get("i2c_bus", 1))
    if spec["bus"] == "uart":
        return uart_bus(spec["uart_port"], spec.get("baudrate", 3_000_000))
    raise ConfigError(f"[imu] bus must be i2c or uart, got {spec['bus']!r}")


def _check_installed(spec: dict[str, Any]) -> None:
    """Fail at open, in the caller, if the driver process could never start (no imports)."""
    needed = ["adafruit_bno08x", "adafruit_bus_device", "micropython"]
    if spec["bus"] == "uart":
        needed.append("serial")
    elif spec.get("i2c_bus", 1) == 1:
        needed += ["board", "busio"]
    else:
        needed.append("adafruit_extended_bus")
    missing = [name for name in needed if importlib.util.find_spec(name) is None]
    if missing:
        raise SensorError(f"the BNO08x needs {', '.join(missing)}: "
                          "pip install 'balance-station[pi]'")


def open_bno08x(config: Config, *, bus: Bno08xBus | None = None, runner: str = "auto",
                clock: Clock | None = None) -> ImuSource:
    """The wobble-board IMU the configuration describes.

    ``runner``: "process" (the default on hardware) or "thread" (the default when ``bus`` is
    given: a test fake or a bench rig cannot cross into another process).
    """
    if not config.imu.enabled:
        raise ConfigError(f"{config.source_file}: [imu] enabled is false")
    spec = bus_spec(config)
    if runner == "auto":
        runner = "thread" if bus is not None else "process"
    if runner == "process":
        if bus is not None:
            raise ValueError("a bus object can only run in a thread (runner='thread')")
        _check_installed(spec)
        return ProcessBno08x(spec)
    if runner == "thread":
        return ThreadedBno08x(bus or make_bus(spec),
                              report_interval_s=config.imu.report_interval_ms / 1000, clock=clock)
    raise ValueError(f"runner must be auto, process or thread, got {runner!r}")
