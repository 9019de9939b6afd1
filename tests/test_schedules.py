"""Learning-rate schedules as callbacks."""

import numpy as np
import pytest

from wgangp import WGANGP, Adam
from wgangp.errors import InvalidParameterError, InvalidParameterTypeError
from wgangp.schedules import ExponentialDecay


def test_exponential_decay_factor_holds_then_decays_geometrically():
    decay = ExponentialDecay(start=10, stop=20, final=0.01)
    assert decay.factor(0) == 1.0
    assert decay.factor(10) == 1.0
    assert decay.factor(15) == pytest.approx(0.1)
    assert decay.factor(20) == pytest.approx(0.01)
    assert decay.factor(99) == pytest.approx(0.01)


def _data():
    return np.random.default_rng(0).normal(size=(64, 2))


def test_exponential_decay_sets_both_optimizers_lr():
    model = WGANGP(hidden=8, depth=1, batch_size=32, lr=1e-3, random_state=0)
    model.fit(_data(), steps=3, callbacks=[ExponentialDecay(start=1, stop=3, final=0.25)])
    assert model.critic_optimizer_.lr == pytest.approx(2.5e-4)
    assert model.generator_optimizer_.lr == pytest.approx(2.5e-4)


def test_exponential_decay_resumed_run_follows_the_same_schedule():
    decay = ExponentialDecay(start=2, stop=6, final=0.1)
    whole = WGANGP(hidden=8, depth=1, batch_size=32, lr=1e-3, random_state=0)
    whole.fit(_data(), steps=6, callbacks=[decay])
    parts = WGANGP(hidden=8, depth=1, batch_size=32, lr=1e-3, random_state=0)
    parts.fit(_data(), steps=3, callbacks=[decay])
    parts.partial_fit(_data(), steps=3, callbacks=[decay])
    for a, b in zip(whole.generator_.params, parts.generator_.params):
        np.testing.assert_array_equal(a, b)


def test_exponential_decay_uses_an_optimizer_instance_rate():
    model = WGANGP(hidden=8, depth=1, batch_size=32, optimizer=Adam(lr=2e-3), random_state=0)
    model.fit(_data(), steps=2, callbacks=[ExponentialDecay(start=0, stop=2, final=0.5)])
    assert model.critic_optimizer_.lr == pytest.approx(1e-3)


@pytest.mark.parametrize(
    "kwargs, error",
    [
        ({"start": 5, "stop": 5, "final": 0.1}, InvalidParameterError),
        ({"start": -1, "stop": 5, "final": 0.1}, InvalidParameterError),
        ({"start": 0, "stop": 5, "final": 0.0}, InvalidParameterError),
        ({"start": 0, "stop": 5, "final": 1.5}, InvalidParameterError),
        ({"start": 0.5, "stop": 5, "final": 0.1}, InvalidParameterTypeError),
        ({"start": 0, "stop": 5, "final": "x"}, InvalidParameterTypeError),
    ],
)
def test_exponential_decay_rejects_bad_settings(kwargs, error):
    with pytest.raises(error):
        ExponentialDecay(**kwargs)
