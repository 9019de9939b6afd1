"""The training history: one metrics record per logged iteration, stored by column.

:class:`History` is what ``WGANGP.history_`` holds. It behaves like a list of
dict records (``len``, ``[-1]``, slices, iteration) but keeps each metric in
one growing float64 array, so a record costs 8 bytes per metric instead of a
Python dict (about 1 KB), and ``history.column("wasserstein")`` is an array
ready for plotting or for :func:`wgangp.diagnose`.

Bounded memory: the training loop builds a record every iteration, but only
*logged* ones are kept: every ``log_every``-th iteration and the last one of
each ``fit`` call. Memory therefore grows with what is logged, never with the
number of steps alone; ``history.jsonl`` in a run folder holds the same
records on disk.

This module sits at the level of the training loop (it needs NumPy only), so
that the estimator can own a history without importing the monitors.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

__all__ = ["History", "read_history", "write_csv"]


class History:
    """Metrics records stored column by column; reads like a list of dicts.

    Parameters
    ----------
    log_every : int
        Keep iteration ``i`` when ``i % log_every == 0`` (the training loop
        also keeps the last iteration of each call); see :meth:`should_log`.
    records : iterable of dict, optional
        Initial records.
    max_records : int
        The bound: when this many records are held, every other one is
        dropped and ``log_every`` doubles, so a run of any length keeps at
        most ``max_records`` records spread over the whole run (20,000 of 16
        metrics is 2.5 MB, also in each saved model file).

    Notes
    -----
    A key that appears in a later record gets a column filled with NaN for the
    earlier ones; a key missing from a record is NaN in that row. Integer
    columns (``iteration``) are returned as Python ints.

    Examples
    --------
    >>> h = History(log_every=10)
    >>> h.append({"iteration": 10, "wasserstein": 0.5})
    >>> h.append({"iteration": 20, "wasserstein": 0.25})
    >>> len(h), h[-1]["wasserstein"], h.column("wasserstein").tolist()
    (2, 0.25, [0.5, 0.25])
    >>> h.should_log(30), h.should_log(31)
    (True, False)
    """

    _INT_KEYS = ("iteration",)
    MAX_RECORDS = 20_000

    def __init__(
        self,
        log_every: int = 1,
        records: Iterable[dict] | None = None,
        max_records: int = MAX_RECORDS,
    ):
        self.log_every = int(log_every)
        self.max_records = max(2, int(max_records))
        self._columns: dict[str, np.ndarray] = {}
        self._size = 0
        self._capacity = 0
        for record in records or ():
            self.append(record)

    # ---------------------------------------------------------------- write --

    def should_log(self, iteration: int) -> bool:
        """True when ``iteration`` is one to keep (a multiple of ``log_every``)."""
        return iteration % self.log_every == 0

    def _grow(self, needed: int) -> None:
        capacity = max(64, self._capacity)
        while capacity < needed:
            capacity *= 2
        if capacity == self._capacity:
            return
        for key, col in self._columns.items():
            new = np.full(capacity, np.nan, dtype=col.dtype) if col.dtype.kind == "f" else None
            if new is None:
                new = np.zeros(capacity, dtype=col.dtype)
            new[: self._size] = col[: self._size]
            self._columns[key] = new
        self._capacity = capacity

    def append(self, record: dict) -> None:
        """Add one record (a dict of numbers); thin out first when at the bound."""
        if self._size >= self.max_records:
            self._thin()
        if self._size == self._capacity:
            self._grow(self._size + 1)
        row = self._size
        for key, value in record.items():
            col = self._columns.get(key)
            if col is None:
                if key in self._INT_KEYS:
                    col = np.zeros(self._capacity, dtype=np.int64)
                else:
                    col = np.full(self._capacity, np.nan, dtype=np.float64)
                self._columns[key] = col
            col[row] = np.nan if value is None else value
        for key, col in self._columns.items():
            if key not in record and col.dtype.kind == "f":
                col[row] = np.nan
        self._size += 1

    def _thin(self) -> None:
        """Keep the records of iterations that are multiples of twice ``log_every``
        (every other one when all were multiples of it), and double it."""
        self.log_every *= 2
        iterations = self._columns.get("iteration")
        if iterations is not None:
            keep = iterations[: self._size] % self.log_every == 0
        else:
            keep = np.zeros(self._size, dtype=bool)
        if keep.sum() > self._size // 2 + 1 or not keep.any():
            keep = np.zeros(self._size, dtype=bool)
            keep[1::2] = True
        kept = int(keep.sum())
        for col in self._columns.values():
            col[:kept] = col[: self._size][keep]
        self._size = kept

    def to_arrays(self) -> tuple[dict, dict[str, np.ndarray]]:
        """``({"log_every", "max_records", "columns"}, {column: array})``, for a model file."""
        info = {
            "log_every": self.log_every,
            "max_records": self.max_records,
            "columns": self.keys,
        }
        return info, {key: col[: self._size].copy() for key, col in self._columns.items()}

    @classmethod
    def from_arrays(cls, info: dict, columns: dict[str, np.ndarray]) -> History:
        """The inverse of :meth:`to_arrays` (the caller has checked the arrays)."""
        history = cls(int(info["log_every"]), max_records=int(info["max_records"]))
        sizes = {len(col) for col in columns.values()}
        size = sizes.pop() if sizes else 0
        history._grow(size)
        for key in info["columns"]:
            col = columns[key]
            dtype = np.int64 if key in cls._INT_KEYS else np.float64
            full = np.zeros(history._capacity, dtype=dtype)
            if dtype == np.float64:
                full[:] = np.nan
            full[:size] = col
            history._columns[key] = full
        history._size = size
        return history

    def extend(self, records: Iterable[dict]) -> None:
        for record in records:
            self.append(record)

    def truncate(self, last_iteration: int) -> None:
        """Drop records with ``iteration > last_iteration`` (used on resume)."""
        if "iteration" not in self._columns:
            return
        keep = int(np.count_nonzero(self._columns["iteration"][: self._size] <= last_iteration))
        self._size = keep

    # ----------------------------------------------------------------- read --

    @property
    def keys(self) -> list[str]:
        """Metric names, in the order they first appeared."""
        return list(self._columns)

    def column(self, key: str) -> np.ndarray:
        """One metric over the logged iterations (a copy; NaN where missing)."""
        if key not in self._columns:
            raise KeyError(f"{key!r} is not in the history; keys: {self.keys}")
        return self._columns[key][: self._size].copy()

    def _row(self, i: int) -> dict:
        out = {}
        for key, col in self._columns.items():
            value = col[i]
            out[key] = int(value) if col.dtype.kind in "iu" else float(value)
        return out

    def __len__(self) -> int:
        return self._size

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._row(i) for i in range(*index.indices(self._size))]
        i = index + self._size if index < 0 else index
        if not 0 <= i < self._size:
            raise IndexError(f"history index {index} out of range for {self._size} records")
        return self._row(i)

    def __iter__(self) -> Iterator[dict]:
        for i in range(self._size):
            yield self._row(i)

    def __bool__(self) -> bool:
        return self._size > 0

    def __repr__(self) -> str:
        last = self._row(self._size - 1)["iteration"] if self._size else None
        return f"History({self._size} records, log_every={self.log_every}, last iteration={last})"

    def nbytes(self) -> int:
        """Bytes held by the column arrays."""
        return sum(col.nbytes for col in self._columns.values())

    def to_csv(self, path) -> Path:
        """Write the records as CSV (a header row of keys, one row per record)."""
        return write_csv(self, path)


def json_safe(record: dict) -> dict:
    """A record with NaN and inf replaced by ``None``, so that it is strict JSON."""
    out = {}
    for key, value in record.items():
        if isinstance(value, float) and not math.isfinite(value):
            value = None
        out[key] = value
    return out


def read_history(path) -> History:
    """Read a ``history.jsonl`` (one JSON object per line) into a :class:`History`.

    ``null`` values (non-finite numbers when written) come back as NaN. A torn
    last line, as a crash mid-write could leave, is ignored.
    """
    path = Path(path)
    history = History()
    lines = path.read_text(encoding="utf-8").splitlines()
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            if n == len(lines) - 1:
                break
            raise
        history.append({k: (np.nan if v is None else v) for k, v in record.items()})
    return history


def write_csv(records: Iterable[dict], path) -> Path:
    """Write records (a :class:`History` or a list of dicts) to a CSV file.

    Columns are the union of the keys in order of appearance; missing or
    non-finite values are empty cells.
    """
    records = list(records)
    keys: list[str] = []
    for record in records:
        keys.extend(k for k in record if k not in keys)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(keys)
        for record in records:
            row = []
            for key in keys:
                value = record.get(key)
                if value is None or (isinstance(value, float) and not math.isfinite(value)):
                    row.append("")
                else:
                    row.append(repr(value) if isinstance(value, float) else value)
            writer.writerow(row)
    return path
