"""Output heads, the condition loss, packing and the synthesizer's losses.

Pure functions, every gradient hand-derived and checked against finite
differences in ``tests/test_tabular.py``:

* :func:`heads_forward` / :func:`heads_backward`: ``tanh`` on each scalar
  (or the identity, on blocks of kind ``linear``) and a (Gumbel-)softmax on
  each one-hot block, after the generator's linear output;
* :func:`condition_cross_entropy`: the term that makes the generator honour
  its condition vector;
* :func:`pack` (PacGAN: ``pac`` rows side by side, one interpolation
  coefficient per pack), :func:`packed_critic_loss` and the generator loss
  with heads, conditions and packing,

.. math::

    L_G = -\\frac{1}{B/\\mathrm{pac}} \\sum_j D(\\mathrm{pack}([h(G([z, c])), c]))_j
          + w_{ce} \\frac{1}{B} \\sum_i \\mathrm{CE}(G([z, c])_i, c_i),

(:func:`generator_loss`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np

from ..losses import critic_loss
from ..nn import MLP, backward, forward

logger = logging.getLogger(__name__)


class HeadLayout:
    """Where the tanh scalars, linear scalars and softmax blocks sit in the generator output.

    Parameters
    ----------
    output_info : list of dict
        :attr:`TabularTransformer.output_info_` (``kind``, ``start``, ``width``);
        a block of kind ``linear`` (a scalar passed through as it is) is
        what :class:`wgangp.Translator` makes of the ``tanh`` scalars, so
        that its residual generators can start at the identity.
    """

    def __init__(self, output_info: Sequence[dict]):
        self.tanh_index = np.array(
            [b["start"] for b in output_info if b["kind"] == "tanh"], dtype=np.intp
        )
        self.linear_index = np.array(
            [b["start"] for b in output_info if b["kind"] == "linear"], dtype=np.intp
        )
        self.softmax_blocks = [
            (b["start"], b["width"]) for b in output_info if b["kind"] == "softmax"
        ]
        self.width = sum(b["width"] for b in output_info)


def heads_forward(
    layout: HeadLayout, logits: np.ndarray, tau: float = 1.0, gumbel: np.ndarray | None = None
) -> tuple[np.ndarray, tuple]:
    """Apply the output heads to the generator's linear output.

    .. math::

        y_j = \\tanh o_j \\text{ (scalars; } y_j = o_j \\text{ if linear)}, \\qquad
        y_B = \\mathrm{softmax}((o_B + g_B) / \\tau) \\text{ (each one-hot block B)}

    with ``g`` Gumbel noise (Gumbel-softmax) or zero.

    Parameters
    ----------
    logits : array, shape (rows, layout.width)
    tau : float
        Softmax temperature (> 0).
    gumbel : array of logits' shape, optional
        Only its softmax positions are read.

    Returns
    -------
    y : array like ``logits``
    cache : for :func:`heads_backward`
    """
    y = np.empty_like(logits)
    t = layout.tanh_index
    y[:, t] = np.tanh(logits[:, t])
    y[:, layout.linear_index] = logits[:, layout.linear_index]
    inv_tau = logits.dtype.type(1.0 / tau)
    for start, width in layout.softmax_blocks:
        o = logits[:, start : start + width]
        if gumbel is not None:
            o = o + gumbel[:, start : start + width]
        o = o * inv_tau
        o = o - o.max(axis=1, keepdims=True)
        e = np.exp(o)
        y[:, start : start + width] = e / e.sum(axis=1, keepdims=True)
    return y, (layout, y, inv_tau)


def heads_backward(cache: tuple, dy: np.ndarray) -> np.ndarray:
    """Vector-Jacobian product of :func:`heads_forward`.

    .. math::

        \\bar o_j = \\bar y_j (1 - y_j^2) \\text{ (linear: } \\bar y_j), \\qquad
        \\bar o_B = \\frac{1}{\\tau} y_B \\odot (\\bar y_B - \\langle \\bar y_B, y_B \\rangle)
    """
    layout, y, inv_tau = cache
    dlogits = np.empty_like(dy)
    t = layout.tanh_index
    yt = y[:, t]
    dlogits[:, t] = dy[:, t] * (1 - yt * yt)
    dlogits[:, layout.linear_index] = dy[:, layout.linear_index]
    for start, width in layout.softmax_blocks:
        ys = y[:, start : start + width]
        d = dy[:, start : start + width]
        dlogits[:, start : start + width] = ys * (d - (d * ys).sum(axis=1, keepdims=True)) * inv_tau
    return dlogits


def condition_cross_entropy(
    logits: np.ndarray,
    cond: np.ndarray,
    cond_blocks: Sequence[tuple[int, int, int]],
    batch_total: int | None = None,
) -> tuple[float, np.ndarray]:
    """Cross-entropy between the conditioned blocks' logits and the condition.

    .. math::

        \\mathrm{CE} = \\frac{1}{B} \\sum_i \\sum_{B \\in \\text{cond}(i)}
            \\left(\\log \\sum_k e^{o_{iBk}} - o_{iBc_i}\\right),
        \\qquad \\frac{\\partial \\mathrm{CE}}{\\partial o_{iB}}
            = \\frac{1}{B} (\\mathrm{softmax}(o_{iB}) - c_{iB})

    Parameters
    ----------
    logits : array, shape (B, output width)
        The generator's linear output (before the heads).
    cond : array, shape (B, cond width)
        One-hot conditions; a row's block of zeros means "not conditioned".
    cond_blocks : list of (output start, condition start, width)
    batch_total : int, optional
        These rows are a part of a batch of this many (one rank's part in
        data-parallel training): ``B`` above is ``batch_total``, so that the
        parts add up to the batch's value and gradient.

    Returns
    -------
    value : float
    dlogits : array like ``logits``
    """
    batch = logits.shape[0] if batch_total is None else batch_total
    grad = np.zeros_like(logits)
    value = 0.0
    for out_start, cond_start, width in cond_blocks:
        c = cond[:, cond_start : cond_start + width]
        rows = c.sum(axis=1) > 0
        if not rows.any():
            continue
        c = c[rows]
        o = logits[rows, out_start : out_start + width]
        o = o - o.max(axis=1, keepdims=True)
        e = np.exp(o)
        z = e.sum(axis=1, keepdims=True)
        value -= float(np.sum(c * (o - np.log(z)), dtype=np.float64))
        grad[rows, out_start : out_start + width] = e / z * c.sum(axis=1, keepdims=True) - c
    return value / batch, grad / logits.dtype.type(batch)


def pack(x: np.ndarray, pac: int) -> np.ndarray:
    """PacGAN packing: ``pac`` consecutive rows side by side, (B, d) -> (B / pac, pac d).

    >>> pack(np.arange(12.0).reshape(4, 3), 2)
    array([[ 0.,  1.,  2.,  3.,  4.,  5.],
           [ 6.,  7.,  8.,  9., 10., 11.]])
    """
    rows, width = x.shape
    return x.reshape(rows // pac, pac * width)


def packed_critic_loss(
    critic,
    x_real,
    x_fake,
    alpha,
    pac: int,
    lambda_gp=10.0,
    penalty="two-sided",
    packs_total: int | None = None,
):
    """:func:`wgangp.losses.critic_loss` on packed rows: one ``alpha`` per pack.

    The interpolates are ``a_j pack(x_r)_j + (1 - a_j) pack(x_f)_j`` and the
    penalty is on the gradient with respect to the whole packed row, as in PacGAN.
    ``packs_total``: these packs are a part of a batch of that many packs
    (``batch_total`` of :func:`~wgangp.losses.critic_loss`).
    """
    return critic_loss(
        critic,
        pack(x_real, pac),
        pack(x_fake, pac),
        alpha,
        lambda_gp,
        penalty,
        batch_total=packs_total,
    )


def generator_loss(
    generator: MLP,
    critic: MLP,
    layout: HeadLayout,
    z: np.ndarray,
    cond: np.ndarray,
    gumbel: np.ndarray | None,
    tau: float = 0.2,
    pac: int = 1,
    ce_weight: float = 1.0,
    cond_blocks: Sequence[tuple[int, int, int]] = (),
    batch_total: int | None = None,
) -> tuple[float, list[np.ndarray], dict]:
    """Generator loss with heads, conditions and packing, and its gradient.

    ``x = heads(G([z, c]))``; the critic sees ``pack([x, c])``; the loss is
    ``-mean D + ce_weight * CE(G([z, c]), c)``. The gradient flows from the
    critic's input back through the heads into the generator, with the
    cross-entropy's gradient added to the generator's linear output. The
    critic's weight gradients are never formed.

    Parameters
    ----------
    z : array, shape (B, latent)
    cond : array, shape (B, cond width); width 0 when unconditional
    gumbel : array, shape (B, output width), or None
    pac : int, dividing B
    batch_total : int, optional
        These rows are a part of a batch of this many rows (a multiple of
        ``pac``; one rank's packs in data-parallel training): both means are
        over the whole batch, so that the parts add up to its loss and gradient.

    Returns
    -------
    loss : float
    grads : list aligned with ``generator.params``
        Views into ``generator.grad_flat``, overwritten by the next gradient
        call on the generator (as :func:`wgangp.losses.generator_loss`).
    stats : dict with ``generator_loss`` (the critic term) and ``cross_entropy``
    """
    batch = z.shape[0]
    g_in = np.concatenate([z, cond], axis=1) if cond.shape[1] else z
    logits, g_cache = forward(generator.params, generator.activations, g_in)
    x, h_cache = heads_forward(layout, logits, tau, gumbel)
    x_c = np.concatenate([x, cond], axis=1) if cond.shape[1] else x
    packed = pack(x_c, pac)
    out, c_cache = forward(critic.params, critic.activations, packed)
    n_packs = packed.shape[0] if batch_total is None else batch_total // pac
    critic_term = -float(out.sum(dtype=np.float64) / n_packs)
    dout = np.full_like(out, -1.0 / n_packs)
    dpacked, _ = backward(critic.params, critic.activations, c_cache, dout, need_param_grads=False)
    dx = dpacked.reshape(batch, -1)[:, : x.shape[1]]
    dlogits = heads_backward(h_cache, dx)
    ce = 0.0
    if cond_blocks and ce_weight:
        ce, dce = condition_cross_entropy(logits, cond, cond_blocks, batch_total)
        dlogits += dlogits.dtype.type(ce_weight) * dce
    _, grads = backward(
        generator.params,
        generator.activations,
        g_cache,
        dlogits,
        need_input_grad=False,
        grads_out=generator.grads,
    )
    loss = critic_term + ce_weight * ce
    return loss, grads, {"generator_loss": critic_term, "cross_entropy": ce}


# --------------------------------------------------------------------------- #
