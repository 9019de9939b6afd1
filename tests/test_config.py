"""Run configurations: the parameter table, validation, layering, and the TOML round trip."""

from __future__ import annotations

import inspect
import sys

import numpy as np
import pytest

from wgangp import WGANGP, config
from wgangp.config import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def test_model_params_list_every_estimator_parameter_in_order():
    names = [p for p in inspect.signature(WGANGP.__init__).parameters if p != "self"]
    assert list(config.MODEL_PARAMS) + ["random_state", "threads"] == names
    assert list(WGANGP.PARAMS) == names  # the estimator's own table, in order


def test_defaults_build_the_estimators_defaults():
    params = config.estimator_params(config.resolve({"data": "8gaussians"}))
    built = WGANGP(**params).get_params()
    reference = WGANGP(random_state=0).get_params()
    reference["dtype"] = np.dtype(reference["dtype"]).name
    assert built == reference


def test_dumps_then_loads_round_trips_every_value():
    cfg = config.resolve(
        {
            "data": 'C:\\data\\"odd" näme\x7f.csv',
            "steps": 7,
            "checkpoint_every": 3,
            "report": False,
            "model": {"lr": 2.5e-05, "latent_dim": 4, "scale": "none", "dtype": "float64"},
        }
    )
    text = config.dumps(cfg, header="a header\nof two lines")
    assert tomllib.loads(text)["data"] == cfg["data"]
    assert config.loads(text) == cfg


def test_later_layers_win_and_none_leaves_the_lower_value():
    cfg = config.resolve(
        {"steps": 5, "model": {"hidden": 8, "lr": 0.01}},
        {"steps": None, "model": {"hidden": 12, "lr": None}},
    )
    assert (cfg["steps"], cfg["model"]["hidden"], cfg["model"]["lr"]) == (5, 12, 0.01)


@pytest.mark.parametrize(
    "layer, message",
    [
        ({"stpes": 5}, "unknown key 'stpes' at the top level; did you mean 'steps'?"),
        ({"hidden": 5}, "'hidden' is a model parameter; put it under the [model] table"),
        ({"model": {"hiden": 5}}, "unknown key 'hiden' in [model]; did you mean 'hidden'?"),
        ({"model": {"hidden": "64"}}, "model.hidden='64' must be an integer"),
        ({"model": {"hidden": True}}, "model.hidden=True must be an integer"),
        ({"model": {"hidden": 0}}, "model.hidden=0 is not allowed; it must be an integer >= 1"),
        ({"model": {"lr": 0}}, "model.lr=0.0 is not allowed; it must be a finite number > 0"),
        ({"model": {"optimizer": "adamw"}}, "choose one of 'rmsprop', 'adam', 'adam-toy', 'sgd'"),
        ({"model": {"latent_dim": "big"}}, "must be an integer >= 1 or 'auto'"),
        ({"report": "yes"}, "report='yes' must be true or false"),
        ({"model": 3}, "model must be a table"),
    ],
)
def test_bad_keys_and_values_name_the_key_and_what_is_allowed(layer, message):
    with pytest.raises(ConfigError) as info:
        config.resolve(layer)
    assert message in str(info.value)


def test_invalid_toml_is_a_config_error_naming_the_source():
    with pytest.raises(ConfigError, match=r"run\.toml is not valid TOML"):
        config.loads("steps = = 3", source="run.toml")


def test_load_names_the_file_and_resolves_data_relative_to_it(tmp_path):
    folder = tmp_path / "project"
    folder.mkdir()
    path = folder / "run.toml"
    path.write_text('data = "sets/x.csv"\nsteps = 3\n', encoding="utf-8")
    assert config.load(path)["data"] == str((folder / "sets" / "x.csv").resolve())
    path.write_text('data = "8gaussians"\n[model]\nhiden = 3\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"run\.toml: unknown key 'hiden'"):
        config.load(path)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        config.load(folder / "missing.toml")


def test_checkpoint_period_auto_is_a_tenth_of_the_steps():
    assert config.checkpoint_period(config.resolve({"steps": 250})) == 25
    assert config.checkpoint_period(config.resolve({"steps": 5})) == 1
    assert config.checkpoint_period(config.resolve({"checkpoint_every": 7})) == 7


def test_write_is_atomic_and_reproducible(tmp_path):
    cfg = config.resolve({"data": "25gaussians", "seed": 3})
    path = config.write(cfg, tmp_path / "run" / "config.toml", command="wgangp train ...")
    assert config.load(path) == cfg
    assert [p.name for p in path.parent.iterdir()] == ["config.toml"]
