"""Scores of a synthetic table against a real one, with SDMetrics' definitions.

:func:`column_shapes` (KS and TV complements per column),
:func:`column_pair_trends` (correlation and contingency similarity per
pair) and :func:`association_matrix`; the synthesizer selects its best
parameters with the first two. :mod:`wgangp.metrics` shows them beside
detection AUC and TSTR. SciPy and pandas are imported when needed.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidDataError, InvalidParameterError, InvalidParameterTypeError
from .frames import import_pandas

__all__ = [
    "CLASS_MAX_VALUES",
    "association_matrix",
    "check_frames",
    "column_pair_trends",
    "column_shapes",
    "feature_matrix",
    "infer_discrete_columns",
    "is_class_target",
]

_DISCRETE_MAX_VALUES = 10


def infer_discrete_columns(frame, max_values: int = _DISCRETE_MAX_VALUES, comm=None) -> list:
    """Columns read as discrete: text, boolean, categorical, or integer with few values.

    An integer column with at most ``max_values`` distinct values (a class
    label, a count of children) is discrete; every other numeric column is
    continuous. With ``comm`` (an mpi4py communicator), ``frame`` is this
    rank's rows of one table, every rank calls this, and the distinct values
    are counted over all ranks' rows, so that every rank gets the list one
    process would on the whole table.

    >>> import pandas as pd
    >>> infer_discrete_columns(pd.DataFrame({"a": [1.5, 2.0], "b": ["x", "y"], "c": [0, 1]}))
    ['b', 'c']
    """
    pd = import_pandas()
    out, counted = [], {}
    for name in frame.columns:
        s = frame[name]
        if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
            out.append(name)
        elif pd.api.types.is_integer_dtype(s):
            values = s.dropna().unique()
            counted[name] = None if len(values) > max_values else {int(v) for v in values}
            if comm is None and counted[name] is not None:
                out.append(name)
    if comm is not None:  # this rank's distinct values (or "too many"), joined over ranks
        parts = comm.allgather(counted)
        for name in counted:
            sets = [part.get(name) for part in parts]
            if all(v is not None for v in sets) and len(set().union(*sets)) <= max_values:
                out.append(name)
        out.sort(key=list(frame.columns).index)
    return out


CLASS_MAX_VALUES = 20
"""A numeric target with integral values and at most this many distinct ones is a class."""


def is_class_target(series, listed_discrete: bool = False) -> bool:
    """Whether a target column is a class (classification) or a quantity (regression).

    One rule for every caller (TSTR, the reports, augmentation): a column
    listed as discrete, or of text, boolean or category dtype, is a class; a
    numeric column is a class when its values are whole numbers and it has at
    most :data:`CLASS_MAX_VALUES` distinct values (``0/1`` read as floats too).

    >>> import pandas as pd
    >>> is_class_target(pd.Series([0.0, 1.0, 1.0])), is_class_target(pd.Series([0.5, 1.7]))
    (True, False)
    """
    pd = import_pandas()
    if listed_discrete or pd.api.types.is_bool_dtype(series):
        return True
    if not pd.api.types.is_numeric_dtype(series):
        return True
    values = pd.to_numeric(series, errors="coerce").dropna().to_numpy(dtype=np.float64)
    if len(values) == 0 or not np.all(np.isfinite(values)):
        return False
    return bool(np.all(values == np.round(values))) and len(np.unique(values)) <= CLASS_MAX_VALUES


def check_frames(real, synthetic, discrete_columns):
    """The discrete and continuous column names of two frames that can be compared."""
    pd = import_pandas()
    for name, frame in (("real", real), ("synthetic", synthetic)):
        if not isinstance(frame, pd.DataFrame):
            raise InvalidParameterTypeError(
                f"{name} must be a pandas DataFrame; got {type(frame).__name__}."
            )
        if len(frame) == 0:
            raise InvalidDataError(f"{name} has no rows; at least one row is needed.")
    missing = [c for c in real.columns if c not in synthetic.columns]
    if missing:
        raise InvalidDataError(f"synthetic lacks the columns {missing} of real.")
    if discrete_columns is None:
        discrete_columns = infer_discrete_columns(real)
    unknown = [c for c in discrete_columns if c not in real.columns]
    if unknown:
        raise InvalidParameterError(f"discrete_columns names unknown columns {unknown}.")
    discrete = [c for c in real.columns if c in set(discrete_columns)]
    continuous = [c for c in real.columns if c not in set(discrete_columns)]
    return discrete, continuous


def _shared_codes(a, b):
    """Integer codes of two Series over their joint values, NaN as its own value."""
    pd = import_pandas()
    codes, uniques = pd.factorize(pd.concat([a, b], ignore_index=True), use_na_sentinel=False)
    return codes[: len(a)], codes[len(a) :], len(uniques)


def _total_variation_complement(codes_a, codes_b, n_values) -> float:
    fa = np.bincount(codes_a, minlength=n_values) / len(codes_a)
    fb = np.bincount(codes_b, minlength=n_values) / len(codes_b)
    return float(1.0 - 0.5 * np.abs(fa - fb).sum())


def _ks_complement(a: np.ndarray, b: np.ndarray) -> float:
    import scipy.stats

    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    # SDMetrics rounds to 14 decimals first, so float noise never counts as a gap.
    return float(1.0 - scipy.stats.ks_2samp(np.round(a, 14), np.round(b, 14)).statistic)


def column_shapes(real, synthetic, discrete_columns=None) -> dict:
    r"""Per-column marginal similarity, as SDMetrics' *Column Shapes*.

    Continuous columns: the KS complement ``1 - sup_x |F_r(x) - F_s(x)|``
    (missing values dropped). Discrete columns: the TV complement
    ``1 - (1/2) \sum_k |f_r(k) - f_s(k)|`` over the categories, missing
    values dropped first as SDMetrics 0.32 does (how often a value is
    missing shows in :func:`column_pair_trends`, where it is a category of
    its own). Both lie in [0, 1]; 1 is identical; a column with no values
    on one side scores NaN.

    Parameters
    ----------
    real, synthetic : pandas.DataFrame
    discrete_columns : list, optional
        Default: :func:`infer_discrete_columns` on ``real``.

    Returns
    -------
    dict
        Column name to score.

    Examples
    --------
    >>> import pandas as pd
    >>> real = pd.DataFrame({"x": [0.0, 1.0, 2.0, 3.0], "k": ["a", "a", "b", "b"]})
    >>> column_shapes(real, real)
    {'x': 1.0, 'k': 1.0}
    >>> column_shapes(real, real.assign(k=["a", "a", "a", "b"]))["k"]
    0.75
    """
    discrete, _ = check_frames(real, synthetic, discrete_columns)
    scores = {}
    for name in real.columns:
        if name in discrete:
            a, b = real[name].dropna(), synthetic[name].dropna()
            if len(a) == 0 or len(b) == 0:
                scores[name] = float("nan")
                continue
            ca, cb, k = _shared_codes(a, b)
            scores[name] = _total_variation_complement(ca, cb, k)
        else:
            scores[name] = _ks_complement(
                real[name].to_numpy(dtype=np.float64), synthetic[name].to_numpy(dtype=np.float64)
            )
    return scores


def _discretize(real_col: np.ndarray, synth_col: np.ndarray, bins: int = 10):
    """SDMetrics' binning of a continuous column: 10 equal-width bins over each table's own range.

    As SDMetrics' Column Pair Trends does, each table is cut on the edges of its own values.
    """
    out = []
    for col in (real_col, synth_col):
        finite = col[~np.isnan(col)]
        edges = np.histogram_bin_edges(finite, bins=bins) if len(finite) else np.zeros(2)
        out.append(np.digitize(col, edges))
    return out[0], out[1]


def column_pair_trends(real, synthetic, discrete_columns=None, return_strength: bool = False):
    r"""Per-pair dependence similarity, as SDMetrics' *Column Pair Trends*.

    Two continuous columns: correlation similarity
    ``1 - |r_real - r_synth| / 2`` with Pearson's r (rows with a missing
    value dropped). Any other pair: contingency similarity
    ``1 - (1/2) \sum_{a,b} |p_r(a,b) - p_s(a,b)|``, a continuous column
    first cut into 10 equal-width bins (on each table's own range, as SDMetrics). A pair whose
    correlation is undefined (a constant column) scores NaN.

    Parameters
    ----------
    return_strength : bool
        Also return, per pair, how strong the real dependence is:
        ``("correlation", |r|)`` or ``("association", Cramer's V)`` of the
        binned real table, used by SDMetrics 0.32's thresholds.

    Returns
    -------
    dict
        ``(column_a, column_b)`` to score, for every pair in column order
        (and the strengths when asked).

    Examples
    --------
    >>> import pandas as pd
    >>> real = pd.DataFrame({"x": [0.0, 1, 2, 3], "y": [0.0, 1, 2, 4], "k": ["a", "a", "b", "b"]})
    >>> scores = column_pair_trends(real, real)
    >>> sorted(scores.values()) == [1.0, 1.0, 1.0]
    True
    >>> column_pair_trends(real, real.assign(y=-real["y"]))[("x", "y")] < 0.05
    True
    """
    discrete, continuous = check_frames(real, synthetic, discrete_columns)
    columns = list(real.columns)
    values_r, values_s, binned = {}, {}, {}
    for name in continuous:
        values_r[name] = real[name].to_numpy(dtype=np.float64)
        values_s[name] = synthetic[name].to_numpy(dtype=np.float64)
        binned[name] = _discretize(values_r[name], values_s[name])
    for name in discrete:
        ca, cb, _ = _shared_codes(real[name], synthetic[name])
        binned[name] = (ca, cb)
    scores, strengths = {}, {}
    for i, a in enumerate(columns):
        for b in columns[i + 1 :]:
            if a in values_r and b in values_r:
                r_real = _pearson(values_r[a], values_r[b])
                scores[(a, b)] = 1.0 - abs(r_real - _pearson(values_s[a], values_s[b])) / 2.0
                strengths[(a, b)] = ("correlation", abs(r_real))
            else:
                scores[(a, b)] = _contingency_similarity(binned[a], binned[b])
                strengths[(a, b)] = ("association", _cramers_v(binned[a][0], binned[b][0]))
    if return_strength:
        return scores, strengths
    return scores


def _cramers_v(codes_a: np.ndarray, codes_b: np.ndarray) -> float:
    """Cramer's V of the real contingency table (no continuity correction), as SDMetrics."""
    _, ia = np.unique(codes_a, return_inverse=True)
    _, ib = np.unique(codes_b, return_inverse=True)
    ka, kb = ia.max() + 1, ib.max() + 1
    if min(ka, kb) < 2:
        return float("nan")
    table = np.bincount(ia * kb + ib, minlength=ka * kb).reshape(ka, kb).astype(float)
    n = table.sum()
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / (n * (min(ka, kb) - 1))))


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    keep = ~(np.isnan(x) | np.isnan(y))
    x, y = x[keep], y[keep]
    # A constant column has no correlation, however its mean rounds (SDMetrics skips the pair).
    if len(x) < 2 or x.min() == x.max() or y.min() == y.max():
        return float("nan")
    x, y = x - x.mean(), y - y.mean()
    denom = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denom) if denom > 0 else float("nan")


def _contingency_similarity(pair_a, pair_b) -> float:
    (ra, sa), (rb, sb) = pair_a, pair_b
    kb = int(max(rb.max(), sb.max())) + 1
    ka = int(max(ra.max(), sa.max())) + 1
    joint_r = np.bincount(ra * kb + rb, minlength=ka * kb) / len(ra)
    joint_s = np.bincount(sa * kb + sb, minlength=ka * kb) / len(sa)
    return float(1.0 - 0.5 * np.abs(joint_r - joint_s).sum())


def feature_matrix(frames, discrete, continuous):
    """Frames to one numeric matrix each: one-hot discrete, median-filled continuous."""
    pd = import_pandas()
    blocks = [[] for _ in frames]
    for name in continuous:
        cols = [f[name].to_numpy(dtype=np.float64) for f in frames]
        fill = np.nanmedian(cols[0]) if np.any(~np.isnan(cols[0])) else 0.0
        for out, col in zip(blocks, cols):
            out.append(np.where(np.isnan(col), fill, col)[:, None])
    for name in discrete:
        codes, uniques = pd.factorize(
            pd.concat([f[name] for f in frames], ignore_index=True), use_na_sentinel=False
        )
        eye = np.eye(len(uniques))
        start = 0
        for out, f in zip(blocks, frames):
            out.append(eye[codes[start : start + len(f)]])
            start += len(f)
    return [
        np.concatenate(b, axis=1) if b else np.zeros((len(f), 0)) for b, f in zip(blocks, frames)
    ]


def association_matrix(frame, discrete_columns=None):
    r"""Pairwise dependence of a table's columns, one number per pair.

    The measures are those behind :func:`column_pair_trends`:

    * two continuous columns: Pearson's r, signed, in [-1, 1] (rows with a
      missing value dropped);
    * any pair with a discrete column: Cramer's V of the contingency table,
      in [0, 1] (no continuity correction, as SDMetrics), a continuous
      column first cut into 10 equal-width bins over its range and missing
      values a category of their own:

      .. math:: V = \sqrt{\frac{\chi^2}{n\,(\min(k_a, k_b) - 1)}}.

    The diagonal is 1; a pair with a constant column is NaN.

    Parameters
    ----------
    frame : pandas.DataFrame
    discrete_columns : list, optional
        Default: :func:`infer_discrete_columns` on ``frame``.

    Returns
    -------
    pandas.DataFrame
        Square, indexed by the column names in order.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": [0.0, 1, 2, 3], "y": [3.0, 2, 1, 0], "k": ["a", "a", "b", "b"]})
    >>> association_matrix(df).round(3).to_numpy().tolist()
    [[1.0, -1.0, 1.0], [-1.0, 1.0, 1.0], [1.0, 1.0, 1.0]]
    """
    pd = import_pandas()
    discrete, continuous = check_frames(frame, frame, discrete_columns)
    columns = list(frame.columns)
    values, codes = {}, {}
    for name in continuous:
        values[name] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
        codes[name] = _discretize(values[name], values[name])[0]
    for name in discrete:
        codes[name] = pd.factorize(frame[name], use_na_sentinel=False)[0]
    matrix = np.eye(len(columns))
    for i, a in enumerate(columns):
        for j in range(i + 1, len(columns)):
            b = columns[j]
            if a in values and b in values:
                matrix[i, j] = _pearson(values[a], values[b])
            else:
                matrix[i, j] = _cramers_v(codes[a], codes[b])
            matrix[j, i] = matrix[i, j]
    return pd.DataFrame(matrix, index=columns, columns=columns)
