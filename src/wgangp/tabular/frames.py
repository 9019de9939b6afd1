"""DataFrames in and out of the tabular estimators: reading, checking, JSON values.

pandas (``pip install wgangp[tabular]``) is imported when needed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import InvalidDataError, InvalidParameterTypeError
from ..validation import require

__all__ = ["as_frame", "import_pandas", "json_value"]


def import_pandas():
    """pandas, or an ImportError naming the extra that installs it."""
    return require("pandas", "tabular", "wgangp.tabular")


def as_frame(data, name: str = "data"):
    """A DataFrame from a DataFrame or a CSV path; validated once, here."""
    pd = import_pandas()
    if isinstance(data, (str, Path)):
        path = Path(data)
        if not path.is_file():
            raise InvalidDataError(f"{name}={str(data)!r} is not a file; pass a DataFrame or a CSV")
        data = pd.read_csv(path)
    if not isinstance(data, pd.DataFrame):
        raise InvalidParameterTypeError(
            f"{name} must be a pandas DataFrame or a CSV path; got {type(data).__name__}"
        )
    if len(data) == 0 or data.shape[1] == 0:
        raise InvalidDataError(f"{name} has shape {data.shape}; at least 1 row and 1 column needed")
    if not data.columns.is_unique:
        dup = list(data.columns[data.columns.duplicated()])
        raise InvalidDataError(f"{name} has duplicated column names {dup}; rename them")
    return data


def json_value(value):
    """A category as a JSON scalar (numpy scalars to Python, others to str)."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (bool, int, float, str)) or value is None:
        return value
    return str(value)
