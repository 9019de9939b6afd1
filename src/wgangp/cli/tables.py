"""The table commands: ``fit-table`` (a synthesizer into a run folder) and ``augment``.

Both fit a :class:`wgangp.TabularSynthesizer` on a CSV or Parquet table with text,
category, integer, continuous and missing values; ``fit-table`` keeps the
model in a run folder for ``wgangp sample`` and ``wgangp report`` later,
``augment`` adds synthetic rows to the rare classes and scores a classifier
without and with them. Under ``mpiexec`` each rank trains on its share of
the rows (data-parallel, :mod:`wgangp.parallel`) and rank 0 alone writes and
prints; ``fit-table`` reads only that share of the file
(:func:`wgangp.tabular.frames.read_table_share`), ``augment`` the whole table
(its holdout split and the augmented file need every row).
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import numpy as np

from ..parallel import launched_comm
from ..runs import MODEL_FILE
from .exits import EXIT_OK, UsageError, say
from .sources import check_out, new_run


def _table_path(value: str, command: str) -> Path:
    data = Path(value)
    if data.suffix.lower() not in (".csv", ".parquet"):
        raise UsageError(f"{command} reads a .csv or .parquet table; got {value!r}")
    if not data.is_file():
        raise UsageError(f"data file {value!r} does not exist")
    return data


def _synthesizer_params(args) -> dict:
    return {
        key: getattr(args, key)
        for key in ("hidden", "lr", "batch_size", "threads", "backend", "device")
        if getattr(args, key, None) is not None
    }


def cmd_fit_table(args) -> int:
    data = _table_path(args.data, "fit-table")
    run_dir = Path(args.out) if args.out else Path("runs") / data.stem
    comm = launched_comm(os.environ)
    rank = 0 if comm is None else comm.Get_rank()
    if rank == 0:  # another rank's check could see the run that rank 0 started
        check_out(run_dir, args.overwrite)
    from ..tabular import TabularSynthesizer
    from ..tabular.frames import as_frame, read_table_share

    if comm is None:
        frame = as_frame(str(data), "data", sep=args.sep)
        rows = len(frame)
    else:  # launched by mpiexec: each rank reads and trains on its share of the rows
        share = read_table_share(str(data), rank, comm.Get_size(), "data", sep=args.sep)
        frame = as_frame(share, "data")
        rows = comm.allreduce(len(frame))
    discrete = None
    if args.discrete is not None:
        discrete = [c.strip() for c in args.discrete.split(",") if c.strip()]
        unknown = [c for c in discrete if c not in frame.columns]
        if unknown:
            raise UsageError(
                f"--discrete names {unknown}, which are not columns of {data}; "
                f"its columns are {list(frame.columns)}"
            )
        from ..tabular.scores import infer_discrete_columns

        # the columns named are categories too, beside the text and boolean ones
        inferred = infer_discrete_columns(frame, comm=comm)
        discrete = list(dict.fromkeys([*inferred, *discrete]))
    synth = TabularSynthesizer(
        discrete_columns=discrete, random_state=args.seed, **_synthesizer_params(args)
    )
    if comm is not None:
        if rank != 0:
            with np.errstate(all="ignore"):
                synth.fit(frame, steps=args.steps, run_dir=run_dir, comm=comm)
            return EXIT_OK
    with new_run(run_dir, args.overwrite):  # locked from here to the end
        ranks = "" if comm is None else f" on {comm.Get_size()} MPI ranks"
        say(
            f"fitting a table model on {data.name} ({rows} rows x "
            f"{frame.shape[1]} columns){ranks} into {run_dir}"
        )
        with np.errstate(all="ignore"):
            synth.fit(frame, steps=args.steps, verbose=1, run_dir=run_dir, comm=comm)
        synth.save(run_dir / MODEL_FILE)
    say(f"model:  {run_dir / MODEL_FILE}")
    if args.report:
        try:
            from ..report import write_tabular_report

            path = write_tabular_report(run_dir, synth, frame, target=args.target)
        except ImportError as exc:
            say(f"report: skipped ({exc})")
        else:
            say(f"report: {path}")
    quoted = shlex.quote(str(run_dir))
    out = shlex.quote(str(run_dir / "synthetic.csv"))
    say(f"next:   wgangp sample {quoted} -n 1000 -o {out}")
    return EXIT_OK


def cmd_augment(args) -> int:
    data = _table_path(args.data, "augment")
    out = Path(args.output)
    if out.suffix.lower() != ".csv":
        raise UsageError(f"-o {out}: the augmented table is written as .csv")
    params = _synthesizer_params(args)
    from ..tabular import augment

    comm = launched_comm(os.environ)
    with np.errstate(all="ignore"):
        augmented, table = augment(
            str(data),
            args.target,
            args.rows,
            minority=args.minority,
            holdout=args.holdout,
            steps=args.steps,
            random_state=args.seed,
            verbose=1,
            run_dir=args.save,
            mark_synthetic=args.mark_synthetic,
            sep=args.sep,
            comm=comm,
            **params,
        )
    if comm is not None and comm.Get_rank() != 0:
        return EXIT_OK  # rank 0 alone writes and prints
    out.parent.mkdir(parents=True, exist_ok=True)
    augmented.to_csv(out, index=False)
    say(f"{len(augmented)} rows, real then {args.rows} synthetic, written to {out}\n")
    if args.save:
        say(f"synthesizer: {Path(args.save) / MODEL_FILE}")
    say(f"holdout scores of a classifier of {args.target!r}, without and with the rows:")
    say(table.to_string(float_format=lambda v: f"{v:.4f}"))
    return EXIT_OK
