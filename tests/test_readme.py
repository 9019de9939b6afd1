"""The README's Python quickstart runs as written."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_block(heading: str, language: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split(f"## {heading}\n", 1)[1]
    return section.split(f"```{language}\n", 1)[1].split("```", 1)[0]


def test_readme_python_quickstart_runs_as_written(tmp_path):
    code = readme_block("Python quickstart", "python")
    assert len(code.strip().splitlines()) <= 11  # the imports and ten lines
    check = "\nassert samples.shape == (1000, 2) and again.n_iter_ == 500\nprint('quickstart ok')"
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    result = subprocess.run(
        [sys.executable, "-c", code + check],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    float(lines[0])  # the critic's W1 estimate
    assert lines[-1] == "quickstart ok" and (tmp_path / "model.npz").is_file()
