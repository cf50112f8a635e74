"""Every screen of the kiosk, by name (the names `station screenshot` accepts)."""

from __future__ import annotations

from station.ui.screens.base import Screen
from station.ui.screens.calibrate import Calibrate
from station.ui.screens.drills import DrillPick, Params
from station.ui.screens.history import History
from station.ui.screens.home import Home
from station.ui.screens.patients import NewPatient, Patients
from station.ui.screens.results import Results
from station.ui.screens.run import Run
from station.ui.screens.settings import PinPad, Settings

SCREENS: dict[str, type[Screen]] = {cls.name: cls for cls in (
    Home, Patients, NewPatient, DrillPick, Params, Run, Results, History, Calibrate, Settings,
    PinPad)}
