"""nn: activations, forward, backward and the input-gradient pullback against finite differences."""

import numpy as np
import pytest

from conftest import (
    far_from_kinks,
    max_relative_error,
    numerical_grads,
    randomize_biases,
    relative_error,
)
from wgangp.errors import InvalidParameterError, InvalidParameterTypeError
from wgangp.nn import (
    ACTIVATIONS,
    MLP,
    LeakyReLU,
    backward,
    backward_with_input_gradient,
    forward,
    get_activation,
)

ALL_ACTIVATIONS = ["relu", "leaky_relu", "tanh", "softplus", "identity"]


@pytest.mark.parametrize("name", ALL_ACTIVATIONS)
def test_activation_derivatives_match_finite_differences(name):
    act = get_activation(name)
    z = np.linspace(-3, 3, 61) + 0.013  # keeps away from 0 (ReLU's kink)
    eps = 1e-6
    f = act.f
    df_num = (f(z + eps) - f(z - eps)) / (2 * eps)
    d2f_num = (act.df(z + eps, f(z + eps)) - act.df(z - eps, f(z - eps))) / (2 * eps)
    np.testing.assert_allclose(act.df(z, f(z)), df_num, atol=1e-8)
    np.testing.assert_allclose(act.d2f(z, f(z)), d2f_num, atol=1e-6)


def test_activation_registry_lists_all_five():
    assert set(ACTIVATIONS) == set(ALL_ACTIVATIONS)


def test_leaky_relu_slope_is_configurable():
    act = get_activation({"name": "leaky_relu", "slope": 0.1})
    assert act.f(np.array([-2.0]))[0] == pytest.approx(-0.2)
    assert act == LeakyReLU(0.1)


def test_unknown_activation_name_is_rejected_with_choices():
    with pytest.raises(InvalidParameterError, match="activation='swish'.*relu"):
        get_activation("swish")


def test_activation_of_wrong_type_is_rejected():
    with pytest.raises(InvalidParameterTypeError, match="activation=3"):
        get_activation(3)


def test_mlp_params_layout_and_shapes():
    net = MLP([3, 5, 7, 1], random_state=0)
    assert [p.shape for p in net.params] == [(3, 5), (5,), (5, 7), (7,), (7, 1), (1,)]
    assert all(p.dtype == np.float32 for p in net.params)
    assert all(np.all(b == 0) for b in net.params[1::2])


def test_mlp_same_seed_same_weights():
    a, b = MLP([2, 9, 1], random_state=7), MLP([2, 9, 1], random_state=7)
    assert all(np.array_equal(p, q) for p, q in zip(a.params, b.params))


@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
@pytest.mark.parametrize("depth", [1, 2, 3, 4])
def test_backward_matches_finite_differences(activation, depth, rng):
    in_dim, width, out_dim = 1 + depth, 3 + 2 * depth, 2
    net = MLP(
        [in_dim] + [width] * depth + [out_dim],
        activation,
        "tanh",
        random_state=depth,
        dtype=np.float64,
    )
    randomize_biases(net, rng)
    x = rng.normal(size=(6, in_dim))
    assert far_from_kinks(net, x)
    weights = rng.normal(size=(6, out_dim))

    def loss():
        return float(np.sum(weights * forward(net.params, net.activations, x)[0]))

    _, cache = forward(net.params, net.activations, x)
    dx, grads = backward(net.params, net.activations, cache, weights)
    assert max_relative_error(grads, numerical_grads(loss, net.params)) < 1e-5
    assert relative_error(dx, numerical_grads(loss, [x])[0]) < 1e-5


def test_backward_skips_what_is_not_needed(rng):
    net = MLP([2, 4, 1], random_state=0, dtype=np.float64)
    _, cache = net.forward(rng.normal(size=(3, 2)))
    dx, grads = backward(
        net.params,
        net.activations,
        cache,
        np.ones((3, 1)),
        need_input_grad=False,
        need_param_grads=False,
    )
    assert dx is None and grads is None


@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
def test_input_gradient_matches_finite_differences(activation, rng):
    net = MLP([4, 7, 5, 1], activation, random_state=3, dtype=np.float64)
    x = rng.normal(size=(5, 4))
    assert far_from_kinks(net, x)
    numeric = numerical_grads(lambda: float(net(x).sum()), [x])[0]
    assert relative_error(net.input_gradient(x), numeric) < 1e-5


@pytest.mark.parametrize("activation", ALL_ACTIVATIONS)
@pytest.mark.parametrize("n_plain", [0, 4])
def test_input_gradient_pullback_matches_finite_differences(activation, n_plain, rng):
    """Parameter gradient of sum(c * D(x_plain)) + P(g) for a smooth P of the input gradient."""
    net = randomize_biases(MLP([3, 5, 7, 1], activation, random_state=11, dtype=np.float64), rng)
    x = rng.normal(size=(n_plain + 6, 3))
    assert far_from_kinks(net, x)
    c = rng.normal(size=(n_plain, 1))

    def grad_fn(g):
        return float(np.sum(np.cos(2 * g))), -2 * np.sin(2 * g)

    def loss():
        y, cache = forward(net.params, net.activations, x)
        dy = np.zeros_like(y)
        dy[n_plain:] = 1
        g, _ = backward(net.params, net.activations, cache, dy, need_param_grads=False)
        return float(np.sum(c * y[:n_plain]) + grad_fn(g[n_plain:])[0])

    _, cache = forward(net.params, net.activations, x)
    grads, g, value = backward_with_input_gradient(
        net.params, net.activations, cache, n_plain, c, grad_fn
    )
    np.testing.assert_allclose(g, net.input_gradient(x)[n_plain:], rtol=1e-12)
    assert value == pytest.approx(grad_fn(g)[0])
    assert max_relative_error(grads, numerical_grads(loss, net.params)) < 1e-5


def test_astype_copies_parameters():
    net = MLP([2, 3, 1], random_state=0)
    wide = net.astype(np.float64)
    wide.params[0][0, 0] += 1
    assert wide.params[0].dtype == np.float64 and net.params[0][0, 0] != wide.params[0][0, 0]


def test_bad_sizes_are_rejected():
    with pytest.raises(InvalidParameterError, match="sizes"):
        MLP([3])
    with pytest.raises(InvalidParameterError, match="sizes"):
        MLP([3, 0, 1])


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_backward_with_input_gradient_leaves_the_input_alone(activation, rng):
    net = MLP([3, 6, 6, 1], activation, random_state=0, dtype=np.float64)
    x = rng.normal(size=(8, 3))
    x_copy = x.copy()
    _, cache = forward(net.params, net.activations, x)
    backward_with_input_gradient(
        net.params, net.activations, cache, 4, np.ones((4, 1)), lambda g: (0.0, g)
    )
    np.testing.assert_array_equal(x, x_copy)


# ------------------------------------------- flat parameter buffer --


def test_params_are_views_of_one_flat_buffer_in_order():
    net = MLP([3, 4, 2], random_state=0, dtype=np.float64)
    assert net.flat.flags.c_contiguous and net.flat.ndim == 1
    assert all(np.shares_memory(p, net.flat) for p in net.params)
    np.testing.assert_array_equal(net.flat, np.concatenate([p.ravel() for p in net.params]))
    assert net.grad_flat.shape == net.flat.shape


def test_in_place_writes_and_assignments_reach_the_flat_buffer():
    net = MLP([3, 4, 2], random_state=0, dtype=np.float64)
    before = net.params
    net.params[0][...] = 1.0  # what the training core does on load
    net.params[1] = np.full(4, 2.0)  # an item
    assert net.flat[:12].tolist() == [1.0] * 12 and net.flat[12:16].tolist() == [2.0] * 4
    other = MLP([3, 4, 2], random_state=1, dtype=np.float64)
    net.params = other.params  # the whole list: copied in
    assert net.params is before and np.array_equal(net.flat, other.flat)
    assert not np.shares_memory(net.flat, other.flat)
    with pytest.raises(InvalidParameterError, match="shapes"):
        net.params = [np.zeros((2, 2))]


def test_forward_is_the_same_with_the_flat_buffer_and_with_plain_arrays(rng):
    net = MLP([3, 7, 5, 2], "leaky_relu", "tanh", random_state=0, dtype=np.float64)
    randomize_biases(net, rng)
    x = rng.normal(size=(9, 3))
    plain = [p.copy() for p in net.params]
    np.testing.assert_array_equal(  # same sums in the same order: bit for bit
        forward(net.params, net.activations, x)[0], forward(plain, net.activations, x)[0]
    )


@pytest.mark.parametrize("activation", ["relu", "softplus"])
def test_backward_writes_into_the_gradient_buffer(activation, rng):
    net = MLP([3, 6, 2], activation, random_state=0, dtype=np.float64)
    randomize_biases(net, rng)
    x, dy = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    _, grads = backward(net.params, net.activations, net.forward(x)[1], dy, grads_out=net.grads)
    assert grads is net.grads
    plain = [p.copy() for p in net.params]
    _, expected = backward(plain, net.activations, forward(plain, net.activations, x)[1], dy)
    for a, b in zip(net.grads, expected):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_the_penalty_pullback_writes_the_same_numbers_into_the_gradient_buffer(activation, rng):
    """Into ``net.grads`` (the second-order terms of tanh added in place) or new
    arrays: the same sums in the same order, bit for bit."""
    net = MLP([3, 6, 5, 1], activation, random_state=0, dtype=np.float64)
    randomize_biases(net, rng)
    x, c = rng.normal(size=(8, 3)), rng.normal(size=(4, 1))

    def grad_fn(g):
        return float(np.sum(g**2)), 2 * g

    plain = [p.copy() for p in net.params]
    expected, g_plain, _ = backward_with_input_gradient(
        plain, net.activations, forward(plain, net.activations, x)[1], 4, c, grad_fn
    )
    grads, g, _ = backward_with_input_gradient(
        net.params, net.activations, net.forward(x)[1], 4, c, grad_fn, grads_out=net.grads
    )
    assert grads is net.grads
    np.testing.assert_array_equal(g, g_plain)
    for a, b in zip(net.grads, expected):
        np.testing.assert_array_equal(a, b)
