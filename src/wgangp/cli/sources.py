"""Where the commands' inputs come from: data sources, run folders and model files."""

from __future__ import annotations

import contextlib
import csv
import shlex
from pathlib import Path

import numpy as np

from .. import config
from ..data import TOY_DATASETS
from ..runs import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    MARKER_FILE,
    MODEL_FILE,
    clear_run,
    foreign_files,
    is_marked,
    is_run_dir,
    list_checkpoints,
    start_run,
)
from .exits import UsageError

DATA_NAMES = (*TOY_DATASETS, "digits")
DATA_SUFFIXES = (".csv", ".npy", ".parquet")


def check_data_source(source: str) -> str:
    """A toy name or ``digits`` as is; a .csv / .npy / .parquet path made absolute (it must
    exist)."""
    if source in DATA_NAMES:
        return source
    path = Path(source)
    if path.suffix.lower() not in DATA_SUFFIXES:
        raise UsageError(
            f"data {source!r} is neither a built-in set ({', '.join(DATA_NAMES)}) "
            "nor a .csv, .npy or .parquet file"
        )
    if path.is_dir():
        raise UsageError(f"data {source!r} is a directory; give a .csv, .npy or .parquet file")
    if not path.is_file():
        raise UsageError(f"data file {source!r} does not exist")
    return str(path.resolve())


def load_data(
    source: str,
    n_rows: int,
    seed: int,
    rank: int = 0,
    size: int = 1,
    stream: bool = False,
    window_rows: int | None = None,
):
    """The training rows of a data source (toy sets are drawn with ``seed``).

    Under ``mpiexec`` (``size`` ranks), rank ``rank``'s contiguous share of
    them: a file is read by row range or row group (:func:`wgangp.data.rank_rows`),
    never whole on every rank; a built-in set is drawn whole and split. With
    ``stream``, a :class:`wgangp.data.RowStream` of that share, read by
    training a window of ``window_rows`` rows at a time.
    """
    from .. import data
    from ..parallel import rank_bounds

    source = check_data_source(source)
    if stream:
        if not source.lower().endswith((".parquet", ".npy")):
            raise UsageError(
                f"--stream reads a .parquet or .npy file a window at a time; {source!r} is "
                "not one (convert a CSV with pandas: pd.read_csv(...).to_parquet(...), or "
                "train without --stream)"
            )
        return data.RowStream(source, rank, size, window_rows or data.WINDOW_ROWS)
    if source in DATA_NAMES:
        if source == "digits":
            X = data.load_digits(return_labels=False)
        else:
            X = data.toy(source, n_rows, random_state=seed)
        start, stop = rank_bounds(len(X), rank, size)
        return X[start:stop]
    if size == 1 and source.lower().endswith(".csv"):
        return data.load_csv(source)  # the same rows, with load_csv's messages line by line
    return data.rank_rows(source, rank, size)


def data_name(source: str) -> str | None:
    """The name the metrics know a source by (a toy set or digits), else None."""
    return source if source in DATA_NAMES else None


def csv_header(source: str | None, n_columns: int) -> list[str]:
    """Column names for sampled rows: the training CSV's header when it has one (a
    Parquet file's column names)."""
    default = [f"x{i}" for i in range(n_columns)]
    if source and source.lower().endswith(".parquet") and Path(source).is_file():
        from ..data import parquet_column_names

        try:
            names = parquet_column_names(source)
        except (ImportError, ValueError):
            return default
        return names if len(names) == n_columns else default
    if not source or not source.lower().endswith(".csv") or not Path(source).is_file():
        return default
    with open(source, newline="", encoding="utf-8-sig") as fh:
        for row in csv.reader(fh):
            cells = [c.strip() for c in row]
            if not any(cells):
                continue
            try:
                [float(c) for c in cells]
            except ValueError:
                return cells if len(cells) == n_columns else default
            return default
    return default


def run_config(run_dir: Path) -> dict | None:
    """The run's ``config.toml``, resolved; None (not an error) when the folder has none.

    Commands that also take a bare model file use None to fall back to flags
    and defaults.
    """
    path = run_dir / CONFIG_FILE
    return config.load(path) if path.is_file() else None


def model_path(location) -> Path:
    """The model file of a run folder (``model.npz``, or its newest checkpoint), or a file."""
    location = Path(location)
    if location.is_file():
        return location
    if not location.is_dir():
        raise UsageError(f"{location} is neither a run folder nor a model file")
    candidates = [p for p in (location / MODEL_FILE,) if p.is_file()]
    checkpoints = list_checkpoints(location / CHECKPOINT_DIR)
    if checkpoints:
        candidates.append(checkpoints[-1])
    if not candidates:
        raise UsageError(
            f"{location} holds no model ({MODEL_FILE} or {CHECKPOINT_DIR}/ckpt-*.npz); "
            f"train one with: wgangp train --data 8gaussians --out {location}"
        )
    return max(candidates, key=lambda p: p.stat().st_mtime_ns)


def evaluation_data(source: str | None, run_dir: Path) -> tuple[str, np.ndarray]:
    """The data to compare a model with: ``source`` (``--data``), else the run's own.

    The run's own source is drawn afresh (its seed plus one), not the rows it
    was trained on.
    """
    cfg = run_config(run_dir)
    source = source or (cfg["data"] if cfg else None)
    if source is None:
        raise UsageError("no data to compare with: pass --data (the run has no config.toml)")
    source = check_data_source(source)
    n_rows = cfg["n_rows"] if cfg else config.defaults()["n_rows"]
    seed = (cfg["seed"] if cfg else 0) + 1  # fresh rows, not the training draw
    if cfg and cfg.get("stream") and source == cfg["data"]:
        # a file trained on a window at a time is never loaded whole: a sample of its rows
        sample = load_data(source, n_rows, seed, stream=True, window_rows=cfg["window_rows"])
        return source, sample.sample(n_rows, seed)
    return source, load_data(source, n_rows, seed)


def check_out(run_dir: Path, overwrite: bool, flag: str = "--out") -> None:
    """Refuse a run folder to write that holds a run (unless ``--overwrite``) or files
    not ours (always: ``--overwrite`` deletes only a run's own files)."""
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"{flag} {run_dir} exists and is not a folder")
    quoted = shlex.quote(str(run_dir))
    if is_run_dir(run_dir) and not overwrite:
        raise UsageError(
            f"{run_dir} already holds a run; choose another {flag}, or pass --overwrite "
            f"to replace it (a WGAN-GP run continues with 'wgangp resume {quoted}')"
        )
    foreign = foreign_files(run_dir)
    if foreign:
        raise UsageError(
            f"{flag} {run_dir} holds {', '.join(foreign[:4])}"
            f"{' and more' if len(foreign) > 4 else ''} but is not a run folder of wgangp "
            f"(no {MARKER_FILE}); a run would overwrite them, and --overwrite deletes only "
            f"a run's own files. Choose another {flag} (an older wgangp's run continues "
            f"with 'wgangp resume {quoted}')"
        )


@contextlib.contextmanager
def new_run(run_dir: Path, overwrite: bool, flag: str = "--out"):
    """Hold ``run_dir`` for a new run: locked, checked again now that no one else
    can write it, and cleared of the run it replaces (or of what a killed start
    left); a start that fails before its first checkpoint leaves it as it was.

    Every command that starts a run folder (train, fit-table, translate) goes
    through here; call :func:`check_out` first to refuse early, before loading data.
    """
    with start_run(run_dir):
        check_out(run_dir, overwrite, flag)
        if is_marked(run_dir):
            clear_run(run_dir)
        yield run_dir
