"""Statokinesigram and COP time series with matplotlib's object API on the Agg canvas.

No pyplot: nothing global is touched, so plotting works headless and in threads. COP is drawn in
the plate frame (cm, x = ML positive right, y = AP positive forward) so the figure also shows
where the patient stood.
"""

from __future__ import annotations

import io
import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from station.analysis.validation import AnalysisError
from station.atomicio import write_bytes

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from station.analysis.summary import SwayMetrics

PATH_COLOUR = "#1f4e79"
ELLIPSE_COLOUR = "#c0392b"
ML_COLOUR = "#2e86c1"
AP_COLOUR = "#7d3c98"


def draw_statokinesigram(ax: Axes, cop: np.ndarray, metrics: SwayMetrics,
                         half_span_cm: float | None = None, title: str = "") -> None:
    """COP path with its 95 % prediction ellipse (BDS convention) on equal axes, in cm."""
    xy = np.asarray(cop, dtype=float) * 100.0
    ell = metrics.prediction_ellipse
    outline = ell.outline() * 100.0
    ax.plot(xy[:, 0], xy[:, 1], color=PATH_COLOUR, lw=0.6, alpha=0.85)
    ax.plot(outline[:, 0], outline[:, 1], color=ELLIPSE_COLOUR, lw=1.6,
            label=f"95% ellipse {ell.area_m2 * 1e4:.2f} cm²")
    ax.plot(ell.centre_ml_m * 100, ell.centre_ap_m * 100, "+", color=ELLIPSE_COLOUR, ms=9, mew=1.5)
    cx, cy = ell.centre_ml_m * 100, ell.centre_ap_m * 100
    if half_span_cm is None:
        reach = max(np.abs(xy - [cx, cy]).max(), np.abs(outline - [cx, cy]).max())
        half_span_cm = nice_half_span(reach)
    ax.set_xlim(cx - half_span_cm, cx + half_span_cm)
    ax.set_ylim(cy - half_span_cm, cy + half_span_cm)
    ax.set_aspect("equal", adjustable="box")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(6))
    ax.yaxis.set_major_locator(MaxNLocator(6))
    ax.set_xlabel("ML (cm)  ← left · right →")
    ax.set_ylabel("AP (cm)  ← back · forward →")
    ax.grid(True, lw=0.4, alpha=0.5)
    ax.legend(loc="upper right", fontsize=8, frameon=True, framealpha=0.85)
    if title:
        ax.set_title(title, fontsize=10)


def nice_half_span(reach_cm: float) -> float:
    """A round half-width (cm) that holds ``reach_cm`` with a margin: 0.5, 1, 2, 2.5, 5..."""
    reach = max(reach_cm * 1.1, 0.25)
    mag = 10 ** math.floor(math.log10(reach))
    for step in (1, 2, 2.5, 5, 10):
        if step * mag >= reach:
            return step * mag
    return 10 * mag


def draw_series(ax: Axes, cop: np.ndarray, fs: float, axis: int) -> None:
    """One COP component (0 = ML, 1 = AP) against time, cm."""
    t = np.arange(cop.shape[0]) / fs
    name, colour = ("ML", ML_COLOUR) if axis == 0 else ("AP", AP_COLOUR)
    ax.plot(t, cop[:, axis] * 100.0, color=colour, lw=0.7)
    ax.set_ylabel(f"{name} (cm)")
    ax.set_xlim(0, t[-1] if t.size > 1 else 1)
    ax.grid(True, lw=0.4, alpha=0.5)


def trial_figure(cop: np.ndarray, fs: float, metrics: SwayMetrics, title: str,
                 subtitle: str = "") -> Figure:
    """Statokinesigram with ellipse on the left, ML and AP time series on the right."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 5.2), dpi=110, layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=(1.0, 1.35))
    draw_statokinesigram(fig.add_subplot(grid[:, 0]), cop, metrics)
    ax_ml = fig.add_subplot(grid[0, 1])
    ax_ap = fig.add_subplot(grid[1, 1], sharex=ax_ml)
    draw_series(ax_ml, cop, fs, 0)
    draw_series(ax_ap, cop, fs, 1)
    ax_ap.set_xlabel("time (s)")
    ax_ml.tick_params(labelbottom=False)
    m = metrics
    ax_ml.set_title(f"velocity {m.mean_velocity.planar * 100:.2f} cm/s · path "
                    f"{m.path_length.planar * 100:.1f} cm · mean power freq. "
                    f"{m.mean_power_frequency.combined_hz:.2f} Hz", fontsize=9)
    fig.suptitle(title + (f"\n{subtitle}" if subtitle else ""), fontsize=11)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Render to PNG or PDF (by the suffix) and write atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    target = Path(path)
    fmt = target.suffix.lower().lstrip(".")
    if fmt not in ("png", "pdf", "svg"):
        raise AnalysisError(f"{target}: plot file must end in .png, .pdf or .svg")
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    write_bytes(target, buf.getvalue())
    return target

