"""Bad input through the Python API: each is refused at the boundary, clearly.

Every case asserts the exception type, that the message names the argument and
the problem, and that the exception was raised by wgangp's own validation (the
innermost frame of its traceback lies in the wgangp package, not deep inside
NumPy or the standard library). Warnings are errors in this suite, so a NumPy
RuntimeWarning on the way to NaN output fails a case too.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import wgangp
from wgangp import WGANGP, Callback, load
from wgangp.data import load_csv
from wgangp.errors import (
    InvalidDataError,
    InvalidParameterError,
    InvalidParameterTypeError,
    ModelFileError,
    NotFittedError,
    TrainingDiverged,
)

PACKAGE_DIR = Path(wgangp.__file__).resolve().parent
SMALL = dict(hidden=8, depth=1, batch_size=16, n_critic=1)


def _raised_in_wgangp(excinfo) -> bool:
    """True when the innermost frame that raised lies in the wgangp package."""
    frame = excinfo.traceback[-1]
    return PACKAGE_DIR in Path(str(frame.path)).resolve().parents


def check_refused(call, error, match):
    with pytest.raises(error, match=match) as excinfo:
        call()
    assert _raised_in_wgangp(excinfo), f"raised deep inside: {excinfo.traceback[-1]}"
    return excinfo


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(40, 3))


@pytest.fixture(scope="module")
def fitted(X):
    return WGANGP(**SMALL, random_state=0).fit(X, steps=1)


# ------------------------------------------------------------ training data --

BAD_DATA = {
    "nan": (lambda: np.array([[0.0, np.nan]] * 20), InvalidDataError, r"X contains NaN.*row 0"),
    "inf": (lambda: np.array([[0.0, np.inf]] * 20), InvalidDataError, r"X contains inf"),
    "minus-inf": (lambda: np.array([[-np.inf, 0.0]] * 20), InvalidDataError, r"X contains inf"),
    "1-D": (lambda: np.zeros(20), InvalidDataError, r"X must be 2-D.*1-D.*reshape\(-1, 1\)"),
    "3-D": (lambda: np.zeros((4, 5, 2)), InvalidDataError, r"X must be 2-D.*3-D"),
    "0-D": (lambda: 3.0, InvalidDataError, r"X must be 2-D.*0-D"),
    "no rows": (lambda: np.zeros((0, 3)), InvalidDataError, r"X has 0 rows"),
    "no columns": (lambda: np.zeros((5, 0)), InvalidDataError, r"X has 0 columns"),
    "one row": (lambda: np.ones((1, 3)), InvalidDataError, r"X has 1 row; at least 2 rows"),
    "object": (
        lambda: np.array([[1.0, None]] * 20, dtype=object),
        InvalidParameterTypeError,
        r"X has dtype object; it must be numeric",
    ),
    "strings": (
        lambda: np.array([["a", "b"]] * 20),
        InvalidParameterTypeError,
        r"X has dtype <U1; it must be numeric",
    ),
    "complex": (
        lambda: np.ones((20, 2)) + 1j,
        InvalidParameterTypeError,
        r"X has complex dtype",
    ),
    "datetime": (
        lambda: np.array([["2020-01-01"]] * 20, dtype="datetime64[D]"),
        InvalidParameterTypeError,
        r"X has dtype datetime64\[D\]; it must be numeric",
    ),
    "ragged": (lambda: [[1.0, 2.0], [3.0]], InvalidDataError, r"X cannot be read as an array"),
    "None": (lambda: None, InvalidParameterTypeError, r"X has dtype object"),
    "masked": (
        lambda: np.ma.masked_array(np.ones((20, 2)), mask=[[0, 1]] + [[0, 0]] * 19),
        InvalidDataError,
        r"X is a masked array with masked",
    ),
    "huge values": (
        lambda: np.vstack([[1e200, 0.0], [-1e200, 1.0]] * 10),
        InvalidDataError,
        r"X column 0 has values as large as 1e\+200.*overflows.*rescale",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_DATA))
def test_bad_training_data_is_refused_before_any_training(case):
    make, error, match = BAD_DATA[case]
    model = WGANGP(**SMALL, random_state=0)
    check_refused(lambda: model.fit(make(), steps=1), error, match)
    assert not hasattr(model, "generator_")


def test_values_beyond_float32_without_scaling_are_refused():
    X = np.vstack([[1e39, 0.0], [-1e39, 1.0]] * 10)
    check_refused(
        lambda: WGANGP(**SMALL, scale=None).fit(X, steps=1),
        InvalidDataError,
        r"X column 0 has values as large as 1e\+39.*float32",
    )


def test_the_overflow_check_computes_the_moments_only_near_the_limit(monkeypatch):
    """A bound from each column's largest value spares ordinary data the two
    passes of the unscaled mean and deviation; near the limit they are computed."""
    from wgangp import model as model_module

    units = []

    def recording(X, unit=1.0, **kwargs):
        units.append(unit)
        return model_module.mean_std.__wrapped__(X, unit, **kwargs)

    recording.__wrapped__ = model_module.mean_std
    monkeypatch.setattr(model_module, "mean_std", recording)
    ordinary = np.vstack([[1.0, 0.0], [-1.0, 3.0]] * 10)
    WGANGP(**SMALL, random_state=0).fit(ordinary, steps=1)
    assert units and all(np.ndim(u) == 1 for u in units)  # only the scaling's, in units
    units.clear()
    near = np.vstack([[1e153, 0.0], [-1e153, 1.0]] * 10)  # 4 n M^2 is past the bound
    WGANGP(**SMALL, random_state=0).fit(near, steps=1)  # but the moments are finite
    assert 1.0 in [u for u in units if np.ndim(u) == 0]
    assert model_module._moments_surely_finite(np.array([1.0, 2.0]), 10**6, np.float32)
    assert not model_module._moments_surely_finite(np.array([1.0, 1e19]), 20, np.float32)
    assert model_module._moments_surely_finite(np.array([1.0, 1e19]), 20, np.float64)
    assert not model_module._moments_surely_finite(np.array([np.nan]), 20, np.float64)


def test_refit_with_bad_data_keeps_the_fitted_model(X):
    model = WGANGP(**SMALL, random_state=0).fit(X, steps=1)
    before = [p.copy() for p in model.generator_.params]
    huge = np.vstack([[1e200, 0.0], [-1e200, 1.0]] * 10)
    check_refused(lambda: model.fit(huge, steps=1), InvalidDataError, "X column 0")
    assert model.n_features_in_ == 3
    for p, q in zip(before, model.generator_.params):
        np.testing.assert_array_equal(p, q)


def test_constant_columns_train_to_finite_samples():
    X = np.ones((32, 2)) * [3.0, -7.0]
    model = WGANGP(**SMALL, random_state=0).fit(X, steps=2)
    assert np.all(np.isfinite(model.sample(5, random_state=0)))


# --------------------------------------------------------- hyperparameters --

BAD_PARAMS = {
    "hidden=0": (dict(hidden=0), InvalidParameterError, r"hidden=0 .*>= 1"),
    "hidden=True": (dict(hidden=True), InvalidParameterTypeError, r"hidden=True must be an integ"),
    "hidden str": (dict(hidden="64"), InvalidParameterTypeError, r"hidden='64' must be an integ"),
    "hidden huge": (
        dict(hidden=10**12),
        InvalidParameterError,
        r"hidden=1000000000000.*GiB, more than this machine",
    ),
    "depth=-1": (dict(depth=-1), InvalidParameterError, r"depth=-1 .*>= 1"),
    "latent huge": (
        dict(latent_dim=10**10),
        InvalidParameterError,
        r"latent_dim=10000000000.*GiB, more than this machine",
    ),
    "lr nan": (dict(lr=float("nan")), InvalidParameterError, r"lr=nan .*finite"),
    "lr inf": (dict(lr=float("inf")), InvalidParameterError, r"lr=inf .*finite"),
    "lr negative": (dict(lr=-1.0), InvalidParameterError, r"lr=-1.0 .*> 0"),
    "lr str": (dict(lr="0.1"), InvalidParameterTypeError, r"lr='0.1' must be a number"),
    "lambda nan": (dict(lambda_gp=float("nan")), InvalidParameterError, r"lambda_gp=nan"),
    "lambda negative": (dict(lambda_gp=-1), InvalidParameterError, r"lambda_gp=-1.0 .*>= 0"),
    "n_critic=0": (dict(n_critic=0), InvalidParameterError, r"n_critic=0 .*>= 1"),
    "n_critic float": (dict(n_critic=1.5), InvalidParameterTypeError, r"n_critic=1.5"),
    "batch_size=0": (dict(batch_size=0), InvalidParameterError, r"batch_size=0 .*>= 1"),
    "activation None": (dict(activation=None), InvalidParameterTypeError, r"activation=None"),
    "activation unknown": (dict(activation="swish"), InvalidParameterError, r"'swish'.*relu"),
    "leaky slope 2": (
        dict(activation={"name": "leaky_relu", "slope": 2}),
        InvalidParameterError,
        r"slope=2.0 is not allowed.*\[0, 1\)",
    ),
    "leaky slope str": (
        dict(activation={"name": "leaky_relu", "slope": "a"}),
        InvalidParameterError,
        r"activation 'leaky_relu' got bad options.*slope='a' must be a number",
    ),
    "activation option": (
        dict(activation={"name": "relu", "foo": 1}),
        InvalidParameterError,
        r"activation 'relu' got bad options \{'foo': 1\}",
    ),
    "optimizer int": (dict(optimizer=3), InvalidParameterTypeError, r"optimizer=3 must be a str"),
    "optimizer unknown": (dict(optimizer="adagrad"), InvalidParameterError, r"'adagrad'"),
    "init list": (dict(init=["he"]), InvalidParameterTypeError, r"init=\['he'\] must be a string"),
    "init unknown": (dict(init="zeros"), InvalidParameterError, r"init='zeros'.*he_uniform"),
    "penalty": (dict(penalty="both"), InvalidParameterError, r"penalty='both'.*two-sided"),
    "scale": (dict(scale="minmax"), InvalidParameterError, r"scale='minmax'.*standard"),
    "output_activation": (
        dict(output_activation="sigmoid"),
        InvalidParameterError,
        r"output_activation='sigmoid'.*tanh",
    ),
    "dtype float16": (dict(dtype="float16"), InvalidParameterError, r"dtype='float16'.*float32"),
    "dtype nonsense": (dict(dtype="banana"), InvalidParameterError, r"dtype='banana' is not a"),
    "seed negative": (dict(random_state=-1), InvalidParameterError, r"random_state=-1.*>= 0"),
    "seed float": (dict(random_state=1.5), InvalidParameterTypeError, r"random_state=1.5"),
    "legacy RandomState": (
        dict(random_state=np.random.RandomState(0)),
        InvalidParameterTypeError,
        r"random_state=RandomState.*numpy.random.Generator",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_PARAMS))
def test_bad_hyperparameters_are_refused_when_fit_starts(X, case):
    params, error, match = BAD_PARAMS[case]
    model = WGANGP(**{**SMALL, **params})  # the constructor only stores
    check_refused(lambda: model.fit(X, steps=1), error, match)
    assert not hasattr(model, "generator_")


BAD_FIT_ARGS = {
    "steps=0": (dict(steps=0), InvalidParameterError, r"steps=0 .*>= 1"),
    "steps=True": (dict(steps=True), InvalidParameterTypeError, r"steps=True must be an int"),
    "steps str": (dict(steps="10"), InvalidParameterTypeError, r"steps='10' must be an int"),
    "callbacks int": (dict(callbacks=5), InvalidParameterTypeError, r"callbacks=5 must be None"),
    "callbacks not hooks": (
        dict(callbacks=[object()]),
        InvalidParameterTypeError,
        r"callbacks\[0\]=.* is not a callback: it lacks",
    ),
    "callbacks unwrapped": (
        dict(callbacks=Callback()),
        InvalidParameterTypeError,
        r"callbacks=.*wrap it in a list",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_FIT_ARGS))
def test_bad_fit_arguments_are_refused_before_training(X, case):
    kwargs, error, match = BAD_FIT_ARGS[case]
    model = WGANGP(**SMALL, random_state=0)
    check_refused(lambda: model.fit(X, **{"steps": 1, **kwargs}), error, match)
    assert not hasattr(model, "generator_")


def test_unknown_parameter_name_is_refused():
    check_refused(
        lambda: WGANGP().set_params(hiden=3), InvalidParameterError, r"'hiden' is not a parameter"
    )


# ---------------------------------------------------------------- inference --

BAD_SAMPLE = {
    "n=0": (dict(n=0), InvalidParameterError, r"n=0 is not allowed; it must be an integer >= 1"),
    "n negative": (dict(n=-5), InvalidParameterError, r"n=-5 is not allowed"),
    "n float": (dict(n=2.5), InvalidParameterTypeError, r"n=2.5 must be an integer"),
    "n str": (dict(n="3"), InvalidParameterTypeError, r"n='3' must be an integer"),
    "n huge": (dict(n=10**13), InvalidParameterError, r"sample\(n=10000000000000\).*chunks"),
    "seed str": (
        dict(n=3, random_state="x"),
        InvalidParameterTypeError,
        r"random_state='x' must be None, an integer seed",
    ),
    "seed negative": (dict(n=3, random_state=-2), InvalidParameterError, r"random_state=-2"),
}


@pytest.mark.parametrize("case", sorted(BAD_SAMPLE))
def test_bad_sample_arguments_are_refused(fitted, case):
    kwargs, error, match = BAD_SAMPLE[case]
    check_refused(lambda: fitted.sample(**kwargs), error, match)


@pytest.mark.parametrize(
    "call",
    [
        lambda m, X: m.sample(3),
        lambda m, X: m.score_samples(X),
        lambda m, X: m.save("never-written.npz"),
    ],
    ids=["sample", "score_samples", "save"],
)
def test_unfitted_model_says_call_fit_first(X, call):
    check_refused(lambda: call(WGANGP(), X), NotFittedError, r"not fitted yet; call fit\(X\)")
    assert not os.path.exists("never-written.npz")


BAD_SCORE = {
    "wrong columns": (np.zeros((2, 4)), InvalidDataError, r"X has 4 columns but.*fitted on 3"),
    "nan": (np.full((2, 3), np.nan), InvalidDataError, r"X contains NaN"),
    "1-D": (np.zeros(3), InvalidDataError, r"X must be 2-D"),
    "overflows float32": (
        np.full((2, 3), 1e300),
        InvalidDataError,
        r"X\[0, 0\] = 1e\+300 overflows float32",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_SCORE))
def test_bad_scoring_data_is_refused(fitted, case):
    data, error, match = BAD_SCORE[case]
    check_refused(lambda: fitted.score_samples(data), error, match)


def test_partial_fit_refuses_other_columns_and_one_row(X):
    model = WGANGP(**SMALL, random_state=0).fit(X, steps=1)
    check_refused(
        lambda: model.partial_fit(X[:, :2]), InvalidDataError, r"X has 2 columns but.*on 3"
    )
    check_refused(lambda: model.partial_fit(X[:1]), InvalidDataError, r"X has 1 row")
    assert model.n_iter_ == 1


# -------------------------------------------------------------- file paths --


def test_save_refuses_a_path_that_is_not_a_path(fitted):
    check_refused(lambda: fitted.save(None), InvalidParameterTypeError, r"path=None must be a str")


def test_save_refuses_a_directory(fitted, tmp_path):
    check_refused(
        lambda: fitted.save(tmp_path), IsADirectoryError, r"path=.* is a directory; give a file"
    )
    assert list(tmp_path.iterdir()) == []


def test_save_refuses_a_folder_that_is_a_file(fitted, tmp_path):
    (tmp_path / "file").write_text("x")
    check_refused(
        lambda: fitted.save(tmp_path / "file" / "m.npz"),
        NotADirectoryError,
        r"cannot write .*m.npz.*is a file, not a folder",
    )


def test_model_trained_with_an_optimizer_instance_saves_loads_and_resumes(X, tmp_path):
    params = dict(SMALL, optimizer=wgangp.Adam(lr=1e-3, betas=(0.5, 0.9)), random_state=0)
    straight = WGANGP(**params).fit(X, steps=4)
    path = WGANGP(**params).fit(X, steps=2).save(tmp_path / "m.npz")
    resumed = load(path)
    assert resumed.generator_optimizer_.config() == straight.generator_optimizer_.config()
    resumed.partial_fit(X, steps=2)
    for p, q in zip(straight.generator_.params, resumed.generator_.params):
        np.testing.assert_array_equal(p, q)


@pytest.mark.parametrize(
    "target,error,match",
    [
        (None, InvalidParameterTypeError, r"path=None must be a str"),
        ("missing.npz", ModelFileError, r"missing.npz does not exist"),
        (".", ModelFileError, r"is a directory, not a model file"),
    ],
    ids=["None", "missing", "directory"],
)
def test_load_refuses_bad_paths(tmp_path, target, error, match):
    if target is not None:
        target = tmp_path / target
    check_refused(lambda: load(target), error, match)


# ----------------------------------------------------------------- CSV data --


def _csv(tmp_path, text, name="data.csv"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


BAD_CSV = {
    "non-numeric column": (
        "x,city\n1,Paris\n2,Rome\n",
        {},
        InvalidDataError,
        r"line 2, column 2 \('city'\): 'Paris' is not a number",
    ),
    "empty cell": ("x,y\n1,\n2,3\n", {}, InvalidDataError, r"line 2, column 2.*an empty cell"),
    "ragged row": ("x,y\n1,2\n3\n", {}, InvalidDataError, r"line 3: 1 cells, expected 2"),
    "empty file": ("", {}, InvalidDataError, r"path=.* is empty"),
    "header only": ("x,y\n", {}, InvalidDataError, r"has a header row .* but no data rows"),
    "binary": (b"\xff\xfe\x00\x01garbage", {}, InvalidDataError, r"path=.* is not UTF-8 text"),
    "NUL byte": (b"x,y\n1,\x002\n", {}, InvalidDataError, r"line 2, column 2.*is not a number"),
    "huge field": (
        "x,y\n1," + "9" * 200_000 + "\n",
        {},
        InvalidDataError,
        r"path=.* cannot be parsed as CSV: field larger than field limit",
    ),
    "duplicate names": (
        "a,a\n1,2\n3,4\n",
        {"columns": ["a"]},
        InvalidParameterError,
        r"columns: the header names 2 columns 'a'.*ambiguous",
    ),
    "unknown name": ("x,y\n1,2\n", {"columns": ["z"]}, InvalidParameterError, r"named 'z'"),
    "index out of range": ("1,2\n3,4\n", {"columns": [5]}, InvalidParameterError, r"index 5"),
    "bad delimiter": ("1,2\n", {"delimiter": ",,"}, InvalidParameterError, r"delimiter must"),
}


@pytest.mark.parametrize("case", sorted(BAD_CSV))
def test_bad_csv_is_refused_with_its_line_and_column(tmp_path, case):
    text, kwargs, error, match = BAD_CSV[case]
    path = _csv(tmp_path, text)
    check_refused(lambda: load_csv(path, **kwargs), error, match)


def test_csv_missing_file_and_directory_are_refused(tmp_path):
    check_refused(
        lambda: load_csv(tmp_path / "nope.csv"), FileNotFoundError, r"path=.*nope.csv.*no such"
    )
    check_refused(lambda: load_csv(tmp_path), IsADirectoryError, r"path=.* is a directory")


def test_csv_of_one_row_loads_but_is_refused_for_training(tmp_path):
    X = load_csv(_csv(tmp_path, "x,y\n1,2\n"))
    assert X.shape == (1, 2)
    check_refused(lambda: WGANGP(**SMALL).fit(X, steps=1), InvalidDataError, r"X has 1 row")


def test_csv_nan_cells_are_refused_for_training(tmp_path):
    X = load_csv(_csv(tmp_path, "x,y\n1,nan\n2,3\n"))
    check_refused(lambda: WGANGP(**SMALL).fit(X, steps=1), InvalidDataError, r"X contains NaN")


def test_csv_with_a_constant_column_trains_to_finite_samples(tmp_path):
    rows = "\n".join(f"{i * 0.1:.2f},5" for i in range(32))
    X = load_csv(_csv(tmp_path, "x,c\n" + rows + "\n"))
    model = WGANGP(**SMALL, random_state=0).fit(X, steps=2)
    assert np.all(np.isfinite(model.sample(4, random_state=0)))


# --------------------------------------------------------------- divergence --


class SaveEveryIteration(Callback):
    def __init__(self, folder):
        self.folder = Path(folder)

    def on_iteration_end(self, model, iteration, record):
        model.save(self.folder / f"ckpt-{iteration:04d}.npz")


def test_huge_learning_rate_stops_with_training_diverged(X):
    model = WGANGP(**SMALL, optimizer="sgd", lr=1e6, random_state=0)
    # warnings are errors here: no overflow RuntimeWarning comes first
    with pytest.raises(TrainingDiverged, match=r"diverged at iteration \d: .*lr=1000000.0") as exc:
        model.fit(X, steps=20)
    assert exc.value.iteration == model.n_iter_ <= 3  # at once, not after 20 of NaN


def test_blow_up_mid_training_keeps_the_last_good_checkpoint(X, tmp_path):
    model = WGANGP(**SMALL, optimizer="sgd", lr=1e-3, random_state=0)
    model.fit(X, steps=4, callbacks=[SaveEveryIteration(tmp_path)])
    good = [p.copy() for p in model.generator_.params + model.critic_.params]
    for opt in (model.generator_optimizer_, model.critic_optimizer_):
        opt.lr = 1e6  # induce the blow-up
    with pytest.raises(TrainingDiverged, match=r"not finite|NaN or inf"):
        model.partial_fit(X, steps=10, callbacks=[SaveEveryIteration(tmp_path)])
    files = sorted(tmp_path.glob("ckpt-*.npz"))
    assert [f.name for f in files][:4] == [f"ckpt-{i:04d}.npz" for i in range(1, 5)]
    assert len(files) < 14  # the diverged iteration was not saved
    for f in files:  # whatever was written loads: nothing torn, nothing NaN
        load(f)
    last_good = load(tmp_path / "ckpt-0004.npz")
    assert np.all(np.isfinite(last_good.sample(3, random_state=0)))
    for p, q in zip(good, last_good.generator_.params + last_good.critic_.params):
        np.testing.assert_array_equal(p, q)


def test_sampling_a_blown_up_model_says_so(fitted, tmp_path):
    model = load(fitted.save(tmp_path / "ok.npz"))
    for p in model.generator_.params[::2]:
        p *= 1e20  # finite, but a forward pass overflows float32
    with pytest.raises(TrainingDiverged, match=r"sample: the output overflows.*blown up"):
        model.sample(5, random_state=0)


def test_saving_a_diverged_model_is_refused(fitted, tmp_path):
    model = load(fitted.save(tmp_path / "ok.npz"))
    model.critic_.params[0][0, 0] = np.nan
    with pytest.raises(TrainingDiverged, match=r"not saving .*critic W1 holds NaN"):
        model.save(tmp_path / "nan.npz")
    assert not (tmp_path / "nan.npz").exists()


class BlowUpAt(Callback):
    """Raises both learning rates to 1e6 after iteration ``at``: an induced blow-up."""

    def __init__(self, at):
        self.at = at

    def on_iteration_end(self, model, iteration, record):
        if iteration == self.at:
            for opt in (model.generator_optimizer_, model.critic_optimizer_):
                opt.lr = 1e6


def test_blow_up_in_a_run_folder_is_stopped_by_the_guard_with_checkpoints_intact(X, tmp_path):
    params = dict(SMALL, optimizer="sgd", lr=1e-3, random_state=0)
    model = WGANGP(**params)
    with pytest.raises(TrainingDiverged, match=r"diverged at iteration \d+") as exc:
        model.fit(X, steps=30, run_dir=tmp_path, checkpoint_every=2, callbacks=[BlowUpAt(4)])
    assert exc.value.iteration < 30
    assert exc.value.checkpoint is not None and exc.value.checkpoint.exists()
    files = sorted((tmp_path / "checkpoints").glob("ckpt-*.npz"))
    for f in files:  # every checkpoint loads: nothing torn, nothing NaN
        load(f)
    assert not list((tmp_path / "checkpoints").glob(".*.tmp"))
    # the checkpoint written before the blow-up is, bit for bit, that state
    before = load(tmp_path / "checkpoints" / "ckpt-00000004.npz")
    reference = WGANGP(**params).fit(X, steps=4)
    for p, q in zip(
        reference.generator_.params + reference.critic_.params,
        before.generator_.params + before.critic_.params,
    ):
        np.testing.assert_array_equal(p, q)
    assert np.all(np.isfinite(before.sample(5, random_state=0)))
    # the state the guard kept is a usable one, not the blown-up state whose
    # parameters were still finite one iteration before the NaN
    kept = load(exc.value.checkpoint)
    assert kept.n_iter_ <= 4
    assert np.all(np.isfinite(kept.sample(5, random_state=0)))


# ------------------------------------------------------ run folders, monitors --

BAD_RUN_ARGS = {
    "run_dir is a file": (
        lambda tmp: dict(run_dir=tmp / "afile"),
        NotADirectoryError,
        r"run_dir=.*afile' is a file; give a folder",
    ),
    "run_dir not a path": (
        lambda tmp: dict(run_dir=3),
        InvalidParameterTypeError,
        r"run_dir=3 must be a str or os.PathLike",
    ),
    "resume not a path": (
        lambda tmp: dict(resume=5),
        InvalidParameterTypeError,
        r"resume=5 must be a str or os.PathLike",
    ),
    "resume missing": (
        lambda tmp: dict(resume=tmp / "nope"),
        ModelFileError,
        r"no checkpoint to resume from in .*nope",
    ),
    "resume without run_dir": (
        lambda tmp: dict(resume=True),
        InvalidParameterError,
        r"resume=True needs run_dir",
    ),
    "resume a corrupt file": (
        lambda tmp: dict(resume=tmp / "afile"),
        ModelFileError,
        r"afile cannot be read as a model file",
    ),
    "checkpoint_every=0": (
        lambda tmp: dict(run_dir=tmp / "r", checkpoint_every=0),
        InvalidParameterError,
        r"checkpoint_every=0 is not allowed",
    ),
    "keep_checkpoints=0": (
        lambda tmp: dict(run_dir=tmp / "r", keep_checkpoints=0),
        InvalidParameterError,
        r"keep_checkpoints=0 is not allowed",
    ),
    "log_every=0": (lambda tmp: dict(log_every=0), InvalidParameterError, r"log_every=0 is not"),
    "verbose=2": (lambda tmp: dict(verbose=2), InvalidParameterError, r"verbose=2 is not allowed"),
}


@pytest.mark.parametrize("case", sorted(BAD_RUN_ARGS))
def test_bad_run_folder_arguments_are_refused_before_training(X, tmp_path, case):
    (tmp_path / "afile").write_text("not a checkpoint")
    make, error, match = BAD_RUN_ARGS[case]
    model = WGANGP(**SMALL, random_state=0)
    check_refused(lambda: model.fit(X, steps=2, **make(tmp_path)), error, match)
    assert not hasattr(model, "generator_")


def test_checkpoint_callback_refuses_a_folder_that_is_not_a_path():
    from wgangp.monitor import Checkpoint

    check_refused(lambda: Checkpoint(3), InvalidParameterTypeError, r"directory=3 must be a str")


def test_resume_with_other_columns_is_refused(X, tmp_path):
    WGANGP(**SMALL, random_state=0).fit(X, steps=2, run_dir=tmp_path)
    check_refused(
        lambda: WGANGP(**SMALL).fit(X[:, :2], steps=2, resume=tmp_path),
        InvalidDataError,
        r"X has 2 columns but the model was fitted on 3",
    )


# ------------------------------------------------------------ tabular data --


@pytest.fixture(scope="module")
def table():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "x": rng.normal(size=60),
            "k": rng.choice(["a", "b", "c"], 60),
            "n": rng.integers(0, 5, 60),
        }
    )


@pytest.fixture(scope="module")
def synth(table):
    from wgangp.tabular import TabularSynthesizer

    return TabularSynthesizer(
        discrete_columns=["k"], hidden=16, critic_hidden=16, random_state=0
    ).fit(table, steps=2)


TINY = dict(hidden=16, critic_hidden=16, random_state=0)


def _dup_names(t):
    d = t.copy()
    d.columns = ["x", "k", "x"]
    return d


BAD_TABLES = {
    "text column not declared discrete": (
        lambda t: t,
        dict(discrete_columns=["n"]),
        InvalidDataError,
        r"column 'k' is not numeric \(it holds '.'\) but is not in discrete_columns=\['n'\]",
    ),
    "discrete column unknown": (
        lambda t: t,
        dict(discrete_columns=["zz"]),
        InvalidParameterError,
        r"discrete_columns names \['zz'\], which are not columns",
    ),
    "discrete_columns a string": (
        lambda t: t,
        dict(discrete_columns="k"),
        InvalidParameterTypeError,
        r"discrete_columns='k' must be None or a list",
    ),
    "duplicate column names": (
        _dup_names,
        {},
        InvalidDataError,
        r"data has duplicated column names \['x'\]",
    ),
    "one row": (lambda t: t.iloc[:1], {}, InvalidDataError, r"data has 1 row; at least 2"),
    "no rows": (lambda t: t.iloc[:0], {}, InvalidDataError, r"data has shape \(0, 3\)"),
    "inf": (lambda t: t.assign(x=np.inf), {}, InvalidDataError, r"column 'x' holds inf"),
    "all missing": (lambda t: t.assign(x=np.nan), {}, InvalidDataError, r"'x' has no values"),
    "dates": (
        lambda t: t.assign(d=np.datetime64("2020-01-01")),
        {},
        InvalidDataError,
        r"column 'd' holds dates",
    ),
    "not a table": (
        lambda t: t.to_numpy(),
        {},
        InvalidParameterTypeError,
        r"data must be a pandas DataFrame or a CSV or Parquet path; got ndarray",
    ),
    "negative seed": (
        lambda t: t,
        dict(random_state=-1),
        InvalidParameterError,
        r"random_state=-1 is not allowed",
    ),
    "networks larger than memory": (
        lambda t: t,
        dict(hidden=10**12),
        InvalidParameterError,
        r"hidden=1000000000000.*GiB, more than this machine",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_TABLES))
def test_bad_tables_are_refused_by_the_tabular_synthesizer(table, case):
    from wgangp.tabular import TabularSynthesizer

    make, params, error, match = BAD_TABLES[case]
    model = TabularSynthesizer(**{**TINY, **params})
    check_refused(lambda: model.fit(make(table), steps=1), error, match)
    assert not hasattr(model, "generator_")


def test_tabular_csv_with_a_text_column_not_declared_discrete_is_refused(tmp_path):
    from wgangp.tabular import TabularSynthesizer

    rows = "\n".join(f"{i},{'ab'[i % 2]}" for i in range(20))
    path = _csv(tmp_path, "size,colour\n" + rows + "\n")
    check_refused(
        lambda: TabularSynthesizer(discrete_columns=[], **TINY).fit(path, steps=1),
        InvalidDataError,
        r"column 'colour' is not numeric \(it holds 'a'\) but is not in discrete_columns=\[\]",
    )


def test_tabular_constant_columns_train_to_finite_samples(table):
    from wgangp.tabular import TabularSynthesizer

    model = TabularSynthesizer(**TINY).fit(table.assign(c=5.0, k="a"), steps=2)
    rows = model.sample(5, random_state=0)
    assert np.all(np.isfinite(rows[["x", "c"]].to_numpy(dtype=float)))


BAD_TABULAR_SAMPLE = {
    "unseen condition value": (
        dict(n=5, conditions={"k": "zzz"}),
        InvalidParameterError,
        r"conditions: 'k' never takes the value 'zzz'.*known values: \['a', 'b', 'c'\]",
    ),
    "condition on an unknown column": (
        dict(n=5, conditions={"zz": "a"}),
        InvalidParameterError,
        r"conditions names 'zz', which is not a column",
    ),
    "condition on a continuous column": (
        dict(n=5, conditions={"x": 1.0}),
        InvalidParameterError,
        r"column 'x' is continuous",
    ),
    "conditions not a dict": (
        dict(n=5, conditions=["k"]),
        InvalidParameterTypeError,
        r"conditions=\['k'\] must be a non-empty dict",
    ),
    "n=0": (dict(n=0), InvalidParameterError, r"n=0 is not allowed"),
    "seed str": (dict(n=2, random_state="x"), InvalidParameterTypeError, r"random_state='x'"),
}


@pytest.mark.parametrize("case", sorted(BAD_TABULAR_SAMPLE))
def test_bad_tabular_sample_arguments_are_refused(synth, case):
    kwargs, error, match = BAD_TABULAR_SAMPLE[case]
    check_refused(lambda: synth.sample(**kwargs), error, match)


def test_unfitted_tabular_synthesizer_says_call_fit_first():
    pytest.importorskip("pandas")
    from wgangp.tabular import TabularSynthesizer

    check_refused(lambda: TabularSynthesizer().sample(3), NotFittedError, r"call fit\(data\)")


# ------------------------------------------------------------------ the CLI --

CLI_FILES = {
    "data.txt": "1,2\n3,4\n",
    "text.csv": "x,city\n1,Paris\n2,Rome\n",
    "one.csv": "x,y\n1,2\n",
    "nan.csv": "x,y\n1,nan\n2,3\n3,4\n",
    "binary.csv": b"\xff\xfe\x00\x01garbage",
    "header-only.csv": "x,y\n",
    "bad.toml": "steps = 3\n[model\n",
    "unknown.toml": "[model]\nhiden = 8\n",
    "range.toml": "[model]\nlr = -1.0\n",
    "toplevel.toml": "lr = 0.1\n",
    "corrupt.npz": b"PK\x03\x04 not really a zip",
}

TINY_RUN = ["--n-rows", "64", "--hidden", "8", "--depth", "1", "--batch-size", "16"]

BAD_CLI = {
    "missing data file": (
        ["train", "--data", "missing.csv"],
        r"data file .*missing.csv.* does not exist",
    ),
    "data is a folder": (["train", "--data", "folder.csv"], r"folder.csv.* is a directory"),
    "data of unknown kind": (["train", "--data", "data.txt"], r"neither a built-in set"),
    "text column": (
        ["train", "--data", "text.csv"],
        r"line 2, column 2 \('city'\): 'Paris' is not a number",
    ),
    "one row": (["train", "--data", "one.csv"], r"X has 1 row; at least 2 rows"),
    "NaN cell": (["train", "--data", "nan.csv"], r"X contains NaN"),
    "binary CSV": (["train", "--data", "binary.csv"], r"is not UTF-8 text"),
    "header only": (["train", "--data", "header-only.csv"], r"header row .* but no data rows"),
    "invalid TOML": (["train", "--config", "bad.toml"], r"bad.toml is not valid TOML"),
    "unknown config key": (
        ["train", "--config", "unknown.toml"],
        r"unknown key 'hiden' in \[model\]; did you mean 'hidden'",
    ),
    "config value out of range": (
        ["train", "--config", "range.toml"],
        r"model.lr=-1.0 is not allowed",
    ),
    "model key at the top level": (
        ["train", "--config", "toplevel.toml"],
        r"'lr' is a model parameter",
    ),
    "missing config": (["train", "--config", "nope.toml"], r"nope.toml does not exist"),
    "negative lr": (["train", "--data", "8gaussians", "--lr", "-1"], r"--lr: -1.0 is not allowed"),
    "zero hidden": (["train", "--data", "8gaussians", "--hidden", "0"], r"--hidden: 0 is not"),
    "steps not a number": (
        ["train", "--data", "8gaussians", "--steps", "abc"],
        r"--steps: 'abc' is not an integer",
    ),
    "unknown flag": (["train", "--data", "8gaussians", "--hiden", "8"], r"unrecognized arg"),
    "unknown choice": (
        ["train", "--data", "8gaussians", "--activation", "swish"],
        r"--activation: invalid choice: 'swish'",
    ),
    "sample n=0": (["sample", "corrupt.npz", "-n", "0", "-o", "s.csv"], r"-n: 0 is not allowed"),
    "sample a missing model": (
        ["sample", "nope.npz", "-n", "3", "-o", "s.csv"],
        r"nope.npz",
    ),
    "sample a corrupt model": (
        ["sample", "corrupt.npz", "-n", "3", "-o", "s.csv"],
        r"corrupt.npz cannot be read as a model file",
    ),
    "resume a missing run": (["resume", "no-such-run"], r"no-such-run"),
}


@pytest.fixture
def cli_dir(tmp_path, monkeypatch):
    for name, content in CLI_FILES.items():
        _csv(tmp_path, content, name)
    (tmp_path / "folder.csv").mkdir()
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run_main(argv, capsys) -> tuple[int, str]:
    from wgangp import cli

    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        code = exc.code
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", sorted(BAD_CLI))
def test_bad_command_lines_exit_2_with_a_one_line_error(cli_dir, capsys, case):
    pytest.importorskip("wgangp.cli")
    argv, match = BAD_CLI[case]
    if argv[0] == "train":
        argv = [*argv, *TINY_RUN, "--out", str(cli_dir / "run")]
    code, err = run_main(argv, capsys)
    assert code == 2, err
    assert "Traceback" not in err
    assert re.search(match, err), err
    assert not (cli_dir / "run" / "model.npz").exists()


class Payload:
    """Unpickling this object creates the folder ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_cli_sample_of_a_pickle_payload_exits_2_and_runs_nothing(cli_dir, capsys):
    pytest.importorskip("wgangp.cli")
    marker = cli_dir / "pwned"
    path = cli_dir / "evil.npz"
    np.savez(path, header=np.frombuffer(b"{}", dtype=np.uint8), evil=np.array([Payload(marker)]))
    code, err = run_main(["sample", str(path), "-n", "3", "-o", "s.csv"], capsys)
    assert code == 2 and "dtype object" in err and "Traceback" not in err
    assert not marker.exists()


def test_cli_divergence_exits_1_naming_it_with_checkpoints_intact(cli_dir, capsys):
    pytest.importorskip("wgangp.cli")
    run = cli_dir / "run"
    argv = ["train", "--data", "8gaussians", *TINY_RUN, "--steps", "40", "--optimizer", "sgd"]
    argv += ["--lr", "1e6", "--checkpoint-every", "2", "--no-report", "--out", str(run)]
    code, err = run_main(argv, capsys)
    assert code == 1, err
    assert "diverged" in err and "Traceback" not in err
    for path in (run / "checkpoints").glob("*.npz"):
        load(path)  # whatever was kept loads: nothing torn, nothing NaN


def test_cli_errors_in_a_real_process_exit_2_without_a_traceback(cli_dir):
    pytest.importorskip("wgangp.cli")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(PACKAGE_DIR.parent) + os.pathsep + env.get("PYTHONPATH", "")
    for argv in (["train", "--config", "unknown.toml"], ["sample", "corrupt.npz", "-o", "s.csv"]):
        proc = subprocess.run(
            [sys.executable, "-m", "wgangp", *argv],
            cwd=cli_dir,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.startswith("wgangp: error: ") and "Traceback" not in proc.stderr


def test_the_finiteness_check_needs_no_temporary_the_size_of_the_data():
    """check_array looks for NaN and inf a block of rows at a time: its peak
    allocation stays far below one byte per value (a whole isfinite mask),
    and a NaN in the last block is still found and located."""
    import tracemalloc

    from wgangp.validation import check_array

    X = np.zeros((400_000, 2), np.float32)
    check_array(X[:10], keep_float=True)  # first-call setup, not the check's own
    tracemalloc.start()
    try:
        assert check_array(X, keep_float=True) is X
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.size // 2
    X[-1, 1] = np.nan
    with pytest.raises(InvalidDataError, match=r"X contains NaN \(first at row 399999, column 1\)"):
        check_array(X)
