"""The run folder: its layout, its marker and lock, its checkpoints, what may be deleted.

A run folder (``fit(..., run_dir=...)``, ``wgangp train --out RUN``) holds::

    RUN/
      .wgangp-run          the marker: JSON naming the format and its version,
                           written first; a folder is a run of ours only with it
      .wgangp-lock         the lock file: a run that writes the folder holds an
                           OS lock on it (it dies with the process) and its pid
      config.toml          the run's configuration (CLI runs)
      model.npz            the final model (CLI runs)
      history.jsonl        one JSON record per logged iteration
      history.csv          the same as CSV, rewritten at the end of each call
      checkpoints/         ckpt-<iteration, 8 digits>.npz, the last few kept
      samples/             iter_<iteration>.npy snapshots of generated samples
      report.html          the report and its figures (*.png of REPORT_FIGURES)

Every module that reads or writes a run folder takes these names from here.
A writer holds :class:`RunLock` (:func:`start_run` takes it, marks the
folder and cleans up a start that fails); readers (loading a checkpoint,
sampling, reports) never need it, since every file is written atomically.
A marked folder is a *run* (:func:`is_run_dir`) once it holds something to
resume from: a checkpoint or ``model.npz``. :func:`clear_run` deletes only
the files of this layout, and only in a marked folder.

>>> checkpoint_name(1200)
'ckpt-00001200.npz'
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from pathlib import Path

from ._version import __version__
from .errors import ModelFileError, RunFolderError
from .modelfile import remove_stale_temps

try:  # POSIX; elsewhere runs are not locked
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None

__all__ = [
    "CHECKPOINT_DIR",
    "CONFIG_FILE",
    "LOCK_FILE",
    "MARKER_FILE",
    "REPORT_FIGURES",
    "RUN_FORMAT",
    "RUN_FORMAT_VERSION",
    "RunLock",
    "HISTORY_CSV",
    "HISTORY_FILE",
    "MODEL_FILE",
    "REPORT_FILE",
    "RUN_FILES",
    "SAMPLES_DIR",
    "checkpoint_iteration",
    "checkpoint_name",
    "clear_run",
    "foreign_files",
    "has_resumable",
    "is_marked",
    "is_run_dir",
    "latest_checkpoint",
    "list_checkpoints",
    "mark_run",
    "read_marker",
    "run_dir_of",
    "start_run",
]

CONFIG_FILE = "config.toml"
MODEL_FILE = "model.npz"
HISTORY_FILE = "history.jsonl"
HISTORY_CSV = "history.csv"
REPORT_FILE = "report.html"
CHECKPOINT_DIR = "checkpoints"
SAMPLES_DIR = "samples"
MARKER_FILE = ".wgangp-run"
LOCK_FILE = ".wgangp-lock"
RUN_FORMAT = "wgangp-run"
RUN_FORMAT_VERSION = 1
RUN_FILES = (CONFIG_FILE, MODEL_FILE, HISTORY_FILE, HISTORY_CSV, REPORT_FILE)
"""Files a run writes at the top of its folder."""
REPORT_FIGURES = (
    "training_curves.png",
    "samples.png",
    "digits.png",
    "samples_over_time.png",
    "marginals.png",
    "correlations.png",
)
"""Figures the reports write beside ``report.html``."""

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


# --------------------------------------------------------------------------- #
# Marker: which folders are runs of ours.                                     #
# --------------------------------------------------------------------------- #


def read_marker(run_dir) -> dict | None:
    """The marker of a run folder as a dict, or None when it has none (or not ours)."""
    path = Path(run_dir) / MARKER_FILE
    try:
        if not path.is_file() or path.stat().st_size > 1 << 16:
            return None
        marker = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(marker, dict) or marker.get("format") != RUN_FORMAT:
        return None
    return marker


def is_marked(run_dir) -> bool:
    """Whether ``run_dir`` carries wgangp's run marker."""
    return read_marker(run_dir) is not None


def mark_run(run_dir) -> bool:
    """Make ``run_dir`` (created if missing) a run folder: write the marker, atomically.

    Returns whether the marker was written (False: it was there already).
    The marker is the first file of a run, so that every later file of the
    layout is known to be ours.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if is_marked(run_dir):
        return False
    marker = {
        "format": RUN_FORMAT,
        "format_version": RUN_FORMAT_VERSION,
        "wgangp_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    tmp = run_dir / f"{MARKER_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(marker) + "\n", encoding="utf-8")
    os.replace(tmp, run_dir / MARKER_FILE)
    return True


def has_resumable(run_dir) -> bool:
    """Whether ``run_dir`` holds something to resume from (a checkpoint or model.npz)."""
    run_dir = Path(run_dir)
    return bool(list_checkpoints(run_dir / CHECKPOINT_DIR)) or (run_dir / MODEL_FILE).is_file()


def is_run_dir(path) -> bool:
    """Whether ``path`` is a run of ours: marked, with something to resume from.

    A marked folder without a checkpoint or model is a start that failed:
    a new run may take it over.
    """
    path = Path(path)
    return path.is_dir() and is_marked(path) and has_resumable(path)


def _layout_files(run_dir: Path) -> list[Path]:
    """Files of the run layout present in ``run_dir`` (marker and lock excluded)."""
    found = [run_dir / name for name in (*RUN_FILES, *REPORT_FIGURES)]
    found = [path for path in found if path.is_file() or path.is_symlink()]
    found += list_checkpoints(run_dir / CHECKPOINT_DIR)
    samples = run_dir / SAMPLES_DIR
    if samples.is_dir():
        found += sorted(p for p in samples.iterdir() if SNAPSHOT_PATTERN.match(p.name))
    return found


def foreign_files(path) -> list[str]:
    """Files named like a run's in a folder without our marker (a user's own, or
    a run of a wgangp from before the marker): names a new run would overwrite."""
    path = Path(path)
    if not path.is_dir() or is_marked(path):
        return []
    return [str(p.relative_to(path)) for p in _layout_files(path)]


def clear_run(run_dir) -> list[Path]:
    """Delete the files a run wrote in ``run_dir`` (by the layout), and nothing else.

    Only a marked folder is cleared; the marker and the lock file stay.
    Returns the paths deleted.

    Raises
    ------
    RunFolderError
        When ``run_dir`` has no marker of wgangp (nothing is deleted).
    """
    run_dir = Path(run_dir)
    if not is_marked(run_dir):
        raise RunFolderError(
            f"{run_dir} is not a run folder of wgangp (it has no {MARKER_FILE} marker), "
            "so nothing in it was deleted; remove its files yourself or choose another folder"
        )
    removed = _layout_files(run_dir)
    for path in removed:
        path.unlink(missing_ok=True)
    for folder in (run_dir, run_dir / CHECKPOINT_DIR):
        removed += remove_stale_temps(folder)
    return removed


# --------------------------------------------------------------------------- #
# Lock: one writer per folder.                                                #
# --------------------------------------------------------------------------- #

_held: dict[str, list] = {}
"""Locks this process holds: real path of the folder -> [file descriptor, depth]."""


class RunLock:
    """An exclusive OS lock on a run folder, held while a run writes it.

    ``fcntl.flock`` on ``RUN/.wgangp-lock``, which also records the holder's
    pid: the kernel drops the lock when the process ends, however it ends,
    so a killed run never leaves a stale lock. Re-entrant within a process
    (the CLI holds it around ``fit``, which takes it again). A second writer
    gets :class:`~wgangp.errors.RunFolderError` at once, naming the folder
    and the holder's pid. On systems without ``fcntl`` nothing is locked.

    >>> import tempfile
    >>> with RunLock(tempfile.mkdtemp()) as lock:
    ...     lock.held
    True
    """

    def __init__(self, run_dir):
        self.run_dir = Path(run_dir)
        self.held = False
        self._key = None

    def __enter__(self) -> RunLock:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        key = os.path.realpath(self.run_dir)
        if key in _held:
            _held[key][1] += 1
        else:
            _held[key] = [self._acquire(), 1]
        self._key = key
        self.held = True
        return self

    def _acquire(self) -> int | None:
        if fcntl is None:  # pragma: no cover - Windows
            return None
        path = self.run_dir / LOCK_FILE
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = os.read(fd, 32).decode("ascii", "replace").strip() or "unknown"
            os.close(fd)
            raise RunFolderError(
                f"run folder {self.run_dir} is being written by another run (pid {holder}); "
                "wait for it to finish, or write to another folder. Reading it (resume "
                "from a copy of a checkpoint, sample, report) is safe meanwhile"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        return fd

    def __exit__(self, *exc) -> None:
        entry = _held.get(self._key)
        self.held = False
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _held[self._key]
        fd = entry[0]
        if fd is not None:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)  # closing the descriptor releases the lock


@contextlib.contextmanager
def start_run(run_dir):
    """Write a run folder: lock it, mark it, and undo a start that fails.

    On an exception with nothing to resume from in the folder (no
    checkpoint, no model), the start is undone: in a folder that was ours
    already, every file of the layout goes (it could only be a failed
    start's); in any other folder, only the files of the layout that this
    start created, then the marker, and the folder itself when this start
    created it. The folder is then as it was, and a corrected retry is not
    refused. Yields the folder as a ``Path``.
    """
    run_dir = Path(run_dir)
    created = not run_dir.exists()
    lock_file_new = not (run_dir / LOCK_FILE).exists()
    with RunLock(run_dir):
        ours = is_marked(run_dir)
        before = set() if ours else set(_layout_files(run_dir))
        mark_run(run_dir)
        try:
            yield run_dir
        except BaseException:
            if not has_resumable(run_dir):
                _undo_start(run_dir, before, created, not ours, lock_file_new)
            raise


def _undo_start(run_dir: Path, before: set, created: bool, unmark: bool, unlock: bool) -> None:
    with contextlib.suppress(OSError):
        for path in set(_layout_files(run_dir)) - before:
            path.unlink(missing_ok=True)
        for sub in (CHECKPOINT_DIR, SAMPLES_DIR):
            if (run_dir / sub).is_dir() and not any((run_dir / sub).iterdir()):
                (run_dir / sub).rmdir()
        if unmark:  # this start made the folder a run: it is not one any more
            (run_dir / MARKER_FILE).unlink(missing_ok=True)
        if unlock:
            (run_dir / LOCK_FILE).unlink(missing_ok=True)
        if created and not any(run_dir.iterdir()):
            run_dir.rmdir()
