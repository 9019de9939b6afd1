"""monitor: history bounds, run folders, callbacks, checkpoints, the divergence guard, resume."""

from __future__ import annotations

import io
import json
import sys

import numpy as np
import pytest

import wgangp
from wgangp import (
    WGANGP,
    Callback,
    Checkpoint,
    DivergenceGuard,
    History,
    HistoryLogger,
    ProgressBar,
    TrainingDiverged,
    latest_checkpoint,
    read_history,
)
from wgangp.errors import InvalidParameterError, ModelFileError
from wgangp.history import write_csv
from wgangp.monitor import TensorBoardLogger, export_csv, list_checkpoints

KEYS = {
    "iteration",
    "threads",
    "critic_loss",
    "generator_loss",
    "generator_grad_norm",
    "wasserstein",
    "penalty",
    "d_real",
    "d_fake",
    "grad_norm_min",
    "grad_norm_mean",
    "grad_norm_max",
    "critic_grad_norm",
    "lr_critic",
    "lr_generator",
    "seconds",
    "elapsed",
}


@pytest.fixture(scope="module")
def X():
    return np.random.default_rng(0).normal(size=(200, 2))


def small(**kw):
    params = dict(hidden=8, depth=2, batch_size=32, n_critic=2, random_state=0)
    params.update(kw)
    return WGANGP(**params)


def params_of(model):
    return [p.copy() for p in model.critic_.params + model.generator_.params]


def assert_same_state(a, b):
    for p, q in zip(params_of(a), params_of(b)):
        np.testing.assert_array_equal(p, q)
    for name in ("critic_optimizer_", "generator_optimizer_"):
        sa, sb = getattr(a, name).state_dict(), getattr(b, name).state_dict()
        assert sa["step"] == sb["step"]
    assert a.n_iter_ == b.n_iter_


# ------------------------------------------------------------------ history --


def test_record_has_every_metric_and_the_learning_rates(X):
    model = small(lr=3e-4).fit(X, steps=3)
    record = model.history_[-1]
    assert set(record) == KEYS
    assert record["lr_critic"] == record["lr_generator"] == 3e-4
    assert record["iteration"] == 3 and record["seconds"] > 0


def test_log_every_keeps_every_kth_record_and_the_last(X):
    model = small().fit(X, steps=23, log_every=5)
    assert [r["iteration"] for r in model.history_] == [5, 10, 15, 20, 23]
    model.partial_fit(X, steps=4)
    assert [r["iteration"] for r in model.history_][-2:] == [25, 27]


def test_history_memory_grows_with_what_is_logged_not_with_steps():
    h = History(log_every=100)
    for i in range(1, 5001):
        if h.should_log(i):
            h.append({"iteration": i, "wasserstein": 0.5, "penalty": 0.1})
    assert len(h) == 50
    assert h.nbytes() < 3 * 64 * 8 * 2  # three columns, capacity 64 (doubling), 8 bytes


def test_history_reads_like_a_list_of_dicts():
    h = History(records=[{"iteration": i, "w": float(i)} for i in range(1, 6)])
    assert len(h) == 5 and h[-1] == {"iteration": 5, "w": 5.0}
    assert [r["iteration"] for r in h[1:3]] == [2, 3]
    assert h.column("w").tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    h.append({"iteration": 6, "new": 1.0})
    assert np.isnan(h[0]["new"]) and np.isnan(h[-1]["w"])
    h.truncate(3)
    assert len(h) == 3 and h[-1]["iteration"] == 3
    with pytest.raises(IndexError):
        h[3]
    with pytest.raises(KeyError, match="not in the history"):
        h.column("missing")


def test_history_grows_past_its_first_capacity():
    h = History(records=[{"iteration": i, "w": i * 0.5} for i in range(1, 201)])
    assert len(h) == 200 and h[199]["w"] == 100.0 and h[0]["w"] == 0.5


# ---------------------------------------------------------------- run folder --


def test_run_dir_writes_history_jsonl_csv_and_a_final_checkpoint(X, tmp_path):
    model = small().fit(X, steps=7, run_dir=tmp_path, log_every=2)
    lines = (tmp_path / "history.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["iteration"] for r in records] == [2, 4, 6, 7]
    assert records == list(model.history_)
    csv_lines = (tmp_path / "history.csv").read_text().splitlines()
    assert csv_lines[0].split(",")[0] == "iteration" and len(csv_lines) == 5
    assert [p.name for p in list_checkpoints(tmp_path / "checkpoints")] == ["ckpt-00000007.npz"]
    assert model.last_checkpoint_ == tmp_path / "checkpoints" / "ckpt-00000007.npz"


def test_history_logger_flushes_each_line_as_it_is_written(X, tmp_path):
    path = tmp_path / "history.jsonl"
    seen = []

    class ReadBack(Callback):
        def on_iteration_end(self, model, iteration, record):
            seen.append(len(path.read_text().splitlines()))

    small().fit(X, steps=4, callbacks=[HistoryLogger(path), ReadBack()])
    assert seen == [1, 2, 3, 4]


def test_a_crash_loses_nothing_logged(X, tmp_path):
    class Crash(Callback):
        def on_iteration_end(self, model, iteration, record):
            if iteration == 6:
                raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        small().fit(X, steps=10, callbacks=[Crash()], run_dir=tmp_path, log_every=4)
    iterations = [r["iteration"] for r in read_history(tmp_path / "history.jsonl")]
    assert iterations == [4, 6]  # the last iteration is always kept


def test_read_history_ignores_a_torn_last_line_and_maps_null_to_nan(tmp_path):
    path = tmp_path / "history.jsonl"
    path.write_text('{"iteration": 1, "w": null}\n{"iteration": 2, "w": 0.5}\n{"iterat')
    h = read_history(path)
    assert len(h) == 2 and np.isnan(h[0]["w"]) and h[1]["w"] == 0.5


def test_csv_export_writes_empty_cells_for_missing_and_non_finite(tmp_path):
    path = write_csv(
        [{"iteration": 1, "w": float("nan")}, {"iteration": 2, "g": 1.5}], tmp_path / "h.csv"
    )
    assert path.read_text().splitlines() == ["iteration,w,g", "1,,", "2,,1.5"]
    jsonl = tmp_path / "history.jsonl"
    jsonl.write_text('{"iteration": 3, "w": 0.25}\n')
    assert export_csv(jsonl).read_text().splitlines() == ["iteration,w", "3,0.25"]


def test_non_finite_values_are_written_as_null(X, tmp_path):
    path = tmp_path / "history.jsonl"

    class Poison(Callback):
        def on_iteration_end(self, model, iteration, record):
            record["critic_loss"] = float("inf")

    small().fit(X, steps=1, callbacks=[Poison(), HistoryLogger(path)])
    assert json.loads(path.read_text())["critic_loss"] is None


# --------------------------------------------------------------- checkpoints --


def test_checkpoints_every_n_keep_the_last_k_and_leave_no_temporaries(X, tmp_path):
    model = small()
    model.fit(X, steps=10, callbacks=[Checkpoint(tmp_path, every=3, keep=2)])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ckpt-00000009.npz", "ckpt-00000010.npz"]
    loaded = wgangp.load(tmp_path / "ckpt-00000010.npz")
    assert_same_state(model, loaded)


def test_fresh_fit_removes_checkpoints_of_a_later_iteration(X, tmp_path):
    small().fit(X, steps=8, run_dir=tmp_path)
    small().fit(X, steps=3, run_dir=tmp_path)
    assert [p.name for p in list_checkpoints(tmp_path / "checkpoints")] == ["ckpt-00000003.npz"]
    assert [r["iteration"] for r in read_history(tmp_path / "history.jsonl")] == [1, 2, 3]


def test_latest_checkpoint_finds_the_last_and_says_when_there_is_none(X, tmp_path):
    small().fit(X, steps=4, run_dir=tmp_path, checkpoint_every=2)
    assert latest_checkpoint(tmp_path).name == "ckpt-00000004.npz"
    assert latest_checkpoint(tmp_path / "checkpoints").name == "ckpt-00000004.npz"
    assert latest_checkpoint(tmp_path / "nothing") is None
    with pytest.raises(ModelFileError, match="no checkpoint"):
        latest_checkpoint(tmp_path / "nothing", must_exist=True)


# -------------------------------------------------------------------- resume --


def test_resume_continues_bit_exactly(X, tmp_path):
    full = small().fit(X, steps=12)
    small().fit(X, steps=5, run_dir=tmp_path)
    resumed = WGANGP().fit(X, steps=7, resume=tmp_path)
    assert_same_state(full, resumed)
    assert [r["iteration"] for r in resumed.history_] == list(range(1, 13))
    on_disk = [r["iteration"] for r in read_history(tmp_path / "history.jsonl")]
    assert on_disk == list(range(1, 13))


def test_resume_after_a_crash_cuts_the_history_back_to_the_checkpoint(X, tmp_path):
    full = small().fit(X, steps=10)
    small().fit(X, steps=10, run_dir=tmp_path, checkpoint_every=4, keep_checkpoints=5)
    (tmp_path / "checkpoints" / "ckpt-00000010.npz").unlink()  # the crash came before it
    resumed = small().fit(X, steps=2, resume=tmp_path)
    assert_same_state(full, resumed)
    on_disk = [r["iteration"] for r in read_history(tmp_path / "history.jsonl")]
    assert on_disk == list(range(1, 11))


def test_resume_true_starts_afresh_when_the_folder_has_no_checkpoint(X, tmp_path):
    model = small().fit(X, steps=3, run_dir=tmp_path, resume=True)
    assert model.n_iter_ == 3
    model = small().fit(X, steps=2, run_dir=tmp_path, resume=True)
    assert model.n_iter_ == 5


def test_resume_warns_when_chosen_settings_differ_from_the_checkpoint(X, tmp_path):
    small().fit(X, steps=2, run_dir=tmp_path)
    with pytest.warns(UserWarning, match="hidden"):
        model = small(hidden=16).fit(X, steps=1, resume=tmp_path)
    assert model.hidden == 8


def test_resume_without_a_checkpoint_names_the_folder(X, tmp_path):
    with pytest.raises(ModelFileError, match="no checkpoint to resume"):
        small().fit(X, steps=1, resume=tmp_path)
    with pytest.raises(InvalidParameterError, match="run_dir"):
        small().fit(X, steps=1, resume=True)


@pytest.mark.parametrize(
    "kwargs", [{"log_every": 0}, {"checkpoint_every": 0}, {"keep_checkpoints": 0}, {"verbose": 2}]
)
def test_fit_rejects_bad_monitoring_arguments(X, kwargs):
    with pytest.raises((InvalidParameterError, TypeError)):
        small().fit(X, steps=1, **kwargs)


# ------------------------------------------------------------ divergence guard --


class PoisonAt(Callback):
    """Writes NaN into the critic's first weight after iteration ``at``."""

    def __init__(self, at):
        self.at = at

    def on_iteration_end(self, model, iteration, record):
        if iteration == self.at:
            model.critic_.params[0][0, 0] = np.nan


def test_guard_stops_restores_the_last_good_state_and_raises(X, tmp_path):
    reference = small().fit(X, steps=5)
    model = small()
    with pytest.raises(TrainingDiverged) as info:
        model.fit(X, steps=20, callbacks=[PoisonAt(5)], run_dir=tmp_path)
    err = info.value
    assert err.iteration == 6  # the guard runs first: it sees the NaN in iteration 6's losses
    assert "iteration 6" in str(err) and "restored" in str(err)
    assert_same_state(reference, model)
    assert err.checkpoint == tmp_path / "checkpoints" / "ckpt-00000005.npz"
    assert str(err.checkpoint) in str(err)
    assert_same_state(reference, wgangp.load(err.checkpoint))
    last = read_history(tmp_path / "history.jsonl")[-1]
    assert last["iteration"] == 6 and np.isnan(last["critic_loss"])
    assert [f.name for f in wgangp.diagnose(model.history_)] == ["divergence"]


def test_guard_catches_a_nan_parameter_in_the_same_iteration(X):
    reference = small().fit(X, steps=3)
    model = small()
    with pytest.raises(TrainingDiverged, match="critic W1") as info:
        model.fit(X, steps=10, callbacks=[PoisonAt(4), DivergenceGuard()])
    assert info.value.iteration == 4 and info.value.checkpoint is None
    assert_same_state(reference, model)


def test_guard_catches_a_non_finite_loss(X):
    model = small().fit(X, steps=2)
    guard = DivergenceGuard()
    guard.on_train_begin(model)
    before = params_of(model)
    record = dict(model.history_[-1], generator_loss=float("inf"))
    with pytest.raises(TrainingDiverged, match="generator_loss=inf"):
        guard.on_iteration_end(model, 3, record)
    assert model.stop_training is True
    for p, q in zip(before, params_of(model)):
        np.testing.assert_array_equal(p, q)


def test_resume_after_divergence_continues_from_the_kept_checkpoint(X, tmp_path):
    model = small()
    with pytest.raises(TrainingDiverged):
        model.fit(X, steps=20, callbacks=[PoisonAt(5)], run_dir=tmp_path)
    resumed = small().fit(X, steps=3, resume=tmp_path)
    assert_same_state(small().fit(X, steps=8), resumed)


# ------------------------------------------------------------- progress bar --


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_shows_iteration_w_estimate_and_penalty_on_a_terminal(X):
    out = FakeTerminal()
    small().fit(X, steps=3, callbacks=[ProgressBar(file=out)])
    text = out.getvalue()
    assert "W=" in text and "gp=" in text and "3/3" in text


def test_progress_off_a_terminal_is_a_line_every_tenth_with_rate_and_time_left(X, capsys):
    small().fit(X, steps=20, verbose=1)  # pytest's captured stdout is not a terminal
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 10
    assert lines[0].strip().startswith("iter       2  ( 10%)") and lines[-1].count("(100%)") == 1
    assert all("ms/it" in line and "left" in line and "W " in line for line in lines)


def test_progress_prints_at_least_every_interval(X):
    out = io.StringIO()
    small().fit(X, steps=3, callbacks=[ProgressBar(file=out, interval=0.0)])
    assert len(out.getvalue().splitlines()) == 3


def test_verbose_0_prints_nothing(X, capsys):
    out = io.StringIO()
    small().fit(X, steps=2, callbacks=[ProgressBar(verbose=0, file=FakeTerminal())])
    small().fit(X, steps=2, callbacks=[ProgressBar(verbose=0, file=out)])
    small().fit(X, steps=2)
    assert capsys.readouterr().out == "" and out.getvalue() == ""


def test_a_terminal_without_tqdm_gets_lines(X, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    out = FakeTerminal()
    small().fit(X, steps=2, callbacks=[ProgressBar(file=out)])
    assert "iter" in out.getvalue() and "ms/it" in out.getvalue()


class Broken(io.StringIO):
    def write(self, text):
        raise OSError(28, "No space left on device")


@pytest.mark.parametrize("out", [Broken(), None], ids=["full disk", "no stdout"])
def test_progress_that_cannot_be_written_never_stops_training(X, out, monkeypatch, caplog):
    if out is None:
        monkeypatch.setattr(sys, "stdout", None)
    model = small().fit(X, steps=5, callbacks=[ProgressBar(file=out, interval=0.0)])
    assert model.n_iter_ == 5


# --------------------------------------------------------------- tensorboard --


def test_tensorboard_logger_writes_scalars_and_histograms(X, tmp_path):
    pytest.importorskip("tensorboardX")
    tb = TensorBoardLogger(tmp_path / "tb", every=1, histogram_every=2, X=X)
    model = small()
    model.fit(X, steps=4, callbacks=[tb])
    assert tb.writer is None  # closed at the end of training
    events = list((tmp_path / "tb").glob("events.out.tfevents.*"))
    assert events and events[0].stat().st_size > 1000
    assert_same_state(small().fit(X, steps=4), model)  # its draws never touch training


def test_missing_tensorboardx_names_the_extra(X, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboardX", None)
    with pytest.raises(ImportError, match=r"wgangp\[tensorboard\]"):
        small().fit(X, steps=1, callbacks=[TensorBoardLogger(tmp_path)])


# ------------------------------------------------------------------ protocol --


def test_every_callback_gets_on_train_end_even_when_one_fails(X):
    ended = []

    class Fails(Callback):
        def on_train_end(self, model):
            raise ValueError("first")

    class Records(Callback):
        def on_train_end(self, model):
            ended.append(model.n_iter_)

    with pytest.raises(ValueError, match="first"):
        small().fit(X, steps=2, callbacks=[Fails(), Records()])
    assert ended == [2]


def test_stop_training_stops_after_the_iteration(X):
    class Stop(Callback):
        def on_iteration_end(self, model, iteration, record):
            model.stop_training = iteration == 3

    model = small().fit(X, steps=10, callbacks=[Stop()], log_every=5)
    assert model.n_iter_ == 3 and model.history_[-1]["iteration"] == 3


def test_partial_fit_calls_continue_the_same_run_folder(X, tmp_path):
    model = small()
    for _ in range(3):
        model.partial_fit(X, steps=2, run_dir=tmp_path)
    on_disk = [r["iteration"] for r in read_history(tmp_path / "history.jsonl")]
    assert on_disk == [1, 2, 3, 4, 5, 6]
    assert latest_checkpoint(tmp_path).name == "ckpt-00000006.npz"


def test_a_torn_last_line_is_dropped_when_the_run_continues(X, tmp_path):
    model = small().fit(X, steps=2, run_dir=tmp_path)
    with (tmp_path / "history.jsonl").open("a") as fh:
        fh.write('{"iteration": 3, "crit')
    model.partial_fit(X, steps=1, run_dir=tmp_path)
    assert [r["iteration"] for r in read_history(tmp_path / "history.jsonl")] == [1, 2, 3]
