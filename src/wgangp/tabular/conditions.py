"""Training-by-sampling: conditions over the discrete columns and matching real rows."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from ..errors import InvalidParameterError, InvalidParameterTypeError
from .frames import import_pandas, json_value

logger = logging.getLogger(__name__)

__all__ = ["ConditionSampler", "condition_targets"]


class ConditionSampler:
    """Conditions and matching real rows, as CTGAN's training-by-sampling.

    A condition picks a discrete column uniformly, then a category with
    probability proportional to ``log(1 + count)`` (``log_frequency``) or to
    ``count``; a real row with that category is drawn uniformly. The
    condition vector is the one-hot of all discrete columns side by side,
    with only the chosen column's block set.

    Parameters
    ----------
    codes : int array, shape (rows, n_discrete)
        Category index per row and discrete column.
    cards : list of int
        Categories per discrete column.
    """

    def __init__(self, codes: np.ndarray, cards: Sequence[int], log_frequency: bool = True):
        self.n_rows = codes.shape[0]
        self.cards = [int(c) for c in cards]
        self.offsets = np.concatenate([[0], np.cumsum(self.cards)[:-1]]).astype(np.intp)
        self.cond_dim = int(sum(self.cards))
        self.orders, self.starts, self.counts, self.cum_train, self.cum_true = [], [], [], [], []
        for j, card in enumerate(self.cards):
            col = codes[:, j]
            self.orders.append(np.argsort(col, kind="stable"))
            counts = np.bincount(col, minlength=card)
            self.counts.append(counts)
            self.starts.append(np.concatenate([[0], np.cumsum(counts)[:-1]]))
            weights = np.log1p(counts) if log_frequency else counts.astype(float)
            self.cum_train.append(np.cumsum(weights / weights.sum()))
            self.cum_true.append(np.cumsum(counts / counts.sum()))

    def sample_condition(self, batch: int, rng, original: bool = False):
        """``(columns, categories)``, each of shape (batch,)."""
        cols = rng.integers(len(self.cards), size=batch)
        cats = np.empty(batch, dtype=np.intp)
        u = rng.random(batch)
        for j in range(len(self.cards)):
            rows = cols == j
            cum = (self.cum_true if original else self.cum_train)[j]
            cats[rows] = np.minimum(np.searchsorted(cum, u[rows], side="right"), self.cards[j] - 1)
        return cols, cats

    def vector(self, cols, cats, dtype) -> np.ndarray:
        out = np.zeros((len(cols), self.cond_dim), dtype=dtype)
        out[np.arange(len(cols)), self.offsets[cols] + cats] = 1
        return out

    def sample_rows(self, cols, cats, rng) -> np.ndarray:
        """A real row index per condition, uniform among rows with that category."""
        idx = np.empty(len(cols), dtype=np.intp)
        u = rng.random(len(cols))
        for j in range(len(self.cards)):
            rows = cols == j
            c = cats[rows]
            pos = self.starts[j][c] + np.floor(u[rows] * self.counts[j][c]).astype(np.intp)
            idx[rows] = self.orders[j][pos]
        return idx


# --------------------------------------------------------------------------- #


def condition_targets(transformer, conditions: dict) -> list[tuple[int, int, int, int]]:
    """(output start, cond start, width, category code) per condition, validated."""
    if not isinstance(conditions, dict) or not conditions:
        raise InvalidParameterTypeError(
            f"conditions={conditions!r} must be a non-empty dict {{column: value}}"
        )
    specs = transformer.columns_
    names = [s["name"] for s in specs]
    out = []
    cond_start = 0
    starts = {}
    for b in transformer.output_info_:
        if b["role"] == "category":
            starts[b["column"]] = (b["start"], cond_start, b["width"])
            cond_start += b["width"]
    for column, value in conditions.items():
        if column not in names:
            raise InvalidParameterError(
                f"conditions names {column!r}, which is not a column; columns are {names}"
            )
        i = names.index(column)
        spec = specs[i]
        if spec["kind"] != "discrete":
            discrete = [s["name"] for s in specs if s["kind"] == "discrete"]
            raise InvalidParameterError(
                f"conditions: column {column!r} is continuous; condition on a discrete "
                f"column ({discrete}) or refit with it in discrete_columns"
            )
        pd = import_pandas()
        if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA:
            code = len(spec["categories"]) if spec["has_null"] else None
        else:
            lookup = {v: k for k, v in enumerate(spec["categories"])}
            code = lookup.get(json_value(value))
        if code is None:
            raise InvalidParameterError(
                f"conditions: {column!r} never takes the value {value!r} in the training "
                f"data; known values: {spec['categories'][:20]}"
            )
        out.append((*starts[i], code))
    return out
