"""kernels: the compiled kernels give NumPy's numbers bit for bit, and exact gradients.

The comparisons need numba (the 'fast' extra) and are skipped without it; the
NumPy passes alone are what every other test runs where numba is missing.
"""

import sys

import numpy as np
import pytest

from conftest import far_from_kinks, max_relative_error, numerical_grads, randomize_biases
from wgangp import WGANGP, kernels
from wgangp.backend import column_sums, kernel
from wgangp.errors import InvalidParameterError
from wgangp.losses import critic_loss, generator_loss
from wgangp.nn import MLP
from wgangp.optim import get_optimizer

DTYPES = [np.float32, np.float64]


@pytest.fixture
def numba_on():
    pytest.importorskip("numba")
    assert kernels.use("auto") == "numba"
    yield
    kernels.use("auto")


def _both(fn):
    """``fn()`` with the kernels off, then on (each result copied)."""
    kernels.use("numpy")
    try:
        plain = fn()
    finally:
        kernels.use("auto")
    return plain, fn()


def _equal(a, b) -> bool:
    """The same values and the same signs of zero (NaN equal to NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    return np.array_equal(a, b, equal_nan=True) and np.array_equal(np.signbit(a), np.signbit(b))


def _awkward(rng, shape, dtype):
    """Random values with zeros of both signs and a NaN among them."""
    a = rng.normal(size=shape).astype(dtype)
    a.flat[:3] = [0.0, -0.0, np.nan]
    return a


# ------------------------------------------------------------- each kernel --


@pytest.mark.parametrize("dtype", DTYPES)
def test_bias_relu_and_leaky_relu_match_the_numpy_passes(numba_on, dtype):
    rng = np.random.default_rng(0)
    from wgangp.activations import LeakyReLU, ReLU

    for act in (ReLU(), LeakyReLU(0.2)):
        z, b = _awkward(rng, (37, 19), dtype), rng.normal(size=19).astype(dtype)

        def run(act=act, z=z, b=b):
            h, saved = act.forward_bias_saved(z.copy(), b)
            return h.copy(), saved.copy()

        (h_np, s_np), (h_k, s_k) = _both(run)
        assert _equal(h_np, h_k) and _equal(s_np, s_k)


@pytest.mark.parametrize("dtype", DTYPES)
def test_mask_products_and_column_sums_match_the_numpy_passes(numba_on, dtype):
    rng = np.random.default_rng(1)
    from wgangp.activations import ReLU

    d, mask = _awkward(rng, (40, 9), dtype), rng.random((40, 9)) > 0.5
    u, w = _awkward(rng, (40, 1), dtype), rng.normal(size=9).astype(dtype)
    masked = _both(lambda: ReLU().mul_df(d.copy(), mask, out=None).copy())
    in_place = _both(lambda: (lambda c: ReLU().mul_df(c, mask, out=c))(d.copy()).copy())
    assert _equal(*masked) and _equal(*in_place) and _equal(masked[0], in_place[1])
    out = np.empty((40, 9), dtype)
    assert ReLU().outer_mul_df(u, w, mask, out)
    assert _equal(out, (u * w) * mask)
    for shape in [(513, 128), (96, 8), (256, 2), (7, 3), (1, 4)]:
        a = rng.normal(size=shape).astype(dtype) * 10
        a[:, 1] = -0.0  # NumPy's sums start from 0: a column of -0.0 sums to +0.0
        sums = _both(lambda a=a: column_sums(a, np.empty(a.shape[1], dtype)).copy())
        assert _equal(*sums) and _equal(sums[1], a.sum(axis=0))


@pytest.mark.parametrize("dtype", DTYPES)
def test_products_with_their_bias_gradient_match_the_numpy_passes(numba_on, dtype):
    """``d * f'(z)`` and the column sums of its first rows in one pass (ReLU's mask,
    LeakyReLU's slopes, the outer product of a one-unit layer): the numbers of
    the product's pass followed by the column sums, signs of zero and NaN kept."""
    rng = np.random.default_rng(11)
    from wgangp.activations import LeakyReLU, ReLU

    for shape, rows in [((40, 9), 25), ((40, 9), 40), ((40, 9), 1), ((513, 128), 342)]:
        d = _awkward(rng, shape, dtype)
        z = _awkward(rng, shape, dtype)
        for act in (ReLU(), LeakyReLU(0.2)):
            _, saved = act.forward_saved(z.copy())
            two = d.copy()
            act.mul_df(two, saved, out=two)
            expected = np.add.reduce(two[:rows], axis=0)  # row after row, as NumPy sums them
            one, sums = d.copy(), np.full(shape[1], np.nan, dtype)
            assert act.mul_df_sums(one, saved, rows, sums)
            assert _equal(one, two) and _equal(sums, expected)
        mask = z > 0
        u, w = _awkward(rng, (shape[0], 1), dtype), rng.normal(size=shape[1]).astype(dtype)
        out, sums = np.empty(shape, dtype), np.empty(shape[1], dtype)
        assert ReLU().outer_mul_df(u, w, mask, out, (rows, sums))
        assert _equal(out, (u * w) * mask)
        assert _equal(sums, np.add.reduce(out[:rows], axis=0))
    # one column (NumPy sums it pairwise), no rows, another dtype: not fused, the caller sums
    d, mask = _awkward(rng, (40, 1), dtype), rng.random((40, 1)) > 0.5
    assert not ReLU().mul_df_sums(d, mask, 10, np.empty(1, dtype))
    # the outer product into one column: its own pass, then NumPy's pairwise sum
    u = rng.normal(size=(40, 1)).astype(dtype)
    out, sums = np.empty((40, 1), dtype), np.empty(1, dtype)
    assert ReLU().outer_mul_df(u, w[:1], mask, out, (10, sums))
    assert _equal(out, (u * w[:1]) * mask) and _equal(sums, np.add.reduce(out[:10], axis=0))
    d, mask = _awkward(rng, (40, 9), dtype), rng.random((40, 9)) > 0.5
    assert not ReLU().mul_df_sums(d.copy(), mask, 0, np.empty(9, dtype))
    other = np.float64 if dtype == np.float32 else np.float32
    assert not ReLU().mul_df_sums(d.copy(), mask, 5, np.empty(9, other))


@pytest.mark.parametrize("dtype", DTYPES)
def test_the_critics_stacked_rows_match_the_numpy_passes(numba_on, dtype):
    """``[x_real; x_fake; x_fake + alpha (x_real - x_fake)]`` in one pass, with the
    passes' rounding (no fused multiply-add): the critic loss's first pass."""
    from wgangp.backend import kernel as get_kernel

    rng = np.random.default_rng(12)
    x_real, x_fake = _awkward(rng, (33, 5), dtype), rng.normal(size=(33, 5)).astype(dtype) * 1e3
    x_fake[1, 2] = -0.0
    alpha = rng.random((33, 1)).astype(dtype)
    out = np.empty((99, 5), dtype)
    get_kernel("interpolates", x_real, x_fake, alpha, out)(x_real, x_fake, alpha, out)
    interp = x_real - x_fake
    interp *= alpha
    interp += x_fake
    assert _equal(out, np.concatenate([x_real, x_fake, interp]))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", ["rmsprop", "adam", "adam-toy", "sgd"])
def test_optimizer_kernels_match_the_numpy_update(numba_on, name, dtype):
    net = MLP([3, 40, 40, 1], random_state=0, dtype=dtype)
    grads = [
        np.random.default_rng(i).normal(size=p.shape).astype(dtype)
        for i, p in enumerate(net.params)
    ]
    for g, view in zip(grads, net.grads):
        view[...] = g

    def run():
        params = MLP([3, 40, 40, 1], random_state=0, dtype=dtype)
        opt = get_optimizer(name, lr=1e-3)
        for _ in range(3):  # Adam's bias correction changes from step to step
            opt.step(params.params, net.grads)
        return params.flat.copy(), [s.flat.copy() for s in opt.state.values() if hasattr(s, "flat")]

    (p_np, s_np), (p_k, s_k) = _both(run)
    assert _equal(p_np, p_k) and all(_equal(a, b) for a, b in zip(s_np, s_k))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("width", [1, 2])
def test_narrow_layers_match_the_numpy_passes(numba_on, dtype, width):
    """A layer on 1 or 2 input columns: product, bias and ReLU, the weight gradient
    and the product alone, without a GEMM, the same with and without the kernels."""
    from wgangp.nn import _narrow_product, _narrow_weight_grad, forward

    rng = np.random.default_rng(5)
    net = MLP([width, 19, 1], random_state=0, dtype=dtype)
    net.params[1][...] = rng.normal(size=19)
    h, u = _awkward(rng, (37, width), dtype), _awkward(rng, (37, 19), dtype)

    def run():
        out, cache = forward(net.params, net.activations, h)
        grad = _narrow_weight_grad(h, u, np.empty((width, 19), dtype))
        return out.copy(), cache[0][1].copy(), grad.copy(), _narrow_product(h, net.params[0]).copy()

    plain, fused = _both(run)
    assert all(_equal(a, b) for a, b in zip(plain, fused))
    # and they are the products they stand for, to rounding
    finite = np.isfinite(h).all(axis=1)
    assert np.allclose(fused[3][finite], (h @ net.params[0])[finite], rtol=1e-5, atol=1e-6)
    clean = np.nan_to_num(u)
    expected = h[finite].T @ clean[finite]
    got = _narrow_weight_grad(h[finite], clean[finite], np.empty((width, 19), dtype))
    assert np.allclose(got, expected, rtol=1e-4, atol=1e-5)
    # -0.0 in u against a positive h: every product is -0.0; NumPy's sum starts from +0.0
    positive = np.abs(rng.normal(size=(37, width))).astype(dtype) + 1
    negative_zeros = np.full((37, 19), -0.0, dtype)
    sums = _both(
        lambda: _narrow_weight_grad(positive, negative_zeros, np.empty((width, 19), dtype)).copy()
    )
    assert _equal(*sums) and not np.signbit(sums[1]).any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("penalty", ["two-sided", "one-sided"])
def test_penalty_kernel_matches_the_numpy_passes(numba_on, dtype, penalty):
    """Rows of norm 0, near 1, NaN and inf: the value, dP/dg and the norms' range."""
    from wgangp.losses import _penalty_fn

    rng = np.random.default_rng(6)
    g = rng.normal(size=(40, 3)).astype(dtype)
    g[0] = 0.0
    g[1] = [0.6, 0.8, 0.0]
    g[2, 1] = np.inf

    def run(g=g):
        grad_fn, holder = _penalty_fn(10.0, penalty, 40, dtype)
        with np.errstate(invalid="ignore", over="ignore"):  # as in a training step
            value, dbar = grad_fn(g)
        norms = holder["norms"]
        low, high = holder.get("range", (float(norms.min()), float(norms.max())))
        return value, dbar.copy(), low, high

    plain, fused = _both(run)
    assert _equal(plain[0], fused[0]) and _equal(plain[1], fused[1])
    assert plain[2:] == fused[2:] and fused[3] == np.inf
    with_nan = g.copy()
    with_nan[3, 0] = np.nan
    plain, fused = _both(lambda: run(with_nan))
    assert _equal(plain[1], fused[1]) and np.isnan(fused[2]) and np.isnan(fused[3])


@pytest.mark.parametrize("dtype", DTYPES)
def test_minibatch_rows_are_scaled_as_the_numpy_passes_scale_them(numba_on, dtype):
    rng = np.random.default_rng(7)
    X = rng.normal(loc=3.0, scale=2.0, size=(500, 4))
    model = WGANGP(hidden=8, depth=1, batch_size=64, dtype=dtype, random_state=0)
    model.fit(X, steps=1)
    rows = rng.permutation(500)[:64]
    for data in (X, X.astype(np.float32), np.asfortranarray(X)):
        huge = data.copy()
        huge[rows[0], 1] = np.finfo(data.dtype).max  # overflows float32 once scaled
        plain, fused = _both(lambda d=huge: model._scaled_rows(d, rows))
        assert fused.dtype == dtype and _equal(plain, fused)
        with np.errstate(over="ignore"):
            assert _equal(fused, model._scaled(huge[rows]))


# ------------------------------------------------------ the passes and losses --


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh"])
@pytest.mark.parametrize("data_dim", [3, 2, 1])
def test_critic_and_generator_losses_are_the_same_with_the_kernels(numba_on, activation, data_dim):
    rng = np.random.default_rng(2)
    critic = MLP([data_dim, 17, 17, 1], activation, random_state=1, dtype=np.float32)
    gen = MLP([2, 17, 17, data_dim], activation, random_state=2, dtype=np.float32)
    x_real, x_fake = rng.normal(size=(32, data_dim)), rng.normal(size=(32, data_dim))
    x_real, x_fake = x_real.astype(np.float32), x_fake.astype(np.float32)
    alpha, z = rng.random(32).astype(np.float32), rng.normal(size=(32, 2)).astype(np.float32)

    def run():
        loss, grads, stats = critic_loss(critic, x_real, x_fake, alpha)
        critic_grads = critic.grad_flat.copy()
        g_loss, _ = generator_loss(gen, critic, z)
        return loss, stats, critic_grads, g_loss, gen.grad_flat.copy()

    plain, fused = _both(run)
    assert plain[0] == fused[0] and plain[1] == fused[1] and plain[3] == fused[3]
    assert _equal(plain[2], fused[2]) and _equal(plain[4], fused[4])


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
@pytest.mark.parametrize("penalty", ["two-sided", "one-sided"])
@pytest.mark.parametrize("widths", [(4, 3), (2, 2), (1, 1)])
def test_gradients_with_the_kernels_match_finite_differences(numba_on, activation, penalty, widths):
    """Wide and narrow (1 or 2 columns: no GEMM) first layers, in both networks."""
    _check_loss_gradients(activation, penalty, widths)
    assert kernels.status() == "numba"


@pytest.mark.parametrize("activation", ["relu", "leaky_relu"])
def test_narrow_layers_on_numpys_passes_alone_match_finite_differences(activation):
    """A layer on one input column without the kernels: NumPy's broadcast passes."""
    try:
        kernels.use("numpy")
        _check_loss_gradients(activation, "two-sided", (1, 1))
    finally:
        kernels.use("auto")


def _check_loss_gradients(activation, penalty, widths):
    """Both losses' parameter gradients against central differences in float64, at
    inputs drawn away from ReLU's kink."""
    data_dim, latent_dim = widths
    rng = np.random.default_rng(3)
    for _ in range(100):
        critic = MLP([data_dim, 9, 7, 1], activation, random_state=rng, dtype=np.float64)
        gen = MLP([latent_dim, 8, data_dim], activation, random_state=rng, dtype=np.float64)
        randomize_biases(critic, rng)
        randomize_biases(gen, rng)
        x_real = rng.normal(size=(6, data_dim))
        x_fake = rng.normal(loc=0.5, size=(6, data_dim))
        alpha, z = rng.random(6), rng.normal(size=(5, latent_dim))
        x_interp = alpha[:, None] * x_real + (1 - alpha[:, None]) * x_fake
        points = np.concatenate([x_real, x_fake, x_interp])
        if (
            far_from_kinks(critic, points, 1e-3)
            and far_from_kinks(gen, z, 1e-3)
            and far_from_kinks(critic, gen(z), 1e-3)
        ):
            break

    def c_loss():
        return critic_loss(critic, x_real, x_fake, alpha, 10.0, penalty)[0]

    grads = [g.copy() for g in critic_loss(critic, x_real, x_fake, alpha, 10.0, penalty)[1]]
    assert max_relative_error(grads, numerical_grads(c_loss, critic.params)) < 1e-5
    g_grads = [g.copy() for g in generator_loss(gen, critic, z)[1]]
    numeric = numerical_grads(lambda: generator_loss(gen, critic, z)[0], gen.params)
    assert max_relative_error(g_grads, numeric) < 1e-5


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam"])
def test_training_gives_the_same_model_with_and_without_the_kernels(numba_on, optimizer):
    X = np.random.default_rng(4).normal(size=(300, 3))

    def run():
        model = WGANGP(hidden=24, depth=3, batch_size=64, optimizer=optimizer, random_state=0)
        model.fit(X, steps=4)
        return np.concatenate([model.generator_.flat, model.critic_.flat]), model.history_

    (plain, h_plain), (fused, h_fused) = _both(run)
    assert _equal(plain, fused)
    assert np.array_equal(h_plain.column("critic_loss"), h_fused.column("critic_loss"))


# ------------------------------------------------------------------ choosing --


def test_numpy_choice_turns_the_kernels_off():
    try:
        assert kernels.use("numpy").startswith("off")
        assert kernel("rmsprop", np.zeros(3), np.zeros(3), np.zeros(3)) is None
    finally:
        kernels.use("auto")


def test_kernels_are_never_offered_for_other_arrays_or_layouts(numba_on):
    a = np.zeros((4, 3), np.float32)
    assert kernel("mul_mask", a, a > 0) is not None
    assert kernel("mul_mask", a.T, a.T > 0) is None  # not C-contiguous
    assert kernel("mul_mask", a.tolist(), a > 0) is None  # not a NumPy array


def test_an_unknown_choice_is_refused():
    with pytest.raises(InvalidParameterError, match="'auto', 'numba' or 'numpy'"):
        kernels.use("fortran")


def test_numba_choice_without_numba_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # an import of numba fails
    try:
        with pytest.raises(ImportError, match=r"wgangp\[fast\]"):
            kernels.use("numba")
        assert "not installed" in kernels.use("auto")
        assert kernel("rmsprop", np.zeros(3), np.zeros(3), np.zeros(3)) is None
    finally:
        monkeypatch.undo()
        kernels.use("auto")
