"""Sensor sources: load-cell bank and IMU, real, simulated or replayed, behind one interface."""

from station.sensors.base import (
    CELL_NAMES,
    ImuFrame,
    ImuSource,
    LoadCellFrame,
    LoadCellSource,
)

__all__ = ["CELL_NAMES", "ImuFrame", "ImuSource", "LoadCellFrame", "LoadCellSource"]
