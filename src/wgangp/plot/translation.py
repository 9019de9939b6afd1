"""Figures of a translation: where the translator sends the source rows."""

from __future__ import annotations

import numpy as np

from ..errors import InvalidDataError
from .figure import FAKE_COLOUR, REAL_COLOUR, finish_figure, new_figure, panel_grid
from .samples import digit_grid
from .tables import MISSING_LABEL, category_shares

__all__ = ["translation_arrows", "translation_marginals", "translation_rows"]

SOURCE_COLOUR = "#1f77b4"


def _pick(X: np.ndarray, n: int, seed: int) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if len(X) <= n:
        return X
    return X[np.random.default_rng(seed).choice(len(X), n, replace=False)]


def translation_arrows(translator, source, target, n: int = 300, random_state=0, path=None):
    """2-D data: an arrow from each source point to its translation, over the target cloud.

    Orange: target rows; blue: source rows; green arrow heads: ``transform``.

    >>> import wgangp
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.normal(size=(64, 2)), rng.normal(3, 1, size=(64, 2))
    >>> t = wgangp.Translator(hidden=8, batch_size=32, random_state=0).fit(A, B, steps=2)
    >>> len(translation_arrows(t, A, B, n=20).axes)
    1
    """
    source, target = _pick(source, n, random_state), _pick(target, n, random_state + 1)
    if source.shape[1] != 2:
        raise InvalidDataError(f"translation_arrows draws 2-D data; got {source.shape[1]} columns")
    moved = translator.transform(source)
    fig = new_figure(6.0, 5.5)
    ax = fig.add_subplot()
    ax.scatter(target[:, 0], target[:, 1], s=6, color=REAL_COLOUR, alpha=0.5, label="target")
    ax.scatter(source[:, 0], source[:, 1], s=6, color=SOURCE_COLOUR, alpha=0.6, label="source")
    ax.quiver(
        source[:, 0],
        source[:, 1],
        moved[:, 0] - source[:, 0],
        moved[:, 1] - source[:, 1],
        angles="xy",
        scale_units="xy",
        scale=1,
        width=0.002,
        color=FAKE_COLOUR,
        alpha=0.7,
        label="translation",
    )
    ax.legend(loc="best", fontsize=8)
    ax.set_title("Source points and their translations, over the target")
    return finish_figure(fig, path)


def translation_rows(translator, source, n: int = 10, random_state=0, path=None):
    """Images: rows of source, translated (A to B) and cycled back (B to A) images."""
    source = _pick(source, n, random_state)
    moved = translator.transform(source)
    back = translator.inverse_transform(moved)
    return digit_grid(np.concatenate([source, moved, back]), shape=(3, len(source)), path=path)


def translation_marginals(translator, source, target, max_columns: int = 12, path=None):
    """Each column's distribution: source, translated source and target, overlaid.

    For a translator fitted on tables (DataFrames), each discrete column is
    a bar chart of its categories' shares (missing values as a category of
    their own) in the three tables, and each continuous column three
    histograms over its non-missing values.
    """
    if getattr(translator, "transformer_", None) is not None:
        return _table_marginals(translator, source, target, max_columns, path)
    source = np.asarray(source, dtype=np.float64)
    target = np.asarray(target, dtype=np.float64)
    moved = translator.transform(source)
    shown = min(source.shape[1], max_columns)
    fig, axes = panel_grid(shown, 4, 3.0, 2.5, pad_width=0.4, pad_height=0.5)
    for j, ax in enumerate(axes[:shown]):
        pooled = np.concatenate([source[:, j], moved[:, j], target[:, j]])
        edges = np.histogram_bin_edges(pooled[np.isfinite(pooled)], bins=30)
        for values, colour, label in (
            (source[:, j], SOURCE_COLOUR, "source"),
            (moved[:, j], FAKE_COLOUR, "translated"),
            (target[:, j], REAL_COLOUR, "target"),
        ):
            ax.hist(
                values, bins=edges, density=True, histtype="step", lw=1.3, color=colour, label=label
            )
        ax.set_title(f"column {j}", fontsize=9)
    axes[0].legend(fontsize=7)
    return finish_figure(fig, path)


_MAX_BARS = 10


def _table_marginals(translator, source, target, max_columns: int, path):
    """:func:`translation_marginals` of a table translator: bars and histograms."""
    specs = translator.transformer_.columns_
    moved = translator.transform(source)
    shown = min(len(specs), max_columns)
    fig, axes = panel_grid(shown, 4, 3.0, 2.5, pad_width=0.4, pad_height=0.7)
    tables = (
        (source, SOURCE_COLOUR, "source"),
        (moved, FAKE_COLOUR, "translated"),
        (target, REAL_COLOUR, "target"),
    )
    for spec, ax in zip(specs[:shown], axes):
        name = spec["name"]
        if spec["kind"] == "discrete":
            shares = [category_shares(frame[name]) for frame, _, _ in tables]
            labels = [str(c) for c in spec["categories"]] + [MISSING_LABEL] * spec["has_null"]
            if len(labels) > _MAX_BARS:  # the categories most common in the three tables
                common = sorted(labels, key=lambda c: -sum(share.get(c, 0.0) for share in shares))
                labels = [c for c in labels if c in set(common[:_MAX_BARS])]
            x = np.arange(len(labels))
            for k, ((_, colour, label), share) in enumerate(zip(tables, shares)):
                heights = [share.get(c, 0.0) for c in labels]
                ax.bar(x + (k - 1) * 0.27, heights, 0.27, color=colour, label=label)
            ax.set_xticks(x)
            ax.set_xticklabels(
                [str(c)[:10] for c in labels], rotation=45 if len(labels) > 4 else 0, fontsize=7
            )
            ax.set_ylabel("share of rows", fontsize=7)
        else:
            values = [
                frame[name].to_numpy(dtype=np.float64, na_value=np.nan) for frame, _, _ in tables
            ]
            values = [v[np.isfinite(v)] for v in values]
            pooled = np.concatenate(values)
            edges = np.histogram_bin_edges(pooled, bins=30) if pooled.size else 10
            for v, (_, colour, label) in zip(values, tables):
                if v.size:
                    ax.hist(
                        v, bins=edges, density=True, histtype="step", lw=1.3, color=colour,
                        label=label,
                    )  # fmt: skip
        ax.set_title(str(name)[:30], fontsize=9)
    axes[0].legend(fontsize=7)
    return finish_figure(fig, path)
