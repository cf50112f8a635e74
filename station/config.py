"""Station configuration: one TOML file, typed and validated at start.

Where it comes from, first match wins: ``--config PATH``, the ``STATION_CONFIG`` environment
variable, ``/etc/station/station.toml`` if it exists, else the built-in defaults below. A file
only needs the keys it changes. Unknown sections or keys, wrong types and out-of-range values
are refused with a message naming the file and the key (Klipper's config checking is the model).
Every option is documented by its ``doc`` metadata; ``station config --defaults`` prints them.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from station.errors import ConfigError

SYSTEM_CONFIG = Path("/etc/station/station.toml")
ENV_VAR = "STATION_CONFIG"


def _opt(default: Any, doc: str, *, lo: float | None = None, hi: float | None = None,
         choices: tuple[Any, ...] | None = None, items: int | None = None) -> Any:
    meta = {"doc": doc, "lo": lo, "hi": hi, "choices": choices, "items": items}
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class StationSection:
    id: str = _opt("station-01", "Station identity sent with every session and upload.")
    data_dir: str = _opt("~/.local/share/station", "Where sessions, calibration and the index "
                         "live (/var/lib/station on the Pi).")
    source: str = _opt("auto", "Sensor source: auto (hardware if found, else simulated when "
                       "allowed), hardware, simulated.",
                       choices=("auto", "hardware", "simulated"))
    allow_simulation: bool = _opt(True, "May the station fall back to the virtual patient when no "
                                  "hardware answers? Set false on a clinic station.")
    acquisition_process: bool = _opt(True, "Run sensor reads in their own process (required on "
                                     "the Pi: the HX711 clock must not wait for the UI's GIL).")


@dataclass(frozen=True)
class PlateSection:
    span_ml_m: float = _opt(0.400, "Load-cell centre-to-centre distance, medio-lateral (m).",
                            lo=0.2, hi=1.0)
    span_ap_m: float = _opt(0.400, "Load-cell centre-to-centre distance, antero-posterior (m).",
                            lo=0.2, hi=1.0)
    foot_spacing_m: float = _opt(0.200, "Distance between the centres of the two footprints "
                                 "marked on the top plate (m): turns COP into per-leg load.",
                                 lo=0.05, hi=0.6)
    sample_rate_hz: int = _opt(80, "HX711 output rate set by its RATE pin.", choices=(10, 80))
    min_load_kg: float = _opt(10.0, "Below this total load nobody is on the plate and COP is "
                              "undefined (kg).", lo=1.0, hi=100.0)
    capacity_kg_per_cell: float = _opt(50.0, "Rated capacity of one load cell (kg).",
                                       lo=5.0, hi=1000.0)
    calibration_file: str = _opt("calibration.json", "Calibration file, relative to data_dir.")


@dataclass(frozen=True)
class Hx711Section:
    gpiochip: int = _opt(0, "gpiochip device number (0 on Pi 4 and on Pi 5 with kernel >= 6.6).",
                         lo=0, hi=15)
    pd_sck_gpio: int = _opt(5, "BCM GPIO of the shared PD_SCK clock line (header pin 29).",
                            lo=0, hi=27)
    dout_gpio: list[int] = _opt([6, 13, 19, 26], "BCM GPIO of DOUT for cells 0..3 (front-left, "
                                "front-right, back-left, back-right).", lo=0, hi=27, items=4)
    ready_timeout_s: float = _opt(0.25, "Longest wait for all four chips to signal data ready.",
                                  lo=0.02, hi=2.0)


@dataclass(frozen=True)
class ImuSection:
    enabled: bool = _opt(False, "Is a BNO08x wobble board in use?")
    bus: str = _opt("i2c", "How the BNO08x is wired.", choices=("i2c", "uart"))
    i2c_address: int = _opt(0x4A, "I2C address of the BNO08x.", choices=(0x4A, 0x4B))
    i2c_bus: int = _opt(1, "I2C bus number: 1 is the Pi's hardware bus; 3 a software "
                        "(i2c-gpio) bus, the fallback for the Pi 4's clock-stretching bug.",
                        lo=0, hi=22)
    uart_port: str = _opt("/dev/ttyAMA0", "Serial port for the BNO08x over UART.")
    uart_baudrate: int = _opt(3_000_000, "UART speed of the BNO08x SH-2 protocol.",
                              choices=(115200, 3_000_000))
    report_interval_ms: int = _opt(10, "Game rotation vector report interval (ms).", lo=5, hi=100)
    max_tilt_deg: float = _opt(20.0, "Board tilt at which the board touches the floor (deg).",
                               lo=5.0, hi=30.0)


@dataclass(frozen=True)
class PeripheralsSection:
    enabled: bool = _opt(False, "Are the stop button, status LED and buzzer fitted?")
    button_gpio: int = _opt(17, "BCM GPIO of the stop/pause button (to GND, internal pull-up).",
                            lo=0, hi=27)
    led_gpio: int = _opt(27, "BCM GPIO of the status LED (through 330 ohm to GND).", lo=0, hi=27)
    buzzer_gpio: int = _opt(12, "BCM GPIO of the passive buzzer (PWM0).", lo=0, hi=27)
    long_press_s: float = _opt(1.5, "Holding the button this long is an emergency stop (s).",
                               lo=0.5, hi=5.0)


@dataclass(frozen=True)
class SimulationSection:
    seed: int = _opt(1, "Random seed: the same seed gives the same recording.", lo=0)
    mass_kg: float = _opt(70.0, "Virtual patient's body mass (kg).", lo=20.0, hi=200.0)
    height_m: float = _opt(1.70, "Virtual patient's height (m).", lo=1.0, hi=2.2)
    impairment: str = _opt("none", "Preset patient: none (healthy adult) or post_stroke (twice "
                           "the sway, 65/35 stance, slow reactions and movements, 70 % of the "
                           "normal limits of stability); overrides the four keys below.",
                           choices=("none", "post_stroke"))
    sway_scale: float = _opt(1.0, "Impairment: multiplies postural noise (1 = healthy).",
                             lo=0.0, hi=5.0)
    weight_bearing_left: float = _opt(0.5, "Share of body weight on the left leg (0.65 for a "
                                      "65/35 stance).", lo=0.05, hi=0.95)
    reaction_time_s: float = _opt(0.20, "Voluntary reaction time to a new target (s).",
                                  lo=0.1, hi=1.5)
    noise: bool = _opt(True, "Add each cell's electrical noise to the raw counts.")
    wobble_board: bool = _opt(False, "Simulate the wobble board (produces board tilt).")


@dataclass(frozen=True)
class DisplaySection:
    width: int = _opt(800, "Screen width (px); the window size when not full screen.",
                      lo=320, hi=3840)
    height: int = _opt(480, "Screen height (px).", lo=240, hi=2160)
    fullscreen: str = _opt("auto", "auto: full screen on KMSDRM (the Pi's panel), a window "
                           "elsewhere; yes; no.", choices=("auto", "yes", "no"))
    fps: int = _opt(60, "Kiosk frame rate (the panel's refresh rate).", lo=20, hi=144)


@dataclass(frozen=True)
class RecordingSection:
    fsync_interval_s: float = _opt(1.0, "Flush and fsync samples this often while recording "
                                   "(a power cut loses at most this much).", lo=0.2, hi=10.0)
    compress: bool = _opt(True, "gzip raw and COP sample files when a trial ends.")


@dataclass(frozen=True)
class StoreSection:
    keep_synced_days: float = _opt(30.0, "Keep a synced session on the station this long (days) "
                                   "before retention may remove it.", lo=0.0, hi=3650.0)
    free_target_fraction: float = _opt(0.20, "Retention removes synced sessions, oldest first, "
                                       "until this share of the disk is free.", lo=0.0, hi=0.9)
    warn_free_fraction: float = _opt(0.15, "Warn on screen below this free share of the disk.",
                                     lo=0.0, hi=0.9)
    warn_free_bytes: int = _opt(2 * 2**30, "... or below this many free bytes.", lo=0)
    critical_free_fraction: float = _opt(0.05, "Critical (no new recording) below this free "
                                         "share.", lo=0.0, hi=0.5)
    critical_free_bytes: int = _opt(2**28, "... or below this many free bytes.", lo=0)
    recheck_with_server: bool = _opt(True, "Ask the server again before removing a synced "
                                     "session.")


@dataclass(frozen=True)
class SyncSection:
    server_url: str = _opt("", "Clinic receiver, e.g. https://balance.clinic.local:8443 "
                           "(empty: sync disabled).")
    token_file: str = _opt("/etc/station/sync-token", "File holding this station's token.")
    ca_file: str = _opt("", "Clinic CA bundle or pinned server certificate (PEM).")
    allow_plain_http: bool = _opt(False, "Permit http:// (only for a lab network).")
    timeout_s: float = _opt(30.0, "Per-request timeout (s).", lo=1.0, hi=600.0)


@dataclass(frozen=True)
class Config:
    station: StationSection = field(default_factory=StationSection)
    plate: PlateSection = field(default_factory=PlateSection)
    hx711: Hx711Section = field(default_factory=Hx711Section)
    imu: ImuSection = field(default_factory=ImuSection)
    peripherals: PeripheralsSection = field(default_factory=PeripheralsSection)
    simulation: SimulationSection = field(default_factory=SimulationSection)
    display: DisplaySection = field(default_factory=DisplaySection)
    recording: RecordingSection = field(default_factory=RecordingSection)
    store: StoreSection = field(default_factory=StoreSection)
    sync: SyncSection = field(default_factory=SyncSection)
    source_file: str = "<defaults>"

    @property
    def data_dir(self) -> Path:
        return Path(self.station.data_dir).expanduser()

    @property
    def calibration_path(self) -> Path:
        return self.data_dir / self.plate.calibration_file

    def with_changes(self, section: str, **changes: Any) -> Config:
        """A copy with some keys of one section changed, validated like a file would be."""
        sec = getattr(self, section)
        for key, value in changes.items():
            f = next((f for f in dataclasses.fields(sec) if f.name == key), None)
            if f is None:
                raise ConfigError(f"{self.source_file}: [{section}] unknown key '{key}'")
            _check(type(sec), f, value, f"{self.source_file}: [{section}] {key}")
        return dataclasses.replace(self, **{section: dataclasses.replace(sec, **changes)})


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _check(cls: type, f: dataclasses.Field, value: Any, where: str) -> None:
    tp = typing.get_type_hints(cls)[f.name]
    meta = f.metadata
    origin = typing.get_origin(tp)
    if origin is list:
        (item_tp,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{where} must be a list of {_type_name(item_tp)}, got {value!r}")
        if meta.get("items") is not None and len(value) != meta["items"]:
            raise ConfigError(f"{where} must have exactly {meta['items']} items, got {len(value)}")
        for item in value:
            _check_scalar(item_tp, item, meta, where)
        if len(set(value)) != len(value):
            raise ConfigError(f"{where} has duplicate entries: {value!r}")
        return
    _check_scalar(tp, value, meta, where)


def _check_scalar(tp: Any, value: Any, meta: typing.Mapping[str, Any], where: str) -> None:
    ok = (isinstance(value, bool) if tp is bool
          else isinstance(value, int | float) and not isinstance(value, bool) if tp is float
          else isinstance(value, int) and not isinstance(value, bool) if tp is int
          else isinstance(value, tp))
    if not ok:
        raise ConfigError(f"{where} must be {_type_name(tp)}, got {type(value).__name__} "
                          f"{value!r}")
    if meta.get("choices") is not None and value not in meta["choices"]:
        raise ConfigError(f"{where} must be one of {list(meta['choices'])}, got {value!r}")
    if meta.get("lo") is not None and value < meta["lo"]:
        raise ConfigError(f"{where} = {value!r} is below the minimum {meta['lo']}")
    if meta.get("hi") is not None and value > meta["hi"]:
        raise ConfigError(f"{where} = {value!r} is above the maximum {meta['hi']}")


_SECTIONS = {f.name: f.default_factory for f in dataclasses.fields(Config)  # type: ignore[misc]
             if f.name != "source_file"}


def from_mapping(data: dict[str, Any], source: str = "<mapping>") -> Config:
    """Build a validated Config from parsed TOML; every complaint names ``source`` and the key."""
    sections: dict[str, Any] = {}
    for name, table in data.items():
        if name not in _SECTIONS:
            raise ConfigError(f"{source}: unknown section [{name}] "
                              f"(known: {', '.join(sorted(_SECTIONS))})")
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: [{name}] must be a table")
        cls = type(_SECTIONS[name]())
        fields = {f.name: f for f in dataclasses.fields(cls)}
        for key, value in table.items():
            if key not in fields:
                raise ConfigError(f"{source}: [{name}] unknown key '{key}' "
                                  f"(known: {', '.join(sorted(fields))})")
            _check(cls, fields[key], value, f"{source}: [{name}] {key}")
        sections[name] = cls(**table)
    return Config(**sections, source_file=source)


def load(path: str | os.PathLike[str] | None = None) -> Config:
    """Load the configuration: explicit path, else $STATION_CONFIG, else /etc, else defaults."""
    if path is None:
        path = os.environ.get(ENV_VAR) or (SYSTEM_CONFIG if SYSTEM_CONFIG.exists() else None)
    if path is None:
        return Config()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{p}: configuration file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{p}: cannot read configuration: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: not valid TOML: {exc}") from None
    return from_mapping(data, str(p))


def describe_defaults() -> str:
    """The whole default configuration as commented TOML: the reference page for every key."""
    lines = ["# Station configuration: every key, its default and what it means."]
    for name, factory in _SECTIONS.items():
        sec = factory()
        lines.append(f"\n[{name}]")
        for f in dataclasses.fields(sec):
            meta = f.metadata
            bounds = []
            if meta.get("choices") is not None:
                bounds.append("one of " + ", ".join(repr(c) for c in meta["choices"]))
            if meta.get("lo") is not None:
                bounds.append(f">= {meta['lo']}")
            if meta.get("hi") is not None:
                bounds.append(f"<= {meta['hi']}")
            extra = f" ({'; '.join(bounds)})" if bounds else ""
            lines.append(f"# {meta['doc']}{extra}")
            lines.append(f"{f.name} = {_toml_value(getattr(sec, f.name))}")
    return "\n".join(lines) + "\n"


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


__all__ = ["Config", "ConfigError", "describe_defaults", "from_mapping", "load"]
