"""The array namespace and default dtype.

Every numerical module takes its arrays from here, so that a different array
library with NumPy's interface (CuPy) can be dropped in later without touching
the math.
"""

from __future__ import annotations

import numpy

xp = numpy
"""The array namespace used by the numerical core."""

DEFAULT_DTYPE = numpy.float32
"""float32 by default; float64 is selectable for gradient checks."""

SUPPORTED_DTYPES = (numpy.float32, numpy.float64)


def as_float_dtype(dtype) -> numpy.dtype:
    """Return ``dtype`` as a NumPy dtype, accepting only float32 and float64.

    >>> as_float_dtype("float64")
    dtype('float64')
    """
    from .errors import InvalidParameterError

    try:
        resolved = numpy.dtype(dtype)
    except TypeError as exc:
        raise InvalidParameterError(
            f"dtype={dtype!r} is not a dtype; use numpy.float32 or numpy.float64"
        ) from exc
    if resolved not in (numpy.dtype(numpy.float32), numpy.dtype(numpy.float64)):
        raise InvalidParameterError(
            f"dtype={dtype!r} is not supported; use numpy.float32 (fast) or numpy.float64 (checks)"
        )
    return resolved
