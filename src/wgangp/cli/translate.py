"""``translate`` and ``transform``: unpaired translation between two data files.

``wgangp translate --source A.csv --target B.csv --out RUN`` trains a
:class:`wgangp.Translator` into a run folder (``history.jsonl``,
``checkpoints/``, ``model.npz``); ``wgangp transform RUN --input A.csv -o
out.csv`` translates rows from A to B (``--inverse``: from B to A).

Two CSV or Parquet files whose columns are all floating-point numbers (or
two .npy files) are translated as arrays; a file with a text, boolean or
integer column (or any CSV or Parquet file with ``--table``) as a table:
the translator encodes the columns of both files with one column
transformer, and ``transform`` writes a CSV with the original column names
and dtypes.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from ..modelfile import load
from ..runs import MODEL_FILE
from ..tabular.frames import read_table
from ..tabular.scores import infer_discrete_columns
from ..translate import Translator
from .exits import EXIT_OK, UsageError, say
from .sources import (
    DATA_SUFFIXES,
    check_data_source,
    check_out,
    csv_header,
    load_data,
    model_path,
    new_run,
)

TRANSLATOR_FLAGS = (
    "hidden",
    "depth",
    "residual",
    "lr",
    "lambda_gp",
    "lambda_cycle",
    "lambda_identity",
    "lambda_pairs",
    "n_critic",
    "batch_size",
    "tau",
    "threads",
    "backend",
    "device",
)
"""The Translator parameters that ``wgangp translate`` offers as flags."""

TABLE_SUFFIXES = (".csv", ".parquet")
"""Files a translator of tables reads (it writes CSV)."""


def _rows(source: str, flag: str) -> np.ndarray:
    if source in ("digits",) or Path(source).suffix.lower() not in DATA_SUFFIXES:
        raise UsageError(f"{flag} {source}: give a .csv, .npy or .parquet file")
    return load_data(check_data_source(source), 0, 0)


def _is_table(source: str) -> bool:
    """Whether a data file needs the column transformer: a CSV with a header, or a
    Parquet file, with a column that is not floating point (text, boolean, integer)."""
    path = check_data_source(source)
    if not path.lower().endswith(TABLE_SUFFIXES):
        return False
    if path.lower().endswith(".csv"):
        with open(path, newline="", encoding="utf-8-sig", errors="replace") as fh:
            first = next((line for line in fh if line.strip()), "")
        if all(_is_number(c.strip().strip('"')) for c in re.split(r"[,;\t|]", first)):
            return False  # no header: a numeric array
    frame = read_table(path, "data")
    return any(frame[c].dtype.kind != "f" for c in frame.columns)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _table(source: str, flag: str):
    if Path(source).suffix.lower() not in TABLE_SUFFIXES:
        raise UsageError(f"{flag} {source}: a table translator reads .csv or .parquet files")
    return read_table(check_data_source(source), flag.lstrip("-"))


def _discrete_columns(args, A, B) -> list | None:
    """``--discrete``: the listed columns besides those inferred in either domain."""
    if args.discrete is None:
        return None
    listed = [c.strip() for c in args.discrete.split(",") if c.strip()]
    unknown = [c for c in listed if c not in A.columns]
    if unknown:
        raise UsageError(f"--discrete names {unknown}, which are not columns of {args.source}")
    inferred = [*infer_discrete_columns(A), *infer_discrete_columns(B)]
    return list(dict.fromkeys([*inferred, *listed]))


def _pairs(files, table: bool):
    """``--pairs P_A P_B``: row i of P_A (domain A) is known to translate to row i of P_B."""
    if files is None:
        return None
    if table:
        return tuple(_table(path, "--pairs") for path in files)
    return tuple(_rows(path, "--pairs") for path in files)


def _cycle_schedule(text: str | None) -> list:
    """``--cycle-schedule 3000:10,5000:40``: lambda_cycle along (iteration, value) points."""
    if text is None:
        return []
    from ..schedules import ParamSchedule

    try:
        return [ParamSchedule.from_text("lambda_cycle", text)]
    except ValueError as exc:  # the form, the order of the iterations
        raise UsageError(f"--cycle-schedule {exc}") from None


def _lr_decay(text: str | None) -> list:
    """``--lr-decay 6000:9000:0.1``: every optimizer's lr decayed geometrically to
    0.1 x lr from iteration 6000 to 9000."""
    if text is None:
        return []
    from ..schedules import ExponentialDecay

    try:
        return [ExponentialDecay.from_text(text)]
    except ValueError as exc:  # the form, the order of the iterations, the fraction
        raise UsageError(f"--lr-decay {exc}") from None


def cmd_translate(args) -> int:
    run_dir = Path(args.out)
    check_out(run_dir, args.overwrite)
    table = args.table or args.discrete is not None
    table = table or any(_is_table(s) for s in (args.source, args.target))
    if table:
        A, B = _table(args.source, "--source"), _table(args.target, "--target")
    else:
        A, B = _rows(args.source, "--source"), _rows(args.target, "--target")
    pairs = _pairs(args.pairs, table)
    params = {k: getattr(args, k) for k in TRANSLATOR_FLAGS if getattr(args, k) is not None}
    if table:
        params["discrete_columns"] = _discrete_columns(args, A, B)
    model = Translator(random_state=args.seed, **params)
    with new_run(run_dir, args.overwrite):  # locked from here to the end
        say(
            f"translating {Path(args.source).name} ({A.shape[0]} rows) <-> "
            f"{Path(args.target).name} ({B.shape[0]} rows), {A.shape[1]} columns"
            f"{' (a table)' if table else ''}, for {args.steps} iterations into {run_dir}"
        )
        model.fit(
            A,
            B,
            steps=args.steps,
            run_dir=run_dir,
            checkpoint_every=args.checkpoint_every,
            callbacks=_cycle_schedule(args.cycle_schedule) + _lr_decay(args.lr_decay),
            pairs=pairs,
        )
        model.save(run_dir / MODEL_FILE)
    last = model.history_[-1]
    say(
        f"done: {model.n_iter_} iterations; W estimates {last['wasserstein_a']:.3g} (A), "
        f"{last['wasserstein_b']:.3g} (B), cycle error {last['cycle_error']:.3g}; "
        f"model: {run_dir / MODEL_FILE}"
    )
    try:
        from ..report import write_translation_report

        report = write_translation_report(run_dir, model, A, B)
    except ImportError as exc:
        say(f"report: skipped ({exc})")
    else:
        say(f"report: {report}")
    return EXIT_OK


def cmd_transform(args) -> int:
    out = Path(args.output)
    if out.suffix.lower() not in (".csv", ".npy"):  # rows are not written as Parquet
        raise UsageError(f"-o {out}: the output must end in .csv or .npy")
    if out.exists() and not args.overwrite:
        raise UsageError(f"-o {out} exists; choose another name or pass --overwrite to replace it")
    path = model_path(args.run)
    model = load(path)
    if not isinstance(model, Translator):
        raise UsageError(f"{path} holds a {type(model).__name__}, not a Translator")
    if model.transformer_ is not None:
        if out.suffix.lower() != ".csv":
            raise UsageError(f"-o {out}: a translator of tables writes a .csv file")
        X = _table(args.input, "--input")
    else:
        X = _rows(args.input, "--input")
    rows = model.inverse_transform(X) if args.inverse else model.transform(X)
    out.parent.mkdir(parents=True, exist_ok=True)
    if model.transformer_ is not None:
        rows.to_csv(out, index=False)
    elif out.suffix.lower() == ".npy":
        np.save(out, rows)
    else:
        header = csv_header(check_data_source(args.input), rows.shape[1])
        np.savetxt(out, rows, delimiter=",", header=",".join(header), comments="", fmt="%.9g")
    way = "B to A" if args.inverse else "A to B"
    say(f"translated {len(rows)} rows ({way}) to {out} (model: {path})")
    return EXIT_OK
