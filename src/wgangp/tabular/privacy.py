"""Copies of real rows: distance to the closest real record, measured and filtered.

A synthetic row that sits on a training row (an exact copy) or nearer to one
than unseen real rows do (a near copy) may disclose that record. The yardstick
is the real holdout: its rows were never trained on, so their distances to the
training rows show how close a fresh real row falls by chance.

The distance is SDMetrics' (``DCROverfittingProtection``), the mean over
columns of a per-column gap in [0, 1]:

.. math::

    d(x, y) = \\frac{1}{p} \\sum_{j=1}^{p} \\delta_j(x_j, y_j),\\quad
    \\delta_j = \\begin{cases}
      \\min(|x_j - y_j| / \\mathrm{range}_j, 1) & \\text{continuous}\\\\
      [x_j \\ne y_j] & \\text{discrete}
    \\end{cases}

with the range taken over the reference rows (a constant column counts any
difference as 1), two missing values equal and one missing value a gap of 1.

* :func:`distance_to_closest_record`: the DCR of each row to a reference table.
* :func:`closeness_report`: exact and near copies against the holdout's own
  distances, and :func:`dcr_protection` (SDMetrics' overfitting-protection
  score).
* :func:`filter_close_rows`: drop the synthetic rows nearer to a training row
  than the holdout's rows are (and every exact copy).
* :func:`sample_away_from`: draw from a synthesizer until ``n`` rows pass that filter.

pandas is imported when needed.
"""

from __future__ import annotations

import numpy as np

from ..errors import InvalidDataError, InvalidParameterError
from ..validation import check_int
from .frames import import_pandas
from .scores import check_frames

__all__ = [
    "closeness_report",
    "dcr_protection",
    "distance_to_closest_record",
    "filter_close_rows",
    "sample_away_from",
]

_CELLS_PER_CHUNK = 4_000_000  # rows x reference rows held at once (16 MB in float32)


def _encode(rows, reference, discrete, continuous):
    """Per column: (values of rows, values of reference, range or None for discrete)."""
    pd = import_pandas()
    columns = []
    for name in continuous:
        a = pd.to_numeric(rows[name], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        b = pd.to_numeric(reference[name], errors="coerce").to_numpy(
            dtype=np.float64, na_value=np.nan
        )
        finite = b[~np.isnan(b)]
        span = float(finite.max() - finite.min()) if len(finite) else 0.0
        columns.append((a, b, span))
    for name in discrete:
        codes, _ = pd.factorize(
            pd.concat([rows[name], reference[name]], ignore_index=True), use_na_sentinel=False
        )
        columns.append((codes[: len(rows)], codes[len(rows) :], None))
    return columns


def distance_to_closest_record(rows, reference, discrete_columns=None) -> np.ndarray:
    """The distance of each row to its closest reference row (SDMetrics' DCR).

    Parameters
    ----------
    rows, reference : pandas.DataFrame
        ``rows`` must hold every column of ``reference``.
    discrete_columns : list, optional
        Default: :func:`~wgangp.tabular.scores.infer_discrete_columns` on ``reference``.

    Returns
    -------
    numpy.ndarray
        Shape ``(len(rows),)``, in [0, 1]; 0 is an exact copy.

    Examples
    --------
    >>> import pandas as pd
    >>> ref = pd.DataFrame({"x": [0.0, 10.0], "k": ["a", "b"]})
    >>> rows = pd.DataFrame({"x": [0.0, 5.0, 10.0], "k": ["a", "a", "a"]})
    >>> distance_to_closest_record(rows, ref, ["k"]).tolist()
    [0.0, 0.25, 0.5]
    """
    discrete, continuous = check_frames(reference, rows, discrete_columns)
    columns = _encode(rows, reference, discrete, continuous)
    n, m = len(rows), len(reference)
    chunk = max(1, _CELLS_PER_CHUNK // max(m, 1))
    out = np.empty(n)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        total = np.zeros((stop - start, m), dtype=np.float32)
        for a, b, span in columns:
            a = a[start:stop, None]
            if span is None:
                total += a != b[None, :]
                continue
            gap = np.abs(a - b[None, :])
            gap = (gap > 0).astype(np.float64) if span == 0 else np.minimum(gap / span, 1.0)
            nan_a, nan_b = np.isnan(a), np.isnan(b)[None, :]
            gap = np.where(nan_a & nan_b, 0.0, np.where(nan_a | nan_b, 1.0, gap))
            total += gap.astype(np.float32)
        out[start:stop] = total.min(axis=1) / len(columns)
    return out


def _check_quantile(quantile) -> float:
    if not isinstance(quantile, (int, float)) or not 0.0 <= quantile < 1.0:
        raise InvalidParameterError(
            f"quantile={quantile!r} must be a number in [0, 1); 0.05 drops the rows nearer "
            "to a training row than 95% of the holdout's rows are"
        )
    return float(quantile)


def _holdout_threshold(real, holdout, discrete, quantile: float) -> tuple[float, np.ndarray]:
    if len(holdout) == 0:
        raise InvalidDataError("holdout has no rows; pass real rows the synthesizer never saw")
    holdout_dcr = distance_to_closest_record(holdout, real, discrete)
    return float(np.quantile(holdout_dcr, quantile)), holdout_dcr


def closeness_report(real, synthetic, holdout, discrete_columns=None, quantile=0.05) -> dict:
    """Exact and near copies of training rows, against the holdout's own distances.

    Parameters
    ----------
    real : pandas.DataFrame
        The rows the synthesizer was trained on.
    synthetic : pandas.DataFrame
    holdout : pandas.DataFrame
        Real rows it never saw (the same columns).
    discrete_columns : list, optional
    quantile : float
        Near copy: a DCR to ``real`` below this quantile of the holdout's DCR
        to ``real`` (so about ``quantile`` of fresh real rows would count).

    Returns
    -------
    dict
        ``exact_copies`` (count of synthetic rows equal to a training row),
        ``exact_share`` and ``holdout_exact_share`` (the same share among the
        holdout's rows: what chance gives on this table), ``near_share``
        (synthetic rows under ``threshold``; about ``quantile`` is chance),
        ``threshold``, ``median_dcr`` and ``holdout_median_dcr``, and
        ``dcr_protection`` (:func:`dcr_protection`).

    Examples
    --------
    >>> import pandas as pd
    >>> real = pd.DataFrame({"x": np.arange(20.0)})
    >>> holdout = pd.DataFrame({"x": np.arange(20.0) + 0.5})
    >>> report = closeness_report(real, real.copy(), holdout)
    >>> report["exact_share"], report["holdout_exact_share"], report["dcr_protection"]
    (1.0, 0.0, 0.0)
    """
    quantile = _check_quantile(quantile)
    discrete, _ = check_frames(real, synthetic, discrete_columns)
    check_frames(real, holdout, discrete)
    threshold, holdout_dcr = _holdout_threshold(real, holdout, discrete, quantile)
    dcr_real = distance_to_closest_record(synthetic, real, discrete)
    return {
        "exact_copies": int(np.sum(dcr_real == 0)),
        "exact_share": float(np.mean(dcr_real == 0)),
        "holdout_exact_share": float(np.mean(holdout_dcr == 0)),
        "near_share": float(np.mean(dcr_real < threshold)),
        "threshold": threshold,
        "median_dcr": float(np.median(dcr_real)),
        "holdout_median_dcr": float(np.median(holdout_dcr)),
        "dcr_protection": dcr_protection(real, synthetic, holdout, discrete),
    }


def dcr_protection(real, synthetic, holdout, discrete_columns=None) -> float:
    """SDMetrics' DCROverfittingProtection: how few synthetic rows sit nearer the training rows.

    .. math:: \\min\\big(2\\,(1 - P_s[d(s, R) < d(s, H)]),\\ 1\\big)

    over the synthetic rows ``s``, with ``R`` the training rows and ``H``
    the holdout. Rows drawn like the real ones score 1 only when ``R`` and
    ``H`` have as many rows: against a larger training table even fresh
    rows fall nearer to it (with a 70/30 split, fresh rows of a
    three-column table scored 0.31 to 0.63 over nine draws).
    Subsampling the training rows to the holdout's size, as SDMetrics'
    ``num_rows_subsample`` does, removes that bias but hides the copies of
    the rows left out; ``exact_share`` and ``near_share`` of
    :func:`closeness_report` compare with every training row instead.

    >>> import pandas as pd
    >>> real = pd.DataFrame({"x": np.arange(0.0, 40.0, 2.0)})
    >>> dcr_protection(real, real.copy(), real + 1.0)
    0.0
    """
    discrete, _ = check_frames(real, synthetic, discrete_columns)
    closer_to_real = np.mean(
        distance_to_closest_record(synthetic, real, discrete)
        < distance_to_closest_record(synthetic, holdout, discrete)
    )
    return float(min(2.0 * (1.0 - closer_to_real), 1.0))


def filter_close_rows(
    real, synthetic, holdout, discrete_columns=None, quantile=0.05, drop_exact: bool = True
):
    """The synthetic rows no nearer to a training row than the holdout's rows are.

    A row is dropped when its distance to the closest training row
    (:func:`distance_to_closest_record`) is below the ``quantile`` of the
    holdout's own distances to the training rows, or, with ``drop_exact``,
    when it equals a training row (on all-discrete tables the holdout itself
    repeats training rows, so the quantile alone may be 0).

    Parameters
    ----------
    real, synthetic, holdout : pandas.DataFrame
        Training rows, synthetic rows, real rows never trained on.
    discrete_columns : list, optional
    quantile : float
        In [0, 1); 0 keeps everything no nearer than the nearest holdout row.
    drop_exact : bool

    Returns
    -------
    pandas.DataFrame
        The kept rows of ``synthetic``, index reset.

    Examples
    --------
    >>> import pandas as pd
    >>> real = pd.DataFrame({"x": np.arange(0.0, 20.0, 2.0)})
    >>> holdout = pd.DataFrame({"x": np.arange(1.0, 21.0, 2.0)})
    >>> synthetic = pd.DataFrame({"x": [4.0, 4.01, 5.0]})
    >>> filter_close_rows(real, synthetic, holdout)["x"].tolist()
    [5.0]
    """
    quantile = _check_quantile(quantile)
    discrete, _ = check_frames(real, synthetic, discrete_columns)
    check_frames(real, holdout, discrete)
    threshold, _ = _holdout_threshold(real, holdout, discrete, quantile)
    dcr = distance_to_closest_record(synthetic, real, discrete)
    keep = dcr >= threshold
    if drop_exact:
        keep &= dcr > 0
    return synthetic[keep].reset_index(drop=True)


def sample_away_from(
    synthesizer,
    n: int,
    real,
    holdout,
    discrete_columns=None,
    quantile=0.05,
    drop_exact: bool = True,
    random_state=None,
    max_tries: int = 10,
):
    """``n`` rows from ``synthesizer.sample`` that pass :func:`filter_close_rows`.

    Draws, filters and draws again (each round sized by the share kept so
    far) until ``n`` rows are kept; raises when ``max_tries`` rounds do not
    suffice rather than return copies.

    Parameters
    ----------
    synthesizer
        Anything with ``sample(n, random_state=...)`` returning a DataFrame,
        e.g. a fitted :class:`~wgangp.tabular.TabularSynthesizer`.
    n : int
    real, holdout, discrete_columns, quantile, drop_exact
        As for :func:`filter_close_rows`.
    random_state : None, int or numpy.random.Generator
    max_tries : int

    Raises
    ------
    InvalidDataError
        When fewer than ``n`` rows pass after ``max_tries`` rounds.
    """
    pd = import_pandas()
    n = check_int(n, "n")
    max_tries = check_int(max_tries, "max_tries", minimum=1)
    rng = np.random.default_rng(random_state)
    kept, have, rate = [], 0, 1.0
    for _ in range(max_tries):
        draw = int(np.ceil(1.2 * (n - have) / max(rate, 0.05))) + 8
        rows = synthesizer.sample(draw, random_state=rng)
        rows = filter_close_rows(real, rows, holdout, discrete_columns, quantile, drop_exact)
        rate = max(len(rows) / draw, 1e-3)
        kept.append(rows)
        have += len(rows)
        if have >= n:
            return pd.concat(kept, ignore_index=True).iloc[:n].reset_index(drop=True)
    raise InvalidDataError(
        f"only {have} of n={n} rows were farther from the training rows than the holdout's "
        f"after max_tries={max_tries} rounds; raise max_tries or lower quantile={quantile}"
    )
