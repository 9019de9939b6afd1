"""optim: each optimizer against a step computed by hand; state round trips."""

import math

import numpy as np
import pytest

from wgangp import optim
from wgangp.errors import InvalidParameterError
from wgangp.flat import pack
from wgangp.nn import MLP
from wgangp.optim import SGD, Adam, RMSProp, get_optimizer


def test_rmsprop_two_steps_by_hand():
    p = np.array([1.0, -2.0])
    g1, g2 = np.array([0.5, -1.0]), np.array([-0.2, 0.3])
    opt = RMSProp(lr=0.01, rho=0.9, eps=1e-8)
    opt.step([p], [g1])
    opt.step([p], [g2])
    v1 = 0.1 * g1**2
    p1 = np.array([1.0, -2.0]) - 0.01 * g1 / (np.sqrt(v1) + 1e-8)
    v2 = 0.9 * v1 + 0.1 * g2**2
    expected = p1 - 0.01 * g2 / (np.sqrt(v2) + 1e-8)
    np.testing.assert_allclose(p, expected, rtol=1e-12)


@pytest.mark.parametrize("betas", [(0.0, 0.9), (0.5, 0.9)])
def test_adam_two_steps_by_hand(betas):
    b1, b2 = betas
    p = np.array([0.3])
    grads = [np.array([2.0]), np.array([-1.0])]
    opt = Adam(lr=0.1, betas=betas, eps=1e-8)
    m = v = 0.0
    q = 0.3
    for t, g in enumerate(grads, start=1):
        opt.step([p], [g])
        m = b1 * m + (1 - b1) * g[0]
        v = b2 * v + (1 - b2) * g[0] ** 2
        q -= 0.1 * (m / (1 - b1**t)) / (math.sqrt(v / (1 - b2**t)) + 1e-8)
    assert p[0] == pytest.approx(q, rel=1e-12)


def test_sgd_momentum_by_hand():
    p = np.array([1.0])
    opt = SGD(lr=0.1, momentum=0.9)
    for _ in range(3):
        opt.step([p], [np.array([1.0])])
    # buffers 1, 1.9, 2.71
    assert p[0] == pytest.approx(1 - 0.1 * (1 + 1.9 + 2.71))


@pytest.mark.parametrize("name", ["rmsprop", "adam", "adam-toy", "sgd"])
def test_state_dict_round_trip_continues_identically(name):
    rng = np.random.default_rng(0)
    params_a = [rng.normal(size=(3, 2)), rng.normal(size=2)]
    params_b = [p.copy() for p in params_a]
    grads = [[rng.normal(size=(3, 2)), rng.normal(size=2)] for _ in range(4)]
    a = get_optimizer(name, lr=1e-2)
    for g in grads:
        a.step(params_a, g)
    b = get_optimizer(name, lr=1e-2)
    for g in grads[:2]:
        b.step(params_b, g)
    c = get_optimizer(b.config())
    c.load_state_dict(b.state_dict())
    for g in grads[2:]:
        c.step(params_b, g)
    for pa, pb in zip(params_a, params_b):
        np.testing.assert_array_equal(pa, pb)


def test_named_presets_carry_the_papers_betas():
    assert get_optimizer("adam").betas == (0.0, 0.9)
    assert get_optimizer("adam-toy").betas == (0.5, 0.9)
    assert get_optimizer("rmsprop", lr=3e-4).lr == 3e-4


def test_optimizer_instance_is_cloned_with_fresh_state():
    proto = Adam(lr=1e-3, betas=(0.5, 0.99))
    proto.step([np.zeros(1)], [np.ones(1)])
    clone = get_optimizer(proto)
    assert clone is not proto and clone.state is None and clone.betas == (0.5, 0.99)


def test_unknown_optimizer_and_bad_lr_are_rejected():
    with pytest.raises(InvalidParameterError, match="optimizer='adagrad'"):
        get_optimizer("adagrad")
    with pytest.raises(InvalidParameterError, match="lr=-1"):
        RMSProp(lr=-1)


# ------------------------------------------- flat buffers: one pass per operation --


@pytest.mark.parametrize("name", ["rmsprop", "adam", "adam-toy", "sgd"])
@pytest.mark.parametrize("block", [7, optim.BLOCK])
def test_one_pass_update_equals_the_array_by_array_update(name, block, monkeypatch):
    """The flat path (a network's ViewLists) against plain lists: the same
    elementwise operations, so the same numbers bit for bit."""
    monkeypatch.setattr(optim, "BLOCK", block)  # several blocks, and one
    rng = np.random.default_rng(1)
    net = MLP([3, 5, 4, 1], random_state=0, dtype=np.float64)
    plain = [p.copy() for p in net.params]
    flat_opt, list_opt = get_optimizer(name, lr=1e-2), get_optimizer(name, lr=1e-2)
    for _ in range(5):
        for g in net.grads:
            g[...] = rng.normal(size=g.shape)
        flat_opt.step(net.params, net.grads)  # one call per operation
        list_opt.step(plain, [g.copy() for g in net.grads])  # plain lists: per array
    for p, q in zip(net.params, plain):
        np.testing.assert_array_equal(p, q)
    for slot in flat_opt.slots:
        for a, b in zip(flat_opt.state[slot], list_opt.state[slot]):
            np.testing.assert_array_equal(a, b)


def test_optimizer_state_is_flat_with_views_aligned_with_the_parameters():
    net = MLP([2, 4, 1], random_state=0, dtype=np.float64)
    opt = Adam(lr=1e-3)
    opt.init(net.params)
    for slot in opt.slots:
        views = opt.state[slot]
        assert views.flat.shape == net.flat.shape
        assert [v.shape for v in views] == [p.shape for p in net.params]
        assert all(np.shares_memory(v, views.flat) for v in views)


def test_state_dict_keeps_its_format_and_loads_back_into_flat_state():
    net = MLP([2, 4, 1], random_state=0, dtype=np.float64)
    opt = RMSProp(lr=1e-3)
    net.grads[0][...] = 1.0
    opt.step(net.params, net.grads)
    state = opt.state_dict()
    assert isinstance(state["square_avg"], list)
    assert [a.shape for a in state["square_avg"]] == [p.shape for p in net.params]
    assert not any(np.shares_memory(a, opt.state["square_avg"].flat) for a in state["square_avg"])
    other = RMSProp(lr=1e-3)
    other.load_state_dict(state)
    assert other.state["square_avg"].flat is not None
    np.testing.assert_array_equal(other.state["square_avg"].flat, opt.state["square_avg"].flat)


def test_state_given_as_plain_arrays_is_packed_and_updated():
    p = [np.ones((2, 2)), np.ones(2)]
    opt = SGD(lr=0.1, momentum=0.5)
    opt.state = {"step": 0, "momentum_buffer": [np.zeros((2, 2)), np.zeros(2)]}
    opt.step(pack(p), pack([np.ones((2, 2)), np.ones(2)]))
    assert opt.state["momentum_buffer"].flat.tolist() == [1.0] * 6
