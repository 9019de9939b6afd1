"""Figures of a run: training curves, 2-D samples with the critic, digit grids, tables.

Every function returns a :class:`matplotlib.figure.Figure` and, given
``path``, also writes it there (the format follows the file's suffix). The
figures are built with matplotlib's object-oriented API on an Agg canvas:
nothing here touches ``pyplot``, its global state or the session's backend,
so the module is safe in scripts, servers, tests and notebooks alike.
matplotlib is imported when a function is called; without it the error says
``pip install wgangp[plot]``.

:class:`SampleSnapshots` is a training callback that keeps generated samples
at regular iterations (in memory, and as ``.npy`` files under a run folder's
``samples/``) for :func:`samples_over_time`.

:func:`marginals` and :func:`correlation_heatmaps` set a synthetic table
beside the real one (pandas DataFrames), for the fidelity report of
:func:`wgangp.report.write_tabular_report`.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from .errors import InvalidDataError, InvalidParameterError, InvalidParameterTypeError
from .train import Callback

__all__ = [
    "SampleSnapshots",
    "correlation_heatmaps",
    "digit_grid",
    "finding_field",
    "load_snapshots",
    "marginals",
    "samples_2d",
    "samples_over_time",
    "training_curves",
]

_PLOT_HINT = "install it with: pip install wgangp[plot]"

# Colours of the paper's toy figures: real data orange, generated green.
REAL_COLOUR = "#ff7f0e"
FAKE_COLOUR = "#2ca02c"
FINDING_COLOUR = "#d62728"
_SNAPSHOT_NAME = re.compile(r"^iter_(\d+)\.npy$")


def _new_figure(width: float, height: float):
    """A Figure on its own Agg canvas, outside pyplot's figure manager."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"wgangp.plot needs matplotlib; {_PLOT_HINT}") from exc
    fig = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _finish(fig, path, dpi: int = 110):
    if path is not None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, dpi=dpi)
    return fig


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


def _history_records(history) -> list[dict]:
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
    records = _history_records(history)
    fig = _new_figure(10, 6.5)
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
    drawn = False
    for key, colour, label in (
        ("critic_loss", "#1f77b4", "critic $L_D$"),
        ("generator_loss", "#9467bd", "generator $L_G$"),
    ):
        its, vals = _column(records, key)
        if len(its):
            _plot_series(ax_loss, its, vals, colour, label)
            drawn = True
    if drawn:
        ax_loss.legend(loc="best", fontsize=8)
    else:
        empty(ax_loss, "losses")

    ax_w.set_title("Wasserstein estimate")
    its, vals = _column(records, "wasserstein")
    if len(its):
        _plot_series(ax_w, its, vals, "#1f77b4", r"$\mathbb{E} D(x_r) - \mathbb{E} D(x_f)$")
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
    return _finish(fig, path)


def _as_points(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2 or len(arr) == 0:
        raise InvalidDataError(f"{name} must have shape (n, 2) with n >= 1; got {arr.shape}.")
    return arr


def _plot_limits(*clouds: np.ndarray, margin: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    """Bounds covering the real data and the bulk (1%-99%) of generated points."""
    lows = [np.quantile(c, 0.005, axis=0) for c in clouds]
    highs = [np.quantile(c, 0.995, axis=0) for c in clouds]
    low, high = np.min(lows, axis=0), np.max(highs, axis=0)
    pad = margin * np.maximum(high - low, 1e-3)
    return low - pad, high + pad


def samples_2d(
    model_or_samples,
    real=None,
    critic=None,
    n: int = 1000,
    random_state=0,
    grid: int = 120,
    path=None,
):
    """Generated points over real data, with the critic's contour (2-D data).

    As in the toy figures of Gulrajani et al. (2017): real points orange,
    generated points green, and the level sets of the critic ``D(x)``
    (:meth:`WGANGP.score_samples`, in data units) filled underneath. Where
    the critic is high the data look real to it; a trained critic's slope
    points from the generated points towards the real ones.

    Parameters
    ----------
    model_or_samples : fitted WGANGP or array_like of shape (n, 2)
        A model draws ``n`` points with ``random_state``.
    real : array_like of shape (m, 2), optional
        Real data to draw underneath.
    critic : object with ``score_samples``, optional
        Whose critic to contour; defaults to the model when one is given as
        ``model_or_samples`` (pass samples to draw no contour).
    n : int, default 1000
    random_state : None, int or numpy.random.Generator, default 0
    grid : int, default 120
        Points per side of the contour grid.
    path : str or os.PathLike, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> pts = np.random.default_rng(0).normal(size=(50, 2))
    >>> fig = samples_2d(pts, real=pts + 1)
    >>> len(fig.axes[0].collections)
    2
    """
    if hasattr(model_or_samples, "sample"):
        if critic is None and hasattr(model_or_samples, "score_samples"):
            critic = model_or_samples
        fake = model_or_samples.sample(n, random_state=random_state)
    else:
        fake = model_or_samples
    fake = _as_points(fake, "samples")
    clouds = [fake]
    if real is not None:
        real = _as_points(real, "real")
        clouds.insert(0, real)
    low, high = _plot_limits(*clouds)
    # A square window, so that the equal-aspect plot fills the figure.
    centre, half = (low + high) / 2, (high - low).max() / 2
    low, high = centre - half, centre + half

    fig = _new_figure(6.4, 5.4)
    ax = fig.add_subplot()
    if critic is not None:
        xs = np.linspace(low[0], high[0], grid)
        ys = np.linspace(low[1], high[1], grid)
        gx, gy = np.meshgrid(xs, ys)
        values = critic.score_samples(np.column_stack([gx.ravel(), gy.ravel()]))
        values = np.asarray(values, dtype=np.float64).reshape(gx.shape)
        filled = ax.contourf(gx, gy, values, levels=14, cmap="Blues", alpha=0.55)
        ax.contour(gx, gy, values, levels=14, colors="#08306b", linewidths=0.4, alpha=0.45)
        fig.colorbar(filled, ax=ax, label="critic $D(x)$")
    if real is not None:
        ax.scatter(
            real[:, 0],
            real[:, 1],
            s=5,
            c=REAL_COLOUR,
            marker="o",
            lw=0,
            alpha=0.7,
            label=f"real ({len(real)})",
        )
    ax.scatter(
        fake[:, 0],
        fake[:, 1],
        s=5,
        c=FAKE_COLOUR,
        marker="o",
        lw=0,
        alpha=0.7,
        label=f"generated ({len(fake)})",
    )
    ax.set_xlim(low[0], high[0])
    ax.set_ylim(low[1], high[1])
    ax.set_aspect("equal", adjustable="box")
    ax.legend(loc="upper right", fontsize=8, markerscale=3, framealpha=0.9)
    ax.set_title("Samples" + (" and critic" if critic is not None else ""))
    return _finish(fig, path)


def _image_side(n_features: int, image_shape) -> tuple[int, int]:
    if image_shape is not None:
        h, w = (int(s) for s in image_shape)
        if h * w != n_features:
            raise InvalidParameterError(
                f"image_shape={tuple(image_shape)} holds {h * w} pixels but the samples "
                f"have {n_features}."
            )
        return h, w
    side = math.isqrt(n_features)
    if side * side != n_features:
        raise InvalidParameterError(
            f"samples of {n_features} features are not square images; pass image_shape=(h, w)."
        )
    return side, side


def _mosaic(images: np.ndarray, rows: int, cols: int, gap: int = 1) -> np.ndarray:
    """Tile (k, h, w) images into one array, NaN in the gaps and empty cells."""
    k, h, w = images.shape
    mosaic = np.full((rows * (h + gap) - gap, cols * (w + gap) - gap), np.nan)
    for i in range(min(k, rows * cols)):
        r, c = divmod(i, cols)
        mosaic[r * (h + gap) : r * (h + gap) + h, c * (w + gap) : c * (w + gap) + w] = images[i]
    return mosaic


def _value_range(images: np.ndarray) -> tuple[float, float]:
    low, high = float(np.nanmin(images)), float(np.nanmax(images))
    if low >= -1.0 - 1e-6 and high <= 1.0 + 1e-6:
        return -1.0, 1.0  # images scaled to [-1, 1], as wgangp.data.load_digits gives
    return low, high if high > low else low + 1.0


def _draw_images(ax, samples: np.ndarray, rows: int, cols: int, image_shape=None):
    h, w = _image_side(samples.shape[1], image_shape)
    images = samples[: rows * cols].reshape(-1, h, w)
    vmin, vmax = _value_range(images)
    cmap = _gray_with_gaps()
    ax.imshow(_mosaic(images, rows, cols), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_axis_off()


def _gray_with_gaps():
    from matplotlib import colormaps

    return colormaps["gray_r"].with_extremes(bad="#ffffff")


def digit_grid(
    samples, shape: tuple[int, int] = (8, 8), image_shape=None, random_state=0, path=None
):
    """A grid of images, e.g. generated 8x8 digits.

    Parameters
    ----------
    samples : array_like of shape (n, h*w) or (n, h, w), or fitted WGANGP
        Flattened row-major images (a model draws ``rows * cols`` of them).
        Values in [-1, 1] are shown on that fixed scale (-1 white, 1 black,
        like ink on paper); others between their own min and max.
    shape : (rows, cols), default (8, 8)
    image_shape : (h, w), optional
        Default: square images.
    random_state : None, int or numpy.random.Generator, default 0
        Noise for a model.
    path : str or os.PathLike, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = digit_grid(np.zeros((5, 64)), shape=(2, 3))
    >>> fig.axes[0].images[0].get_array().shape
    (17, 26)
    """
    rows, cols = (int(s) for s in shape)
    if rows < 1 or cols < 1:
        raise InvalidParameterError(f"shape must be two positive ints; got {shape!r}.")
    if hasattr(samples, "sample"):
        samples = samples.sample(rows * cols, random_state=random_state)
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim == 3:
        image_shape = image_shape or samples.shape[1:]
        samples = samples.reshape(len(samples), -1)
    if samples.ndim != 2 or len(samples) == 0:
        raise InvalidDataError(
            f"samples must have shape (n, h*w) or (n, h, w) with n >= 1; got {samples.shape}."
        )
    h, w = _image_side(samples.shape[1], image_shape)
    fig = _new_figure(max(2.0, 0.55 * cols * w / 8), max(2.0, 0.55 * rows * h / 8))
    ax = fig.add_subplot()
    _draw_images(ax, samples, rows, cols, (h, w))
    return _finish(fig, path)


# ---------------------------------------------------------------------------
# Samples during training
# ---------------------------------------------------------------------------


class SampleSnapshots(Callback):
    """Training callback that keeps generated samples every ``every`` iterations.

    The same noise (``random_state``) is used at every snapshot, so the
    snapshots show how the generator's map of one fixed set of noise vectors
    moves during training.

    Parameters
    ----------
    every : int or None, default 100
        Take a snapshot when the iteration count is a multiple of ``every``,
        and at the end of each ``fit`` / ``partial_fit`` call. None: only
        when :meth:`record` is called.
    n : int, default 500
        Samples per snapshot.
    random_state : int, default 0
        Seed of the snapshot noise (never the training stream).
    run_dir : str or os.PathLike, optional
        Also save each snapshot as ``run_dir/samples/iter_0000100.npy``.

    Attributes
    ----------
    snapshots : dict of int to numpy.ndarray
        Iteration -> samples of shape (n, n_features), in insertion order.

    Examples
    --------
    >>> import wgangp
    >>> X = np.random.default_rng(0).normal(size=(64, 2))
    >>> snaps = SampleSnapshots(every=2, n=10)
    >>> _ = wgangp.WGANGP(hidden=8, depth=1, batch_size=32, random_state=0).fit(
    ...     X, steps=5, callbacks=[snaps])
    >>> list(snaps.snapshots)
    [2, 4, 5]
    """

    def __init__(
        self, every: int | None = 100, n: int = 500, random_state: int = 0, run_dir=None
    ) -> None:
        if every is not None and (
            isinstance(every, bool) or not isinstance(every, int) or every < 1
        ):
            raise InvalidParameterError(f"every must be a positive int or None; got {every!r}.")
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise InvalidParameterError(f"n must be a positive int; got {n!r}.")
        self.every = every
        self.n = n
        self.random_state = random_state
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.snapshots: dict[int, np.ndarray] = {}

    def record(self, model, iteration: int | None = None) -> np.ndarray:
        """Draw and keep a snapshot of ``model`` now; returns the samples."""
        iteration = int(model.n_iter_ if iteration is None else iteration)
        samples = model.sample(self.n, random_state=self.random_state)
        self.snapshots[iteration] = samples
        if self.run_dir is not None:
            folder = self.run_dir / "samples"
            folder.mkdir(parents=True, exist_ok=True)
            np.save(folder / f"iter_{iteration:07d}.npy", samples)
        return samples

    def on_iteration_end(self, model, iteration: int, record: dict) -> None:
        if self.every is not None and iteration % self.every == 0:
            self.record(model, iteration)

    def on_train_end(self, model) -> None:
        if self.every is not None and getattr(model, "n_iter_", 0) not in self.snapshots:
            if hasattr(model, "generator_"):
                self.record(model)


def load_snapshots(folder) -> dict[int, np.ndarray]:
    """Read the ``iter_*.npy`` files :class:`SampleSnapshots` wrote, by iteration.

    ``folder`` is the run folder or its ``samples/`` folder.
    """
    folder = Path(folder)
    if (folder / "samples").is_dir():
        folder = folder / "samples"
    found = {}
    for entry in os.scandir(folder):
        match = _SNAPSHOT_NAME.match(entry.name)
        if match:
            found[int(match.group(1))] = np.load(entry.path, allow_pickle=False)
    return dict(sorted(found.items()))


def _snapshot_items(snapshots) -> list[tuple[int, np.ndarray]]:
    if isinstance(snapshots, SampleSnapshots):
        snapshots = snapshots.snapshots
    elif isinstance(snapshots, (str, os.PathLike)):
        snapshots = load_snapshots(snapshots)
    if isinstance(snapshots, Mapping):
        items = list(snapshots.items())
    elif isinstance(snapshots, Iterable):
        items = list(snapshots)
    else:
        raise InvalidParameterTypeError(
            "snapshots must be a SampleSnapshots, a dict {iteration: samples}, a list of "
            f"(iteration, samples) pairs or a run folder; got {type(snapshots).__name__}."
        )
    items = sorted((int(i), np.asarray(s, dtype=np.float64)) for i, s in items)
    if not items:
        raise InvalidDataError("snapshots is empty; train with a SampleSnapshots callback first.")
    return items


def _pick(items: Sequence, k: int) -> list:
    """``k`` items spread evenly over the sequence, first and last included."""
    if len(items) <= k:
        return list(items)
    index = np.unique(np.round(np.linspace(0, len(items) - 1, k)).astype(int))
    return [items[i] for i in index]


def samples_over_time(snapshots, real=None, max_panels: int = 6, path=None):
    """Generated samples at several iterations, side by side.

    2-D samples are drawn as points (over ``real`` when given, on shared
    axes); square images as a 4x4 grid per iteration; other data as the
    first two features.

    Parameters
    ----------
    snapshots : SampleSnapshots, dict of int to array, list of (int, array), or path
        Samples by iteration; a path is a run folder (or its ``samples/``).
    real : array_like of shape (m, d), optional
    max_panels : int, default 6
        At most this many iterations, spread evenly (first and last kept).
    path : str or os.PathLike, optional

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> fig = samples_over_time({10: rng.normal(size=(20, 2)), 20: rng.normal(size=(20, 2))})
    >>> [ax.get_title() for ax in fig.axes]
    ['iteration 10', 'iteration 20']
    """
    items = _pick(_snapshot_items(snapshots), max(1, int(max_panels)))
    n_features = items[0][1].shape[1]
    side = math.isqrt(n_features)
    as_images = n_features > 2 and side * side == n_features
    panels = len(items)
    cols = min(panels, 3)
    rows = math.ceil(panels / cols)
    fig = _new_figure(3.3 * cols, 3.2 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False).ravel())
    if not as_images:
        clouds = [s[:, :2] for _, s in items]
        if real is not None:
            real = np.asarray(real, dtype=np.float64)[:, :2]
            clouds.append(real)
        low, high = _plot_limits(*clouds)
    for ax, (iteration, samples) in zip(axes, items):
        if as_images:
            _draw_images(ax, samples, 4, 4)
        else:
            if real is not None:
                ax.scatter(real[:, 0], real[:, 1], s=3, c=REAL_COLOUR, lw=0, alpha=0.5)
            ax.scatter(samples[:, 0], samples[:, 1], s=3, c=FAKE_COLOUR, lw=0, alpha=0.8)
            ax.set_xlim(low[0], high[0])
            ax.set_ylim(low[1], high[1])
            ax.set_aspect("equal", adjustable="box")
            ax.tick_params(labelsize=7)
        ax.set_title(f"iteration {iteration}", fontsize=10)
    for ax in axes[panels:]:
        fig.delaxes(ax)
    return _finish(fig, path)


# ---------------------------------------------------------------------------
# Tables: marginals and dependence
# ---------------------------------------------------------------------------

_MAX_CATEGORIES = 12
_MISSING_LABEL = "(missing)"


def _check_tables(real, synthetic, discrete_columns):
    """Both frames, their shared columns in real's order, and the discrete ones."""
    from .tabular.scores import check_frames

    discrete, _ = check_frames(real, synthetic, discrete_columns)
    return list(real.columns), set(discrete)


def _short(label, width: int = 22) -> str:
    text = str(label)
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _category_shares(series) -> dict:
    """Category label -> share of rows, missing values as ``(missing)``."""
    import pandas as pd

    counts = series.value_counts(normalize=True, dropna=False, sort=False)
    shares: dict = {}
    for value, share in counts.items():
        label = _MISSING_LABEL if pd.isna(value) else str(value)
        shares[label] = shares.get(label, 0.0) + float(share)
    return shares


def _draw_discrete(ax, real_col, synth_col):
    real_shares, synth_shares = _category_shares(real_col), _category_shares(synth_col)
    labels = sorted(
        set(real_shares) | set(synth_shares),
        key=lambda c: (-real_shares.get(c, 0.0), -synth_shares.get(c, 0.0), c),
    )
    if len(labels) > _MAX_CATEGORIES:  # the rarest real categories pooled into one bar
        kept, rest = labels[: _MAX_CATEGORIES - 1], labels[_MAX_CATEGORIES - 1 :]
        for shares in (real_shares, synth_shares):
            shares["other"] = sum(shares.pop(c, 0.0) for c in rest) + shares.get("other", 0.0)
        labels = kept + ["other"]
    x = np.arange(len(labels))
    width = 0.4
    ax.bar(x - width / 2, [real_shares.get(c, 0.0) for c in labels], width, color=REAL_COLOUR)
    ax.bar(x + width / 2, [synth_shares.get(c, 0.0) for c in labels], width, color=FAKE_COLOUR)
    ax.set_xticks(x)
    rotate = len(labels) > 6 or sum(len(c) for c in labels) > 30
    ax.set_xticklabels(
        [_short(c, 12) for c in labels],
        rotation=45 if rotate else 0,
        ha="right" if rotate else "center",
        fontsize=7,
    )
    ax.set_ylabel("share of rows", fontsize=7)


def _draw_continuous(ax, real_col, synth_col):
    real_values = real_col.to_numpy(dtype=np.float64, na_value=np.nan)
    synth_values = synth_col.to_numpy(dtype=np.float64, na_value=np.nan)
    real_values = real_values[np.isfinite(real_values)]
    synth_values = synth_values[np.isfinite(synth_values)]
    pooled = np.concatenate([real_values, synth_values])
    if pooled.size == 0:
        ax.text(0.5, 0.5, "no values", ha="center", va="center", transform=ax.transAxes)
        return
    low, high = float(pooled.min()), float(pooled.max())
    if np.all(pooled == np.round(pooled)) and high - low <= 40:
        edges = np.arange(low - 0.5, high + 1.5)  # one bar per integer
    else:
        edges = np.histogram_bin_edges(pooled, bins=min(30, max(5, int(np.sqrt(pooled.size)))))
    for values, colour in ((real_values, REAL_COLOUR), (synth_values, FAKE_COLOUR)):
        if values.size:
            ax.hist(values, bins=edges, density=True, color=colour, alpha=0.45, lw=0)
            ax.hist(values, bins=edges, density=True, color=colour, histtype="step", lw=1.2)
    ax.set_ylabel("density", fontsize=7)


def marginals(
    real,
    synthetic,
    columns=None,
    max_columns: int = 12,
    discrete_columns=None,
    scores: Mapping | None = None,
    path=None,
):
    """Each column's distribution, real (orange) against synthetic (green).

    One panel per column, four to a row: overlaid density histograms on
    shared bins for continuous columns (one bar per integer for integer
    columns spanning at most 40 values), and side-by-side bars of category
    shares for discrete ones (categories ordered by their real share, the
    rarest pooled into ``other`` beyond 12, missing values shown as
    ``(missing)``). A continuous column's missing values are left out of its
    histogram; its title gives their share in each table.

    Parameters
    ----------
    real, synthetic : pandas.DataFrame
        ``synthetic`` holds at least the columns of ``real``.
    columns : list, optional
        Which columns, in this order; default all of ``real``'s.
    max_columns : int, default 12
        Draw at most this many panels (the first ones); the figure's title
        says how many were left out.
    discrete_columns : list, optional
        Default: :func:`wgangp.metrics.infer_discrete_columns` on ``real``.
    scores : mapping of column to float, optional
        Shown in each panel's title, e.g. the column shapes of
        :func:`wgangp.metrics.tabular_report`.
    path : str or os.PathLike, optional

    Returns
    -------
    matplotlib.figure.Figure
        One axes per drawn column.

    Examples
    --------
    >>> import pandas as pd
    >>> real = pd.DataFrame({"x": np.arange(20.0), "k": ["a", "b"] * 10})
    >>> fig = marginals(real, real.assign(x=real["x"] + 1))
    >>> [ax.get_title() for ax in fig.axes]
    ['x', 'k']
    """
    names, discrete = _check_tables(real, synthetic, discrete_columns)
    if columns is not None:
        unknown = [c for c in columns if c not in names]
        if unknown:
            raise InvalidParameterError(
                f"columns names {unknown}, which are not columns of real; columns are {names}."
            )
        names = list(columns)
    if isinstance(max_columns, bool) or not isinstance(max_columns, int) or max_columns < 1:
        raise InvalidParameterError(f"max_columns must be an int >= 1; got {max_columns!r}.")
    if not names:
        raise InvalidDataError("real has no columns to draw.")
    shown = names[:max_columns]
    cols = min(len(shown), 4)
    rows = math.ceil(len(shown) / cols)
    fig = _new_figure(3.0 * cols + 0.4, 2.5 * rows + 0.5)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, name in zip(axes, shown):
        if name in discrete:
            _draw_discrete(ax, real[name], synthetic[name])
        else:
            _draw_continuous(ax, real[name], synthetic[name])
            missing = (real[name].isna().mean(), synthetic[name].isna().mean())
            if max(missing) > 0:
                ax.set_xlabel(
                    f"missing: {100 * missing[0]:.0f}% real, {100 * missing[1]:.0f}% synthetic",
                    fontsize=7,
                )
        title = _short(name, 28)
        if scores is not None and name in scores:
            title = f"{title}  ({float(scores[name]):.2f})"
        ax.set_title(title, fontsize=9)
    for ax in axes[len(shown) :]:
        fig.delaxes(ax)
    for ax in axes[: len(shown)]:
        ax.tick_params(labelsize=7)
        ax.grid(True, axis="y", alpha=0.3)
    from matplotlib.patches import Patch

    fig.legend(
        [Patch(color=REAL_COLOUR, alpha=0.7), Patch(color=FAKE_COLOUR, alpha=0.7)],
        [f"real ({len(real)} rows)", f"synthetic ({len(synthetic)} rows)"],
        loc="outside upper center",
        ncols=2,
        fontsize=9,
    )
    if len(names) > len(shown):
        fig.suptitle(
            f"first {len(shown)} of {len(names)} columns",
            fontsize=9,
            color="0.4",
            x=0.99,
            ha="right",
        )
    return _finish(fig, path)


def correlation_heatmaps(real, synthetic, discrete_columns=None, path=None):
    """Column associations of the real and synthetic tables, and their difference.

    Three heatmaps side by side: the association matrix of ``real``, that of
    ``synthetic`` (both on one scale from -1 to 1), and ``|real - synthetic|``
    (0 to 1; differences above 1, possible between Pearson coefficients of
    opposite signs, take the top colour). The association is that of
    :func:`wgangp.metrics.association_matrix`, the measures behind
    :func:`wgangp.metrics.column_pair_trends`: Pearson's r between two
    continuous columns (signed), Cramer's V (0 to 1) for any pair with a
    discrete column, a continuous column binned into 10 equal-width bins
    first. Cramer's V rather than one-hot correlations so that each column
    stays one row and one column of the matrix. Cells are annotated when
    there are at most 12 columns; NaN cells (a constant column) are grey.

    Parameters
    ----------
    real, synthetic : pandas.DataFrame
    discrete_columns : list, optional
        Default: :func:`wgangp.metrics.infer_discrete_columns` on ``real``.
    path : str or os.PathLike, optional

    Returns
    -------
    matplotlib.figure.Figure
        Five axes: the three heatmaps, then the colour bars of the
        association and of the difference.

    Examples
    --------
    >>> import pandas as pd
    >>> real = pd.DataFrame({"x": np.arange(20.0), "y": np.arange(20.0) ** 2, "k": ["a", "b"] * 10})
    >>> fig = correlation_heatmaps(real, real.assign(y=-real["y"]))
    >>> [ax.get_title() for ax in fig.axes[:3]]
    ['real', 'synthetic', '|real - synthetic|']
    """
    from .metrics import association_matrix

    names, discrete = _check_tables(real, synthetic, discrete_columns)
    discrete = [c for c in names if c in discrete]
    synthetic = synthetic[names]
    real_assoc = association_matrix(real, discrete).to_numpy()
    synth_assoc = association_matrix(synthetic, discrete).to_numpy()
    difference = np.abs(real_assoc - synth_assoc)
    k = len(names)
    labels = [_short(c, 18) for c in names]
    side = min(max(2.2, 0.17 * k + 1.0), 4.2)  # inches per heatmap
    label_room = 0.075 * max(len(label) for label in labels)  # the rotated column names
    fig = _new_figure(3 * side + 0.6 + label_room, 0.85 * side + label_room + 0.45)
    tick_size = 8 if k <= 16 else 6
    axes = fig.subplots(1, 3)
    annotate = k <= 12
    images = []
    for ax, matrix, title, cmap, limits in (
        (axes[0], real_assoc, "real", "RdBu_r", (-1.0, 1.0)),
        (axes[1], synth_assoc, "synthetic", "RdBu_r", (-1.0, 1.0)),
        (axes[2], difference, "|real - synthetic|", "Reds", (0.0, 1.0)),
    ):
        colours = _colormap(cmap)
        images.append(ax.imshow(matrix, cmap=colours, vmin=limits[0], vmax=limits[1]))
        ax.set_title(title, fontsize=10)
        ax.set_xticks(np.arange(k))
        ax.set_yticks(np.arange(k))
        ax.set_xticklabels(labels, rotation=90, fontsize=tick_size)
        ax.set_yticklabels(labels if ax is axes[0] else [], fontsize=tick_size)
        if annotate:
            for i in range(k):
                for j in range(k):
                    if np.isfinite(matrix[i, j]):
                        strong = abs(matrix[i, j]) > 0.6 * limits[1]
                        ax.text(
                            j,
                            i,
                            f"{matrix[i, j]:.2f}",
                            ha="center",
                            va="center",
                            fontsize=6 if k > 6 else 7,
                            color="white" if strong else "0.15",
                        )
    fig.colorbar(images[0], ax=axes[:2], shrink=0.9, label="Pearson r / Cramer's V")
    fig.colorbar(images[2], ax=axes[2], shrink=0.9, extend="max", label="absolute difference")
    return _finish(fig, path)


def _colormap(name: str):
    """A copy of a named colormap that paints NaN light grey."""
    import matplotlib

    return matplotlib.colormaps[name].with_extremes(bad="0.85")
