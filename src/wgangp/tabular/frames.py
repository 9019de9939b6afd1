"""DataFrames in and out of the tabular estimators: reading CSV and Parquet files, checking,
JSON values.

Every table wgangp reads goes through :func:`as_frame` (and a file through
:func:`read_table`), here and nowhere else.

pandas (``pip install wgangp[tabular]``) and pyarrow (``pip install
wgangp[parquet]``, for Parquet files) are imported when needed.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import logging
import os
import re

import numpy as np

from ..errors import InvalidDataError, InvalidParameterError, InvalidParameterTypeError
from ..validation import check_path, require

__all__ = [
    "SEPARATORS",
    "as_frame",
    "frame_from_columns",
    "frame_to_columns",
    "import_pandas",
    "json_value",
    "read_table",
    "read_table_share",
]

logger = logging.getLogger(__name__)


def import_pandas():
    """pandas, or an ImportError naming the extra that installs it."""
    return require("pandas", "tabular", "wgangp.tabular")


def as_frame(data, name: str = "data", sep: str | None = None):
    """A DataFrame from a DataFrame or a CSV or Parquet path; validated once, here.

    A file is read by :func:`read_table` (a CSV's dialect detected unless ``sep``).
    Refused, with what to do: no rows or columns, duplicated or tuple column
    names, and columns a table cannot hold as it is (dicts, lists, bytes,
    complex numbers, intervals).
    """
    pd = import_pandas()
    if isinstance(data, (str, os.PathLike)):
        data = read_table(data, name, sep)
    elif sep is not None:
        raise InvalidParameterError(
            f"sep={sep!r} applies to a CSV path only; {name} is a {type(data).__name__}"
        )
    if not isinstance(data, pd.DataFrame):
        raise InvalidParameterTypeError(
            f"{name} must be a pandas DataFrame or a CSV or Parquet path; got {type(data).__name__}"
        )
    if len(data) == 0 or data.shape[1] == 0:
        raise InvalidDataError(f"{name} has shape {data.shape}; at least 1 row and 1 column needed")
    if not data.columns.is_unique:
        dup = list(data.columns[data.columns.duplicated()])
        raise InvalidDataError(f"{name} has duplicated column names {dup}; rename them")
    odd = [c for c in data.columns if not isinstance(c, (str, int, float, np.integer, np.floating))]
    if odd:
        raise InvalidDataError(
            f"{name} has column names that are not text or numbers ({odd[:3]}, e.g. of a "
            f"MultiIndex); name each column, e.g. {name}.columns = "
            f"['_'.join(map(str, c)) for c in {name}.columns]"
        )
    for column in data.columns:
        _check_cells(data[column], name)
    return data


_CELL_FIXES = {
    "dict": "turn them into text (json.dumps) or into columns of their own",
    "list": "turn them into text (json.dumps) or into columns of their own",
    "tuple": "turn them into text or into columns of their own",
    "set": "turn them into text or into columns of their own",
    "ndarray": "turn them into text or into columns of their own",
    "bytes": "decode them to text first (.str.decode('utf-8'))",
    "complex": "split them into a real and an imaginary column",
    "Interval": "convert them to text (.astype(str)) or to left and right columns",
}


def _check_cells(series, name: str) -> None:
    """Refuse a column whose values a table cannot hold, naming a row and the fix."""
    pd = import_pandas()
    dtype = series.dtype
    if isinstance(dtype, pd.IntervalDtype):
        kind = "Interval"
    elif isinstance(dtype, np.dtype) and dtype.kind == "c":
        kind = "complex"
    elif isinstance(dtype, np.dtype) and dtype.kind == "O":
        kinds = series.map(lambda v: type(v).__name__)
        bad = kinds.isin(list(_CELL_FIXES))
        if not bad.any():
            return
        row = bad.to_numpy().argmax()
        kind = kinds.iloc[row]
        example = repr(series.iloc[row])
        if len(example) > 40:
            example = example[:37] + "..."
        raise InvalidDataError(
            f"{name} column {series.name!r} holds {kind} values (row {row}: {example}); a "
            f"table cell must be a number, text, a boolean or missing: {_CELL_FIXES[kind]}"
        )
    else:
        return
    raise InvalidDataError(
        f"{name} column {series.name!r} has dtype {dtype} ({kind} values), which the "
        f"synthesizer cannot give back as it is: {_CELL_FIXES[kind]}"
    )


# --------------------------------------------------------------------------- #
# Reading a CSV file.                                                         #
# --------------------------------------------------------------------------- #

SEPARATORS = ",;\t|"
"""Separators :func:`read_table` detects."""

SAMPLE_BYTES = 1 << 16


def read_table(path, name: str = "data", sep: str | None = None):
    """A CSV or Parquet file as a DataFrame, with a CSV's dialect detected and its faults named.

    A file named ``*.parquet`` is read with pyarrow (``pip install
    'wgangp[parquet]'``), its column types as stored (dictionary-encoded
    columns become categories). Otherwise the file is a CSV:

    The separator is detected among ``, ; tab |`` from the first 64 kB (the
    standard library's :class:`csv.Sniffer`) unless ``sep`` is given; a
    UTF-8 byte-order mark is dropped; quoted thousands (``"1,000"``) in a
    comma-separated file are numbers, and a semicolon-separated file with
    decimal commas (``1,5``) reads them as numbers. The first row is the
    header; when it is all numbers, a warning says so.

    Raises
    ------
    InvalidDataError
        For a missing, empty, binary (not UTF-8) or ragged file, naming it
        and the fix.
    """
    pd = import_pandas()
    path = check_path(path, name)
    if not path.is_file():
        raise InvalidDataError(
            f"{name}={str(path)!r} is not a file; pass a DataFrame, a CSV or a Parquet file"
        )
    if path.suffix.lower() == ".parquet":
        if sep is not None:
            raise InvalidParameterError(
                f"sep={sep!r} applies to a CSV only; {name}={str(path)!r} is a Parquet file"
            )
        return _read_parquet(path, name)
    sep, options = _csv_dialect(path, name, sep)
    with _csv_errors(path, name, sep):
        frame = pd.read_csv(path, sep=sep, encoding="utf-8-sig", **options)
    if frame.shape[1] and all(_is_number(c) for c in frame.columns):
        logger.warning(
            "%s=%r: the header row (%s) is all numbers; it is taken as the column names. "
            "If it is a row of data, add a header row of names",
            name,
            str(path),
            ", ".join(map(str, frame.columns[:5])),
        )
    return frame


def _read_parquet(path, name: str):
    """A Parquet file as a DataFrame (pyarrow reads it, row group by row group)."""
    pq = require("pyarrow.parquet", "parquet", "reading Parquet tables")
    with _parquet_errors(path, name):
        table = pq.read_table(path)
    return table.to_pandas()


@contextlib.contextmanager
def _parquet_errors(path, name: str):
    """pyarrow's errors on opening or reading a Parquet file as :class:`InvalidDataError`."""
    try:
        yield
    except Exception as exc:  # pyarrow's ArrowInvalid, OSError, ...
        raise InvalidDataError(
            f"{name}={str(path)!r} is not a readable Parquet file ({type(exc).__name__}: "
            f"{exc}); write it with DataFrame.to_parquet"
        ) from None


def _csv_dialect(path, name: str, sep: str | None) -> tuple[str, dict]:
    """A CSV's separator (detected unless given) and pandas' options for its
    numbers; a binary, non-UTF-8 or empty file is refused, naming it."""
    if sep is not None and (not isinstance(sep, str) or len(sep) != 1 or sep in '"\n\r'):
        raise InvalidParameterError(
            f"sep={sep!r} must be one character such as ',', ';' or '\\t' (or None: detect it)"
        )
    with open(path, "rb") as fh:
        head = fh.read(SAMPLE_BYTES)
    try:
        text = codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=False)
    except UnicodeDecodeError as exc:
        text = None
        reason = f"byte {exc.start}: {exc.reason}"
    else:
        reason = "it holds NUL bytes" if "\x00" in text else None
    if reason is not None:
        raise InvalidDataError(
            f"{name}={str(path)!r} is not UTF-8 text ({reason}); is it a binary file? "
            "Save the table as a UTF-8 CSV"
        )
    if not text.strip():
        raise InvalidDataError(
            f"{name}={str(path)!r} is empty; a table needs a header row and rows of values"
        )
    if sep is None:
        sep = _sniff(text)
    options = {}
    if sep == ",":
        options["thousands"] = ","
    elif sep == ";" and re.search(r"\d,\d", text) and not re.search(r"\d\.\d", text):
        options["decimal"] = ","
    return sep, options


@contextlib.contextmanager
def _csv_errors(path, name: str, sep: str):
    """pandas' reading errors of a CSV as :class:`InvalidDataError` naming the file."""
    pd = import_pandas()
    try:
        yield
    except pd.errors.EmptyDataError:
        raise InvalidDataError(
            f"{name}={str(path)!r} has no columns; a table needs a header row and rows of values"
        ) from None
    except pd.errors.ParserError as exc:
        detail = " ".join(str(exc).split())
        raise InvalidDataError(
            f"{name}={str(path)!r} has rows of different lengths ({detail}); every row needs "
            f"as many cells as the header (separator {sep!r}; pass sep=... if it is another)"
        ) from None
    except UnicodeDecodeError as exc:
        raise InvalidDataError(
            f"{name}={str(path)!r} is not UTF-8 text (after the first 64 kB: {exc.reason}); "
            "save the table as a UTF-8 CSV"
        ) from None


def read_table_share(
    path, rank: int = 0, size: int = 1, name: str = "data", sep: str | None = None,
    chunk_rows: int = 65_536,
):  # fmt: skip
    """Rank ``rank``'s contiguous share of a CSV or Parquet table's rows, read without
    holding the whole table: for data-parallel training under ``mpiexec -n size``.

    The ranks' shares, in rank order, are the table :func:`read_table` reads,
    with its columns' dtypes:

    * Parquet: a contiguous range of row groups balanced by rows (with fewer
      groups than ranks, contiguous rows, reading only the groups holding
      them); the dtypes are the file's.
    * CSV: the dialect is detected as :func:`read_table` does; a first pass
      reads the file ``chunk_rows`` rows at a time to count the rows and learn
      each column's dtype over the whole file (a column with text anywhere
      is text everywhere, integers with a missing value somewhere are
      floats), keeping nothing; a second reads up to the end of this rank's
      rows with those dtypes and keeps only them.

    With ``size=1``, :func:`read_table` itself.

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> path = os.path.join(tempfile.mkdtemp(), "t.csv")
    >>> pd.DataFrame({"x": [1, 2, None, 4], "k": ["a", "b", "c", "d"]}).to_csv(path, index=False)
    >>> read_table_share(path, 1, 2, chunk_rows=2)
         x  k
    0  NaN  c
    1  4.0  d
    """
    from ..parallel import rank_bounds
    from ..validation import check_int

    rank = check_int(rank, "rank", minimum=0)
    size = check_int(size, "size", minimum=1)
    if rank >= size:
        raise InvalidParameterError(f"rank={rank} must be below size={size}")
    if size == 1:
        return read_table(path, name, sep)
    path = check_path(path, name)
    if not path.is_file():
        raise InvalidDataError(f"{name}={str(path)!r} is not a file; pass a CSV or a Parquet file")
    if path.suffix.lower() == ".parquet":
        if sep is not None:
            raise InvalidParameterError(
                f"sep={sep!r} applies to a CSV only; {name}={str(path)!r} is a Parquet file"
            )
        return _parquet_share(path, name, rank, size)
    pd = import_pandas()
    sep, options = _csv_dialect(path, name, sep)
    read = dict(sep=sep, encoding="utf-8-sig", chunksize=chunk_rows, **options)
    kinds: dict = {}
    n_rows = 0
    with _csv_errors(path, name, sep):
        with pd.read_csv(path, **read) as chunks:
            for chunk in chunks:
                n_rows += len(chunk)
                for column in chunk.columns:
                    kinds.setdefault(column, set()).add(_kind(chunk[column]))
    _check_share_rows(path, name, n_rows, size)
    dtypes, as_object = {}, []
    for column, seen in kinds.items():
        if len(seen) < 2:
            continue
        if seen <= {"i", "f"}:
            dtypes[column] = np.float64  # integers with a missing value somewhere
        elif "b" in seen and seen <= {"b", "f", "O"}:
            as_object.append(column)  # booleans with missing values: objects, as one read
        else:
            dtypes[column] = str  # text somewhere: text everywhere, as one read gives
    start, stop = rank_bounds(n_rows, rank, size)
    parts, row = [], 0
    with _csv_errors(path, name, sep):
        with pd.read_csv(path, dtype=dtypes or None, **read) as chunks:
            for chunk in chunks:
                lo, hi = max(start - row, 0), min(stop - row, len(chunk))
                if lo < hi:
                    parts.append(chunk.iloc[lo:hi])
                row += len(chunk)
                if row >= stop:
                    break
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    frame = frame.reset_index(drop=True)
    for column in as_object:
        frame[column] = frame[column].astype(object)
    return frame


def _kind(series) -> str:
    """A column's dtype kind as a chunk of a CSV reads it: i, f, b or O (anything else)."""
    kind = series.dtype.kind if isinstance(series.dtype, np.dtype) else "O"
    return kind if kind in "ifb" else "O"


def _check_share_rows(path, name: str, n_rows: int, size: int) -> None:
    if n_rows < size:
        raise InvalidDataError(
            f"{name}={str(path)!r} has {n_rows} data rows, fewer than the {size} ranks that "
            "share it; start fewer ranks (mpiexec -n ...) or give more rows"
        )


def _parquet_share(path, name: str, rank: int, size: int):
    """Rank ``rank``'s rows of a Parquet table: its row groups, or rows of the groups."""
    from ..parallel import rank_file_rows

    pq = require("pyarrow.parquet", "parquet", "reading Parquet tables")
    with _parquet_errors(path, name):
        handle = pq.ParquetFile(path)
    try:
        meta = handle.metadata
        group_rows = [meta.row_group(g).num_rows for g in range(meta.num_row_groups)]
        _check_share_rows(path, name, sum(group_rows), size)
        start, stop = rank_file_rows(group_rows, rank, size)
        ends = np.concatenate([[0], np.cumsum(group_rows)])  # ends[g]: rows before group g
        first = int(np.searchsorted(ends, start, side="right")) - 1
        last = int(np.searchsorted(ends, stop, side="left"))
        table = handle.read_row_groups(list(range(first, last)))
        return table.slice(start - int(ends[first]), stop - start).to_pandas()
    finally:
        handle.close()


def _sniff(text: str) -> str:
    """The separator of a CSV sample (',' when the sample does not tell)."""
    lines = text.splitlines()[:50]
    if len(lines) > 1 and not text.endswith(("\n", "\r")):
        lines = lines[:-1]  # the sample may end in the middle of a row
    try:
        return csv.Sniffer().sniff("\n".join(lines), delimiters=SEPARATORS).delimiter
    except csv.Error:
        return ","


def _is_number(text) -> bool:
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def json_value(value):
    """A category as a JSON scalar (numpy scalars to Python, others to str)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)


def frame_to_columns(frame) -> dict:
    """A DataFrame as plain data (names, NumPy arrays, dtype names) to send between
    MPI ranks; :func:`frame_from_columns` rebuilds it, dtypes included.

    A categorical column travels as its codes and categories, so its dtype
    (categories, order) comes back exactly.
    """
    pd = import_pandas()
    columns = []
    for name in frame.columns:
        series = frame[name]
        dtype = series.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            columns.append(
                {
                    "name": name,
                    "codes": np.asarray(series.cat.codes),
                    "categories": np.asarray(dtype.categories),
                    "ordered": bool(dtype.ordered),
                }
            )
        else:
            columns.append({"name": name, "values": series.to_numpy(), "dtype": str(dtype)})
    return {"columns": columns}


def frame_from_columns(parts: list):
    """The rows of several :func:`frame_to_columns` parts, one DataFrame in part order.

    >>> import pandas as pd
    >>> a = pd.DataFrame({"x": [1.5, 2.0], "k": pd.Categorical(["u", "v"])})
    >>> b = pd.DataFrame({"x": [3.0], "k": pd.Categorical(["u"], categories=["u", "v"])})
    >>> both = frame_from_columns([frame_to_columns(a), frame_to_columns(b)])
    >>> both["x"].tolist(), both["k"].tolist(), list(both["k"].cat.categories)
    ([1.5, 2.0, 3.0], ['u', 'v', 'u'], ['u', 'v'])
    """
    pd = import_pandas()
    frames = []
    for part in parts:
        data = {}
        for col in part["columns"]:
            if "codes" in col:
                data[col["name"]] = pd.Categorical.from_codes(
                    col["codes"], categories=col["categories"], ordered=col["ordered"]
                )
            else:
                data[col["name"]] = pd.Series(col["values"], dtype=col["dtype"])
        frames.append(pd.DataFrame(data, columns=[c["name"] for c in part["columns"]]))
    return pd.concat(frames, ignore_index=True)
