"""Crashes: training killed with SIGKILL at several points never leaves a torn
checkpoint, and resuming from the last checkpoint is bit for bit the run that
was never interrupted.

A small script trains in a subprocess and saves a checkpoint every
``EVERY`` iterations, either with ``model.save`` from a callback or through a
run folder (``fit(run_dir=..., checkpoint_every=...)``: the monitor's
Checkpoint and DivergenceGuard), and resumes with ``load(...).partial_fit`` or
``fit(resume=True)``. Hooks in that script (switched on by
environment variables, never in the library) stop it at the moment to kill:
before any checkpoint, between two checkpoints, halfway through writing a
checkpoint's bytes, and after a checkpoint is written and synced but before it
is renamed into place. Every subprocess runs single-threaded BLAS, so that the
runs are deterministic and comparable bit for bit.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import wgangp
from wgangp import load
from wgangp.errors import ModelFileError

STEPS, EVERY = 10, 2
SRC = str(Path(wgangp.__file__).resolve().parent.parent)

SCRIPT = r"""
import io, os, sys, time
import numpy as np
import wgangp
from wgangp import WGANGP, Callback, load

mode, out = sys.argv[1], sys.argv[2]
steps, every = int(sys.argv[3]), int(sys.argv[4])
hook = os.environ.get("CRASH_HOOK", "")            # e.g. "torn:6"
hook_kind, _, hook_at = hook.partition(":")
X = np.random.default_rng(0).normal(size=(120, 3)) * [1.0, 3.0, 0.5]


def say(line):
    print(line, flush=True)


def hang(line):
    say(line)
    time.sleep(120)                                 # killed here
    sys.exit("not killed")


real_savez, real_replace = np.savez, os.replace
state = {"iteration": 0}


def savez_hooked(fh, **arrays):
    if hook_kind == "torn" and state["iteration"] == int(hook_at):
        buf = io.BytesIO()
        real_savez(buf, **arrays)
        data = buf.getvalue()
        fh.write(data[: len(data) // 2])
        fh.flush()
        os.fsync(fh.fileno())
        hang(f"torn {state['iteration']}")
    real_savez(fh, **arrays)


def replace_hooked(src, dst):
    if hook_kind == "unrenamed" and state["iteration"] == int(hook_at):
        hang(f"unrenamed {state['iteration']}")
    real_replace(src, dst)


np.savez, os.replace = savez_hooked, replace_hooked


class SaveEvery(Callback):
    def __init__(self, save=True):
        self.save = save

    def on_iteration_end(self, model, iteration, record):
        state["iteration"] = iteration
        if self.save and iteration % every == 0:
            model.save(os.path.join(out, f"ckpt-{iteration:06d}.npz"))
            say(f"saved {iteration}")
        if hook_kind == "between" and iteration == int(hook_at) + 1:
            hang(f"between {iteration}")


def estimator():
    return WGANGP(hidden=16, depth=2, batch_size=32, n_critic=2, optimizer="adam",
                  random_state=7)


if mode in ("train", "monitor"):
    model = estimator()
    say("started")
    if hook_kind == "start":
        hang("start 0")
    if mode == "train":
        model.fit(X, steps=steps, callbacks=[SaveEvery()])
    else:                                           # the monitor's checkpoints
        model.fit(X, steps=steps, callbacks=[SaveEvery(save=False)], run_dir=out,
                  checkpoint_every=every, keep_checkpoints=100)
elif mode == "monitor-resume":                      # the last checkpoint of the run folder
    from wgangp.monitor import latest_checkpoint

    last = latest_checkpoint(out)
    done = 0 if last is None else load(last).n_iter_
    model = estimator().fit(X, steps=steps - done, run_dir=out, resume=True,
                            checkpoint_every=every, keep_checkpoints=100)
else:                                               # resume from a checkpoint file
    model = load(mode)
    model.partial_fit(X, steps=steps - model.n_iter_)
model.save(os.path.join(out, "final.npz"))
say("done")
"""


def _env():
    env = dict(os.environ)
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    env.pop("CRASH_HOOK", None)
    return env


def _run(script, mode, out, hook=None, kill_on=None, timeout=90):
    """Run the script; with ``kill_on``, SIGKILL it once it prints that line."""
    env = _env()
    if hook:
        env["CRASH_HOOK"] = hook
    proc = subprocess.Popen(
        [sys.executable, str(script), mode, str(out), str(STEPS), str(EVERY)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(x.strip()) for x in proc.stdout])
    reader.start()
    seen = []
    try:
        while True:
            line = lines.get(timeout=timeout)
            seen.append(line)
            if kill_on is not None and line == kill_on:
                proc.send_signal(signal.SIGKILL)
                break
            if line == "done":
                break
    finally:
        if proc.poll() is None and kill_on is None:
            proc.wait(timeout=timeout)
        proc.wait(timeout=timeout)
        reader.join(timeout=timeout)
        stderr = proc.stderr.read()
        proc.stdout.close()
        proc.stderr.close()
    if kill_on is not None:
        assert proc.returncode == -signal.SIGKILL, (proc.returncode, seen, stderr)
    else:
        assert proc.returncode == 0, (seen, stderr)
    return seen


def _state(model) -> list[np.ndarray]:
    arrays = list(model.generator_.params) + list(model.critic_.params)
    for opt in (model.generator_optimizer_, model.critic_optimizer_):
        state = opt.state_dict()
        for slot in opt.slots:
            arrays.extend(state[slot])
    return arrays


def _assert_same(a, b):
    assert a.n_iter_ == b.n_iter_ and a.n_critic_steps_ == b.n_critic_steps_
    assert a._rng.bit_generator.state == b._rng.bit_generator.state
    for p, q in zip(_state(a), _state(b)):
        np.testing.assert_array_equal(p, q)


@pytest.fixture(scope="module")
def script(tmp_path_factory):
    path = tmp_path_factory.mktemp("crash") / "train.py"
    path.write_text(SCRIPT)
    return path


@pytest.fixture(scope="module")
def reference(script, tmp_path_factory):
    """The uninterrupted run: its checkpoints and final model."""
    out = tmp_path_factory.mktemp("reference")
    _run(script, "train", out)
    return out


def _iteration(path: Path) -> int:
    return int(path.stem.split("-")[1])


def _checkpoints(folder: Path) -> list[Path]:
    return sorted(folder.glob("ckpt-*.npz"), key=_iteration)


def test_the_uninterrupted_run_is_reproducible(script, reference, tmp_path):
    _run(script, "train", tmp_path)
    _assert_same(load(tmp_path / "final.npz"), load(reference / "final.npz"))


@pytest.mark.parametrize("writer", ["model.save", "run folder"])
@pytest.mark.parametrize(
    "hook,kill_on,last_good",
    [
        ("start:0", "start 0", None),
        ("between:4", "between 5", 4),
        ("torn:6", "torn 6", 4),
        ("unrenamed:8", "unrenamed 8", 6),
    ],
    ids=["before any checkpoint", "between checkpoints", "mid-write", "before rename"],
)
def test_kill_leaves_no_torn_checkpoint_and_resume_is_bit_exact(
    script, reference, tmp_path, hook, kill_on, last_good, writer
):
    run = tmp_path / "run"
    run.mkdir()
    monitor = writer == "run folder"
    _run(script, "monitor" if monitor else "train", run, hook=hook, kill_on=kill_on)
    folder = run / "checkpoints" if monitor else run

    checkpoints = _checkpoints(folder)
    expected = [] if last_good is None else list(range(EVERY, last_good + 1, EVERY))
    assert [_iteration(p) for p in checkpoints] == expected
    for path in checkpoints:  # none torn: each loads, and equals the reference's
        _assert_same(load(path), load(reference / f"ckpt-{_iteration(path):06d}.npz"))

    leftovers = sorted(folder.glob(".*.wgangp-tmp"))
    if kill_on.startswith(("torn", "unrenamed")):
        # the write in progress stayed in its temporary file; the name it was
        # going to have does not exist
        assert len(leftovers) == 1
        assert int(kill_on.split()[1]) not in [_iteration(p) for p in _checkpoints(folder)]
        if kill_on.startswith("torn"):
            with pytest.raises(ModelFileError):
                load(leftovers[0])
    else:
        assert leftovers == []

    if monitor:  # resume the run folder where it stopped
        _run(script, "monitor-resume", run)
        final = run / "final.npz"
    else:
        resumed = tmp_path / "resumed"
        resumed.mkdir()
        _run(script, str(checkpoints[-1]) if checkpoints else "train", resumed)
        final = resumed / "final.npz"
    _assert_same(load(final), load(reference / "final.npz"))


def test_cli_train_killed_then_resumed_ends_where_the_uninterrupted_run_ends(tmp_path):
    """``wgangp train`` killed with SIGKILL at an arbitrary moment after its first
    checkpoint; ``wgangp resume`` finishes bit for bit like an uninterrupted run."""
    pytest.importorskip("wgangp.cli")
    args = ["train", "--data", "8gaussians", "--n-rows", "256", "--hidden", "8"]
    args += ["--depth", "1", "--batch-size", "32", "--steps", "1500", "--seed", "3"]
    args += ["--checkpoint-every", "50", "--keep-checkpoints", "100", "--no-report"]

    def cli(*argv):
        return subprocess.Popen(
            [sys.executable, "-m", "wgangp", *argv],
            cwd=tmp_path,
            env=_env(),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )

    reference = cli(*args, "--out", "reference")
    crashed = cli(*args, "--out", "run")
    checkpoints = tmp_path / "run" / "checkpoints"
    deadline = time.monotonic() + 120
    while not list(checkpoints.glob("ckpt-*.npz")) and crashed.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint written"
        time.sleep(0.01)
    crashed.send_signal(signal.SIGKILL)
    crashed.wait(timeout=60)
    crashed.stderr.close()
    assert reference.wait(timeout=300) == 0, reference.stderr.read()
    reference.stderr.close()
    if crashed.returncode != -signal.SIGKILL:
        pytest.skip("the run finished before it could be killed")

    assert not (tmp_path / "run" / "model.npz").exists()
    for path in checkpoints.glob("ckpt-*.npz"):  # none torn
        load(path)
    resumed = cli("resume", "run")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    resumed.stderr.close()
    _assert_same(load(tmp_path / "run" / "model.npz"), load(tmp_path / "reference" / "model.npz"))
