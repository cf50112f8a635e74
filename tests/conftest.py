"""Shared fixtures. Every test runs headless, with mock GPIO and its own data folder."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("SDL_AUDIODRIVER", "dummy")
os.environ.setdefault("GPIOZERO_PIN_FACTORY", "mock")
os.environ.pop("STATION_CONFIG", None)

from station.config import Config


@pytest.fixture
def config(tmp_path) -> Config:
    """Defaults, simulated plate, data in a temporary folder."""
    return (Config().with_changes("station", data_dir=str(tmp_path / "data"), source="simulated")
            .with_changes("simulation", seed=7))
