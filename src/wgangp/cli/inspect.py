"""The commands that use a trained run: sample, evaluate, report, gradcheck, diagnose.

Each checks its arguments, calls the library's API and prints the result.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from .. import config
from ..history import read_history
from ..model import WGANGP
from ..modelfile import load
from ..runs import HISTORY_FILE, run_dir_of
from ..tabular import TabularSynthesizer
from ..tabular.frames import as_frame
from .exits import EXIT_FAILURE, EXIT_OK, UsageError, say
from .sources import (
    csv_header,
    data_name,
    evaluation_data,
    load_data,
    model_path,
    run_config,
)


def cmd_sample(args) -> int:
    out = Path(args.output)
    suffix = out.suffix.lower()
    if suffix not in (".csv", ".npy"):  # samples are not written as Parquet
        raise UsageError(f"-o {out}: the output must end in .csv or .npy")
    if out.exists() and not args.overwrite:
        raise UsageError(f"-o {out} exists; choose another name or pass --overwrite to replace it")
    path = model_path(args.run)
    model = load(path)
    samples = model.sample(args.n, random_state=args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    if hasattr(samples, "to_csv"):  # a table model's rows: a DataFrame
        if suffix != ".csv":
            raise UsageError(f"-o {out}: a table model's rows are written as .csv")
        samples.to_csv(out, index=False)
    elif suffix == ".npy":
        np.save(out, samples)
    else:
        cfg = run_config(run_dir_of(path))
        header = csv_header(cfg["data"] if cfg else None, samples.shape[1])
        np.savetxt(out, samples, delimiter=",", header=",".join(header), comments="", fmt="%.9g")
    say(f"wrote {args.n} samples x {samples.shape[1]} columns to {out} (model: {path})")
    return EXIT_OK


def cmd_evaluate(args) -> int:
    path = model_path(args.run)
    source, X_real = evaluation_data(args.data, run_dir_of(path))
    model = load(path)
    if X_real.shape[1] != model.n_features_in_:
        raise UsageError(
            f"--data {source} has {X_real.shape[1]} columns but the model makes "
            f"{model.n_features_in_}"
        )
    from ..report import evaluate, format_metrics

    # -n sizes both the toy sets' mode statistics and the exact W1; without it,
    # evaluate's own defaults (the benchmarks' sizes).
    sizes = {} if args.n is None else {"n_samples": args.n, "n_w1": args.n}
    rows = evaluate(model, X_real, data_name(source), random_state=args.seed, **sizes)
    if args.json:
        doc = {
            "model": str(path),
            "iteration": model.n_iter_,
            "data": source,
            "metrics": [{k: _json_number(v) for k, v in r.items()} for r in rows],
        }
        say(json.dumps(doc, indent=2))
    else:
        say(f"{path} (iteration {model.n_iter_}) against {source}\n")
        say(format_metrics(rows))
    return EXIT_OK


def _json_number(value):
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


def cmd_report(args) -> int:
    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir} is not a run folder")
    path = model_path(run_dir)
    model = load(path)
    if isinstance(model, TabularSynthesizer):
        if args.data is None:
            raise UsageError(
                "a table model's report compares with real rows: pass --data TABLE.csv"
            )
        from ..report import write_tabular_report

        real = as_frame(args.data, "--data")
        out = write_tabular_report(run_dir, model, real, target=args.target)
        say(f"report: {out}")
        return EXIT_OK
    source, X_real = evaluation_data(args.data, run_dir)
    from ..report import write_report

    history_file = run_dir / HISTORY_FILE
    history = read_history(history_file) if history_file.is_file() else None
    out = write_report(run_dir, model, X_real=X_real, history=history, data_name=data_name(source))
    say(f"report: {out}")
    return EXIT_OK


def cmd_gradcheck(args) -> int:
    if (args.run is None) == (args.config is None):
        raise UsageError("gradcheck needs a RUN_DIR (or model file) or --config run.toml, not both")
    if args.run is not None:
        path = model_path(args.run)
        model = load(path)
        what = str(path)
    else:
        cfg = config.load(args.config)
        if cfg["data"] is None:
            raise UsageError(f"{args.config} sets no data; gradcheck needs its column count")
        X = load_data(
            cfg["data"],
            cfg["n_rows"],
            cfg["seed"],
            stream=cfg["stream"],
            window_rows=cfg["window_rows"],
        )
        # One iteration builds the networks exactly as the run would.
        model = WGANGP(**config.estimator_params(cfg)).fit(X, steps=1)
        what = f"{args.config} (after one iteration)"
    from ..gradcheck import gradcheck

    result = gradcheck(model, n_samples=args.samples)
    if args.json:
        say(json.dumps({"model": what, **result.to_dict()}, indent=2, default=_json_number))
    else:
        say(f"gradcheck of {what}\n")
        say(result)
    return EXIT_OK if result.passed else EXIT_FAILURE


def _run_settings(folder: Path) -> dict | None:
    """The estimator settings of a run folder, for the remedies to quote: its
    ``config.toml``, else its model file; None when it has neither (or they
    cannot be read: the history alone is still diagnosed)."""
    try:
        cfg = run_config(folder)
        if cfg is not None:
            return config.estimator_params(cfg)
        return load(model_path(folder)).get_params()
    except (OSError, ValueError, TypeError, UsageError):
        return None


def cmd_diagnose(args) -> int:
    run_dir = Path(args.run_dir)
    history = run_dir / HISTORY_FILE if run_dir.is_dir() else run_dir
    if not history.is_file():
        raise UsageError(f"no training history at {history}; train with --out {run_dir} first")
    from ..diagnose import diagnose

    findings = diagnose(history, settings=_run_settings(history.parent))
    if args.json:
        say(json.dumps([f.to_dict() for f in findings], indent=2))
        return EXIT_OK
    if not findings:
        say(f"{history}: no problems found")
        return EXIT_OK
    say(f"{history}: {len(findings)} finding(s)\n")
    say("\n\n".join(str(f) for f in findings))
    return EXIT_OK
