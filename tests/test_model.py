"""model: the WGANGP estimator — training, validation, save/load, bit-exact resume."""

import json
import warnings

import numpy as np
import pytest

import wgangp
from wgangp import WGANGP, load
from wgangp.errors import (
    InvalidDataError,
    InvalidParameterError,
    InvalidParameterTypeError,
    ModelFileError,
    NotFittedError,
)

SMALL = dict(hidden=16, depth=2, batch_size=32, n_critic=2)


@pytest.fixture
def X():
    return np.random.default_rng(0).normal(size=(200, 3)) * [1.0, 5.0, 0.1] + [0, 10, -3]


def test_defaults_are_the_recipe():
    params = WGANGP().get_params()
    assert params["hidden"] == 512 and params["depth"] == 3
    assert params["activation"] == "relu" and params["init"] == "he_uniform"
    assert params["optimizer"] == "rmsprop" and params["lr"] == 1e-4
    assert params["lambda_gp"] == 10.0 and params["n_critic"] == 5
    assert params["batch_size"] == 256


def test_fit_builds_networks_of_the_requested_shape(X):
    model = WGANGP(**SMALL, latent_dim=5, random_state=0).fit(X, steps=2)
    assert model.generator_.sizes == [5, 16, 16, 3]
    assert model.critic_.sizes == [3, 16, 16, 1]
    assert model.n_iter_ == 2 and model.n_critic_steps_ == 4
    assert len(model.history_) == 2
    for key in (
        "critic_loss",
        "generator_loss",
        "wasserstein",
        "penalty",
        "grad_norm_min",
        "grad_norm_mean",
        "grad_norm_max",
        "critic_grad_norm",
        "generator_grad_norm",
    ):
        assert np.isfinite(model.history_[-1][key]), key


def test_latent_dim_is_independent_of_data_dim(X):
    model = WGANGP(**SMALL, latent_dim=11, random_state=0).fit(X, steps=1)
    assert model.sample(4).shape == (4, 3)
    assert model.generator_.sizes[0] == 11


def test_same_seed_gives_the_same_model(X):
    a = WGANGP(**SMALL, random_state=3).fit(X, steps=3)
    b = WGANGP(**SMALL, random_state=3).fit(X, steps=3)
    for p, q in zip(a.generator_.params + a.critic_.params, b.generator_.params + b.critic_.params):
        np.testing.assert_array_equal(p, q)


def test_generator_step_does_not_touch_the_critic(X, monkeypatch):
    model = WGANGP(**SMALL, random_state=0).fit(X, steps=1)
    from wgangp import steps as train

    before = [p.copy() for p in model.critic_.params]
    train.generator_step(
        model.generator_, model.critic_, model.generator_optimizer_, 32, np.random.default_rng(0)
    )
    for p, q in zip(before, model.critic_.params):
        np.testing.assert_array_equal(p, q)


def test_every_row_is_visited_each_epoch():
    X = np.arange(40, dtype=float).reshape(20, 2)
    model = WGANGP(hidden=4, depth=1, batch_size=5, n_critic=4, random_state=0)
    seen = []
    from wgangp import steps as train

    original = train.MinibatchSampler.next_indices

    def spy(self, rng):
        idx = original(self, rng)
        seen.append(idx.copy())
        return idx

    train.MinibatchSampler.next_indices = spy
    try:
        model.fit(X, steps=2)  # 8 critic steps of 5 rows = two epochs of 20 rows
    finally:
        train.MinibatchSampler.next_indices = original
    assert sorted(np.concatenate(seen[:4]).tolist()) == list(range(20))
    assert sorted(np.concatenate(seen[4:]).tolist()) == list(range(20))


def test_scaling_is_inverted_in_sample(X):
    model = WGANGP(**SMALL, random_state=0).fit(X, steps=1)
    np.testing.assert_allclose(model.scale_mean_, X.mean(0))
    s = model.sample(500, random_state=0)
    # An untrained generator outputs O(1) in scaled units; in data units the
    # second column (sd 5 around 10) must sit near 10.
    assert abs(np.median(s[:, 1]) - 10) < 10


def test_tanh_output_for_data_in_minus_one_one():
    X = np.random.default_rng(0).uniform(-1, 1, size=(100, 4))
    X[0] = -1
    X[1] = 1
    model = WGANGP(**SMALL, random_state=0).fit(X, steps=1)
    assert model.output_activation_ == "tanh"
    s = model.sample(100)
    assert s.min() >= -1 and s.max() <= 1


def test_sample_is_reproducible_and_does_not_disturb_training(X):
    a = WGANGP(**SMALL, random_state=0).fit(X, steps=2)
    b = WGANGP(**SMALL, random_state=0).fit(X, steps=2)
    np.testing.assert_array_equal(a.sample(10, random_state=1), a.sample(10, random_state=1))
    a.sample(10)
    a.partial_fit(X, steps=2)
    b.partial_fit(X, steps=2)
    np.testing.assert_array_equal(a.generator_.params[0], b.generator_.params[0])


@pytest.mark.parametrize("n", [1, 2048, 5000])
def test_sample_in_blocks_is_one_pass_over_all_rows(X, n):
    """sample draws its noise and runs the generator a block of rows at a time into
    the float64 result: the rows of one noise draw of ``n`` rows through
    ``generator_`` and the inverse scaling, bit for bit, on either side of a
    block's edge (nn.PREDICT_ROWS, 2048)."""
    model = WGANGP(**SMALL, random_state=0).fit(X, steps=2)
    z = np.random.default_rng(3).standard_normal((n, model.latent_dim_), dtype=model.dtype_)
    expected = model.generator_(z).astype(np.float64) * model.scale_std_ + model.scale_mean_
    got = model.sample(n, random_state=3)
    assert got.dtype == np.float64 and got.shape == (n, X.shape[1])
    np.testing.assert_array_equal(got, expected)


def test_score_samples_is_the_critic_value(X):
    model = WGANGP(**SMALL, random_state=0).fit(X, steps=1)
    scores = model.score_samples(X[:7])
    expected = model.critic_(model._transform(X[:7]))[:, 0]
    np.testing.assert_allclose(scores, expected)
    assert scores.shape == (7,)


# ----------------------------------------------------------------- files --


def _assert_same_state(a, b):
    for p, q in zip(a.generator_.params + a.critic_.params, b.generator_.params + b.critic_.params):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam", "adam-toy", "sgd"])
def test_save_load_round_trip(X, tmp_path, optimizer):
    model = WGANGP(**SMALL, optimizer=optimizer, random_state=0).fit(X, steps=3)
    path = model.save(tmp_path / "m.npz")
    loaded = load(path)
    _assert_same_state(model, loaded)
    assert loaded.get_params() == model.get_params()
    np.testing.assert_array_equal(model.sample(5, random_state=2), loaded.sample(5, random_state=2))
    np.testing.assert_array_equal(model.score_samples(X[:5]), loaded.score_samples(X[:5]))


@pytest.mark.parametrize("optimizer", ["rmsprop", "adam"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_resume_is_bit_exact(X, tmp_path, optimizer, dtype):
    # batch 48 of 200 rows: the interruption falls mid-epoch.
    params = dict(SMALL, batch_size=48, optimizer=optimizer, dtype=dtype, random_state=5)
    straight = WGANGP(**params).fit(X, steps=7)
    first = WGANGP(**params).fit(X, steps=3)
    first.save(tmp_path / "half.npz")
    resumed = load(tmp_path / "half.npz").partial_fit(X, steps=4)
    assert resumed.n_iter_ == 7
    _assert_same_state(straight, resumed)
    for s, r in zip(
        straight.generator_optimizer_.state_dict()[
            "square_avg" if optimizer == "rmsprop" else "exp_avg"
        ],
        resumed.generator_optimizer_.state_dict()[
            "square_avg" if optimizer == "rmsprop" else "exp_avg"
        ],
    ):
        np.testing.assert_array_equal(s, r)


def test_save_is_atomic_and_leaves_no_temporary_files(X, tmp_path):
    model = WGANGP(**SMALL, random_state=0).fit(X, steps=1)
    model.save(tmp_path / "m.npz")
    model.save(tmp_path / "m.npz")  # overwrite in place
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz"]


def test_model_file_is_loaded_without_pickle(X, tmp_path):
    model = WGANGP(**SMALL, random_state=0).fit(X, steps=1)
    path = model.save(tmp_path / "m.npz")
    with np.load(path, allow_pickle=False) as npz:
        header = json.loads(npz["header"].tobytes())
        assert all(npz[k].dtype != object for k in npz.files)
    assert header["format"] == "wgangp-model" and header["wgangp_version"] == wgangp.__version__
    assert header["fitted"]["n_iter"] == 1


def test_load_refuses_missing_and_foreign_files(tmp_path):
    with pytest.raises(ModelFileError, match="does not exist"):
        load(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip file at all")
    with pytest.raises(ModelFileError, match="cannot be read"):
        load(bad)
    np.savez(tmp_path / "other.npz", a=np.zeros(3))
    with pytest.raises(ModelFileError, match="no 'header'"):
        load(tmp_path / "other.npz")


def test_load_refuses_unknown_format_version(X, tmp_path):
    model = WGANGP(**SMALL, random_state=0).fit(X, steps=1)
    path = model.save(tmp_path / "m.npz")
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays["header"].tobytes())
    header["format_version"] = 99
    arrays["header"] = np.frombuffer(json.dumps(header).encode(), dtype=np.uint8)
    np.savez(tmp_path / "v99.npz", **arrays)
    with pytest.raises(ModelFileError, match="format_version=99"):
        load(tmp_path / "v99.npz")


# ------------------------------------------------------------ bad input --


@pytest.mark.parametrize(
    "data,error,match",
    [
        (np.array([[0.0, np.nan]] * 5), InvalidDataError, "NaN"),
        (np.array([[0.0, np.inf]] * 5), InvalidDataError, "inf"),
        (np.zeros(5), InvalidDataError, "2-D.*reshape"),
        (np.zeros((2, 3, 4)), InvalidDataError, "2-D"),
        (np.zeros((0, 3)), InvalidDataError, "0 rows"),
        (np.array([["a", "b"]] * 3), InvalidParameterTypeError, "numeric"),
        (np.array([[1, None]] * 3, dtype=object), InvalidParameterTypeError, "numeric"),
    ],
)
def test_bad_data_is_rejected_before_training(data, error, match):
    model = WGANGP(**SMALL)
    with pytest.raises(error, match=match):
        model.fit(data, steps=1)
    assert not hasattr(model, "generator_")


@pytest.mark.parametrize(
    "params,match",
    [
        (dict(n_critic=0), "n_critic=0"),
        (dict(batch_size=0), "batch_size=0"),
        (dict(batch_size=2.5), "batch_size=2.5"),
        (dict(lr=0.0), "lr=0.0"),
        (dict(lr=-1e-4), "lr=-0.0001"),
        (dict(lambda_gp=-1.0), "lambda_gp=-1.0"),
        (dict(activation="swish"), "activation='swish'"),
        (dict(optimizer="adagrad"), "optimizer='adagrad'"),
        (dict(init="zeros"), "init='zeros'"),
        (dict(penalty="both"), "penalty='both'"),
        (dict(hidden=0), "hidden=0"),
        (dict(depth=0), "depth=0"),
        (dict(latent_dim=0), "latent_dim=0"),
        (dict(scale="minmax"), "scale='minmax'"),
        (dict(output_activation="sigmoid"), "output_activation='sigmoid'"),
        (dict(dtype=np.int32), "dtype"),
        (dict(random_state="seed"), "random_state='seed'"),
    ],
)
def test_bad_hyperparameters_are_rejected_when_fit_starts(X, params, match):
    model = WGANGP(**{**SMALL, **params})  # the constructor only stores
    assert model.get_params()[next(iter(params))] is next(iter(params.values()))
    with pytest.raises((InvalidParameterError, InvalidParameterTypeError), match=match):
        model.fit(X, steps=1)
    assert not hasattr(model, "generator_")


@pytest.mark.parametrize("steps", [0, -3, 1.5])
def test_bad_steps_are_rejected(X, steps):
    with pytest.raises((InvalidParameterError, InvalidParameterTypeError), match="steps="):
        WGANGP(**SMALL).fit(X, steps=steps)


def test_batch_larger_than_data_is_clipped_with_a_warning():
    X = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.warns(UserWarning, match="batch_size=256 is larger than the 10 rows"):
        model = WGANGP(hidden=8, depth=1, random_state=0).fit(X, steps=1)
    assert model._sampler.batch_size == 10


def test_unfitted_model_says_call_fit_first(X):
    with pytest.raises(NotFittedError, match="call fit"):
        WGANGP().sample(3)
    with pytest.raises(NotFittedError, match="call fit"):
        WGANGP().score_samples(X)
    with pytest.raises(NotFittedError, match="call fit"):
        WGANGP().save("x.npz")


def test_wrong_column_count_after_fit_is_rejected(X):
    model = WGANGP(**SMALL, random_state=0).fit(X, steps=1)
    with pytest.raises(InvalidDataError, match="has 2 columns but the model was fitted on 3"):
        model.partial_fit(X[:, :2])


def test_set_params_rejects_unknown_names():
    with pytest.raises(InvalidParameterError, match="'hiden' is not a parameter"):
        WGANGP().set_params(hiden=3)
    assert WGANGP().set_params(hidden=3).hidden == 3


def test_no_warning_for_normal_use(X):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        WGANGP(**SMALL, random_state=0).fit(X, steps=2).sample(3)


def test_constant_column_stays_finite():
    X = np.random.default_rng(0).normal(size=(64, 2))
    X[:, 1] = 4.0
    model = WGANGP(**SMALL, random_state=0).fit(X, steps=2)
    assert np.all(np.isfinite(model.sample(5)))


def test_flat_parameter_buffers_survive_save_and_load(tmp_path):
    X = np.random.default_rng(0).normal(size=(64, 2))
    model = wgangp.WGANGP(hidden=8, depth=2, batch_size=16, random_state=0).fit(X, steps=2)
    loaded = wgangp.load(model.save(tmp_path / "m.npz"))
    for net, other in ((model.critic_, loaded.critic_), (model.generator_, loaded.generator_)):
        np.testing.assert_array_equal(net.flat, other.flat)
        assert all(np.shares_memory(p, other.flat) for p in other.params)
    loaded.partial_fit(X, steps=1)  # trains in place, through the views
    assert all(np.shares_memory(p, loaded.critic_.flat) for p in loaded.critic_.params)
