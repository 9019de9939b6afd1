"""Weight initialisers drawing from an explicit ``numpy.random.Generator``.

Each initialiser maps ``(fan_in, fan_out, rng, dtype)`` to a weight matrix of
shape ``(fan_in, fan_out)``; biases always start at zero.

==============  ==========================================
name            distribution
==============  ==========================================
he_uniform      U(-sqrt(6 / fan_in), sqrt(6 / fan_in))
he_normal       N(0, 2 / fan_in)
glorot_uniform  U(-sqrt(6 / (fan_in + fan_out)), +...)
glorot_normal   N(0, 2 / (fan_in + fan_out))
==============  ==========================================

``he_uniform`` equals PyTorch's ``kaiming_uniform_(w, nonlinearity="relu")``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from .errors import InvalidParameterError


def he_uniform(fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """He (Kaiming) uniform initialisation for ReLU layers.

    >>> w = he_uniform(4, 3, np.random.default_rng(0))
    >>> w.shape, bool(np.all(np.abs(w) <= math.sqrt(6 / 4)))
    ((4, 3), True)
    """
    limit = math.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(dtype)


def he_normal(fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float32) -> np.ndarray:
    """He (Kaiming) normal initialisation: N(0, 2 / fan_in)."""
    return (rng.standard_normal((fan_in, fan_out)) * math.sqrt(2.0 / fan_in)).astype(dtype)


def glorot_uniform(
    fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float32
) -> np.ndarray:
    """Glorot (Xavier) uniform initialisation: U(+-sqrt(6 / (fan_in + fan_out)))."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_in, fan_out)).astype(dtype)


def glorot_normal(
    fan_in: int, fan_out: int, rng: np.random.Generator, dtype=np.float32
) -> np.ndarray:
    """Glorot (Xavier) normal initialisation: N(0, 2 / (fan_in + fan_out))."""
    std = math.sqrt(2.0 / (fan_in + fan_out))
    return (rng.standard_normal((fan_in, fan_out)) * std).astype(dtype)


INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "he_uniform": he_uniform,
    "he_normal": he_normal,
    "glorot_uniform": glorot_uniform,
    "glorot_normal": glorot_normal,
}


def get_initializer(name: str) -> Callable[..., np.ndarray]:
    """Look an initialiser up by name.

    >>> get_initializer("he_uniform") is he_uniform
    True
    """
    try:
        return INITIALIZERS[name]
    except (KeyError, TypeError):
        raise InvalidParameterError(
            f"init={name!r} is not known; choose one of {sorted(INITIALIZERS)}"
        ) from None
