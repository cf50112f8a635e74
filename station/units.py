"""The one place SI values become clinician units and back (design.md: SI inside)."""

from __future__ import annotations

import math

G = 9.80665  #: standard gravity (m/s^2): newtons <-> kilograms of body weight


def n_to_kg(force_n: float) -> float:
    return force_n / G


def kg_to_n(mass_kg: float) -> float:
    return mass_kg * G


def m_to_cm(x_m: float) -> float:
    return x_m * 100.0


def rad_to_deg(x_rad: float) -> float:
    return math.degrees(x_rad)


def fraction_to_pct(x: float) -> float:
    return x * 100.0
