"""The column transformer: a DataFrame to a matrix the networks learn, and back.

Continuous columns by quantiles (a uniform scalar in [-1, 1]; the default)
or by mode-specific normalisation (``gmm``: a Bayesian Gaussian mixture per
column, a scalar within the chosen mode plus a one-hot of the mode); discrete columns
one-hot; missing values as a null indicator. Columns, names and dtypes come
back as they went in.
"""

from __future__ import annotations

import logging
import numbers
import time
import warnings

import numpy as np

from ..errors import (
    InvalidDataError,
    InvalidParameterError,
    InvalidParameterTypeError,
    NotFittedError,
)
from ..parallel import on_rank0, sample_counts
from ..validation import require
from .frames import as_frame, frame_from_columns, frame_to_columns, import_pandas, json_value

__all__ = ["CONTINUOUS_METHODS", "RANK_SAMPLE_ROWS", "TabularTransformer", "fit_across_ranks"]

logger = logging.getLogger(__name__)

CONTINUOUS_METHODS = ("auto", "gmm", "quantile")

MIXTURE_ROWS = 20_000
"""Most rows a column's mixture is fitted on (a random sample of them beyond).

Bounds, categories, quantiles and the fill value still come from every row.
"""


RANK_SAMPLE_ROWS = 100_000
"""Most rows a transformer is fitted on in a data-parallel run: a sample of them
drawn from every rank in proportion to its rows (all rows when they fit)."""

COVER_VALUES = 1000
"""In a sampled data-parallel fit, a column of at most this many distinct values on
a rank (a candidate category) sends one row of each, so that no category is missed."""


class TabularTransformer:
    """A DataFrame to a learnable matrix and back.

    Per continuous column, by ``continuous``:

    * ``"gmm"`` (mode-specific normalisation): a Bayesian Gaussian mixture of
      up to ``max_modes`` components, fitted on at most :data:`MIXTURE_ROWS`
      rows (modes with weight below 0.005 dropped);
      fitted to the column in units of its spread (``z = (x / max|x| - m) / s``,
      ``m`` and ``s`` the median and sd of ``x / max|x|``, so that any scale works);
      a value ``z`` goes to its most likely mode ``k`` and becomes the scalar
      ``(z - mu_k) / (4 sigma_k)`` (clipped to [-0.99, 0.99]) plus a one-hot of
      ``k`` (omitted when there is a single mode);
    * ``"quantile"``: the empirical CDF (up to 1000 knots, linear in between,
      ties averaged), mapped to ``2 F(x) - 1`` in [-1, 1], inverted by the
      empirical quantile function, so every output lies between observed values;
    * ``"auto"``: quantile, for every table. Measured on
      ``benchmarks/tabular.py``: on wine, breast_cancer and fair (124 to 700
      training rows) quantile beat gmm on column shapes (0.88 / 0.88 / 0.90
      against 0.84 / 0.76 / 0.88), pair trends, TSTR and fit time; on the
      development tables of 2,820 to 5,512 training rows (nwtco, arrests,
      flchain, fair; BENCHMARKS.md), where ``auto`` used to mean gmm as in
      CTGAN, quantile raised column shapes, pair trends and TSTR on every
      seed measured, and took less time.

    Discrete columns are one-hot. A column with missing values gets a null
    indicator (a 2-wide one-hot; a discrete column's missing value is one
    more category). Integer-valued columns come back rounded, values within
    the observed bounds (``clip=True``), and ``inverse_transform`` restores
    the column order, names and dtypes.

    Parameters
    ----------
    discrete_columns : list, optional
        Columns to treat as discrete; default: text, boolean and categorical
        columns, and integer columns with at most 10 distinct values.
    continuous : {"auto", "gmm", "quantile"}
    max_modes : int
    clip : bool
    random_state : None, int or numpy.random.Generator
        Seeds the mixtures.

    Attributes
    ----------
    columns_ : list of dict
        One JSON-serialisable description per column.
    output_info_ : list of dict
        Blocks of the matrix in order: ``column``, ``role`` (value, mode,
        category, null), ``kind`` (tanh or softmax), ``start``, ``width``.
    output_dim_ : int

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"age": [23, 41, 35, 62], "city": ["A", "B", "A", "C"]})
    >>> tt = TabularTransformer(discrete_columns=["city"], continuous="quantile").fit(df)
    >>> tt.output_dim_
    4
    >>> tt.inverse_transform(tt.transform(df)).equals(df)
    True
    """

    def __init__(
        self,
        discrete_columns=None,
        continuous: str = "auto",
        max_modes: int = 10,
        clip: bool = True,
        random_state=None,
    ):
        self.discrete_columns = discrete_columns
        self.continuous = continuous
        self.max_modes = max_modes
        self.clip = clip
        self.random_state = random_state

    # ----------------------------------------------------------------- fit --

    def fit(self, data) -> TabularTransformer:
        """Learn each column's encoding from ``data`` (DataFrame or CSV path)."""
        pd = import_pandas()
        frame = as_frame(data)
        if self.continuous not in CONTINUOUS_METHODS:
            raise InvalidParameterError(
                f"continuous={self.continuous!r} is not known; choose one of {CONTINUOUS_METHODS}"
            )
        if isinstance(self.max_modes, bool) or not isinstance(self.max_modes, numbers.Integral):
            raise InvalidParameterTypeError(f"max_modes={self.max_modes!r} must be an int >= 1")
        if self.max_modes < 1:
            raise InvalidParameterError(f"max_modes={self.max_modes!r} must be >= 1")
        if self.discrete_columns is None:
            from .scores import infer_discrete_columns

            discrete = set(infer_discrete_columns(frame))
            inferred = discrete
        else:
            inferred = set()
            if isinstance(self.discrete_columns, (str, bytes)):
                raise InvalidParameterTypeError(
                    f"discrete_columns={self.discrete_columns!r} must be a list of column names"
                )
            discrete = set(self.discrete_columns)
            unknown = sorted(map(str, discrete - set(frame.columns)))
            if unknown:
                raise InvalidParameterError(
                    f"discrete_columns names {unknown}, which are not columns of the data; "
                    f"columns are {list(frame.columns)}"
                )
        rng = np.random.default_rng(self.random_state)
        started = time.perf_counter()
        self.columns_ = []
        for name in frame.columns:
            series = frame[name]
            if pd.api.types.is_datetime64_any_dtype(series) or pd.api.types.is_timedelta64_dtype(
                series
            ):
                raise InvalidDataError(
                    f"column {name!r} holds dates or durations; convert it to numbers "
                    "(e.g. days since a date) or to text before fitting"
                )
            numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(
                series
            )
            if (
                self.discrete_columns is not None
                and name not in discrete
                and not numeric
                and not pd.api.types.is_bool_dtype(series)
            ):
                example = next((v for v in series if isinstance(v, str)), series.iloc[0])
                raise InvalidDataError(
                    f"column {name!r} is not numeric (it holds {example!r}) but is not in "
                    f"discrete_columns={list(self.discrete_columns)!r}; add it there, convert "
                    "it to numbers, or pass discrete_columns=None to infer them"
                )
            if name in discrete or not numeric:
                self.columns_.append(self._fit_discrete(name, series, name in inferred))
            else:
                self.columns_.append(self._fit_continuous(name, series, rng))
        self._build_layout()
        logger.info(
            "column transformer fitted on %d rows x %d columns in %.1f s (mixtures on at most "
            "%d rows each)",
            len(frame),
            frame.shape[1],
            time.perf_counter() - started,
            MIXTURE_ROWS,
        )
        return self

    def _fit_discrete(self, name, series, inferred: bool = False) -> dict:
        pd = import_pandas()
        null = series.isna().to_numpy()
        values = list(pd.unique(series[~null]))
        _refuse_identifiers(name, len(values), int((~null).sum()), series, inferred)
        try:
            values = sorted(values)
        except TypeError:
            pass  # mixed types: keep the order of first appearance
        dtype = series.dtype
        spec = {
            "name": json_value(name),
            "kind": "discrete",
            "dtype": str(dtype),
            "categories": [json_value(v) for v in values],
            "has_null": bool(null.any()),
        }
        if isinstance(dtype, pd.CategoricalDtype):
            spec["dtype_categories"] = [json_value(v) for v in dtype.categories]
        return spec

    def _fit_continuous(self, name, series, rng) -> dict:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        null = np.isnan(values)
        observed = values[~null]
        if observed.size == 0:
            raise InvalidDataError(f"column {name!r} has no values at all; drop it")
        if not np.all(np.isfinite(observed)):
            raise InvalidDataError(f"column {name!r} holds inf; replace it by a finite value")
        spec = {
            "name": json_value(name),
            "kind": "continuous",
            "dtype": str(series.dtype),
            "integer": bool(np.all(observed == np.round(observed))),
            "has_null": bool(null.any()),
            "min": float(observed.min()),
            "max": float(observed.max()),
            "fill": float(np.median(observed)),
        }
        method = self.continuous
        n_unique = len(np.unique(observed))
        if method == "auto" or n_unique == 1:  # a constant column has no modes to find
            method = "quantile"
        if method == "gmm":
            # the mixture sees the column in units of its spread, so that its
            # covariance floor is negligible at any scale (1e-300 or 1e155)
            unit, loc, spread = _normaliser(observed)
            z = (observed / unit - loc) / spread
            if z.size > MIXTURE_ROWS:  # a bounded sample: the mixture's cost grows with rows
                z = rng.choice(z, MIXTURE_ROWS, replace=False)
            means, stds, weights = _fit_mixture(z, min(self.max_modes, n_unique), rng)
            spec.update(unit=unit, loc=loc, spread=spread)
            spec.update(means=means.tolist(), stds=stds.tolist(), weights=weights.tolist())
        else:
            n_knots = min(1000, observed.size)
            levels = np.linspace(0.0, 1.0, n_knots)
            spec["knots"] = np.quantile(observed, levels).tolist()
        spec["method"] = method
        return spec

    def _build_layout(self) -> None:
        blocks = []
        start = 0

        def add(column, role, kind, width):
            nonlocal start
            blocks.append(
                {"column": column, "role": role, "kind": kind, "start": start, "width": width}
            )
            start += width

        for i, spec in enumerate(self.columns_):
            if spec["kind"] == "discrete":
                width = len(spec["categories"]) + int(spec["has_null"])
                add(i, "category", "softmax", width)
                continue
            add(i, "value", "tanh", 1)
            if spec["method"] == "gmm" and len(spec["means"]) > 1:
                add(i, "mode", "softmax", len(spec["means"]))
            if spec["has_null"]:
                add(i, "null", "softmax", 2)
        self.output_info_ = blocks
        self.output_dim_ = start

    # ----------------------------------------------------------- transform --

    def check_fitted(self) -> None:
        if not hasattr(self, "columns_"):
            raise NotFittedError("this TabularTransformer is not fitted yet; call fit(data) first")

    @property
    def column_names_(self) -> list:
        return [spec["name"] for spec in self.columns_]

    def transform(self, data) -> np.ndarray:
        """The matrix of ``data`` (same columns as at fit), float64, (rows, output_dim_)."""
        self.check_fitted()
        frame = as_frame(data)
        missing = [n for n in self.column_names_ if n not in frame.columns]
        if missing:
            raise InvalidDataError(f"data lacks the columns {missing} seen at fit")
        out = np.zeros((len(frame), self.output_dim_))
        by_column: dict[int, list[dict]] = {}
        for block in self.output_info_:
            by_column.setdefault(block["column"], []).append(block)
        for i, spec in enumerate(self.columns_):
            series = frame[spec["name"]]
            blocks = {b["role"]: b for b in by_column[i]}
            if spec["kind"] == "discrete":
                codes = self.discrete_codes(i, series)
                b = blocks["category"]
                out[np.arange(len(frame)), b["start"] + codes] = 1.0
                continue
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            null = np.isnan(values)
            if null.any() and not spec["has_null"]:
                raise InvalidDataError(
                    f"column {spec['name']!r} has missing values, but had none at fit; "
                    "refit the transformer on data with missing values"
                )
            values = np.where(null, spec["fill"], values)
            value_col = blocks["value"]["start"]
            if spec["method"] == "gmm":
                means, stds = np.array(spec["means"]), np.array(spec["stds"])
                values = _to_mixture_units(values, spec)
                log_w = np.log(np.array(spec["weights"]))
                logp = log_w - np.log(stds) - 0.5 * ((values[:, None] - means) / stds) ** 2
                mode = np.argmax(logp, axis=1)
                out[:, value_col] = np.clip((values - means[mode]) / (4 * stds[mode]), -0.99, 0.99)
                if "mode" in blocks:
                    out[np.arange(len(frame)), blocks["mode"]["start"] + mode] = 1.0
            else:
                knots = np.array(spec["knots"])
                levels = np.linspace(0.0, 1.0, len(knots))
                # Ties: the mean of the left and right interpolations (as scikit-learn).
                u = 0.5 * (
                    np.interp(values, knots, levels)
                    - np.interp(-values, -knots[::-1], -levels[::-1])
                )
                out[:, value_col] = 2.0 * u - 1.0
            if spec["has_null"]:
                out[np.arange(len(frame)), blocks["null"]["start"] + null.astype(int)] = 1.0
        return out

    def discrete_codes(self, column: int, series) -> np.ndarray:
        """Category index per row of a discrete column (missing: the last index)."""
        spec = self.columns_[column]
        null = series.isna().to_numpy()
        lookup = {v: k for k, v in enumerate(spec["categories"])}
        codes = np.empty(len(series), dtype=np.intp)
        codes[null] = len(spec["categories"])
        if null.any() and not spec["has_null"]:
            raise InvalidDataError(
                f"column {spec['name']!r} has missing values, but had none at fit"
            )
        for row, value in zip(np.flatnonzero(~null), series[~null]):
            code = lookup.get(json_value(value))
            if code is None:
                raise InvalidDataError(
                    f"column {spec['name']!r} has the value {value!r}, not seen at fit; "
                    f"known values: {spec['categories'][:10]}"
                )
            codes[row] = code
        return codes

    def fit_transform(self, data) -> np.ndarray:
        return self.fit(data).transform(data)

    def inverse_transform(self, matrix: np.ndarray):
        """A DataFrame from a matrix: argmax per one-hot block, scalars clipped to [-1, 1]."""
        self.check_fitted()
        pd = import_pandas()
        matrix = np.asarray(matrix, dtype=np.float64)
        if matrix.ndim != 2 or matrix.shape[1] != self.output_dim_:
            raise InvalidDataError(
                f"matrix must have shape (rows, {self.output_dim_}); got {matrix.shape}"
            )
        n = matrix.shape[0]
        by_column: dict[int, dict] = {}
        for block in self.output_info_:
            by_column.setdefault(block["column"], {})[block["role"]] = block

        def argmax(block):
            return np.argmax(matrix[:, block["start"] : block["start"] + block["width"]], axis=1)

        columns = {}
        for i, spec in enumerate(self.columns_):
            blocks = by_column[i]
            if spec["kind"] == "discrete":
                codes = argmax(blocks["category"])
                cats = spec["categories"]
                lookup = np.empty(len(cats) + 1, dtype=object)  # one pass, any number of categories
                lookup[: len(cats)] = cats
                values = lookup[codes]
                null = codes >= len(cats)
                columns[spec["name"]] = _restore_discrete(pd, values, null, spec)
                continue
            scalar = np.clip(matrix[:, blocks["value"]["start"]], -1.0, 1.0)
            if spec["method"] == "gmm":
                means, stds = np.array(spec["means"]), np.array(spec["stds"])
                mode = argmax(blocks["mode"]) if "mode" in blocks else np.zeros(n, dtype=int)
                values = _from_mixture_units(scalar * 4 * stds[mode] + means[mode], spec)
            else:
                knots = np.array(spec["knots"])
                values = np.interp((scalar + 1.0) / 2.0, np.linspace(0, 1, len(knots)), knots)
            if self.clip:
                values = np.clip(values, spec["min"], spec["max"])
            if spec["integer"]:
                values = np.round(values)
            null = argmax(blocks["null"]) == 1 if "null" in blocks else np.zeros(n, dtype=bool)
            columns[spec["name"]] = _restore_continuous(pd, values, null, spec)
        return pd.DataFrame(columns, columns=self.column_names_)

    # -------------------------------------------------------------- state --

    def state_dict(self) -> dict:
        """JSON-serialisable fitted state; :meth:`from_state_dict` inverts it."""
        self.check_fitted()
        return {
            "params": {
                "discrete_columns": (
                    None
                    if self.discrete_columns is None
                    else [json_value(c) for c in self.discrete_columns]
                ),
                "continuous": self.continuous,
                "max_modes": int(self.max_modes),
                "clip": bool(self.clip),
            },
            "columns": self.columns_,
        }

    @classmethod
    def from_state_dict(cls, state: dict) -> TabularTransformer:
        """The transformer :meth:`state_dict` describes, checked first (it may come
        from a forged model file): :class:`InvalidParameterError` naming the fault."""
        _check_state(state)
        tt = cls(**state["params"])
        tt.columns_ = [dict(c) for c in state["columns"]]
        tt._build_layout()
        return tt


def fit_across_ranks(
    transformer: TabularTransformer, frame, shard, rng, max_rows: int = RANK_SAMPLE_ROWS
) -> TabularTransformer:
    """``transformer`` fitted once, on rank 0, from rows of every rank; the same on all.

    Each rank sends its share of a sample of at most ``max_rows`` rows (in
    proportion to the rows it holds, :func:`wgangp.parallel.sample_counts`;
    all rows when they fit, so the transformer is then the one a single
    process fits on the whole table). A sampled rank adds one row of each
    value of every column that could be discrete (text, boolean, category,
    integer, or named in ``discrete_columns``, with at most
    :data:`COVER_VALUES` values on the rank), so every category is known.
    Rank 0 fits; its state (the plain data of :meth:`state_dict`, as in the
    model file) is broadcast; each continuous column's bounds, integrality
    and missing values are then those of all ranks' rows. Quantiles, modes
    and the fill value come from the sample.

    Parameters
    ----------
    frame : DataFrame
        This rank's rows.
    shard : wgangp.parallel.Shard
    rng : numpy.random.Generator
        Draws the sample (this rank's rows).
    """
    take = sample_counts(shard.counts, max_rows)[shard.rank]
    if take >= len(frame):
        part = frame
    else:
        rows = np.union1d(
            rng.choice(len(frame), take, replace=False),
            _cover_rows(frame, transformer.discrete_columns),
        )
        part = frame.iloc[rows]
    parts = shard.gather(frame_to_columns(part))
    state = on_rank0(shard.comm, lambda: transformer.fit(frame_from_columns(parts)).state_dict())
    summaries = shard.allgather(_continuous_summary(state, frame))
    for i, spec in enumerate(state["columns"]):
        if spec["kind"] != "continuous":
            continue
        seen = [s[i] for s in summaries if s[i] is not None]
        spec["min"] = min([spec["min"], *(s[0] for s in seen)])
        spec["max"] = max([spec["max"], *(s[1] for s in seen)])
        spec["integer"] = bool(spec["integer"] and all(s[2] for s in seen))
        spec["has_null"] = bool(spec["has_null"] or any(s[3] for s in seen))
    return TabularTransformer.from_state_dict(state)


def _cover_rows(frame, discrete_columns) -> np.ndarray:
    """Positions of one row of each value of the columns that could be discrete."""
    pd = import_pandas()
    named = set(discrete_columns or ())
    rows = [np.zeros(0, dtype=np.intp)]
    for name in frame.columns:
        series = frame[name]
        numeric = pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)
        if numeric and not pd.api.types.is_integer_dtype(series) and name not in named:
            continue
        first = np.flatnonzero(~series.duplicated().to_numpy())
        if len(first) <= COVER_VALUES:
            rows.append(first)
    return np.unique(np.concatenate(rows))


def _continuous_summary(state: dict, frame) -> list:
    """Per column of ``state``: (min, max, all integer, any missing) of this rank's
    values of a continuous column (None for others, or no values here)."""
    out = []
    for spec in state["columns"]:
        if spec["kind"] != "continuous" or spec["name"] not in frame.columns:
            out.append(None)
            continue
        values = frame[spec["name"]].to_numpy(dtype=np.float64, na_value=np.nan)
        null = np.isnan(values)
        observed = values[~null]
        if observed.size == 0:
            out.append(None if not null.any() else (np.inf, -np.inf, True, True))
            continue
        out.append(
            (
                float(observed.min()),
                float(observed.max()),
                bool(np.all(observed == np.round(observed))),
                bool(null.any()),
            )
        )
    return out


_STATE_PARAMS = ("discrete_columns", "continuous", "max_modes", "clip")


def _check_state(state) -> None:
    """Refuse a transformer state that could not have come from :meth:`state_dict`."""

    def bad(what: str):
        raise InvalidParameterError(f"transformer state: {what}")

    if not isinstance(state, dict) or set(state) != {"params", "columns"}:
        bad("must be a JSON object with 'params' and 'columns'")
    params, columns = state["params"], state["columns"]
    if not isinstance(params, dict) or set(params) - set(_STATE_PARAMS):
        bad(f"params must be a JSON object with some of {list(_STATE_PARAMS)}")
    if not isinstance(columns, list) or not columns:
        bad("columns must be a non-empty list")
    for i, spec in enumerate(columns):
        if not isinstance(spec, dict) or not isinstance(spec.get("has_null"), bool):
            bad(f"column {i} must be a JSON object with a boolean has_null")
        if not isinstance(spec.get("dtype"), str):
            bad(f"column {i} has no dtype name")
        if spec.get("kind") == "discrete":
            cats = spec.get("categories")
            if not isinstance(cats, list) or not (cats or spec["has_null"]):
                bad(f"column {i} ({spec.get('name')!r}): categories must be a list")
            if any(isinstance(c, (dict, list)) for c in cats):
                bad(f"column {i} ({spec.get('name')!r}): categories must be JSON scalars")
            continue
        if spec.get("kind") != "continuous":
            bad(f"column {i}: kind={spec.get('kind')!r} is not 'discrete' or 'continuous'")
        numbers = [spec.get(k) for k in ("min", "max", "fill")]
        if not all(_finite_number(v) for v in numbers) or numbers[0] > numbers[1]:
            bad(f"column {i} ({spec.get('name')!r}): min, max and fill must be finite, min <= max")
        if not isinstance(spec.get("integer"), bool):
            bad(f"column {i} ({spec.get('name')!r}): integer must be a boolean")
        method = spec.get("method")
        if method == "quantile":
            knots = spec.get("knots")
            if (
                not isinstance(knots, list)
                or not knots
                or not all(_finite_number(v) for v in knots)
                or any(b < a for a, b in zip(knots, knots[1:]))
            ):
                bad(f"column {i} ({spec.get('name')!r}): knots must be finite and non-decreasing")
        elif method == "gmm":
            parts = [spec.get(k) for k in ("means", "stds", "weights")]
            if (
                not all(isinstance(p, list) and p for p in parts)
                or len({len(p) for p in parts}) != 1
                or not all(_finite_number(v) for p in parts for v in p)
                or min(parts[1]) <= 0
                or min(parts[2]) <= 0
            ):
                bad(
                    f"column {i} ({spec.get('name')!r}): means, stds and weights must be "
                    "lists of one length, finite, stds and weights > 0"
                )
            for key in ("unit", "loc", "spread"):
                if key in spec and not _finite_number(spec[key]):
                    bad(f"column {i} ({spec.get('name')!r}): {key} must be a finite number")
        else:
            bad(f"column {i}: method={method!r} is not 'gmm' or 'quantile'")


def _finite_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and np.isfinite(value)


def _normaliser(observed: np.ndarray) -> tuple[float, float, float]:
    """``(unit, loc, spread)``: ``(x / unit - loc) / spread`` has median 0 and sd 1.

    Dividing by the largest magnitude first keeps every step finite and
    normal, whatever the column's scale (a standard deviation of values
    around 1e-300 underflows, squares of values around 1e155 overflow).
    """
    unit = float(np.max(np.abs(observed)))
    if unit == 0.0 or not np.isfinite(unit):
        return 1.0, 0.0, 1.0
    scaled = observed / unit
    loc = float(np.median(scaled))
    spread = float(np.std(scaled))
    return unit, loc, spread if spread > 0 else 1.0


def _to_mixture_units(values: np.ndarray, spec: dict) -> np.ndarray:
    """Values in the units the mixture was fitted in (files before them: as they are)."""
    return (values / spec.get("unit", 1.0) - spec.get("loc", 0.0)) / spec.get("spread", 1.0)


def _from_mixture_units(z: np.ndarray, spec: dict) -> np.ndarray:
    return (z * spec.get("spread", 1.0) + spec.get("loc", 0.0)) * spec.get("unit", 1.0)


def _fit_mixture(observed: np.ndarray, n_components: int, rng) -> tuple:
    """Means, sds and weights of the significant modes (weight >= 0.005) of a BGM."""
    mixture = require("sklearn.mixture", "tabular", "mode-specific normalisation")
    ConvergenceWarning = require("sklearn.exceptions", "tabular", "wgangp").ConvergenceWarning
    BayesianGaussianMixture = mixture.BayesianGaussianMixture
    bgm = BayesianGaussianMixture(
        n_components=n_components,
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=0.001,
        max_iter=100,
        n_init=1,
        random_state=int(rng.integers(2**31 - 1)),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        bgm.fit(observed.reshape(-1, 1))
    keep = bgm.weights_ >= 0.005
    if not keep.any():
        keep = bgm.weights_ == bgm.weights_.max()
    means = bgm.means_[keep, 0]
    stds = np.sqrt(bgm.covariances_[keep].reshape(-1))
    weights = bgm.weights_[keep] / bgm.weights_[keep].sum()
    return means, stds, weights


IDENTIFIER_SHARE = 0.9
"""A discrete column with distinct values in more than this share of its rows is refused."""

IDENTIFIER_MIN_ROWS = 20


def _refuse_identifiers(name, n_categories: int, n_values: int, series, inferred: bool) -> None:
    """Refuse a discrete column whose values are (nearly) all distinct.

    Such a column is an identifier, free text, or whole rows read as one
    column (a CSV with another separator): a synthesizer samples its
    categories, so it would copy them into the synthetic rows verbatim.
    """
    if n_values < IDENTIFIER_MIN_ROWS or n_categories <= IDENTIFIER_SHARE * n_values:
        return
    example = next((v for v in series if isinstance(v, str)), series.iloc[0])
    hint = ""
    if isinstance(example, str) and any(c in example for c in ";\t|,"):
        hint = " Its values hold separators: if the file uses another one, pass sep=...;"
    why = "inferred discrete" if inferred else "listed in discrete_columns"
    raise InvalidDataError(
        f"column {name!r} ({why}) has {n_categories} distinct values in {n_values} rows "
        f"(e.g. {str(example)[:40]!r}): an identifier, free text or whole rows, which a "
        f"synthesizer would copy into its rows verbatim.{hint} Drop the column "
        f"(data.drop(columns=[{name!r}])), or, if it holds numbers, convert it to numbers"
    )


def _restore_discrete(pd, values, null, spec):
    dtype = spec["dtype"]
    if dtype == "category":
        return pd.Categorical(values, categories=spec.get("dtype_categories"))
    extension = _extension_dtype(pd, dtype)
    if extension is not None:  # nullable Int64, boolean, string: missing values as pd.NA
        values = values.copy()
        values[null] = pd.NA
        try:
            return pd.Series(values, dtype=extension)
        except (TypeError, ValueError):
            return pd.Series(values, dtype=object)
    try:
        if dtype in ("object", "string", "str"):
            return pd.Series(values, dtype=dtype)
        if null.any() and dtype in ("bool",):
            return pd.Series(values, dtype="boolean")
        if null.any() and np.dtype(dtype).kind in "iu":
            return pd.Series(values, dtype=dtype.capitalize())
        return pd.Series(values).astype(dtype)
    except (TypeError, ValueError):
        return pd.Series(values, dtype=object)


def _extension_dtype(pd, name: str):
    """The pandas extension dtype named ``name`` (Int64, boolean, ...), else None."""
    try:
        np.dtype(name)
        return None
    except TypeError:
        pass
    try:
        return pd.api.types.pandas_dtype(name)
    except TypeError:
        return None


def _restore_continuous(pd, values, null, spec):
    dtype = spec["dtype"]
    try:
        kind = np.dtype(dtype).kind
    except TypeError:  # a pandas extension dtype such as Int64 or Float64
        series = pd.Series(values)
        series[null] = None
        return series.astype(dtype)
    if kind in "iu":
        if null.any():
            series = pd.Series(values.astype(np.int64), dtype=dtype.capitalize())
            series[null] = pd.NA
            return series
        return pd.Series(values.astype(dtype))
    values = values.astype(dtype, copy=True)
    values[null] = np.nan
    return pd.Series(values)


# --------------------------------------------------------------------------- #
