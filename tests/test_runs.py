"""runs: the run folder's marker, lock, what may be deleted, and a start that fails."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

import wgangp
from wgangp import WGANGP, RunFolderError, runs
from wgangp.errors import InvalidDataError, ModelFileError

SRC = str(Path(wgangp.__file__).resolve().parent.parent)


def small_model(seed: int = 0) -> WGANGP:
    return WGANGP(hidden=8, depth=1, batch_size=16, random_state=seed)


def data(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(64, 2))


def hold_lock(run_dir: Path) -> subprocess.Popen:
    """Another process that holds the folder's lock until it is killed."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from wgangp.runs import RunLock
        with RunLock({str(run_dir)!r}):
            print("held", flush=True)
            time.sleep(120)
        """
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, env=env)
    assert proc.stdout.readline().strip() == b"held"
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.kill()
    proc.wait()
    proc.stdout.close()


def test_a_second_writer_is_refused_naming_the_folder_and_the_holders_pid(tmp_path):
    run = tmp_path / "run"
    small_model().fit(data(), steps=2, run_dir=run)
    holder = hold_lock(run)
    try:
        with pytest.raises(RunFolderError, match=rf"{run}.*pid {holder.pid}"):
            small_model(1).fit(data(1), steps=2, run_dir=run)
        with pytest.raises(RunFolderError, match=f"pid {holder.pid}"):
            small_model().fit(data(), steps=2, resume=run)
        # reading while it is held is safe: the checkpoint loads and samples
        assert wgangp.load(runs.latest_checkpoint(run)).sample(3, random_state=0).shape == (3, 2)
        assert [p.name for p in runs.list_checkpoints(run / runs.CHECKPOINT_DIR)] == [
            "ckpt-00000002.npz"
        ]
    finally:
        stop(holder)


def test_a_killed_writer_leaves_no_stale_lock(tmp_path):
    holder = hold_lock(tmp_path)
    os.kill(holder.pid, signal.SIGKILL)
    stop(holder)
    with runs.RunLock(tmp_path) as lock:
        assert lock.held


def test_the_lock_is_reentrant_within_a_process_and_released_after(tmp_path):
    with runs.RunLock(tmp_path):
        with runs.RunLock(tmp_path):
            pass
        small_model().fit(data(), steps=1, run_dir=tmp_path)  # fit takes it again
    code = f"from wgangp.runs import RunLock\nwith RunLock({str(tmp_path)!r}): print('ok')"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        env={**os.environ, "PYTHONPATH": SRC},
        check=True,
    )
    assert out.stdout.strip() == b"ok"


def test_two_fits_started_together_into_one_folder_one_is_refused(tmp_path):
    run = tmp_path / "run"
    script = textwrap.dedent(
        f"""
        import sys, time, numpy as np
        from wgangp import WGANGP, Callback, RunFolderError

        class Slow(Callback):  # each run takes long enough for the two to overlap
            def on_iteration_end(self, model, iteration, record):
                time.sleep(0.5)

        X = np.random.default_rng(int(sys.argv[1])).normal(size=(64, 2))
        time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
        try:
            WGANGP(hidden=8, depth=1, batch_size=16, random_state=0).fit(
                X, steps=6, run_dir={str(run)!r}, checkpoint_every=2, callbacks=[Slow()])
        except RunFolderError as exc:
            print("refused", exc)
        else:
            print("done")
        """
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    start = str(time.time() + 2.0)
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(seed), start], stdout=subprocess.PIPE, env=env
        )
        for seed in (1, 2)
    ]
    outs = sorted(p.communicate(timeout=120)[0].decode().split()[0] for p in procs)
    for p in procs:
        p.stdout.close()
    assert outs == ["done", "refused"]


def test_a_folder_is_a_run_only_with_our_marker_and_something_to_resume_from(tmp_path):
    user = tmp_path / "user"
    user.mkdir()
    (user / "config.toml").write_text("mine = true\n")
    (user / "report.html").write_text("<p>mine</p>")
    assert not runs.is_run_dir(user)
    assert runs.foreign_files(user) == ["config.toml", "report.html"]
    with pytest.raises(RunFolderError, match="not a run folder of wgangp.*nothing in it"):
        runs.clear_run(user)
    assert (user / "config.toml").read_text() == "mine = true\n"

    started = tmp_path / "started"
    runs.mark_run(started)
    assert runs.read_marker(started)["format_version"] == runs.RUN_FORMAT_VERSION
    assert not runs.is_run_dir(started)  # marked, but nothing to resume from
    run = tmp_path / "run"
    small_model().fit(data(), steps=2, run_dir=run)
    assert runs.is_marked(run) and runs.is_run_dir(run)


def test_clear_run_deletes_only_the_files_of_the_layout(tmp_path):
    small_model().fit(data(), steps=2, run_dir=tmp_path)
    (tmp_path / "notes.txt").write_text("keep")
    (tmp_path / runs.CHECKPOINT_DIR / "mine.npz").write_bytes(b"keep")
    (tmp_path / "samples").mkdir()
    (tmp_path / "samples" / "iter_2.npy").write_bytes(b"x")
    (tmp_path / "samples" / "mine.npy").write_bytes(b"keep")
    (tmp_path / "marginals.png").write_bytes(b"x")
    runs.clear_run(tmp_path)
    left = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert left == [
        runs.LOCK_FILE,
        runs.MARKER_FILE,
        "checkpoints/mine.npz",
        "notes.txt",
        "samples/mine.npy",
    ]
    assert not runs.is_run_dir(tmp_path)


def test_a_start_that_fails_leaves_the_folder_as_it_was(tmp_path):
    new = tmp_path / "new"
    with pytest.raises(RuntimeError), runs.start_run(new):
        (new / runs.CONFIG_FILE).write_text("x = 1\n")
        raise RuntimeError("failed before the first checkpoint")
    assert not new.exists()

    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "data.csv").write_text("x\n1\n")
    with pytest.raises(InvalidDataError):
        small_model().fit(np.full((8, 2), np.nan), steps=2, run_dir=kept)
    assert sorted(p.name for p in kept.iterdir()) == ["data.csv"]
    with pytest.raises(ModelFileError, match="no checkpoint"):
        small_model().fit(data(), steps=2, resume=kept)
    assert sorted(p.name for p in kept.iterdir()) == ["data.csv"]


def test_a_start_that_fails_after_a_checkpoint_keeps_the_run(tmp_path):
    small_model().fit(data(), steps=2, run_dir=tmp_path)
    with pytest.raises(RuntimeError), runs.start_run(tmp_path):
        raise RuntimeError("later failure")
    assert runs.is_run_dir(tmp_path)
    assert runs.latest_checkpoint(tmp_path).name == "ckpt-00000002.npz"
