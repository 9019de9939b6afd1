"""steps: a critic or generator step with reused work arrays is the step without them."""

import numpy as np
import pytest

from wgangp.flat import Scratch
from wgangp.nn import MLP
from wgangp.optim import get_optimizer
from wgangp.steps import critic_step, generator_step


def _setup(activation):
    gen = MLP([2, 16, 16, 2], activation, random_state=0, dtype=np.float32)
    critic = MLP([2, 16, 16, 1], activation, random_state=1, dtype=np.float32)
    return gen, critic, get_optimizer("rmsprop", 1e-3), get_optimizer("rmsprop", 1e-3)


@pytest.mark.parametrize("activation", ["relu", "leaky_relu", "tanh"])
def test_steps_with_scratch_give_the_same_model_bit_for_bit(activation):
    """Several iterations: a reused array that still held an older step's values
    anywhere they are read would change the numbers."""
    X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    runs = []
    for scratches in (None, {"critic": Scratch(), "generator": Scratch()}):
        gen, critic, opt_g, opt_c = _setup(activation)
        rng = np.random.default_rng(3)
        records = []
        for _ in range(4):
            for _ in range(3):
                x_real = X[rng.permutation(64)[:32]]
                scratch = scratches and scratches["critic"]
                stats = critic_step(
                    gen, critic, opt_c, x_real, rng, 10.0, "two-sided", scratch=scratch
                )
                records.append(stats["loss"])
            scratch = scratches and scratches["generator"]
            records.append(generator_step(gen, critic, opt_g, 32, rng, scratch=scratch))
        runs.append((records, gen.flat.copy(), critic.flat.copy()))
    (rec_a, gen_a, critic_a), (rec_b, gen_b, critic_b) = runs
    assert rec_a == rec_b
    np.testing.assert_array_equal(gen_a, gen_b)
    np.testing.assert_array_equal(critic_a, critic_b)


def test_a_step_with_scratch_allocates_no_new_work_arrays_after_the_first():
    gen, critic, _, opt_c = _setup("relu")
    rng = np.random.default_rng(0)
    x_real = rng.normal(size=(32, 2)).astype(np.float32)
    scratch = Scratch()
    critic_step(gen, critic, opt_c, x_real, rng, 10.0, "two-sided", scratch=scratch)
    held = [id(a) for a in scratch._arrays]
    critic_step(gen, critic, opt_c, x_real, rng, 10.0, "two-sided", scratch=scratch)
    assert [id(a) for a in scratch._arrays] == held and len(held) > 10
