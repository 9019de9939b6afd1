"""``wgangp train`` and ``wgangp resume``: a run folder, with progress lines and a clean Ctrl-C.

The configuration is resolved in layers (defaults, the toy preset, ``--config``,
flags); training goes through ``WGANGP.fit`` with the run folder, so history,
checkpoints and the divergence guard are the estimator's own.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
import time
from pathlib import Path

import numpy as np

from .. import config
from ..data import RowStream
from ..errors import TrainingDiverged
from ..history import read_history
from ..model import WGANGP
from ..modelfile import load
from ..parallel import launched_comm, on_rank0
from ..plot import SampleSnapshots
from ..runs import (
    CHECKPOINT_DIR,
    CONFIG_FILE,
    HISTORY_FILE,
    MODEL_FILE,
    RunLock,
    list_checkpoints,
)
from ..train import Callback
from .exits import EXIT_INTERRUPTED, EXIT_OK, UsageError, one_line, say
from .sources import (
    DATA_NAMES,
    check_data_source,
    check_out,
    data_name,
    load_data,
    new_run,
    run_config,
)

# --------------------------------------------------------------------------- #
# Training with progress lines and a clean Ctrl-C.                            #
# --------------------------------------------------------------------------- #


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


def _run_training(
    model,
    X,
    cfg: dict,
    run_dir: Path,
    steps: int,
    resume: Path | None,
    allow_new_data=False,
    comm=None,
) -> int:
    """Train ``steps`` iterations into ``run_dir`` (from the checkpoint ``resume``, if given).

    Prints progress and the files written, writes the report unless the
    configuration says not to, and returns the exit code.
    """
    callbacks = []
    # The same 500 noise vectors every 10% of the run: the report's "samples over
    # training time". Sampling uses its own seed, never the training stream.
    every = max(1, cfg["steps"] // 10)
    callbacks.append(SampleSnapshots(every=every, n=500, run_dir=run_dir))
    callbacks.extend(_preset_callbacks(cfg))
    stop = StopOnInterrupt()
    if comm is None:  # under mpiexec, Ctrl-C ends every rank; the last checkpoint stays
        callbacks.append(stop)
    start = time.perf_counter()
    # The divergence guard turns NaN and inf into a clear error; numpy's warnings
    # about them on the way would only be noise on the terminal.
    with stop.installed(), np.errstate(all="ignore"):
        try:
            model = model.fit(
                X,
                steps=steps,
                callbacks=callbacks,
                verbose=1,  # a bar on a terminal with tqdm, else a line every 10 s or 10%
                log_every=cfg["log_every"],
                run_dir=run_dir,
                checkpoint_every=config.checkpoint_period(cfg),
                keep_checkpoints=cfg["keep_checkpoints"],
                resume=resume,
                allow_new_data=allow_new_data,
                comm=comm,
            )
        except TrainingDiverged as exc:
            raise TrainingDiverged(
                f"{exc}; see 'wgangp diagnose {shlex.quote(str(run_dir))}'",
                exc.iteration,
                exc.checkpoint,
            ) from exc
        model.save(run_dir / MODEL_FILE)
    seconds = time.perf_counter() - start
    if stop.requested:
        say(
            f"interrupted at iteration {model.n_iter_}; checkpoint: {model.last_checkpoint_}\n"
            f"continue with: wgangp resume {shlex.quote(str(run_dir))}",
            flush=True,
        )
        return EXIT_INTERRUPTED
    in_iterations = sum(
        float(r.get("seconds") or 0.0)
        for r in model.history_
        if r["iteration"] > model.n_iter_ - steps
    )
    say(
        f"trained {model.n_iter_} iterations in total ({steps} in {seconds:.1f} s wall clock; "
        f"{in_iterations:.1f} s in the logged iterations, the report's time in iterations)"
    )
    say(f"model:  {run_dir / MODEL_FILE}")
    say(f"config: {run_dir / CONFIG_FILE}")
    if cfg["report"]:
        try:
            from ..report import write_report

            history_file = run_dir / HISTORY_FILE
            history = read_history(history_file) if history_file.is_file() else None
            real = X.sample(20_000) if isinstance(X, RowStream) else X  # never the whole file
            path = write_report(
                run_dir, model, X_real=real, history=history, data_name=data_name(cfg["data"])
            )
        except ImportError as exc:
            say(f"report: skipped ({one_line(exc)})")
        else:
            say(f"report: {path}")
    quoted = shlex.quote(str(run_dir))
    out = shlex.quote(str(run_dir / "samples.csv"))  # inside the new run: never the input
    say(f"next:   wgangp sample {quoted} -n 1000 -o {out}   |   wgangp evaluate {quoted}")
    return EXIT_OK


# --------------------------------------------------------------------------- #
# The configuration of a run.                                                 #
# --------------------------------------------------------------------------- #


def _flag_layer(args) -> dict:
    """The configuration values given as flags (None where a flag was not given)."""
    layer = {key: getattr(args, key, None) for key in config.RUN_PARAMS}
    layer["model"] = {key: getattr(args, key, None) for key in config.MODEL_PARAMS}
    return layer


def _preset_name(cfg: dict) -> str | None:
    """The toy preset a resolved configuration starts from, or None."""
    from ..presets import TOY_PRESETS

    choice = cfg["preset"]
    if choice == "none":
        return None
    if choice == "auto":
        return cfg["data"] if cfg["data"] in TOY_PRESETS else None
    return choice


def _preset_layer(name: str) -> dict:
    """A configuration layer with a toy preset's steps and estimator parameters."""
    from ..presets import get_preset, split_preset

    params, steps, _ = split_preset(get_preset(name))
    model = dict(params)
    if model.get("scale") is None and "scale" in model:
        model["scale"] = "none"
    if model.get("latent_dim") is None and "latent_dim" in model:
        model["latent_dim"] = "auto"
    return {"steps": steps, "model": model}


def _preset_callbacks(cfg: dict) -> list:
    """The preset's learning-rate schedule (on absolute iterations, so resuming is exact)."""
    from ..presets import get_preset
    from ..schedules import ExponentialDecay

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


# --------------------------------------------------------------------------- #
# The commands.                                                               #
# --------------------------------------------------------------------------- #


def cmd_train(args) -> int:
    cfg = _resolved_config(args)
    if cfg["data"] is None:
        raise UsageError("no data: pass --data (e.g. --data 8gaussians) or set data in --config")
    if args.print_config:
        say(config.dumps(cfg), end="")
        return EXIT_OK
    label = Path(cfg["data"]).stem if cfg["data"] not in DATA_NAMES else cfg["data"]
    run_dir = Path(args.out) if args.out else Path("runs") / label
    comm = _mpi_comm()
    if comm is None or comm.Get_rank() == 0:  # rank 0 may have started the run already
        check_out(run_dir, args.overwrite)
    if comm is None:
        X = load_data(cfg["data"], cfg["n_rows"], cfg["seed"], **_streaming(cfg))
    else:  # launched by mpiexec: each rank reads and trains on its share of the rows
        X = load_data(
            cfg["data"],
            cfg["n_rows"],
            cfg["seed"],
            comm.Get_rank(),
            comm.Get_size(),
            **_streaming(cfg),
        )
    model = WGANGP(**config.estimator_params(cfg))
    n_rows = len(X) if comm is None else comm.allreduce(len(X))
    if comm is not None and comm.Get_rank() != 0:
        return _train_other_rank(model, X, cfg, run_dir, comm)
    with new_run(run_dir, args.overwrite):  # locked from here to the end
        config.write(
            cfg,
            run_dir / CONFIG_FILE,
            command=f"wgangp train --config {run_dir / CONFIG_FILE} --out NEW_RUN_DIR",
        )
        source = cfg["data"] if cfg["data"] in DATA_NAMES else Path(cfg["data"]).name
        say(
            f"training WGAN-GP on {source} ({n_rows} rows x {X.shape[1]} columns"
            f"{'' if comm is None else f', over {comm.Get_size()} ranks'}"
            f"{f', read {X.window_rows} rows at a time' if isinstance(X, RowStream) else ''}) for "
            f"{cfg['steps']} iterations into {run_dir}"
        )
        if isinstance(X, RowStream):  # minutes on a large file: say so before they start
            say(
                f"reading {source} in order, a row group at a time, before the first iteration: "
                "finiteness and ranges, the scaling (twice) and the fingerprint",
                flush=True,
            )
        return _run_training(model, X, cfg, run_dir, cfg["steps"], resume=None, comm=comm)


def _streaming(cfg: dict) -> dict:
    """``load_data``'s stream settings of a run's configuration."""
    return {"stream": cfg["stream"], "window_rows": cfg["window_rows"]}


def _mpi_comm():
    """``MPI.COMM_WORLD`` when ``mpiexec`` started more than one rank, else None."""
    return launched_comm(os.environ)


def _train_other_rank(
    model,
    X,
    cfg: dict,
    run_dir: Path,
    comm,
    steps: int | None = None,
    resume: Path | None = None,
    allow_new_data: bool = False,
) -> int:
    """A rank other than 0: the same training on its rows; rank 0 writes and prints."""
    with np.errstate(all="ignore"):
        model.fit(
            X,
            steps=cfg["steps"] if steps is None else steps,
            resume=resume,
            allow_new_data=allow_new_data,
            callbacks=_preset_callbacks(cfg),
            log_every=cfg["log_every"],
            run_dir=run_dir,
            checkpoint_every=config.checkpoint_period(cfg),
            keep_checkpoints=cfg["keep_checkpoints"],
            comm=comm,
        )
    return EXIT_OK


def cmd_resume(args) -> int:
    run_dir = Path(args.run_dir)
    comm = _mpi_comm()
    if comm is not None and comm.Get_rank() != 0:
        # rank 0 holds the lock and says where to resume from; each rank reads the
        # checkpoint itself (the run folder is on a filesystem every rank sees)
        plan = on_rank0(comm, None)
        if plan is None:
            return EXIT_OK
        cfg, checkpoint, steps, _ = plan
        share = load_data(
            cfg["data"],
            cfg["n_rows"],
            cfg["seed"],
            comm.Get_rank(),
            comm.Get_size(),
            **_streaming(cfg),
        )
        model = WGANGP(**config.estimator_params(cfg)).set_params(**_placement(args))
        return _train_other_rank(
            model, share, cfg, run_dir, comm, steps, Path(checkpoint), args.allow_new_data
        )
    _check_run_folder(run_dir)  # before the lock, which would create the folder
    with RunLock(run_dir):  # one writer: config.toml and the training below
        if comm is None:
            plan = _resume_plan(run_dir, args)
        else:
            plan = on_rank0(comm, lambda: _resume_plan(run_dir, args))
        if plan is None:
            return EXIT_OK
        cfg, checkpoint, steps, done = plan
        checkpoint = Path(checkpoint)
        if comm is None:
            X = load_data(cfg["data"], cfg["n_rows"], cfg["seed"], **_streaming(cfg))
        else:  # launched by mpiexec: each rank reads and resumes on its share
            X = load_data(
                cfg["data"], cfg["n_rows"], cfg["seed"], 0, comm.Get_size(), **_streaming(cfg)
            )
        model = WGANGP(**config.estimator_params(cfg)).set_params(**_placement(args))
        say(f"resuming {run_dir} from {checkpoint.name} (iteration {done}) for {steps} iterations")
        return _run_training(
            model,
            X,
            cfg,
            run_dir,
            steps,
            resume=checkpoint,
            allow_new_data=args.allow_new_data,
            comm=comm,
        )


def _check_run_folder(run_dir: Path) -> dict:
    """The run's configuration; a usage error when ``run_dir`` is not a run folder."""
    cfg = run_config(run_dir) if run_dir.is_dir() else None
    if cfg is None:
        raise UsageError(
            f"{run_dir} is not a run folder (no {CONFIG_FILE}); start one with "
            f"'wgangp train --data ... --out {run_dir}'"
        )
    return cfg


def _placement(args) -> dict:
    """``--backend`` / ``--device`` of a resume: where to train is this call's choice,
    else the run's."""
    return {k: getattr(args, k) for k in ("backend", "device") if getattr(args, k) is not None}


def _resume_plan(run_dir: Path, args) -> tuple[dict, str, int, int] | None:
    """``(config, checkpoint, steps, iterations done)`` of a resume, or None when
    the run is complete.

    Updates ``config.toml`` when ``--steps`` changes the run's length; plain
    data only, for rank 0 to send to the other ranks under ``mpiexec``.
    """
    cfg = _check_run_folder(run_dir)
    checkpoints = list_checkpoints(run_dir / CHECKPOINT_DIR)
    if not checkpoints:
        raise UsageError(
            f"{run_dir} has no checkpoint to resume from ({CHECKPOINT_DIR}/ckpt-*.npz); "
            f"start it again with 'wgangp train --config {run_dir / CONFIG_FILE} "
            f"--out {run_dir}'"
        )
    checkpoint = checkpoints[-1]
    done = load(checkpoint).n_iter_
    if args.steps is not None:
        steps = args.steps
    elif done >= cfg["steps"]:
        say(
            f"{run_dir} is complete ({done} of {cfg['steps']} iterations); "
            "pass --steps N to train N more"
        )
        return None
    else:
        steps = cfg["steps"] - done
    if done + steps != cfg["steps"]:
        cfg["steps"] = done + steps  # config.toml keeps reproducing the whole run
        config.write(
            cfg,
            run_dir / CONFIG_FILE,
            command=f"wgangp train --config {run_dir / CONFIG_FILE} --out NEW_RUN_DIR",
        )
    return cfg, str(checkpoint), steps, done
