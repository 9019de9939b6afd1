"""Figures of generated samples, and the callback that keeps them during training.

* :func:`samples_2d`: 2-D points over real data, with the critic's contour
  (the toy figures of Gulrajani et al. 2017).
* :func:`digit_grid`: a grid of images, e.g. generated 8x8 digits.
* :class:`SampleSnapshots`: a training callback that keeps generated samples
  at regular iterations (in memory, and as ``.npy`` files under a run
  folder's ``samples/``, read back by :func:`load_snapshots`);
  :func:`samples_over_time` sets them side by side.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from ..errors import InvalidDataError, InvalidParameterError, InvalidParameterTypeError
from ..train import Callback
from .figure import (
    FAKE_COLOUR,
    REAL_COLOUR,
    colormap_with_nan,
    finish_figure,
    new_figure,
    panel_grid,
)

__all__ = ["SampleSnapshots", "digit_grid", "load_snapshots", "samples_2d", "samples_over_time"]

_SNAPSHOT_NAME = re.compile(r"^iter_(\d+)\.npy$")


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

    fig = new_figure(6.4, 5.4)
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
    return finish_figure(fig, path)


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
    cmap = colormap_with_nan("gray_r", "#ffffff")  # the gaps between images white
    ax.imshow(_mosaic(images, rows, cols), cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_axis_off()


def digit_grid(
    samples,
    shape: tuple[int, int] = (8, 8),
    image_shape=None,
    random_state=0,
    path=None,
    real=None,
):
    """A grid of images, e.g. generated 8x8 digits, beside real ones when given.

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
        Noise for a model (and the draw of real images).
    path : str or os.PathLike, optional
    real : array_like of shape (m, h*w), optional
        Real images: a grid of the same size, drawn from them, stands beside
        the generated one, on the same scale.

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
    panels = [("generated", samples)]
    if real is not None:
        real = np.asarray(real, dtype=np.float64).reshape(len(real), -1)
        if real.shape[1] != samples.shape[1]:
            raise InvalidDataError(
                f"real images have {real.shape[1]} pixels, the samples {samples.shape[1]}"
            )
        pick = np.random.default_rng(random_state).permutation(len(real))[: rows * cols]
        panels.append(("real", real[pick]))
    size = 0.9  # inches per 8 pixels: the digits readable at a glance
    fig = new_figure(
        max(2.5, size * cols * w / 8) * len(panels), max(2.5, size * rows * h / 8) + 0.3
    )
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, images) in zip(axes, panels):
        _draw_images(ax, images, rows, cols, (h, w))
        if real is not None:
            ax.set_title(title)
    return finish_figure(fig, path)


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
    fig, axes = panel_grid(len(items), 3, 3.3, 3.2)
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
    return finish_figure(fig, path)
