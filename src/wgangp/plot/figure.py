"""What every figure of :mod:`wgangp.plot` shares: the canvas, saving, colours.

A figure is a :class:`matplotlib.figure.Figure` on its own Agg canvas, built
with matplotlib's object-oriented API: nothing here touches ``pyplot``, its
global state or the session's backend. matplotlib is imported when a figure
is made; without it the error says ``pip install wgangp[plot]``.
"""

from __future__ import annotations

import math
from pathlib import Path

__all__ = [
    "FAKE_COLOUR",
    "FIGURE_DPI",
    "FINDING_COLOUR",
    "REAL_COLOUR",
    "colormap_with_nan",
    "finish_figure",
    "new_figure",
    "panel_grid",
]

_PLOT_HINT = "install it with: pip install wgangp[plot]"

# Colours of the paper's toy figures: real data orange, generated green.
REAL_COLOUR = "#ff7f0e"
FAKE_COLOUR = "#2ca02c"
FINDING_COLOUR = "#d62728"

#: Resolution of every saved or embedded PNG, in dots per inch.
FIGURE_DPI = 110


def new_figure(width: float, height: float):
    """A Figure of ``width`` x ``height`` inches on its own Agg canvas, outside pyplot.

    Raises ImportError naming the ``plot`` extra when matplotlib is missing.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"wgangp.plot needs matplotlib; {_PLOT_HINT}") from exc
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def finish_figure(fig, path, dpi: int = FIGURE_DPI):
    """Save ``fig`` to ``path`` (format from the suffix, folders created) unless None; return it."""
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig


def panel_grid(
    n_panels: int,
    max_cols: int,
    panel_width: float,
    panel_height: float,
    pad_width: float = 0.0,
    pad_height: float = 0.0,
):
    """A new figure with ``n_panels`` axes in rows of at most ``max_cols``.

    The figure is ``panel_width * cols + pad_width`` by ``panel_height * rows
    + pad_height`` inches; the empty cells of the last row are removed.

    Returns
    -------
    fig : matplotlib.figure.Figure
    axes : numpy.ndarray of Axes, shape (n_panels,)
        In reading order.
    """
    cols = min(n_panels, max_cols)
    rows = math.ceil(n_panels / cols)
    fig = new_figure(panel_width * cols + pad_width, panel_height * rows + pad_height)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n_panels:]:
        fig.delaxes(ax)
    return fig, axes[:n_panels]


def colormap_with_nan(name: str, nan_colour: str):
    """A copy of matplotlib's colormap ``name`` that paints NaN in ``nan_colour``."""
    from matplotlib import colormaps

    return colormaps[name].with_extremes(bad=nan_colour)
