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
    shard : wgangp.parallel.Shard, optional
        In a data-parallel run, ``codes`` are this rank's rows: the category
        counts (and so the conditions' probabilities) are summed over the
        ranks, and :meth:`real_rows` draws from all ranks' rows exactly as
        one process holding them all (in rank order) would.
    """

    def __init__(
        self, codes: np.ndarray, cards: Sequence[int], log_frequency: bool = True, shard=None
    ):
        self.n_rows = codes.shape[0]
        self.cards = [int(c) for c in cards]
        self.offsets = np.concatenate([[0], np.cumsum(self.cards)[:-1]]).astype(np.intp)
        self.cond_dim = int(sum(self.cards))
        self.shard = shard
        self.orders, self.starts, self.counts, self.cum_train, self.cum_true = [], [], [], [], []
        self.local_counts, self.local_starts, self.rank_ends = [], [], []
        local = [np.bincount(codes[:, j], minlength=c) for j, c in enumerate(self.cards)]
        # (ranks, categories) per column: every rank's counts, in rank order
        by_rank = [[c] for c in local] if shard is None else list(zip(*shard.allgather(local)))
        for j in range(len(self.cards)):
            col = codes[:, j]
            self.orders.append(np.argsort(col, kind="stable"))
            per_rank = np.stack(by_rank[j])
            counts = per_rank.sum(axis=0)
            self.counts.append(counts)
            self.starts.append(np.concatenate([[0], np.cumsum(counts)[:-1]]))
            self.local_counts.append(local[j])
            self.local_starts.append(np.concatenate([[0], np.cumsum(local[j])[:-1]]))
            self.rank_ends.append(np.cumsum(per_rank, axis=0))
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

    def real_rows(self, data: np.ndarray, cols, cats, rng) -> np.ndarray:
        """A real row of ``data`` per condition (:meth:`sample_rows`), over all ranks' rows.

        With a shard the ``q``-th row of a category, counted over all ranks
        in rank order, is the single process's choice for the same ``u``; its
        rank holds it and sends it (:meth:`wgangp.parallel.Shard.gather_rows`).
        """
        if self.shard is None:
            return data[self.sample_rows(cols, cats, rng)]
        rank = self.shard.rank
        owners = np.empty(len(cols), dtype=np.intp)
        local = np.zeros(len(cols), dtype=np.intp)
        u = rng.random(len(cols))
        for j in range(len(self.cards)):
            rows = np.flatnonzero(cols == j)
            c = cats[rows]
            q = np.floor(u[rows] * self.counts[j][c]).astype(np.intp)  # within the category
            ends = self.rank_ends[j][:, c]  # (ranks, rows)
            owner = (ends <= q).sum(axis=0)
            owners[rows] = owner
            mine = owner == rank
            begin = ends[rank, mine] - self.local_counts[j][c[mine]]
            pos = self.local_starts[j][c[mine]] + q[mine] - begin
            local[rows[mine]] = self.orders[j][pos]
        return self.shard.gather_rows(data, owners, local)


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
