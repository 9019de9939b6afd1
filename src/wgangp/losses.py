"""WGAN-GP losses as pure functions of explicit inputs.

Everything random (the fake samples, the interpolation coefficients, the
noise) is an argument, so anyone can recompute a loss and check its gradient.

The losses run in the namespace of the networks' arrays (NumPy, CuPy, torch,
any array-API library; :mod:`wgangp.backend`); the inputs must be of the same.
On NumPy the loss and the statistics are Python floats; on another namespace
they are 0-d arrays left on the device, so that a step never waits for the
GPU: ``float()`` reads one when it is logged.
"""

from __future__ import annotations

import numpy as np

from .backend import into, kernel, namespace, row_norms, scalar, work
from .errors import InvalidParameterError
from .nn import MLP, backward, backward_with_input_gradient, forward

PENALTIES = ("two-sided", "one-sided")


def _penalty_fn(lambda_gp: float, penalty: str, batch: int, dtype, divisor: int | None = None):
    """``g -> (P, dP/dg, norms)`` for ``P = lambda * mean_i c(||g_i||)``.

    ``c(n) = (n - 1)^2`` (two-sided) or ``max(n - 1, 0)^2`` (one-sided), so

        dP/dg_i = (2 lambda / B) * c'(||g_i||) / 2 * g_i / ||g_i||.

    At ``||g_i|| = 0`` the direction ``g_i / ||g_i||`` is taken as 0. The mean
    is over ``divisor`` rows when given (these rows are a part of a batch).
    """
    divisor = batch if divisor is None else divisor
    if penalty not in PENALTIES:
        raise InvalidParameterError(f"penalty={penalty!r} is not known; choose one of {PENALTIES}")
    one_sided = penalty == "one-sided"
    holder = {}

    def grad_fn(g):
        xp = namespace(g)
        # NumPy: a scalar of g's dtype; the standard: a Python float, which keeps it
        scale = g.dtype.type(2.0 * lambda_gp / divisor) if xp is np else 2.0 * lambda_gp / divisor
        norms = row_norms(xp, g)
        fused = kernel("penalty", g, norms)
        if fused is not None:  # the passes below in one, with the norms' range
            c = g.dtype.type
            dbar, squares = np.empty_like(g), np.empty(g.shape[0])
            holder["range"] = fused(g, norms, scale, c(1), c(0), one_sided, dbar, squares)
            holder["norms"] = norms
            return scalar(xp, lambda_gp * np.add.reduce(squares) / divisor), dbar
        excess = norms - 1
        if one_sided:
            excess = xp.maximum(excess, xp.zeros_like(excess))
        value = scalar(xp, lambda_gp * xp.sum(_float64(xp, excess) ** 2) / divisor)
        positive = norms > 0
        safe = xp.where(positive, norms, xp.ones_like(norms))
        coef = xp.where(positive, scale * excess / safe, xp.zeros_like(norms))
        holder["norms"] = norms
        return value, g * coef[:, None]

    return grad_fn, holder


def _float64(xp, a):
    """``a`` in float64, for sums that must not lose digits (CuPy and torch keep
    float64 on the device; a copy only when ``a`` is float32)."""
    if xp is np:
        return a.astype(np.float64, copy=False)
    return xp.astype(a, xp.float64)


def _mean(xp, a, divisor):
    """``sum(a) / divisor``, summed in float64; a float on NumPy (see backend.scalar)."""
    if xp is np:  # the reduction a.sum(dtype=...) runs, without its Python wrapper
        return float(np.add.reduce(a, axis=None, dtype=np.float64) / divisor)
    return xp.sum(_float64(xp, a)) / divisor


def critic_loss(
    critic: MLP,
    x_real: np.ndarray,
    x_fake: np.ndarray,
    alpha: np.ndarray,
    lambda_gp: float = 10.0,
    penalty: str = "two-sided",
    batch_total: int | None = None,
    empty=np.empty,
    statistics: bool = True,
) -> tuple[float | None, list[np.ndarray], dict]:
    """Critic loss with gradient penalty, its parameter gradient, and statistics.

    .. math::

        L_D = \\overline{D(x_f)} - \\overline{D(x_r)}
              + \\lambda \\frac{1}{B}\\sum_i (\\lVert g_i \\rVert - 1)^2,
        \\qquad g_i = \\nabla_x D(x_i),\\; x_i = a_i x_{r,i} + (1 - a_i) x_{f,i}

    One forward over the stacked rows ``[x_r; x_f; x_i]``, one backward that
    serves both the Wasserstein term (seeds ``-1/B``, ``+1/B``) and the input
    gradient at the interpolates (seed 1), the exact pullback of the penalty,
    one weight-gradient GEMM per layer.

    Parameters
    ----------
    critic : MLP
        Scalar-output network.
    x_real, x_fake : arrays, shape (B, n_features)
    alpha : array, shape (B,) or (B, 1)
        Interpolation coefficients in [0, 1].
    lambda_gp : float
        Penalty coefficient (10 in the paper).
    penalty : {"two-sided", "one-sided"}
        ``(||g|| - 1)^2``, or ``max(||g|| - 1, 0)^2`` which penalises only norms above 1.
    batch_total : int, optional
        These rows are a part of a batch of ``batch_total`` rows (one rank's
        part in data-parallel training): every mean, of the loss, its
        gradient and the statistics, is this part's share of the whole
        batch's mean (a sum over these rows divided by ``batch_total``), so
        that the parts add up to the batch's values.
    empty : callable, optional
        Where the passes' work arrays come from (:func:`wgangp.nn.forward`);
        a training step passes :meth:`wgangp.flat.Scratch.empty`.
    statistics : bool, default True
        False: the gradient alone (``loss`` None, ``stats`` empty), for a
        step whose statistics nobody reads (the critic steps of an iteration
        before its last): the means and ranges below are not computed. The
        gradient is the same either way.

    Returns
    -------
    loss : float (a 0-d array off NumPy); None without ``statistics``
    grads : list of arrays aligned with ``critic.params``
        Views into the critic's gradient buffer ``critic.grad_flat`` (the
        list is ``critic.grads``). Reuse rule: the buffer is overwritten by
        the next call that computes this network's gradients (this function,
        or :func:`generator_loss` for a generator); copy them
        (``critic.grad_flat.copy()``, ``[g.copy() for g in grads]``) to keep
        them across such a call.
    stats : dict
        ``loss``, ``wasserstein`` (mean D(real) - mean D(fake)), ``penalty``
        (the lambda-weighted term), ``d_real``, ``d_fake``, ``grad_norm_min``,
        ``grad_norm_mean``, ``grad_norm_max``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> critic = MLP([2, 16, 16, 1], random_state=0, dtype=np.float64)
    >>> x_r, x_f = rng.normal(size=(8, 2)), rng.normal(size=(8, 2))
    >>> loss, grads, stats = critic_loss(critic, x_r, x_f, rng.random(8))
    >>> len(grads) == len(critic.params), stats["penalty"] >= 0
    (True, True)
    """
    batch = x_real.shape[0]
    dtype = critic.dtype
    like = critic.params[0]
    xp = namespace(like)
    if xp is np:
        alpha = np.asarray(alpha, dtype=dtype).reshape(batch, 1)
    else:
        alpha = xp.reshape(alpha, (batch, 1))
    x_all = work(empty, (3 * batch, x_real.shape[1]), like)
    fused = kernel("interpolates", x_real, x_fake, alpha, x_all)
    if fused is not None and x_real.dtype == x_fake.dtype == alpha.dtype == x_all.dtype:
        fused(x_real, x_fake, alpha, x_all)  # the passes below in one
    else:
        x_all[:batch, ...] = x_real
        x_all[batch : 2 * batch, ...] = x_fake
        x_interp = x_all[2 * batch :, ...]  # x_f + a (x_r - x_f), built in place
        into("subtract", x_real, x_fake, out=x_interp)
        x_interp *= alpha
        x_interp += x_fake

    divisor = batch if batch_total is None else batch_total
    out, cache = forward(critic.params, critic.activations, x_all, empty)
    if statistics:
        d_real = _mean(xp, out[:batch, ...], divisor)
        d_fake = _mean(xp, out[batch : 2 * batch, ...], divisor)

    dy_plain = work(np.empty, (2 * batch, 1), like)
    dy_plain[:batch, ...] = -1.0 / divisor
    dy_plain[batch:, ...] = 1.0 / divisor
    grad_fn, holder = _penalty_fn(lambda_gp, penalty, batch, dtype, divisor)
    grads, _, penalty_value = backward_with_input_gradient(
        critic.params,
        critic.activations,
        cache,
        2 * batch,
        dy_plain,
        grad_fn,
        grads_out=critic.grads,
        empty=empty,
    )
    if not statistics:
        return None, grads, {}
    norms = holder["norms"]
    if "range" in holder:  # from the penalty's kernel
        norm_min, norm_max = holder["range"]
    elif xp is np:
        norm_min, norm_max = float(norms.min()), float(norms.max())
    else:
        norm_min, norm_max = xp.min(norms), xp.max(norms)
    wasserstein = d_real - d_fake
    loss = -wasserstein + penalty_value
    stats = {
        "loss": loss,
        "wasserstein": wasserstein,
        "penalty": penalty_value,
        "d_real": d_real,
        "d_fake": d_fake,
        "grad_norm_min": norm_min,
        "grad_norm_mean": _mean(xp, norms, divisor),
        "grad_norm_max": norm_max,
    }
    return loss, grads, stats


def generator_loss(
    generator: MLP, critic: MLP, z: np.ndarray, batch_total: int | None = None, empty=np.empty
) -> tuple[float, list[np.ndarray]]:
    """Generator loss ``L_G = -mean D(G(z))`` and its gradient for the generator.

    The gradient flows through the critic: ``dL/dx_f = -g(x_f) / B`` is
    pushed back through the generator. The critic's weight gradients are
    never formed (the critic is not updated in this step).

    Parameters
    ----------
    generator : MLP
    critic : MLP
    z : array, shape (B, latent_dim)
        Fresh noise.
    batch_total : int, optional
        ``z`` is a part of a batch of this many rows: the loss and its
        gradient are this part's share of the batch's mean.
    empty : callable, optional
        Where the passes' work arrays come from, as in :func:`critic_loss`.

    Returns
    -------
    loss : float (a 0-d array off NumPy)
    grads : list of arrays aligned with ``generator.params``
        Views into ``generator.grad_flat``, overwritten by the next gradient
        call on the generator (the reuse rule of :func:`critic_loss`).

    Examples
    --------
    >>> gen = MLP([2, 8, 2], random_state=0, dtype=np.float64)
    >>> critic = MLP([2, 8, 1], random_state=1, dtype=np.float64)
    >>> loss, grads = generator_loss(gen, critic, np.ones((4, 2)))
    >>> [g.shape for g in grads] == [p.shape for p in gen.params]
    True
    """
    batch = z.shape[0] if batch_total is None else batch_total
    x_fake, gen_cache = forward(generator.params, generator.activations, z, empty)
    out, critic_cache = forward(critic.params, critic.activations, x_fake, empty)
    xp = namespace(out)
    loss = -_mean(xp, out, batch)
    dy = xp.full_like(out, -1.0 / batch)
    dx, _ = backward(
        critic.params,
        critic.activations,
        critic_cache,
        dy,
        need_param_grads=False,
        empty=empty,
    )
    _, grads = backward(
        generator.params,
        generator.activations,
        gen_cache,
        dx,
        need_input_grad=False,
        grads_out=generator.grads,
        empty=empty,
    )
    return loss, grads
