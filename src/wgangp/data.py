"""Data sets and loaders: the paper's toy sets, digits, CSV, NPY, Parquet and IDX files.

Only NumPy is needed to import this module. The functions that need
scikit-learn (``toy("swissroll")`` and :func:`load_digits`) or pyarrow
(:func:`load_parquet`) import it when called and say which extra to install
when it is missing.

:func:`rank_rows` reads one rank's contiguous share of a CSV, NPY or Parquet
file for data-parallel training, never the whole file.

Every loader returns a 2-D ``float64`` array of shape ``(n_samples,
n_features)`` (except :func:`load_idx`, which keeps the file's own dtype and
shape), and validates its input once, here at the boundary, with messages that
name the argument, the value, what is allowed and the fix.
"""

from __future__ import annotations

import csv
import gzip
import logging
import math
import os
import struct
import warnings
from collections.abc import Sequence
from typing import Literal, overload

import numpy as np

from .blocks import rows_hash
from .errors import InvalidDataError, InvalidParameterError, InvalidParameterTypeError
from .parallel import rank_bounds, rank_file_rows
from .validation import check_int, check_random_state, require

__all__ = [
    "RowStream",
    "TOY_DATASETS",
    "idx_images_to_matrix",
    "load_csv",
    "load_digits",
    "load_idx",
    "load_npy",
    "load_parquet",
    "output_activation_for",
    "parquet_column_names",
    "rank_rows",
    "toy",
    "toy_modes",
]

#: Names accepted by :func:`toy` and :func:`toy_modes`.
TOY_DATASETS: tuple[str, ...] = ("8gaussians", "25gaussians", "swissroll")

# Constants of the WGAN-GP paper's toy code (gan_toy.py): raw mixture
# geometry, the raw standard deviation, and the divisor applied afterwards.
_RING_RADIUS = 2.0
_RING_SD = 0.02
_RING_DIVISOR = 1.414
_GRID_STEP = 2.0
_GRID_SD = 0.05
_GRID_DIVISOR = 2.828
_SWISSROLL_NOISE = 0.25
_SWISSROLL_DIVISOR = 7.5

RandomState = None | int | np.random.Generator

logger = logging.getLogger(__name__)


def rng_from(random_state: RandomState, name: str = "random_state") -> np.random.Generator:
    """A Generator from None (fresh entropy), an int seed or a Generator (checked)."""
    return np.random.default_rng(check_random_state(random_state, name))


def check_toy_name(name: object) -> str:
    if not isinstance(name, str) or name not in TOY_DATASETS:
        allowed = ", ".join(repr(n) for n in TOY_DATASETS)
        raise InvalidParameterError(f"name must be one of {allowed}; got {name!r}.")
    return name


def _import_sklearn_datasets():
    return require("sklearn.datasets", "tabular", "this function")


def sklearn_seed(rng: np.random.Generator) -> int:
    """Draw an int seed for scikit-learn functions, which take no Generator."""
    return int(rng.integers(0, 2**31 - 1))


# ---------------------------------------------------------------------------
# Toy data sets of the WGAN-GP paper
# ---------------------------------------------------------------------------


def _raw_centres(name: str) -> tuple[np.ndarray, float, float]:
    """Centres and sd before scaling, and the divisor, for a mixture set."""
    if name == "8gaussians":
        angles = np.arange(8) * (np.pi / 4)
        centres = _RING_RADIUS * np.column_stack([np.cos(angles), np.sin(angles)])
        return centres, _RING_SD, _RING_DIVISOR
    # 25gaussians: a 5 x 5 grid with x and y in -4, -2, 0, 2, 4.
    ticks = _GRID_STEP * np.arange(-2, 3, dtype=np.float64)
    xs, ys = np.meshgrid(ticks, ticks, indexing="ij")
    centres = np.column_stack([xs.ravel(), ys.ravel()])
    return centres, _GRID_SD, _GRID_DIVISOR


def toy_modes(name: str) -> tuple[np.ndarray, float]:
    """Mixture centres and standard deviation of a toy set, after scaling.

    Parameters
    ----------
    name : {"8gaussians", "25gaussians"}
        A mixture set of :data:`TOY_DATASETS`. ``"swissroll"`` has no modes
        and raises ``ValueError``.

    Returns
    -------
    centres : numpy.ndarray of shape (k, 2), float64
        The k mode centres as :func:`toy` places them (8 or 25).
    sd : float
        The per-coordinate standard deviation of every mode, scaled like the
        data: ``0.02 / 1.414`` for 8gaussians, ``0.05 / 2.828`` for
        25gaussians.

    Examples
    --------
    >>> centres, sd = toy_modes("8gaussians")
    >>> centres.shape, round(sd, 5)
    ((8, 2), 0.01414)
    >>> centres, sd = toy_modes("25gaussians")
    >>> centres.shape, round(float(centres.max()), 5), round(sd, 5)
    ((25, 2), 1.41443, 0.01768)
    """
    name = check_toy_name(name)
    if name == "swissroll":
        raise InvalidParameterError(
            "name='swissroll' is a continuous manifold with no modes; toy_modes accepts "
            "'8gaussians' or '25gaussians'."
        )
    centres, sd, divisor = _raw_centres(name)
    return centres / divisor, sd / divisor


def toy(name: str, n: int, random_state: RandomState = None) -> np.ndarray:
    """Draw ``n`` points of one of the WGAN-GP paper's 2-D toy sets.

    The geometry and scaling follow the paper's ``gan_toy.py``:

    * ``"8gaussians"``: centres ``2 (cos(k pi/4), sin(k pi/4))``,
      ``k = 0..7``, each point's centre drawn uniformly; point = centre +
      N(0, 0.02^2 I); everything divided by 1.414.
    * ``"25gaussians"``: centres on the grid ``{-4, -2, 0, 2, 4}^2``, the
      same number of points per centre (to within one, the remainder going
      to centres drawn at random), shuffled; sd 0.05; divided by 2.828.
    * ``"swissroll"``: scikit-learn's ``make_swiss_roll(n, noise=0.25)``,
      columns 0 and 2, divided by 7.5 (needs ``pip install wgangp[tabular]``).

    Parameters
    ----------
    name : {"8gaussians", "25gaussians", "swissroll"}
        Which set; see :data:`TOY_DATASETS`.
    n : int
        Number of points, at least 1.
    random_state : None, int or numpy.random.Generator, default None
        Source of randomness; an int seeds a fresh Generator, None uses fresh
        entropy. The same seed gives the same points.

    Returns
    -------
    numpy.ndarray of shape (n, 2), float64

    Examples
    --------
    >>> x = toy("8gaussians", 1000, random_state=0)
    >>> x.shape, x.dtype
    ((1000, 2), dtype('float64'))
    >>> bool(np.abs(np.linalg.norm(x, axis=1) - 2 / 1.414).max() < 0.1)
    True
    """
    name = check_toy_name(name)
    n = check_int(n, "n")
    rng = rng_from(random_state)
    if name == "swissroll":
        datasets = _import_sklearn_datasets()
        points, _ = datasets.make_swiss_roll(
            n_samples=n, noise=_SWISSROLL_NOISE, random_state=sklearn_seed(rng)
        )
        return np.ascontiguousarray(points[:, [0, 2]], dtype=np.float64) / _SWISSROLL_DIVISOR
    centres, sd, divisor = _raw_centres(name)
    k = len(centres)
    if name == "8gaussians":
        which = rng.integers(0, k, size=n)
    else:
        # gan_toy.py builds 25gaussians with equal counts per centre, then shuffles.
        which = np.concatenate([np.tile(np.arange(k), n // k), rng.permutation(k)[: n % k]])
        which = rng.permutation(which)
    points = centres[which] + sd * rng.standard_normal((n, 2))
    return points / divisor


# ---------------------------------------------------------------------------
# Digits
# ---------------------------------------------------------------------------


@overload
def load_digits(return_labels: Literal[True] = ...) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def load_digits(return_labels: Literal[False]) -> np.ndarray: ...
def load_digits(return_labels: bool = True) -> tuple[np.ndarray, np.ndarray] | np.ndarray:
    """The 1,797 8x8 handwritten digits shipped with scikit-learn, in [-1, 1].

    No network access: the images come with scikit-learn
    (``sklearn.datasets.load_digits``; needs ``pip install wgangp[tabular]``).
    Pixel values ``v`` in 0..16 become ``v / 8 - 1``, so ``tanh`` is the
    matching generator output (see :func:`output_activation_for`).

    Parameters
    ----------
    return_labels : bool, default True
        Also return the class labels 0..9.

    Returns
    -------
    X : numpy.ndarray of shape (1797, 64), float64
        One flattened image per row, row-major.
    y : numpy.ndarray of shape (1797,), int
        The digit shown; only when ``return_labels`` is True.

    Examples
    --------
    >>> X, y = load_digits()
    >>> X.shape, float(X.min()), float(X.max()), sorted(set(y.tolist())) == list(range(10))
    ((1797, 64), -1.0, 1.0, True)
    """
    if not isinstance(return_labels, (bool, np.bool_)):
        raise InvalidParameterTypeError(
            f"return_labels must be True or False; got {return_labels!r}."
        )
    datasets = _import_sklearn_datasets()
    bunch = datasets.load_digits()
    X = np.asarray(bunch.data, dtype=np.float64) / 8.0 - 1.0
    if not return_labels:
        return X
    return X, np.asarray(bunch.target, dtype=np.int64)


# ---------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------


def _check_file(path: str | os.PathLike[str], name: str = "path") -> str:
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidParameterTypeError(
            f"{name} must be a str or os.PathLike; got {path!r} of type {type(path).__name__}."
        )
    path = os.fspath(path)
    if os.path.isdir(path):
        raise IsADirectoryError(f"{name}={path!r} is a directory; give the path of a file in it.")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{name}={path!r}: no such file.")
    return path


def _parse_float(cell: str) -> float | None:
    try:
        return float(cell)
    except ValueError:
        return None


def load_csv(
    path: str | os.PathLike[str],
    columns: Sequence[int | str] | None = None,
    delimiter: str = ",",
) -> np.ndarray:
    """Load a numeric CSV file, with or without a header row.

    The first non-blank row is a header when any of its cells is not a number;
    otherwise it is data. Blank lines are skipped and cells are stripped of
    surrounding spaces. Every data cell must parse as a float (``nan`` and
    ``inf`` spelled out are accepted, empty cells are not).

    Parameters
    ----------
    path : str or os.PathLike
        The file to read.
    columns : sequence of int or str, optional
        Which columns to return, in this order: 0-based indices (negative
        counts from the end), or header names (only when the file has a
        header). Default: all columns.
    delimiter : str, default ","
        One-character field separator.

    Returns
    -------
    numpy.ndarray of shape (n_rows, n_columns), float64

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        ``path`` is missing or is a directory.
    InvalidDataError (a ValueError)
        The file is empty, has no data rows, has rows of different lengths, a
        cell is not a number (the message names its line and column).
    InvalidParameterError (a ValueError)
        ``columns`` names a column that does not exist.

    Examples
    --------
    >>> import os, tempfile
    >>> folder = tempfile.mkdtemp()
    >>> path = os.path.join(folder, "points.csv")
    >>> with open(path, "w") as f:
    ...     _ = f.write("x,y\\n1,2\\n3,4.5\\n")
    >>> load_csv(path)
    array([[1. , 2. ],
           [3. , 4.5]])
    >>> load_csv(path, columns=["y"]).ravel()
    array([2. , 4.5])
    """
    path = _check_file(path)
    if not isinstance(delimiter, str) or len(delimiter) != 1:
        raise InvalidParameterError(
            f"delimiter must be a single character such as ','; got {delimiter!r}."
        )
    try:
        with open(path, newline="", encoding="utf-8-sig") as handle:  # a BOM is dropped
            rows = [
                (line_number, [cell.strip() for cell in row])
                for line_number, row in enumerate(csv.reader(handle, delimiter=delimiter), start=1)
                if any(cell.strip() for cell in row)
            ]
    except UnicodeDecodeError as exc:
        raise InvalidDataError(
            f"path={path!r} is not UTF-8 text (byte {exc.start}: {exc.reason}); "
            f"is it a binary file? Save the table as a UTF-8 CSV."
        ) from None
    except csv.Error as exc:
        raise InvalidDataError(
            f"path={path!r} cannot be parsed as CSV: {exc}; is it a binary file?"
        ) from None
    if not rows:
        raise InvalidDataError(f"path={path!r} is empty: expected a header and/or rows of numbers.")

    header: list[str] | None = None
    first_line, first_row = rows[0]
    if any(_parse_float(cell) is None for cell in first_row):
        header = first_row
        rows = rows[1:]
        if not rows:
            raise InvalidDataError(
                f"path={path!r} has a header row (line {first_line}) but no data rows."
            )
    n_columns = len(header) if header is not None else len(rows[0][1])

    def column_label(j: int) -> str:
        if header is not None:
            return f"column {j + 1} ({header[j]!r})"
        return f"column {j + 1}"

    values = np.empty((len(rows), n_columns), dtype=np.float64)
    for i, (line_number, row) in enumerate(rows):
        if len(row) != n_columns:
            raise InvalidDataError(
                f"path={path!r}, line {line_number}: {len(row)} cells, expected {n_columns} "
                f"like the {'header' if header is not None else 'first row'}; "
                f"every row needs the same number of cells (delimiter={delimiter!r})."
            )
        for j, cell in enumerate(row):
            number = _parse_float(cell)
            if number is None:
                what = "an empty cell" if cell == "" else f"{cell!r}"
                raise InvalidDataError(
                    f"path={path!r}, line {line_number}, {column_label(j)}: {what} is not a "
                    f"number; load_csv reads numeric columns only (select numeric ones with "
                    f"columns=...). A table with text or category columns is for the table "
                    f"model: wgangp fit-table {path} --out RUN, or wgangp.TabularSynthesizer."
                )
            values[i, j] = number

    if header is None:
        _warn_if_numeric_header(path, first_row, values)
    if columns is None:
        return values
    return values[:, _resolve_columns(columns, header, n_columns)]


def _warn_if_numeric_header(path: str, first_row: list[str], values: np.ndarray) -> None:
    """Say so when a first row of numbers that is read as data looks like a header:
    whole numbers (years, say) over columns whose other values are not whole, or
    far outside every column's range."""
    first, rest = values[0], values[1:]
    if len(rest) < 2 or not np.all(first == np.round(first)):
        return
    other_kind = ~np.all(rest == np.round(rest), axis=0)
    low, high = rest.min(axis=0), rest.max(axis=0)
    distance = np.maximum(low - first, first - high)  # > 0 outside the rest's range
    far = distance > 10 * (high - low)
    if np.any(other_kind) or np.all(far):
        logger.warning(
            "%s: line 1 (%s) is all numbers, so it is read as data, yet it looks like a "
            "header; if it is one, name the columns with words (e.g. y%s)",
            path,
            ", ".join(first_row[:5]),
            first_row[0],
        )


def _resolve_columns(
    columns: Sequence[int | str], header: list[str] | None, n_columns: int
) -> list[int]:
    if isinstance(columns, (str, bytes)) or not isinstance(columns, Sequence):
        raise InvalidParameterTypeError(
            f"columns must be a list of column indices or header names, e.g. [0, 2] or "
            f"['x', 'y']; got {columns!r}."
        )
    if len(columns) == 0:
        raise InvalidParameterError("columns must name at least one column; got an empty list.")
    indices = []
    for column in columns:
        if isinstance(column, str):
            if header is None:
                raise InvalidParameterError(
                    f"columns contains the name {column!r} but the file has no header row; "
                    f"use 0-based indices instead."
                )
            if column not in header:
                raise InvalidParameterError(
                    f"columns: no column named {column!r}; the header has {header}."
                )
            if header.count(column) > 1:
                raise InvalidParameterError(
                    f"columns: the header names {header.count(column)} columns {column!r}, so "
                    f"the name is ambiguous; rename them or select by 0-based index."
                )
            indices.append(header.index(column))
        elif isinstance(column, (int, np.integer)) and not isinstance(column, bool):
            if not -n_columns <= column < n_columns:
                raise InvalidParameterError(
                    f"columns: index {column} is out of range for a file with {n_columns} "
                    f"columns (allowed: {-n_columns} to {n_columns - 1})."
                )
            indices.append(int(column) % n_columns)
        else:
            raise InvalidParameterTypeError(
                f"columns entries must be int indices or str names; got {column!r} of type "
                f"{type(column).__name__}."
            )
    return indices


_NPY_MAGIC = b"\x93NUMPY"
_ZIP_MAGIC = b"PK\x03\x04"


def load_npy(path: str | os.PathLike[str]) -> np.ndarray:
    """Load a 2-D numeric array from a ``.npy`` file, never unpickling.

    The file is read with ``allow_pickle=False``, so loading it cannot run
    code; object arrays (saved with ``allow_pickle=True``) are refused.

    Parameters
    ----------
    path : str or os.PathLike
        A file written by ``numpy.save``.

    Returns
    -------
    numpy.ndarray of shape (n_rows, n_columns), float64
        Boolean, integer and float arrays are converted to float64.

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        ``path`` is missing or is a directory.
    InvalidDataError (a ValueError)
        The file is not a ``.npy`` array, holds objects, is not 2-D, or is not
        numeric.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.arange(6).reshape(3, 2))
    >>> load_npy(path)
    array([[0., 1.],
           [2., 3.],
           [4., 5.]])
    """
    return np.asarray(_open_npy(path), dtype=np.float64)


def _open_npy(path, mmap: bool = False) -> np.ndarray:
    """A checked 2-D numeric array of a ``.npy`` file (memory-mapped when ``mmap``)."""
    path = _check_file(path)
    with open(path, "rb") as handle:
        magic = handle.read(len(_NPY_MAGIC))
    if magic.startswith(_ZIP_MAGIC):
        with np.load(path, allow_pickle=False) as archive:
            names = list(archive.files)
        raise InvalidDataError(
            f"path={path!r} is an .npz archive of {names}; load_npy reads one .npy array. "
            f"Save the array you want with np.save."
        )
    if magic != _NPY_MAGIC:
        raise InvalidDataError(
            f"path={path!r} is not a readable .npy file: it starts with {magic!r}, not the "
            f".npy magic {_NPY_MAGIC!r}. Write the array with numpy.save."
        )
    try:
        loaded = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as exc:
        if "allow_pickle" in str(exc) or "Python objects" in str(exc):
            raise InvalidDataError(
                f"path={path!r} holds an object array, which would need unpickling (running "
                f"code from the file) to load; refused. Save plain numbers instead, e.g. "
                f"np.save(path, x.astype(np.float64))."
            ) from exc
        raise InvalidDataError(f"path={path!r} is not a readable .npy file: {exc}") from exc
    except (OSError, EOFError) as exc:
        raise InvalidDataError(f"path={path!r} is not a readable .npy file: {exc}") from exc
    if loaded.dtype.kind not in "biuf":
        raise InvalidDataError(
            f"path={path!r} holds dtype {loaded.dtype}; load_npy needs bool, integer or float "
            f"numbers."
        )
    if loaded.ndim == 1:
        raise InvalidDataError(
            f"path={path!r} holds a 1-D array of shape {loaded.shape}; load_npy needs 2-D "
            f"(n_samples, n_features). For one feature save x.reshape(-1, 1); for one sample "
            f"save x.reshape(1, -1)."
        )
    if loaded.ndim != 2:
        raise InvalidDataError(
            f"path={path!r} holds an array of shape {loaded.shape}; load_npy needs 2-D "
            f"(n_samples, n_features), e.g. x.reshape(len(x), -1)."
        )
    return loaded


def _import_parquet():
    return require("pyarrow.parquet", "parquet", "reading Parquet files")


def _open_parquet(path):
    """A ``pyarrow.parquet.ParquetFile`` of ``path``, or a clear error."""
    path = _check_file(path)
    pq = _import_parquet()
    try:
        return pq.ParquetFile(path)
    except Exception as exc:  # pyarrow's ArrowInvalid, OSError, ...
        raise InvalidDataError(
            f"path={path!r} is not a readable Parquet file ({type(exc).__name__}: {exc}); "
            "write it with pandas.DataFrame.to_parquet or pyarrow.parquet.write_table."
        ) from None


def parquet_column_names(path: str | os.PathLike[str]) -> list[str]:
    """The column names of a Parquet file, from its metadata (no rows are read)."""
    handle = _open_parquet(path)
    try:
        return list(handle.schema_arrow.names)
    finally:
        handle.close()


def _arrow_kind(arrow_type) -> str:
    """A column type as a user reads it: ``text`` for every string type (pandas 2 writes
    ``string``, pandas 3 ``large_string``), else the Arrow type's own name."""
    import pyarrow as pa

    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "text"
    return str(arrow_type)


def _numeric_parquet_columns(handle, path: str, columns) -> list[str]:
    """The names of the columns to read, each checked to hold numbers."""
    import pyarrow as pa

    schema = handle.schema_arrow
    names = list(schema.names)
    if columns is not None:
        names = [names[j] for j in _resolve_columns(columns, names, len(names))]
    numeric = (pa.types.is_integer, pa.types.is_floating, pa.types.is_boolean, pa.types.is_decimal)
    bad = [n for n in names if not any(test(schema.field(n).type) for test in numeric)]
    if bad:
        kinds = ", ".join(f"{n!r} ({_arrow_kind(schema.field(n).type)})" for n in bad[:4])
        raise InvalidDataError(
            f"path={path!r}: column{'s' if len(bad) > 1 else ''} {kinds} "
            f"{'are' if len(bad) > 1 else 'is'} not numeric; load_parquet (and wgangp train) "
            f"read numeric columns only (select numeric ones with columns=...). A table with "
            f"text or category columns is for the table model: wgangp fit-table {path} "
            f"--out RUN, or wgangp.TabularSynthesizer."
        )
    return names


def _parquet_rows(path, rank: int = 0, size: int = 1, columns=None) -> np.ndarray:
    """Rank ``rank``'s rows of a Parquet file (all of them for one rank), as float64.

    Ranks take contiguous row groups balanced by rows; with fewer row groups
    than ranks, contiguous rows (reading only the groups that hold them).
    The rows are copied group by group into the result, so that no more
    than one row group is held twice.
    """
    path = os.fspath(path)
    handle = _open_parquet(path)
    try:
        return _read_parquet_rows(handle, path, rank, size, columns)
    finally:
        handle.close()
        _release_arrow_memory()


def _read_parquet_rows(handle, path: str, rank: int, size: int, columns) -> np.ndarray:
    names = _numeric_parquet_columns(handle, path, columns)
    meta = handle.metadata
    group_rows = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
    n_rows = sum(group_rows)
    _check_enough_rows(path, n_rows, size)
    start, end = rank_file_rows(group_rows, rank, size)
    out = np.empty((end - start, len(names)), dtype=np.float64)
    at = 0
    for g, _, lo, hi in _group_pieces(group_rows, start, end):
        _read_row_group(handle, path, g, names, slice(lo, hi), out[at : at + hi - lo])
        at += hi - lo
    return out


def _group_pieces(group_rows, start: int, stop: int) -> list[tuple[int, int, int, int]]:
    """The parts of a file's groups (``group_rows`` rows each) that rows ``[start, stop)``
    cover: ``(group, file row of its first row, first row, stop row)``, rows within
    the group.

    >>> _group_pieces([100, 100, 100], 50, 250)
    [(0, 0, 50, 100), (1, 100, 0, 100), (2, 200, 0, 50)]
    """
    pieces, group_start = [], 0
    for g, rows in enumerate(group_rows):
        lo, hi = max(start, group_start), min(stop, group_start + rows)
        if lo < hi:
            pieces.append((g, group_start, lo - group_start, hi - group_start))
        group_start += rows
    return pieces


def _read_row_group(handle, path: str, group: int, names, rows: slice, out: np.ndarray) -> None:
    """Rows ``rows`` of row group ``group`` of an open Parquet file, columns ``names``,
    as float64 into ``out`` (a column at a time: one column is held twice, not the group)."""
    import pyarrow as pa

    table = handle.read_row_group(group, columns=names)
    for j, name in enumerate(names):
        column = table.column(name)
        if column.null_count:
            raise InvalidDataError(
                f"path={path!r}, column {name!r}: {column.null_count} missing values "
                f"in row group {group}; remove or impute them first."
            )
        out[:, j] = column.cast(pa.float64()).to_numpy()[rows]


def load_parquet(
    path: str | os.PathLike[str], columns: Sequence[int | str] | None = None
) -> np.ndarray:
    """Load the numeric columns of a Parquet file as a float64 array.

    Needs pyarrow (``pip install 'wgangp[parquet]'``). The file is read row
    group by row group into the result. Integer, boolean, decimal and float
    columns are converted to float64; any other column (text, dates,
    categories) is refused with the table model as the fix, and so are
    missing values.

    Parameters
    ----------
    path : str or os.PathLike
        A Parquet file (``DataFrame.to_parquet``, ``pyarrow.parquet.write_table``).
    columns : sequence of int or str, optional
        Which columns to return, in this order: 0-based indices or names.

    Returns
    -------
    numpy.ndarray of shape (n_rows, n_columns), float64

    Examples
    --------
    >>> import os, tempfile
    >>> import pyarrow as pa, pyarrow.parquet as pq
    >>> path = os.path.join(tempfile.mkdtemp(), "points.parquet")
    >>> pq.write_table(pa.table({"x": [1, 3], "y": [2.0, 4.5]}), path)
    >>> load_parquet(path)
    array([[1. , 2. ],
           [3. , 4.5]])
    """
    return _parquet_rows(path, columns=columns)


def _check_enough_rows(path: str, n_rows: int, size: int) -> None:
    if n_rows == 0:
        raise InvalidDataError(f"path={path!r} has no data rows.")
    if n_rows < size:
        raise InvalidDataError(
            f"path={path!r} has {n_rows} data rows, fewer than the {size} ranks that share "
            "it; start fewer ranks (mpiexec -n ...) or give more rows."
        )


def _npy_rows(path, rank: int, size: int) -> np.ndarray:
    """Rank ``rank``'s rows of a ``.npy`` file: a slice of its memory map, copied."""
    mapped = _open_npy(path, mmap=True)
    _check_enough_rows(os.fspath(path), len(mapped), size)
    start, stop = rank_bounds(len(mapped), rank, size)
    return np.array(mapped[start:stop], dtype=np.float64)


def _csv_rows(path, rank: int, size: int, delimiter: str = ",") -> np.ndarray:
    """Rank ``rank``'s rows of a numeric CSV file, as :func:`load_csv` reads them.

    One pass counts the non-blank lines (and notes the blank ones); NumPy's
    reader then parses only the rank's lines, after skipping those before.
    """
    path = _check_file(path)
    blank: list[int] = []  # 0-based numbers of the blank lines
    first_line = None
    n_lines = 0
    with open(path, "rb") as handle:
        for n_lines, line in enumerate(handle, start=1):
            if not line.strip():
                blank.append(n_lines - 1)
            elif first_line is None:
                first_line = line
    if first_line is None:
        raise InvalidDataError(f"path={path!r} is empty: expected a header and/or rows of numbers.")
    try:
        first_text = first_line.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidDataError(
            f"path={path!r} is not UTF-8 text (byte {exc.start}: {exc.reason}); "
            "is it a binary file? Save the table as a UTF-8 CSV."
        ) from None
    first_row = [c.strip() for c in next(csv.reader([first_text], delimiter=delimiter))]
    has_header = any(_parse_float(cell) is None for cell in first_row)
    n_data = n_lines - len(blank) - (1 if has_header else 0)
    _check_enough_rows(path, n_data, size)
    start, stop = rank_bounds(n_data, rank, size)
    # the line number (0-based) of data row `start`: skip the header and the blank lines
    target = start + (1 if has_header else 0)  # non-blank lines before it
    line = target
    for b in blank:
        if b <= line:
            line += 1
        else:
            break
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Input line", UserWarning)  # blank lines: skipped
        try:
            values = np.loadtxt(
                path,
                dtype=np.float64,
                delimiter=delimiter,
                comments=None,
                quotechar='"',
                skiprows=line,
                max_rows=stop - start,
                ndmin=2,
                encoding="utf-8-sig",
            )
        except (ValueError, UnicodeDecodeError) as exc:
            raise InvalidDataError(
                f"path={path!r}, in the {stop - start} rows from line {line + 1}: {exc}; "
                "every cell must be a number and every row as long as the first."
            ) from None
    if values.shape[1] != len(first_row):
        raise InvalidDataError(
            f"path={path!r}, rows from line {line + 1}: {values.shape[1]} cells, expected "
            f"{len(first_row)} like line 1; every row needs the same number of cells."
        )
    return values


def rank_rows(path: str | os.PathLike[str], rank: int = 0, size: int = 1) -> np.ndarray:
    """Rank ``rank``'s contiguous share of the rows of a data file, as float64.

    For data-parallel training (``fit(X, comm=...)`` under ``mpiexec -n
    size``): the ranks' shares, in rank order, are the whole file, and no
    rank reads the whole file into memory.

    * ``.parquet``: a contiguous range of row groups, balanced by the row
      counts in the file's metadata (with fewer row groups than ranks,
      contiguous rows, reading only the groups that hold them);
    * ``.npy``: a slice of the memory-mapped array (:func:`numpy.load` with
      ``mmap_mode="r"``);
    * ``.csv``: the file's lines are counted once, then only the rank's
      range is parsed; a header row is detected as :func:`load_csv` does.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.csv``, ``.npy`` or ``.parquet`` file.
    rank, size : int
        This rank and the number of ranks (``comm.Get_rank()``,
        ``comm.Get_size()``); the default is the whole file.

    Returns
    -------
    numpy.ndarray of shape (rows of this rank, n_columns), float64

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.arange(10).reshape(5, 2))
    >>> rank_rows(path, 1, 2)
    array([[6., 7.],
           [8., 9.]])
    """
    rank = check_int(rank, "rank", minimum=0)
    size = check_int(size, "size", minimum=1)
    if rank >= size:
        raise InvalidParameterError(f"rank={rank} must be below size={size}.")
    suffix = (
        os.path.splitext(os.fspath(path))[1].lower() if isinstance(path, (str, os.PathLike)) else ""
    )
    if suffix == ".parquet":
        return _parquet_rows(path, rank, size)
    if suffix == ".npy":
        return _npy_rows(path, rank, size)
    if suffix == ".csv":
        return _csv_rows(path, rank, size)
    raise InvalidParameterError(
        f"path={path!r}: rank_rows reads .csv, .npy and .parquet files; "
        f"got {suffix or 'no'} suffix."
    )


def _release_arrow_memory() -> None:
    """Hand the memory pyarrow's allocator keeps after a read back to the system."""
    import pyarrow as pa

    pa.default_memory_pool().release_unused()


WINDOW_ROWS = 1 << 20
"""Rows a :class:`RowStream` holds for training by default: 1,048,576 rows of 20
float64 columns are 160 MiB."""

NPY_GROUP_ROWS = 1 << 18
"""Rows of a ``.npy`` file read at a time by a :class:`RowStream` (its "row groups")."""


class RowStream:
    """A ``.parquet`` or ``.npy`` file that training reads a window of row groups at a time.

    Pass it to :meth:`wgangp.WGANGP.fit` in place of the array when the file
    does not fit in memory (``wgangp train --stream``). Nothing is read when
    it is made. Fitting reads the file three times in order, a group at a
    time (the finiteness check, the column extremes and the fingerprint in
    one pass, then the scaling's mean and standard deviation), then trains
    on windows: each epoch
    takes the row groups in a fresh random order, loads them into memory a
    window of at least ``window_rows`` rows at a time, and draws shuffled
    minibatches from each window (:class:`wgangp.steps.WindowSampler`). A
    process holds one window and one row group, whatever the file's size.

    The minibatches mix rows of the groups in one window only: a file whose
    rows are sorted (by time, by class) trains on minibatches of neighbouring
    rows. Shuffle such a file once, or raise ``window_rows``.

    Row groups are a Parquet file's own; a ``.npy`` file is read
    :data:`NPY_GROUP_ROWS` rows at a time from its memory map.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.parquet`` file of numeric columns (needs pyarrow) or a 2-D ``.npy`` file.
    rank, size : int
        This rank's share of the file (:func:`rank_rows`'s split) under
        ``mpiexec -n size``; the default is the whole file.
    window_rows : int
        Rows held for training at a time (whole groups: a window is the
        fewest groups that reach it).

    Attributes
    ----------
    shape : (int, int)
        This rank's rows and the columns.
    group_rows : tuple of int
        The rows of each of this rank's groups, in file order.
    rows_held_max : int
        The most rows this object has held at once (a window, or the groups
        of one range read).

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "x.npy")
    >>> np.save(path, np.arange(20.0).reshape(10, 2))
    >>> stream = RowStream(path, window_rows=4)
    >>> stream.shape, stream.read([0])[-1]
    ((10, 2), array([18., 19.]))
    >>> stream[2:4]
    array([[4., 5.],
           [6., 7.]])
    """

    ndim = 2
    dtype = np.dtype(np.float64)

    def __init__(
        self,
        path: str | os.PathLike[str],
        rank: int = 0,
        size: int = 1,
        window_rows: int = WINDOW_ROWS,
    ):
        rank = check_int(rank, "rank", minimum=0)
        size = check_int(size, "size", minimum=1)
        if rank >= size:
            raise InvalidParameterError(f"rank={rank} must be below size={size}.")
        self.window_rows = check_int(window_rows, "window_rows", minimum=1)
        self.path = _check_file(path)
        suffix = os.path.splitext(self.path)[1].lower()
        if suffix == ".parquet":
            handle = _open_parquet(self.path)
            try:
                self._names = _numeric_parquet_columns(handle, self.path, None)
                meta = handle.metadata
                file_groups = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
            finally:
                handle.close()
            n_columns = len(self._names)
        elif suffix == ".npy":
            mapped = _open_npy(self.path, mmap=True)
            n_columns = mapped.shape[1]
            n_rows = len(mapped)
            del mapped
            file_groups = [NPY_GROUP_ROWS] * (n_rows // NPY_GROUP_ROWS)
            if n_rows % NPY_GROUP_ROWS:
                file_groups.append(n_rows % NPY_GROUP_ROWS)
            self._names = None
        else:
            raise InvalidParameterError(
                f"path={self.path!r}: a RowStream reads .parquet and .npy files, not "
                f"{suffix or 'a file without a suffix'}; convert the file (pandas: "
                "pd.read_csv(...).to_parquet(...)) or load it whole with wgangp.data.rank_rows."
            )
        _check_enough_rows(self.path, int(sum(file_groups)), size)
        start, stop = rank_file_rows(file_groups, rank, size)
        self._pieces = _group_pieces(file_groups, start, stop)
        self.group_rows = tuple(hi - lo for _, _, lo, hi in self._pieces)
        self._ends = np.cumsum(self.group_rows)
        self._starts = self._ends - self.group_rows
        self.shape = (stop - start, n_columns)
        self.rows_held_max = 0
        self._last = None  # (group, rows) of the last group a range read
        self._extremes = None

    def __len__(self) -> int:
        return self.shape[0]

    def __repr__(self) -> str:
        return (
            f"RowStream({self.path!r}: {self.shape[0]} rows x {self.shape[1]} columns in "
            f"{len(self.group_rows)} groups, window_rows={self.window_rows})"
        )

    def __array__(self, dtype=None, copy=None):
        raise TypeError(
            f"{self!r} is read a window at a time by WGANGP.fit and is never one array; "
            "to load the file whole use wgangp.data.rank_rows (or load_parquet / load_npy)"
        )

    def read(self, groups) -> np.ndarray:
        """The rows of this rank's groups ``groups`` (indices into :attr:`group_rows`),
        one after another, as a new float64 array."""
        groups = [int(g) for g in groups]
        self._last = None  # the group a range read kept goes first
        out = np.empty((sum(self.group_rows[g] for g in groups), self.shape[1]), np.float64)
        self.rows_held_max = max(self.rows_held_max, len(out))
        at = 0
        if self._names is not None:
            handle = _open_parquet(self.path)
            try:
                for g in groups:
                    file_group, _, lo, hi = self._pieces[g]
                    part = out[at : at + hi - lo]
                    _read_row_group(handle, self.path, file_group, self._names, slice(lo, hi), part)
                    at += hi - lo
            finally:
                handle.close()
                _release_arrow_memory()
        else:
            mapped = _open_npy(self.path, mmap=True)
            for g in groups:
                _, group_start, lo, hi = self._pieces[g]
                out[at : at + hi - lo] = mapped[group_start + lo : group_start + hi]
                at += hi - lo
            del mapped  # unmapped: the file's pages leave this process
        return out

    def _group(self, g: int) -> np.ndarray:
        if self._last is None or self._last[0] != g:
            self._last = (g, self.read([g]))  # read() lets the old one go first
        return self._last[1]

    def __getitem__(self, key):
        """``X[a:b]`` and ``X[a:b, columns]``: a range of rows, read from the groups
        that hold it (the last group read is kept, so reading in order reads each once)."""
        rows, rest = (key[0], key[1:]) if isinstance(key, tuple) else (key, ())
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise TypeError(
                f"a RowStream is read by ranges of rows (X[a:b]), not X[{key!r}]; "
                "training draws its rows itself"
            )
        start, stop, _ = rows.indices(self.shape[0])
        parts = []
        if start < stop:
            first = int(np.searchsorted(self._ends, start, side="right"))
            last = int(np.searchsorted(self._starts, stop, side="left"))
            for g in range(first, last):
                begin = int(self._starts[g])
                parts.append(self._group(g)[max(start, begin) - begin : stop - begin])
        out = np.concatenate(parts) if parts else np.empty((0, self.shape[1]))
        return out[(slice(None), *rest)] if rest else out

    def _summary(self) -> tuple[bool, np.ndarray, np.ndarray, int]:
        """Whether every value is finite, each column's smallest and largest
        value, and the rows' hash sum (:func:`wgangp.blocks.row_hash_sum`): one
        pass over the file, remembered."""
        if self._extremes is None:
            finite, hashed = True, 0
            low, high = np.full(self.shape[1], np.inf), np.full(self.shape[1], -np.inf)
            for g in range(len(self.group_rows)):
                block = self._group(g)
                finite = finite and bool(np.isfinite(block).all())
                if finite:
                    np.minimum(low, block.min(axis=0), out=low)
                    np.maximum(high, block.max(axis=0), out=high)
                hashed += rows_hash(block)
            self._extremes = (finite, low, high, hashed % 2**64)
        return self._extremes

    def row_hash_sum(self) -> int:
        """The rows' hash sum, the training data's fingerprint (from the pass of
        :meth:`all_finite`, remembered)."""
        return self._summary()[3]

    def all_finite(self) -> bool:
        """Whether no value is NaN or infinite (one pass over the file, remembered)."""
        return self._summary()[0]

    def min(self) -> float:
        """The smallest value (of a file of finite values; one pass, remembered)."""
        return float(self._summary()[1].min())

    def max(self) -> float:
        """The largest value (of a file of finite values; one pass, remembered)."""
        return float(self._summary()[2].max())

    def column_abs_max(self) -> np.ndarray:
        """Each column's largest magnitude (:func:`wgangp.blocks.column_abs_max`), remembered."""
        _, low, high, _ = self._summary()
        return np.maximum(np.abs(low), np.abs(high))

    def fingerprint_probe(self) -> tuple:
        """What changes when the file does (its path, share, size and time of change)."""
        info = os.stat(self.path)
        return self.path, self.shape, self._pieces[:1], info.st_size, info.st_mtime_ns

    def sample(self, n: int, seed: int = 0) -> np.ndarray:
        """``n`` rows (or all, if fewer) drawn without replacement from randomly chosen groups."""
        n = check_int(n, "n", minimum=1)
        rng = np.random.default_rng(seed)
        order = rng.permutation(len(self.group_rows))
        counts = np.cumsum(np.asarray(self.group_rows)[order])
        take = order[: int(np.searchsorted(counts, min(n, len(self)))) + 1]
        rows = self.read(sorted(take))
        return rows[np.sort(rng.choice(len(rows), size=min(n, len(rows)), replace=False))]


# IDX type codes (third byte of the magic number) and their big-endian dtypes.
_IDX_DTYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def load_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (the MNIST format), gzip-compressed when named ``*.gz``.

    Layout: a 4-byte magic number ``0x00 0x00 T D`` where ``T`` is the type
    code (0x08 uint8, 0x09 int8, 0x0B int16, 0x0C int32, 0x0D float32, 0x0E
    float64) and ``D`` the number of dimensions, then ``D`` big-endian uint32
    sizes, then the values in row-major order, big-endian.

    Parameters
    ----------
    path : str or os.PathLike
        E.g. ``train-images-idx3-ubyte.gz``.

    Returns
    -------
    numpy.ndarray
        Of the file's shape and element type, in native byte order (MNIST
        images: ``(60000, 28, 28)`` uint8). See :func:`idx_images_to_matrix`.

    Raises
    ------
    FileNotFoundError, IsADirectoryError
        ``path`` is missing or is a directory.
    InvalidDataError (a ValueError)
        Bad magic number, unknown type code, a file shorter or longer than its
        header says, or a ``.gz`` file that is not gzip.

    Examples
    --------
    >>> import os, tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "tiny-idx2-ubyte")
    >>> with open(path, "wb") as f:
    ...     _ = f.write(bytes([0, 0, 0x08, 2, 0, 0, 0, 2, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6]))
    >>> load_idx(path)
    array([[1, 2, 3],
           [4, 5, 6]], dtype=uint8)
    """
    path = _check_file(path)
    try:
        if path.endswith(".gz"):
            with gzip.open(path, "rb") as handle:
                raw = handle.read()
        else:
            with open(path, "rb") as handle:
                raw = handle.read()
    except (gzip.BadGzipFile, EOFError) as exc:
        raise InvalidDataError(
            f"path={path!r} ends with .gz but is not a complete gzip file ({exc}); "
            f"rename it without .gz if it is uncompressed."
        ) from exc

    if len(raw) < 4:
        raise InvalidDataError(
            f"path={path!r} has {len(raw)} bytes, fewer than the 4-byte IDX magic number; "
            f"the file is truncated or not IDX."
        )
    zero1, zero2, type_code, ndim = raw[:4]
    if zero1 != 0 or zero2 != 0 or type_code not in _IDX_DTYPES:
        raise InvalidDataError(
            f"path={path!r} has magic number 0x{raw[:4].hex()}; an IDX file starts with "
            f"0x0000TTDD, TT one of 08, 09, 0b, 0c, 0d, 0e (the element type) and DD the "
            f"number of dimensions. Is it compressed without a .gz name, or not IDX?"
        )
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise InvalidDataError(
            f"path={path!r} is truncated: its magic number announces {ndim} dimensions "
            f"({header_size} header bytes) but the file has {len(raw)} bytes."
        )
    shape = struct.unpack(f">{ndim}I", raw[4:header_size])
    dtype = _IDX_DTYPES[type_code]
    expected = header_size + math.prod(shape) * dtype.itemsize
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "longer than its header says"
        raise InvalidDataError(
            f"path={path!r} is {problem}: shape {shape} of {dtype.newbyteorder('=')} needs "
            f"{expected} bytes in all, the file has {len(raw)}."
        )
    values = np.frombuffer(raw, dtype=dtype, offset=header_size).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def idx_images_to_matrix(arr: np.ndarray) -> np.ndarray:
    """Flatten uint8 images ``(n, h, w)`` to float64 rows in [-1, 1].

    Pixel ``v`` in 0..255 becomes ``v / 127.5 - 1``; each image becomes one
    row of ``h * w`` values in row-major order.

    Parameters
    ----------
    arr : numpy.ndarray of shape (n, h, w), uint8
        As returned by :func:`load_idx` for an images file.

    Returns
    -------
    numpy.ndarray of shape (n, h * w), float64

    Examples
    --------
    >>> images = np.array([[[0, 255], [51, 204]]], dtype=np.uint8)
    >>> idx_images_to_matrix(images)
    array([[-1. ,  1. , -0.6,  0.6]])
    """
    if not isinstance(arr, np.ndarray):
        raise InvalidParameterTypeError(
            f"arr must be a numpy.ndarray of uint8 images; got {type(arr).__name__}."
        )
    if arr.dtype != np.uint8:
        raise InvalidDataError(
            f"arr must hold uint8 pixels 0..255; got dtype {arr.dtype}. Scale other images "
            f"to [-1, 1] yourself."
        )
    if arr.ndim != 3:
        raise InvalidDataError(
            f"arr must have shape (n_images, height, width); got shape {arr.shape}."
        )
    return arr.reshape(len(arr), -1).astype(np.float64) / 127.5 - 1.0


# ---------------------------------------------------------------------------
# Choosing the generator's output activation
# ---------------------------------------------------------------------------


def output_activation_for(X: np.ndarray) -> Literal["tanh", "identity"]:
    """The generator output activation that suits data ``X``.

    ``"tanh"`` when every value lies in [-1, 1] and the data reaches both ends
    (``min <= -0.99`` and ``max >= 0.99``), as images scaled to [-1, 1] do;
    ``"identity"`` otherwise (data that a bounded output could not reach, or
    that only uses part of the range).

    Parameters
    ----------
    X : array_like of shape (n_samples, n_features)
        Finite numbers.

    Returns
    -------
    {"tanh", "identity"}

    Examples
    --------
    >>> output_activation_for(np.array([[-1.0, 0.2], [0.5, 1.0]]))
    'tanh'
    >>> output_activation_for(np.array([[-1.0, 0.2], [0.5, 0.7]]))
    'identity'
    >>> output_activation_for(np.array([[-3.0], [3.0]]))
    'identity'
    """
    X = np.asarray(X)
    if X.dtype.kind not in "biuf":
        raise InvalidParameterTypeError(f"X must hold numbers; got dtype {X.dtype}.")
    if X.size == 0:
        raise InvalidDataError(f"X must hold at least one value; got shape {X.shape}.")
    if not np.all(np.isfinite(X)):
        raise InvalidDataError("X contains NaN or infinite values; remove or impute them first.")
    low, high = float(X.min()), float(X.max())
    if low >= -1.0 and high <= 1.0 and low <= -0.99 and high >= 0.99:
        return "tanh"
    return "identity"
