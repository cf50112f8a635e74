"""The drill registry: a drill is one module that declares itself with ``@register``.

The UI lists drills from here; ``load_builtin`` imports every module of this package, so
adding a drill is adding a module: nothing else to edit.
"""

from __future__ import annotations

import importlib
import pkgutil

from station.drills.base import Drill, DrillError

_DRILLS: dict[str, type[Drill]] = {}
_NOT_DRILLS = {"base", "registry", "runner", "challenge", "autopilot", "recording"}


def register(cls: type[Drill]) -> type[Drill]:
    if not cls.name or (cls.name in _DRILLS and _DRILLS[cls.name] is not cls):
        raise DrillError(f"drill name {cls.name!r} is empty or taken")
    _DRILLS[cls.name] = cls
    return cls


def load_builtin() -> None:
    import station.drills as package

    for info in pkgutil.iter_modules(package.__path__):
        if info.name not in _NOT_DRILLS and not info.name.startswith("_"):
            importlib.import_module(f"station.drills.{info.name}")


def available() -> dict[str, type[Drill]]:
    load_builtin()
    return dict(sorted(_DRILLS.items()))


def get(name: str) -> type[Drill]:
    drills = available()
    if name not in drills:
        raise DrillError(f"unknown drill {name!r} (known: {', '.join(drills)})")
    return drills[name]
