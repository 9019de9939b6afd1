"""Toy presets: each one builds a valid estimator and schedule; nothing is trained."""

import pytest

from wgangp import WGANGP
from wgangp.errors import InvalidParameterError
from wgangp.presets import TOY_GOALS, TOY_PRESETS, build_preset, get_preset, split_preset
from wgangp.schedules import ExponentialDecay


@pytest.mark.parametrize("name", sorted(TOY_PRESETS))
def test_preset_params_construct_a_valid_estimator(name):
    params, steps, callbacks = split_preset(get_preset(name))
    WGANGP(**params)._validate_params()
    assert steps >= 1
    assert all(isinstance(cb, ExponentialDecay) for cb in callbacks)


@pytest.mark.parametrize("name", sorted(TOY_PRESETS))
def test_preset_schedule_ends_within_the_steps(name):
    decay = get_preset(name)["lr_decay"]
    assert decay is None or decay["stop"] <= get_preset(name)["steps"]


def test_presets_cover_the_goal_sets():
    assert set(TOY_GOALS) <= set(TOY_PRESETS)


def test_get_preset_returns_a_copy():
    preset = get_preset("8gaussians")
    preset["hidden"] = -1
    preset["lr_decay"]["final"] = 0.5
    assert TOY_PRESETS["8gaussians"]["hidden"] != -1
    assert TOY_PRESETS["8gaussians"]["lr_decay"]["final"] != 0.5


def test_get_preset_unknown_name_raises():
    with pytest.raises(InvalidParameterError, match="no preset"):
        get_preset("moons")


def test_build_preset_seeds_the_model():
    model, steps, _ = build_preset("25gaussians", random_state=3)
    assert model.random_state == 3
    assert steps == TOY_PRESETS["25gaussians"]["steps"]
