"""The training core: every estimator of wgangp stands on :class:`Estimator`.

The core owns, once for all estimators:

* validation of every argument before any state changes (a refused ``fit``
  leaves a fitted model as it was);
* the iteration loop, the callbacks (:class:`Callback`) and their error
  aggregation, ``stop_training``, divergence detection
  (:class:`~wgangp.errors.TrainingDiverged` on a non-finite metric or
  parameter), the finite-output check of ``sample``;
* the bounded :class:`~wgangp.history.History`, saved with the model;
* optimizer, random-stream and minibatch state, and ``fit(..., run_dir=...,
  resume=...)`` with its checkpoints, history log and divergence guard;
* the model file: the header and arrays that every estimator shares
  (parameters, optimizer moments, random stream, history), written
  atomically and read without trusting the file (:mod:`wgangp.modelfile`).

An estimator supplies only what is its own, through a few methods:
``PARAMS`` (its constructor's parameter table), ``NETWORKS`` (the names of
its networks: ``self.<name>_`` is the MLP and ``self.<name>_optimizer_`` its
optimizer), ``_check_data`` / ``_initialize`` / ``_training_data`` (its data
handling), ``_iteration`` (one iteration's steps), and ``_fitted_header`` /
``_restore`` (its own header fields). One *iteration* is whatever the
estimator's steps are; for WGAN-GP ``n_critic`` critic steps and one
generator step, as in the paper's Algorithm 1.
"""

from __future__ import annotations

import inspect
import math
import time
import warnings
from pathlib import Path

import numpy as np

from ._version import __version__
from .errors import InvalidParameterError, ModelFileError, NotFittedError, TrainingDiverged
from .history import History, read_history
from .losses import critic_loss, generator_loss
from .modelfile import header_int, rng_from_state, write_model_file
from .nn import MLP, Activation, get_activation
from .optim import Optimizer, get_optimizer
from .runs import CHECKPOINT_DIR, HISTORY_FILE, latest_checkpoint
from .validation import (
    Param,
    check_callbacks,
    check_dtype,
    check_folder,
    check_int,
    check_params,
    check_path,
    check_random_state,
)

__all__ = [
    "Callback",
    "Estimator",
    "MinibatchSampler",
    "ParamsMixin",
    "critic_step",
    "generator_step",
]


# --------------------------------------------------------------------------- #
# Steps.                                                                      #
# --------------------------------------------------------------------------- #


def _grad_norm(grads) -> float:
    """Euclidean norm of all parameter gradients together."""
    return float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads)))


class MinibatchSampler:
    """Shuffled minibatches, epoch by epoch, over all rows.

    Each epoch draws a fresh permutation from the caller's Generator; a batch
    never straddles two epochs (the last ``n_rows % batch_size`` rows of a
    permutation are skipped, different ones each epoch). The position lives in
    plain attributes so that training resumes bit for bit.
    """

    def __init__(self, n_rows: int, batch_size: int):
        self.n_rows = int(n_rows)
        self.batch_size = int(batch_size)
        self.perm: np.ndarray | None = None
        self.pos = 0
        self.epoch = 0

    def next_indices(self, rng: np.random.Generator) -> np.ndarray:
        if self.perm is None or self.pos + self.batch_size > self.n_rows:
            self.perm = rng.permutation(self.n_rows)
            self.pos = 0
            self.epoch += 1
        idx = self.perm[self.pos : self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx

    def state(self) -> dict:
        return {
            "n_rows": self.n_rows,
            "batch_size": self.batch_size,
            "pos": self.pos,
            "epoch": self.epoch,
        }

    @classmethod
    def from_state(cls, state: dict, perm, path) -> MinibatchSampler:
        """A sampler from its header ``state`` and saved permutation, checked."""
        n_rows = header_int(state["n_rows"], "sampler.n_rows", 1)
        batch_size = header_int(state["batch_size"], "sampler.batch_size", 1)
        pos = header_int(state["pos"], "sampler.pos")
        if batch_size > n_rows or pos > n_rows:
            raise ModelFileError(
                f"{path}: minibatch state batch_size={batch_size}, pos={pos} does not fit "
                f"n_rows={n_rows}"
            )
        sampler = cls(n_rows, batch_size)
        sampler.pos = pos
        sampler.epoch = header_int(state["epoch"], "sampler.epoch")
        if perm is not None:
            perm = np.array(perm)
            if (
                perm.shape != (n_rows,)
                or perm.dtype.kind not in "iu"
                or not np.array_equal(np.sort(perm), np.arange(n_rows))
            ):
                raise ModelFileError(
                    f"{path}: the minibatch order is not a permutation of the {n_rows} rows"
                )
            sampler.perm = perm
        return sampler


# A step that diverges overflows; that is detected from the losses by the
# core (TrainingDiverged), not reported as NumPy warnings.
quiet_overflow = np.errstate(over="ignore", invalid="ignore", divide="ignore")


@quiet_overflow
def critic_step(
    generator: MLP,
    critic: MLP,
    optimizer: Optimizer,
    x_real: np.ndarray,
    rng: np.random.Generator,
    lambda_gp: float,
    penalty: str,
) -> dict:
    """One critic update on a real batch; fresh fakes and interpolation coefficients.

    Returns the :func:`wgangp.losses.critic_loss` statistics plus
    ``critic_grad_norm``.
    """
    batch = x_real.shape[0]
    latent_dim = generator.sizes[0]
    z = rng.standard_normal((batch, latent_dim), dtype=generator.dtype)
    x_fake = generator(z)
    alpha = rng.random((batch, 1), dtype=critic.dtype)
    _, grads, stats = critic_loss(critic, x_real, x_fake, alpha, lambda_gp, penalty)
    stats["critic_grad_norm"] = _grad_norm(grads)
    optimizer.step(critic.params, grads)
    return stats


@quiet_overflow
def generator_step(
    generator: MLP,
    critic: MLP,
    optimizer: Optimizer,
    batch: int,
    rng: np.random.Generator,
) -> dict:
    """One generator update with fresh noise; the gradient flows through the critic."""
    z = rng.standard_normal((batch, generator.sizes[0]), dtype=generator.dtype)
    loss, grads = generator_loss(generator, critic, z)
    norm = _grad_norm(grads)
    optimizer.step(generator.params, grads)
    return {"generator_loss": loss, "generator_grad_norm": norm}


# --------------------------------------------------------------------------- #
# Callbacks.                                                                  #
# --------------------------------------------------------------------------- #


class Callback:
    """Hooks called by ``fit`` / ``partial_fit``; override the ones you need.

    The protocol:

    * ``on_train_begin(model)`` once, before the first iteration of a call;
    * ``on_iteration_end(model, iteration, record)`` after each iteration, with
      the 1-based total iteration count and that iteration's metrics dict;
      set ``model.stop_training = True`` to stop after this iteration;
    * ``on_train_end(model)`` once, after the last iteration, also when
      training stops early or raises (every callback's ``on_train_end``
      runs; the first error is raised after all of them).
    """

    def on_train_begin(self, model) -> None:
        pass

    def on_iteration_end(self, model, iteration: int, record: dict) -> None:
        pass

    def on_train_end(self, model) -> None:
        pass


# --------------------------------------------------------------------------- #
# Constructor arguments (scikit-learn's convention).                          #
# --------------------------------------------------------------------------- #


class ParamsMixin:
    """``get_params`` / ``set_params`` / ``__repr__`` from the constructor's signature.

    The constructor stores its arguments as given, under their own names;
    these methods list, read and change them, and show the non-default ones
    in the repr.
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """Constructor arguments as stored."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params):
        """Set constructor arguments; unknown names raise ``InvalidParameterError``."""
        valid = self._param_names()
        for key in params:
            if key not in valid:
                raise InvalidParameterError(
                    f"{key!r} is not a parameter of {type(self).__name__}; valid: {valid}"
                )
        for key, value in params.items():
            setattr(self, key, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            name: p.default for name, p in inspect.signature(type(self).__init__).parameters.items()
        }
        changed = [
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if not (isinstance(v, type(defaults[k])) and v == defaults[k]) and v is not defaults[k]
        ]
        return f"{type(self).__name__}({', '.join(changed)})"


# --------------------------------------------------------------------------- #
# The base estimator.                                                         #
# --------------------------------------------------------------------------- #

_CORE_HEADER = frozenset(
    {
        "format",
        "format_version",
        "wgangp_version",
        "numpy_version",
        "saved_at",
        "class",
        "params",
        "fitted",
        "optimizers",
        "rng_state",
        "history",
        "arrays",
    }
)


class Estimator(ParamsMixin):
    """The base of every wgangp estimator: training loop, state, files.

    Subclasses set ``PARAMS`` (name -> :class:`~wgangp.validation.Param`,
    the constructor's arguments in order), ``NETWORKS``, ``FORMAT_NAME``,
    ``FORMAT_VERSIONS`` (the versions it reads; the last is written) and
    ``HEADER_EXTRAS`` (its own top-level header fields), and implement the
    hooks below. Everything else is here, once.
    """

    PARAMS: dict[str, Param] = {}
    NETWORKS: tuple[str, ...] = ("generator", "critic")
    FORMAT_NAME = ""
    FORMAT_VERSIONS: tuple[int, ...] = (1,)
    HEADER_EXTRAS: tuple[str, ...] = ()
    FIT_CALL = "fit(X)"
    """How the estimator's own ``fit`` is called, for messages."""
    STATE_ATTRIBUTES: tuple[str, ...] = ()
    """Fitted counters (besides ``n_iter_``) that the divergence guard restores."""

    # ------------------------------------------------------------- hooks --

    def _check_params(self, settings: dict) -> dict:
        """Checks across parameters, after each was checked alone; may add settings."""
        return settings

    def _check_data(self, data, settings: dict, fitted: bool):
        """Validate training data; no state may change. Returns it as ``_initialize`` takes it."""
        raise NotImplementedError

    def _initialize(self, data, settings: dict) -> None:
        """Fresh fitted state from checked data: networks, optimizers, random stream."""
        raise NotImplementedError

    def _training_data(self, data, settings: dict):
        """What :meth:`_iteration` draws from (e.g. the scaled float array)."""
        return data

    def _iteration(self, data, settings: dict) -> dict:
        """One iteration's steps; returns its metrics (``critic_loss`` first)."""
        raise NotImplementedError

    def _fitted_header(self) -> dict:
        """The estimator's own ``fitted`` header fields (the core adds ``n_iter``)."""
        return {}

    def _header_extras(self) -> tuple[dict, dict]:
        """Extra top-level header fields and extra arrays for the model file."""
        return {}, {}

    def _restore(self, header: dict, arrays: dict, path, settings: dict) -> None:
        """Set the fitted attributes and build the networks from a checked file."""
        raise NotImplementedError

    def _usable(self) -> bool:
        """Whether the networks give finite output on a fixed probe batch."""
        return True

    # ------------------------------------------------------------ access --

    def networks(self) -> dict[str, MLP]:
        """The fitted networks by name (``{"generator": MLP, "critic": MLP}``, ...)."""
        self._check_fitted()
        return {name: getattr(self, f"{name}_") for name in self.NETWORKS}

    def optimizers(self) -> dict[str, Optimizer]:
        """Each network's optimizer, by network name."""
        self._check_fitted()
        return {name: getattr(self, f"{name}_optimizer_") for name in self.NETWORKS}

    def _is_fitted(self) -> bool:
        return all(hasattr(self, f"{name}_") for name in self.NETWORKS)

    def _check_fitted(self) -> None:
        if not self._is_fitted():
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call {self.FIT_CALL} first "
                "(or wgangp.load(path) for a saved model)"
            )

    def _validate_params(self) -> dict:
        """Check every constructor argument; return the resolved settings."""
        return self._check_params(check_params(self, self.PARAMS))

    def _new_optimizers(self, settings: dict) -> None:
        for name in self.NETWORKS:
            opt = get_optimizer(self.optimizer, lr=settings["lr"])
            opt.init(getattr(self, f"{name}_").params)
            setattr(self, f"{name}_optimizer_", opt)

    # ---------------------------------------------------------- training --

    def _fit(
        self,
        data,
        steps,
        callbacks,
        *,
        verbose=0,
        log_every=1,
        run_dir=None,
        checkpoint_every=None,
        keep_checkpoints=3,
        resume=None,
        partial: bool = False,
        options: dict | None = None,
    ):
        """``fit`` (``partial=False``) or ``partial_fit`` of any estimator.

        Every argument and the data are checked before any state changes;
        an error while setting up a fresh fit puts the previous state back.
        ``options`` are per-call settings the estimator checked (they join
        the settings that :meth:`_iteration` receives).
        """
        options = dict(options or {})
        settings = {**self._validate_params(), **options}
        steps = check_int(steps, "steps")
        if log_every is not None:
            log_every = check_int(log_every, "log_every")
        keep_checkpoints = check_int(keep_checkpoints, "keep_checkpoints")
        checkpoint_every = check_int(checkpoint_every, "checkpoint_every", allow_none=True)
        if verbose not in (0, 1, False, True):
            raise InvalidParameterError(f"verbose={verbose!r} is not allowed; use 0 or 1")
        if run_dir is not None:
            check_folder(run_dir, "run_dir")
        if resume is not None and not isinstance(resume, bool):
            check_path(resume, "resume")
        callbacks = check_callbacks(callbacks)
        checkpoint = None
        if resume is not None and resume is not False:
            if resume is True:
                if run_dir is None:
                    raise InvalidParameterError(
                        "resume=True needs run_dir (the run folder to resume); or pass "
                        "resume=<run folder or checkpoint file>"
                    )
                checkpoint = latest_checkpoint(run_dir)
            else:
                checkpoint = latest_checkpoint(resume, must_exist=True)
                if run_dir is None and Path(resume).is_dir():
                    run_dir = resume
        continuing = partial and self._is_fitted()
        if checkpoint is not None:
            resumed = self._resumed(checkpoint)
            settings = {**resumed._validate_params(), **options}
            data = resumed._check_data(data, settings, fitted=True)
            self._take_over(resumed, checkpoint)
            if log_every is not None:
                self.history_.log_every = log_every
        elif continuing:
            self._apply_params(settings)
            data = self._check_data(data, settings, fitted=True)
            if log_every is not None:
                self.history_.log_every = log_every
        else:
            data = self._check_data(data, settings, fitted=False)
            before = dict(self.__dict__)
            try:
                self._initialize(data, settings)
                self.n_iter_ = 0
                self.history_ = History(1 if log_every is None else log_every)
            except BaseException:
                self.__dict__.clear()
                self.__dict__.update(before)
                raise
        callbacks = self._build_callbacks(
            callbacks, verbose, run_dir, checkpoint_every, keep_checkpoints
        )
        return self._train(self._training_data(data, settings), steps, callbacks, settings)

    def _apply_params(self, settings: dict) -> None:
        """Carry changed constructor arguments into a fitted model before it continues.

        The learning rate reaches the optimizers; anything that shapes the
        networks or the data needs a new ``fit`` and is refused here.
        """
        saved = getattr(self, "_fitted_params", None)
        if saved is None:
            return
        now = self._json_params()
        changed = [k for k in now if k != "random_state" and now[k] != saved.get(k)]
        live = set(self.LIVE_PARAMS)
        fixed = [k for k in changed if k not in live]
        if fixed:
            raise InvalidParameterError(
                f"{', '.join(f'{k}={getattr(self, k)!r}' for k in fixed)} changed since this "
                f"{type(self).__name__} was fitted (it has "
                + ", ".join(f"{k}={saved.get(k)!r}" for k in fixed)
                + "); that needs a new fit(...). partial_fit applies only changes of "
                + ", ".join(sorted(live))
            )
        if "lr" in changed:
            for opt in self.optimizers().values():
                opt.lr = settings["lr"]
        self._fitted_params = now

    LIVE_PARAMS: tuple[str, ...] = ("lr", "lambda_gp", "n_critic")
    """Constructor arguments that ``partial_fit`` applies to a fitted model."""

    def _resumed(self, checkpoint: Path) -> Estimator:
        """The estimator a checkpoint holds, checked to be of this class."""
        from .modelfile import load

        loaded = load(checkpoint)
        if not isinstance(loaded, type(self)):
            raise InvalidParameterError(
                f"resume={str(checkpoint)!r} holds a {type(loaded).__name__}, not a "
                f"{type(self).__name__}"
            )
        return loaded

    def _take_over(self, loaded: Estimator, checkpoint: Path) -> None:
        """Take over the full training state of a loaded checkpoint."""
        defaults = type(self)()._json_params()
        mine = self._json_params()
        theirs = loaded._json_params()
        changed = sorted(
            k
            for k in mine
            if k != "random_state" and mine[k] != defaults[k] and mine[k] != theirs.get(k)
        )
        if changed:
            warnings.warn(
                f"resuming from {checkpoint}: the checkpoint's settings are used for "
                f"{changed} (this estimator has "
                + ", ".join(f"{k}={mine[k]!r}" for k in changed)
                + ")",
                UserWarning,
                stacklevel=4,
            )
        self.__dict__.update(loaded.__dict__)
        if not len(self.history_):  # a file from before histories were saved
            run_history = Path(checkpoint).parent.parent / HISTORY_FILE
            if run_history.exists():
                self.history_ = read_history(run_history)
        self.history_.truncate(self.n_iter_)

    def _build_callbacks(self, callbacks, verbose, run_dir, checkpoint_every, keep) -> list:
        callbacks = list(callbacks or [])
        if not verbose and run_dir is None:
            return callbacks
        from . import monitor  # the monitors sit above the estimators: import on demand

        def missing(kind) -> bool:
            return not any(isinstance(cb, kind) for cb in callbacks)

        if run_dir is not None:
            run_dir = Path(run_dir)
            ckpt = None
            if missing(monitor.Checkpoint):
                ckpt = monitor.Checkpoint(
                    run_dir / CHECKPOINT_DIR, every=checkpoint_every, keep=keep
                )
            if missing(monitor.DivergenceGuard):
                # first, so that nothing logs or saves a diverged state before it acts
                callbacks.insert(0, monitor.DivergenceGuard(checkpoint=ckpt))
            if missing(monitor.HistoryLogger):
                callbacks.append(monitor.HistoryLogger(run_dir / HISTORY_FILE))
            if ckpt is not None:
                callbacks.append(ckpt)
        if verbose and missing(monitor.ProgressBar):
            callbacks.append(monitor.ProgressBar())
        return callbacks

    def _train(self, data, steps: int, callbacks: list, settings: dict):
        """The iteration loop: steps, records, history, callbacks, divergence."""
        self.stop_training = False
        self._steps_target = self.n_iter_ + steps
        self._fitted_params = self._json_params()
        history = self.history_
        optimizers = self.optimizers()
        record = None
        logged = True
        started = time.perf_counter()
        for cb in callbacks:
            cb.on_train_begin(self)
        try:
            for _ in range(steps):
                start = time.perf_counter()
                stats = self._iteration(data, settings)
                self.n_iter_ += 1
                end = time.perf_counter()
                record = {"iteration": self.n_iter_}
                record.update(stats)
                for name, opt in optimizers.items():
                    record[f"lr_{name}"] = opt.lr
                record["seconds"] = end - start
                record["elapsed"] = end - started
                logged = history.should_log(self.n_iter_)
                if logged:
                    history.append(record)
                # judged on what training produced, raised after the callbacks
                # so that a DivergenceGuard restores and saves first
                diverged = _non_finite_metrics(record)
                for cb in callbacks:
                    cb.on_iteration_end(self, self.n_iter_, record)
                self._check_not_diverged(diverged)
                if self.stop_training:
                    break
        finally:
            if record is not None and not logged and record["iteration"] <= self.n_iter_:
                history.append(record)  # the last iteration is always kept
            error = None
            for cb in callbacks:
                try:
                    cb.on_train_end(self)
                except Exception as exc:  # every callback gets to close its files
                    error = error or exc
            if error is not None:
                raise error
        self._check_not_diverged(self.non_finite_parameters())
        return self

    # ------------------------------------------------------- divergence --

    def non_finite_parameters(self) -> list[str]:
        """Names of the parameter arrays that hold NaN or inf (``"critic W2"``)."""
        return [
            f"{net_name} {'W' if i % 2 == 0 else 'b'}{i // 2 + 1}"
            for net_name, net in self.networks().items()
            for i, p in enumerate(net.params)
            if not np.isfinite(p).all()
        ]

    def _check_not_diverged(self, bad: list[str]) -> None:
        """Raise TrainingDiverged naming the non-finite metrics or parameters ``bad``."""
        if bad:
            raise TrainingDiverged(
                f"training diverged at iteration {self.n_iter_}: {', '.join(bad[:4])} "
                "is not finite, so the model's parameters are no longer usable. Lower the "
                f"learning rate (lr={self.lr!r}) or check the scale of the data, then refit "
                "or resume from a checkpoint saved before the divergence",
                iteration=self.n_iter_,
            )

    def _check_output(self, method: str, out: np.ndarray) -> np.ndarray:
        """Refuse to return overflowed output: the parameters of a model that
        diverged can be finite but so large that a forward pass overflows."""
        if not np.isfinite(out).all():
            largest = max(
                float(np.abs(p).max()) for net in self.networks().values() for p in net.params
            )
            raise TrainingDiverged(
                f"{method}: the output overflows, because the parameters have blown up "
                f"(largest |parameter| = {largest:.3g}); the model diverged in training. "
                "Use a checkpoint saved before the divergence, with a lower learning rate",
                iteration=self.n_iter_,
            )
        return out

    def _state_arrays(self) -> list[np.ndarray]:
        """Every array of the training state: parameters, then optimizer moments."""
        arrays = [p for net in self.networks().values() for p in net.params]
        for opt in self.optimizers().values():
            if opt.state is not None:
                for slot in opt.slots:
                    arrays.extend(opt.state[slot])
        return arrays

    def _get_state(self) -> dict:
        """The training state besides the arrays: counters, steps, random stream."""
        state = {
            "n_iter": self.n_iter_,
            "steps": [
                opt.state["step"] if opt.state is not None else None
                for opt in self.optimizers().values()
            ],
            "rng": self._rng.bit_generator.state,
            "attributes": {name: getattr(self, name) for name in self.STATE_ATTRIBUTES},
        }
        sampler = getattr(self, "_sampler", None)
        if sampler is not None:
            state["sampler"] = (sampler.perm, sampler.pos, sampler.epoch)
        return state

    def _set_state(self, state: dict) -> None:
        """Put back what :meth:`_get_state` returned (the arrays are the caller's)."""
        for opt, step in zip(self.optimizers().values(), state["steps"]):
            if step is None:
                opt.state = None  # it had taken no step yet
            elif opt.state is not None:
                opt.state["step"] = step
        self.n_iter_ = state["n_iter"]
        self._rng.bit_generator.state = state["rng"]
        for name, value in state["attributes"].items():
            setattr(self, name, value)
        if "sampler" in state:
            self._sampler.perm, self._sampler.pos, self._sampler.epoch = state["sampler"]

    # ----------------------------------------------------------- files --

    def _json_params(self) -> dict:
        """Constructor arguments as JSON values (what the model file records)."""
        params = self.get_params()
        for name, value in params.items():
            if isinstance(value, Optimizer):
                params[name] = value.config()
            elif isinstance(value, Activation):
                params[name] = value.config()
            elif isinstance(value, dict) and name == "activation":
                params[name] = get_activation(value).config()
            elif self.PARAMS.get(name, Param("", "")).kind == "dtype":
                params[name] = check_dtype(value, name).name
            elif name == "random_state":
                if isinstance(value, np.random.Generator):
                    params[name] = None
                elif value is not None:
                    params[name] = int(check_random_state(value))
            elif isinstance(value, (np.integer, np.floating, np.bool_)):
                params[name] = value.item()
            elif isinstance(value, tuple):
                params[name] = list(value)
        return params

    @classmethod
    def _from_json_params(cls, params: dict, path) -> Estimator:
        if not isinstance(params, dict):
            raise ModelFileError(f"{path}: header field 'params' is not a JSON object")
        unknown = set(params) - set(cls._param_names())
        if unknown:
            raise ModelFileError(f"{path}: unknown parameters {sorted(unknown)} in the header")
        params = dict(params)
        for name, value in params.items():
            if cls.PARAMS.get(name, Param("", "")).kind == "dtype":
                if value not in ("float32", "float64"):
                    raise ModelFileError(f"{path}: {name} {value!r} is not float32 or float64")
                params[name] = {"float32": np.float32, "float64": np.float64}[value]
            elif name == "optimizer" and isinstance(value, dict):
                params[name] = get_optimizer(value)
        return cls(**params)

    def save(self, path) -> Path:
        """Write the model to one ``.npz`` file, atomically.

        The file holds the arrays (weights, optimizer moments, the training
        history, and what the estimator adds) and a JSON header (parameters,
        fitted settings, versions, step counts, optimizer and random-stream
        state). It is written to a temporary file in the same folder and
        renamed into place, so a crash never leaves a torn file. A model
        with NaN or inf parameters is refused: such a file could not be
        loaded.
        """
        self._check_fitted()
        path = check_path(path, "path")
        bad = self.non_finite_parameters()
        if bad:
            raise TrainingDiverged(
                f"not saving {str(path)!r}: {', '.join(bad[:4])} holds NaN or inf (training "
                "diverged), and such a file could not be loaded; save a finite state",
                iteration=self.n_iter_,
            )
        arrays: dict[str, np.ndarray] = {}
        optimizers = {}
        for net_name, net in self.networks().items():
            for i, p in enumerate(net.params):
                arrays[f"{net_name}/{i}"] = p
            opt = getattr(self, f"{net_name}_optimizer_")
            state = opt.state_dict()
            optimizers[net_name] = {"config": opt.config(), "step": state["step"]}
            for slot in opt.slots:
                for i, a in enumerate(state.get(slot, [])):
                    arrays[f"optim/{net_name}/{slot}/{i}"] = a
        history_info, columns = self.history_.to_arrays()
        for i, key in enumerate(history_info["columns"]):
            arrays[f"history/{i}"] = columns[key]
        extras, extra_arrays = self._header_extras()
        arrays.update(extra_arrays)
        fitted = {"n_iter": self.n_iter_}
        fitted.update(self._fitted_header())
        header = {
            "format": self.FORMAT_NAME,
            "format_version": self.FORMAT_VERSIONS[-1],
            "wgangp_version": __version__,
            "numpy_version": np.__version__,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "class": type(self).__name__,
            "params": self._json_params(),
            "fitted": fitted,
            "optimizers": optimizers,
            "rng_state": self._rng.bit_generator.state,
            "history": history_info,
        }
        header.update(extras)
        return write_model_file(path, header, arrays)

    @classmethod
    def _from_file(cls, header: dict, arrays: dict, path) -> Estimator:
        """Build a fitted estimator from a model file that ``read_model_file`` checked."""
        unknown = sorted(set(header) - _CORE_HEADER - set(cls.HEADER_EXTRAS))
        if unknown:
            raise ModelFileError(
                f"{path}: unknown header fields {unknown}; the file was not written by "
                f"wgangp {__version__}"
            )
        for field in ("params", "fitted", "optimizers", "rng_state", *cls.HEADER_EXTRAS):
            if not isinstance(header.get(field), dict):
                raise ModelFileError(
                    f"{path}: header field {field!r} is missing or not a JSON object"
                )
        if header.get("class", cls.__name__) != cls.__name__:
            raise ModelFileError(
                f"{path} holds a {header['class']!r}, not a {cls.__name__}; "
                "load it with wgangp.load"
            )
        model = cls._from_json_params(header["params"], path)
        settings = model._validate_params()
        model._restore(header, arrays, path, settings)
        model.n_iter_ = header_int(header["fitted"]["n_iter"], "fitted.n_iter")
        for net_name, net in model.networks().items():
            for i, p in enumerate(net.params):
                stored = arrays.get(f"{net_name}/{i}")
                if stored is None or stored.shape != p.shape or stored.dtype != p.dtype:
                    raise ModelFileError(
                        f"{path}: {net_name} parameter {i} is missing or does not match the "
                        f"architecture {net.sizes} ({p.dtype.name}): expected shape {p.shape}, "
                        f"found {None if stored is None else stored.shape}"
                    )
                if not np.isfinite(stored).all():
                    raise ModelFileError(
                        f"{path}: {net_name} parameter {i} holds NaN or inf; the model "
                        "diverged before it was saved"
                    )
                p[...] = stored
        for net_name, net in model.networks().items():
            info = header["optimizers"][net_name]
            opt = get_optimizer(info["config"])
            state = {"step": header_int(info["step"], f"optimizers.{net_name}.step")}
            if state["step"] > 0:
                for slot in opt.slots:
                    state[slot] = []
                    for i, p in enumerate(net.params):
                        a = arrays.get(f"optim/{net_name}/{slot}/{i}")
                        if a is None or a.shape != p.shape or a.dtype != p.dtype:
                            raise ModelFileError(
                                f"{path}: optimizer state {net_name}/{slot}/{i} is missing or "
                                f"does not match its parameter (shape {p.shape}, {p.dtype})"
                            )
                        state[slot].append(a)
            opt.load_state_dict(state)
            if opt.state is None:
                opt.init(net.params)
            setattr(model, f"{net_name}_optimizer_", opt)
        model._rng = rng_from_state(header["rng_state"], path)
        model.history_ = _history_from_file(header.get("history"), arrays, path)
        model._fitted_params = model._json_params()
        return model

    def _check_stored(self, arrays: dict, net_name: str, sizes: list, dtype, path) -> None:
        """Before a network is built: its stored weights must have the shapes its
        ``sizes`` give, so that forged sizes never make us allocate."""
        for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            for i, shape in ((2 * k, (fan_in, fan_out)), (2 * k + 1, (fan_out,))):
                a = arrays.get(f"{net_name}/{i}")
                if a is None or a.shape != shape or a.dtype != dtype:
                    raise ModelFileError(
                        f"{path}: {net_name} parameter {i} is missing or does not match the "
                        f"architecture {sizes} ({np.dtype(dtype).name}): expected shape {shape}, "
                        f"found {None if a is None else a.shape}"
                    )


def check_sizes(sizes, field: str, first: int, last: int) -> list:
    """A header's layer widths: integers >= 1 from ``first`` to ``last``."""
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes)
        or sizes[0] != first
        or sizes[-1] != last
    ):
        raise ModelFileError(
            f"header field {field}={sizes!r} must be a list of integers >= 1 from {first} to {last}"
        )
    return sizes


def _history_from_file(info, arrays: dict, path) -> History:
    if info is None:  # format version 1 kept no history
        return History()
    if not isinstance(info, dict) or not isinstance(info.get("columns"), list):
        raise ModelFileError(f"{path}: header field 'history' must hold a list of columns")
    log_every = header_int(info.get("log_every"), "history.log_every", 1)
    max_records = header_int(info.get("max_records"), "history.max_records", 2)
    columns = {}
    sizes = set()
    for i, key in enumerate(info["columns"]):
        a = arrays.get(f"history/{i}")
        if not isinstance(key, str) or a is None or a.ndim != 1 or a.dtype.kind not in "iuf":
            raise ModelFileError(f"{path}: history column {i} ({key!r}) is missing or malformed")
        columns[key] = a
        sizes.add(len(a))
    if len(sizes) > 1 or (sizes and sizes.pop() > max_records):
        raise ModelFileError(f"{path}: history columns differ in length or exceed the bound")
    return History.from_arrays(
        {"log_every": log_every, "max_records": max_records, "columns": list(columns)}, columns
    )


def _non_finite_metrics(record: dict) -> list[str]:
    return [
        f"{key}={value}"
        for key, value in record.items()
        if isinstance(value, float) and not math.isfinite(value)
    ]
