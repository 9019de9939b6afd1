"""The run folder: its layout, its checkpoints, and what ``--overwrite`` may delete.

A run folder (``fit(..., run_dir=...)``, ``wgangp train --out RUN``) holds::

    RUN/
      config.toml          the run's configuration (CLI runs)
      model.npz            the final model (CLI runs)
      history.jsonl        one JSON record per logged iteration
      history.csv          the same as CSV, rewritten at the end of each call
      checkpoints/         ckpt-<iteration, 8 digits>.npz, the last few kept
      samples/             iter_<iteration>.npy snapshots of generated samples
      report.html          the report and its figures

Every module that reads or writes a run folder takes these names from here.

>>> checkpoint_name(1200)
'ckpt-00001200.npz'
"""

from __future__ import annotations

import re
from pathlib import Path

from .errors import ModelFileError

__all__ = [
    "CHECKPOINT_DIR",
    "CONFIG_FILE",
    "HISTORY_CSV",
    "HISTORY_FILE",
    "MODEL_FILE",
    "REPORT_FILE",
    "RUN_FILES",
    "SAMPLES_DIR",
    "checkpoint_iteration",
    "checkpoint_name",
    "clear_run",
    "is_run_dir",
    "latest_checkpoint",
    "list_checkpoints",
    "run_dir_of",
]

CONFIG_FILE = "config.toml"
MODEL_FILE = "model.npz"
HISTORY_FILE = "history.jsonl"
HISTORY_CSV = "history.csv"
REPORT_FILE = "report.html"
CHECKPOINT_DIR = "checkpoints"
SAMPLES_DIR = "samples"
RUN_FILES = (CONFIG_FILE, MODEL_FILE, HISTORY_FILE, HISTORY_CSV, REPORT_FILE)
"""Files a run writes at the top of its folder."""

CHECKPOINT_PATTERN = re.compile(r"^ckpt-(\d+)\.npz$")
SNAPSHOT_PATTERN = re.compile(r"^iter_(\d+)\.npy$")


def checkpoint_name(iteration: int) -> str:
    """The file name of the checkpoint after ``iteration`` iterations."""
    return f"ckpt-{iteration:08d}.npz"


def checkpoint_iteration(path) -> int | None:
    """The iteration a checkpoint file's name records, or None for other names."""
    match = CHECKPOINT_PATTERN.match(Path(path).name)
    return int(match.group(1)) if match else None


def list_checkpoints(directory) -> list[Path]:
    """``ckpt-<iteration>.npz`` files of a folder, oldest iteration first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        iteration = checkpoint_iteration(path)
        if iteration is not None:
            found.append((iteration, path))
    return [path for _, path in sorted(found)]


def latest_checkpoint(location, must_exist: bool = False) -> Path | None:
    """The checkpoint to resume from: a file as is, else the last one of a run folder.

    ``location`` is a checkpoint file, a run folder (its ``checkpoints/``
    subfolder is searched) or a checkpoints folder.

    Raises
    ------
    ModelFileError
        When ``must_exist`` and no checkpoint is found.
    """
    location = Path(location)
    if location.is_file():
        return location
    candidates = list_checkpoints(location / CHECKPOINT_DIR) or list_checkpoints(location)
    if candidates:
        return candidates[-1]
    if must_exist:
        raise ModelFileError(
            f"no checkpoint to resume from in {location} (looked for "
            f"{location / CHECKPOINT_DIR}/ckpt-<iteration>.npz); train with "
            "run_dir=... first, or pass a checkpoint file"
        )
    return None


def run_dir_of(model_file) -> Path:
    """The run folder of a model file: ``RUN/model.npz`` or ``RUN/checkpoints/*``."""
    parent = Path(model_file).parent
    return parent.parent if parent.name == CHECKPOINT_DIR else parent


def is_run_dir(path) -> bool:
    """Whether ``path`` is a folder that holds a run's files or checkpoints."""
    path = Path(path)
    return path.is_dir() and (
        any((path / name).exists() for name in RUN_FILES)
        or bool(list_checkpoints(path / CHECKPOINT_DIR))
    )


def clear_run(run_dir) -> None:
    """Delete the files a run wrote in ``run_dir`` (by the layout), and nothing else."""
    run_dir = Path(run_dir)
    for name in RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)
    for path in list_checkpoints(run_dir / CHECKPOINT_DIR):
        path.unlink()
    samples = run_dir / SAMPLES_DIR
    if samples.is_dir():
        for path in samples.iterdir():
            if SNAPSHOT_PATTERN.match(path.name):
                path.unlink()
