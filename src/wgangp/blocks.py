"""Column statistics and row maps of a large array, a block of rows at a time.

``X.std(axis=0)`` makes two temporaries the size of ``X`` (the deviations
and their squares), and ``(X - m) / s`` two more: on a 5,000,000-row table
that is gigabytes above the data itself. The functions here go through
``BLOCK_ROWS`` rows at a time, so a whole-column statistic or an
elementwise map needs memory for one block beyond the data (and, for a
map, its output).

Sums run over the blocks in order; NumPy's own reduction over axis 0 of a
C-ordered array also adds rows in order, so results agree with it to
rounding, not necessarily to the last bit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import numpy as np

BLOCK_ROWS = 1 << 16
"""Rows per block: 65,536 rows of 20 float64 columns are 10 MiB."""


def row_slices(n_rows: int, block: int = BLOCK_ROWS) -> Iterator[slice]:
    """Consecutive slices of at most ``block`` rows covering ``range(n_rows)``."""
    for start in range(0, n_rows, block):
        yield slice(start, min(start + block, n_rows))


def column_abs_max(X: np.ndarray, block: int = BLOCK_ROWS) -> np.ndarray:
    """``np.abs(X).max(axis=0)`` in float64 (0 for an array of no rows).

    >>> column_abs_max(np.array([[1.0, -3.0], [-2.0, 1.0]]), block=1)
    array([2., 3.])
    """
    if hasattr(X, "column_abs_max"):  # a file read in parts knows it (wgangp.data.RowStream)
        return X.column_abs_max()
    out = np.zeros(X.shape[1])
    for rows in row_slices(X.shape[0], block):
        np.maximum(out, np.abs(X[rows]).max(axis=0), out=out)
    return out


def _mix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser, elementwise on uint64 (wrapping arithmetic)."""
    x = x ^ (x >> np.uint64(30))
    x = x * np.uint64(0xBF58476D1CE4E5B9)
    x = x ^ (x >> np.uint64(27))
    x = x * np.uint64(0x94D049BB133111EB)
    return x ^ (x >> np.uint64(31))


def rows_hash(rows: np.ndarray) -> int:
    """The sum (mod 2**64) of a 64-bit hash of each row's float64 values: the part
    of :func:`row_hash_sum` that these rows add (any split of the rows adds up)."""
    salt = np.arange(rows.shape[1], dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    odd = np.uint64(2) * salt + np.uint64(1)
    bits = np.ascontiguousarray(rows, np.float64).view(np.uint64)
    with np.errstate(over="ignore"):
        per_row = _mix64((_mix64(bits + salt) * odd).sum(axis=1))
        return int(per_row.sum(dtype=np.uint64))


def row_hash_sum(X: np.ndarray, block: int = BLOCK_ROWS) -> int:
    """The sum (mod 2**64) of a 64-bit hash of each row's float64 values (the
    training data's fingerprint), a block of rows at a time.

    >>> row_hash_sum(np.ones((3, 2))) == (row_hash_sum(np.ones((1, 2))) * 3) % 2**64
    True
    """
    if hasattr(X, "row_hash_sum"):  # a file read in parts knows it (wgangp.data.RowStream)
        return X.row_hash_sum()
    return sum(rows_hash(X[rows]) for rows in row_slices(X.shape[0], block)) % 2**64


_smallest, _largest = np.minimum.reduce, np.maximum.reduce


def value_range(X: np.ndarray, block: int = BLOCK_ROWS) -> tuple[float, float]:
    """The smallest and the largest value of ``X`` (at least one row), a block of
    rows at a time: one pass over ``X``. Both are NaN when ``X`` holds a NaN
    (NumPy's minimum and maximum keep NaN), so the values are all finite
    exactly when both ends are.

    >>> value_range(np.array([[1.0, -3.0], [2.0, 5.0]]), block=1)
    (-3.0, 5.0)
    >>> value_range(np.array([[1.0], [np.nan], [2.0]]), block=1)
    (nan, nan)
    """
    low = high = None
    for rows in row_slices(X.shape[0], block):
        part = X[rows]
        # the reductions of part.min() and part.max(), without their Python wrappers
        lo, hi = float(_smallest(part, axis=None)), float(_largest(part, axis=None))
        if math.isnan(lo) or math.isnan(hi):
            return math.nan, math.nan
        low = lo if low is None else min(low, lo)
        high = hi if high is None else max(high, hi)
    return low, high


def all_finite(X: np.ndarray, block: int = BLOCK_ROWS) -> bool:
    """Whether every value of ``X`` is finite (no NaN, no infinity).

    >>> all_finite(np.array([[1.0], [np.nan]]), block=1)
    False
    """
    return X.shape[0] == 0 or all(math.isfinite(end) for end in value_range(X, block))


def mean_std(
    X: np.ndarray,
    unit: np.ndarray | float = 1.0,
    *,
    total: Callable[[np.ndarray], np.ndarray] | None = None,
    n_rows: int | None = None,
    block: int = BLOCK_ROWS,
) -> tuple[np.ndarray, np.ndarray]:
    """Column means and population standard deviations of ``X / unit``, in float64.

    Two passes, as ``np.std`` makes them: the mean, then the mean of the
    squared deviations from it. ``total`` sums a per-column vector over the
    parts of a data set held elsewhere (the ranks of a data-parallel run),
    and ``n_rows`` is then the rows of all parts. Overflow gives ``inf``
    (under ``np.errstate`` the caller chooses), as ``np.std`` does.

    >>> X = np.array([[1.0, 10.0], [3.0, 30.0], [5.0, 20.0]])
    >>> m, s = mean_std(X, block=2)
    >>> bool(np.allclose(m, X.mean(axis=0)) and np.allclose(s, X.std(axis=0)))
    True
    """
    total = total or (lambda v: v)
    n = X.shape[0] if n_rows is None else n_rows
    sums = np.zeros(X.shape[1])
    for rows in row_slices(X.shape[0], block):
        sums += (X[rows] / unit).sum(axis=0)
    mean = total(sums) / n
    squares = np.zeros(X.shape[1])
    for rows in row_slices(X.shape[0], block):
        deviation = X[rows] / unit
        deviation -= mean
        deviation *= deviation
        squares += deviation.sum(axis=0)
    return mean, np.sqrt(total(squares) / n)


def map_rows(
    X: np.ndarray,
    f: Callable[[np.ndarray], np.ndarray],
    dtype,
    block: int = BLOCK_ROWS,
) -> np.ndarray:
    """``f(X)`` as a new array of ``dtype``, computed a block of rows at a time.

    ``f`` maps a block of rows to the same number of rows (any number of
    columns the first block decides).

    >>> map_rows(np.arange(6.0).reshape(3, 2), lambda b: b * 2, np.float32, block=2)
    array([[ 0.,  2.],
           [ 4.,  6.],
           [ 8., 10.]], dtype=float32)
    """
    out = None
    for rows in row_slices(X.shape[0], block):
        part = f(X[rows])
        if out is None:
            out = np.empty((X.shape[0],) + part.shape[1:], dtype=dtype)
        out[rows] = part
    if out is None:
        out = np.asarray(f(X), dtype=dtype)
    return out
