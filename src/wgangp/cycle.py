"""The translator's generator objective, as pure functions of explicit inputs.

Two generators translate between domains A and B: ``G: A -> B`` and
``F: B -> A``. Each is an MLP, used either plainly, ``G(x) = MLP(x)``, or
in residual form, ``G(x) = x + MLP(x)`` (then the Jacobian is ``I + J``:
the backward pass adds the output gradient to the MLP's input gradient).
With critics ``D_A`` and ``D_B`` and batches ``a`` (B rows of A) and ``b``
(B rows of B), the generators minimise together

.. math::

    L = -\\overline{D_B(G(a))} - \\overline{D_A(F(b))}
        + \\lambda_c (\\langle |F(G(a)) - a| \\rangle + \\langle |G(F(b)) - b| \\rangle)
        + \\lambda_i (\\langle |G(b) - b| \\rangle + \\langle |F(a) - a| \\rangle)
        + \\lambda_p (\\langle |G(p_a) - p_b| \\rangle + \\langle |F(p_b) - p_a| \\rangle)

where :math:`\\langle\\cdot\\rangle` is the mean over all ``B * d`` entries
(CycleGAN's L1 per entry), and ``(p_a, p_b)`` are optional *pairs*: rows of
A with their known translations in B (all of them in every step), a
supervised term that makes a translation identifiable where the unpaired
terms alone admit several (a class-swapping map is as cycle-consistent as
the right one). Every gradient is hand-derived:

* ``d<|e|>/de = sign(e) / (B d)`` (0 at ``e = 0``, a subgradient);
* the adversarial terms push ``-g_B(G(a)) / B`` and ``-g_A(F(b)) / B``
  (critic input gradients, no critic weight gradients) into the outputs;
* the cycle ``F(G(a))`` passes through both generators: its gradient runs
  back through ``F`` (F's parameters, and the input gradient at ``G(a)``),
  then joins the adversarial gradient at ``G(a)`` and runs back through
  ``G``; ``G(F(b))`` likewise through ``G`` then ``F``.

Three generator passes serve all terms: ``F`` over ``[b; a; p_b]``, ``G``
over ``[a; b; p_a; F(b)]`` (one GEMM per layer for all uses), ``F`` over
``G(a)``; the identity and pair rows join only when their terms are on.
The critic loss of each domain is :func:`wgangp.losses.critic_loss`.

An optional output *head* ``h`` follows each generator, ``G(x) = h(x +
MLP(x))`` or ``h(MLP(x))``: any object with ``forward(o) -> (y, cache)``
and ``backward(cache, dy) -> do`` (its vector-Jacobian product). Tables
use it (:class:`wgangp.Translator` on DataFrames): a softmax over each
one-hot block of the encoded row, the scalars passed through. Every pass
and every pullback above then runs through the head, nothing else changes.

Every function takes its namespace from its arrays (:mod:`wgangp.backend`):
NumPy, or CuPy / torch / any array-API library, the inputs all of the
networks' namespace. On NumPy losses and statistics are Python floats;
elsewhere 0-d arrays left on the device, read with ``float()`` when logged.
"""

from __future__ import annotations

import numpy as np

from .backend import concat, into, namespace, scalar, sum64
from .nn import MLP, backward, forward, predict

__all__ = [
    "generator_backward",
    "generator_forward",
    "l1",
    "translate",
    "translator_generator_loss",
]


def generator_forward(net: MLP, x: np.ndarray, residual: bool, head=None, empty=np.empty):
    """``h(x + MLP(x))`` (residual) or ``h(MLP(x))`` (``h`` the head, or none), and the
    cache for :func:`generator_backward`; the MLP's arrays from ``empty``
    (:func:`wgangp.nn.forward`)."""
    out, cache = forward(net.params, net.activations, x, empty)
    if residual:
        out = out + x  # a new array: the cache may hold the MLP's output
    if head is None:
        return out, cache
    out, head_cache = head.forward(out)
    return out, (cache, head_cache)


def generator_backward(
    net: MLP,
    cache,
    dy: np.ndarray,
    residual: bool,
    need_input_grad: bool = True,
    head=None,
    grads_out: list[np.ndarray] | None = None,
    empty=np.empty,
) -> tuple[np.ndarray | None, list[np.ndarray]]:
    """Vector-Jacobian product of :func:`generator_forward`: with ``do = h'(o)^T dy``
    (``dy`` itself without a head), ``dx = do + J^T do`` for the residual form,
    ``J^T do`` for the plain one; parameter gradients alike (into ``grads_out``,
    such as ``net.grads``, when given); the sweep's arrays from ``empty``."""
    if head is not None:
        cache, head_cache = cache
        dy = head.backward(head_cache, dy)
    dx, grads = backward(
        net.params,
        net.activations,
        cache,
        dy,
        need_input_grad=need_input_grad,
        grads_out=grads_out,
        empty=empty,
    )
    if need_input_grad and residual:
        dx += dy
    return dx, grads


def translate(net: MLP, x: np.ndarray, residual: bool, head=None, empty=np.empty) -> np.ndarray:
    """The translation of ``x`` by a generator (chunked, no cache; the MLP's arrays
    from ``empty``).

    >>> net = MLP([2, 4, 2], random_state=0, dtype=np.float64)
    >>> x = np.ones((3, 2))
    >>> bool(np.allclose(translate(net, x, True), x + translate(net, x, False)))
    True
    """
    out = predict(net.params, net.activations, x, empty=empty)
    if residual:
        out = out + x
    return out if head is None else head.forward(out)[0]


def l1(diff: np.ndarray) -> tuple[float, np.ndarray]:
    """Mean absolute entry ``<|e|>`` and its gradient ``sign(e) / e.size``.

    >>> l1(np.array([[1.0, -3.0]]))
    (2.0, array([[ 0.5, -0.5]]))
    """
    xp = namespace(diff)
    size = diff.shape[0] * diff.shape[1] if diff.ndim == 2 else diff.size
    if xp is np:
        value = float(np.abs(diff).mean(dtype=np.float64))
        return value, np.sign(diff) * diff.dtype.type(1.0 / size)
    return sum64(xp, xp.abs(diff)) / size, xp.sign(diff) * (1.0 / size)


def _critic_input_gradient(
    critic: MLP, x: np.ndarray, seed: float, empty=np.empty
) -> tuple[float, np.ndarray]:
    """``mean D(x)`` and ``seed * dD/dx`` per row (no critic weight gradients)."""
    out, cache = forward(critic.params, critic.activations, x, empty)
    xp = namespace(out)
    dy = xp.full_like(out, seed)
    dx, _ = backward(
        critic.params, critic.activations, cache, dy, need_param_grads=False, empty=empty
    )
    mean = float(out.mean(dtype=np.float64)) if xp is np else sum64(xp, out) / out.shape[0]
    return mean, dx


def translator_generator_loss(
    gen_ab: MLP,
    gen_ba: MLP,
    critic_a: MLP,
    critic_b: MLP,
    x_a: np.ndarray,
    x_b: np.ndarray,
    lambda_cycle: float = 10.0,
    lambda_identity: float = 0.0,
    residual: bool = True,
    head=None,
    pairs: tuple[np.ndarray, np.ndarray] | None = None,
    lambda_pairs: float = 0.0,
    empty=np.empty,
) -> tuple[float, list[np.ndarray], list[np.ndarray], dict]:
    """The generators' objective (module docstring) and its gradient for both.

    Parameters
    ----------
    gen_ab, gen_ba : MLP
        ``G: A -> B`` and ``F: B -> A``, both of width ``d`` in and out.
    critic_a, critic_b : MLP
        Scalar critics of A and of B; not updated here.
    x_a, x_b : arrays, shape (B, d)
        Rows of each domain (the same number of rows).
    lambda_cycle, lambda_identity : float
        Weights of the L1 cycle and identity terms (identity skipped at 0).
    residual : bool
        Generators in residual form ``x + MLP(x)``.
    head : object with ``forward`` and ``backward``, optional
        The output head of both generators (module docstring).
    pairs : (p_a, p_b), arrays of shape (k, d), optional
        Rows of A and their known translations in B.
    lambda_pairs : float
        Weight of the L1 pair term (skipped at 0 or without pairs).
    empty : callable, optional
        Where the networks' work arrays come from (:func:`wgangp.nn.forward`;
        a training step passes :meth:`wgangp.flat.Scratch.empty`).

    Returns
    -------
    loss : float
    grads_ab, grads_ba : lists aligned with ``gen_ab.params`` and ``gen_ba.params``
        The generators' gradient buffers ``gen_ab.grads`` and ``gen_ba.grads``,
        overwritten by the next gradient call on the same network.
    stats : dict
        ``generator_loss``, ``adversarial_ab`` (``-mean D_B(G(a))``),
        ``adversarial_ba``, ``cycle_error_a`` (``<|F(G(a)) - a|>``),
        ``cycle_error_b``, ``cycle_error`` (their mean), ``shift_ab``
        (``<|G(a) - a|>``, how far the translation moves), ``shift_ba``, with
        the identity term ``identity_error`` (mean of its two L1 means), with
        the pair term ``pair_error`` (``<|G(p_a) - p_b|>``, ``pair_error_ba``
        likewise for ``F``).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> nets = [MLP(s, random_state=i, dtype=np.float64)
    ...         for i, s in enumerate([[2, 8, 2], [2, 8, 2], [2, 8, 1], [2, 8, 1]])]
    >>> loss, g_ab, g_ba, stats = translator_generator_loss(
    ...     *nets, rng.normal(size=(4, 2)), rng.normal(size=(4, 2)))
    >>> len(g_ab) == len(nets[0].params), stats["cycle_error"] > 0
    (True, True)
    """
    batch = x_a.shape[0]
    xp = namespace(x_a)
    dtype = gen_ab.dtype
    identity = lambda_identity > 0
    paired = pairs is not None and lambda_pairs > 0 and pairs[0].shape[0] > 0
    if xp is np:  # scalars of the networks' dtype; the standard: Python floats, which keep it
        lc, li, lp = (dtype.type(w) for w in (lambda_cycle, lambda_identity, lambda_pairs))
    else:
        lc, li, lp = float(lambda_cycle), float(lambda_identity), float(lambda_pairs)
    n_pairs = pairs[0].shape[0] if paired else 0

    # F over [b; a; p_b]: F(b) is the fake A; F(a) enters the identity term,
    # F(p_b) the pair term.
    f_parts = [x_b] + ([x_a] if identity else []) + ([pairs[1]] if paired else [])
    f_in = concat(xp, f_parts) if len(f_parts) > 1 else x_b
    f_out, f_cache = generator_forward(gen_ba, f_in, residual, head, empty)
    fake_a = f_out[:batch, ...]
    # G over [a; b; p_a; F(b)]: the fake B, the identity and pair terms, the cycle of b.
    g_parts = [x_a] + ([x_b] if identity else []) + ([pairs[0]] if paired else []) + [fake_a]
    g_out, g_cache = generator_forward(gen_ab, concat(xp, g_parts), residual, head, empty)
    fake_b, cycled_b = g_out[:batch, ...], g_out[-batch:, ...]
    # F over G(a): the cycle of a.
    cycled_a, c_cache = generator_forward(gen_ba, fake_b, residual, head, empty)

    mean_d_b, adv_grad_b = _critic_input_gradient(critic_b, fake_b, -1.0 / batch, empty)
    mean_d_a, adv_grad_a = _critic_input_gradient(critic_a, fake_a, -1.0 / batch, empty)
    cyc_a, d_cyc_a = l1(cycled_a - x_a)
    cyc_b, d_cyc_b = l1(cycled_b - x_b)
    loss = -mean_d_b - mean_d_a + float(lambda_cycle) * (cyc_a + cyc_b)
    stats = {
        "adversarial_ab": -mean_d_b,
        "adversarial_ba": -mean_d_a,
        "cycle_error": 0.5 * (cyc_a + cyc_b),
        "cycle_error_a": cyc_a,
        "cycle_error_b": cyc_b,
        "shift_ab": _mean_abs(xp, fake_b - x_a),
        "shift_ba": _mean_abs(xp, fake_a - x_b),
    }

    # Back through F from the cycle of a: F's parameters and dL/dG(a).
    dx_fake_b, grads_ba = generator_backward(
        gen_ba, c_cache, d_cyc_a * lc, residual, head=head, grads_out=gen_ba.grads, empty=empty
    )
    # Back through G over [a; b; p_a; F(b)]: adversarial + cycle at G(a),
    # identity at G(b), pairs at G(p_a), cycle at G(F(b)); the last rows'
    # input gradient is dL/dF(b).
    g_dy = xp.empty_like(g_out)
    into("add", dx_fake_b, adv_grad_b, out=g_dy[:batch, ...])
    row = batch
    if identity:
        idt_b, d_idt_b = l1(g_out[row : row + batch, ...] - x_b)
        g_dy[row : row + batch, ...] = d_idt_b * li
        row += batch
    if paired:
        pair_ab, d_pair_ab = l1(g_out[row : row + n_pairs, ...] - pairs[1])
        g_dy[row : row + n_pairs, ...] = d_pair_ab * lp
    g_dy[-batch:, ...] = d_cyc_b * lc
    dx_g, grads_ab = generator_backward(
        gen_ab, g_cache, g_dy, residual, head=head, grads_out=gen_ab.grads, empty=empty
    )
    # Back through F over [b; a; p_b]: adversarial + cycle at F(b), identity
    # at F(a), pairs at F(p_b).
    f_dy = xp.empty_like(f_out)
    into("add", dx_g[-batch:, ...], adv_grad_a, out=f_dy[:batch, ...])
    row = batch
    if identity:
        idt_a, d_idt_a = l1(f_out[row : row + batch, ...] - x_a)
        f_dy[row : row + batch, ...] = d_idt_a * li
        row += batch
        loss += float(lambda_identity) * (idt_a + idt_b)
        stats["identity_error"] = 0.5 * (idt_a + idt_b)
    if paired:
        pair_ba, d_pair_ba = l1(f_out[row : row + n_pairs, ...] - pairs[0])
        f_dy[row : row + n_pairs, ...] = d_pair_ba * lp
        loss += float(lambda_pairs) * (pair_ab + pair_ba)
        stats["pair_error"] = pair_ab
        stats["pair_error_ba"] = pair_ba
    _, grads_first = generator_backward(
        gen_ba, f_cache, f_dy, residual, need_input_grad=False, head=head, empty=empty
    )
    for g, extra in zip(grads_ba, grads_first):
        g += extra
    stats = {"generator_loss": loss, **stats}
    return loss, grads_ab, grads_ba, stats


def _mean_abs(xp, a):
    """``<|a|>`` summed in float64 (a float on NumPy, see :func:`wgangp.backend.scalar`)."""
    if xp is np:
        return float(np.abs(a).mean(dtype=np.float64))
    return scalar(xp, sum64(xp, xp.abs(a)) / (a.shape[0] * a.shape[1]))
