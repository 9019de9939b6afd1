"""Every argument check of wgangp: one signature, one message style, rules declared once.

Each checker takes ``(value, name, ...)``, returns the value normalised (an
``int`` as int, a path as :class:`~pathlib.Path`) and raises a named
exception from :mod:`wgangp.errors` whose message names the argument, the
value given and what is allowed: ``"hidden=0 is not allowed; it must be an
integer >= 1"``.

The parameters of an estimator are declared once, as a table of
:class:`Param` (``WGANGP.PARAMS``, ``TabularSynthesizer.PARAMS``); the
estimator checks its constructor arguments with :func:`check_params`, and
the TOML configuration and the CLI flags are built from the same table
(:mod:`wgangp.config`).

Examples
--------
>>> check_int(3, "steps")
3
>>> check_int(0, "steps")
Traceback (most recent call last):
...
wgangp.errors.InvalidParameterError: steps=0 is not allowed; it must be an integer >= 1
>>> check_param(None, "latent_dim", Param("int", "noise dimension", minimum=1, none="auto"))
"""

from __future__ import annotations

import importlib
import math
import numbers
import os
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .blocks import value_range
from .errors import InvalidDataError, InvalidParameterError, InvalidParameterTypeError

__all__ = [
    "Param",
    "require",
    "check_array",
    "check_bool",
    "check_callbacks",
    "check_choice",
    "check_dtype",
    "check_fits_in_memory",
    "check_float",
    "check_folder",
    "check_int",
    "check_param",
    "check_params",
    "check_path",
    "check_random_state",
    "physical_memory",
]


# --------------------------------------------------------------------------- #
# Scalars.                                                                    #
# --------------------------------------------------------------------------- #


def check_int(value, name: str, minimum: int = 1, allow_none: bool = False) -> int | None:
    """An integer >= ``minimum`` (or None when ``allow_none``)."""
    if type(value) is int and value >= minimum:  # the common case, without the ABC check
        return value
    if value is None and allow_none:
        return None
    allowed = f"an integer >= {minimum}" + (" or None" if allow_none else "")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InvalidParameterTypeError(f"{name}={value!r} must be {allowed}")
    if value < minimum:
        raise InvalidParameterError(f"{name}={value!r} is not allowed; it must be {allowed}")
    return int(value)


def check_float(
    value,
    name: str,
    minimum: float = 0.0,
    strict: bool = False,
    maximum: float | None = None,
) -> float:
    """A finite number >= ``minimum`` (> when ``strict``) and < ``maximum`` when given."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise InvalidParameterTypeError(f"{name}={value!r} must be a number")
    value = float(value)
    if maximum is None:
        allowed = f"> {minimum:g}" if strict else f">= {minimum:g}"
    else:
        allowed = f"in {'(' if strict else '['}{minimum:g}, {maximum:g})"
    if (
        not math.isfinite(value)
        or value < minimum
        or (strict and value == minimum)
        or (maximum is not None and value >= maximum)
    ):
        raise InvalidParameterError(
            f"{name}={value!r} is not allowed; it must be a finite number {allowed}"
        )
    return value


def check_bool(value, name: str) -> bool:
    """True or False (NumPy booleans accepted)."""
    if not isinstance(value, (bool, np.bool_)):
        raise InvalidParameterTypeError(f"{name}={value!r} must be True or False")
    return bool(value)


def check_choice(value, name: str, choices) -> Any:
    """One of ``choices`` (compared with ``==``; unhashable values are refused)."""
    try:
        ok = value in choices
    except TypeError:
        ok = False
    if not ok:
        raise InvalidParameterError(
            f"{name}={value!r} is not allowed; choose one of {', '.join(map(repr, choices))}"
        )
    return value


def check_random_state(value, name: str = "random_state"):
    """None, an int seed >= 0 or a Generator, as ``numpy.random.default_rng`` takes.

    Returns the value itself (an int as int): ``numpy.random.default_rng`` of
    it gives the stream.
    """
    if value is None or isinstance(value, np.random.Generator):
        return value
    allowed = "None, an integer seed >= 0 or a numpy.random.Generator"
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InvalidParameterTypeError(f"{name}={value!r} must be {allowed}")
    if value < 0:
        raise InvalidParameterError(f"{name}={value!r} is not allowed; it must be {allowed}")
    return int(value)


def check_dtype(value, name: str = "dtype") -> np.dtype:
    """float32 or float64 (a dtype, a type or its name), as a NumPy dtype.

    >>> check_dtype("float64")
    dtype('float64')
    """
    try:
        resolved = None if value is None else np.dtype(value)
    except TypeError:
        resolved = None
    if resolved is None or resolved not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise InvalidParameterError(
            f"{name}={value!r} is not allowed; use numpy.float32 (fast) or numpy.float64 (checks)"
        )
    return resolved


# --------------------------------------------------------------------------- #
# Parameter tables.                                                           #
# --------------------------------------------------------------------------- #


class Param(NamedTuple):
    """One estimator or run setting: its kind, what is allowed, and its help text.

    ``kind`` is ``"int"``, ``"float"``, ``"str"``, ``"bool"``, ``"dtype"``,
    ``"seed"`` (a random state) or ``"columns"`` (a list of column names);
    ``choices`` limits a string; ``minimum`` bounds a number
    (``strict``: the minimum itself is excluded), ``maximum`` bounds it from
    above (excluded). ``auto`` names a string accepted in place of a number
    (``pac="auto"``); ``none`` is how a configuration file spells Python's
    None for this setting (``latent_dim = "auto"``, ``scale = "none"``).
    ``objects`` lists types also accepted from Python (an ``Optimizer``
    instance), and ``extra`` strings also accepted from Python but not
    offered on the command line.
    """

    kind: str
    help: str
    choices: tuple | None = None
    minimum: float | None = None
    strict: bool = False
    maximum: float | None = None
    auto: str | None = None
    none: str | None = None
    objects: tuple = ()


def check_param(value, name: str, spec: Param) -> Any:
    """Check one value against its :class:`Param`; return it normalised."""
    if value is None and spec.none is not None:
        return None
    if spec.auto is not None and isinstance(value, str) and value == spec.auto:
        return value
    if spec.objects and isinstance(value, spec.objects):
        return value
    kind = spec.kind
    if kind == "columns":
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise InvalidParameterTypeError(
                f"{name}={value!r} must be None or a list of column names"
            )
        return list(value)
    if kind == "seed":
        return check_random_state(value, name)
    if kind == "dtype":
        return check_dtype(value, name)
    if kind == "bool":
        return check_bool(value, name)
    if kind == "str":
        if spec.choices is None:
            if not isinstance(value, str):
                raise InvalidParameterTypeError(f"{name}={value!r} must be a string")
            return value
        if not isinstance(value, str):
            also = " or a " + " or ".join(t.__name__ for t in spec.objects) if spec.objects else ""
            raise InvalidParameterTypeError(
                f"{name}={value!r} must be a string{also}; choose one of "
                + ", ".join(map(repr, spec.choices))
            )
        return check_choice(value, name, spec.choices)
    minimum = spec.minimum if spec.minimum is not None else -math.inf
    if kind == "int":
        if spec.auto is not None or spec.none is not None:
            try:
                return check_int(value, name, int(minimum))
            except InvalidParameterTypeError:
                also = repr(spec.auto) if spec.auto is not None else "None"
                raise InvalidParameterTypeError(
                    f"{name}={value!r} must be an integer >= {int(minimum)} or {also}"
                ) from None
        return check_int(value, name, int(minimum))
    return check_float(value, name, minimum, spec.strict, spec.maximum)


def check_params(estimator, table: dict[str, Param]) -> dict[str, Any]:
    """Check every constructor argument of ``estimator`` against ``table``.

    Returns the normalised values by name.
    """
    return {name: check_param(getattr(estimator, name), name, spec) for name, spec in table.items()}


_IMMUTABLE = (str, int, float, type(None), np.dtype, np.generic)
_PLAIN_TYPES = frozenset((str, int, float, type(None)))


def frozen_params(params: dict) -> tuple | None:
    """``params`` as a hashable key of names, types and values when every value is
    an immutable scalar (a string, a number, None, a dtype or NumPy's scalar type
    such as ``np.float32``), else None: a result computed from such values alone
    may be remembered under this key (an object, a list or a dict may change in
    place, so nothing is remembered for them).

    >>> frozen_params({"lr": 1e-4, "dtype": np.float32}) is not None
    True
    >>> frozen_params({"hidden": [64, 64]}) is None
    True
    """
    values = tuple(params.values())
    types = tuple(map(type, values))
    for kind in set(types).difference(_PLAIN_TYPES):  # a closer look at the other types
        if issubclass(kind, _IMMUTABLE):
            continue
        if not issubclass(kind, type):  # a class is immutable here when it is a NumPy scalar type
            return None
        if not all(issubclass(v, np.generic) for v, t in zip(values, types) if t is kind):
            return None
    return tuple(params), types, values


def remembered(owner, attr: str, params: dict, compute) -> dict:
    """``compute()`` (a dict), remembered on ``owner`` under ``attr`` for these
    ``params`` when they are all immutable scalars (:func:`frozen_params`) and
    for ``owner``'s type; each call returns a new dict, which the caller may change.

    >>> class Owner: pass
    >>> owner, calls = Owner(), []
    >>> for _ in range(2):
    ...     _ = remembered(owner, "_cache", {"lr": 0.1}, lambda: calls.append(1) or {})
    >>> len(calls)
    1
    """
    key = frozen_params(params)
    if key is None:
        return compute()
    key = (type(owner), key)
    cached = owner.__dict__.get(attr)
    if cached is not None and cached[0] == key:
        return dict(cached[1])
    value = compute()
    setattr(owner, attr, (key, dict(value)))
    return value


# --------------------------------------------------------------------------- #
# Paths, callbacks, memory.                                                   #
# --------------------------------------------------------------------------- #


def check_path(value, name: str = "path") -> Path:
    """A ``str`` or ``os.PathLike`` path without NUL characters."""
    if not isinstance(value, (str, os.PathLike)):
        raise InvalidParameterTypeError(
            f"{name}={value!r} must be a str or os.PathLike path, not {type(value).__name__}"
        )
    if "\x00" in os.fspath(value):
        raise InvalidParameterError(f"{name}={value!r} is not allowed; a path cannot hold NUL")
    return Path(value)


def check_folder(value, name: str = "path") -> Path:
    """A folder path; it may not exist yet, but must not be a file."""
    path = check_path(value, name)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(
            f"{name}={str(path)!r} is a file; give a folder (it is created if missing)"
        )
    return path


_HOOKS = ("on_train_begin", "on_iteration_end", "on_train_end")


def check_callbacks(value, name: str = "callbacks") -> list:
    """None or a list of objects with the three :class:`wgangp.Callback` hooks."""
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        for i, cb in enumerate(value):
            missing = [hook for hook in _HOOKS if not callable(getattr(cb, hook, None))]
            if missing:
                raise InvalidParameterTypeError(
                    f"{name}[{i}]={cb!r} is not a callback: it lacks {missing}; "
                    "subclass wgangp.Callback"
                )
        return list(value)
    hint = " (wrap it in a list: callbacks=[cb])" if hasattr(value, "on_train_begin") else ""
    raise InvalidParameterTypeError(
        f"{name}={value!r} must be None or a list of wgangp.Callback objects{hint}"
    )


def physical_memory() -> int | None:
    """This machine's memory in bytes, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not Linux/macOS
        return None


def check_fits_in_memory(what: str, n_bytes: int, fix: str) -> None:
    """Refuse, before allocating, work that could never fit in this machine's memory."""
    memory = physical_memory()
    if memory is not None and n_bytes > memory:
        raise InvalidParameterError(
            f"{what} would need about {n_bytes / 2**30:.3g} GiB, more than this machine's "
            f"{memory / 2**30:.3g} GiB of memory; {fix}"
        )


# --------------------------------------------------------------------------- #
# Arrays.                                                                     #
# --------------------------------------------------------------------------- #


def _describe(X) -> str:
    """What was given, in words, for an error message."""
    kind = type(X)
    return f"{kind.__module__}.{kind.__name__}".replace("builtins.", "")


def check_array(
    X,
    name: str = "X",
    n_features: int | None = None,
    min_rows: int = 1,
    keep_float: bool = False,
    return_range: bool = False,
) -> np.ndarray | tuple[np.ndarray, tuple[float, float]]:
    """Validate a 2-D finite numeric array and return it as float64.

    With ``keep_float`` a float32 or float64 array is returned as it is (no
    float64 copy: a caller whose arithmetic is float64 anyway, such as the
    scaling of a minibatch's rows, gets the same numbers); other dtypes are
    converted as usual.

    The values are checked in one pass, a block of rows at a time, that also
    finds their smallest and largest value (:func:`wgangp.blocks.value_range`);
    with ``return_range`` the result is ``(array, (smallest, largest))``, for a
    caller that needs them (no second pass over the data).

    Raises
    ------
    InvalidDataError
        On NaN or inf, a wrong number of dimensions, fewer than ``min_rows``
        rows, no columns, masked entries, or a wrong number of columns.
    InvalidParameterTypeError
        On non-numeric (object, string) data, sparse matrices and iterators.
    """
    arr = X if type(X) is np.ndarray else _as_array(X, name)
    if arr.dtype == object or arr.dtype.kind in "USVMm":
        raise InvalidParameterTypeError(
            f"{name} has dtype {arr.dtype}; it must be numeric (int or float). "
            "Encode text columns first (wgangp.TabularSynthesizer handles discrete columns)"
        )
    if arr.dtype.kind == "c":
        raise InvalidParameterTypeError(f"{name} has complex dtype {arr.dtype}; use real numbers")
    if arr.ndim != 2:
        hint = " (use X.reshape(-1, 1) for a single column)" if arr.ndim == 1 else ""
        raise InvalidDataError(
            f"{name} must be 2-D (rows, columns); got {arr.ndim}-D with shape {arr.shape}{hint}"
        )
    if arr.shape[0] < max(min_rows, 1):
        rows = "1 row" if arr.shape[0] == 1 else f"{arr.shape[0]} rows"
        need = "1 row is" if min_rows <= 1 else f"{min_rows} rows are"
        why = " to learn a distribution" if min_rows > 1 else ""
        raise InvalidDataError(f"{name} has {rows}; at least {need} needed{why}")
    if arr.shape[1] == 0:
        raise InvalidDataError(f"{name} has 0 columns; at least 1 column is needed")
    if not (keep_float and arr.dtype in (np.float32, np.float64)):
        arr = arr.astype(np.float64, copy=False)
    low, high = value_range(arr)  # a block of rows at a time: no temporary the size of X
    if not (math.isfinite(low) and math.isfinite(high)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        kind = "NaN" if np.isnan(arr[tuple(bad)]) else "inf"
        raise InvalidDataError(
            f"{name} contains {kind} (first at row {bad[0]}, column {bad[1]}); "
            "remove or impute non-finite values before fitting"
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise InvalidDataError(
            f"{name} has {arr.shape[1]} columns but the model was fitted on {n_features}"
        )
    return (arr, (low, high)) if return_range else arr


def _as_array(X, name: str) -> np.ndarray:
    """``X`` (anything but a plain NumPy array) as an array, refusing what
    :func:`check_array` does not take: sparse matrices, iterators, masked
    entries, pandas nullable columns, what NumPy cannot read."""
    if hasattr(X, "toarray") and hasattr(X, "nnz"):
        raise InvalidParameterTypeError(
            f"{name} is a sparse matrix ({_describe(X)}); wgangp trains on dense arrays: "
            f"pass {name}.toarray()"
        )
    if hasattr(X, "__next__") or (hasattr(X, "__iter__") and not hasattr(X, "__len__")):
        raise InvalidParameterTypeError(
            f"{name} is an iterator ({_describe(X)}); pass a list or an array, "
            "e.g. numpy.asarray(list(...))"
        )
    if isinstance(X, np.ma.MaskedArray) and np.ma.getmaskarray(X).any():
        raise InvalidDataError(
            f"{name} is a masked array with masked (missing) entries; "
            "remove or impute them before fitting"
        )
    nullable = _nullable_columns(X)
    if nullable:
        raise InvalidParameterTypeError(
            f"{name} has pandas nullable columns {nullable[:5]} (dtypes such as Int64, "
            "Float64, boolean); convert them first, e.g. "
            f"{name}.astype('float64') (missing values become NaN, which must then be "
            "imputed), or use wgangp.TabularSynthesizer, which handles missing values"
        )
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"{name} cannot be read as an array: {exc}") from None
    return arr


def _nullable_columns(X) -> list:
    """Names of pandas extension (nullable) columns of a DataFrame, else []."""
    dtypes = getattr(X, "dtypes", None)
    if dtypes is None or not hasattr(dtypes, "items"):
        return []
    return [
        name
        for name, dtype in dtypes.items()
        if not isinstance(dtype, np.dtype) and getattr(dtype, "kind", "O") in "iufb"
    ]


def require(module: str, extra: str, what: str):
    """Import an optional dependency, or raise an ImportError naming the extra.

    >>> require("json", "none", "this doctest").__name__
    'json'
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise ImportError(
            f"{what} needs {_DISTRIBUTIONS.get(top, top)}; install it with: "
            f"pip install 'wgangp[{extra}]'"
        ) from exc


_DISTRIBUTIONS = {"sklearn": "scikit-learn", "cupy": "CuPy (cupy-cuda12x)"}
"""Import names whose package on PyPI is called otherwise."""
