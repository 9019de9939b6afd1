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
def test_steps_with_scratch_give_the_same_model_bit_for_bit(activation, monkeypatch):
    """Several iterations: a reused array that still held an older step's values
    anywhere they are read would change the numbers; so would two packed work
    arrays that overlap (every set is packed here, however small)."""
    from wgangp import flat

    monkeypatch.setattr(flat, "PACK_BYTES", 0)
    X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    runs = []
    packing = {"critic": Scratch(pack=True), "generator": Scratch(pack=True)}
    for scratches in (None, {"critic": Scratch(), "generator": Scratch()}, packing):
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
    (rec_a, gen_a, critic_a) = runs[0]
    for rec_b, gen_b, critic_b in runs[1:]:
        assert rec_a == rec_b
        np.testing.assert_array_equal(gen_a, gen_b)
        np.testing.assert_array_equal(critic_a, critic_b)
    assert all(_packed_once(s) for s in packing.values())


def _packed_once(scratch: Scratch) -> bool:
    """Whether the scratch's arrays are views of one block."""
    bases = set()
    for a in scratch._arrays:
        while a.base is not None:
            a = a.base
        bases.add(id(a))
    return len(bases) == 1


def test_a_step_with_scratch_allocates_no_new_work_arrays_after_the_first():
    gen, critic, _, opt_c = _setup("relu")
    rng = np.random.default_rng(0)
    x_real = rng.normal(size=(32, 2)).astype(np.float32)
    scratch = Scratch()
    critic_step(gen, critic, opt_c, x_real, rng, 10.0, "two-sided", scratch=scratch)
    held = [id(a) for a in scratch._arrays]
    critic_step(gen, critic, opt_c, x_real, rng, 10.0, "two-sided", scratch=scratch)
    assert [id(a) for a in scratch._arrays] == held and len(held) > 10


def test_a_critic_loss_without_statistics_is_the_same_gradient():
    from wgangp.losses import critic_loss

    rng = np.random.default_rng(3)
    critic = MLP([3, 16, 16, 1], random_state=1, dtype=np.float64)
    x_r, x_f, alpha = rng.normal(size=(12, 3)), rng.normal(size=(12, 3)), rng.random(12)
    loss, grads, stats = critic_loss(critic, x_r, x_f, alpha)
    full = [g.copy() for g in grads]
    bare = critic_loss(critic, x_r, x_f, alpha, statistics=False)
    assert bare[0] is None and bare[2] == {} and loss is not None and "grad_norm_mean" in stats
    assert all(np.array_equal(a, b) for a, b in zip(full, bare[1], strict=True))


def _estimators():
    import pandas as pd

    from wgangp import WGANGP, Translator
    from wgangp.tabular import TabularSynthesizer

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    A, B = rng.normal(size=(80, 3)), rng.normal(loc=1.0, size=(80, 3))
    frame = pd.DataFrame(
        {"x": rng.normal(size=120), "c": rng.choice(["a", "b", "c"], 120), "y": rng.random(120)}
    )
    small = dict(hidden=16, depth=1, critic_hidden=16, critic_depth=1, latent_dim=8)
    return {
        "wgangp": (lambda: WGANGP(hidden=16, batch_size=32, random_state=0), (X,), 1),
        "translator": (lambda: Translator(hidden=8, batch_size=16, random_state=0), (A, B), 2),
        "tabular": (
            lambda: TabularSynthesizer(random_state=0, batch_size=20, pac=1, n_critic=3, **small),
            (frame,),
            1,
        ),
    }


@pytest.mark.parametrize("name", ["wgangp", "translator", "tabular"])
def test_only_the_last_critic_step_of_an_iteration_computes_statistics(monkeypatch, name):
    """The record of an iteration is its last critic step's: computing every step's
    statistics (as before) gives the same history and model, bit for bit; the
    estimator asks for them once per critic and iteration."""
    import wgangp.losses
    import wgangp.tabular.heads

    make, data, critics = _estimators()[name]
    original = wgangp.losses.critic_loss
    asked = []

    def counting(*args, statistics=True, **kwargs):
        asked.append(statistics)
        return original(*args, statistics=statistics, **kwargs)

    def always(*args, statistics=True, **kwargs):
        return original(*args, **kwargs)

    runs = {}
    for label, patch in (("each step", always), ("last step", counting)):
        monkeypatch.setattr(wgangp.losses, "critic_loss", patch)
        monkeypatch.setattr(wgangp.tabular.heads, "critic_loss", patch)
        model = make().fit(*data, steps=4)
        runs[label] = model
    n_critic = runs["last step"].n_critic
    assert n_critic > 1 and sum(asked) == 4 * critics and len(asked) == 4 * n_critic * critics
    old, new = runs["each step"], runs["last step"]
    assert all(np.array_equal(a, b) for a, b in zip(old.state_arrays(), new.state_arrays()))
    assert old.history_.keys == new.history_.keys
    timed = ("seconds", "elapsed")
    for key in [k for k in old.history_.keys if k not in timed]:
        assert np.array_equal(old.history_.column(key), new.history_.column(key)), key
    assert np.isfinite(new.history_.column("critic_loss")).all()


@pytest.mark.parametrize("name", ["wgangp", "translator", "tabular"])
def test_every_estimator_reuses_its_steps_work_arrays_with_the_same_numbers(monkeypatch, name):
    """Each estimator's training steps take their work arrays from the estimator's
    scratches (packed, however small, so the layout changes too), and continuing
    allocates none: the model and the history are those of fresh arrays at every
    step, bit for bit (an array read after its step was over would differ)."""
    from wgangp import flat, train

    make, data, _ = _estimators()[name]
    monkeypatch.setattr(flat, "PACK_BYTES", 0)
    reused = make().fit(*data, steps=2)
    scratches = reused._scratches
    assert scratches and all(s._arrays for s in scratches.values())
    held = {key: [id(a) for a in s._arrays] for key, s in scratches.items()}
    reused.partial_fit(*data, steps=2)
    assert {key: [id(a) for a in s._arrays] for key, s in scratches.items()} == held

    monkeypatch.setattr(train.Estimator, "_step_scratch", lambda self, step: flat.Scratch())
    fresh = make().fit(*data, steps=2).partial_fit(*data, steps=2)
    assert all(np.array_equal(a, b) for a, b in zip(fresh.state_arrays(), reused.state_arrays()))
    for key in [k for k in fresh.history_.keys if k not in ("seconds", "elapsed")]:
        assert np.array_equal(fresh.history_.column(key), reused.history_.column(key)), key
