"""Watching training: progress bar, history log, TensorBoard, checkpoints, divergence guard.

Every monitor is a :class:`wgangp.Callback` passed to ``fit(..., callbacks=[...])``.
The protocol (see :class:`wgangp.train.Callback`):

* ``on_train_begin(model)`` once before the first iteration of a call;
* ``on_iteration_end(model, iteration, record)`` after every iteration, with
  the total iteration count and that iteration's metrics dict (the keys of
  ``WGANGP.history_``); set ``model.stop_training = True`` to stop;
* ``on_train_end(model)`` once at the end, also when training stops early or
  raises (every callback's ``on_train_end`` runs; the first error is re-raised).

A *run folder* holds ``history.jsonl`` (one JSON object per logged iteration),
``history.csv`` (the same, written at the end of each call) and
``checkpoints/ckpt-<iteration>.npz``. ``fit(X, steps, run_dir=...)`` attaches
:class:`HistoryLogger`, :class:`Checkpoint` and :class:`DivergenceGuard` for
that folder; ``fit(X, steps, resume=run_dir)`` continues from its last
checkpoint.

Examples
--------
>>> import numpy as np, tempfile, wgangp
>>> X = np.random.default_rng(0).normal(size=(64, 2))
>>> run = tempfile.mkdtemp()
>>> model = wgangp.WGANGP(hidden=8, depth=1, batch_size=32, random_state=0)
>>> _ = model.fit(X, steps=4, run_dir=run, checkpoint_every=2)
>>> len(read_history(f"{run}/history.jsonl")), latest_checkpoint(run).name
(4, 'ckpt-00000004.npz')
"""

from __future__ import annotations

import json
import logging
import math
import re
import sys
from pathlib import Path

import numpy as np

from .errors import InvalidParameterError, ModelFileError, TrainingDiverged
from .history import History, json_safe, read_history, write_csv
from .model import _check_folder, _check_path
from .train import Callback

__all__ = [
    "Callback",
    "Checkpoint",
    "DivergenceGuard",
    "HistoryLogger",
    "History",
    "ProgressBar",
    "TensorBoardLogger",
    "export_csv",
    "latest_checkpoint",
    "list_checkpoints",
    "read_history",
]

logger = logging.getLogger(__name__)

CHECKPOINT_PATTERN = re.compile(r"^ckpt-(\d+)\.npz$")


def _positive_int(name: str, value, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise InvalidParameterError(
            f"{name}={value!r} is not allowed; use an integer >= 1"
            + (" or None" if allow_none else "")
        )
    return int(value)


# --------------------------------------------------------------------------- #
# Progress bar.                                                               #
# --------------------------------------------------------------------------- #


class ProgressBar(Callback):
    """A tqdm bar: iteration, s/it, W estimate and penalty.

    Quiet when ``verbose=0`` or when stdout is not a terminal (tqdm's
    ``disable=None``). Needs ``pip install wgangp[progress]``.

    Parameters
    ----------
    verbose : {0, 1}
    file : file object, optional
        Where to draw (default ``sys.stdout``).
    """

    def __init__(self, verbose: int = 1, file=None):
        self.verbose = verbose
        self.file = file
        self.bar = None

    def on_train_begin(self, model):
        if not self.verbose:
            return
        try:
            from tqdm.auto import tqdm
        except ImportError:
            raise ImportError(
                "the progress bar needs tqdm: pip install 'wgangp[progress]' "
                "(or fit with verbose=0)"
            ) from None
        total = getattr(model, "_steps_target", model.n_iter_) - model.n_iter_
        file = self.file if self.file is not None else sys.stdout
        self.bar = tqdm(total=total, unit="it", file=file, disable=None, dynamic_ncols=True)

    def on_iteration_end(self, model, iteration, record):
        if self.bar is None:
            return
        self.bar.set_postfix(
            it=iteration,
            W=f"{record['wasserstein']:.4g}",
            gp=f"{record['penalty']:.3g}",
            refresh=False,
        )
        self.bar.update(1)

    def on_train_end(self, model):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


# --------------------------------------------------------------------------- #
# History log: history.jsonl and history.csv.                                 #
# --------------------------------------------------------------------------- #


class HistoryLogger(Callback):
    """Append each logged record to a JSON-lines file, flushed line by line.

    A record is written when the model's history keeps it (every
    ``log_every``-th iteration, see ``fit``), or every ``every`` iterations
    when given; the last iteration of a call is always written. Each line is
    flushed to the operating system as it is written, so a crash of the
    process loses nothing already logged. NaN and inf are written as ``null``
    (strict JSON); :func:`read_history` turns them back into NaN.

    When training starts, lines for iterations after the model's current one
    are dropped: a run resumed from an earlier checkpoint continues the file
    from there, and a fresh ``fit`` starts it anew.

    Parameters
    ----------
    path : path
        The ``history.jsonl`` file (folders are created).
    every : int, optional
        Log period; default: the model history's ``log_every``.
    csv : bool
        Also write ``history.csv`` (the whole file, beside ``path``) at the end
        of each call.
    """

    def __init__(self, path, every: int | None = None, csv: bool = True):
        self.path = _check_path("path", path)
        self.every = _positive_int("every", every, allow_none=True)
        self.csv = csv
        self._fh = None
        self._last = 0

    def _wanted(self, model, iteration: int) -> bool:
        if self.every is not None:
            return iteration % self.every == 0
        history = model.history_
        return history.should_log(iteration) if isinstance(history, History) else True

    def on_train_begin(self, model):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        start = getattr(model, "n_iter_", 0)
        if self.path.exists() and not _ends_at_or_before(self.path, start):
            kept = [
                line
                for line in self.path.read_text(encoding="utf-8").splitlines()
                if line.strip()
                and _line_iteration(line) is not None
                and _line_iteration(line) <= start
            ]
            self.path.write_text("".join(line + "\n" for line in kept), encoding="utf-8")
        self._last = start
        self._fh = self.path.open("a", encoding="utf-8")

    def _write(self, record: dict) -> None:
        self._fh.write(json.dumps(json_safe(record)) + "\n")
        self._fh.flush()
        self._last = record["iteration"]

    def on_iteration_end(self, model, iteration, record):
        if self._wanted(model, iteration):
            self._write(record)

    def on_train_end(self, model):
        if self._fh is None:
            return
        history = model.history_
        if len(history) and history[-1]["iteration"] > self._last:
            self._write(history[-1])
        self._fh.close()
        self._fh = None
        if self.csv:
            export_csv(self.path)


def _ends_at_or_before(path: Path, iteration: int) -> bool:
    """True when the file's last line is complete and logs at most ``iteration``.

    Reads only the file's tail, so that a loop of short ``partial_fit`` calls
    does not reread the whole history each time.
    """
    with path.open("rb") as fh:
        fh.seek(0, 2)
        size = fh.tell()
        if size == 0:
            return True
        fh.seek(max(0, size - 65536))
        tail = fh.read()
    if not tail.endswith(b"\n"):
        return False
    last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")
    found = _line_iteration(last)
    return found is not None and found <= iteration


def _line_iteration(line: str):
    try:
        return int(json.loads(line)["iteration"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return None  # a torn line from a crash


def export_csv(jsonl_path, csv_path=None) -> Path:
    """Write ``history.jsonl`` as CSV (default: ``history.csv`` beside it)."""
    jsonl_path = Path(jsonl_path)
    csv_path = jsonl_path.with_suffix(".csv") if csv_path is None else Path(csv_path)
    return write_csv(read_history(jsonl_path), csv_path)


# --------------------------------------------------------------------------- #
# TensorBoard.                                                                #
# --------------------------------------------------------------------------- #


class TensorBoardLogger(Callback):
    """Scalars and gradient-norm histograms for TensorBoard (tensorboardX).

    Every ``every`` iterations, each number of the record is written as a
    scalar (``train/<key>``). Every ``histogram_every`` iterations, the
    histogram of the critic's per-sample input-gradient norms ``||dD/dx||``
    at ``n_samples`` points is written (``grad_norm/interpolates`` when real
    rows ``X`` are given: interpolates between them and fresh fakes, as the
    penalty sees them; else ``grad_norm/fake`` at generated samples), with the
    histogram of each weight matrix (``weights/critic/<k>``, ...). These draws
    use the logger's own random stream, never the training one.

    Needs ``pip install wgangp[tensorboard]``.
    """

    def __init__(
        self,
        log_dir,
        every: int = 10,
        histogram_every: int = 100,
        X=None,
        n_samples: int = 256,
        random_state=0,
    ):
        self.log_dir = Path(log_dir)
        self.every = _positive_int("every", every)
        self.histogram_every = _positive_int("histogram_every", histogram_every)
        self.X = None if X is None else np.asarray(X, dtype=np.float64)
        self.n_samples = _positive_int("n_samples", n_samples)
        self.rng = np.random.default_rng(random_state)
        self.writer = None

    def on_train_begin(self, model):
        try:
            from tensorboardX import SummaryWriter
        except ImportError:
            raise ImportError(
                "TensorBoardLogger needs tensorboardX: pip install 'wgangp[tensorboard]'"
            ) from None
        if self.writer is None:
            self.writer = SummaryWriter(logdir=str(self.log_dir))

    def _norm_points(self, model):
        z = self.rng.standard_normal((self.n_samples, model.latent_dim_), dtype=model.dtype_)
        x_fake = model.generator_(z)
        if self.X is None:
            return "grad_norm/fake", x_fake
        rows = self.X[self.rng.integers(0, len(self.X), self.n_samples)]
        x_real = model._transform(rows)
        alpha = self.rng.random((self.n_samples, 1)).astype(model.dtype_)
        return "grad_norm/interpolates", x_fake + alpha * (x_real - x_fake)

    def on_iteration_end(self, model, iteration, record):
        if iteration % self.every == 0:
            for key, value in record.items():
                if key != "iteration" and isinstance(value, (int, float)):
                    self.writer.add_scalar(f"train/{key}", value, iteration)
        if iteration % self.histogram_every == 0:
            self.write_histograms(model, iteration)

    def write_histograms(self, model, iteration: int) -> None:
        tag, points = self._norm_points(model)
        norms = np.linalg.norm(model.critic_.input_gradient(points), axis=1)
        if np.all(np.isfinite(norms)):
            self.writer.add_histogram(tag, norms.astype(np.float64), iteration)
        for name, net in (("critic", model.critic_), ("generator", model.generator_)):
            for k, W in enumerate(net.params[::2]):
                if np.all(np.isfinite(W)):
                    self.writer.add_histogram(f"weights/{name}/{k}", W.ravel(), iteration)

    def on_train_end(self, model):
        if self.writer is not None:
            self.writer.close()  # a later fit opens a new event file in the same folder
            self.writer = None


# --------------------------------------------------------------------------- #
# Checkpoints.                                                                #
# --------------------------------------------------------------------------- #


def list_checkpoints(directory) -> list[Path]:
    """``ckpt-<iteration>.npz`` files of a folder, oldest iteration first."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = []
    for path in directory.iterdir():
        match = CHECKPOINT_PATTERN.match(path.name)
        if match:
            found.append((int(match.group(1)), path))
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
    candidates = list_checkpoints(location / "checkpoints") or list_checkpoints(location)
    if candidates:
        return candidates[-1]
    if must_exist:
        raise ModelFileError(
            f"no checkpoint to resume from in {location} (looked for "
            f"{location / 'checkpoints'}/ckpt-<iteration>.npz); train with "
            "run_dir=... first, or pass a checkpoint file"
        )
    return None


def _all_finite(model) -> bool:
    return all(np.isfinite(p).all() for p in model.critic_.params + model.generator_.params)


class Checkpoint(Callback):
    """Save the model every ``every`` iterations and at the end; keep the last ``keep``.

    Files are ``directory/ckpt-<iteration, 8 digits>.npz`` written by
    :meth:`wgangp.WGANGP.save` (a temporary file renamed into place: a crash
    never leaves a torn checkpoint). They hold the full training state, so
    ``fit(X, steps, resume=run_dir)`` continues bit for bit. At the start of a
    call, checkpoints of iterations after the model's current one (a previous
    run in the same folder, or the tail of a crashed one) are removed, so that
    "last" always means this run's last. A final state with NaN or inf is not
    saved. The path of the last file written is ``model.last_checkpoint_``.

    Parameters
    ----------
    directory : path
    every : int, optional
        Period in iterations; None saves at the end of training only.
    keep : int
        Number of most recent checkpoints kept.
    """

    def __init__(self, directory, every: int | None = None, keep: int = 3):
        self.directory = _check_folder("directory", directory)
        self.every = _positive_int("every", every, allow_none=True)
        self.keep = _positive_int("keep", keep)
        self.last_saved: int | None = None
        self.last_path: Path | None = None

    def on_train_begin(self, model):
        self.directory.mkdir(parents=True, exist_ok=True)
        for path in list_checkpoints(self.directory):
            if int(CHECKPOINT_PATTERN.match(path.name).group(1)) > model.n_iter_:
                logger.info("removing %s: later than the model's iteration", path)
                path.unlink()
        self.last_saved = None

    def save(self, model) -> Path:
        """Write a checkpoint of the model's current state now; prune old ones."""
        path = self.directory / f"ckpt-{model.n_iter_:08d}.npz"
        model.save(path)
        self.last_saved = model.n_iter_
        self.last_path = path
        model.last_checkpoint_ = path
        for old in list_checkpoints(self.directory)[: -self.keep]:
            old.unlink()
        return path

    def on_iteration_end(self, model, iteration, record):
        if self.every is not None and iteration % self.every == 0:
            self.save(model)

    def on_train_end(self, model):
        if not hasattr(model, "generator_") or self.last_saved == model.n_iter_:
            return
        if not _all_finite(model):
            logger.warning("final state has NaN or inf parameters; no checkpoint written")
            return
        self.save(model)


# --------------------------------------------------------------------------- #
# Divergence guard.                                                           #
# --------------------------------------------------------------------------- #


class DivergenceGuard(Callback):
    """Stop on NaN or inf in a loss or a parameter; restore the last good state; raise.

    After every iteration the guard checks each number of the record (losses,
    W estimate, penalty, gradient norms) and, every ``check_params_every``
    iterations, every parameter. While all is finite it copies the training
    state (parameters, optimizer moments, iteration counters, random stream,
    minibatch position) into buffers allocated once; when something is not,
    it puts that last good state back, saves it through ``checkpoint`` when
    one is given, and raises :class:`wgangp.TrainingDiverged` with the
    iteration and the checkpoint path (``model.last_checkpoint_`` otherwise).

    A blow-up can leave the parameters finite but so large that the next
    forward pass overflows: the last iteration with finite metrics then
    ended in an unusable state. So the guard keeps the last two good states
    (alternating between two sets of buffers: still one copy per iteration),
    and restores the older one when the newer one's networks overflow on a
    probe batch of noise.

    Place it first among the callbacks (``fit(run_dir=...)`` does), so that
    nothing saves a diverged state before it acts.

    Parameters
    ----------
    checkpoint : Checkpoint, optional
        Saves the restored state.
    check_params_every : int
        Period of the full parameter check (a NaN parameter also shows in the
        next iteration's losses).
    """

    def __init__(self, checkpoint: Checkpoint | None = None, check_params_every: int = 1):
        self.checkpoint = checkpoint
        self.check_params_every = _positive_int("check_params_every", check_params_every)
        self._reset()

    def _reset(self) -> None:
        # two slots of (buffers, good state); _latest indexes the newer one
        self._slots = [[None, None], [None, None]]
        self._latest = 1

    @property
    def _good(self):
        return self._slots[self._latest][1]

    def _arrays(self, model) -> list[np.ndarray]:
        arrays = list(model.critic_.params) + list(model.generator_.params)
        for opt in (model.critic_optimizer_, model.generator_optimizer_):
            if opt.state is not None:
                for slot in opt.slots:
                    arrays.extend(opt.state[slot])
        return arrays

    def _snapshot(self, model) -> None:
        slot = self._slots[1 - self._latest]  # overwrite the older state
        arrays = self._arrays(model)
        if slot[0] is None or len(slot[0]) != len(arrays):
            slot[0] = [np.empty_like(a) for a in arrays]
        for buf, a in zip(slot[0], arrays):
            np.copyto(buf, a)
        sampler = model._sampler
        slot[1] = {
            "n_iter": model.n_iter_,
            "n_critic_steps": model.n_critic_steps_,
            "steps": [
                opt.state["step"] if opt.state is not None else None
                for opt in (model.critic_optimizer_, model.generator_optimizer_)
            ],
            "rng": model._rng.bit_generator.state,
            "sampler": (sampler.perm, sampler.pos, sampler.epoch),
        }
        self._latest = 1 - self._latest

    def _restore(self, model, which: int) -> None:
        buffers, good = self._slots[which]
        for opt, step in zip((model.critic_optimizer_, model.generator_optimizer_), good["steps"]):
            if step is None:
                opt.state = None  # it had taken no step yet
            elif opt.state is not None:
                opt.state["step"] = step
        for buf, a in zip(buffers, self._arrays(model)):  # aligned now as at the snapshot
            np.copyto(a, buf)
        model.n_iter_ = good["n_iter"]
        model.n_critic_steps_ = good["n_critic_steps"]
        model._rng.bit_generator.state = good["rng"]
        model._sampler.perm, model._sampler.pos, model._sampler.epoch = good["sampler"]

    @staticmethod
    def _usable(model) -> bool:
        """Whether both networks give finite output on a fixed probe batch of noise."""
        z = np.random.default_rng(0).standard_normal(
            (64, model.generator_.sizes[0]), dtype=model.generator_.dtype
        )
        with np.errstate(over="ignore", invalid="ignore"):
            x = model.generator_(z)
            return bool(np.isfinite(x).all() and np.isfinite(model.critic_(x)).all())

    def on_train_begin(self, model):
        self._reset()
        if _all_finite(model):
            self._snapshot(model)

    def on_iteration_end(self, model, iteration, record):
        bad = [
            key
            for key, value in record.items()
            if isinstance(value, float) and not math.isfinite(value)
        ]
        if not bad and iteration % self.check_params_every == 0:
            for name, net in (("critic", model.critic_), ("generator", model.generator_)):
                for k, p in enumerate(net.params):
                    if not np.isfinite(p).all():
                        bad.append(
                            f"{name} parameter {k} ({'W' if k % 2 == 0 else 'b'}{k // 2 + 1})"
                        )
        if not bad:
            self._snapshot(model)
            return
        model.stop_training = True
        values = ", ".join(f"{key}={record[key]}" if key in record else key for key in bad[:4])
        if len(bad) > 4:
            values += f" and {len(bad) - 4} more"
        if self._good is None:
            restored = "no finite state to restore (it was not finite when training began)"
            path = None
        else:
            self._restore(model, self._latest)
            older = self._slots[1 - self._latest][1]
            if older is not None and not self._usable(model):
                self._restore(model, 1 - self._latest)  # the newer state had blown up
            restored = f"parameters restored to those after iteration {model.n_iter_}"
            if self.checkpoint is not None:
                self.checkpoint.directory.mkdir(parents=True, exist_ok=True)
                path = self.checkpoint.save(model)
            else:
                path = getattr(model, "last_checkpoint_", None)
        kept = f"checkpoint kept: {path}" if path else "no checkpoint kept (pass run_dir=...)"
        raise TrainingDiverged(
            f"training diverged at iteration {iteration}: not finite: {values}; "
            f"{restored}; {kept}. Lower the learning rate (lr) or check the data "
            "scale, then resume or refit; wgangp.diagnose(model.history_) explains more",
            iteration=iteration,
            checkpoint=path,
        )
