"""Output heads, the condition loss, packing and the synthesizer's losses.

Pure functions, every gradient hand-derived and checked against finite
differences in ``tests/test_tabular.py`` (and on every array namespace in
``tests/test_backend_estimators.py``: they take their namespace from their
arrays, :mod:`wgangp.backend`):

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

from ..backend import concat, device_of, namespace, row_max, row_sum, sum64
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
        self._masks: dict = {}

    def columns(self, kind: str, fn, out, *arrays):
        """``out[:, c] = fn(*(a[:, c] for a in arrays))`` for the columns ``c`` of
        ``kind`` (``"tanh"`` or ``"linear"``); returns ``out``. NumPy indexes the
        columns; another namespace applies ``fn`` to whole rows and keeps its
        values on those columns (``where``), since the array API has no
        assignment through an integer index. The math, ``fn``, is the same."""
        index = self.tanh_index if kind == "tanh" else self.linear_index
        if not index.size:
            return out
        if type(out) is np.ndarray:
            out[:, index] = fn(*(a[:, index] for a in arrays))
            return out
        xp = namespace(out)
        return xp.where(self._mask(kind, index, out), fn(*arrays), out)

    def _mask(self, kind: str, index: np.ndarray, like):
        """A boolean row selecting ``index``'s columns, on ``like``'s device (made once)."""
        xp, device = namespace(like), device_of(like)
        key = (kind, id(xp), str(device))
        mask = self._masks.get(key)
        if mask is None:
            host = np.zeros((1, self.width), dtype=bool)
            host[0, index] = True
            mask = self._masks[key] = xp.asarray(host, device=device)
        return mask


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
    xp = namespace(logits)
    y = xp.empty_like(logits)
    y = layout.columns("tanh", xp.tanh, y, logits)
    y = layout.columns("linear", _same, y, logits)
    # NumPy: a scalar of the logits' dtype; the standard: a Python float, which keeps it
    inv_tau = logits.dtype.type(1.0 / tau) if xp is np else 1.0 / tau
    for start, width in layout.softmax_blocks:
        o = logits[:, start : start + width]
        if gumbel is not None:
            o = o + gumbel[:, start : start + width]
        o = o * inv_tau
        o = o - row_max(xp, o)
        e = xp.exp(o)
        y[:, start : start + width] = e / row_sum(xp, e)
    return y, (layout, y, inv_tau)


def _same(a):
    return a


def _tanh_pullback(d, y):
    return d * (1 - y * y)


def heads_backward(cache: tuple, dy: np.ndarray) -> np.ndarray:
    """Vector-Jacobian product of :func:`heads_forward`.

    .. math::

        \\bar o_j = \\bar y_j (1 - y_j^2) \\text{ (linear: } \\bar y_j), \\qquad
        \\bar o_B = \\frac{1}{\\tau} y_B \\odot (\\bar y_B - \\langle \\bar y_B, y_B \\rangle)
    """
    layout, y, inv_tau = cache
    xp = namespace(dy)
    dlogits = xp.empty_like(dy)
    dlogits = layout.columns("tanh", _tanh_pullback, dlogits, dy, y)
    dlogits = layout.columns("linear", _same, dlogits, dy)
    for start, width in layout.softmax_blocks:
        ys = y[:, start : start + width]
        d = dy[:, start : start + width]
        dlogits[:, start : start + width] = ys * (d - row_sum(xp, d * ys)) * inv_tau
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
    value : float (a 0-d array off NumPy)
    dlogits : array like ``logits``

    A row whose block of ``cond`` is zero adds nothing to either (its terms
    are multiplied by zeros), so every row is computed alike.
    """
    xp = namespace(logits)
    batch = logits.shape[0] if batch_total is None else batch_total
    grad = xp.zeros_like(logits)
    value = 0.0
    for out_start, cond_start, width in cond_blocks:
        c = cond[:, cond_start : cond_start + width]
        o = logits[:, out_start : out_start + width]
        o = o - row_max(xp, o)
        e = xp.exp(o)
        z = row_sum(xp, e)
        value = value - sum64(xp, c * (o - xp.log(z)))
        grad[:, out_start : out_start + width] = e / z * row_sum(xp, c) - c
    return value / batch, grad / float(batch)


def pack(x: np.ndarray, pac: int) -> np.ndarray:
    """PacGAN packing: ``pac`` consecutive rows side by side, (B, d) -> (B / pac, pac d).

    >>> pack(np.arange(12.0).reshape(4, 3), 2)
    array([[ 0.,  1.,  2.,  3.,  4.,  5.],
           [ 6.,  7.,  8.,  9., 10., 11.]])
    """
    rows, width = x.shape
    if type(x) is np.ndarray:
        return x.reshape(rows // pac, pac * width)
    return namespace(x).reshape(x, (rows // pac, pac * width))


def packed_critic_loss(
    critic,
    x_real,
    x_fake,
    alpha,
    pac: int,
    lambda_gp=10.0,
    penalty="two-sided",
    packs_total: int | None = None,
    statistics: bool = True,
    empty=np.empty,
):
    """:func:`wgangp.losses.critic_loss` on packed rows: one ``alpha`` per pack.

    The interpolates are ``a_j pack(x_r)_j + (1 - a_j) pack(x_f)_j`` and the
    penalty is on the gradient with respect to the whole packed row, as in PacGAN.
    ``packs_total``: these packs are a part of a batch of that many packs
    (``batch_total`` of :func:`~wgangp.losses.critic_loss`); ``statistics``
    and ``empty`` (where the work arrays come from) as there.
    """
    return critic_loss(
        critic,
        pack(x_real, pac),
        pack(x_fake, pac),
        alpha,
        lambda_gp,
        penalty,
        batch_total=packs_total,
        statistics=statistics,
        empty=empty,
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
    empty=np.empty,
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
    empty : callable, optional
        Where the networks' work arrays come from (:func:`wgangp.nn.forward`;
        a training step passes :meth:`wgangp.flat.Scratch.empty`).

    Returns
    -------
    loss : float (a 0-d array off NumPy)
    grads : list aligned with ``generator.params``
        Views into ``generator.grad_flat``, overwritten by the next gradient
        call on the generator (as :func:`wgangp.losses.generator_loss`).
    stats : dict with ``generator_loss`` (the critic term) and ``cross_entropy``
    """
    batch = z.shape[0]
    xp = namespace(z)
    g_in = concat(xp, [z, cond], axis=1) if cond.shape[1] else z
    logits, g_cache = forward(generator.params, generator.activations, g_in, empty)
    x, h_cache = heads_forward(layout, logits, tau, gumbel)
    x_c = concat(xp, [x, cond], axis=1) if cond.shape[1] else x
    packed = pack(x_c, pac)
    out, c_cache = forward(critic.params, critic.activations, packed, empty)
    n_packs = packed.shape[0] if batch_total is None else batch_total // pac
    critic_term = -(sum64(xp, out) / n_packs)
    dout = xp.full_like(out, -1.0 / n_packs)
    dpacked, _ = backward(
        critic.params, critic.activations, c_cache, dout, need_param_grads=False, empty=empty
    )
    dx = xp.reshape(dpacked, (batch, -1))[:, : x.shape[1]]
    dlogits = heads_backward(h_cache, dx)
    ce = 0.0
    if cond_blocks and ce_weight:
        ce, dce = condition_cross_entropy(logits, cond, cond_blocks, batch_total)
        dlogits += (dlogits.dtype.type(ce_weight) if xp is np else float(ce_weight)) * dce
    _, grads = backward(
        generator.params,
        generator.activations,
        g_cache,
        dlogits,
        need_input_grad=False,
        grads_out=generator.grads,
        empty=empty,
    )
    loss = critic_term + ce_weight * ce
    return loss, grads, {"generator_loss": critic_term, "cross_entropy": ce}


# --------------------------------------------------------------------------- #
