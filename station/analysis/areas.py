"""Sway areas: the 95 % prediction ellipse (Santos & Duarte 2016), Prieto's (1996) 95 %
confidence ellipse and circle, with the ellipse axes and orientation for drawing.

Two ellipse conventions are in use and they differ by a few per cent, so each is named:

- ``prediction_ellipse``: the region where a new COP sample falls with probability p, from the
  sample covariance (N - 1) with the factor F(p; 2, N-2) * 2 (N-1)(N+1) / (N (N-2)) (Schubert
  & Kirchner 2014; Duarte 2015). This is the BDS convention and the ``ellipse_area_95_cm2``
  key.
- ``confidence_ellipse``: Prieto 1996 AREA-CE = 2 pi F(p; 2, N-2) sqrt(s_ap^2 s_ml^2 - s_apml^2)
  with population (1/N) moments.

Orientation: ``angle_rad`` is the direction of the major axis measured from +ML (patient's right)
toward +AP (forward), in (-pi/2, pi/2].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from station.analysis.sway import _mean_distance, _rms_distance, prepared
from station.analysis.validation import AnalysisError


@dataclass(frozen=True)
class Ellipse:
    """An ellipse in the plate plane, SI units (m, m^2, rad)."""

    area_m2: float
    semi_major_m: float
    semi_minor_m: float
    angle_rad: float
    centre_ml_m: float
    centre_ap_m: float

    def outline(self, n: int = 181) -> np.ndarray:
        """(n, 2) points [ml, ap] along the ellipse, closed (first == last), for plotting."""
        t = np.linspace(0.0, 2.0 * math.pi, n)
        c, s = math.cos(self.angle_rad), math.sin(self.angle_rad)
        u, v = self.semi_major_m * np.cos(t), self.semi_minor_m * np.sin(t)
        return np.column_stack([self.centre_ml_m + c * u - s * v, self.centre_ap_m + s * u + c * v])


def f_quantile_2(p: float, dfd: int) -> float:
    """Quantile of the F(2, dfd) distribution, closed form (no scipy.stats import needed).

    The F(2, d) CDF is 1 - (1 + 2x/d)^(-d/2), so x_p = d/2 ((1 - p)^(-2/d) - 1).
    """
    if not 0 < p < 1:
        raise AnalysisError(f"probability must be between 0 and 1, got {p}")
    if dfd < 1:
        raise AnalysisError(f"F distribution needs dfd >= 1, got {dfd}")
    return dfd / 2.0 * math.expm1(-2.0 / dfd * math.log1p(-p))


def prediction_ellipse(cop: np.ndarray, p: float = 0.95) -> Ellipse:
    """p prediction ellipse of the COP (BDS convention, Santos & Duarte 2016); area in m^2."""
    a = np.asarray(cop, dtype=float)
    xy = prepared(a)
    return _prediction_ellipse(xy, a.mean(axis=0), p)


def confidence_ellipse(cop: np.ndarray, p: float = 0.95) -> Ellipse:
    """p confidence ellipse of Prieto 1996 (AREA-CE): population moments, factor 2 F(p; 2, N-2)."""
    a = np.asarray(cop, dtype=float)
    xy = prepared(a)
    return _confidence_ellipse(xy, a.mean(axis=0), p)


def confidence_circle_area(cop: np.ndarray, p: float = 0.95) -> float:
    """AREA-CC of Prieto 1996 (m^2): pi (MDIST + z_p s_RD)^2, a circle holding about p of the
    radial distances, with s_RD = sqrt(RDIST^2 - MDIST^2) and z_p the one-sided normal quantile
    (1.645 for p = 0.95)."""
    return _confidence_circle_area(prepared(cop), p)


# -- helpers on a prepared (referenced, (2, N)) array

def _prediction_ellipse(xy: np.ndarray, centre: np.ndarray | tuple[float, float],
                        p: float = 0.95) -> Ellipse:
    n = xy.shape[1]
    cov = (xy @ xy.T) / (n - 1)
    k = f_quantile_2(p, n - 2) * 2.0 * (n - 1) * (n + 1) / (n * (n - 2))
    return _ellipse(cov, k, centre)


def _confidence_ellipse(xy: np.ndarray, centre: np.ndarray | tuple[float, float],
                        p: float = 0.95) -> Ellipse:
    n = xy.shape[1]
    return _ellipse((xy @ xy.T) / n, 2.0 * f_quantile_2(p, n - 2), centre)


def _ellipse(cov: np.ndarray, k: float, centre: np.ndarray | tuple[float, float]) -> Ellipse:
    sxx, syy, sxy = float(cov[0, 0]), float(cov[1, 1]), float(cov[0, 1])
    det = max(sxx * syy - sxy * sxy, 0.0)
    mid, rad = (sxx + syy) / 2.0, math.hypot((sxx - syy) / 2.0, sxy)
    angle = 0.5 * math.atan2(2.0 * sxy, sxx - syy)
    if angle <= -math.pi / 2:
        angle += math.pi
    return Ellipse(area_m2=math.pi * k * math.sqrt(det),
                   semi_major_m=math.sqrt(k * (mid + rad)),
                   semi_minor_m=math.sqrt(k * max(mid - rad, 0.0)),
                   angle_rad=angle, centre_ml_m=float(centre[0]), centre_ap_m=float(centre[1]))


def _confidence_circle_area(xy: np.ndarray, p: float = 0.95) -> float:
    return _circle_area(_mean_distance(xy).planar, _rms_distance(xy).planar, p)


def _circle_area(mdist: float, rdist: float, p: float = 0.95) -> float:
    if not 0 < p < 1:
        raise AnalysisError(f"probability must be between 0 and 1, got {p}")
    s_rd = math.sqrt(max(rdist * rdist - mdist * mdist, 0.0))
    return math.pi * (mdist + NormalDist().inv_cdf(p) * s_rd) ** 2
