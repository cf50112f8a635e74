"""Clinical indices: Romberg quotient, weight-bearing symmetry, Biodex-style stability index
from board tilt, and Limits-of-Stability measures from a reach trial.

Inputs are SI (m, s, rad); results keep SI except where the clinical definition is itself in
degrees (stability index) or per cent (zones, excursions, directional control).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from station.analysis.validation import AnalysisError, as_cop, as_series, check_rate
from station.plate.model import weight_bearing_left

#: Biodex zone edges (degrees of board tilt from level): A 0-5, B 5-10, C 10-15, D 15-20.
ZONE_EDGES_DEG = (5.0, 10.0, 15.0, 20.0)


def romberg_quotient(eyes_closed: float, eyes_open: float) -> float:
    """Romberg quotient = eyes-closed value / eyes-open value of the same measure (area or path
    length, same surface): > 1 means the patient relies on vision."""
    ec, eo = float(eyes_closed), float(eyes_open)
    if not (math.isfinite(ec) and math.isfinite(eo)) or ec < 0:
        raise AnalysisError(f"Romberg quotient needs finite non-negative values, got "
                            f"EC {eyes_closed!r}, EO {eyes_open!r}")
    if eo <= 0:
        raise AnalysisError(f"Romberg quotient undefined: eyes-open value is {eyes_open!r}")
    return ec / eo


@dataclass(frozen=True)
class WeightBearing:
    """Share of body weight on each leg (%) and symmetry (100 % = equal loading)."""

    left_pct: float
    right_pct: float
    symmetry_pct: float


def weight_bearing(cop: np.ndarray, foot_spacing_m: float) -> WeightBearing:
    """Per-leg loading from the ML COP by the lever rule, feet centred at +/- spacing/2 about the
    plate centre: right share = 1/2 + ml / spacing per sample, clipped to 0-100 % (a COP beyond a
    foot centre means that foot carries all the weight), then averaged over the trial.
    Symmetry = 100 * smaller share / larger share.

    Uses the absolute COP (plate origin between the feet), so unlike the sway measures it is not
    translation invariant: it needs a station recording with the feet on the marked footprints.
    """
    cop = as_cop(cop)
    if not (math.isfinite(foot_spacing_m) and foot_spacing_m > 0):
        raise AnalysisError(f"foot spacing must be positive, got {foot_spacing_m!r} m")
    left = float(weight_bearing_left(cop[:, 0], foot_spacing_m).mean()) * 100.0
    right = 100.0 - left
    symmetry = 100.0 * min(left, right) / max(left, right)
    return WeightBearing(left_pct=left, right_pct=right, symmetry_pct=symmetry)


@dataclass(frozen=True)
class StabilityIndex:
    """Biodex-style stability indices (degrees) and % of time in each tilt zone."""

    overall_deg: float
    ap_deg: float
    ml_deg: float
    zone_a_pct: float
    zone_b_pct: float
    zone_c_pct: float
    zone_d_pct: float
    beyond_pct: float


def stability_index(tilt: np.ndarray) -> StabilityIndex:
    """Stability indices from a board-tilt trajectory ``tilt`` (N, 2) = [roll, pitch] in rad.

    As on the Biodex Balance System, each index is the root-mean-square deviation from level:
    ML = RMS(roll), AP = RMS(pitch), overall = sqrt(ML^2 + AP^2), in degrees. Zones use the tilt
    of the board's normal from vertical, arccos(cos roll cos pitch) (independent of the rotation
    order): A 0-5, B 5-10, C 10-15, D 15-20 degrees, upper edges inclusive; ``beyond_pct`` is
    the time tilted more than 20 degrees, so the five shares add up to 100 %.
    """
    t = np.asarray(tilt, dtype=float)
    if t.ndim != 2 or t.shape[1] != 2:
        raise AnalysisError(f"tilt must have shape (N, 2) [roll, pitch], got {t.shape}")
    as_series(t[:, 0], "roll")
    as_series(t[:, 1], "pitch")
    ms_roll, ms_pitch = np.mean(t * t, axis=0)
    tilt_deg = np.degrees(np.arccos(np.clip(np.cos(t[:, 0]) * np.cos(t[:, 1]), -1.0, 1.0)))
    counts = np.bincount(np.searchsorted(ZONE_EDGES_DEG, tilt_deg, side="left"), minlength=5)
    pct = 100.0 * counts / t.shape[0]
    return StabilityIndex(overall_deg=math.degrees(math.sqrt(ms_roll + ms_pitch)),
                          ap_deg=math.degrees(math.sqrt(ms_pitch)),
                          ml_deg=math.degrees(math.sqrt(ms_roll)),
                          zone_a_pct=float(pct[0]), zone_b_pct=float(pct[1]),
                          zone_c_pct=float(pct[2]), zone_d_pct=float(pct[3]),
                          beyond_pct=float(pct[4]))


@dataclass(frozen=True)
class LimitsOfStability:
    """Limits-of-Stability measures for one reach (NeuroCom-style definitions, SI + %)."""

    reaction_time_s: float
    movement_velocity_m_s: float
    endpoint_excursion_m: float
    endpoint_excursion_pct: float
    maximum_excursion_m: float
    maximum_excursion_pct: float
    directional_control_pct: float


def limits_of_stability(cop: np.ndarray, fs: float, cue_s: float, direction_rad: float,
                        target_m: float, *, baseline_s: float = 0.5,
                        onset_m: float = 0.005, smooth_s: float = 0.1,
                        onset_fraction: float = 0.05,
                        stop_fraction: float = 0.1) -> LimitsOfStability:
    """Reaction time, movement velocity, endpoint / maximum excursion and directional control.

    ``cop`` (N, 2) [ml, ap] m from the start of the trial; ``cue_s`` when the target appeared;
    ``direction_rad`` the target direction from +ML toward +AP (0 = right, pi/2 = forward);
    ``target_m`` the target distance from the starting COP (the 100 % of the excursions).
    Definitions (after the NeuroCom LOS test):

    - start = mean COP over ``baseline_s`` before the cue; COP displacement is split into
      ``along`` (toward the target) and ``across`` components;
    - the reach is detected when ``along`` first exceeds ``onset_m`` after the cue; its onset is
      the last sample before that at which the along-velocity (smoothed over ``smooth_s``) was
      still below ``onset_fraction`` of its peak; reaction time = cue -> onset;
    - primary movement ends at the first sample after the velocity peak where the velocity falls
      below ``stop_fraction`` of that peak;
    - endpoint excursion = ``along`` at that end; maximum excursion = largest ``along`` after
      onset; both also in % of ``target_m``;
    - movement velocity = distance between 5 % and 95 % of the endpoint excursion / the time
      taken to cover it (m/s);
    - directional control = (along path - across path) / along path * 100 over the primary
      movement, path meaning summed absolute sample-to-sample change.
    """
    cop = as_cop(cop)
    fs = check_rate(fs)
    if not (math.isfinite(target_m) and target_m > 0):
        raise AnalysisError(f"LOS target distance must be positive, got {target_m!r} m")
    n = cop.shape[0]
    i_cue = round(cue_s * fs)
    i_base = i_cue - max(1, round(baseline_s * fs))
    if i_base < 0 or i_cue >= n - 2:
        raise AnalysisError(f"LOS cue at {cue_s:g} s leaves no baseline of {baseline_s:g} s "
                            f"or no movement in a {n / fs:.2f} s trial")
    u = np.array([math.cos(direction_rad), math.sin(direction_rad)])
    d = cop - cop[i_base:i_cue].mean(axis=0)
    along, across = d @ u, d @ np.array([-u[1], u[0]])
    moved = np.flatnonzero(along[i_cue:] > onset_m)
    if moved.size == 0:
        raise AnalysisError(f"no movement toward the target (never beyond {onset_m * 1000:g} mm) "
                            "after the cue")
    i_cross = i_cue + int(moved[0])
    width = max(1, round(smooth_s * fs))
    vel = np.convolve(np.gradient(along) * fs, np.ones(width) / width, mode="same")
    i_peak = i_cross + int(np.argmax(vel[i_cross:]))
    still = np.flatnonzero(vel[i_cue:i_cross + 1] <= onset_fraction * vel[i_peak])
    i_on = i_cue + int(still[-1]) + 1 if still.size else i_cue
    slow = np.flatnonzero(vel[i_peak:] < stop_fraction * vel[i_peak])
    i_end = i_peak + int(slow[0]) if slow.size else n - 1
    endpoint = float(along[i_end])
    maximum = float(along[i_on:].max())
    if endpoint <= onset_m:
        raise AnalysisError("primary movement ends before leaving the start: cannot measure")
    reach = along[i_cue:i_end + 1]
    i05 = int(np.argmax(reach >= 0.05 * endpoint))
    i95 = int(np.argmax(reach >= 0.95 * endpoint))
    velocity = (0.9 * endpoint) / (max(i95 - i05, 1) / fs)
    on_path = float(np.abs(np.diff(along[i_on:i_end + 1])).sum())
    off_path = float(np.abs(np.diff(across[i_on:i_end + 1])).sum())
    if on_path <= 0:
        raise AnalysisError("primary movement too short to measure directional control")
    control = 100.0 * (on_path - off_path) / on_path
    return LimitsOfStability(reaction_time_s=(i_on - i_cue) / fs,
                             movement_velocity_m_s=velocity,
                             endpoint_excursion_m=endpoint,
                             endpoint_excursion_pct=100.0 * endpoint / target_m,
                             maximum_excursion_m=maximum,
                             maximum_excursion_pct=100.0 * maximum / target_m,
                             directional_control_pct=control)
