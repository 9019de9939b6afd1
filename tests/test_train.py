"""The training core: every guarantee holds for every estimator that stands on it.

Each test runs on :class:`wgangp.WGANGP`, :class:`wgangp.TabularSynthesizer`
and :class:`wgangp.Translator`, on arrays and on tables (the ``kind``
fixture): divergence,
callbacks, history, run folders, resume, validation before any state
changes, ``set_params`` before ``partial_fit``, gradcheck, and the model
files written before the core existed.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import wgangp
from wgangp import TabularSynthesizer, TrainingDiverged
from wgangp.errors import InvalidDataError, InvalidParameterError
from wgangp.history import History, read_history
from wgangp.monitor import (
    Checkpoint,
    DivergenceGuard,
    HistoryLogger,
    ProgressBar,
    TensorBoardLogger,
)

pd = pytest.importorskip("pandas")

LEGACY = Path(__file__).parent / "data" / "legacy"
KINDS = ("WGANGP", "TabularSynthesizer", "Translator", "TableTranslator")


def _data(kind):
    rng = np.random.default_rng(0)
    if kind == "WGANGP":
        return rng.normal(size=(64, 2))
    if kind == "Translator":  # two domains: (X_source, X_target)
        return rng.normal(size=(64, 2)), rng.normal(loc=2.0, size=(48, 2))
    if kind == "TableTranslator":  # two tables with the same columns
        return tuple(
            pd.DataFrame(
                {
                    "x": rng.normal(loc=2.0 * k, size=n),
                    "n": rng.integers(k, 4 + k, n),
                    "k": rng.choice(["a", "b", "c"], n),
                }
            )
            for k, n in ((0, 64), (1, 48))
        )
    return pd.DataFrame(
        {"x": rng.normal(size=64), "n": rng.integers(0, 4, 64), "k": rng.choice(["a", "b"], 64)}
    )


def _model(kind, **params):
    if kind == "WGANGP":
        base = dict(hidden=8, depth=2, batch_size=32, random_state=0)
        return wgangp.WGANGP(**{**base, **params})
    if kind in ("Translator", "TableTranslator"):
        return wgangp.Translator(**{**dict(hidden=8, batch_size=32, random_state=0), **params})
    base = dict(hidden=8, critic_hidden=8, latent_dim=4, discrete_columns=["k"], random_state=0)
    return TabularSynthesizer(**{**base, **params})


def _fit(model, data, **kwargs):
    """``fit`` of any estimator: the translator takes its two domains as two arguments."""
    return model.fit(*data, **kwargs) if isinstance(data, tuple) else model.fit(data, **kwargs)


def _partial_fit(model, data, **kwargs):
    if isinstance(data, tuple):
        return model.partial_fit(*data, **kwargs)
    return model.partial_fit(data, **kwargs)


def _output(model, data):
    """What the fitted model gives back: samples, or the translation of source rows."""
    if isinstance(data, tuple):
        return model.transform(data[0][:4])
    return model.sample(4, random_state=0)


def _arrays(model) -> list[np.ndarray]:
    return model.state_arrays()


def _same(a, b) -> bool:
    return all(np.array_equal(p, q) for p, q in zip(_arrays(a), _arrays(b)))


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


@pytest.mark.parametrize("how", ["deepcopy", "pickle"])
def test_a_copy_of_a_fitted_estimator_trains_on_as_the_original(kind, how):
    """``copy.deepcopy`` and ``pickle`` (joblib, multiprocessing) keep the parameters,
    gradients and optimizer moments views of the copied flat buffers, and leave
    the work arrays out: the copy and the original continue bit for bit alike."""
    import copy
    import pickle

    data = _data(kind)
    model = _fit(_model(kind), data, steps=2)
    assert model._scratches
    copied = copy.deepcopy(model) if how == "deepcopy" else pickle.loads(pickle.dumps(model))
    assert "_scratches" not in copied.__dict__
    for name, net in copied.networks().items():
        assert all(np.shares_memory(p, net.flat) for p in net.params)
        assert all(np.shares_memory(g, net.grad_flat) for g in net.grads)
        assert not np.shares_memory(net.flat, model.networks()[name].flat)
    _partial_fit(model, data, steps=2)
    _partial_fit(copied, data, steps=2)
    assert all(np.array_equal(a, b) for a, b in zip(model.state_arrays(), copied.state_arrays()))
    for key in [k for k in model.history_.keys if k not in ("seconds", "elapsed")]:
        assert np.array_equal(model.history_.column(key), copied.history_.column(key)), key
    ours, theirs = _output(model, data), _output(copied, data)
    if isinstance(ours, pd.DataFrame):
        pd.testing.assert_frame_equal(ours, theirs)
    else:
        np.testing.assert_array_equal(ours, theirs)


# ------------------------------------------------------------ divergence --


def test_a_huge_learning_rate_raises_training_diverged(kind):
    model = _model(kind, lr=1e6)
    with pytest.raises(TrainingDiverged, match="diverged"):
        _fit(model, _data(kind), steps=200)


def test_the_guard_keeps_the_last_good_state_and_saves_it(kind, tmp_path):
    model = _model(kind, lr=1e6)
    with pytest.raises(TrainingDiverged) as info:
        _fit(model, _data(kind), steps=200, run_dir=tmp_path / "run")
    assert all(np.isfinite(a).all() for a in model.state_arrays())
    assert info.value.checkpoint is not None and Path(info.value.checkpoint).exists()
    saved = wgangp.load(info.value.checkpoint)
    assert saved.n_iter_ == model.n_iter_ and _same(saved, model)


# ------------------------------------------------------------- callbacks --


def test_every_callback_runs_on_every_estimator(kind, tmp_path, capsys):
    pytest.importorskip("tensorboardX")
    pytest.importorskip("tqdm")
    model = _model(kind)
    callbacks = [
        DivergenceGuard(),
        ProgressBar(),
        HistoryLogger(tmp_path / "h" / "history.jsonl"),
        TensorBoardLogger(tmp_path / "tb", every=1, histogram_every=2),
        Checkpoint(tmp_path / "ckpt", every=2, keep=2),
    ]
    _fit(model, _data(kind), steps=4, callbacks=callbacks)
    assert len(read_history(tmp_path / "h" / "history.jsonl")) == 4
    assert (tmp_path / "h" / "history.csv").exists()
    assert sorted(p.name for p in (tmp_path / "ckpt").iterdir()) == [
        "ckpt-00000002.npz",
        "ckpt-00000004.npz",
    ]
    assert any((tmp_path / "tb").iterdir())


def test_stop_training_from_a_callback_stops_after_that_iteration(kind):
    class StopAt(wgangp.Callback):
        def on_iteration_end(self, model, iteration, record):
            if iteration == 3:
                model.stop_training = True

    model = _fit(_model(kind), _data(kind), steps=10, callbacks=[StopAt()])
    assert model.n_iter_ == 3


def test_every_callback_closes_and_the_first_error_is_raised(kind):
    closed = []

    class Breaks(wgangp.Callback):
        def __init__(self, name):
            self.name = name

        def on_iteration_end(self, model, iteration, record):
            raise RuntimeError(self.name)

        def on_train_end(self, model):
            closed.append(self.name)

    with pytest.raises(RuntimeError, match="first"):
        _fit(_model(kind), _data(kind), steps=2, callbacks=[Breaks("first"), Breaks("second")])
    assert closed == ["first", "second"]


# --------------------------------------------------------------- history --


def test_history_is_a_bounded_history_saved_with_the_model(kind, tmp_path):
    model = _fit(_model(kind), _data(kind), steps=6, log_every=2)
    assert isinstance(model.history_, History)
    assert [r["iteration"] for r in model.history_] == [2, 4, 6]
    loaded = wgangp.load(model.save(tmp_path / "m.npz"))
    assert loaded.history_.keys == model.history_.keys
    for key in model.history_.keys:
        np.testing.assert_array_equal(loaded.history_.column(key), model.history_.column(key))
    assert loaded.history_.log_every == 2


def test_history_thins_itself_at_its_bound():
    history = History(log_every=1, max_records=8)
    for i in range(1, 101):
        history.append({"iteration": i, "w": float(i)})
    assert len(history) <= 8
    iterations = history.column("iteration")
    assert iterations[-1] == 100 or iterations[-1] >= 100 - history.log_every
    assert np.all(np.diff(iterations) > 0) and history.log_every > 1


# ------------------------------------------------- run folders and resume --


def test_run_dir_and_resume_continue_bit_for_bit(kind, tmp_path):
    data = _data(kind)
    straight = _fit(_model(kind), data, steps=6)
    run = tmp_path / "run"
    _fit(_model(kind), data, steps=4, run_dir=run, checkpoint_every=2)
    resumed = _fit(_model(kind), data, steps=2, resume=run)
    assert resumed.n_iter_ == 6 and _same(resumed, straight)
    lines = (run / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["iteration"] for line in lines] == [1, 2, 3, 4, 5, 6]


def test_save_load_partial_fit_is_bit_for_bit(kind, tmp_path):
    data = _data(kind)
    straight = _fit(_model(kind), data, steps=5)
    first = _fit(_model(kind), data, steps=3)
    again = _partial_fit(wgangp.load(first.save(tmp_path / "m.npz")), data, steps=2)
    assert _same(again, straight)


LEGACY_KERNELS = "Haswell"
"""The OpenBLAS kernels (threadpoolctl's ``architecture``; AMD's Zen reports
them too) that computed the legacy files' expected results. Other kernels
(AVX-512's SkylakeX, ARM's) sum a matrix product in another order, so the
same run rounds differently in float32's last bits there."""


def _blas_kernels() -> str | None:
    """The kernels of NumPy's OpenBLAS in this process, or None when unknown."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    for lib in threadpool_info():
        if lib.get("internal_api") == "openblas":
            return lib.get("architecture")
    return None


def _as_then(actual, expected, start):
    """``actual`` is ``expected`` bit for bit on the legacy files' kernels; on others,
    within a thousandth of how far the run moved from ``start`` (rounding, where a
    lost optimizer state or a wrong step would be as large as the move itself)."""
    moved = float(np.abs(expected.astype(np.float64) - start).max())
    if _blas_kernels() == LEGACY_KERNELS:
        np.testing.assert_array_equal(actual, expected)
    else:
        error = np.abs(actual.astype(np.float64) - expected).max()
        assert error <= 1e-3 * moved, (error, moved)
    return moved


@pytest.mark.parametrize("name", ["wgangp", "tabular"])
def test_files_of_format_version_1_load_and_resume_as_they_did(name):
    """Files written before the training core existed (tests/data/legacy, format 1)."""
    model = wgangp.load(LEGACY / f"{name}_v1.npz")
    if name == "wgangp":
        data = np.load(LEGACY / "wgangp_data.npy")
    else:
        data = pd.read_csv(LEGACY / "tabular_data.csv")
    start = [p.copy() for p in model.generator_.params + model.critic_.params]
    model.partial_fit(data, steps=3)
    with np.load(LEGACY / f"{name}_v1_resumed.npz") as expected:
        params = model.generator_.params + model.critic_.params
        moved = [_as_then(p, expected[f"arr_{i}"], start[i]) for i, p in enumerate(params)]
        assert max(moved) > 0  # the three steps changed the parameters
        if name == "wgangp":
            samples = model.sample(5, random_state=1)
            if _blas_kernels() == LEGACY_KERNELS:
                np.testing.assert_array_equal(samples, expected["samples"])
            else:
                np.testing.assert_allclose(samples, expected["samples"], rtol=1e-5, atol=1e-6)
    if name == "tabular":
        rows = model.sample(5, random_state=1)
        expected_rows = pd.read_csv(LEGACY / "tabular_v1_resumed_samples.csv")
        pd.testing.assert_frame_equal(rows, expected_rows, check_dtype=False)


# ------------------------------------------- nothing changes on a refusal --


@pytest.mark.parametrize("bad", [dict(steps=0), dict(log_every=0), dict(callbacks=[object()])])
def test_a_refused_fit_leaves_a_fitted_model_as_it_was(kind, bad, tmp_path):
    data = _data(kind)
    model = _fit(_model(kind), data, steps=3)
    before = [a.copy() for a in model.state_arrays()]
    sample_before = _output(model, data)
    args = {"steps": 2, **bad}
    with pytest.raises((InvalidParameterError, TypeError)):
        _fit(model, data, **args)
    assert model.n_iter_ == 3
    assert all(np.array_equal(a, b) for a, b in zip(model.state_arrays(), before))
    after = _output(model, data)
    if isinstance(after, np.ndarray):
        np.testing.assert_array_equal(after, sample_before)
    else:
        pd.testing.assert_frame_equal(after, sample_before)


def test_a_fit_that_fails_while_setting_up_leaves_the_old_state(kind, monkeypatch):
    data = _data(kind)
    model = _fit(_model(kind), data, steps=2)
    before = dict(model.__dict__)
    first = f"{model.NETWORKS[0]}_"

    def broken(self, *args):
        setattr(self, first, None)
        raise RuntimeError("set-up failed")

    monkeypatch.setattr(type(model), "_new_optimizers", broken)
    with pytest.raises(RuntimeError, match="set-up failed"):
        _fit(model, data, steps=2)
    assert model.__dict__.keys() == before.keys()
    assert getattr(model, first) is before[first] and model.n_iter_ == 2


# ------------------------------------------------ set_params, partial_fit --


def test_a_new_learning_rate_reaches_partial_fit(kind, tmp_path):
    data = _data(kind)
    model = _fit(_model(kind), data, steps=2)
    _partial_fit(model.set_params(lr=1e-5), data, steps=1)
    assert all(opt.lr == 1e-5 for opt in model.optimizers().values())
    assert model.history_[-1][f"lr_{model.NETWORKS[-1]}"] == 1e-5
    again = wgangp.load(model.save(tmp_path / "m.npz"))
    assert again.get_params()["lr"] == 1e-5
    assert all(opt.lr == 1e-5 for opt in again.optimizers().values())


def test_a_new_architecture_needs_fit_not_partial_fit(kind):
    data = _data(kind)
    model = _fit(_model(kind), data, steps=2)
    with pytest.raises(InvalidParameterError, match=r"hidden=16 changed.*needs a new fit"):
        _partial_fit(model.set_params(hidden=16), data, steps=1)
    assert model.n_iter_ == 2
    _fit(model, data, steps=1)  # fit applies it
    assert max(max(net.sizes) for net in model.networks().values()) >= 16


# ------------------------------------------------------------- gradcheck --


def test_gradcheck_passes_on_every_estimator(kind):
    model = _fit(_model(kind, dtype=np.float64), _data(kind), steps=3)
    result = wgangp.gradcheck(model)
    assert result.passed, str(result)
    assert {row["loss"] for row in result.table} == set(model.NETWORKS)


def test_gradcheck_of_the_synthesizer_catches_a_broken_gradient(monkeypatch):
    from wgangp.tabular import heads

    model = _model("TabularSynthesizer", dtype=np.float64).fit(_data("TabularSynthesizer"), 3)
    real = heads.packed_critic_loss

    def broken(*args, **kwargs):
        loss, grads, stats = real(*args, **kwargs)
        grads[0] = grads[0] * 1.01
        return loss, grads, stats

    monkeypatch.setattr(heads, "packed_critic_loss", broken)
    result = wgangp.gradcheck(model)
    assert [(r["loss"], r["parameter"]) for r in result.table if not r["passed"]] == [
        ("critic", "W1")
    ]


def test_sampling_a_blown_up_model_raises_instead_of_returning_garbage(kind):
    data = _data(kind)
    model = _fit(_model(kind), data, steps=2)
    for p in model.networks()[model.NETWORKS[0]].params:
        p *= np.float32(1e30) if p.dtype == np.float32 else 1e300
    with pytest.raises(TrainingDiverged, match="overflows"):
        _output(model, data)


# --------------------------------------------------------------- threads --


def test_small_networks_train_on_one_recorded_thread_and_a_number_overrides(kind):
    pytest.importorskip("threadpoolctl")
    from threadpoolctl import threadpool_info

    before = {i["filepath"]: i["num_threads"] for i in threadpool_info()}
    model = _fit(_model(kind), _data(kind), steps=2)
    assert model.history_.column("threads").tolist() == [1.0, 1.0]
    _partial_fit(model.set_params(threads=2), _data(kind), steps=1)
    assert model.history_[-1]["threads"] == 2
    # scoped to training: every pool keeps its count (a library that training loaded
    # first, numba's for instance, adds a pool of its own)
    after = {i["filepath"]: i["num_threads"] for i in threadpool_info()}
    assert {path: after[path] for path in before} == before


def test_auto_measures_large_networks_and_records_the_choice(monkeypatch):
    pytest.importorskip("threadpoolctl")
    from wgangp import threads

    monkeypatch.setattr(threads, "SMALL_GEMM_FLOP", 0.0)  # every network counts as large
    monkeypatch.setattr(threads, "blas_thread_counts", lambda: [2])
    X = _data("WGANGP")
    model = _model("WGANGP").fit(X, steps=10)
    used = model.history_.column("threads")
    # warm-up at 1, then 1, 2, 1, 2, 1, 2, then the faster for the rest
    assert used[:7].tolist() == [1, 1, 2, 1, 2, 1, 2]
    assert len(set(used[7:].tolist())) == 1 and used[7] in (1, 2)


def test_a_loop_of_short_calls_keeps_the_measured_count(monkeypatch):
    pytest.importorskip("threadpoolctl")
    from wgangp import threads

    monkeypatch.setattr(threads, "SMALL_GEMM_FLOP", 0.0)
    monkeypatch.setattr(threads, "blas_thread_counts", lambda: [2])
    X = _data("WGANGP")
    model = _model("WGANGP").fit(X, steps=7)  # the measurement
    chosen = model._thread_state["current"]
    for _ in range(5):
        model.partial_fit(X, steps=1)
    assert model.history_.column("threads")[-5:].tolist() == [chosen] * 5


def test_a_measurement_goes_on_across_calls_of_one_iteration(monkeypatch):
    """fit(steps=1), then partial_fit(steps=1) in a loop: the trial that one call
    cannot hold runs over the calls and decides, and is not started again."""
    pytest.importorskip("threadpoolctl")
    from wgangp import threads

    monkeypatch.setattr(threads, "SMALL_GEMM_FLOP", 0.0)
    monkeypatch.setattr(threads, "blas_thread_counts", lambda: [2])
    X = _data("WGANGP")
    model = _model("WGANGP").fit(X, steps=1)
    for _ in range(11):
        model.partial_fit(X, steps=1)
    used = model.history_.column("threads").tolist()
    assert used[:7] == [1, 1, 2, 1, 2, 1, 2]  # warm-up, then 1 and 2 alternately
    assert model._thread_state["decided"] and not model._thread_state["trial"]
    assert used[7:] == [model._thread_state["current"]] * 5
    # other networks are measured afresh
    model.set_params(hidden=model.hidden * 2).fit(X, steps=1)
    assert not model._thread_state["decided"]


# ------------------------------------------------------- data fingerprint --


def _changed(kind, data):
    if kind == "WGANGP":
        return data * 1000
    changed = data.copy()
    changed["x"] = changed["x"] * 1000
    return changed


@pytest.mark.parametrize("kind", ["WGANGP", "TabularSynthesizer"])
def test_resume_or_partial_fit_on_changed_data_is_refused_unless_allowed(kind, tmp_path):
    data = _data(kind)
    model = _model(kind).fit(data, steps=2, run_dir=tmp_path)
    assert wgangp.load(wgangp.latest_checkpoint(tmp_path)).data_fingerprint_["rows"] == 64
    with pytest.raises(InvalidDataError, match="differ from those.*other values.*allow_new_data"):
        _model(kind).fit(_changed(kind, data), steps=1, resume=tmp_path)
    fewer = data[:50]
    with pytest.raises(InvalidDataError, match="rows 64 -> 50"):
        model.partial_fit(fewer, steps=1)
    assert model.n_iter_ == 2
    with pytest.warns(UserWarning, match="continuing on other data.*rows 64 -> 50"):
        _model(kind).fit(fewer, steps=1, resume=tmp_path, allow_new_data=True)
    resumed = wgangp.load(wgangp.latest_checkpoint(tmp_path))
    assert resumed.n_iter_ == 3 and resumed.data_fingerprint_["rows"] == 50
    resumed.partial_fit(fewer, steps=1)  # the same data again: no word


def test_the_translator_refuses_to_continue_on_other_domains():
    data = _data("Translator")
    model = _fit(_model("Translator"), data, steps=2)
    with pytest.raises(InvalidDataError, match="allow_new_data"):
        model.partial_fit(data[0] * 1000, data[1], steps=1)
    assert model.n_iter_ == 2


@pytest.mark.parametrize("kind", ["WGANGP", "TabularSynthesizer"])
def test_a_file_without_a_fingerprint_resumes_on_any_data(kind, tmp_path):
    model = _model(kind).fit(_data(kind), steps=2)
    del model.data_fingerprint_  # as a file written before fingerprints
    loaded = wgangp.load(model.save(tmp_path / "m.npz"))
    assert loaded.data_fingerprint_ is None
    loaded.partial_fit(_changed(kind, _data(kind)), steps=1)


def test_a_loop_of_partial_fit_on_one_float32_array_hashes_it_once(monkeypatch):
    """The fingerprint is cached for the caller's array (the one the check returns)."""
    X = np.random.default_rng(0).normal(size=(64, 2)).astype(np.float32)
    model = wgangp.WGANGP(hidden=8, depth=2, batch_size=32, random_state=0).fit(X, steps=1)
    calls = []
    original = wgangp.WGANGP._fingerprint
    monkeypatch.setattr(
        wgangp.WGANGP, "_fingerprint", lambda self, data: calls.append(1) or original(self, data)
    )
    for _ in range(3):
        model.partial_fit(X, steps=1)
    assert len(calls) == 1
    X += 1.0  # every row changes, the sampled ones too: hashed again, and refused
    with pytest.raises(InvalidDataError, match="differ"):
        model.partial_fit(X, steps=1)
    assert len(calls) == 2


@pytest.mark.parametrize("choice", ["auto", "numpy"])
def test_partial_fit_on_float32_rows_makes_no_float64_copy_and_trains_the_same(choice, monkeypatch):
    """Continuing on float32 rows checks them in place (no float64 copy of X per
    call) and trains to the same bits as on their float64 copy, with the
    kernels (when numba is there) and with NumPy's passes."""
    from wgangp import kernels

    kernels.use(choice)
    try:
        X = np.random.default_rng(0).normal(size=(96, 3)).astype(np.float32)
        first, second = (
            wgangp.WGANGP(hidden=8, depth=2, batch_size=32, random_state=0).fit(X, steps=2)
            for _ in range(2)
        )
        seen = []
        original = wgangp.WGANGP._training_data

        def spy(self, data, settings):
            seen.append(data)
            return original(self, data, settings)

        monkeypatch.setattr(wgangp.WGANGP, "_training_data", spy)
        first.partial_fit(X, steps=3)
        second.partial_fit(X.astype(np.float64), steps=3)
        assert seen[0] is X  # checked in place
        assert seen[1].dtype == np.float64
        for a, b in zip(first.state_arrays(), second.state_arrays()):
            assert np.array_equal(a, b)
        X[5, 1] = np.nan
        with pytest.raises(InvalidDataError, match="NaN"):
            first.partial_fit(X, steps=1)
    finally:
        kernels.use("auto")


def test_a_partial_fit_call_reads_the_array_once_and_still_refuses_what_it_must(monkeypatch):
    """The finiteness check's pass over X also finds X's range, which bounds the
    scaled values: no further whole-array reduction (X.max(), X.min()) per call.
    NaN and values that overflow once scaled are refused as before."""
    import sys

    from wgangp import blocks

    X = np.random.default_rng(0).normal(size=(96, 3)).astype(np.float32)
    model = wgangp.WGANGP(hidden=8, depth=2, batch_size=32, random_state=0).fit(X, steps=1)
    model.partial_fit(X, steps=1)  # the first call hashes X for its fingerprint
    passes, reductions = [], []
    original = blocks.row_slices

    def counted(n_rows, *args, **kwargs):
        if n_rows == len(X):
            passes.append(n_rows)
        return original(n_rows, *args, **kwargs)

    def watch(frame, event, arg):
        if event == "c_call" and getattr(arg, "__self__", None) is X:
            reductions.append(arg.__name__)

    monkeypatch.setattr(blocks, "row_slices", counted)
    sys.setprofile(watch)
    try:
        model.partial_fit(X, steps=2)
    finally:
        sys.setprofile(None)
    assert passes == [len(X)] and reductions == []

    huge = X.astype(np.float64)
    huge[7, 2] = 1e300  # finite, but not in float32 once scaled
    with pytest.raises(InvalidDataError, match=r"X\[7, 2\] = 1e\+300 overflows float32"):
        model.partial_fit(huge, steps=1, allow_new_data=True)
    huge[7, 2] = -np.inf
    with pytest.raises(InvalidDataError, match=r"X contains inf \(first at row 7, column 2\)"):
        model.partial_fit(huge, steps=1, allow_new_data=True)
    assert model.n_iter_ == 4


def test_a_loop_of_partial_fit_checks_unchanged_arguments_once_and_changed_ones_again(
    monkeypatch,
):
    """Immutable constructor arguments are checked (and turned into the file's
    JSON) once for a loop of short calls; a changed one is checked again, and
    an argument that may change in place (an optimizer object) every time."""
    from wgangp import train

    X = _data("WGANGP")
    model = _model("WGANGP").fit(X, steps=1)
    checks = []
    original_check = train.check_params
    monkeypatch.setattr(train, "check_params", lambda *a: checks.append(1) or original_check(*a))
    for _ in range(3):
        model.partial_fit(X, steps=1)
    assert checks == []  # checked by fit, remembered
    model.set_params(lr=2e-4)
    model.partial_fit(X, steps=1)
    assert len(checks) == 1 and model.critic_optimizer_.lr == 2e-4
    assert model._fitted_params["lr"] == 2e-4
    model.set_params(lr=-1.0)
    with pytest.raises(InvalidParameterError, match="lr"):
        model.partial_fit(X, steps=1)
    model.set_params(lr=2e-4, hidden=16)
    with pytest.raises(InvalidParameterError, match="hidden"):
        model.partial_fit(X, steps=1)
    model.set_params(hidden=8)

    optimizer = wgangp.optim.RMSProp(lr=1e-4)
    mutable = _model("WGANGP", optimizer=optimizer).fit(X, steps=1)
    checks.clear()
    for _ in range(2):
        mutable.partial_fit(X, steps=1)
    assert len(checks) == 2
    optimizer.rho = 0.5  # changed in place: seen, and refused as a new optimizer
    with pytest.raises(InvalidParameterError, match="optimizer"):
        mutable.partial_fit(X, steps=1)


def test_frozen_params_keys_immutable_scalars_by_type_and_refuses_the_rest():
    """The key of remembered checks: equal for equal values of equal types only,
    None for anything that may change in place or is not a plain scalar."""
    from wgangp.validation import frozen_params

    base = {"lr": 1e-4, "hidden": 1, "dtype": np.float32, "name": "x", "seed": None}
    key = frozen_params(base)
    assert key is not None and key == frozen_params(dict(base))
    for value in (True, np.int64(1), 1.0):  # the same number, another type: another key
        assert frozen_params({**base, "hidden": value}) not in (None, key)
    for value in (np.dtype("float64"), np.float64, np.float32(1e-4), False):
        assert frozen_params({**base, "extra": value}) is not None
    for value in ([8, 8], {"a": 1}, object(), int, wgangp.optim.RMSProp(lr=1e-4)):
        assert frozen_params({**base, "extra": value}) is None, value
    assert frozen_params({**base, "lr": 2e-4}) != key


def test_a_thread_count_already_in_force_is_not_set_again(monkeypatch):
    pytest.importorskip("threadpoolctl")
    from wgangp import threads

    counts = threads.blas_thread_counts()
    if not counts:
        pytest.skip("no BLAS library that threadpoolctl can ask")
    calls = []
    controller = threads._controller()
    original = type(controller).limit
    monkeypatch.setattr(
        type(controller), "limit", lambda self, **kw: calls.append(kw) or original(self, **kw)
    )
    X = _data("WGANGP")
    if all(count == counts[0] for count in counts):
        _model("WGANGP", threads=counts[0]).fit(X, steps=2)
        assert calls == []
    other = 2 if counts[0] == 1 else 1
    model = _model("WGANGP", threads=other).fit(X, steps=2)
    assert calls and calls[0]["limits"] == other
    assert model.history_.column("threads").tolist() == [other, other]
    assert threads.blas_thread_counts() == counts  # the caller's counts come back
