"""Fully-connected networks with hand-derived first- and second-order passes.

A network of ``L`` dense layers computes, from ``h_0 = x``,

    z_k = h_{k-1} W_k + b_k,        h_k = s_k(z_k),        k = 1..L

with ``W_k`` of shape ``(n_{k-1}, n_k)`` and ``b_k`` of shape ``(n_k,)``.
Parameters are the plain list ``[W_1, b_1, ..., W_L, b_L]``; every gradient
list has the same structure. An :class:`MLP` keeps them as views into one
flat array (``MLP.flat``, :mod:`wgangp.flat`) and owns a flat gradient buffer
of the same layout (``MLP.grad_flat``, views ``MLP.grads``) that the backward
passes write into when given it (``grads_out``). The bias is added apart from
the GEMM and its gradient is a row sum, so every sum runs in the same order
whether the arrays are views or not: the numbers are the same bit for bit.

Three passes are offered as pure functions of ``(params, activations, ...)``:

* :func:`forward` returns the output and a cache (nothing is stored on objects);
* :func:`backward` is the vector-Jacobian product to the input and parameters;
* :func:`backward_with_input_gradient` computes, in one backward sweep over
  stacked rows, the parameter gradient of a weighted sum of outputs on some
  rows *and* the input gradient ``g = dD/dx`` on the other rows, and then the
  exact pullback of any function ``P(g)`` (reverse mode over the backward
  pass). This is what the WGAN-GP critic loss needs.

The pullback of the input gradient (0-based layer index ``k``; ``d_k`` is the
gradient at layer ``k``'s output, ``u_k = d_k * s_k'(z_k)``, the gradient at
its input is ``u_k W_k^T``) runs forward from ``dbar = dP/dg``:

    ubar_k  = dbar_{k-1} W_k
    Wbar_k += dbar_{k-1}^T u_k
    dbar_k  = ubar_k * s_k'(z_k)
    zbar_k  = ubar_k * d_k * s_k''(z_k)      (zero for ReLU / LeakyReLU)

after which the ``zbar_k`` are pushed back through the forward pass like an
ordinary output gradient (only for activations with a non-zero ``s''``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from .activations import (
    ACTIVATIONS,
    Activation,
    Dropout,
    Identity,
    LeakyReLU,
    ReLU,
    Softplus,
    Tanh,
    get_activation,
)
from .backend import (
    NUMPY,
    astype,
    column_sums,
    concat,
    copy_into,
    into,
    kernel,
    namespace,
    work,
)
from .errors import InvalidParameterError
from .flat import ViewList, flat_views, moved
from .init import get_initializer
from .validation import check_dtype

DEFAULT_DTYPE = np.float32
"""float32 by default; float64 is selectable for gradient checks."""

__all__ = [
    "ACTIVATIONS",
    "DEFAULT_DTYPE",
    "MLP",
    "PREDICT_ROWS",
    "Activation",
    "Dropout",
    "Identity",
    "LeakyReLU",
    "ReLU",
    "Softplus",
    "Tanh",
    "backward",
    "backward_with_input_gradient",
    "far_from_kinks",
    "forward",
    "get_activation",
    "predict",
    "preactivations",
]

# --------------------------------------------------------------------------- #
# Pure passes over (params, activations).                                      #
# --------------------------------------------------------------------------- #

# A cache holds, per layer, (h_prev, saved, h): the layer's input, what the
# activation keeps for its derivatives (Activation.forward_saved), and the
# layer's output.
Cache = list


def _rows(saved, rows: slice):
    """The rows of an activation's saved state (None, an array, or a tuple of arrays)."""
    if saved is None:
        return None
    if isinstance(saved, tuple):
        return tuple(a[rows, ...] for a in saved)
    return saved[rows, ...]


NARROW = 1
"""The widest input (columns of ``h``) that a layer on NumPy arrays multiplies
without a GEMM: ``h @ W`` as ``h * W[0]`` broadcast, and the weight gradient
``h.T @ u`` as a row sum of ``h * u`` (1-D data, 1-D noise). OpenBLAS runs a
product of inner size 1 three to ten times slower than that one pass (a
compiled kernel when the kernels are on). At two columns NumPy's
broadcast passes are slower than the GEMM (the kernels are not, but the
kernels must give NumPy's numbers), so the helpers below take any width and
the layers use them up to this one."""


def _is_narrow(h, W) -> bool:
    """Whether ``h @ W`` is formed by :func:`_narrow_product` (NumPy arrays, at
    most :data:`NARROW` columns in ``h``)."""
    return type(h) is np.ndarray and h.ndim == 2 and h.shape[1] <= NARROW and W.ndim == 2


def _narrow_product(h: np.ndarray, W: np.ndarray, empty=np.empty, out=None) -> np.ndarray:
    """``h @ W`` for a narrow ``h`` (:func:`_is_narrow`): ``h[:, 0:1] * W[0]``, plus
    ``h[:, k:k+1] * W[k]`` for each further column, in that order (one compiled
    pass when the kernels are on, with the same numbers)."""
    if out is None:
        out = work(empty, (h.shape[0], W.shape[1]), h, W)
    fused = kernel("narrow_product", h, W, out)
    if fused is not None and h.dtype == W.dtype == out.dtype:
        fused(h, W, out)
        return out
    np.multiply(h[:, :1], W[0], out=out)
    if h.shape[1] > 1:
        term = empty(out.shape, out.dtype)
        for k in range(1, h.shape[1]):
            np.multiply(h[:, k : k + 1], W[k], out=term)
            out += term
    return out


def _narrow_weight_grad(h: np.ndarray, u: np.ndarray, out: np.ndarray, empty=np.empty):
    """``out[...] = h.T @ u`` for a narrow ``h`` and a ``u`` of more than one column:
    ``out[k] = (h[:, k:k+1] * u).sum(axis=0)`` for each column ``k`` of ``h``
    (NumPy sums over the rows one row after another; so does the kernel)."""
    fused = kernel("narrow_weight_grad", h, u, out)
    if fused is not None and h.dtype == u.dtype == out.dtype:
        fused(h, u, out)
        return out
    term = empty(u.shape, np.result_type(h, u))
    for k in range(h.shape[1]):
        np.multiply(h[:, k : k + 1], u, out=term)
        np.add.reduce(term, axis=0, out=out[k])
    return out


def _product(h: np.ndarray, W: np.ndarray, empty=np.empty, out=None) -> np.ndarray:
    """``h @ W``, into ``out`` when given (else a work array from ``empty``); a
    narrow ``h`` without a GEMM (:func:`_narrow_product`)."""
    if _is_narrow(h, W):
        return _narrow_product(h, W, empty, out)
    if out is None:
        out = work(empty, (h.shape[0], W.shape[1]), h, W, fresh=True)
    return into("matmul", h, W, out=out)


def _times_transpose(u: np.ndarray, W: np.ndarray, empty=np.empty, out=None) -> np.ndarray:
    """``u @ W.T``; an outer product (one output unit) by broadcasting, which
    OpenBLAS runs several times slower as a GEMM of inner size 1."""
    if out is None:
        out = work(empty, (u.shape[0], W.shape[0]), u, W, fresh=True)
    if u.shape[1] == 1:
        return into("multiply", u, W[:, 0], out=out)
    return into("matmul", u, W.T, out=out)


def _times_transpose_df(
    u, W, act: Activation, saved, empty=np.empty, sums: tuple | None = None
) -> np.ndarray:
    """``(u @ W.T) * f'(z)``: a layer's input gradient times the derivative of the
    layer below (activation ``act`` with its forward state ``saved``); in one pass
    where ``act`` fuses the outer product of a one-unit layer.

    ``sums = (rows, b)``: also ``b[...] = result[:rows].sum(axis=0)``, the bias
    gradient of the layer below, in the same pass where ``act`` fuses it
    (:meth:`Activation.mul_df_sums`), else by :func:`wgangp.backend.column_sums`:
    the same numbers either way."""
    out = None
    if u.shape[1] == 1:
        out = work(empty, (u.shape[0], W.shape[0]), u, W, fresh=True)
        if out is not None and act.outer_mul_df(u, W[:, 0], saved, out, sums):
            return out
    d = _times_transpose(u, W, empty, out)
    if sums is None:
        return act.mul_df(d, saved, out=d)
    rows, total = sums
    if not act.mul_df_sums(d, saved, rows, total):
        d = act.mul_df(d, saved, out=d)
        column_sums(d[:rows, ...], total)
    return d


def forward(
    params: Sequence[np.ndarray],
    activations: Sequence[Activation],
    x: np.ndarray,
    empty=np.empty,
) -> tuple[np.ndarray, Cache]:
    """Forward pass.

    Parameters
    ----------
    params : list of arrays
        ``[W_1, b_1, ..., W_L, b_L]``, ``W_k`` of shape (n_{k-1}, n_k).
    activations : list of Activation
        One per layer.
    x : array, shape (rows, n_0)
        Never modified.
    empty : callable, optional
        Where the layers' arrays come from, with :func:`numpy.empty`'s
        signature (a training step passes :meth:`wgangp.flat.Scratch.empty`
        to reuse its memory from step to step). NumPy arrays only: other
        namespaces allocate their own (:func:`wgangp.backend.work`).

    Returns
    -------
    y : array, shape (rows, n_L)
    cache : list of (h_prev, saved, h) per layer, for the backward passes.
    """
    cache = []
    h = x
    for k, act in enumerate(activations):
        W = params[2 * k]
        z = _product(h, W, empty)
        h_next, saved = act.forward_bias_saved(z, params[2 * k + 1], empty)
        cache.append((h, saved, h_next))
        h = h_next
    return h, cache


PREDICT_ROWS = 2048
"""Rows per chunk of :func:`predict` (of :meth:`MLP.__call__`, of sampling)."""


def predict(
    params: Sequence[np.ndarray],
    activations: Sequence[Activation],
    x: np.ndarray,
    chunk_rows: int = PREDICT_ROWS,
    empty=np.empty,
) -> np.ndarray:
    """Forward pass without a cache, in chunks of rows.

    Each chunk's activations stay in the CPU cache, which makes sampling many
    rows faster and keeps memory at ``chunk_rows`` rows per layer. ``empty``
    as in :func:`forward`.

    >>> net = MLP([2, 8, 3], random_state=0, dtype=np.float64)
    >>> x = np.ones((5000, 2))
    >>> bool(np.allclose(predict(net.params, net.activations, x), forward(net.params,
    ...     net.activations, x)[0]))
    True
    """
    n_rows = x.shape[0]
    if n_rows <= chunk_rows:
        return forward(params, activations, x, empty)[0]
    out = None
    for start in range(0, n_rows, chunk_rows):
        h = forward(params, activations, x[start : start + chunk_rows, ...], empty)[0]
        if out is None:
            out = work(empty, (n_rows, h.shape[1]), h)
        out[start : start + h.shape[0], ...] = h
    return out


def preactivations(
    params: Sequence[np.ndarray], activations: Sequence[Activation], x: np.ndarray
) -> list[np.ndarray]:
    """The pre-activations ``z_k`` of every layer (the cache of :func:`forward`
    keeps only what the derivatives need, which for ReLU is a mask).

    >>> net = MLP([2, 3, 1], random_state=0, dtype=np.float64)
    >>> [z.shape for z in preactivations(net.params, net.activations, np.ones((4, 2)))]
    [(4, 3), (4, 1)]
    """
    zs, h = [], x
    for k, act in enumerate(activations):
        z = h @ params[2 * k] + params[2 * k + 1]
        zs.append(z)
        h = act.f(z)
    return zs


def far_from_kinks(net, x: np.ndarray, margin: float) -> bool:
    """Whether every pre-activation of a ReLU-like layer of ``net`` at ``x`` lies
    more than ``margin`` from the kink at 0, where finite differences would
    straddle a corner (gradient checks draw inputs until this holds)."""
    zs = preactivations(net.params, net.activations, x)
    xp = namespace(x)
    return all(
        float(xp.min(xp.abs(z))) > margin
        for act, z in zip(net.activations, zs)
        if getattr(act, "inner", act).name in ("relu", "leaky_relu")
    )


def _layer_grads(
    grads: list,
    k: int,
    h_in: np.ndarray,
    u: np.ndarray,
    bias_rows: slice,
    empty=np.empty,
    bias_done: bool = False,
):
    """Layer ``k``'s gradient: ``grads[2k] = h_in^T u``, ``grads[2k+1] = sum(u[bias_rows])``,
    written into the arrays already there (an MLP's gradient buffer), else new ones;
    a narrow ``h_in`` without a GEMM (:func:`_narrow_weight_grad`). ``bias_done``:
    the bias gradient is already there (summed where ``u`` was formed)."""
    if _is_narrow(h_in, u) and u.shape[1] > 1:
        out = grads[2 * k]
        if out is None:
            out = np.empty((h_in.shape[1], u.shape[1]), np.result_type(h_in, u))
        grads[2 * k] = _narrow_weight_grad(h_in, u, out, empty)
    elif grads[2 * k] is None:
        grads[2 * k] = h_in.T @ u
    else:
        into("matmul", h_in.T, u, out=grads[2 * k])
    if bias_done:
        return
    if grads[2 * k + 1] is None:
        grads[2 * k + 1] = into("sum", u[bias_rows, ...], axis=0)
    else:
        column_sums(u[bias_rows, ...], grads[2 * k + 1])


def backward(
    params: Sequence[np.ndarray],
    activations: Sequence[Activation],
    cache: Cache,
    dy: np.ndarray,
    need_input_grad: bool = True,
    need_param_grads: bool = True,
    grads_out: Sequence[np.ndarray] | None = None,
    empty=np.empty,
) -> tuple[np.ndarray | None, list[np.ndarray] | None]:
    """Vector-Jacobian product: from ``dy = dLoss/dy`` to the input and parameters.

    ``u_k = d_k * f_k'(z_k)``, ``dW_k = h_{k-1}^T u_k``, ``db_k = sum_rows u_k``,
    ``d_{k-1} = u_k W_k^T``.

    Parameters
    ----------
    dy : array, shape (rows, n_L)
        Never modified.
    need_input_grad, need_param_grads : bool
        Skip the GEMMs whose result is not wanted (the generator step needs no
        critic weight gradients; the first layer's input gradient is often
        unused).
    grads_out : list of arrays aligned with ``params``, optional
        Where to write the parameter gradients (an MLP's gradient buffer,
        ``net.grads``); it is returned as ``grads``. New arrays otherwise.
    empty : callable, optional
        Where the sweep's arrays (``dx`` among them) come from; see :func:`forward`.

    Returns
    -------
    dx : array (rows, n_0) or None
    grads : list aligned with ``params``, or None
    """
    n_layers = len(activations)
    grads = None
    if need_param_grads:
        grads = grads_out if grads_out is not None else [None] * (2 * n_layers)
    everything = slice(None)
    u = activations[-1].mul_df(dy, cache[-1][1])  # dy is never modified
    summed = False  # the bias gradient of layer k, formed along with u_k
    for k in reversed(range(n_layers)):
        if need_param_grads:
            _layer_grads(grads, k, cache[k][0], u, everything, empty, summed)
        if k > 0:  # u_{k-1} = (u_k W_k^T) * f'(z_{k-1})
            sums = _bias_sums(grads, k - 1, u.shape[0])
            u = _times_transpose_df(
                u, params[2 * k], activations[k - 1], cache[k - 1][1], empty, sums
            )
            summed = sums is not None
    dx = _times_transpose(u, params[0], empty) if need_input_grad else None
    return dx, grads


def _bias_sums(grads, k: int, rows: int) -> tuple | None:
    """``(rows, b)`` for layer ``k``'s bias gradient array ``b`` already in ``grads``
    (an MLP's gradient buffer), so that :func:`_times_transpose_df` forms it with
    ``u_k``; None without one."""
    if grads is None or grads[2 * k + 1] is None:
        return None
    return rows, grads[2 * k + 1]


def backward_with_input_gradient(
    params: Sequence[np.ndarray],
    activations: Sequence[Activation],
    cache: Cache,
    n_plain: int,
    dy_plain: np.ndarray,
    grad_fn: Callable[[np.ndarray], tuple[float, np.ndarray]],
    grads_out: Sequence[np.ndarray] | None = None,
    empty=np.empty,
) -> tuple[list[np.ndarray], np.ndarray, float]:
    """One backward sweep serving an output-gradient term and an input-gradient term.

    The forward pass (``cache``) ran over stacked rows: the first ``n_plain``
    rows are *plain* rows, whose outputs enter the loss linearly with weights
    ``dy_plain``; the remaining ``m`` rows are *gradient* rows, where the
    input gradient ``g_i = d(sum of outputs)/dx_i`` is formed and a scalar
    ``P(g)`` is added to the loss. Returns the parameter gradient of

        sum(dy_plain * y[:n_plain]) + P(g)

    computed with one backward sweep over all rows, the exact pullback of
    ``P`` through that sweep, and one weight-gradient GEMM per layer over
    the stacked rows ``[h_{k-1}(plain rows); dbar_{k-1}]^T u_k``.

    The cache is consumed: for piecewise-linear networks the gradient rows of
    each hidden layer's cached output are overwritten with ``dbar`` (that is
    where the stacked GEMM operand is built, without a copy). The input ``x``
    of the first layer is never modified.

    Parameters
    ----------
    cache : from :func:`forward` on the stacked rows, shape (n_plain + m, n_0).
    n_plain : int
    dy_plain : array, shape (n_plain, n_L)
    grad_fn : callable
        ``g (m, n_0) -> (P(g), dP/dg (m, n_0))``.
    grads_out : list of arrays aligned with ``params``, optional
        Where to write the parameter gradients (``net.grads``); returned as ``grads``.
    empty : callable, optional
        Where the sweep's arrays (``g`` among them) come from; see :func:`forward`.

    Returns
    -------
    grads : list aligned with ``params``
    g : array, shape (m, n_0), the input gradients at the gradient rows
    p_value : float, ``P(g)``
    """
    n_layers = len(activations)
    n_rows = cache[0][0].shape[0]
    out_dim = params[-2].shape[1]
    xp = namespace(params[0])
    grad_rows = slice(n_plain, None)
    # For piecewise-linear activations f'' = 0: no second-order terms, and the
    # sweep's d_k need not be kept, so u_k can overwrite them.
    smooth = not all(act.piecewise_linear for act in activations)
    grads = grads_out if grads_out is not None else [None] * (2 * n_layers)

    # Backward sweep: plain rows seeded with dy_plain, gradient rows with 1.
    d = work(empty, (n_rows, out_dim), params[0])
    d[:n_plain, ...] = dy_plain
    d[n_plain:, ...] = 1
    ds, us = [None] * n_layers, [None] * n_layers
    summed = [False] * n_layers  # bias gradients formed with u_k in the sweep
    g = None
    u = None  # u_k, when the step below formed it along with d_k
    for k in reversed(range(n_layers)):
        ds[k] = d
        if u is None:
            u = activations[k].mul_df(d, cache[k][1], out=None if smooth else d)
        us[k] = u
        if k > 0 and not smooth:  # d_{k-1} is not kept: form u_{k-1} at once
            # with the bias gradient of layer k-1 (plain rows), summed in the same pass
            sums = _bias_sums(grads, k - 1, n_plain)
            d = u = _times_transpose_df(
                u, params[2 * k], activations[k - 1], cache[k - 1][1], empty, sums
            )
            summed[k - 1] = sums is not None
        elif k > 0:
            d, u = _times_transpose(u, params[2 * k], empty), None
        else:
            g = _times_transpose(u[grad_rows, ...], params[0], empty)  # gradient rows only

    p_value, dbar = grad_fn(g)
    if xp is np:
        dbar = np.asarray(dbar, dtype=params[0].dtype)

    # Pullback of P through the sweep, from the first layer up; one weight
    # GEMM per layer over [h_{k-1}(plain); dbar_{k-1}].
    zbars = [None] * n_layers
    for k in range(n_layers):
        act = activations[k]
        h_prev, saved, h = cache[k]
        W, u = params[2 * k], us[k]
        if k == 0 or smooth:
            stacked = work(empty, (n_rows, h_prev.shape[1]), h_prev, dbar, fresh=True)
            if stacked is None:
                stacked = concat(xp, [h_prev[:n_plain, ...], dbar], axis=0)
            else:
                np.concatenate([h_prev[:n_plain], dbar], axis=0, out=stacked)
        else:
            stacked = h_prev  # its gradient rows already hold dbar (written below)
        _layer_grads(grads, k, stacked, u, slice(None, n_plain), empty, summed[k])
        last = k + 1 == n_layers
        if last and act.piecewise_linear:
            break
        saved_g = _rows(saved, grad_rows)
        if smooth:
            ubar = dbar @ W  # (m, n_k)
            if not act.piecewise_linear:
                zbars[k] = ubar * ds[k][grad_rows, ...] * act.d2f_saved(saved_g)
            if not last:
                dbar = act.mul_df(ubar, saved_g)
        else:
            # Build dbar_k in place, inside the next layer's stacked operand.
            target = _product(dbar, W, empty, out=h[grad_rows, ...])
            dbar = act.mul_df(target, saved_g, out=target)

    if smooth:
        # Push the second-order terms zbar_k back through the forward pass
        # (gradient rows only): an ordinary backward pass with extra inputs.
        hbar = None
        for k in reversed(range(n_layers)):
            act = activations[k]
            h_prev, saved, _ = cache[k]
            zt = None
            if hbar is not None:
                zt = act.mul_df(hbar, _rows(saved, grad_rows))
            if zbars[k] is not None:
                zt = zbars[k] if zt is None else zt + zbars[k]
            if zt is None:
                continue
            grads[2 * k] += h_prev[grad_rows, ...].T @ zt
            grads[2 * k + 1] += xp.sum(zt, axis=0)
            hbar = _times_transpose(zt, params[2 * k]) if k > 0 else None
    return grads, g, p_value


# --------------------------------------------------------------------------- #
# The MLP object: parameters plus the activations; the math stays above.        #
# --------------------------------------------------------------------------- #


class MLP:
    """A fully-connected network.

    Parameters
    ----------
    sizes : sequence of int
        ``[n_0, n_1, ..., n_L]``: input width, hidden widths, output width.
    activation : str, dict or Activation
        Activation of the hidden layers.
    output_activation : str, dict or Activation
        Activation of the last layer (identity for a critic).
    init : str
        Weight initialiser name (:mod:`wgangp.init`); biases start at zero.
    random_state : None, int or numpy.random.Generator
    dtype : numpy.float32 or numpy.float64

    Attributes
    ----------
    params : list of arrays
        ``[W_1, b_1, ..., W_L, b_L]``, ``W_k`` of shape (n_{k-1}, n_k), ``b_k`` (n_k,):
        views into ``flat`` (a :class:`~wgangp.flat.ViewList`). Writing into
        them (``p[...] = x``), assigning an item (``params[i] = x``) or the
        whole list (``net.params = [...]``, same shapes) copies into ``flat``.
    flat : array, shape (n_parameters,)
        All parameters in one contiguous array, in the order of ``params``.
    grads : list of arrays
        Views into ``grad_flat``, aligned with ``params``: the gradient buffer
        that :mod:`wgangp.losses` writes into (allocated once, reused by
        every call; see :func:`wgangp.losses.critic_loss` for the reuse rule).
    grad_flat : array, shape (n_parameters,)
    activations : list of Activation, one per layer.

    Examples
    --------
    >>> net = MLP([2, 8, 1], random_state=0, dtype=np.float64)
    >>> [p.shape for p in net.params]
    [(2, 8), (8,), (8, 1), (1,)]
    >>> net.flat.shape, bool(np.shares_memory(net.params[2], net.flat))
    ((33,), True)
    >>> net(np.zeros((3, 2))).shape
    (3, 1)
    """

    def __init__(
        self,
        sizes: Sequence[int],
        activation="relu",
        output_activation="identity",
        init: str = "he_uniform",
        random_state=None,
        dtype=DEFAULT_DTYPE,
    ):
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or any(s < 1 for s in sizes):
            raise InvalidParameterError(
                f"sizes={sizes!r} must list at least an input and an output width, all >= 1"
            )
        self.sizes = sizes
        self.dtype = check_dtype(dtype)
        hidden_act = get_activation(activation)
        self.activations = [hidden_act] * (len(sizes) - 2) + [get_activation(output_activation)]
        self.init = init
        initializer = get_initializer(init)
        rng = np.random.default_rng(random_state)
        self.backend = NUMPY  # built on NumPy (the same weights on every backend); see to()
        self._allocate()
        for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            self._params[2 * k][...] = initializer(fan_in, fan_out, rng, self.dtype)

    def _allocate(self) -> None:
        """Zeroed flat parameter and gradient buffers for ``sizes`` and ``dtype``."""
        shapes = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            shapes += [(fan_in, fan_out), (fan_out,)]
        self.flat, self._params = flat_views(shapes, self.dtype, self.backend)
        self.grad_flat, self.grads = flat_views(shapes, self.dtype, self.backend)

    @property
    def params(self) -> ViewList:
        return self._params

    @params.setter
    def params(self, values: Sequence[np.ndarray]) -> None:
        values = list(values)
        if len(values) != len(self._params) or any(
            np.shape(v) != p.shape for v, p in zip(values, self._params)
        ):
            raise InvalidParameterError(
                f"params must be {len(self._params)} arrays of shapes "
                f"{[p.shape for p in self._params]}, got shapes {[np.shape(v) for v in values]}"
            )
        xp = namespace(self.flat)
        for p, v in zip(self._params, values):
            copy_into(xp, p, v)

    @property
    def n_layers(self) -> int:
        return len(self.activations)

    def forward(self, x: np.ndarray) -> tuple[np.ndarray, Cache]:
        """Output and cache; see :func:`forward`."""
        return forward(self.params, self.activations, x)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return predict(self.params, self.activations, x)

    def backward(self, cache: Cache, dy: np.ndarray, **kwargs):
        """Vector-Jacobian product; see :func:`backward`."""
        return backward(self.params, self.activations, cache, dy, **kwargs)

    def input_gradient(self, x: np.ndarray) -> np.ndarray:
        """Gradient of the summed output with respect to each input row, shape of ``x``."""
        y, cache = self.forward(x)
        dx, _ = self.backward(cache, namespace(y).ones_like(y), need_param_grads=False)
        return dx

    def to(self, backend) -> MLP:
        """Move the parameters (and the gradient buffer) to ``backend`` (a
        :class:`wgangp.backend.Backend`), in place; nothing moves when they are
        there. Returns ``self``.

        >>> from wgangp.backend import NUMPY
        >>> MLP([2, 3, 1], random_state=0).to(NUMPY).backend.name
        'numpy'
        """
        self._params = moved(self._params, backend)
        self.flat = self._params.flat
        if not backend.holds(self.grad_flat):
            shapes = [tuple(p.shape) for p in self._params]
            self.grad_flat, self.grads = flat_views(shapes, self.dtype, backend)
        self.backend = backend
        return self

    def astype(self, dtype) -> MLP:
        """A copy with parameters cast to ``dtype``."""
        clone = MLP.__new__(MLP)
        clone.sizes = list(self.sizes)
        clone.dtype = check_dtype(dtype)
        clone.activations = list(self.activations)
        clone.init = self.init
        clone.backend = self.backend
        clone._allocate()
        xp = namespace(self.flat)
        copy_into(xp, clone.flat, astype(xp, self.flat, clone.flat.dtype))
        return clone

    def config(self) -> dict:
        """JSON-serialisable architecture (not the weights)."""
        return {
            "sizes": list(self.sizes),
            "activation": self.activations[0].config() if self.n_layers > 1 else None,
            "output_activation": self.activations[-1].config(),
            "init": self.init,
            "dtype": self.dtype.name,
        }

    def __repr__(self) -> str:
        acts = ", ".join(a.name for a in self.activations)
        return f"MLP(sizes={self.sizes}, activations=[{acts}], dtype={self.dtype.name})"
