"""Figures that set a synthetic table beside the real one (pandas DataFrames).

:func:`marginals` draws each column's distribution in both tables;
:func:`correlation_heatmaps` their column associations and the difference.
Both serve the fidelity report of :func:`wgangp.report.write_tabular_report`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..errors import InvalidDataError, InvalidParameterError
from .figure import (
    FAKE_COLOUR,
    REAL_COLOUR,
    colormap_with_nan,
    finish_figure,
    new_figure,
    panel_grid,
)

__all__ = ["MISSING_LABEL", "category_shares", "correlation_heatmaps", "marginals"]

_MAX_CATEGORIES = 12
#: How a missing value of a discrete column is labelled, in figures and reports.
MISSING_LABEL = "(missing)"


def _check_tables(real, synthetic, discrete_columns):
    """Both frames, their shared columns in real's order, and the discrete ones."""
    from ..tabular.scores import check_frames

    discrete, _ = check_frames(real, synthetic, discrete_columns)
    return list(real.columns), set(discrete)


def _short(label, width: int = 22) -> str:
    text = str(label)
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def category_shares(series) -> dict:
    """Category label -> share of rows, missing values as ``(missing)``."""
    import pandas as pd

    counts = series.value_counts(normalize=True, dropna=False, sort=False)
    shares: dict = {}
    for value, share in counts.items():
        label = MISSING_LABEL if pd.isna(value) else str(value)
        shares[label] = shares.get(label, 0.0) + float(share)
    return shares


def _draw_discrete(ax, real_col, synth_col, log_scale="auto"):
    real_shares, synth_shares = category_shares(real_col), category_shares(synth_col)
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
    shares = [v for v in (*real_shares.values(), *synth_shares.values()) if v > 0]
    if log_scale == "auto":
        log_scale = bool(shares) and min(shares) < max(shares) / 50  # a rare class
    if log_scale:
        ax.set_yscale("log")
    ax.set_ylabel("share of rows" + (" (log)" if log_scale else ""), fontsize=7)


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
    log_scale="auto",
):
    """Each column's distribution, real (orange) against synthetic (green).

    One panel per column, four to a row: overlaid density histograms on
    shared bins for continuous columns (one bar per integer for integer
    columns spanning at most 40 values), and side-by-side bars of category
    shares for discrete ones (categories ordered by their real share, the
    rarest pooled into ``other`` beyond 12, missing values shown as
    ``(missing)``; on a log scale where a category is rare). A continuous
    column's missing values are left out of its histogram; its title gives
    their share in each table.

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
    log_scale : bool or "auto", default "auto"
        Category shares on a log scale: always, never, or (``"auto"``) for a
        column whose rarest category is below 1/50 of its commonest, so that
        a rare class stays visible.

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
    fig, axes = panel_grid(len(shown), 4, 3.0, 2.5, pad_width=0.4, pad_height=0.5)
    for ax, name in zip(axes, shown):
        if name in discrete:
            _draw_discrete(ax, real[name], synthetic[name], log_scale)
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
    for ax in axes:
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
    return finish_figure(fig, path)


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
    from ..metrics import association_matrix

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
    fig = new_figure(3 * side + 0.6 + label_room, 0.85 * side + label_room + 0.45)
    tick_size = 8 if k <= 16 else 6
    axes = fig.subplots(1, 3)
    annotate = k <= 12
    images = []
    for ax, matrix, title, cmap, limits in (
        (axes[0], real_assoc, "real", "RdBu_r", (-1.0, 1.0)),
        (axes[1], synth_assoc, "synthetic", "RdBu_r", (-1.0, 1.0)),
        (axes[2], difference, "|real - synthetic|", "Reds", (0.0, 1.0)),
    ):
        colours = colormap_with_nan(cmap, "0.85")  # NaN cells (a constant column) grey
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
    return finish_figure(fig, path)
