"""losses: critic and generator gradients against central finite differences (float64)."""

import numpy as np
import pytest

from conftest import far_from_kinks, max_relative_error, numerical_grads, randomize_biases
from wgangp.errors import InvalidParameterError
from wgangp.losses import critic_loss, generator_loss
from wgangp.nn import MLP

ACTIVATIONS = ["relu", "leaky_relu", "tanh", "softplus", "identity"]

# (activation, depth, width, input dim): every activation at depths 1-4,
# odd widths, input dims 1-8.
CASES = [
    (act, depth, 3 + 2 * ((depth + i) % 3), 1 + (3 * i + 2 * depth) % 8)
    for i, act in enumerate(ACTIVATIONS)
    for depth in (1, 2, 3, 4)
]


def _critic_case(activation, depth, width, in_dim, seed):
    rng = np.random.default_rng(seed)
    batch = 6
    for _ in range(100):  # redraw until no pre-activation sits at ReLU's kink
        critic = MLP(
            [in_dim] + [width] * depth + [1], activation, random_state=rng, dtype=np.float64
        )
        randomize_biases(critic, rng)
        x_real = rng.normal(size=(batch, in_dim))
        x_fake = rng.normal(loc=0.5, size=(batch, in_dim))
        alpha = rng.random(batch)
        x_interp = alpha[:, None] * x_real + (1 - alpha[:, None]) * x_fake
        if far_from_kinks(critic, np.concatenate([x_real, x_fake, x_interp]), margin=1e-3):
            break
    return critic, x_real, x_fake, alpha


@pytest.mark.parametrize("penalty", ["two-sided", "one-sided"])
@pytest.mark.parametrize("activation,depth,width,in_dim", CASES)
def test_critic_loss_gradient_matches_finite_differences(activation, depth, width, in_dim, penalty):
    critic, x_real, x_fake, alpha = _critic_case(activation, depth, width, in_dim, seed=depth)
    x_interp = alpha[:, None] * x_real + (1 - alpha[:, None]) * x_fake
    assert far_from_kinks(critic, np.concatenate([x_real, x_fake, x_interp]))

    def loss():
        return critic_loss(critic, x_real, x_fake, alpha, 10.0, penalty)[0]

    value, grads, stats = critic_loss(critic, x_real, x_fake, alpha, 10.0, penalty)
    assert value == pytest.approx(-stats["wasserstein"] + stats["penalty"])
    grads = [g.copy() for g in grads]  # the finite differences below reuse the buffer
    err = max_relative_error(grads, numerical_grads(loss, critic.params))
    assert err < 1e-5, err


def test_one_sided_penalty_ignores_norms_below_one():
    critic, x_real, x_fake, alpha = _critic_case("relu", 2, 5, 3, seed=0)
    for p in critic.params[::2]:
        p *= 1e-3  # every input-gradient norm far below 1
    _, _, one = critic_loss(critic, x_real, x_fake, alpha, 10.0, "one-sided")
    _, _, two = critic_loss(critic, x_real, x_fake, alpha, 10.0, "two-sided")
    assert one["grad_norm_max"] < 1
    assert one["penalty"] == 0.0 and two["penalty"] > 9.0


def test_penalty_term_is_lambda_times_mean_squared_deviation():
    critic, x_real, x_fake, alpha = _critic_case("tanh", 2, 5, 3, seed=1)
    x_interp = alpha[:, None] * x_real + (1 - alpha[:, None]) * x_fake
    norms = np.linalg.norm(critic.input_gradient(x_interp), axis=1)
    _, _, stats = critic_loss(critic, x_real, x_fake, alpha, 7.0)
    assert stats["penalty"] == pytest.approx(7.0 * np.mean((norms - 1) ** 2))
    assert stats["grad_norm_min"] == pytest.approx(norms.min())
    assert stats["grad_norm_max"] == pytest.approx(norms.max())
    assert stats["wasserstein"] == pytest.approx(critic(x_real).mean() - critic(x_fake).mean())


def test_zero_input_gradient_is_guarded():
    critic, x_real, x_fake, alpha = _critic_case("relu", 1, 3, 2, seed=2)
    for p in critic.params:
        p[...] = 0
    loss, grads, stats = critic_loss(critic, x_real, x_fake, alpha, 10.0)
    assert stats["grad_norm_max"] == 0 and loss == pytest.approx(10.0)
    assert all(np.all(np.isfinite(g)) for g in grads)


def test_unknown_penalty_is_rejected():
    critic, x_real, x_fake, alpha = _critic_case("relu", 1, 3, 2, seed=2)
    with pytest.raises(InvalidParameterError, match="penalty='both'"):
        critic_loss(critic, x_real, x_fake, alpha, penalty="both")


@pytest.mark.parametrize("activation,depth,width,in_dim", CASES[::2])
@pytest.mark.parametrize("output", ["identity", "tanh"])
def test_generator_loss_gradient_flows_through_the_critic(activation, depth, width, in_dim, output):
    rng = np.random.default_rng(depth)
    latent, data_dim = 1 + depth, in_dim
    for _ in range(100):
        gen = MLP(
            [latent] + [width] * depth + [data_dim],
            activation,
            output,
            random_state=rng,
            dtype=np.float64,
        )
        critic = MLP([data_dim, 7, 5, 1], activation, random_state=rng, dtype=np.float64)
        randomize_biases(gen, rng)
        randomize_biases(critic, rng)
        z = rng.normal(size=(5, latent))
        if far_from_kinks(gen, z, 1e-3) and far_from_kinks(critic, gen(z), 1e-3):
            break
    assert far_from_kinks(gen, z) and far_from_kinks(critic, gen(z))
    critic_before = [p.copy() for p in critic.params]

    loss, grads = generator_loss(gen, critic, z)
    assert loss == pytest.approx(-critic(gen(z)).mean())
    grads = [g.copy() for g in grads]  # the finite differences below reuse the buffer
    numeric = numerical_grads(lambda: generator_loss(gen, critic, z)[0], gen.params)
    assert max_relative_error(grads, numeric) < 1e-5
    assert all(np.array_equal(a, b) for a, b in zip(critic_before, critic.params))


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_float32_agrees_with_float64(activation):
    critic64, x_real, x_fake, alpha = _critic_case(activation, 3, 33, 4, seed=5)
    critic32 = critic64.astype(np.float32)
    f32 = [a.astype(np.float32) for a in (x_real, x_fake, alpha)]
    loss64, grads64, _ = critic_loss(critic64, x_real, x_fake, alpha)
    loss32, grads32, _ = critic_loss(critic32, *f32)
    assert all(g.dtype == np.float32 for g in grads32)
    assert loss32 == pytest.approx(loss64, rel=1e-4)
    for g32, g64 in zip(grads32, grads64):
        scale = np.abs(g64).max()
        assert np.abs(g32 - g64).max() <= 1e-4 * scale + 1e-6

    gen64 = MLP([2, 33, 33, 4], activation, random_state=6, dtype=np.float64)
    z = np.random.default_rng(0).normal(size=(16, 2))
    gl64, gg64 = generator_loss(gen64, critic64, z)
    gl32, gg32 = generator_loss(gen64.astype(np.float32), critic32, z.astype(np.float32))
    assert gl32 == pytest.approx(gl64, rel=1e-4, abs=1e-6)
    for g32, g64 in zip(gg32, gg64):
        assert np.abs(g32 - g64).max() <= 1e-4 * np.abs(g64).max() + 1e-6


# ------------------------------------------- the gradient buffer and its reuse --


def test_critic_gradients_are_views_of_the_flat_gradient_buffer():
    critic, x_real, x_fake, alpha = _critic_case("relu", 3, 5, 2, seed=3)
    _, grads, _ = critic_loss(critic, x_real, x_fake, alpha)
    assert grads is critic.grads
    assert all(np.shares_memory(g, critic.grad_flat) for g in grads)
    assert [g.shape for g in grads] == [p.shape for p in critic.params]
    np.testing.assert_array_equal(critic.grad_flat, np.concatenate([g.ravel() for g in grads]))


def test_generator_gradients_are_views_and_leave_the_critic_buffer_alone():
    gen = MLP([2, 6, 6, 2], random_state=0, dtype=np.float64)
    critic, x_real, x_fake, alpha = _critic_case("relu", 2, 5, 2, seed=4)
    _, critic_grads, _ = critic_loss(critic, x_real, x_fake, alpha)
    held = critic.grad_flat.copy()
    _, grads = generator_loss(gen, critic, np.ones((4, 2)))
    assert grads is gen.grads and all(np.shares_memory(g, gen.grad_flat) for g in grads)
    np.testing.assert_array_equal(critic.grad_flat, held)  # the critic's buffer is untouched


def test_a_second_call_overwrites_the_views_and_copies_keep_the_first_result():
    """The reuse rule: views hold the latest call's gradients; a copy keeps older ones."""
    critic, x_real, x_fake, alpha = _critic_case("tanh", 2, 5, 3, seed=5)
    _, first, _ = critic_loss(critic, x_real, x_fake, alpha)
    kept = [g.copy() for g in first]
    _, second, _ = critic_loss(critic, x_fake, x_real, 1 - alpha)  # other batch
    assert second is first  # the same buffer ...
    fresh = MLP(critic.sizes, "tanh", random_state=0, dtype=np.float64)
    fresh.params = critic.params
    _, expected, _ = critic_loss(fresh, x_fake, x_real, 1 - alpha)
    for a, b in zip(second, expected):  # ... now holding the second result, exactly
        np.testing.assert_array_equal(a, b)
    _, again, _ = critic_loss(fresh, x_real, x_fake, alpha)
    for a, b in zip(kept, again):  # and the copy still holds the first
        np.testing.assert_array_equal(a, b)
