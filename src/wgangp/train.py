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

import functools
import hashlib
import inspect
import math
import sys
import time
import warnings
import weakref
from pathlib import Path

import numpy as np

from .backend import BACKENDS, Backend, get_backend, namespace, to_numpy
from .errors import InvalidDataError, InvalidParameterError, NotFittedError, TrainingDiverged
from .flat import Scratch
from .history import History, read_history
from .losses import PENALTIES
from .nn import MLP
from .optim import OPTIMIZER_NAMES, Optimizer, get_optimizer
from .parallel import Shard, check_comm
from .runs import HISTORY_FILE, latest_checkpoint, start_run
from .saving import Saving
from .steps import empty_of
from .threads import ThreadPolicy
from .validation import (
    Param,
    check_bool,
    check_callbacks,
    check_folder,
    check_int,
    check_param,
    check_params,
    check_path,
    remembered,
)

__all__ = ["CORE_PARAMS", "Callback", "Estimator", "ParamsMixin", "register_standard_callbacks"]


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


CORE_PARAMS: dict[str, Param] = {
    "optimizer": Param(
        "str",
        "optimizer of the networks; adam: the WGAN-GP paper's betas (0, 0.9), "
        "adam-toy: its toy code's (0.5, 0.9)",
        choices=OPTIMIZER_NAMES,
        objects=(Optimizer,),
    ),
    "lr": Param("float", "learning rate", minimum=0.0, strict=True),
    "lambda_gp": Param("float", "gradient penalty coefficient (0 turns it off)", minimum=0.0),
    "penalty": Param(
        "str", "two-sided (||g|| - 1)^2 or one-sided max(0, ||g|| - 1)^2", choices=PENALTIES
    ),
    "n_critic": Param("int", "critic steps per generator step", minimum=1),
    "dtype": Param("dtype", "floating-point precision of training", choices=("float32", "float64")),
    "random_state": Param("seed", "seeds the model; the same seed gives the same model"),
    "threads": Param(
        "int",
        "BLAS threads while training: auto (one for small networks, else measured), "
        "0 (the BLAS default) or a count",
        minimum=0,
        auto="auto",
    ),
    "backend": Param(
        "str",
        "array library that trains: auto (numpy on the CPU, cupy or torch on cuda), numpy, "
        "cupy (wgangp[gpu]), torch (wgangp[torch]); the model file holds NumPy arrays "
        "whatever trained it",
        choices=BACKENDS,
    ),
    "device": Param(
        "str",
        "where training runs: cpu, or cuda (a GPU; with backend cupy or torch; another GPU "
        "than the first through CUDA_VISIBLE_DEVICES)",
        choices=("cpu", "cuda"),
    ),
}
"""The parameters every estimator of the core has, declared once; an estimator's
``PARAMS`` table takes them from here and adds its own."""

_standard_callbacks = None


def register_standard_callbacks(factory) -> None:
    """Set how ``fit(run_dir=..., verbose=...)`` adds the standard callbacks.

    :mod:`wgangp.monitor`, which sits above the core, registers its
    ``standard_callbacks(callbacks, verbose, run_dir, checkpoint_every, keep)``
    here when it is imported (``import wgangp`` does), so the core never
    imports upward.
    """
    global _standard_callbacks
    _standard_callbacks = factory


# --------------------------------------------------------------------------- #
# Constructor arguments (scikit-learn's convention).                          #
# --------------------------------------------------------------------------- #


@functools.cache
def _init_parameters(cls) -> tuple[str, ...]:
    """The names of a class's constructor arguments (read once per class: a loop
    of short ``partial_fit`` calls asks for them twice a call)."""
    return tuple(p for p in inspect.signature(cls.__init__).parameters if p != "self")


@functools.cache
def _fitted_names(networks: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    """``(name, attribute)`` of each network (``("critic", "critic_")``), formed once
    per tuple of names: a short ``partial_fit`` asks whether the model is fitted
    several times."""
    return tuple((name, f"{name}_") for name in networks)


class ParamsMixin:
    """``get_params`` / ``set_params`` / ``__repr__`` from the constructor's signature.

    The constructor stores its arguments as given, under their own names;
    these methods list, read and change them, and show the non-default ones
    in the repr.
    """

    @classmethod
    def _param_names(cls) -> list[str]:
        return list(_init_parameters(cls))

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


class Estimator(ParamsMixin, Saving):
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

    def _initialize(self, data, settings: dict) -> str | None:
        """Fresh fitted state from checked data: networks, optimizers, random stream.

        May return a line saying what took time (shown with ``verbose=1``)."""
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

    def _largest_gemm_flop(self) -> float:
        """FLOP of the largest matrix product of an iteration (for ``threads="auto"``):
        the widest layer of any network over the critic's stacked rows."""
        widest = max(
            a * b for net in self.networks().values() for a, b in zip(net.sizes, net.sizes[1:])
        )
        return 2.0 * widest * 3 * self._batch_rows()

    def _batch_rows(self) -> int:
        """Rows of a minibatch (the critic sees three times as many, stacked)."""
        return self._sampler.batch_size

    def outputs_finite(self) -> bool:
        """Whether the networks give finite output on a fixed probe batch."""
        return True

    # ------------------------------------------------------------ copies --

    TRANSIENT_ATTRIBUTES: tuple[str, ...] = ("_scratches", "_critic_graph", "_running_settings")
    """Work arrays and caches rebuilt when missing: left out of a copy or a pickle."""

    def __getstate__(self) -> dict:
        """The estimator without its work arrays (``copy.deepcopy``, ``pickle``,
        joblib): a copy continues training bit for bit as the original would. To
        share a model as a file, :meth:`save` it; a pickle runs code when loaded."""
        state = dict(self.__dict__)
        for name in self.TRANSIENT_ATTRIBUTES:
            state.pop(name, None)
        return state

    # ------------------------------------------------------------ access --

    def networks(self) -> dict[str, MLP]:
        """The fitted networks by name (``{"generator": MLP, "critic": MLP}``, ...)."""
        self.check_fitted()
        return {name: getattr(self, attr) for name, attr in _fitted_names(self.NETWORKS)}

    def optimizers(self) -> dict[str, Optimizer]:
        """Each network's optimizer, by network name."""
        self.check_fitted()
        return {name: getattr(self, f"{name}_optimizer_") for name in self.NETWORKS}

    def is_fitted(self) -> bool:
        for _, attr in _fitted_names(self.NETWORKS):
            if not hasattr(self, attr):
                return False
        return True

    def check_fitted(self) -> None:
        if not self.is_fitted():
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call {self.FIT_CALL} first "
                "(or wgangp.load(path) for a saved model)"
            )

    def _validate_params(self) -> dict:
        """Check every constructor argument; return the resolved settings.

        The checked values are remembered for arguments that are all immutable
        scalars (:func:`~wgangp.validation.frozen_params`): a loop of short
        ``partial_fit`` calls checks them once. The checks across parameters
        (:meth:`_check_params`) run every time."""
        checked = remembered(
            self, "_checked_params", self.get_params(), lambda: check_params(self, self.PARAMS)
        )
        return self._check_params(checked)

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
        comm=None,
        allow_new_data: bool = False,
    ):
        """``fit`` (``partial=False``) or ``partial_fit`` of any estimator.

        Every argument and the data are checked before any state changes;
        an error while setting up a fresh fit puts the previous state back.
        ``options`` are per-call settings the estimator checked (they join
        the settings that :meth:`_iteration` receives).
        """
        options = dict(options or {})
        settings = {**self._validate_params(), **options}
        settings["placement"] = get_backend(
            settings.get("backend", "numpy"), settings.get("device", "cpu")
        )
        self._check_backend(settings["placement"])
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
        comm = check_comm(comm)
        allow_new_data = check_bool(allow_new_data, "allow_new_data")
        options = {**options, "allow_new_data": allow_new_data}
        if resume is not None and not isinstance(resume, bool) and run_dir is None:
            if Path(resume).is_dir():
                run_dir = resume  # resuming a run folder continues writing it
        args = (data, steps, callbacks, verbose, log_every, run_dir, checkpoint_every)
        rest = (keep_checkpoints, resume, partial, options, settings, comm)
        if run_dir is None or (comm is not None and comm.Get_rank() != 0):
            return self._fit_checked(*args, *rest)  # rank 0 alone holds a run folder
        with start_run(run_dir):  # one writer per folder; a failed start leaves no trace
            return self._fit_checked(*args, *rest)

    def _fit_checked(
        self,
        data,
        steps,
        callbacks,
        verbose,
        log_every,
        run_dir,
        checkpoint_every,
        keep_checkpoints,
        resume,
        partial,
        options,
        settings,
        comm,
    ):
        """:meth:`_fit` once its arguments are checked (and the run folder is held)."""
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
        continuing = partial and self.is_fitted()
        shard = Shard(comm, self._rows_in(data)) if comm is not None else None
        self._shard = shard
        if checkpoint is not None:
            resumed = self._resumed(checkpoint)
            resumed._shard = shard
            # the checkpoint's settings, but where to train is this call's
            placement = settings["placement"]
            settings = {**resumed._validate_params(), **options, "placement": placement}
            data = resumed._check_data(data, settings, fitted=True)
            fingerprint = resumed._check_same_data(data, settings, f"resuming {checkpoint}")
            self._take_over(resumed, checkpoint)
            self.data_fingerprint_ = fingerprint
            if log_every is not None:
                self.history_.log_every = log_every
        elif continuing:
            given = data
            data = self._check_data(data, settings, fitted=True)
            fingerprint = self._check_same_data(data, settings, "partial_fit", given)
            settings["json_params"] = self._apply_params(settings)
            self.data_fingerprint_ = fingerprint
            if log_every is not None:
                self.history_.log_every = log_every
        else:
            data = self._check_data(data, settings, fitted=False)
            before = dict(self.__dict__)
            try:
                started = time.perf_counter()
                note = self._initialize(data, settings)
                if self._shard is not None:  # every rank starts from rank 0's state
                    self._shard.broadcast_arrays(self.state_arrays())
                    self._rng.bit_generator.state = self._shard.broadcast(
                        self._rng.bit_generator.state
                    )
                self.data_fingerprint_ = self._fingerprint(data)
                if verbose and note:
                    say(f"{note} ({time.perf_counter() - started:.1f} s)")
                self.n_iter_ = 0
                self.history_ = History(1 if log_every is None else log_every)
            except BaseException:
                self.__dict__.clear()
                self.__dict__.update(before)
                raise
        if self._shard is not None and self._shard.rank != 0:
            verbose, run_dir = 0, None  # rank 0 alone writes and prints
        callbacks = self._build_callbacks(
            callbacks, verbose, run_dir, checkpoint_every, keep_checkpoints
        )
        try:
            self._use_backend(settings)
            return self._train(self._training_data(data, settings), steps, callbacks, settings)
        finally:
            self._shard = None

    def _use_backend(self, settings: dict) -> None:
        """Move the networks and the optimizer state to the checked backend of
        ``settings["placement"]`` (a no-op where they are), and make the random
        source of the steps there (:meth:`wgangp.backend.Backend.random`)."""
        backend = settings["placement"]
        for name, net in self.networks().items():
            net.to(backend)
            getattr(self, f"{name}_optimizer_").to(backend)
        self._backend = backend
        self._random = backend.random(self._rng)

    def _check_backend(self, backend: Backend) -> None:
        """Refuse a backend this estimator cannot train on (every one is fine here)."""

    def _on_networks(self, x: np.ndarray):
        """A NumPy array ``x`` as an array of the backend the networks live on."""
        backend = getattr(self, "_backend", None)
        if backend is None or backend.is_numpy:
            return x
        return backend.asarray(x)

    def _rows_in(self, data) -> int:
        """Rows of checked training data (this rank's share in a data-parallel run)."""
        return len(data)

    def _check_same_data(self, data, settings: dict, what: str, given=None) -> dict | None:
        """The fingerprint of ``data``, refused when it is not the model's own data.

        A model saved before fingerprints were recorded has none: any data
        is taken then. With ``allow_new_data`` a warning says what changed.
        """
        new = self._cached_fingerprint(data, given)
        old = getattr(self, "data_fingerprint_", None)
        if old is None or new is None or old == new:
            return new
        changes = [
            f"{key} {old.get(key)!r} -> {new.get(key)!r}"
            for key in ("rows", "columns", "pairs")
            if old.get(key) != new.get(key)
        ] or ["the same shape, other values"]
        changed = "; ".join(changes)
        if not settings.get("allow_new_data"):
            raise InvalidDataError(
                f"{what}: the data differ from those this {type(self).__name__} was trained "
                f"on ({changed}); its scaling and encoding come from the old data. Train on "
                "the same data, fit(...) afresh, or pass allow_new_data=True "
                "(wgangp resume --allow-new-data) to continue on these"
            )
        warnings.warn(
            f"{what}: continuing on other data than this {type(self).__name__} was trained "
            f"on ({changed}); its scaling and encoding stay those of the old data",
            UserWarning,
            stacklevel=5,
        )
        return new

    def _cached_fingerprint(self, data, given=None) -> dict | None:
        """:meth:`_fingerprint` of the checked ``data``, remembered for the array last
        given: a loop of short ``partial_fit`` calls on the same array rehashes only a
        sample of its rows (still every row when the array changed shape or the
        sample changed); for a file read in parts, rehashed when the file changed.
        ``given`` is the array as the caller passed it, when the check made
        ``data`` a new array (a float32 array checked to float64)."""
        key = given if isinstance(given, np.ndarray) else data
        if isinstance(key, np.ndarray):
            probe = _probe(key)
        elif hasattr(key, "fingerprint_probe"):  # a file read in parts (wgangp.data.RowStream)
            probe = key.fingerprint_probe()
        else:
            return self._fingerprint(data)
        cached = getattr(self, "_fingerprint_cache", None)
        if cached is not None and cached[0]() is key and cached[1] == probe:
            return cached[2]
        fingerprint = self._fingerprint(data)
        self._fingerprint_cache = (weakref.ref(key), probe, fingerprint)
        return fingerprint

    def _fingerprint(self, data) -> dict | None:
        """The training data's fingerprint: of all ranks' rows in a data-parallel run."""
        own = self._data_fingerprint(data)
        shard = getattr(self, "_shard", None)
        if own is None or shard is None:
            return own
        parts = shard.comm.allgather(own)
        rows = sum(int(part["rows"]) for part in parts)
        if own.get("additive"):  # a sum over rows: the single process's fingerprint
            total = sum(int(part["hash"], 16) for part in parts) % 2**64
            return {**own, "rows": rows, "hash": f"{total:016x}"}
        joined = "".join(str(part["hash"]) for part in parts).encode("ascii")
        return {**own, "rows": rows, "hash": hashlib.blake2b(joined, digest_size=16).hexdigest()}

    def _data_fingerprint(self, data) -> dict | None:
        """Rows, columns and a hash of the checked training data (None: not recorded)."""
        return None

    def _apply_params(self, settings: dict) -> dict | None:
        """Carry changed constructor arguments into a fitted model before it continues.

        The learning rate reaches the optimizers; anything that shapes the
        networks or the data needs a new ``fit`` and is refused here. Returns
        the parameters as the model file records them (None for a model that
        has no record of them yet).
        """
        saved = getattr(self, "_fitted_params", None)
        if saved is None:
            return None
        now = self._json_params()
        if now == saved:  # nothing changed (a loop of partial_fit calls)
            return now
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
        return now

    LIVE_PARAMS: tuple[str, ...] = (
        "lr",
        "lambda_gp",
        "n_critic",
        "threads",
        "backend",
        "device",
        "cuda_graph",
    )
    """Constructor arguments that ``partial_fit`` applies to a fitted model."""

    SCHEDULABLE_PARAMS: tuple[str, ...] = ("lr", "lambda_gp", "n_critic")
    """Live numbers that :meth:`set_live_param` may change in the middle of a fit."""

    def set_live_param(self, name: str, value) -> None:
        """Change a number of :attr:`SCHEDULABLE_PARAMS` now, also in the middle of
        ``fit`` (a callback's way to schedule it, :class:`wgangp.schedules.ParamSchedule`).

        The value is checked like the constructor's argument; the next step uses
        it, and the model file records it. ``lr`` goes to every optimizer.
        """
        if name not in self.SCHEDULABLE_PARAMS:
            raise InvalidParameterError(
                f"{name!r} cannot change during training of a {type(self).__name__}; "
                f"these can: {', '.join(self.SCHEDULABLE_PARAMS)}"
            )
        value = check_param(value, name, self.PARAMS[name])
        setattr(self, name, value)
        if name == "lr" and self.is_fitted():
            for opt in self.optimizers().values():
                opt.lr = value
        running = self.__dict__.get("_running_settings")
        if running is not None:
            running[name] = value

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
            if k not in _PLACEMENT + ("random_state",)
            and mine[k] != defaults[k]
            and mine[k] != theirs.get(k)
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
        placement = {k: getattr(self, k) for k in _PLACEMENT if hasattr(self, k)}
        self.__dict__.update(loaded.__dict__)
        self.__dict__.update(placement)  # where to train is this call's choice, not the file's
        if not len(self.history_):  # a file from before histories were saved
            run_history = Path(checkpoint).parent.parent / HISTORY_FILE
            if run_history.exists():
                self.history_ = read_history(run_history)
        self.history_.truncate(self.n_iter_)

    def _build_callbacks(self, callbacks, verbose, run_dir, checkpoint_every, keep) -> list:
        callbacks = list(callbacks or [])
        if not verbose and run_dir is None:
            return callbacks
        if _standard_callbacks is None:  # pragma: no cover - wgangp/__init__ imports monitor
            raise RuntimeError("import wgangp.monitor to train with run_dir or verbose")
        return _standard_callbacks(callbacks, verbose, run_dir, checkpoint_every, keep)

    def _train(self, data, steps: int, callbacks: list, settings: dict):
        """The iteration loop: steps, records, history, callbacks, divergence."""
        self.stop_training = False
        self._steps_target = self.n_iter_ + steps
        self._fitted_params = settings.get("json_params") or self._json_params()
        history = self.history_
        optimizers = self.optimizers()
        record = None
        logged = True
        started = time.perf_counter()
        threads = ThreadPolicy(
            settings["threads"], self._largest_gemm_flop(), getattr(self, "_thread_state", None)
        )
        self._running_settings = settings  # set_live_param reaches the running loop
        for cb in callbacks:
            cb.on_train_begin(self)
        try:
            with threads:
                for _ in range(steps):
                    threads.before()
                    ran_with = threads.current  # after() may switch for the next one
                    start = time.perf_counter()
                    stats = self._iteration(data, settings)
                    self.n_iter_ += 1
                    end = time.perf_counter()
                    threads.after()
                    record = {"iteration": self.n_iter_}
                    record.update(stats)
                    for name, opt in optimizers.items():
                        record[f"lr_{name}"] = opt.lr
                    record["threads"] = ran_with
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
            self._running_settings = None
            self._thread_state = threads.state
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
        networks = self.networks()
        with np.errstate(over="ignore", invalid="ignore"):
            return [
                f"{net_name} {'W' if i % 2 == 0 else 'b'}{i // 2 + 1}"
                for net_name, net in networks.items()
                if not _surely_finite(net.flat)
                for i, p in enumerate(net.params)
                if not _all_finite(p)
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
                float(np.abs(to_numpy(p)).max())
                for net in self.networks().values()
                for p in net.params
            )
            raise TrainingDiverged(
                f"{method}: the output overflows, because the parameters have blown up "
                f"(largest |parameter| = {largest:.3g}); the model diverged in training. "
                "Use a checkpoint saved before the divergence, with a lower learning rate",
                iteration=self.n_iter_,
            )
        return out

    def _step_scratch(self, step: str) -> Scratch:
        """The work arrays of one kind of training step (``"critic"``, ``"generator"``),
        reused from step to step and from one ``partial_fit`` call to the next. Not
        training state: never saved, and rebuilt when missing."""
        scratches = self.__dict__.setdefault("_scratches", {})
        scratch = scratches.get(step)
        if scratch is None:
            scratch = scratches[step] = Scratch(pack=True)
        return scratch

    def _step_empty(self, step: str):
        """The allocator of a step of that kind (``empty=`` of the losses and passes):
        its scratch, reset for this step (:func:`wgangp.steps.empty_of`)."""
        return empty_of(self._step_scratch(step))

    def state_arrays(self) -> list[np.ndarray]:
        """Every array of the training state: parameters, then optimizer moments."""
        arrays = [p for net in self.networks().values() for p in net.params]
        for opt in self.optimizers().values():
            if opt.state is not None:
                for slot in opt.slots:
                    arrays.extend(opt.state[slot])
        return arrays

    def training_state(self) -> dict:
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
            state["sampler"] = sampler.snapshot()
        return state

    def restore_training_state(self, state: dict) -> None:
        """Put back what :meth:`training_state` returned (the arrays are the caller's)."""
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
            self._sampler.restore(state["sampler"])


_PLACEMENT = ("backend", "device", "cuda_graph")
"""Constructor arguments that say where to train, not what: a resumed checkpoint
keeps the caller's."""


def _surely_finite(flat) -> bool:
    """True when every value of a NumPy flat buffer is finite, from one BLAS dot
    product (NaN and inf make it non-finite); False means "look closer" (large
    finite values can overflow the sum: call it where overflow is quiet)."""
    if type(flat) is not np.ndarray:
        return False
    return math.isfinite(float(np.dot(flat, flat)))


def _all_finite(a) -> bool:
    xp = namespace(a)
    return bool(xp.all(xp.isfinite(a)))


def _probe(X: np.ndarray) -> tuple:
    """The shape and the bytes of up to 64 evenly spaced rows: a cheap look at an array."""
    step = max(1, len(X) // 64)
    # tobytes() of the strided rows is their C-order copy: no other copy first
    return X.shape, X.dtype.str, hashlib.blake2b(X[::step].tobytes()).digest()


def say(line: str) -> None:
    """One line of progress on stdout; output that cannot be written is skipped."""
    try:
        print(line, file=sys.stdout, flush=True)
    except (OSError, ValueError, AttributeError):
        pass


def _non_finite_metrics(record: dict) -> list[str]:
    return [
        f"{key}={value}"
        for key, value in record.items()
        if isinstance(value, float) and not math.isfinite(value)
    ]
