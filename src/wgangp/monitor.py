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

import contextlib
import json
import logging
import math
import sys
import time
from pathlib import Path

import numpy as np

from .backend import copy_into, namespace, to_numpy
from .errors import TrainingDiverged
from .history import History, json_safe, read_history, write_csv
from .modelfile import remove_stale_temps
from .runs import (
    CHECKPOINT_DIR,
    HISTORY_FILE,
    checkpoint_iteration,
    checkpoint_name,
    latest_checkpoint,
    list_checkpoints,
)
from .train import Callback, register_standard_callbacks
from .validation import check_folder, check_int, check_path

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

# --------------------------------------------------------------------------- #
# Progress bar.                                                               #
# --------------------------------------------------------------------------- #


class ProgressBar(Callback):
    """Progress of a training call: a tqdm bar on a terminal, plain lines elsewhere.

    On a terminal with tqdm installed (``wgangp[progress]``): a bar with the
    iteration, s/it, W estimate and penalty. Anywhere else (a log file, a
    pipe, a notebook's captured output, a terminal without tqdm): one line
    at least every ``interval`` seconds and at every 10% of the call, and at
    its last iteration, with the W estimate, the penalty, the critic's mean
    gradient norm, ms per iteration, the elapsed time and the time left.
    ``verbose=0`` prints nothing. Output that cannot be written (a closed
    stdout, a full disk, a closed pipe) stops the progress output, never the
    training.

    Parameters
    ----------
    verbose : {0, 1}
    file : file object, optional
        Where to write (default ``sys.stdout`` at the time training starts).
    interval : float
        Longest silence between two lines, in seconds.
    """

    def __init__(self, verbose: int = 1, file=None, interval: float = 10.0):
        self.verbose = verbose
        self.file = file
        self.interval = float(interval)
        self.bar = None
        self.lines = False

    def _out(self):
        return self.file if self.file is not None else sys.stdout

    def on_train_begin(self, model):
        self.bar, self.lines = None, False
        if not self.verbose:
            return
        out = self._out()
        self.total = max(0, getattr(model, "_steps_target", model.n_iter_) - model.n_iter_)
        self.first = model.n_iter_
        self.start = self.last_line = time.perf_counter()
        self.next_tenth = 1
        try:
            terminal = bool(out.isatty())
        except (AttributeError, ValueError, OSError):
            terminal = False
        tqdm = None
        if terminal:
            try:
                from tqdm.auto import tqdm
            except ImportError:
                tqdm = None
        if tqdm is not None:
            self.bar = tqdm(total=self.total, unit="it", file=out, dynamic_ncols=True)
        else:
            self.lines = out is not None

    def on_iteration_end(self, model, iteration, record):
        if self.bar is not None:
            shown = {"W": ("wasserstein", ".4g"), "gp": ("penalty", ".3g")}
            self._safely(
                lambda: (
                    self.bar.set_postfix(
                        it=iteration,
                        **{
                            k: format(record[key], f)
                            for k, (key, f) in shown.items()
                            if key in record
                        },
                        refresh=False,
                    ),
                    self.bar.update(1),
                )
            )
            return
        if not self.lines:
            return
        done = iteration - self.first
        now = time.perf_counter()
        tenth = self.total and done * 10 >= self.next_tenth * self.total
        if not (tenth or now - self.last_line >= self.interval or done == self.total):
            return
        while self.total and done * 10 >= self.next_tenth * self.total:
            self.next_tenth += 1
        self.last_line = now
        self._safely(lambda: self._line(iteration, done, now - self.start, record))

    def _line(self, iteration, done, elapsed, record):
        per = elapsed / max(done, 1)
        left = per * max(self.total - done, 0)
        parts = [f"  iter {iteration:>7}"]
        if self.total:
            parts.append(f"({100 * done / self.total:3.0f}%)")
        for label, key, fmt in (
            ("W", "wasserstein", "9.4g"),
            ("penalty", "penalty", "8.3g"),
            ("grad norm", "grad_norm_mean", "6.3g"),
        ):
            if key in record:
                parts.append(f"{label} {record[key]:{fmt}}")
        parts.append(f"{1000 * per:7.1f} ms/it  {elapsed:7.1f} s  left {_duration(left)}")
        print("  ".join(parts), file=self._out(), flush=True)

    def _safely(self, write) -> None:
        """Write progress; when the output is gone, stop writing and keep training."""
        try:
            write()
        except (OSError, ValueError, AttributeError) as exc:
            logger.warning("progress output stopped (%s); training goes on", exc)
            self.lines = False
            if self.bar is not None:
                self.bar.disable = True
                self.bar = None

    def on_train_end(self, model):
        if self.bar is not None:
            bar, self.bar = self.bar, None
            with contextlib.suppress(OSError, ValueError, AttributeError):
                bar.close()
        self.lines = False


def _duration(seconds: float) -> str:
    """``"42 s"``, ``"3 min 05 s"`` or ``"1 h 02 min"``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


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
        self.path = check_path(path, "path")
        self.every = check_int(every, "every", allow_none=True)
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
        self.every = check_int(every, "every")
        self.histogram_every = check_int(histogram_every, "histogram_every")
        self.X = None if X is None else np.asarray(X, dtype=np.float64)
        self.n_samples = check_int(n_samples, "n_samples")
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

    def on_iteration_end(self, model, iteration, record):
        if iteration % self.every == 0:
            for key, value in record.items():
                if key != "iteration" and isinstance(value, (int, float)):
                    self.writer.add_scalar(f"train/{key}", value, iteration)
        if iteration % self.histogram_every == 0:
            self.write_histograms(model, iteration)

    def write_histograms(self, model, iteration: int) -> None:
        for tag, critic, points in model.grad_norm_points(self.rng, self.n_samples, self.X):
            norms = np.linalg.norm(to_numpy(critic.input_gradient(points)), axis=1)
            if np.all(np.isfinite(norms)):
                self.writer.add_histogram(tag, norms.astype(np.float64), iteration)
        for name, net in model.networks().items():
            for k, W in enumerate(net.params[::2]):
                W = to_numpy(W)  # from the device, where a backend trains
                if np.all(np.isfinite(W)):
                    self.writer.add_histogram(f"weights/{name}/{k}", W.ravel(), iteration)

    def on_train_end(self, model):
        if self.writer is not None:
            self.writer.close()  # a later fit opens a new event file in the same folder
            self.writer = None


# --------------------------------------------------------------------------- #
# Checkpoints.                                                                #
# --------------------------------------------------------------------------- #


def _all_finite(model) -> bool:
    return not model.non_finite_parameters()


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
        self.directory = check_folder(directory, "directory")
        self.every = check_int(every, "every", allow_none=True)
        self.keep = check_int(keep, "keep")
        self.last_saved: int | None = None
        self.last_path: Path | None = None

    def on_train_begin(self, model):
        self.directory.mkdir(parents=True, exist_ok=True)
        for temp in remove_stale_temps(self.directory):
            logger.info("removed %s, left by a writer that was killed", temp)
        for path in list_checkpoints(self.directory):
            if checkpoint_iteration(path) > model.n_iter_:
                logger.info("removing %s: later than the model's iteration", path)
                path.unlink()
        self.last_saved = None

    def save(self, model) -> Path:
        """Write a checkpoint of the model's current state now; prune old ones."""
        path = self.directory / checkpoint_name(model.n_iter_)
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
        if not model.is_fitted() or self.last_saved == model.n_iter_:
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
        self.check_params_every = check_int(check_params_every, "check_params_every")
        self._reset()

    def _reset(self) -> None:
        # two slots of (buffers, good state); _latest indexes the newer one
        self._slots = [[None, None], [None, None]]
        self._latest = 1

    @property
    def _good(self):
        return self._slots[self._latest][1]

    def _snapshot(self, model) -> None:
        slot = self._slots[1 - self._latest]  # overwrite the older state
        arrays = model.state_arrays()
        if slot[0] is None or len(slot[0]) != len(arrays):
            slot[0] = [namespace(a).empty_like(a) for a in arrays]
        for buf, a in zip(slot[0], arrays):
            copy_into(namespace(a), buf, a)
        slot[1] = model.training_state()
        self._latest = 1 - self._latest

    def _restore(self, model, which: int) -> None:
        buffers, good = self._slots[which]
        model.restore_training_state(good)
        for buf, a in zip(buffers, model.state_arrays()):  # aligned now as at the snapshot
            copy_into(namespace(a), a, buf)

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
            bad.extend(model.non_finite_parameters())
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
            if older is not None and not model.outputs_finite():
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


def standard_callbacks(callbacks, verbose, run_dir, checkpoint_every, keep) -> list:
    """``callbacks`` with those that ``fit(run_dir=..., verbose=1)`` adds, where missing.

    With a run folder: :class:`DivergenceGuard` first (so that nothing logs
    or saves a diverged state before it acts), :class:`HistoryLogger` to
    ``history.jsonl`` and :class:`Checkpoint` to ``checkpoints/``; with
    ``verbose``, a :class:`ProgressBar`. A callback of the same type already
    in ``callbacks`` is kept instead.
    """
    callbacks = list(callbacks)

    def missing(kind) -> bool:
        return not any(isinstance(cb, kind) for cb in callbacks)

    if run_dir is not None:
        run_dir = Path(run_dir)
        ckpt = None
        if missing(Checkpoint):
            ckpt = Checkpoint(run_dir / CHECKPOINT_DIR, every=checkpoint_every, keep=keep)
        if missing(DivergenceGuard):
            callbacks.insert(0, DivergenceGuard(checkpoint=ckpt))
        if missing(HistoryLogger):
            callbacks.append(HistoryLogger(run_dir / HISTORY_FILE))
        if ckpt is not None:
            callbacks.append(ckpt)
    if verbose and missing(ProgressBar):
        callbacks.append(ProgressBar())
    return callbacks


register_standard_callbacks(standard_callbacks)
