"""The virtual patient: a person standing on the plate, swaying like a person.

Body model: in each plane (ML and AP) the body is an inverted pendulum about the ankles, with
the centre of mass (COM) at ``0.55 * height``. Gravity pushes the COM away from the centre of
pressure (COP): ``com'' = g/L * (com - cop)``. The nervous system sets the COP (ankle torque)
with a proportional-derivative law on the COM as it was one neural delay ago, plus coloured
motor noise (an Ornstein-Uhlenbeck process) that makes the sway. This is the classic delayed-
feedback model of quiet stance (Peterka 2002; Maurer & Peterka 2005) reduced to what a drill needs:
realistic amplitude (a few mm RMS), frequency (0.2-0.5 Hz) and the COP leading the COM.

Conditions and impairments change the parameters: eyes closed and foam add noise, foam lowers
the stiffness, ``sway_scale`` multiplies the noise, ``weight_bearing_left`` moves the ML home
position between the feet, ``reaction_time_s`` delays voluntary moves. Voluntary moves (lean to a
target, shift weight, stand on one leg, step off, squat) start after the reaction time and follow
a minimum-jerk path, so drills can be tested end to end. On one leg the patient touches the free
foot down when its sway carries it too far; ``max_lean_fraction`` caps voluntary leans. The
same seed gives the same sway.

Units: SI throughout. x = ML (positive right), y = AP (positive forward), origin plate centre.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np

from station.body import com_height_m, theoretical_los_m

G = 9.80665
_DT = 0.0025  # integration step (s): 400 Hz, five steps per 80 Hz sample
_TOUCH_LOAD = 0.4   # share of the weight a touched-down free foot takes (single-leg stance)


@dataclass(frozen=True)
class PatientProfile:
    """Who stands on the plate. Defaults are a healthy adult."""

    mass_kg: float = 70.0
    height_m: float = 1.70
    sway_scale: float = 1.0            # 1 healthy; 2-3 a markedly unsteady patient
    weight_bearing_left: float = 0.5   # share of body weight on the left leg
    reaction_time_s: float = 0.20      # voluntary reaction time
    neural_delay_s: float = 0.10       # feedback loop delay of the postural reflexes
    movement_time_s: float = 0.80      # time to complete a voluntary lean of 5 cm
    eyes_closed: bool = False
    surface: str = "firm"              # "firm" or "foam"
    foot_spacing_m: float = 0.20       # footprint centres marked on the plate
    #: Voluntary leans (``lean_to``) reach at most this share of the theoretical limits of
    #: stability in their direction; 1.0 = no cap (a healthy adult reaches the limits).
    max_lean_fraction: float = 1.0
    #: Single-leg stance: the free foot touches down when the COM strays this far (ML; twice
    #: as far AP, the foot is long) from where it is held over the stance foot ...
    touchdown_margin_m: float = 0.012
    #: ... and stays down this long before the patient lifts it again (s).
    touchdown_s: float = 1.0
    #: Squat: how far the COM drops (m), and how much a stance asymmetry grows at full depth
    #: (0.5: a 65/35 stance becomes 72.5/27.5; the spared leg is spared more under load).
    squat_depth_m: float = 0.25
    squat_asymmetry_gain: float = 0.5

    @classmethod
    def impaired(cls, **changes: float | str | bool) -> PatientProfile:
        """A post-stroke-like patient: more sway, 65/35 stance, slow reactions."""
        base = cls(sway_scale=2.0, weight_bearing_left=0.65, reaction_time_s=0.45,
                   movement_time_s=1.4, neural_delay_s=0.13, max_lean_fraction=0.7)
        return replace(base, **changes)  # type: ignore[arg-type]

    @property
    def com_height_m(self) -> float:
        return com_height_m(self.height_m)

    @property
    def home_ml_m(self) -> float:
        """ML COP that puts ``weight_bearing_left`` of the weight on the left foot."""
        return self.foot_spacing_m * (0.5 - self.weight_bearing_left)

    def los_m(self) -> tuple[float, float, float]:
        """Theoretical limits of stability (forward, back, side) as COM excursions (m)."""
        return theoretical_los_m(self.height_m)


class _MinJerk:
    """A minimum-jerk move of a 2-D reference from ``a`` to ``b`` starting at ``t0``."""

    def __init__(self, a: np.ndarray, b: np.ndarray, t0: float, duration: float) -> None:
        self.a, self.b, self.t0, self.duration = a, b, t0, max(duration, 1e-3)

    def at(self, t: float) -> np.ndarray:
        s = min(max((t - self.t0) / self.duration, 0.0), 1.0)
        return self.a + (self.b - self.a) * (10 * s**3 - 15 * s**4 + 6 * s**5)

    def done(self, t: float) -> bool:
        return t >= self.t0 + self.duration


class VirtualPatient:
    """Integrates the body model in simulated time; ``advance_to`` is the only clock."""

    def __init__(self, profile: PatientProfile, seed: int = 1) -> None:
        self.profile = profile
        self._rng = np.random.default_rng(seed)
        self.t = 0.0
        home = np.array([profile.home_ml_m, 0.0])
        self._ref = home.copy()            # where the COM is being held (m)
        self._move: _MinJerk | None = None
        self._pending: list[tuple[float, np.ndarray, float]] = []  # (start time, target, T)
        self.com = home.copy()
        self.vel = np.zeros(2)
        self.cop = home.copy()
        self._noise = np.zeros(2)
        n_delay = max(1, round(profile.neural_delay_s / _DT))
        self._hist_p = np.tile(home, (n_delay, 1))
        self._hist_v = np.zeros((n_delay, 2))
        self._hist_i = 0
        self.load_fraction = 1.0            # 1 standing, 0 stepped off
        self._load_target = 1.0
        self.single_leg: str | None = None
        self.lost_balance = False
        self.touching_down = False          # single-leg stance: the free foot is down
        self.touchdowns = 0
        self._touch_until = 0.0
        self._touch_check_from = 0.0
        self._touch_share = 0.0             # weight on the touched-down foot, ramped
        self._free_foot = np.zeros(2)
        self.vertical_acc = 0.0             # COM vertical acceleration (m/s^2), squats
        self._squat: tuple[float, float, float, float] | None = None  # start, down, up, depth
        self._offset = np.zeros(2)          # reference offset while squatting (asymmetry)
        self._set_gains()

    # ----------------------------------------------------------------- parameters
    def _set_gains(self) -> None:
        p = self.profile
        self._w2 = G / p.com_height_m
        foam = p.surface == "foam"
        # Stiffness and damping of the feedback (dimensionless, s): stable with the delay.
        self._kp = 0.55 if foam else 0.7
        self._kd = 0.30 + p.neural_delay_s
        # Motor noise: an OU process disturbing the COM acceleration (m/s^2) with its
        # correlation time (s); the body and the controller low-pass it into sway.
        sigma = 0.02 * p.sway_scale
        if p.eyes_closed:
            sigma *= 1.35
        if foam:
            sigma *= 2.2
        if self.single_leg and not self.touching_down:
            sigma *= 1.8
            # standing on the leg the patient spares is harder (1.0 for an even stance)
            share = p.weight_bearing_left if self.single_leg == "left" \
                else 1.0 - p.weight_bearing_left
            sigma *= math.sqrt(0.5 / min(max(share, 0.05), 0.95))
        self._noise_sigma = sigma * np.array([0.7, 1.0])  # ML sways less than AP
        self._noise_tau = 1.0

    def set_conditions(self, *, eyes_closed: bool | None = None,
                       surface: str | None = None) -> None:
        """Change vision or surface mid-visit (between trials)."""
        changes: dict[str, object] = {}
        if eyes_closed is not None:
            changes["eyes_closed"] = eyes_closed
        if surface is not None:
            changes["surface"] = surface
        self.profile = replace(self.profile, **changes)  # type: ignore[arg-type]
        self._set_gains()

    # ----------------------------------------------------------------- commands
    def lean_to(self, ml_m: float, ap_m: float, movement_time_s: float | None = None) -> None:
        """Move the COM to (ml, ap) after the reaction time (a reach or target drill); a lean
        beyond ``max_lean_fraction`` of the limits of stability stops there."""
        self._lean(self._capped(np.array([ml_m, ap_m], dtype=float)), movement_time_s)

    def _capped(self, target: np.ndarray) -> np.ndarray:
        """``target`` pulled back onto ``max_lean_fraction`` of the LOS ellipse around home."""
        f = self.profile.max_lean_fraction
        home = np.array([self.profile.home_ml_m, 0.0])
        d = target - home
        r = float(np.hypot(*d))
        if f >= 1.0 or r == 0.0:
            return target
        fwd, back, side = self.profile.los_m()
        ap_limit = fwd if d[1] >= 0 else back
        r_los = 1.0 / math.hypot(d[0] / r / side, d[1] / r / ap_limit)
        return home + d * (f * r_los / r) if r > f * r_los else target

    def _lean(self, target: np.ndarray, movement_time_s: float | None = None) -> None:
        if movement_time_s is None:
            dist = float(np.hypot(*(target - self._ref)))
            movement_time_s = self.profile.movement_time_s * max(0.5, (dist / 0.05) ** 0.5)
        self._pending.append((self.t + self.profile.reaction_time_s, target, movement_time_s))

    def return_home(self) -> None:
        self.lean_to(self.profile.home_ml_m, 0.0)

    def shift_weight(self, left_fraction: float) -> None:
        """Put ``left_fraction`` of the weight on the left leg (weight-shift drills)."""
        self.lean_to(self.profile.foot_spacing_m * (0.5 - left_fraction), float(self._ref[1]))

    def stand_on(self, leg: str | None) -> None:
        """Single-leg stance on "left" or "right"; None goes back to both feet.

        On one leg the patient touches the free foot down when the COM strays beyond
        ``touchdown_margin_m`` (so more sway, more touch-downs, deterministic from the seed):
        the foot takes ``_TOUCH_LOAD`` of the weight within 0.15 s, so the plate's COP moves
        toward it while the body keeps its place, and is lifted again after ``touchdown_s``;
        ``touchdowns`` counts them."""
        self.single_leg = leg
        self.touching_down = False
        self._set_gains()
        # 0.6 s for a healthy adult (movement_time_s 0.8), slower for a slow mover
        lift_s = 0.6 * self.profile.movement_time_s / 0.8
        self._lean(np.array([self._stance_ml(), 0.0]), movement_time_s=lift_s)
        self._touch_check_from = self.t + self.profile.reaction_time_s + lift_s + 2.0

    def _stance_ml(self) -> float:
        half = self.profile.foot_spacing_m / 2
        return {"left": -half, "right": half, None: self.profile.home_ml_m}[self.single_leg]

    def squat(self, down_s: float = 1.5, up_s: float = 1.5, depth_m: float | None = None) -> None:
        """One squat after the reaction time: the COM drops ``depth_m`` (the profile's by
        default) and rises again, each on a minimum-jerk path. The plate sees the vertical
        force m (g + z''), and a stance asymmetry grows with depth (``squat_asymmetry_gain``)."""
        depth = self.profile.squat_depth_m if depth_m is None else depth_m
        self._squat = (self.t + self.profile.reaction_time_s, max(down_s, 0.2),
                       max(up_s, 0.2), depth)

    def step_off(self) -> None:
        """Leave the plate: the load drops to nothing over about half a second."""
        self._load_target = 0.0

    def step_on(self) -> None:
        self._load_target = 1.0
        self.lost_balance = False

    # ----------------------------------------------------------------- dynamics
    def advance_to(self, t: float) -> None:
        """Integrate the body up to simulated time ``t`` (s)."""
        while self.t + _DT <= t + 1e-12:
            self._step()

    def _step(self) -> None:
        t = self.t + _DT
        if self._pending and t >= self._pending[0][0]:
            start, target, duration = self._pending.pop(0)
            current = self._move.at(t) if self._move else self._ref
            self._move = _MinJerk(current.copy(), target, start, duration)
        if self._move is not None:
            self._ref = self._move.at(t)
            if self._move.done(t):
                self._move = None
        if self._squat is not None:
            self._squat_step(t)
        if self.single_leg is not None or self._touch_share > 0.0:
            self._single_leg_step(t)
        n = len(self._hist_p)
        p_d = self._hist_p[self._hist_i]
        v_d = self._hist_v[self._hist_i]
        # Coloured motor noise (exact OU update).
        a = math.exp(-_DT / self._noise_tau)
        self._noise = a * self._noise + self._noise_sigma * math.sqrt(1 - a * a) * \
            self._rng.standard_normal(2)
        ref = self._ref if self._squat is None else self._ref + self._offset
        cop = p_d + self._kp * (p_d - ref) + self._kd * v_d
        acc = self._w2 * (self.com - cop) + self._noise
        self.vel = self.vel + acc * _DT
        self.com = self.com + self.vel * _DT
        self.cop = cop if self._touch_share == 0.0 else \
            cop + self._touch_share * (self._free_foot - cop)
        self._hist_p[self._hist_i] = self.com
        self._hist_v[self._hist_i] = self.vel
        self._hist_i = (self._hist_i + 1) % n
        rate = _DT / 0.5
        self.load_fraction += max(-rate, min(rate, self._load_target - self.load_fraction))
        self._check_balance()
        self.t = t

    def _squat_step(self, t: float) -> None:
        start, down, up, depth = self._squat  # type: ignore[misc]
        if t < start:
            return
        if t >= start + down + up:
            self._squat, self.vertical_acc, self._offset = None, 0.0, np.zeros(2)
            return
        going_down = t < start + down
        T = down if going_down else up
        s = (t - start) / down if going_down else (t - start - down) / up
        shape = 10 * s**3 - 15 * s**4 + 6 * s**5
        acc = depth / (T * T) * (60 * s - 180 * s**2 + 120 * s**3)
        self.vertical_acc = -acc if going_down else acc
        frac = shape if going_down else 1.0 - shape          # share of full depth
        p = self.profile
        self._offset = np.array([-p.foot_spacing_m * p.squat_asymmetry_gain *
                                 (p.weight_bearing_left - 0.5) * frac, 0.0])

    def _single_leg_step(self, t: float) -> None:
        """Touch the free foot down when the COM leaves the stance foot; lift it again later."""
        if self.touching_down:
            self._touch_share = min(_TOUCH_LOAD, self._touch_share + _DT / 0.15 * _TOUCH_LOAD)
            if t >= self._touch_until or self.single_leg is None:
                self.touching_down = False
                self._set_gains()
                self._touch_check_from = t + 1.0
            return
        if self._touch_share > 0.0:
            self._touch_share = max(0.0, self._touch_share - _DT / 0.3 * _TOUCH_LOAD)
            return
        if t < self._touch_check_from or self._pending or self._move is not None:
            return
        m = self.profile.touchdown_margin_m
        d = self.com - self._ref
        if (d[0] / m) ** 2 + (d[1] / (2 * m)) ** 2 > 1.0:
            self.touching_down = True
            self.touchdowns += 1
            self._touch_until = t + self.profile.touchdown_s
            self._free_foot = np.array([-self._stance_ml(), 0.0])
            self._set_gains()

    def _check_balance(self) -> None:
        """Beyond the limits of stability the patient steps off to save themself."""
        fwd, back, side = self.profile.los_m()
        ml = self.com[0] - self.profile.home_ml_m
        ap = self.com[1]
        if (ap > 1.6 * fwd or ap < -1.6 * back or abs(ml) > 1.6 * side) and \
                self._load_target > 0:
            self.lost_balance = True
            self.step_off()

    # ----------------------------------------------------------------- outputs
    @property
    def weight_n(self) -> float:
        return self.profile.mass_kg * (G + self.vertical_acc) * self.load_fraction

    @property
    def reference(self) -> np.ndarray:
        """Where the patient is currently trying to hold the COM (m)."""
        return self._ref.copy()
