"""Training-history panels: losses, Wasserstein estimate, penalty, gradient norms.

:func:`training_curves` draws a run's per-iteration records with diagnose
findings marked; :func:`history_records` and :func:`finding_field` read the
history and the findings in the forms a caller may hold them (also used by
:mod:`wgangp.report`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import InvalidParameterTypeError
from .figure import FINDING_COLOUR, finish_figure, new_figure

__all__ = ["finding_field", "history_records", "robust_limits", "training_curves"]


def finding_field(finding, name: str, default=None):
    """Read ``name`` from a diagnose finding that is an object or a dict.

    >>> finding_field({"name": "mode collapse"}, "name")
    'mode collapse'
    >>> finding_field({"name": "x"}, "remedy", "none")
    'none'
    """
    if isinstance(finding, Mapping):
        return finding.get(name, default)
    return getattr(finding, name, default)


def history_records(history) -> list[dict]:
    """A run's history as a list of per-iteration dicts.

    ``history`` is a fitted model (its ``history_`` is read), a sequence of
    records, or None (no records).

    >>> history_records([{"iteration": 1, "wasserstein": 0.5}])
    [{'iteration': 1, 'wasserstein': 0.5}]
    """
    if hasattr(history, "history_"):
        history = history.history_
    if history is None:
        return []
    if isinstance(history, Mapping) or isinstance(history, (str, bytes)):
        raise InvalidParameterTypeError(
            "history must be a sequence of per-iteration dicts (model.history_) or a fitted "
            f"model; got {type(history).__name__}."
        )
    return [dict(r) for r in history]


def _column(records: list[dict], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Iterations and values of one history key, skipping records without it."""
    its, vals = [], []
    for i, r in enumerate(records):
        if key in r and r[key] is not None:
            its.append(r.get("iteration", i + 1))
            vals.append(r[key])
    return np.asarray(its, dtype=np.float64), np.asarray(vals, dtype=np.float64)


def _smooth(values: np.ndarray) -> np.ndarray | None:
    """Centred moving average over ~2% of the run (None when too short to matter)."""
    window = len(values) // 50
    if window < 3:
        return None
    kernel = np.ones(window) / window
    padded = np.pad(values, (window // 2, window - 1 - window // 2), mode="edge")
    return np.convolve(padded, kernel, mode="valid")


def robust_limits(values: np.ndarray, pad: float = 0.15) -> tuple[float, float] | None:
    """Y limits that show the bulk of a series: its 1st to 99th percentile, padded.

    A first-iteration spike (the losses of an untrained critic are often
    100x their later size) would otherwise flatten the rest of the run into
    a line. None when the series is empty or already within those limits.

    >>> robust_limits(np.r_[1000.0, np.linspace(0, 1, 200)])
    (-0.137688, 1.142714)
    """
    finite = values[np.isfinite(values)]
    if finite.size < 10:
        return None
    low, high = np.percentile(finite, [1, 99])
    span = high - low if high > low else max(abs(high), 1.0)
    limits = (float(low - pad * span), float(high + pad * span))
    if finite.min() >= limits[0] and finite.max() <= limits[1]:
        return None
    return round(limits[0], 6), round(limits[1], 6)


def _clip_to_bulk(ax, *series: np.ndarray) -> None:
    """Scale ``ax`` to the bulk of ``series`` and say that the outliers were clipped."""
    values = np.concatenate([np.asarray(v, dtype=np.float64) for v in series if len(v)] or [[]])
    limits = robust_limits(values)
    if limits is None:
        return
    ax.set_ylim(*limits)
    outside = int(np.sum((values < limits[0]) | (values > limits[1])))
    ax.text(
        0.99,
        0.98,
        f"{outside} value{'s' if outside != 1 else ''} beyond the axis (clipped)",
        ha="right",
        va="top",
        fontsize=7,
        color="0.4",
        transform=ax.transAxes,
    )


def _plot_series(ax, its, vals, colour, label):
    smooth = _smooth(vals)
    if smooth is None:
        ax.plot(its, vals, color=colour, lw=1.2, label=label)
    else:
        ax.plot(its, vals, color=colour, lw=0.6, alpha=0.3)
        ax.plot(its, smooth, color=colour, lw=1.5, label=label)


def training_curves(history, findings=None, path=None):
    """Losses, Wasserstein estimate, penalty and critic gradient norms over training.

    Four panels sharing the iteration axis:

    * critic loss ``L_D`` and generator loss ``L_G``;
    * the Wasserstein estimate ``mean D(x_r) - mean D(x_f)``;
    * the penalty term ``lambda mean (||g|| - 1)^2``;
    * the gradient norm ``||dD/dx||`` at the interpolates: min-max band, mean
      line, and the target 1 dashed.

    Long runs are drawn faint with a moving average (2% of the run) on top.
    The loss and Wasserstein panels are scaled to the bulk of their values
    (:func:`robust_limits`): a spike at the start is clipped, and the panel
    says how many values lie beyond its axis.
    Each diagnose finding with ``iterations`` is marked on every panel by a
    red band over those iterations, and listed in a legend by ``name``.

    Parameters
    ----------
    history : sequence of dict or fitted WGANGP
        Per-iteration records (``model.history_``); missing keys are skipped
        and their panel says so.
    findings : sequence of objects or dicts, optional
        Findings of ``wgangp.diagnose``: ``name`` and ``iterations`` are used.
    path : str or os.PathLike, optional
        Also save the figure there.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> records = [{"iteration": i, "wasserstein": 1 / i} for i in range(1, 20)]
    >>> fig = training_curves(records)
    >>> [ax.get_title() for ax in fig.axes][:2]
    ['Losses', 'Wasserstein estimate']
    """
    records = history_records(history)
    fig = new_figure(10, 6.5)
    axes = fig.subplots(2, 2, sharex=True).ravel()
    ax_loss, ax_w, ax_pen, ax_grad = axes

    def empty(ax, what):
        ax.text(
            0.5,
            0.5,
            f"{what} not recorded",
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="0.5",
        )

    ax_loss.set_title("Losses")
    drawn = []
    for key, colour, label in (
        ("critic_loss", "#1f77b4", "critic $L_D$"),
        ("generator_loss", "#9467bd", "generator $L_G$"),
    ):
        its, vals = _column(records, key)
        if len(its):
            _plot_series(ax_loss, its, vals, colour, label)
            drawn.append(vals)
    if drawn:
        _clip_to_bulk(ax_loss, *drawn)
        ax_loss.legend(loc="best", fontsize=8)
    else:
        empty(ax_loss, "losses")

    ax_w.set_title("Wasserstein estimate")
    its, vals = _column(records, "wasserstein")
    if len(its):
        _plot_series(ax_w, its, vals, "#1f77b4", r"$\mathbb{E} D(x_r) - \mathbb{E} D(x_f)$")
        _clip_to_bulk(ax_w, vals)
        ax_w.legend(loc="best", fontsize=8)
    else:
        empty(ax_w, "Wasserstein estimate")

    ax_pen.set_title("Gradient penalty")
    its, vals = _column(records, "penalty")
    if len(its):
        _plot_series(ax_pen, its, vals, "#8c564b", r"$\lambda\, \mathbb{E}(\|g\| - 1)^2$")
        positive = vals[np.isfinite(vals)]
        if positive.size and positive.min() > 0 and positive.max() > 100 * positive.min():
            ax_pen.set_yscale("log")  # the penalty typically falls by orders of magnitude
        ax_pen.legend(loc="best", fontsize=8)
    else:
        empty(ax_pen, "penalty")

    ax_grad.set_title("Critic gradient norm at interpolates")
    its_mean, mean = _column(records, "grad_norm_mean")
    its_min, low = _column(records, "grad_norm_min")
    its_max, high = _column(records, "grad_norm_max")
    if len(its_min) and len(its_max) and len(its_min) == len(its_max):
        ax_grad.fill_between(its_min, low, high, color="#17becf", alpha=0.25, lw=0, label="min-max")
    if len(its_mean):
        _plot_series(ax_grad, its_mean, mean, "#17becf", "mean")
    if len(its_mean) or len(its_min):
        ax_grad.axhline(1.0, color="k", ls="--", lw=1, label="target 1")
        ax_grad.legend(loc="best", fontsize=8)
    else:
        empty(ax_grad, "gradient norms")

    for ax in axes:
        ax.grid(True, alpha=0.3)
    for ax in axes[2:]:
        ax.set_xlabel("iteration")

    handles = []
    for finding in findings or ():
        iterations = [int(i) for i in (finding_field(finding, "iterations") or ())]
        if not iterations:
            continue
        name = str(finding_field(finding, "name", "finding"))
        first, last = min(iterations), max(iterations)
        for ax in axes:
            if first == last:
                ax.axvline(first, color=FINDING_COLOUR, lw=1.2, alpha=0.7)
            else:
                ax.axvspan(first, last, color=FINDING_COLOUR, alpha=0.12, lw=0)
        handles.append(name)
    if handles:
        from matplotlib.patches import Patch

        fig.legend(
            [Patch(color=FINDING_COLOUR, alpha=0.4) for _ in handles],
            [f"diagnose: {h}" for h in handles],
            loc="outside lower center",
            ncols=min(len(handles), 3),
            fontsize=8,
        )
    return finish_figure(fig, path)
