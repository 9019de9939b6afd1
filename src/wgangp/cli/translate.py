"""``translate`` and ``transform``: unpaired translation between two data files.

``wgangp translate --source A.csv --target B.csv --out RUN`` trains a
:class:`wgangp.Translator` into a run folder (``history.jsonl``,
``checkpoints/``, ``model.npz``); ``wgangp transform RUN --input A.csv -o
out.csv`` translates rows from A to B (``--inverse``: from B to A).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..modelfile import load
from ..runs import MODEL_FILE
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
    "n_critic",
    "batch_size",
    "threads",
)
"""The Translator parameters that ``wgangp translate`` offers as flags."""


def _rows(source: str, flag: str) -> np.ndarray:
    if source in ("digits",) or Path(source).suffix.lower() not in DATA_SUFFIXES:
        raise UsageError(f"{flag} {source}: give a .csv, .npy or .parquet file")
    return load_data(check_data_source(source), 0, 0)


def cmd_translate(args) -> int:
    run_dir = Path(args.out)
    check_out(run_dir, args.overwrite)
    A, B = _rows(args.source, "--source"), _rows(args.target, "--target")
    params = {k: getattr(args, k) for k in TRANSLATOR_FLAGS if getattr(args, k) is not None}
    model = Translator(random_state=args.seed, **params)
    with new_run(run_dir, args.overwrite):  # locked from here to the end
        say(
            f"translating {Path(args.source).name} ({A.shape[0]} rows) <-> "
            f"{Path(args.target).name} ({B.shape[0]} rows), {A.shape[1]} columns, for "
            f"{args.steps} iterations into {run_dir}"
        )
        model.fit(A, B, steps=args.steps, run_dir=run_dir, checkpoint_every=args.checkpoint_every)
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
    X = _rows(args.input, "--input")
    rows = model.inverse_transform(X) if args.inverse else model.transform(X)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix.lower() == ".npy":
        np.save(out, rows)
    else:
        header = csv_header(check_data_source(args.input), rows.shape[1])
        np.savetxt(out, rows, delimiter=",", header=",".join(header), comments="", fmt="%.9g")
    way = "B to A" if args.inverse else "A to B"
    say(f"translated {len(rows)} rows ({way}) to {out} (model: {path})")
    return EXIT_OK
