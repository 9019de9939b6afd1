"""Two tables as the two domains of a :class:`wgangp.Translator`.

Two CSV files or DataFrames with the same columns (two sites, two sensors,
two years) are checked against each other (:func:`check_domains`), encoded
by one :class:`~wgangp.tabular.transformer.TabularTransformer` fitted on the
rows of both (:func:`fit_domains_transformer`), so that both live in one
encoded space, and translated there by generators whose output goes through
:class:`TableHead`: each one-hot block (a discrete column, a mixture mode, a
null indicator) through a softmax at temperature ``tau``, each scalar passed
through as it is. Decoding is the transformer's: argmax per block, scalars
clipped to [-1, 1] and mapped back to their column's units and dtype.

pandas (``pip install wgangp[tabular]``) is imported when needed.
"""

from __future__ import annotations

import hashlib
import os
import sys

import numpy as np

from ..errors import InvalidDataError, InvalidParameterTypeError
from .frames import as_frame, import_pandas, json_value
from .heads import HeadLayout, heads_backward, heads_forward
from .scores import infer_discrete_columns
from .transformer import TabularTransformer

__all__ = [
    "TableHead",
    "check_domains",
    "check_table_input",
    "column_kind",
    "fit_domains_transformer",
    "is_table",
    "tables_fingerprint",
]


def is_table(X) -> bool:
    """Whether ``X`` is a table: a pandas DataFrame or the path of a CSV file."""
    if isinstance(X, (str, os.PathLike)):
        return True
    pd = sys.modules.get("pandas")
    return pd is not None and isinstance(X, pd.DataFrame)


def column_kind(series) -> str:
    """What a column holds, as far as translation cares: number, boolean,
    category, date or text.

    >>> import pandas as pd
    >>> [column_kind(pd.Series(v)) for v in ([1, 2], [1.5, None], [True], ["a"])]
    ['number', 'number', 'boolean', 'text']
    """
    pd = import_pandas()
    types = pd.api.types
    if types.is_bool_dtype(series):
        return "boolean"
    if isinstance(series.dtype, pd.CategoricalDtype):
        return "category"
    if types.is_datetime64_any_dtype(series) or types.is_timedelta64_dtype(series):
        return "date"
    if types.is_numeric_dtype(series):
        return "number"
    return "text"


def check_domains(X_source, X_target, discrete_columns=None, columns=None):
    """Both domains as DataFrames with the same columns, in the same order.

    Parameters
    ----------
    X_source, X_target : DataFrame or CSV path
    discrete_columns : list, optional
        As for :class:`TabularTransformer`; when None, a column must be read
        the same way (discrete or continuous) in both domains.
    columns : list, optional
        The columns a fitted translator knows, in order: both domains must
        have them (further columns are refused too).

    Returns
    -------
    A, B : DataFrames, columns in the order of ``columns`` (else of ``X_source``)

    Raises
    ------
    InvalidDataError
        A domain of fewer than 2 rows; different column sets; a column
        whose values are of different kinds in the two domains (numbers in
        one, text in the other; integers and floats are both numbers); a
        column discrete in one domain and continuous in the other.
    """
    A, B = as_frame(X_source, "X_source"), as_frame(X_target, "X_target")
    for name, frame in (("X_source", A), ("X_target", B)):
        if len(frame) < 2:
            raise InvalidDataError(
                f"{name} has {len(frame)} row; each domain needs at least 2 rows"
            )
    names_a, names_b = list(A.columns), list(B.columns)
    only_a = [c for c in names_a if c not in set(names_b)]
    only_b = [c for c in names_b if c not in set(names_a)]
    if only_a or only_b:
        raise InvalidDataError(
            f"X_source and X_target have different columns: only in X_source {only_a}, only "
            f"in X_target {only_b}; the two domains must have the same columns (the same "
            "features, by name), since translation maps each row of one onto a row of the other"
        )
    if columns is not None:
        known = [json_value(c) for c in columns]
        unknown = [c for c in names_a if json_value(c) not in known]
        lacking = [c for c in known if c not in {json_value(n) for n in names_a}]
        if unknown or lacking:
            raise InvalidDataError(
                f"the domains' columns differ from those this translator was fitted on: "
                f"missing {lacking}, new {unknown}; pass tables with the columns {known}"
            )
        order = {json_value(c): c for c in names_a}
        names_a = [order[c] for c in known]
    A, B = A[names_a], B[names_a]
    for column in names_a:
        kind_a, kind_b = column_kind(A[column]), column_kind(B[column])
        if kind_a != kind_b:
            raise InvalidDataError(
                f"column {column!r} holds {kind_a} values in X_source (dtype "
                f"{A[column].dtype}) and {kind_b} values in X_target (dtype {B[column].dtype}); "
                "a column must hold the same kind of values in both domains: convert one, "
                f"e.g. X_target[{column!r}] = X_target[{column!r}].astype(X_source[{column!r}]"
                ".dtype), or fix the cells that made it another kind"
            )
    if discrete_columns is None:
        discrete_a, discrete_b = set(infer_discrete_columns(A)), set(infer_discrete_columns(B))
        for column in names_a:
            if (column in discrete_a) != (column in discrete_b):
                where = "X_source" if column in discrete_a else "X_target"
                other = "X_target" if where == "X_source" else "X_source"
                raise InvalidDataError(
                    f"column {column!r} reads as discrete in {where} (integers with few "
                    f"distinct values: {_values(A if where == 'X_source' else B, column)}) and "
                    f"as continuous in {other} (dtype "
                    f"{(B if where == 'X_source' else A)[column].dtype}, "
                    f"{(B if where == 'X_source' else A)[column].nunique()} distinct values); "
                    "say how to read it in both: pass discrete_columns=[...] listing it (or "
                    "listing the other discrete columns without it)"
                )
    return A, B


def _values(frame, column, n: int = 5) -> str:
    values = sorted(frame[column].dropna().unique().tolist())
    shown = ", ".join(map(str, values[:n]))
    return shown + (", ..." if len(values) > n else "")


def fit_domains_transformer(
    A, B, discrete_columns, continuous: str, max_modes: int, clip: bool, random_state
) -> TabularTransformer:
    """One column transformer fitted on the rows of both domains together.

    With ``discrete_columns=None`` the discrete columns are those inferred
    on each domain (:func:`check_domains` made sure both agree), so that a
    column of few integers in each domain stays discrete even when the two
    together hold more distinct values. The transformer gives back the dtype
    of the two domains' rows together: a column of integers in one domain and
    floats in the other comes back as floats, a categorical column with the
    categories of both.
    """
    pd = import_pandas()
    if discrete_columns is None:
        discrete_columns = infer_discrete_columns(A)
    A, B = A.copy(deep=False), B.copy(deep=False)
    for column in A.columns:  # categorical in both: one dtype, so that it stays categorical
        if column_kind(A[column]) == "category":
            dtype = pd.CategoricalDtype(
                pd.api.types.union_categoricals([A[column], B[column]]).categories
            )
            A[column], B[column] = A[column].astype(dtype), B[column].astype(dtype)
    both = pd.concat([A, B], ignore_index=True)
    return TabularTransformer(discrete_columns, continuous, max_modes, clip, random_state).fit(both)


def tables_fingerprint(A, B) -> dict:
    """Rows (of both domains), column names and a hash of both tables' rows
    (pandas' row hashes, blake2b), each domain's size included."""
    pd = import_pandas()
    digest = hashlib.blake2b(digest_size=16)
    for frame in (A, B):
        rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        digest.update(repr(len(frame)).encode("ascii"))
        digest.update(rows.tobytes())
    names = [json_value(c) for c in A.columns]
    digest.update(repr(names).encode("utf-8"))
    return {"rows": int(len(A) + len(B)), "columns": names, "hash": digest.hexdigest()}


class TableHead:
    """The translator's output head on encoded rows: :func:`heads_forward` with every
    one-hot block through a softmax at temperature ``tau`` and every scalar
    (a continuous value) passed through as it is.

    No Gumbel noise: a translation is a map, the same row always goes to
    the same place, and the cycle term compares rows through both
    generators. The critics see exact one-hot blocks in real rows and
    softmax outputs in translated ones, so training sharpens the softmax;
    decoding takes the argmax, which is the argmax of the logits.

    The scalars are linear, not ``tanh`` as in the synthesizer, so that a
    residual generator ``h(x + MLP(x))`` starts at the identity of the
    encoded row: scalars exactly, one-hot blocks as ``softmax(onehot /
    tau)``, whose argmax is the input's category.

    Parameters
    ----------
    output_info : list of dict
        :attr:`TabularTransformer.output_info_`.
    tau : float
        Softmax temperature (> 0).

    Examples
    --------
    >>> info = [{"kind": "tanh", "start": 0, "width": 1},
    ...         {"kind": "softmax", "start": 1, "width": 2}]
    >>> y, _ = TableHead(info, tau=1.0).forward(np.array([[0.3, 1.0, 1.0]]))
    >>> y.tolist()
    [[0.3, 0.5, 0.5]]
    """

    def __init__(self, output_info, tau: float):
        self.layout = HeadLayout(
            [{**b, "kind": "linear" if b["kind"] == "tanh" else b["kind"]} for b in output_info]
        )
        self.tau = float(tau)

    def forward(self, logits: np.ndarray) -> tuple[np.ndarray, tuple]:
        return heads_forward(self.layout, logits, self.tau)

    def backward(self, cache: tuple, dy: np.ndarray) -> np.ndarray:
        return heads_backward(cache, dy)

    def sample_rows(self, rng: np.random.Generator, n: int, dtype) -> np.ndarray:
        """Rows of the encoded space (for probes and gradient checks): standard
        normal scalars and softmax blocks of twice-standard-normal logits."""
        logits = 2.0 * rng.standard_normal((n, self.layout.width))
        rows = heads_forward(self.layout, logits, 1.0)[0]
        return rows.astype(dtype)


def check_table_input(X, name: str, columns: list):
    """Rows to translate by a table translator: a DataFrame (or CSV path) with its columns."""
    if not is_table(X):
        raise InvalidParameterTypeError(
            f"{name} is a {type(X).__name__}, but this Translator was fitted on tables; pass a "
            f"DataFrame (or a CSV path) with the columns {columns[:10]}"
        )
    frame = as_frame(X, name)
    missing = [c for c in columns if c not in {json_value(n) for n in frame.columns}]
    if missing:
        raise InvalidDataError(
            f"{name} lacks the columns {missing} that this Translator was fitted on"
        )
    order = {json_value(c): c for c in frame.columns}
    return frame[[order[c] for c in columns]]
