"""Activations: each keeps f, f' and f'' side by side.

An :class:`Activation` is an elementwise nonlinearity ``s`` with ``f = s``,
``df = s'`` and ``d2f = s''``; the second derivative is what the exact
gradient-penalty pullback of :mod:`wgangp.nn` needs for smooth activations
(it is zero for the piecewise-linear ones). :class:`Dropout` wraps another
activation with a fixed mask per step, so the same exact passes cover a
critic with dropout. :func:`get_activation` builds one from a name or a
config dict. :mod:`wgangp.nn` re-exports all of them.
"""

from __future__ import annotations

import numpy as np

from .backend import (
    as_mask,
    astype,
    column_sums,
    copy_into,
    into,
    kernel,
    namespace,
    where_scalars,
)
from .errors import InvalidParameterError, InvalidParameterTypeError

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "Dropout",
    "Identity",
    "LeakyReLU",
    "ReLU",
    "Softplus",
    "Tanh",
    "get_activation",
]

# --------------------------------------------------------------------------- #
# Activations: each keeps f, f' and f'' side by side.                          #
# Derivatives take both the pre-activation z and the output h = f(z), so each  #
# can use whichever is cheaper.                                               #
# --------------------------------------------------------------------------- #


class Activation:
    """An elementwise nonlinearity with its first and second derivatives.

    Attributes
    ----------
    name : str
        Name used in configs and model files.
    piecewise_linear : bool
        True when ``f''`` is zero almost everywhere (identity, ReLU, LeakyReLU),
        so the penalty pullback has no second-derivative terms.
    """

    name = "activation"
    piecewise_linear = False

    def f(self, z: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def df(self, z: np.ndarray, h: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def d2f(self, z: np.ndarray, h: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    # The passes below use three hooks built on f, df, d2f. ``saved`` is what
    # the derivatives need from the forward pass; subclasses may keep less
    # (ReLU keeps a boolean mask) and may compute h in place of z.

    def forward_saved(self, z: np.ndarray, empty=np.empty):
        """``(h, saved)``: the output and what :meth:`mul_df` needs. May overwrite ``z``;
        may take the arrays it keeps from ``empty`` (:func:`numpy.empty`'s signature)."""
        h = self.f(z)
        return h, (z, h)

    def forward_bias_saved(self, z: np.ndarray, b: np.ndarray, empty=np.empty):
        """:meth:`forward_saved` of ``z + b`` (the bias ``b`` broadcast over the rows),
        overwriting ``z``; an activation may do it in one pass."""
        z += b  # in place, in every namespace
        return self.forward_saved(z, empty)

    def mul_df(self, d: np.ndarray, saved, out=None) -> np.ndarray:
        """``d * f'(z)``; ``out`` may be ``d`` itself."""
        z, h = saved
        return into("multiply", d, self.df(z, h), out=out)

    def outer_mul_df(self, u: np.ndarray, w: np.ndarray, saved, out: np.ndarray, sums=None) -> bool:
        """``out = (u * w) * f'(z)`` for a (rows, 1) ``u`` and (n,) ``w`` in one pass,
        when this activation offers it (a compiled kernel); else False, and the
        caller runs the two passes. With ``sums = (rows, s)`` it also sets
        ``s[...] = out[:rows].sum(axis=0)`` as :func:`wgangp.backend.column_sums`
        does, in the same pass where the kernel can (see :meth:`mul_df_sums`)."""
        return False

    def mul_df_sums(self, d: np.ndarray, saved, rows: int, sums: np.ndarray) -> bool:
        """``d *= f'(z)`` in place and ``sums[...] = d[:rows].sum(axis=0)`` in one pass
        (a layer's backward product and its bias gradient), when this activation
        offers it (a compiled kernel, given a NumPy ``d`` of more than one column,
        ``rows >= 1`` and ``sums`` of ``d``'s dtype); else False, and the caller
        runs :meth:`mul_df` and the column sums. The sums are formed as NumPy
        sums the rows of a many-column array: row after row."""
        return False

    def d2f_saved(self, saved) -> np.ndarray:
        """``f''(z)`` from what :meth:`forward_saved` kept."""
        z, h = saved
        return self.d2f(z, h)

    def config(self) -> dict:
        """JSON-serialisable description, inverse of :func:`get_activation`."""
        return {"name": self.name}

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"

    def __eq__(self, other) -> bool:
        return isinstance(other, Activation) and self.config() == other.config()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.config().items())))


def _sums_fit(d, rows: int, sums) -> bool:
    """Whether a fused product-and-sums kernel forms ``d[:rows].sum(axis=0)`` as
    :func:`wgangp.backend.column_sums` does: more than one column (one column
    NumPy sums pairwise), at least one row, ``sums`` of ``d``'s dtype."""
    return d.shape[1] > 1 and 0 < rows <= d.shape[0] and sums.dtype == d.dtype


def _mul_sums(d, factor, rows: int, sums) -> bool:
    """``d *= factor`` and ``sums = d[:rows].sum(axis=0)`` in one compiled pass
    (:meth:`Activation.mul_df_sums` of ReLU and LeakyReLU), or False."""
    fused = kernel("mul_sums", d, factor, sums)
    if fused is None or not _sums_fit(d, rows, sums) or factor.shape != d.shape:
        return False
    fused(d, factor, rows, sums)
    return True


class Identity(Activation):
    """``f(z) = z``."""

    name = "identity"
    piecewise_linear = True

    def f(self, z):
        return z

    def df(self, z, h):
        return namespace(z).ones_like(z)

    def d2f(self, z, h):
        return namespace(z).zeros_like(z)

    def forward_saved(self, z, empty=np.empty):
        return z, None

    def mul_df(self, d, saved, out=None):
        if out is None or out is d:
            return d
        copy_into(namespace(d), out, d)
        return out


class ReLU(Activation):
    """``f(z) = max(z, 0)``; ``f'(0)`` is taken as 0."""

    name = "relu"
    piecewise_linear = True

    def f(self, z):
        xp = namespace(z)
        return xp.maximum(z, xp.zeros_like(z))

    def df(self, z, h):
        return astype(namespace(z), z > 0, z.dtype)

    def d2f(self, z, h):
        return namespace(z).zeros_like(z)

    def forward_saved(self, z, empty=np.empty):
        # A mask is all f' needs (NumPy keeps it boolean, in an array from
        # ``empty``); multiplying by it is cheaper than a maximum, and h takes
        # z's memory.
        if type(z) is np.ndarray:
            mask = np.greater(z, 0, out=empty(z.shape, bool))
        else:
            mask = as_mask(z > 0, z)
        into("multiply", z, mask, out=z)
        return z, mask

    def forward_bias_saved(self, z, b, empty=np.empty):
        fused = kernel("bias_relu", z, b)
        if fused is None:
            return super().forward_bias_saved(z, b, empty)
        mask = empty(z.shape, bool)
        fused(z, b, mask)  # z + b, its mask and the product in one pass
        return z, mask

    def outer_mul_df(self, u, w, saved, out, sums=None):
        if sums is not None:
            rows, total = sums
            fused = kernel("outer_mul_mask_sums", u, w, saved, out, total)
            if fused is not None and _sums_fit(out, rows, total):
                fused(u, w, saved, out, rows, total)
                return True
        fused = kernel("outer_mul_mask", u, w, saved, out)
        if fused is None:
            return False
        fused(u, w, saved, out)
        if sums is not None:  # sums the fused pass cannot form as NumPy does
            column_sums(out[: sums[0], ...], sums[1])
        return True

    def mul_df_sums(self, d, saved, rows, sums):
        return _mul_sums(d, saved, rows, sums)

    def mul_df(self, d, saved, out=None):
        if out is d:
            fused = kernel("mul_mask", d, saved)
            if fused is not None:
                fused(d, saved)
                return d
        return into("multiply", d, saved, out=out)


class LeakyReLU(Activation):
    """``f(z) = z`` for ``z > 0`` else ``slope * z``."""

    name = "leaky_relu"
    piecewise_linear = True

    def __init__(self, slope: float = 0.2):
        if isinstance(slope, bool) or not isinstance(slope, (int, float, np.floating, np.integer)):
            raise InvalidParameterTypeError(
                f"leaky_relu slope={slope!r} must be a number in [0, 1), e.g. 0.2"
            )
        slope = float(slope)
        if not 0.0 <= slope < 1.0:
            raise InvalidParameterError(
                f"leaky_relu slope={slope!r} is not allowed; use a value in [0, 1), e.g. 0.2"
            )
        self.slope = slope

    def f(self, z):
        return z * self.df(z, None)

    def df(self, z, h):
        return where_scalars(z > 0, 1.0, self.slope, z)

    def d2f(self, z, h):
        return namespace(z).zeros_like(z)

    def forward_saved(self, z, empty=np.empty):
        slope = self.df(z, None)  # 1 or slope per entry: f(z) = f'(z) z
        into("multiply", z, slope, out=z)
        return z, slope

    def forward_bias_saved(self, z, b, empty=np.empty):
        fused = kernel("bias_leaky_relu", z, b)
        if fused is None:
            return super().forward_bias_saved(z, b, empty)
        slope = empty(z.shape, z.dtype)
        scalar = z.dtype.type
        fused(z, b, slope, scalar(1.0), scalar(self.slope))
        return z, slope

    def mul_df(self, d, saved, out=None):
        return into("multiply", d, saved, out=out)

    def mul_df_sums(self, d, saved, rows, sums):
        return _mul_sums(d, saved, rows, sums)

    def config(self):
        return {"name": self.name, "slope": self.slope}

    def __repr__(self):
        return f"LeakyReLU(slope={self.slope})"


class Tanh(Activation):
    """``f(z) = tanh z``, ``f' = 1 - h^2``, ``f'' = -2 h (1 - h^2)``."""

    name = "tanh"

    def f(self, z):
        return namespace(z).tanh(z)

    def df(self, z, h):
        return 1 - h * h

    def d2f(self, z, h):
        return -2 * h * (1 - h * h)


class Softplus(Activation):
    """``f(z) = log(1 + e^z)``, ``f' = sigmoid(z)``, ``f'' = sigmoid(z) (1 - sigmoid(z))``."""

    name = "softplus"

    def f(self, z):
        xp = namespace(z)
        return xp.logaddexp(xp.zeros_like(z), z)

    @staticmethod
    def _sigmoid(z):
        # tanh form: no overflow for large |z|.
        return 0.5 * (1 + namespace(z).tanh(0.5 * z))

    def df(self, z, h):
        return self._sigmoid(z)

    def d2f(self, z, h):
        s = self._sigmoid(z)
        return s * (1 - s)


ACTIVATIONS: dict[str, type[Activation]] = {
    cls.name: cls for cls in (Identity, ReLU, LeakyReLU, Tanh, Softplus)
}


class Dropout(Activation):
    """Another activation followed by a fixed dropout mask: ``f(z) = s(z) m``.

    ``m`` holds 0 or ``1 / (1 - rate)`` per entry (inverted dropout), drawn
    once per training step for the step's stacked rows by :meth:`new_mask`;
    with ``mask = None`` the layer is ``s`` alone (evaluation). With the mask
    fixed the critic is an ordinary function of its input, so

    .. math:: f' = s'(z) m, \\qquad f'' = s''(z) m

    keep the input gradient and the penalty pullback of :mod:`wgangp.nn` exact.

    Parameters
    ----------
    inner : Activation or name
    rate : float in [0, 1)
    """

    name = "dropout"

    def __init__(self, inner="leaky_relu", rate: float = 0.5):
        self.inner = get_activation(inner)
        rate = float(rate)
        if not 0.0 <= rate < 1.0:
            raise InvalidParameterError(f"dropout rate={rate!r} must lie in [0, 1), e.g. 0.5")
        self.rate = rate
        self.piecewise_linear = self.inner.piecewise_linear
        self.mask: np.ndarray | None = None

    def new_mask(self, rng: np.random.Generator, rows: int, width: int, dtype) -> None:
        """Draw the mask for the next forward pass over ``rows`` rows.

        ``rng`` is a ``numpy.random.Generator`` or a backend's random source
        (:meth:`wgangp.backend.Backend.random`): the mask is then on its device."""
        u = rng.random((rows, width), dtype=np.dtype(dtype).type)
        keep = u >= self.rate
        scale = 1.0 / (1.0 - self.rate)
        if type(u) is np.ndarray:
            self.mask = keep.astype(dtype) * np.dtype(dtype).type(scale)
        else:
            self.mask = astype(namespace(u), keep, u.dtype) * scale

    def _mask_for(self, z):
        if self.mask is None:
            return namespace(z).ones_like(z)
        if self.mask.shape != z.shape:
            raise InvalidParameterError(
                f"dropout mask has shape {self.mask.shape} but the layer sees {z.shape}; "
                "draw it with new_mask for this pass"
            )
        return self.mask

    def f(self, z):
        return self.inner.f(z) * self._mask_for(z)

    def df(self, z, h):
        return self.inner.df(z, self.inner.f(z)) * self._mask_for(z)

    def d2f(self, z, h):
        return self.inner.d2f(z, self.inner.f(z)) * self._mask_for(z)

    def forward_saved(self, z, empty=np.empty):
        mask = self._mask_for(z)
        if self.piecewise_linear:
            # ReLU, LeakyReLU, identity: f(z) = f'(z) z, and f'(z) m is all the passes need.
            slope = self.inner.df(z, z) * mask
            return into("multiply", z, slope, out=z), slope
        h_inner = self.inner.f(z)
        return h_inner * mask, (z, h_inner, mask)

    def mul_df(self, d, saved, out=None):
        if self.piecewise_linear:
            return into("multiply", d, saved, out=out)
        z, h_inner, mask = saved
        return into("multiply", d, self.inner.df(z, h_inner) * mask, out=out)

    def d2f_saved(self, saved):
        if self.piecewise_linear:
            return namespace(saved).zeros_like(saved)
        z, h_inner, mask = saved
        return self.inner.d2f(z, h_inner) * mask

    def config(self):
        return {"name": self.name, "rate": self.rate, "inner": self.inner.config()}

    def __repr__(self):
        return f"Dropout({self.inner!r}, rate={self.rate})"


def get_activation(spec) -> Activation:
    """Return an :class:`Activation` from a name, a config dict, or an instance.

    ``"leaky_relu"`` has slope 0.2; ``{"name": "leaky_relu", "slope": 0.1}``
    chooses another.

    >>> get_activation("relu")
    ReLU()
    >>> get_activation({"name": "leaky_relu", "slope": 0.1})
    LeakyReLU(slope=0.1)
    """
    if isinstance(spec, Activation):
        return spec
    if isinstance(spec, dict):
        spec = dict(spec)
        name = spec.pop("name", None)
    elif isinstance(spec, str):
        name, spec = spec, {}
    else:
        raise InvalidParameterTypeError(
            f"activation={spec!r} has type {type(spec).__name__}; "
            f"use a name out of {sorted(ACTIVATIONS)} or an Activation"
        )
    if name not in ACTIVATIONS:
        raise InvalidParameterError(
            f"activation={name!r} is not known; choose one of {sorted(ACTIVATIONS)}"
        )
    try:
        return ACTIVATIONS[name](**spec)
    except TypeError as exc:
        raise InvalidParameterError(
            f"activation {name!r} got bad options {spec!r}: {exc}"
        ) from None
