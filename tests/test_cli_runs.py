"""The command line and its run folders: one writer, only our files deleted, failed
starts undone, and training that does not depend on the terminal."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import wgangp
from test_cli import TINY, _argv, _env, run_cli
from wgangp import runs


def _locked_by_another(run_dir) -> subprocess.Popen:
    code = textwrap.dedent(
        f"""
        import time
        from wgangp.runs import RunLock
        with RunLock({str(run_dir)!r}):
            print("held", flush=True)
            time.sleep(120)
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code], stdout=subprocess.PIPE, env=_env(), text=True
    )
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_train_or_resume_of_a_folder_is_refused_naming_the_holder(tmp_path):
    first = run_cli("train", *TINY, "--steps", 4, "--out", "run", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    before = (tmp_path / "run" / "model.npz").read_bytes()
    holder = _locked_by_another(tmp_path / "run")
    try:
        commands = [
            ("train", *TINY, "--steps", 4, "--out", "run", "--overwrite"),
            ("resume", "run", "--steps", 2),
        ]
        for args in commands:
            result = run_cli(*args, cwd=tmp_path)
            assert result.returncode == 2, result.stderr
            assert f"run folder run is being written by another run (pid {holder.pid})" in (
                result.stderr
            )
        sampled = run_cli("sample", "run", "-n", 5, "-o", "s.csv", cwd=tmp_path)
        assert sampled.returncode == 0, sampled.stderr  # readers need no lock
    finally:
        holder.kill()
        holder.wait()
        holder.stdout.close()
    assert (tmp_path / "run" / "model.npz").read_bytes() == before


def test_overwrite_never_deletes_files_of_a_folder_that_is_not_a_run(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    files = {"config.toml": "x = 1\n", "report.html": "<p>mine</p>", "history.csv": "a\n1\n"}
    for name, text in files.items():
        (mine / name).write_text(text)
    for extra in ([], ["--overwrite"]):
        result = run_cli("train", *TINY, "--steps", 2, "--out", "mine", *extra, cwd=tmp_path)
        assert result.returncode == 2
        assert "is not a run folder of wgangp" in result.stderr
    assert {p.name: p.read_text() for p in mine.iterdir()} == files


def test_a_failed_start_leaves_no_folder_and_the_corrected_retry_runs(tmp_path):
    (tmp_path / "one.csv").write_text("x,y\n1,2\n")
    failed = run_cli("train", "--data", "one.csv", "--no-report", "--out", "run", cwd=tmp_path)
    assert failed.returncode == 2 and "at least 2 rows" in failed.stderr
    assert not (tmp_path / "run").exists()
    (tmp_path / "one.csv").write_text("x,y\n" + "".join(f"{i},{i % 3}\n" for i in range(40)))
    args = ["--hidden", "8", "--depth", "1", "--batch-size", "8", "--steps", "3", "--no-report"]
    retry = run_cli("train", "--data", "one.csv", *args, "--out", "run", cwd=tmp_path)
    assert retry.returncode == 0, retry.stderr
    assert runs.is_run_dir(tmp_path / "run")
    assert wgangp.load(tmp_path / "run" / "model.npz").n_iter_ == 3


def test_a_killed_start_before_its_first_checkpoint_does_not_block_a_new_train(tmp_path):
    run = tmp_path / "run"
    runs.mark_run(run)
    (run / "config.toml").write_text("steps = 3\n")  # all a start killed early leaves
    resumed = run_cli("resume", "run", cwd=tmp_path)
    assert resumed.returncode == 2 and "no checkpoint to resume from" in resumed.stderr
    result = run_cli("train", *TINY, "--steps", 2, "--out", "run", cwd=tmp_path)
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX shell")
@pytest.mark.parametrize(
    "redirect", [">&-", ">/dev/full", "| head -1"], ids=["closed", "full", "pipe"]
)
def test_training_does_not_depend_on_stdout(tmp_path, redirect):
    command = " ".join(map(str, _argv(["train", *TINY, "--steps", 30, "--out", "run"])))
    script = f'{command} {redirect}; echo "exit=${{PIPESTATUS[0]}}" >&2'
    result = subprocess.run(
        ["bash", "-c", script], cwd=tmp_path, env=_env(), capture_output=True, text=True
    )
    assert "exit=0" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "Error" not in result.stderr, result.stderr
    assert wgangp.load(tmp_path / "run" / "model.npz").n_iter_ == 30


def test_resume_after_the_data_changed_is_refused_unless_allow_new_data(tmp_path):
    data = tmp_path / "d.csv"
    rows = np.random.default_rng(0).normal(size=(64, 2))
    np.savetxt(data, rows, delimiter=",", header="a,b", comments="")
    args = ["--hidden", "8", "--depth", "1", "--batch-size", "16", "--no-report"]
    first = run_cli("train", "--data", data, *args, "--steps", 2, "--out", "run", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    np.savetxt(data, rows * 1000, delimiter=",", header="a,b", comments="")
    refused = run_cli("resume", "run", "--steps", 1, cwd=tmp_path)
    assert refused.returncode == 2 and "--allow-new-data" in refused.stderr
    allowed = run_cli("resume", "run", "--steps", 1, "--allow-new-data", cwd=tmp_path)
    assert allowed.returncode == 0, allowed.stderr
    assert "other data" in allowed.stderr and "the same shape, other values" in allowed.stderr
