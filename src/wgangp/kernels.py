"""Compiled elementwise kernels (numba), used on NumPy arrays when numba is installed.

NumPy runs each elementwise operation as its own pass over memory: a hidden
layer's bias, ReLU and mask are three passes, an RMSProp update nine. Each
kernel here does such a sequence in one pass, with the same operations in the
same order per element, so that its results are NumPy's bit for bit (numba
keeps IEEE semantics: no fast-math, no fused multiply-add; the division
follows NumPy's error model, so a zero divisor gives inf or NaN as in NumPy).
A sum starts from 0 as NumPy's reductions do, so that a column of -0.0 sums
to +0.0 here too.

The engine never calls these directly: :func:`wgangp.backend.kernel` hands one
out for NumPy arrays, or None, and the caller then runs its NumPy passes
(every other namespace, and NumPy without numba, takes that path).

Installed with ``pip install 'wgangp[fast]'``; used automatically then.
``WGANGP_KERNELS=numpy`` in the environment, or :func:`use` ``("numpy")``,
turns them off (the NumPy passes alone), for comparison or when a numba build
misbehaves. numba compiles each kernel at its first use in a process (about a
second each) and caches the machine code beside this file, or under
``NUMBA_CACHE_DIR``.

Each kernel takes C-contiguous arrays of one floating dtype (float32 or
float64), scalars of that dtype (NumPy's rounding of a Python float to the
array's dtype, as in ``array *= 0.99``), and writes into the arrays it is given.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from .errors import InvalidParameterError
from .validation import require

__all__ = ["KERNEL_NAMES", "compiled", "status", "use"]

KERNEL_NAMES = (
    "bias_relu",
    "bias_leaky_relu",
    "narrow_product",
    "narrow_weight_grad",
    "mul_mask",
    "mul_sums",
    "outer_mul_mask",
    "outer_mul_mask_sums",
    "column_sums",
    "penalty",
    "interpolates",
    "scale_rows",
    "rmsprop",
    "adam",
    "sgd",
)
"""The kernels offered (see each ``_name`` function below for its operations)."""

_state: dict = {}


def use(choice: str) -> str:
    """Choose the kernels for this process: ``"auto"`` (numba when installed, the
    default), ``"numba"`` (an ImportError naming the extra when it is missing) or
    ``"numpy"`` (NumPy's passes alone). Overrides ``WGANGP_KERNELS``; returns
    :func:`status`.

    >>> use("numpy")
    'off: NumPy passes chosen'
    >>> _ = use("auto")
    """
    if choice not in ("auto", "numba", "numpy"):
        raise InvalidParameterError(
            f"kernels {choice!r} is not known; choose 'auto', 'numba' or 'numpy'"
        )
    _state.clear()
    _state["choice"] = choice
    return status()


def status() -> str:
    """``"numba"`` when the kernels are in use, else why not (a sentence)."""
    compiled("rmsprop")
    return _state["status"]


def compiled(name: str):
    """The compiled kernel ``name`` (numba's dispatcher), or None when the
    kernels are off (numba missing, ``WGANGP_KERNELS=numpy``, or numba failed
    to load: then a warning says so once)."""
    kernels = _state.get("kernels")
    if kernels is None and "status" not in _state:
        kernels = _state["kernels"] = _load()
    return None if kernels is None else kernels[name]


def _load() -> dict | None:
    choice = _state.get("choice")
    if choice is None:
        choice = os.environ.get("WGANGP_KERNELS", "auto").strip().lower()
        if choice == "numpy":
            _state["status"] = "off: WGANGP_KERNELS=numpy"
            return None
    if choice == "numpy":
        _state["status"] = "off: NumPy passes chosen"
        return None
    try:
        numba = require("numba", "fast", "compiled kernels")
    except ImportError:
        if choice == "numba":
            raise
        _state["status"] = "off: numba is not installed (pip install 'wgangp[fast]')"
        return None
    except Exception as exc:  # a broken numba install: NumPy passes, said once
        if choice == "numba":
            raise
        warnings.warn(
            f"numba failed to load ({exc}); wgangp runs its NumPy passes",
            RuntimeWarning,
            stacklevel=4,
        )
        _state["status"] = f"off: numba failed to load ({exc})"
        return None
    jit = numba.njit(cache=True, nogil=True, error_model="numpy")
    kernels = {name: jit(globals()[f"_{name}"]) for name in KERNEL_NAMES}
    _state["status"] = "numba"
    return kernels


# --------------------------------------------------------------------------- #
# The kernels, as plain Python (numba compiles them; each line is the NumPy    #
# operation it replaces, in the same order).                                    #
# --------------------------------------------------------------------------- #


def _bias_relu(z, b, mask):
    """``z += b; mask = z > 0; z *= mask`` over a (rows, n) ``z``; (n,) ``b``."""
    rows, n = z.shape
    for i in range(rows):
        for j in range(n):
            v = z[i, j] + b[j]
            m = v > 0
            mask[i, j] = m
            z[i, j] = v * m


def _bias_leaky_relu(z, b, slope_out, one, slope):
    """``z += b; slope_out = where(z > 0, 1, slope); z *= slope_out`` (``one`` and
    ``slope`` scalars of ``z``'s dtype)."""
    rows, n = z.shape
    for i in range(rows):
        for j in range(n):
            v = z[i, j] + b[j]
            s = one if v > 0 else slope
            slope_out[i, j] = s
            z[i, j] = v * s


def _narrow_product(h, W, out):
    """``out = h @ W`` for an ``h`` of few columns, as :func:`wgangp.nn` forms it
    without a GEMM: ``out = h[:, 0:1] * W[0]``, then ``out += h[:, k:k+1] * W[k]``
    for each further column ``k``, one row at a time."""
    rows, width = h.shape
    n = W.shape[1]
    for i in range(rows):
        hk = h[i, 0]
        for j in range(n):
            out[i, j] = hk * W[0, j]
        for k in range(1, width):
            hk = h[i, k]
            for j in range(n):
                out[i, j] = out[i, j] + hk * W[k, j]


def _narrow_weight_grad(h, u, out):
    """``out = h.T @ u`` for an ``h`` of few columns: for each column ``k``,
    ``out[k] = (h[:, k:k+1] * u).sum(axis=0)``, summed row after row as NumPy
    sums over the first axis of a (rows, n > 1) array."""
    rows, width = h.shape
    n = u.shape[1]
    for k in range(width):
        for j in range(n):
            out[k, j] = 0  # NumPy's sums start from 0 (a column of -0.0 sums to +0.0)
    for i in range(rows):
        for k in range(width):
            hk = h[i, k]
            for j in range(n):
                out[k, j] = out[k, j] + hk * u[i, j]


def _mul_mask(d, mask):
    """``d *= mask`` (a boolean mask, taken as 0 or 1 in ``d``'s dtype)."""
    rows, n = d.shape
    for i in range(rows):
        for j in range(n):
            d[i, j] = d[i, j] * mask[i, j]


def _mul_sums(d, factor, rows, sums):
    """``d *= factor`` (a boolean mask, taken as 0 or 1, or an array of ``d``'s
    dtype), then ``sums = d[:rows].sum(axis=0)`` as :func:`_column_sums` forms it
    (row after row), each row summed while it is in the cache."""
    n_rows, n = d.shape
    for j in range(n):
        sums[j] = 0
    for i in range(n_rows):
        for j in range(n):
            d[i, j] = d[i, j] * factor[i, j]
        if i < rows:
            for j in range(n):
                sums[j] += d[i, j]


def _outer_mul_mask_sums(u, w, mask, out, rows, sums):
    """:func:`_outer_mul_mask`, then ``sums = out[:rows].sum(axis=0)`` as
    :func:`_column_sums` forms it, each row summed while it is in the cache."""
    n_rows, n = out.shape
    for j in range(n):
        sums[j] = 0
    for i in range(n_rows):
        ui = u[i, 0]
        for j in range(n):
            out[i, j] = (ui * w[j]) * mask[i, j]
        if i < rows:
            for j in range(n):
                sums[j] += out[i, j]


def _outer_mul_mask(u, w, mask, out):
    """``out = u * w`` (a (rows, 1) column times a (n,) row), then ``out *= mask``."""
    rows, n = out.shape
    for i in range(rows):
        ui = u[i, 0]
        for j in range(n):
            out[i, j] = (ui * w[j]) * mask[i, j]


def _column_sums(a, out):
    """``out = a.sum(axis=0)`` for a (rows, n) ``a`` with ``n > 1``, in NumPy's order
    for that case: from 0, row after row (a single column NumPy sums pairwise
    instead). Starting from 0, not from the first row, is NumPy's sign of zero:
    a column of -0.0 sums to +0.0."""
    rows, n = a.shape
    for j in range(n):
        out[j] = 0
    for i in range(rows):
        for j in range(n):
            out[j] += a[i, j]


def _penalty(g, norms, scale, one, zero, one_sided, dbar, squares):
    """The gradient penalty's pass over the rows of ``g`` (m, n), given their norms:
    ``excess = norms - one`` (then ``maximum(excess, zero)`` when ``one_sided``),
    ``squares = float64(excess) ** 2``, ``coef = where(norms > 0, scale * excess /
    norms, 0)`` and ``dbar = g * coef[:, None]``, as :func:`wgangp.losses._penalty_fn`
    runs them. Returns ``(min(norms), max(norms))``, NaN when a norm is NaN (as
    ``ndarray.min`` and ``max`` give)."""
    rows, n = g.shape
    lo, hi, nan = np.inf, -np.inf, False
    for i in range(rows):
        r = norms[i]
        if r != r:
            nan = True
        else:
            lo = min(lo, r)
            hi = max(hi, r)
        e = r - one
        if one_sided and e < zero:
            e = zero
        e64 = np.float64(e)
        squares[i] = e64 * e64
        c = (scale * e) / r if r > zero else zero
        for j in range(n):
            dbar[i, j] = g[i, j] * c
    if nan:
        return np.nan, np.nan
    return lo, hi


def _interpolates(x_real, x_fake, alpha, out):
    """The critic's stacked rows ``[x_real; x_fake; x_i]`` of a batch of ``B``:
    ``out[:B] = x_real``, ``out[B:2B] = x_fake``, and the interpolates
    ``x_i = x_real - x_fake; x_i *= alpha; x_i += x_fake`` (``alpha`` of shape (B, 1))."""
    batch, n = x_real.shape
    for i in range(batch):
        a = alpha[i, 0]
        for j in range(n):
            r = x_real[i, j]
            f = x_fake[i, j]
            out[i, j] = r
            out[batch + i, j] = f
            out[2 * batch + i, j] = (r - f) * a + f


def _scale_rows(X, rows, mean, std, out):
    """``out = ((X[rows] - mean) / std).astype(out.dtype)``: the rows of a minibatch
    gathered and put in the networks' units in one pass (float64 arithmetic, then
    rounded to ``out``'s dtype, as NumPy does for a float32 ``X`` and float64 ``mean``)."""
    m, n = out.shape
    for i in range(m):
        k = rows[i]
        for j in range(n):
            out[i, j] = (np.float64(X[k, j]) - mean[j]) / std[j]


def _rmsprop(p, g, v, rho, one_minus_rho, eps, lr):
    """RMSProp as :meth:`wgangp.optim.RMSProp._update` runs it, one element at a time."""
    for i in range(p.shape[0]):
        gi = g[i]
        vi = v[i] * rho + (gi * gi) * one_minus_rho
        v[i] = vi
        p[i] = p[i] - (gi / (np.sqrt(vi) + eps)) * lr


def _adam(p, g, m, v, b1, one_minus_b1, b2, one_minus_b2, v_scale, eps, step_size):
    """Adam as :meth:`wgangp.optim.Adam._update` runs it, one element at a time."""
    for i in range(p.shape[0]):
        gi = g[i]
        mi = m[i] * b1 + gi * one_minus_b1
        m[i] = mi
        vi = v[i] * b2 + (gi * gi) * one_minus_b2
        v[i] = vi
        p[i] = p[i] - (mi / (np.sqrt(vi * v_scale) + eps)) * step_size


def _sgd(p, g, buf, momentum, lr):
    """SGD with momentum as :meth:`wgangp.optim.SGD._update` runs it."""
    for i in range(p.shape[0]):
        bi = buf[i] * momentum + g[i]
        buf[i] = bi
        p[i] = p[i] - bi * lr
