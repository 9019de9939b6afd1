"""Schedules as callbacks: the learning rate, and any live parameter."""

import numpy as np
import pytest

from wgangp import WGANGP, Adam, Translator, load
from wgangp.errors import InvalidParameterError, InvalidParameterTypeError
from wgangp.schedules import ExponentialDecay, ParamSchedule
from wgangp.tabular import TabularSynthesizer


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


def test_exponential_decay_from_text_reads_the_command_lines_form():
    decay = ExponentialDecay.from_text("6000:9000:0.1")
    assert (decay.start, decay.stop, decay.final) == (6000, 9000, 0.1)
    for text, match in (
        ("5:9", "START:STOP:FINAL"),
        ("a:9:0.1", "START:STOP:FINAL"),
        ("9:5:0.1", "need 0 <= start < stop"),
        ("1:5:2", r"must lie in \(0, 1\]"),
    ):
        with pytest.raises(InvalidParameterError, match=match) as caught:
            ExponentialDecay.from_text(text)
        assert repr(text) in str(caught.value)  # the text given is named


def test_exponential_decay_sets_every_optimizer_of_a_translator():
    rng = np.random.default_rng(1)
    model = Translator(hidden=8, depth=1, batch_size=16, lr=1e-3, random_state=0)
    model.fit(
        rng.normal(size=(32, 2)),
        rng.normal(size=(32, 2)),
        steps=2,
        callbacks=[ExponentialDecay(start=0, stop=2, final=0.5)],
    )
    assert [opt.lr for opt in model.optimizers().values()] == [pytest.approx(5e-4)] * 4


# ----------------------------------------------------------- ParamSchedule --


def test_param_schedule_is_piecewise_linear_and_flat_outside_its_points():
    schedule = ParamSchedule("lambda_cycle", [(10, 1.0), (20, 3.0), (40, 0.0)])
    assert [schedule.value(t) for t in (0, 10, 15, 20, 30, 40, 99)] == [
        1.0,
        1.0,
        2.0,
        3.0,
        1.5,
        0.0,
        0.0,
    ]
    assert ParamSchedule("lr", [(5, 2e-4)]).value(0) == 2e-4


def _domains():
    rng = np.random.default_rng(2)
    return rng.normal(size=(48, 3)), rng.normal(loc=2.0, size=(40, 3))


def _translator(**kw):
    return Translator(hidden=8, depth=1, batch_size=16, random_state=0, dtype=np.float64, **kw)


def _same(a, b):
    for net_a, net_b in zip(a.networks().values(), b.networks().values()):
        np.testing.assert_array_equal(net_a.flat, net_b.flat)


def test_a_scheduled_cycle_weight_reaches_the_running_fit():
    """A schedule that switches lambda_cycle after 3 iterations trains exactly like
    3 iterations, set_params, then 2 more: the value reaches the loop mid-fit."""
    A, B = _domains()
    scheduled = _translator().fit(
        A, B, steps=5, callbacks=[ParamSchedule("lambda_cycle", [(2, 10.0), (3, 40.0)])]
    )
    by_hand = _translator().fit(A, B, steps=3)
    by_hand.set_params(lambda_cycle=40.0).partial_fit(A, B, steps=2)
    _same(scheduled, by_hand)
    assert scheduled.lambda_cycle == 40.0
    unscheduled = _translator().fit(A, B, steps=5)
    assert not np.array_equal(unscheduled.generator_ab_.flat, scheduled.generator_ab_.flat)


def test_a_scheduled_fit_saved_midway_continues_bit_for_bit(tmp_path):
    A, B = _domains()
    schedule = ParamSchedule("lambda_cycle", [(1, 10.0), (5, 50.0)])
    whole = _translator().fit(A, B, steps=6, callbacks=[schedule])
    half = _translator().fit(A, B, steps=3, callbacks=[schedule])
    half.save(tmp_path / "half.wgangp")
    resumed = load(tmp_path / "half.wgangp")
    assert resumed.lambda_cycle == pytest.approx(30.0)  # recorded in the file
    resumed.partial_fit(A, B, steps=3, callbacks=[schedule])
    _same(whole, resumed)


def test_param_schedule_rounds_an_integer_parameter():
    model = WGANGP(hidden=8, depth=1, batch_size=32, random_state=0)
    model.fit(_data(), steps=3, callbacks=[ParamSchedule("n_critic", [(0, 5), (4, 1)])])
    assert model.n_critic == 2  # 5 - 4 * 3/4 = 2
    assert model.n_critic_steps_ == 5 + 4 + 3


def test_param_schedule_sets_a_synthesizer_temperature():
    import pandas as pd

    rng = np.random.default_rng(0)
    table = pd.DataFrame({"x": rng.normal(size=60), "c": rng.choice(["a", "b"], 60)})
    model = TabularSynthesizer(hidden=8, batch_size=20, pac=1, random_state=0)
    model.fit(table, steps=2, callbacks=[ParamSchedule("tau", [(0, 0.2), (2, 1.0)])])
    assert model.tau == pytest.approx(1.0)


@pytest.mark.parametrize(
    "param, points, error, match",
    [
        ("hidden", [(0, 16)], InvalidParameterError, "cannot change during training"),
        ("lambda_cycle", [(0, -1.0)], InvalidParameterError, "lambda_cycle"),
    ],
)
def test_param_schedule_refuses_what_cannot_change(param, points, error, match):
    A, B = _domains()
    with pytest.raises(error, match=match):
        _translator().fit(A, B, steps=1, callbacks=[ParamSchedule(param, points)])


@pytest.mark.parametrize(
    "points, error",
    [
        ([], InvalidParameterError),
        ([(3, 1.0), (3, 2.0)], InvalidParameterError),
        ([(-1, 1.0)], InvalidParameterError),
        ([(0.5, 1.0)], InvalidParameterTypeError),
        ([(0, "x")], InvalidParameterTypeError),
        ([(0, True)], InvalidParameterTypeError),
        ("ab", InvalidParameterTypeError),
        (5, InvalidParameterTypeError),
    ],
)
def test_param_schedule_rejects_bad_points(points, error):
    with pytest.raises(error):
        ParamSchedule("lambda_cycle", points)
