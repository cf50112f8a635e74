"""Time-domain sway measures of Prieto et al. (1996).

Prieto TE, Myklebust JB, Hoffmann RG, Lovett EG, Myklebust BM. Measures of postural steadiness:
differences between healthy young and elderly adults. IEEE Trans Biomed Eng 43:956-966 (1996).

Every function takes a COP trajectory ``cop`` of shape (N, 2) = [ml, ap] in metres, uniformly
sampled at ``fs`` Hz, and works on the "referenced" series (the mean COP subtracted), so the
results do not depend on where the patient stands. Distances use the population form (1/N),
as Prieto does. The trial duration is T = N / fs (each sample stands for 1/fs seconds): the
convention of Santos & Duarte (2016) for the mean velocity, used here for every per-second
measure so that they stay consistent with each other.

Results that exist for the plane and for each axis come as ``PerAxis(planar, ap, ml)``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from station.analysis.validation import as_cop, check_moving, check_rate


class PerAxis(NamedTuple):
    """A measure in the plane (resultant distance) and along each axis, SI units."""

    planar: float
    ap: float
    ml: float


def prepared(cop: np.ndarray) -> np.ndarray:
    """Validate (finite, >= 3 samples, in metres, moving) and return the referenced COP as a
    contiguous (2, N) array [ml, ap]: one row per axis keeps every reduction contiguous."""
    a = as_cop(cop)
    xy = np.ascontiguousarray(a.T)
    check_moving(xy)
    return xy - xy.mean(axis=1, keepdims=True)


def mean_distance(cop: np.ndarray) -> PerAxis:
    """MDIST: mean distance from the mean COP (m); per axis, the mean absolute deviation."""
    return _mean_distance(prepared(cop))


def rms_distance(cop: np.ndarray) -> PerAxis:
    """RDIST: root-mean-square distance from the mean COP (m); per axis, the RMS (1/N)."""
    return _rms_distance(prepared(cop))


def sway_range(cop: np.ndarray) -> PerAxis:
    """RANGE (m): planar = the largest distance between any two COP points (the diameter of the
    COP cloud, Prieto's RANGE); per axis, maximum minus minimum."""
    return _range(prepared(cop))


def path_length(cop: np.ndarray) -> PerAxis:
    """TOTEX (m): total length of the COP path, sum of distances between consecutive samples."""
    return _path_length(prepared(cop))


def mean_velocity(cop: np.ndarray, fs: float) -> PerAxis:
    """MVELO (m/s): path length / T with T = N / fs (Santos & Duarte 2016 and Prieto 1996)."""
    xy = prepared(cop)
    return _mean_velocity(_path_length(xy), xy.shape[1], check_rate(fs))


def sway_area_per_second(cop: np.ndarray, fs: float) -> float:
    """AREA-SW (m^2/s): area swept by the radius vector per second, Prieto 1996:
    sum |ap[n+1] ml[n] - ap[n] ml[n+1]| / (2 T), T = N / fs."""
    return _sway_area_per_second(prepared(cop), check_rate(fs))


def mean_frequency(cop: np.ndarray, fs: float) -> PerAxis:
    """MFREQ (Hz), Prieto 1996: the rotational frequency of a circle with the trial's mean
    distance and mean velocity, planar = MVELO / (2 pi MDIST).

    Per axis Prieto's published formula MVELO_axis / (4 sqrt(2) MDIST_axis) is kept (it is what
    Quijoux et al. 2021 compute); note that for a pure sinusoid it gives pi / (2 sqrt 2) ~ 1.11
    times the sinusoid's frequency, whereas the planar form gives a circle's frequency exactly.
    """
    xy = prepared(cop)
    velocity = _mean_velocity(_path_length(xy), xy.shape[1], check_rate(fs))
    return _mean_frequency(velocity, _mean_distance(xy))


# -- helpers on a prepared (validated, referenced, (2, N)) array; the summary calls these once.

def _mean_distance(xy: np.ndarray) -> PerAxis:
    ml, ap = np.abs(xy).mean(axis=1)
    return PerAxis(float(np.hypot(xy[0], xy[1]).mean()), float(ap), float(ml))


def _rms_distance(xy: np.ndarray) -> PerAxis:
    ms_ml, ms_ap = np.einsum("ij,ij->i", xy, xy) / xy.shape[1]
    return PerAxis(math.sqrt(ms_ml + ms_ap), math.sqrt(ms_ap), math.sqrt(ms_ml))


def _range(xy: np.ndarray) -> PerAxis:
    ml, ap = xy.max(axis=1) - xy.min(axis=1)
    return PerAxis(planar_diameter(xy.T), float(ap), float(ml))


def _path_length(xy: np.ndarray) -> PerAxis:
    d = np.diff(xy, axis=1)
    ml, ap = np.abs(d).sum(axis=1)
    return PerAxis(float(np.hypot(d[0], d[1]).sum()), float(ap), float(ml))


def _mean_velocity(path: PerAxis, n: int, fs: float) -> PerAxis:
    duration = n / fs
    return PerAxis(*(p / duration for p in path))


def _sway_area_per_second(xy: np.ndarray, fs: float) -> float:
    x, y = xy
    tri = np.abs(y[1:] * x[:-1] - y[:-1] * x[1:])
    return float(tri.sum() / (2.0 * xy.shape[1] / fs))


def _mean_frequency(velocity: PerAxis, distance: PerAxis) -> PerAxis:
    k = 4.0 * math.sqrt(2.0)
    return PerAxis(velocity.planar / (2.0 * math.pi * distance.planar),
                   velocity.ap / (k * distance.ap), velocity.ml / (k * distance.ml))


def planar_diameter(points: np.ndarray) -> float:
    """Largest distance between any two of the (N, 2) points, exactly.

    The two farthest points are an antipodal pair of convex-hull vertices. The hull comes from
    quickhull, one vectorised pass per hull vertex (tens for a sway trajectory); small hulls are
    then compared pairwise, large ones by rotating calipers done with one searchsorted.
    """
    v = _hull_vertices(np.asarray(points, dtype=float))
    if len(v) <= 64:
        return math.sqrt(float(((v[:, None, :] - v[None, :, :]) ** 2).sum(axis=2).max()))
    v = v[np.argsort(np.arctan2(*(v - v.mean(axis=0)).T[::-1]))]  # counter-clockwise order
    h = len(v)
    edge = np.roll(v, -1, axis=0) - v
    angle = np.unwrap(np.arctan2(edge[:, 1], edge[:, 0]))  # increasing around a convex polygon
    ext = np.concatenate([angle, angle + 2 * np.pi, angle + 4 * np.pi])
    j = np.searchsorted(ext, angle + np.pi) % h  # vertex supporting the side opposite edge i
    i = np.arange(h)
    best = 0.0
    for a in (i, (i + 1) % h):
        for b in ((j - 1) % h, j, (j + 1) % h):
            best = max(best, float(((v[a] - v[b]) ** 2).sum(axis=1).max()))
    return math.sqrt(best)


def _hull_vertices(p: np.ndarray) -> np.ndarray:
    """Convex-hull vertices (unordered) of (N, 2) points by quickhull.

    One vectorised pass per hull vertex over the points still outside the hull found so far;
    the side tests of a parent are reused as its children's distances. Points within rounding
    of an edge may be kept as extra vertices, which is harmless for the diameter.
    """
    x, y = np.ascontiguousarray(p[:, 0]), np.ascontiguousarray(p[:, 1])
    axis = x if np.ptp(x) > 0 else y
    ia, ib = int(np.argmin(axis)), int(np.argmax(axis))
    a, b = (float(x[ia]), float(y[ia])), (float(x[ib]), float(y[ib]))
    vertices = [a, b]
    side = _cross(a, b, x, y)
    up, down = side > 0, side < 0
    stack = [(a, b, x[up], y[up], side[up]), (b, a, x[down], y[down], -side[down])]
    while stack:
        a, b, px, py, dist = stack.pop()
        if dist.size == 0:
            continue
        k = int(np.argmax(dist))
        far = (float(px[k]), float(py[k]))
        vertices.append(far)
        for u, v in ((a, far), (far, b)):
            d = _cross(u, v, px, py)
            out = d > 0
            out[k] = False  # the new vertex never stays, whatever the rounding: passes shrink
            stack.append((u, v, px[out], py[out], d[out]))
    return np.array(vertices, dtype=float)


def _cross(a: tuple[float, float], b: tuple[float, float], x: np.ndarray,
           y: np.ndarray) -> np.ndarray:
    """z of (b - a) x (p - a): > 0 for points p left of the directed line a -> b."""
    return (b[0] - a[0]) * (y - a[1]) - (b[1] - a[1]) * (x - a[0])
