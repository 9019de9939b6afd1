"""benchmarks/gpu_step_time.py is ready to run on a GPU: its arguments, its refusal
without CUDA, and a dry run on the CPU (the GPU timings themselves need a GPU)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_step_time.py"
sys.path.insert(0, str(SCRIPT.parent))

gpu_step_time = pytest.importorskip("gpu_step_time")


def _run(*args, timeout=240):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


def test_defaults_are_the_three_sizes_and_every_gpu_implementation():
    args = gpu_step_time.parse_args([])
    assert args.device == "cuda"
    assert args.configs == ["h512-b256", "h1024-b1024", "h2048-b4096"]
    assert args.impls == list(gpu_step_time.GPU_IMPLS)


def test_gpu_only_implementations_are_refused_on_the_cpu(capsys):
    with pytest.raises(SystemExit):
        gpu_step_time.parse_args(["--device", "cpu", "--impls", "torch-graph"])
    assert "does not run on --device cpu" in capsys.readouterr().err


def test_an_unknown_size_is_refused(capsys):
    with pytest.raises(SystemExit):
        gpu_step_time.parse_args(["--configs", "h7-b7"])
    assert "is not one of" in capsys.readouterr().err


def test_without_cuda_it_stops_at_once_saying_why():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():  # pragma: no cover - a machine with a GPU
        pytest.skip("a CUDA GPU is present")
    done = _run("--quick")
    assert done.returncode == gpu_step_time.EXIT_NO_GPU
    assert "no CUDA GPU" in done.stderr and "--device cpu" in done.stderr


@pytest.mark.slow
def test_cpu_dry_run_times_every_cpu_implementation(tmp_path):
    pytest.importorskip("torch")
    out = tmp_path / "dry.json"
    done = _run("--device", "cpu", "--quick", "--warmup", "1", "--json", str(out))
    assert done.returncode == 0, done.stderr
    result = json.loads(out.read_text())
    (row,) = result["results"]
    assert row["errors"] == {}
    assert set(row["s_per_iteration"]) == set(gpu_step_time.CPU_IMPLS)
    assert all(s > 0 for s in row["s_per_iteration"].values()) and row["floor_s"] > 0
    assert "load_average" in result["environment"]
