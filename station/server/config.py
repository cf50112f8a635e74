"""Receiver settings: a TOML file's ``[server]`` table, then ``STATION_SERVER_<KEY>`` variables.

The file comes from ``--config``, else ``$STATION_SERVER_CONFIG``, else built-in defaults; each
environment variable overrides one key (cast to the key's type). Unknown keys and bad values
are refused naming the key. There are no secrets here: station and viewer tokens live hashed in
the index (``station-server tokens``) and the TLS key stays in its own file.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from station.errors import ConfigError

ENV_FILE = "STATION_SERVER_CONFIG"
ENV_PREFIX = "STATION_SERVER_"
MIB = 1 << 20


@dataclass(frozen=True)
class ServerConfig:
    data_dir: str = "/var/lib/station-server"   # sessions, staging, index, reports
    db_path: str = ""                            # SQLite index; default <data_dir>/index.sqlite3
    host: str = "127.0.0.1"
    port: int = 8443
    tls_certfile: str = ""                       # PEM; with tls_keyfile uvicorn serves HTTPS
    tls_keyfile: str = ""
    allow_plain_http: bool = False               # plain HTTP off loopback (TLS at a proxy)
    max_file_bytes: int = 256 * MIB
    max_session_bytes: int = 2048 * MIB
    max_files_per_session: int = 2000
    max_json_bytes: int = 4 * MIB                # manifest, session.json, trial.json, requests
    body_idle_timeout_s: float = 30.0            # a body that stalls this long is refused (408)
    min_free_bytes: int = 1024 * MIB             # below this free space uploads get 507
    stale_after_hours: float = 48.0              # web page: a station silent this long is stale
    log_level: str = "info"
    source: str = "<defaults>"

    @property
    def data_path(self) -> Path:
        return Path(self.data_dir).expanduser()

    @property
    def db_file(self) -> Path:
        return Path(self.db_path).expanduser() if self.db_path else \
            self.data_path / "index.sqlite3"

    @property
    def tls(self) -> bool:
        return bool(self.tls_certfile and self.tls_keyfile)


_FIELDS = {f.name: f for f in dataclasses.fields(ServerConfig) if f.name != "source"}


_BOOLS = {"1": True, "true": True, "yes": True, "on": True,
          "0": False, "false": False, "no": False, "off": False}


def _cast(key: str, value: Any, where: str) -> Any:
    tp = type(_FIELDS[key].default)
    if isinstance(value, str) and tp is not str:      # from the environment
        text = value.strip().lower()
        try:
            value = _BOOLS[text] if tp is bool else tp(text)
        except (KeyError, ValueError):
            raise ConfigError(f"{where}: {key} must be {tp.__name__}, got {value!r}") from None
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, tp) or (tp is not bool and isinstance(value, bool)):
        raise ConfigError(f"{where}: {key} must be {tp.__name__}, got {value!r}")
    if tp in (int, float) and value < 0:
        raise ConfigError(f"{where}: {key} must not be negative")
    return value


def load(path: str | os.PathLike[str] | None = None,
         env: Mapping[str, str] | None = None) -> ServerConfig:
    """File (``[server]`` table) first, then environment overrides."""
    env = os.environ if env is None else env
    path = path or env.get(ENV_FILE) or None
    values: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        p = Path(path)
        source = str(p)
        try:
            data = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"{p}: configuration file not found") from None
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"{p}: cannot read configuration: {exc}") from None
        unknown = set(data) - {"server"}
        if unknown or not isinstance(data.get("server", {}), dict):
            raise ConfigError(f"{p}: only a [server] table is expected")
        for key, value in data.get("server", {}).items():
            if key not in _FIELDS:
                raise ConfigError(f"{p}: [server] unknown key '{key}' "
                                  f"(known: {', '.join(sorted(_FIELDS))})")
            values[key] = _cast(key, value, f"{p}: [server]")
    for name, value in env.items():
        if name.startswith(ENV_PREFIX) and name != ENV_FILE:
            key = name[len(ENV_PREFIX):].lower()
            if key not in _FIELDS:
                raise ConfigError(f"environment: unknown setting {name}")
            values[key] = _cast(key, value, f"environment {name}")
            source += f" + ${name}"
    if values.get("log_level", "info") not in ("debug", "info", "warning", "error"):
        raise ConfigError(f"{source}: log_level must be debug, info, warning or error")
    return ServerConfig(**values, source=source)
