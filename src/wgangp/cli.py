"""The ``wgangp`` command line: train, sample, evaluate, report, diagnose, augment, ...

``wgangp COMMAND --help`` shows each command's flags and examples;
``python -m wgangp`` is the same program.

Exit codes
----------
0
    Success.
1
    Failure while running: training diverged, gradcheck failed, an optional
    extra is missing, an unexpected error.
2
    Bad usage: unknown flags, bad values, missing files, invalid TOML,
    unknown configuration keys. Nothing was trained.
130
    Interrupted by Ctrl-C. During training the first Ctrl-C finishes the
    current iteration, writes a checkpoint and ``model.npz``, and exits with
    130; ``wgangp resume RUN_DIR`` continues bit for bit. A second Ctrl-C
    aborts at once.

Errors are one line, ``wgangp: error: ...``; ``--debug`` adds the traceback.

This module only calls the library's API. Each command reaches the training
and monitoring code through one small adapter (``_train``, ``_evaluate``,
``_write_report``, ``_gradcheck``, ``_diagnose``).
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import math
import shlex
import signal
import sys
import time
import traceback
from pathlib import Path

import numpy as np

from . import config
from ._version import __version__
from .data import TOY_DATASETS
from .errors import (
    InvalidDataError,
    InvalidParameterError,
    InvalidParameterTypeError,
    ModelFileError,
    NotFittedError,
    TrainingDiverged,
    WGANGPError,
)
from .history import read_history
from .model import WGANGP
from .modelfile import load
from .plot import SampleSnapshots
from .runs import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    clear_run,
    is_run_dir,
    list_checkpoints,
    run_dir_of,
)
from .train import Callback

PROG = "wgangp"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
DATA_NAMES = (*TOY_DATASETS, "digits")
DATA_SUFFIXES = (".csv", ".npy")


class UsageError(Exception):
    """A command line that cannot run: exit code 2."""


# Exceptions that mean "the input is wrong", not "it broke while running".
USAGE_ERRORS = (
    UsageError,
    config.ConfigError,
    InvalidParameterError,
    InvalidParameterTypeError,
    InvalidDataError,
    ModelFileError,
    NotFittedError,
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
)


# --------------------------------------------------------------------------- #
# Data sources and run folders.                                               #
# --------------------------------------------------------------------------- #


def check_data_source(source: str) -> str:
    """A toy name or ``digits`` as is; a .csv / .npy path made absolute (it must exist)."""
    if source in DATA_NAMES:
        return source
    path = Path(source)
    if path.suffix.lower() not in DATA_SUFFIXES:
        raise UsageError(
            f"data {source!r} is neither a built-in set ({', '.join(DATA_NAMES)}) "
            "nor a .csv or .npy file"
        )
    if path.is_dir():
        raise UsageError(f"data {source!r} is a directory; give a .csv or .npy file")
    if not path.is_file():
        raise UsageError(f"data file {source!r} does not exist")
    return str(path.resolve())


def load_data(source: str, n_rows: int, seed: int) -> np.ndarray:
    """The training rows of a data source (toy sets are drawn with ``seed``)."""
    from . import data

    source = check_data_source(source)
    if source in TOY_DATASETS:
        return data.toy(source, n_rows, random_state=seed)
    if source == "digits":
        return data.load_digits(return_labels=False)
    if source.lower().endswith(".csv"):
        return data.load_csv(source)
    return data.load_npy(source)


def data_name(source: str) -> str | None:
    """The name the metrics know a source by (a toy set or digits), else None."""
    return source if source in DATA_NAMES else None


def csv_header(source: str | None, n_columns: int) -> list[str]:
    """Column names for sampled rows: the training CSV's header when it has one."""
    default = [f"x{i}" for i in range(n_columns)]
    if not source or not source.lower().endswith(".csv") or not Path(source).is_file():
        return default
    with open(source, newline="", encoding="utf-8") as fh:
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


def _run_config(run_dir: Path) -> dict | None:
    path = run_dir / CONFIG_FILE
    return config.load(path) if path.is_file() else None


def _checkpoints(run_dir: Path) -> list[Path]:
    """``RUN_DIR/checkpoints/ckpt-<iteration>.npz``, oldest first."""
    return list_checkpoints(run_dir / CHECKPOINT_DIR)


def model_path(location) -> Path:
    """The model file of a run folder (``model.npz``, or its newest checkpoint), or a file."""
    location = Path(location)
    if location.is_file():
        return location
    if not location.is_dir():
        raise UsageError(f"{location} is neither a run folder nor a model file")
    candidates = [p for p in (location / MODEL_FILE,) if p.is_file()]
    checkpoints = _checkpoints(location)
    if checkpoints:
        candidates.append(checkpoints[-1])
    if not candidates:
        raise UsageError(
            f"{location} holds no model ({MODEL_FILE} or {CHECKPOINT_DIR}/ckpt-*.npz); "
            f"train one with: wgangp train --data 8gaussians --out {location}"
        )
    return max(candidates, key=lambda p: p.stat().st_mtime_ns)


# --------------------------------------------------------------------------- #
# Adapters to the training, monitoring and report APIs.                       #
# --------------------------------------------------------------------------- #


def _train(
    model, X, steps: int, run_dir: Path, resume: Path | None, cfg: dict, callbacks, verbose: int
):
    """Train ``steps`` iterations with history, checkpoints and the divergence guard in ``run_dir``.

    ``resume`` is a checkpoint file to continue from (bit for bit), or None
    to start afresh. Returns the trained model.
    """
    return model.fit(
        X,
        steps=steps,
        callbacks=callbacks,
        verbose=verbose,
        log_every=cfg["log_every"],
        run_dir=run_dir,
        checkpoint_every=config.checkpoint_period(cfg),
        keep_checkpoints=cfg["keep_checkpoints"],
        resume=resume,
    )


def _read_history(run_dir: Path):
    """The run's ``history.jsonl`` as records, or None when it has none."""
    path = run_dir / HISTORY_FILE
    return read_history(path) if path.is_file() else None


def _evaluate(model, X_real, name: str | None, seed: int, n: int | None) -> list[dict]:
    """Metric rows (metric, model, real, better, note): the generator beside real data.

    ``n`` samples for the toy sets' mode statistics and exact W1 (None: the
    benchmark's 2,500 and 2,000).
    """
    from .report import evaluate

    sizes = {} if n is None else {"n_samples": n, "n_w1": n}
    return evaluate(model, X_real, name, random_state=seed, **sizes)


def _format_metrics(rows: list[dict]) -> str:
    from .report import format_metrics

    return format_metrics(rows)


def _write_report(run_dir: Path, model, X_real, name: str | None, history) -> Path:
    from .report import write_report

    return write_report(run_dir, model, X_real=X_real, history=history, data_name=name)


def _augment(data, target, rows, minority, holdout, steps, seed, params):
    from .tabular import augment

    return augment(
        str(data),
        target,
        rows,
        minority=minority,
        holdout=holdout,
        steps=steps,
        random_state=seed,
        **params,
    )


def _gradcheck(model, n_samples: int):
    from .gradcheck import gradcheck

    return gradcheck(model, n_samples=n_samples)


def _diagnose(history_path: Path):
    from .diagnose import diagnose

    return diagnose(history_path)


# --------------------------------------------------------------------------- #
# Training with progress lines and a clean Ctrl-C.                            #
# --------------------------------------------------------------------------- #


class ProgressLines(Callback):
    """Print one line every ~10% of the iterations of a call (and at the last one)."""

    def __init__(self, steps: int, file=None):
        self.steps = steps
        self.every = max(1, math.ceil(steps / 10))
        self.file = file

    def on_train_begin(self, model):
        self.first = getattr(model, "n_iter_", 0)
        self.start = time.perf_counter()

    def on_iteration_end(self, model, iteration, record):
        done = iteration - self.first
        if done % self.every and done != self.steps:
            return
        elapsed = time.perf_counter() - self.start
        print(
            f"  iter {iteration:>7}  ({100 * done / self.steps:3.0f}%)"
            f"  W {record['wasserstein']:9.4g}  penalty {record['penalty']:8.3g}"
            f"  grad norm {record['grad_norm_mean']:6.3g}"
            f"  {1000 * elapsed / done:7.1f} ms/it  {elapsed:7.1f} s",
            file=self.file or sys.stdout,
            flush=True,
        )


class StopOnInterrupt(Callback):
    """First Ctrl-C: stop after the current iteration (the run then checkpoints). Second: abort."""

    def __init__(self):
        self.requested = False

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(
            "\nwgangp: Ctrl-C: stopping after this iteration and writing a checkpoint "
            "(press Ctrl-C again to abort without one)",
            file=sys.stderr,
            flush=True,
        )

    @contextlib.contextmanager
    def installed(self):
        try:
            previous = signal.signal(signal.SIGINT, self._handler)
        except ValueError:  # not the main thread: leave Ctrl-C alone
            yield self
            return
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)

    def on_iteration_end(self, model, iteration, record):
        if self.requested:
            model.stop_training = True


def _run_training(model, X, cfg: dict, run_dir: Path, steps: int, resume: Path | None) -> int:
    tty = sys.stdout.isatty()
    use_bar = tty and _has_module("tqdm")
    callbacks = [] if use_bar else [ProgressLines(steps)]
    # The same 500 noise vectors every 10% of the run: the report's "samples over
    # training time". Sampling uses its own seed, never the training stream.
    every = max(1, cfg["steps"] // 10)
    callbacks.append(SampleSnapshots(every=every, n=500, run_dir=run_dir))
    callbacks.extend(_preset_callbacks(cfg))
    stop = StopOnInterrupt()
    callbacks.append(stop)
    start = time.perf_counter()
    # The divergence guard turns NaN and inf into a clear error; numpy's warnings
    # about them on the way would only be noise on the terminal.
    with stop.installed(), np.errstate(all="ignore"), _blas_threads(cfg["threads"]):
        try:
            model = _train(model, X, steps, run_dir, resume, cfg, callbacks, int(use_bar))
        except TrainingDiverged as exc:
            raise TrainingDiverged(
                f"{exc}; see 'wgangp diagnose {shlex.quote(str(run_dir))}'",
                exc.iteration,
                exc.checkpoint,
            ) from exc
        model.save(run_dir / MODEL_FILE)
    seconds = time.perf_counter() - start
    if stop.requested:
        print(
            f"interrupted at iteration {model.n_iter_}; checkpoint: {model.last_checkpoint_}\n"
            f"continue with: wgangp resume {shlex.quote(str(run_dir))}",
            flush=True,
        )
        return EXIT_INTERRUPTED
    print(f"trained {model.n_iter_} iterations in total ({steps} in {seconds:.1f} s)")
    print(f"model:  {run_dir / MODEL_FILE}")
    print(f"config: {run_dir / CONFIG_FILE}")
    if cfg["report"]:
        try:
            history = _read_history(run_dir)
            path = _write_report(run_dir, model, X, data_name(cfg["data"]), history)
        except ImportError as exc:
            print(f"report: skipped ({_one_line(exc)})")
        else:
            print(f"report: {path}")
    quoted = shlex.quote(str(run_dir))
    print(f"next:   wgangp sample {quoted} -n 1000 -o samples.csv   |   wgangp evaluate {quoted}")
    return EXIT_OK


def _blas_threads(n: int):
    """Limit BLAS threads to ``n`` (0: leave them) while training."""
    if n == 0:
        return contextlib.nullcontext()
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        raise ImportError(
            f"threads={n} needs threadpoolctl (it comes with scikit-learn): "
            "pip install 'wgangp[metrics]', or use threads = 0"
        ) from None
    return threadpool_limits(limits=n, user_api="blas")


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


# --------------------------------------------------------------------------- #
# Commands.                                                                   #
# --------------------------------------------------------------------------- #


def _flag_layer(args) -> dict:
    """The configuration values given as flags (None where a flag was not given)."""
    layer = {key: getattr(args, key, None) for key in config.RUN_PARAMS}
    layer["model"] = {key: getattr(args, key, None) for key in config.MODEL_PARAMS}
    return layer


def _preset_name(cfg: dict) -> str | None:
    """The toy preset a resolved configuration starts from, or None."""
    from .presets import TOY_PRESETS

    choice = cfg["preset"]
    if choice == "none":
        return None
    if choice == "auto":
        return cfg["data"] if cfg["data"] in TOY_PRESETS else None
    return choice


def _preset_layer(name: str) -> dict:
    """A configuration layer with a toy preset's steps and estimator parameters."""
    from .presets import get_preset, split_preset

    params, steps, _ = split_preset(get_preset(name))
    model = dict(params)
    if model.get("scale") is None and "scale" in model:
        model["scale"] = "none"
    if model.get("latent_dim") is None and "latent_dim" in model:
        model["latent_dim"] = "auto"
    return {"steps": steps, "model": model}


def _preset_callbacks(cfg: dict) -> list:
    """The preset's learning-rate schedule (on absolute iterations, so resuming is exact)."""
    from .presets import get_preset
    from .schedules import ExponentialDecay

    name = _preset_name(cfg)
    if name is None:
        return []
    preset = get_preset(name)
    decay = preset.get("lr_decay")
    if not decay:
        return []
    return [ExponentialDecay(**decay)]


def _resolved_config(args) -> dict:
    """Defaults, then the toy preset, then ``--config``, then flags; the data source checked."""
    layers = [config.load(args.config)] if getattr(args, "config", None) else []
    flags = _flag_layer(args)
    cfg = config.resolve(*layers, flags)
    name = _preset_name(cfg)
    if name is not None:
        cfg = config.resolve(_preset_layer(name), *layers, flags)
    if cfg["data"] is not None:
        cfg["data"] = check_data_source(cfg["data"])
    return cfg


def cmd_train(args) -> int:
    cfg = _resolved_config(args)
    if cfg["data"] is None:
        raise UsageError("no data: pass --data (e.g. --data 8gaussians) or set data in --config")
    if args.print_config:
        print(config.dumps(cfg), end="")
        return EXIT_OK
    label = Path(cfg["data"]).stem if cfg["data"] not in DATA_NAMES else cfg["data"]
    run_dir = Path(args.out) if args.out else Path("runs") / label
    if run_dir.exists() and not run_dir.is_dir():
        raise UsageError(f"--out {run_dir} exists and is not a folder")
    if is_run_dir(run_dir):
        if not args.overwrite:
            quoted = shlex.quote(str(run_dir))
            raise UsageError(
                f"{run_dir} already holds a run; continue it with 'wgangp resume {quoted}', "
                "choose another --out, or pass --overwrite to replace it"
            )
        clear_run(run_dir)
    X = load_data(cfg["data"], cfg["n_rows"], cfg["seed"])
    model = WGANGP(**config.estimator_params(cfg))
    run_dir.mkdir(parents=True, exist_ok=True)
    config.write(
        cfg,
        run_dir / CONFIG_FILE,
        command=f"wgangp train --config {run_dir / CONFIG_FILE} --out NEW_RUN_DIR",
    )
    source = cfg["data"] if cfg["data"] in DATA_NAMES else Path(cfg["data"]).name
    print(
        f"training WGAN-GP on {source} ({X.shape[0]} rows x {X.shape[1]} columns) for "
        f"{cfg['steps']} iterations into {run_dir}",
        flush=True,
    )
    return _run_training(model, X, cfg, run_dir, cfg["steps"], resume=None)


def cmd_resume(args) -> int:
    run_dir = Path(args.run_dir)
    cfg = _run_config(run_dir) if run_dir.is_dir() else None
    if cfg is None:
        raise UsageError(
            f"{run_dir} is not a run folder (no {CONFIG_FILE}); start one with "
            f"'wgangp train --data ... --out {run_dir}'"
        )
    checkpoints = _checkpoints(run_dir)
    if not checkpoints:
        raise UsageError(
            f"{run_dir} has no checkpoint to resume from ({CHECKPOINT_DIR}/ckpt-*.npz); "
            f"start it again with 'wgangp train --config {run_dir / CONFIG_FILE} "
            f"--out {run_dir} --overwrite'"
        )
    checkpoint = checkpoints[-1]
    done = load(checkpoint).n_iter_
    if args.steps is not None:
        steps = args.steps
    elif done >= cfg["steps"]:
        print(
            f"{run_dir} is complete ({done} of {cfg['steps']} iterations); "
            "pass --steps N to train N more"
        )
        return EXIT_OK
    else:
        steps = cfg["steps"] - done
    if done + steps != cfg["steps"]:
        cfg["steps"] = done + steps  # config.toml keeps reproducing the whole run
        config.write(
            cfg,
            run_dir / CONFIG_FILE,
            command=f"wgangp train --config {run_dir / CONFIG_FILE} --out NEW_RUN_DIR",
        )
    X = load_data(cfg["data"], cfg["n_rows"], cfg["seed"])
    model = WGANGP(**config.estimator_params(cfg))
    print(
        f"resuming {run_dir} from {checkpoint.name} (iteration {done}) for {steps} iterations",
        flush=True,
    )
    return _run_training(model, X, cfg, run_dir, steps, resume=checkpoint)


def cmd_sample(args) -> int:
    out = Path(args.output)
    suffix = out.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise UsageError(f"-o {out}: the output must end in .csv or .npy")
    path = model_path(args.run)
    model = load(path)
    samples = model.sample(args.n, random_state=args.seed)
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".npy":
        np.save(out, samples)
    else:
        cfg = _run_config(run_dir_of(path))
        header = csv_header(cfg["data"] if cfg else None, samples.shape[1])
        np.savetxt(out, samples, delimiter=",", header=",".join(header), comments="", fmt="%.9g")
    print(f"wrote {args.n} samples x {samples.shape[1]} columns to {out} (model: {path})")
    return EXIT_OK


def _evaluation_data(args, run_dir: Path) -> tuple[str, np.ndarray]:
    """The data to compare with: ``--data``, else the run's own."""
    cfg = _run_config(run_dir)
    source = args.data or (cfg["data"] if cfg else None)
    if source is None:
        raise UsageError("no data to compare with: pass --data (the run has no config.toml)")
    source = check_data_source(source)
    n_rows = cfg["n_rows"] if cfg else config.defaults()["n_rows"]
    seed = (cfg["seed"] if cfg else 0) + 1  # fresh rows, not the training draw
    return source, load_data(source, n_rows, seed)


def cmd_evaluate(args) -> int:
    path = model_path(args.run)
    source, X_real = _evaluation_data(args, run_dir_of(path))
    model = load(path)
    if X_real.shape[1] != model.n_features_in_:
        raise UsageError(
            f"--data {source} has {X_real.shape[1]} columns but the model makes "
            f"{model.n_features_in_}"
        )
    rows = _evaluate(model, X_real, data_name(source), args.seed, args.n)
    if args.json:
        doc = {
            "model": str(path),
            "iteration": model.n_iter_,
            "data": source,
            "metrics": [{k: _json_number(v) for k, v in r.items()} for r in rows],
        }
        print(json.dumps(doc, indent=2))
    else:
        print(f"{path} (iteration {model.n_iter_}) against {source}\n")
        print(_format_metrics(rows))
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
    source, X_real = _evaluation_data(args, run_dir)
    model = load(path)
    out = _write_report(run_dir, model, X_real, data_name(source), _read_history(run_dir))
    print(f"report: {out}")
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
        X = load_data(cfg["data"], cfg["n_rows"], cfg["seed"])
        # One iteration builds the networks exactly as the run would.
        model = WGANGP(**config.estimator_params(cfg)).fit(X, steps=1)
        what = f"{args.config} (after one iteration)"
    result = _gradcheck(model, args.samples)
    if args.json:
        print(json.dumps({"model": what, **result.to_dict()}, indent=2, default=_json_number))
    else:
        print(f"gradcheck of {what}\n")
        print(result)
    return EXIT_OK if result.passed else EXIT_FAILURE


def cmd_diagnose(args) -> int:
    run_dir = Path(args.run_dir)
    history = run_dir / HISTORY_FILE if run_dir.is_dir() else run_dir
    if not history.is_file():
        raise UsageError(f"no training history at {history}; train with --out {run_dir} first")
    findings = _diagnose(history)
    if args.json:
        print(json.dumps([f.to_dict() for f in findings], indent=2))
        return EXIT_OK
    if not findings:
        print(f"{history}: no problems found")
        return EXIT_OK
    print(f"{history}: {len(findings)} finding(s)\n")
    print("\n\n".join(str(f) for f in findings))
    return EXIT_OK


def cmd_augment(args) -> int:
    data = Path(args.data)
    if data.suffix.lower() != ".csv":
        raise UsageError(f"augment reads a .csv table; got {args.data!r}")
    if not data.is_file():
        raise UsageError(f"data file {args.data!r} does not exist")
    out = Path(args.output)
    if out.suffix.lower() != ".csv":
        raise UsageError(f"-o {out}: the augmented table is written as .csv")
    params = {
        key: getattr(args, key)
        for key in ("hidden", "lr", "batch_size")
        if getattr(args, key) is not None
    }
    with np.errstate(all="ignore"):
        augmented, table = _augment(
            data, args.target, args.rows, args.minority, args.holdout, args.steps, args.seed, params
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    augmented.to_csv(out, index=False)
    print(f"{len(augmented)} rows, real then {args.rows} synthetic, written to {out}\n")
    print(f"holdout scores of a classifier of {args.target!r}, without and with the rows:")
    print(table.to_string(float_format=lambda v: f"{v:.4f}"))
    return EXIT_OK


# --------------------------------------------------------------------------- #
# The parser.                                                                 #
# --------------------------------------------------------------------------- #


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _typed(name: str, spec: config.Param):
    """An argparse ``type`` that parses a flag's text and checks it as the config does."""

    spelled = spec.auto or spec.none

    def parse(text: str):
        if spelled is not None and text == spelled:
            return text
        try:
            value = {"int": int, "float": float}.get(spec.kind, str)(text)
        except ValueError:
            kind = {"int": "an integer", "float": "a number"}[spec.kind]
            auto = f" or {spelled!r}" if spelled else ""
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}{auto}") from None
        try:
            return config.check_value(name, value, spec)
        except config.ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc).split(f"{name}=", 1)[-1]) from None

    parse.__name__ = spec.kind  # argparse names the type in "invalid <type> value"
    return parse


def _count(name: str, minimum: int = 1):
    """An argparse ``type`` for an integer of at least ``minimum``."""
    return _typed(name, config.Param("int", "", minimum=minimum))


def _add_param(group, name: str, spec: config.Param, default) -> None:
    flag = "--" + name.replace("_", "-")
    kwargs = {"dest": name, "default": None, "help": f"{spec.help} (default: {default})"}
    if spec.choices is not None:
        choices = (*spec.choices, spec.none) if spec.none else spec.choices
        kwargs["choices"] = choices
        kwargs["metavar"] = "{" + ",".join(choices) + "}"
    elif spec.kind == "bool":
        kwargs["action"] = argparse.BooleanOptionalAction
        kwargs["help"] = f"{spec.help} (default: {'yes' if default else 'no'})"
    else:
        kwargs["type"] = _typed(name, spec)
        kwargs["metavar"] = {"int": "N", "float": "X"}[spec.kind]
        if spec.auto or spec.none:
            kwargs["metavar"] += f"|{spec.auto or spec.none}"
    group.add_argument(flag, **kwargs)


TRAIN_EPILOG = """\
examples:
  wgangp train --data 8gaussians --steps 400 --hidden 64 --lr 2e-3 --batch-size 128 \\
      --out runs/ring
  wgangp train --data mydata.csv --steps 2000 --out runs/mydata
  wgangp train --data 25gaussians --optimizer adam-toy --batch-size 256 --out runs/grid
  wgangp train --config run.toml --out runs/again        # flags override the file
  wgangp train --config runs/ring/config.toml --out runs/ring2   # reproduce a run
  wgangp train --data digits --print-config > run.toml   # start a config file

The run folder gets config.toml (reproduces the run), history.jsonl,
checkpoints/, model.npz and report.html. Ctrl-C stops after the current
iteration, writes a checkpoint and exits with code 130; continue with
'wgangp resume RUN_DIR'.
"""

RESUME_EPILOG = """\
examples:
  wgangp resume runs/ring              # finish the steps of runs/ring/config.toml
  wgangp resume runs/ring --steps 500  # train 500 more iterations

Resuming continues bit for bit from the last checkpoint: the result is the
same as a run that was never interrupted.
"""

SAMPLE_EPILOG = """\
examples:
  wgangp sample runs/ring -n 1000 -o samples.csv
  wgangp sample runs/ring -n 1000 -o samples.npy --seed 7
  wgangp sample runs/ring/checkpoints/ckpt-00000200.npz -n 100 -o early.csv
"""

EVALUATE_EPILOG = """\
examples:
  wgangp evaluate runs/ring
  wgangp evaluate runs/ring --json > metrics.json
  wgangp evaluate runs/mydata --data holdout.csv

Each metric of the generator is printed beside the same metric of fresh real
data, the best a generator can expect.
"""

REPORT_EPILOG = """\
examples:
  wgangp report runs/ring          # writes runs/ring/report.html
"""

GRADCHECK_EPILOG = """\
examples:
  wgangp gradcheck runs/ring
  wgangp gradcheck --config run.toml --json

Compares the model's analytic gradients (critic loss with the penalty, and
the generator loss) with central finite differences in float64; exit code 0
when every relative error is below 1e-5, else 1.
"""

DIAGNOSE_EPILOG = """\
examples:
  wgangp diagnose runs/ring
  wgangp diagnose runs/ring/history.jsonl --json
"""


AUGMENT_EPILOG = """\
examples:
  wgangp augment table.csv --target y --rows 300 -o augmented.csv
  wgangp augment table.csv --target y --rows 300 --no-minority --steps 500 -o more.csv

A conditional tabular synthesizer (wgangp.TabularSynthesizer: numeric,
integer, discrete and missing values) learns the rows outside a stratified
holdout; the new rows go to the rare classes unless --no-minority. A random
forest is trained on the real rows, then on the real and synthetic rows, and
both are scored on the holdout. Needs wgangp[tabular].
"""


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error",
    )
    parser = _Parser(
        prog=PROG,
        description="WGAN-GP on NumPy alone: train, sample, evaluate, report, diagnose.",
        epilog="quickstart:\n  wgangp train --data 8gaussians --steps 400 --hidden 64 "
        "--lr 2e-3 --batch-size 128 --out runs/ring\n"
        "  wgangp sample runs/ring -n 1000 -o samples.csv\n"
        "  wgangp evaluate runs/ring\n\n"
        "exit codes: 0 ok, 1 failure while running, 2 bad usage, 130 interrupted (Ctrl-C)",
        formatter_class=fmt,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"wgangp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name, help, epilog):
        return sub.add_parser(
            name, help=help, description=help, epilog=epilog, formatter_class=fmt, parents=[common]
        )

    p = add("train", "train a WGAN-GP into a run folder", TRAIN_EPILOG)
    p.add_argument("--config", metavar="RUN.toml", help="read settings from a TOML file")
    p.add_argument(
        "--out", metavar="RUN_DIR", help="run folder to create (default: runs/<data name>)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace the run already in RUN_DIR")
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved configuration as TOML and exit",
    )
    run = p.add_argument_group("run")
    run_defaults = config.defaults()
    for name, spec in config.RUN_PARAMS.items():
        default = run_defaults[name]
        if name == "data":
            run.add_argument("--data", metavar="SOURCE", default=None, help=spec.help)
        else:
            _add_param(run, name, spec, default)
    model = p.add_argument_group("model parameters (wgangp.WGANGP)")
    for name, spec in config.MODEL_PARAMS.items():
        _add_param(model, name, spec, run_defaults["model"][name])
    p.set_defaults(func=cmd_train)

    p = add("resume", "continue a run from its last checkpoint", RESUME_EPILOG)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument(
        "--steps",
        type=_typed("steps", config.RUN_PARAMS["steps"]),
        metavar="N",
        help="iterations to train (default: the rest of the run's steps)",
    )
    p.set_defaults(func=cmd_resume)

    p = add("sample", "draw synthetic rows from a trained model", SAMPLE_EPILOG)
    p.add_argument("run", metavar="RUN_DIR", help="a run folder or a model/checkpoint file")
    p.add_argument(
        "-n",
        type=_count("n", 1),
        required=True,
        metavar="N",
        help="number of rows",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output file, .csv (with a header) or .npy",
    )
    p.add_argument(
        "--seed",
        type=_typed("seed", config.RUN_PARAMS["seed"]),
        default=None,
        metavar="N",
        help="seed of the noise (default: fresh)",
    )
    p.set_defaults(func=cmd_sample)

    p = add("evaluate", "score a trained model against real data", EVALUATE_EPILOG)
    p.add_argument("run", metavar="RUN_DIR", help="a run folder or a model/checkpoint file")
    p.add_argument(
        "--data", metavar="SOURCE", help="data to compare with (default: the run's own data source)"
    )
    p.add_argument(
        "-n",
        type=_count("n", 2),
        default=None,
        metavar="N",
        help="samples for the toy sets' mode statistics and exact W1 "
        "(default: 2500 and 2000, as in the benchmarks; fewer is faster and noisier)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--seed",
        type=_typed("seed", config.RUN_PARAMS["seed"]),
        default=0,
        metavar="N",
        help="seed of the samples drawn (default: 0)",
    )
    p.set_defaults(func=cmd_evaluate)

    p = add("report", "write RUN_DIR/report.html: metrics, figures, diagnosis", REPORT_EPILOG)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument(
        "--data", metavar="SOURCE", help="data to compare with (default: the run's own data source)"
    )
    p.set_defaults(func=cmd_report)

    p = add("gradcheck", "check the model's gradients against finite differences", GRADCHECK_EPILOG)
    p.add_argument(
        "run", metavar="RUN_DIR", nargs="?", help="a run folder or a model/checkpoint file"
    )
    p.add_argument(
        "--config",
        metavar="RUN.toml",
        help="check a fresh model built from this configuration instead",
    )
    p.add_argument(
        "--samples",
        type=_count("samples", 1),
        default=4,
        metavar="N",
        help="rows per check (default: 4)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_gradcheck)

    p = add(
        "augment",
        "add synthetic rows to a classification table and show whether they help",
        AUGMENT_EPILOG,
    )
    p.add_argument("data", metavar="TABLE.csv", help="the table, with a header row")
    p.add_argument("--target", required=True, metavar="COLUMN", help="the class column")
    p.add_argument(
        "--rows",
        type=_count("rows", 1),
        required=True,
        metavar="N",
        help="synthetic rows to add",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT.csv",
        help="where to write the real rows followed by the synthetic ones",
    )
    p.add_argument(
        "--minority",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="draw the rows for the rare classes (default: yes)",
    )
    p.add_argument(
        "--holdout",
        type=_typed("holdout", config.Param("float", "", minimum=0.0, strict=True)),
        default=0.3,
        metavar="X",
        help="fraction of real rows held out for scoring (default: 0.3)",
    )
    p.add_argument(
        "--steps",
        type=_typed("steps", config.RUN_PARAMS["steps"]),
        metavar="N",
        help="training iterations of the synthesizer (default: from the table size)",
    )
    p.add_argument(
        "--seed",
        type=_typed("seed", config.RUN_PARAMS["seed"]),
        default=0,
        metavar="N",
        help="seed of the split, the synthesizer and the rows (default: 0)",
    )
    for name in ("hidden", "lr", "batch_size"):
        spec = config.MODEL_PARAMS[name]
        p.add_argument(
            "--" + name.replace("_", "-"),
            type=_typed(name, spec),
            metavar={"int": "N", "float": "X"}[spec.kind],
            help=f"synthesizer's {spec.help} (default: wgangp.TabularSynthesizer's)",
        )
    p.set_defaults(func=cmd_augment)

    p = add(
        "diagnose", "name what went wrong in a run, with evidence and a remedy", DIAGNOSE_EPILOG
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder or its history.jsonl")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_diagnose)
    return parser


# --------------------------------------------------------------------------- #
# Entry point.                                                                #
# --------------------------------------------------------------------------- #


def _one_line(exc: BaseException) -> str:
    """The error message on one line; unexpected errors keep their type's name."""
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
        if not isinstance(exc, (*USAGE_ERRORS, ImportError, WGANGPError)):
            text = f"{type(exc).__name__}: {text}"
    return " ".join(text.split())


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if debug:
            traceback.print_exc()
        code = EXIT_USAGE if isinstance(exc, USAGE_ERRORS) else EXIT_FAILURE
        expected = isinstance(exc, (*USAGE_ERRORS, WGANGPError, ImportError))
        hint = "" if debug or expected else " (run with --debug for the traceback)"
        print(f"{PROG}: error: {_one_line(exc)}{hint}", file=sys.stderr)
        return code
