"""The :class:`WGANGP` estimator: fit, sample, score, save and load.

The constructor only stores its arguments (scikit-learn's convention);
everything is validated when :meth:`WGANGP.fit` starts, before any training
work. Fitted attributes end with an underscore.
"""

from __future__ import annotations

import contextlib
import json
import math
import numbers
import os
import tempfile
import time
import warnings
import zipfile
import zlib
from pathlib import Path

import numpy as np

from ._version import __version__
from .backend import as_float_dtype
from .errors import (
    InvalidDataError,
    InvalidParameterError,
    InvalidParameterTypeError,
    ModelFileError,
    NotFittedError,
    TrainingDiverged,
    WGANGPError,
)
from .history import History
from .init import INITIALIZERS
from .losses import PENALTIES
from .nn import MLP, get_activation
from .optim import OPTIMIZER_NAMES, Optimizer, get_optimizer
from .params import ParamsMixin
from .train import MinibatchSampler, critic_step, generator_step

FORMAT_NAME = "wgangp-model"
FORMAT_VERSION = 1
OUTPUT_ACTIVATIONS = ("auto", "identity", "tanh")
SCALES = ("standard", None)


# --------------------------------------------------------------------------- #
# Validation at the boundary.                                                 #
# --------------------------------------------------------------------------- #


def _check_int(name: str, value, minimum: int = 1, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidParameterTypeError(
            f"{name}={value!r} must be an integer >= {minimum}" + (" or None" if allow_none else "")
        )
    if value < minimum:
        raise InvalidParameterError(f"{name}={value!r} is not allowed; it must be >= {minimum}")
    return int(value)


def _check_float(name: str, value, minimum: float = 0.0, strict: bool = True) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidParameterTypeError(f"{name}={value!r} must be a number")
    value = float(value)
    if not np.isfinite(value) or value < minimum or (strict and value == minimum):
        allowed = f"> {minimum}" if strict else f">= {minimum}"
        raise InvalidParameterError(
            f"{name}={value!r} is not allowed; it must be finite and {allowed}"
        )
    return value


def _check_random_state(name: str, value):
    """None, an int seed >= 0 or a Generator, as ``numpy.random.default_rng`` takes."""
    if value is None or isinstance(value, np.random.Generator):
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidParameterTypeError(
            f"{name}={value!r} must be None, an int seed >= 0 or a numpy.random.Generator"
        )
    if value < 0:
        raise InvalidParameterError(f"{name}={value!r} is not allowed; a seed must be >= 0")
    return int(value)


def _check_callbacks(callbacks) -> list:
    """None or a list of objects with the three :class:`wgangp.Callback` hooks."""
    if callbacks is None:
        return []
    if isinstance(callbacks, (list, tuple)):
        for i, cb in enumerate(callbacks):
            missing = [
                hook
                for hook in ("on_train_begin", "on_iteration_end", "on_train_end")
                if not callable(getattr(cb, hook, None))
            ]
            if missing:
                raise InvalidParameterTypeError(
                    f"callbacks[{i}]={cb!r} is not a callback: it lacks {missing}; "
                    "subclass wgangp.Callback"
                )
        return list(callbacks)
    hint = " (wrap it in a list: callbacks=[cb])" if hasattr(callbacks, "on_train_begin") else ""
    raise InvalidParameterTypeError(
        f"callbacks={callbacks!r} must be None or a list of wgangp.Callback objects{hint}"
    )


def _non_finite_parameters(model) -> list[str]:
    return [
        f"{net_name} parameter {i}"
        for net_name, net in (("generator", model.generator_), ("critic", model.critic_))
        for i, p in enumerate(net.params)
        if not np.isfinite(p).all()
    ]


def _non_finite_metrics(record: dict) -> list[str]:
    return [
        f"{key}={value}"
        for key, value in record.items()
        if isinstance(value, float) and not math.isfinite(value)
    ]


def _check_not_diverged(model, bad: list[str]) -> None:
    """Raise TrainingDiverged naming the non-finite metrics or parameters ``bad``."""
    if bad:
        raise TrainingDiverged(
            f"training diverged at iteration {model.n_iter_}: {', '.join(bad[:4])} "
            "is not finite, so the model's parameters are no longer usable. Lower the "
            f"learning rate (lr={model.lr!r}) or check the scale of X, then refit or "
            "resume from a checkpoint saved before the divergence",
            iteration=model.n_iter_,
        )


def _check_output(model, method: str, out: np.ndarray) -> np.ndarray:
    """Refuse to return overflowed output: the parameters of a model that
    diverged can be finite but so large that a forward pass overflows."""
    if not np.isfinite(out).all():
        largest = max(
            float(np.abs(p).max()) for p in model.generator_.params + model.critic_.params
        )
        raise TrainingDiverged(
            f"{method}: the output overflows, because the parameters have blown up "
            f"(largest |parameter| = {largest:.3g}); the model diverged in training. "
            "Use a checkpoint saved before the divergence, with a lower learning rate",
            iteration=model.n_iter_,
        )
    return out


def _check_path(name: str, path) -> Path:
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidParameterTypeError(
            f"{name}={path!r} must be a str or os.PathLike path, not {type(path).__name__}"
        )
    return Path(path)


def _check_folder(name: str, path) -> Path:
    """A folder path; it may not exist yet, but must not be a file."""
    path = _check_path(name, path)
    if path.exists() and not path.is_dir():
        raise NotADirectoryError(
            f"{name}={str(path)!r} is a file; give a folder (it is created if missing)"
        )
    return path


def _physical_memory() -> int | None:
    """This machine's memory in bytes, or None where the OS does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # pragma: no cover - not Linux/macOS
        return None


def _check_fits_in_memory(what: str, n_bytes: int, fix: str) -> None:
    """Refuse, before allocating, work that could never fit in this machine's memory."""
    memory = _physical_memory()
    if memory is not None and n_bytes > memory:
        raise InvalidParameterError(
            f"{what} would need about {n_bytes / 2**30:.3g} GiB, more than this machine's "
            f"{memory / 2**30:.3g} GiB of memory; {fix}"
        )


def check_array(X, name: str = "X", n_features: int | None = None, min_rows: int = 1) -> np.ndarray:
    """Validate a 2-D finite numeric array and return it as float64.

    Raises
    ------
    InvalidDataError
        On NaN or inf, a wrong number of dimensions, fewer than ``min_rows``
        rows, no columns, masked entries, or a wrong number of columns.
    InvalidParameterTypeError
        On non-numeric (object, string) data.
    """
    if isinstance(X, np.ma.MaskedArray) and np.ma.getmaskarray(X).any():
        raise InvalidDataError(
            f"{name} is a masked array with masked (missing) entries; "
            "remove or impute them before fitting"
        )
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise InvalidDataError(f"{name} cannot be read as an array: {exc}") from None
    if arr.dtype == object or arr.dtype.kind in "USVMm":
        raise InvalidParameterTypeError(
            f"{name} has dtype {arr.dtype}; it must be numeric (int or float). "
            "Encode text columns first (wgangp.tabular handles discrete columns)"
        )
    if arr.dtype.kind == "c":
        raise InvalidParameterTypeError(f"{name} has complex dtype {arr.dtype}; use real numbers")
    if arr.ndim != 2:
        hint = " (use X.reshape(-1, 1) for a single column)" if arr.ndim == 1 else ""
        raise InvalidDataError(
            f"{name} must be 2-D (rows, columns); got {arr.ndim}-D with shape {arr.shape}{hint}"
        )
    if arr.shape[0] < max(min_rows, 1):
        rows = "1 row" if arr.shape[0] == 1 else f"{arr.shape[0]} rows"
        need = "1 row is" if min_rows <= 1 else f"{min_rows} rows are"
        why = " to learn a distribution" if min_rows > 1 else ""
        raise InvalidDataError(f"{name} has {rows}; at least {need} needed{why}")
    if arr.shape[1] == 0:
        raise InvalidDataError(f"{name} has 0 columns; at least 1 column is needed")
    arr = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))[0]
        kind = "NaN" if np.isnan(arr[tuple(bad)]) else "inf"
        raise InvalidDataError(
            f"{name} contains {kind} (first at row {bad[0]}, column {bad[1]}); "
            "remove or impute non-finite values before fitting"
        )
    if n_features is not None and arr.shape[1] != n_features:
        raise InvalidDataError(
            f"{name} has {arr.shape[1]} columns but the model was fitted on {n_features}"
        )
    return arr


# --------------------------------------------------------------------------- #
# The estimator.                                                              #
# --------------------------------------------------------------------------- #


class WGANGP(ParamsMixin):
    """Wasserstein GAN with gradient penalty on fully-connected networks.

    Defaults are the recipe: 3 hidden layers of 512 ReLU units in both
    networks, He-uniform initialisation, RMSProp at lr 1e-4, penalty
    coefficient 10, 5 critic steps per generator step, batch 256. The
    paper's own optimizer is ``optimizer="adam"`` (betas (0, 0.9)); its toy
    code's is ``"adam-toy"`` (betas (0.5, 0.9)).

    Parameters
    ----------
    hidden : int
        Units in each hidden layer (generator and critic).
    depth : int
        Number of hidden layers (each network has ``depth + 1`` dense layers).
    activation : str or dict
        Hidden activation: relu, leaky_relu, tanh, softplus, identity.
    output_activation : {"auto", "identity", "tanh"}
        Generator output; "auto" is tanh when the data lie in [-1, 1] and reach
        both ends (e.g. scaled images; then no further scaling is applied),
        else identity.
    init : str
        he_uniform, he_normal, glorot_uniform or glorot_normal.
    optimizer : {"rmsprop", "adam", "adam-toy", "sgd"} or Optimizer
        Used for both networks (each gets its own state).
    lr : float
        Learning rate of a named optimizer.
    lambda_gp : float
        Penalty coefficient (>= 0; 0 turns the penalty off).
    penalty : {"two-sided", "one-sided"}
    n_critic : int
        Critic steps per generator step.
    batch_size : int
        Rows per minibatch; clipped (with a warning) to the number of rows.
    latent_dim : int or None
        Noise dimension, independent of the data; None means 2 for data of up
        to 2 columns, else ``min(n_features, 128)``.
    scale : {"standard", None}
        Standardise columns inside (inverted by ``sample``), or use data as is.
    dtype : numpy.float32 or numpy.float64
    random_state : None, int or numpy.random.Generator
        The same seed gives the same model.

    Attributes
    ----------
    generator_, critic_ : MLP
    n_iter_ : int
        Generator iterations done.
    history_ : wgangp.history.History
        Metrics records, read like a list of dicts (``len``, ``[-1]``,
        iteration; ``history_.column(key)`` gives an array): every
        ``log_every``-th iteration and the last one of each ``fit`` call.
        Keys: iteration, critic_loss, generator_loss, generator_grad_norm,
        wasserstein (mean D(real) - mean D(fake)), penalty, d_real, d_fake,
        grad_norm_min/mean/max (critic input-gradient norms at the
        interpolates), critic_grad_norm, lr_critic, lr_generator, seconds
        (this iteration), elapsed (since the call started). Critic metrics
        are those of the iteration's last critic step.
    n_features_in_, latent_dim_, output_activation_ : fitted settings.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(64, 2))
    >>> model = WGANGP(hidden=16, depth=2, batch_size=32, random_state=0)
    >>> model.fit(X, steps=3).sample(5, random_state=0).shape
    (5, 2)
    """

    def __init__(
        self,
        hidden: int = 512,
        depth: int = 3,
        activation="relu",
        output_activation: str = "auto",
        init: str = "he_uniform",
        optimizer="rmsprop",
        lr: float = 1e-4,
        lambda_gp: float = 10.0,
        penalty: str = "two-sided",
        n_critic: int = 5,
        batch_size: int = 256,
        latent_dim: int | None = None,
        scale: str | None = "standard",
        dtype=np.float32,
        random_state=None,
    ):
        self.hidden = hidden
        self.depth = depth
        self.activation = activation
        self.output_activation = output_activation
        self.init = init
        self.optimizer = optimizer
        self.lr = lr
        self.lambda_gp = lambda_gp
        self.penalty = penalty
        self.n_critic = n_critic
        self.batch_size = batch_size
        self.latent_dim = latent_dim
        self.scale = scale
        self.dtype = dtype
        self.random_state = random_state

    def _validate_params(self) -> dict:
        """Check every constructor argument; return the resolved settings."""
        settings = {
            "hidden": _check_int("hidden", self.hidden),
            "depth": _check_int("depth", self.depth),
            "n_critic": _check_int("n_critic", self.n_critic),
            "batch_size": _check_int("batch_size", self.batch_size),
            "latent_dim": _check_int("latent_dim", self.latent_dim, allow_none=True),
            "lr": _check_float("lr", self.lr),
            "lambda_gp": _check_float("lambda_gp", self.lambda_gp, strict=False),
            "activation": get_activation(self.activation),
            "dtype": as_float_dtype(self.dtype),
        }
        if self.output_activation not in OUTPUT_ACTIVATIONS:
            raise InvalidParameterError(
                f"output_activation={self.output_activation!r} is not allowed; "
                f"choose one of {OUTPUT_ACTIVATIONS}"
            )
        if not isinstance(self.init, str) or self.init not in INITIALIZERS:
            raise InvalidParameterError(
                f"init={self.init!r} is not known; choose one of {sorted(INITIALIZERS)}"
            )
        if self.penalty not in PENALTIES:
            raise InvalidParameterError(
                f"penalty={self.penalty!r} is not known; choose one of {PENALTIES}"
            )
        if self.scale not in SCALES:
            raise InvalidParameterError(
                f"scale={self.scale!r} is not allowed; choose one of {SCALES}"
            )
        if not isinstance(self.optimizer, Optimizer) and not (
            isinstance(self.optimizer, str) and self.optimizer in OPTIMIZER_NAMES
        ):
            raise InvalidParameterError(
                f"optimizer={self.optimizer!r} is not known; choose one of {OPTIMIZER_NAMES} "
                "or pass a wgangp.optim.Optimizer instance"
            )
        _check_random_state("random_state", self.random_state)
        return settings

    # ------------------------------------------------------------- setup --

    def _check_trainable(self, X: np.ndarray, settings: dict) -> None:
        """Refuse, before any fitted state changes, data whose scaling overflows
        and networks that could never fit in this machine's memory."""
        n_rows, n_features = X.shape
        dtype = settings["dtype"]
        with np.errstate(over="ignore", invalid="ignore"):
            finite = np.isfinite(X.mean(axis=0)) & np.isfinite(X.std(axis=0))
        if self.scale is None:
            finite &= np.abs(X).max(axis=0) <= np.finfo(dtype).max
        if not finite.all():
            j = int(np.argmin(finite))
            raise InvalidDataError(
                f"X column {j} has values as large as {np.abs(X[:, j]).max():.3g}, too large "
                f"to compute with (its mean, standard deviation or {dtype.name} value "
                "overflows); rescale X, e.g. divide the column by a power of 10"
            )
        hidden, depth = settings["hidden"], settings["depth"]
        latent = settings["latent_dim"]
        if latent is None:
            latent = 2 if n_features <= 2 else min(n_features, 128)
        batch = min(settings["batch_size"], n_rows)
        n_params = 0
        for sizes in (
            [latent] + [hidden] * depth + [n_features],
            [n_features] + [hidden] * depth + [1],
        ):
            n_params += sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
        # parameters, gradients and up to two optimizer moments, plus a few
        # arrays per layer over the 3 * batch stacked critic rows
        n_values = 5 * n_params + 9 * batch * (hidden * depth + n_features + latent)
        _check_fits_in_memory(
            f"hidden={hidden}, depth={depth}, latent_dim={latent} with batch_size={batch}",
            n_values * dtype.itemsize,
            "choose a smaller hidden, depth, latent_dim or batch_size",
        )

    def _initialize(self, X: np.ndarray, settings: dict) -> None:
        self._check_trainable(X, settings)
        n_rows, n_features = X.shape
        dtype = settings["dtype"]
        self.n_features_in_ = n_features
        self.dtype_ = dtype
        self._rng = np.random.default_rng(self.random_state)

        low, high = float(X.min()), float(X.max())
        bounded = low >= -1.0 and high <= 1.0 and low <= -0.99 and high >= 0.99
        if self.output_activation == "auto":
            self.output_activation_ = "tanh" if bounded else "identity"
        else:
            self.output_activation_ = self.output_activation
        if self.scale == "standard" and self.output_activation_ != "tanh":
            mean = X.mean(axis=0)
            std = X.std(axis=0)
            std[std == 0] = 1.0  # a constant column stays constant
            self.scale_mean_, self.scale_std_ = mean, std
        else:
            self.scale_mean_ = np.zeros(n_features)
            self.scale_std_ = np.ones(n_features)

        latent = settings["latent_dim"]
        if latent is None:
            latent = 2 if n_features <= 2 else min(n_features, 128)
        self.latent_dim_ = latent
        hidden, depth = settings["hidden"], settings["depth"]
        act = settings["activation"]
        self.generator_ = MLP(
            [latent] + [hidden] * depth + [n_features],
            activation=act,
            output_activation=self.output_activation_,
            init=self.init,
            random_state=self._rng,
            dtype=dtype,
        )
        self.critic_ = MLP(
            [n_features] + [hidden] * depth + [1],
            activation=act,
            output_activation="identity",
            init=self.init,
            random_state=self._rng,
            dtype=dtype,
        )
        self.generator_optimizer_ = get_optimizer(self.optimizer, lr=settings["lr"])
        self.critic_optimizer_ = get_optimizer(self.optimizer, lr=settings["lr"])
        self.generator_optimizer_.init(self.generator_.params)
        self.critic_optimizer_.init(self.critic_.params)
        self._sampler = MinibatchSampler(n_rows, self._effective_batch(n_rows, settings))
        self.n_iter_ = 0
        self.n_critic_steps_ = 0
        self.history_ = History()

    def _effective_batch(self, n_rows: int, settings: dict) -> int:
        batch = settings["batch_size"]
        if batch > n_rows:
            warnings.warn(
                f"batch_size={batch} is larger than the {n_rows} rows of X; "
                f"using batch_size={n_rows}",
                UserWarning,
                stacklevel=4,
            )
            return n_rows
        return batch

    def _transform(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            Xs = ((X - self.scale_mean_) / self.scale_std_).astype(self.dtype_)
        if not np.isfinite(Xs).all():
            i, j = np.argwhere(~np.isfinite(Xs))[0]
            raise InvalidDataError(
                f"X[{i}, {j}] = {X[i, j]:.3g} overflows {self.dtype_.name} once scaled like "
                "the training data; it is far outside the range the model was fitted on"
            )
        return Xs

    def _inverse_transform(self, Xs: np.ndarray) -> np.ndarray:
        return Xs.astype(np.float64) * self.scale_std_ + self.scale_mean_

    def _check_fitted(self) -> None:
        if not hasattr(self, "generator_"):
            raise NotFittedError(
                f"this {type(self).__name__} is not fitted yet; call fit(X) first "
                "(or wgangp.load(path) for a saved model)"
            )

    # ---------------------------------------------------------- training --

    def fit(
        self,
        X,
        steps: int = 1000,
        callbacks=None,
        *,
        verbose: int = 0,
        log_every: int = 1,
        run_dir=None,
        checkpoint_every: int | None = None,
        keep_checkpoints: int = 3,
        resume=None,
    ) -> WGANGP:
        """Train from scratch (or from a checkpoint) for ``steps`` generator iterations.

        Each iteration is ``n_critic`` critic steps, each on the next shuffled
        minibatch of real rows (epoch by epoch over all rows), then one
        generator step with fresh noise.

        Parameters
        ----------
        X : array-like, shape (n_rows, n_features)
        steps : int
            Generator iterations to run in this call (also when resuming).
        callbacks : list of wgangp.Callback, optional
            Called around training; see :class:`wgangp.Callback` for the protocol.
        verbose : {0, 1}
            1 shows a progress bar (:class:`wgangp.monitor.ProgressBar`, needs
            ``wgangp[progress]``); it stays quiet when stdout is not a terminal.
        log_every : int
            Keep every ``log_every``-th iteration's metrics record (and the
            last one) in ``history_`` and in ``history.jsonl``.
        run_dir : path, optional
            A run folder. When given, these callbacks are attached unless one
            of the same type is already in ``callbacks``:
            :class:`~wgangp.monitor.HistoryLogger` (``run_dir/history.jsonl``),
            :class:`~wgangp.monitor.Checkpoint` (``run_dir/checkpoints/``, every
            ``checkpoint_every`` iterations and at the end, the last
            ``keep_checkpoints`` kept) and :class:`~wgangp.monitor.DivergenceGuard`.
        checkpoint_every : int, optional
            Checkpoint period in iterations; None checkpoints at the end only.
        keep_checkpoints : int
            How many checkpoint files to keep.
        resume : path or True, optional
            Continue, bit for bit, from the last checkpoint of this run folder
            (or from this checkpoint file) instead of starting afresh; the
            checkpoint's settings replace the estimator's. ``True`` means
            ``run_dir``'s last checkpoint if there is one (else start afresh).
            ``run_dir`` defaults to the resumed folder, and its
            ``history.jsonl`` is cut back to the checkpoint and continued.

        Returns
        -------
        self

        Raises
        ------
        TrainingDiverged
            From the divergence guard, when a loss or a parameter goes NaN/inf.
        """
        settings = self._validate_params()
        steps = _check_int("steps", steps)
        log_every = _check_int("log_every", log_every)
        keep_checkpoints = _check_int("keep_checkpoints", keep_checkpoints)
        checkpoint_every = _check_int("checkpoint_every", checkpoint_every, allow_none=True)
        if verbose not in (0, 1, False, True):
            raise InvalidParameterError(f"verbose={verbose!r} is not allowed; use 0 or 1")
        if run_dir is not None:
            _check_folder("run_dir", run_dir)
        if resume is not None and not isinstance(resume, bool):
            _check_path("resume", resume)
        _check_callbacks(callbacks)
        X = check_array(X, min_rows=2)
        checkpoint = None
        if resume is not None and resume is not False:
            from .monitor import latest_checkpoint

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
        if checkpoint is not None:
            self._resume_from(checkpoint)
            settings = self._validate_params()
            X = check_array(X, n_features=self.n_features_in_, min_rows=2)
            if X.shape[0] != self._sampler.n_rows:
                self._sampler = MinibatchSampler(
                    X.shape[0], self._effective_batch(X.shape[0], settings)
                )
            self.history_.log_every = log_every
        else:
            self._initialize(X, settings)
            self.history_ = History(log_every)
        callbacks = self._build_callbacks(
            callbacks, verbose, run_dir, checkpoint_every, keep_checkpoints
        )
        return self._train(self._transform(X), steps, callbacks, settings)

    def partial_fit(
        self,
        X,
        steps: int = 1,
        callbacks=None,
        *,
        verbose: int = 0,
        log_every: int | None = None,
        run_dir=None,
        checkpoint_every: int | None = None,
        keep_checkpoints: int = 3,
    ) -> WGANGP:
        """Continue training for ``steps`` more iterations (fit first if unfitted).

        Continuing a loaded model on the same ``X`` reproduces, bit for bit,
        the run that was never interrupted. Arguments as in :meth:`fit`;
        ``log_every=None`` keeps the history's current period.
        """
        if not hasattr(self, "generator_"):
            return self.fit(
                X,
                steps=steps,
                callbacks=callbacks,
                verbose=verbose,
                log_every=1 if log_every is None else log_every,
                run_dir=run_dir,
                checkpoint_every=checkpoint_every,
                keep_checkpoints=keep_checkpoints,
            )
        settings = self._validate_params()
        steps = _check_int("steps", steps)
        keep_checkpoints = _check_int("keep_checkpoints", keep_checkpoints)
        checkpoint_every = _check_int("checkpoint_every", checkpoint_every, allow_none=True)
        if run_dir is not None:
            _check_folder("run_dir", run_dir)
        if log_every is not None:
            self.history_.log_every = _check_int("log_every", log_every)
        _check_callbacks(callbacks)
        X = check_array(X, n_features=self.n_features_in_, min_rows=2)
        if X.shape[0] != self._sampler.n_rows:
            self._sampler = MinibatchSampler(
                X.shape[0], self._effective_batch(X.shape[0], settings)
            )
        callbacks = self._build_callbacks(
            callbacks, verbose, run_dir, checkpoint_every, keep_checkpoints
        )
        return self._train(self._transform(X), steps, callbacks, settings)

    def _resume_from(self, checkpoint: Path) -> None:
        """Take over the full training state of a checkpoint file."""
        loaded = load(checkpoint)
        # warn about settings the caller chose (not left at their defaults) that differ
        defaults = WGANGP()._json_params()
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
                stacklevel=3,
            )
        history = self.history_ if isinstance(getattr(self, "history_", None), History) else None
        self.__dict__.update(loaded.__dict__)
        run_history = Path(checkpoint).parent.parent / "history.jsonl"
        if run_history.exists():
            from .history import read_history

            history = read_history(run_history)
            history.truncate(self.n_iter_)
        elif history is not None:
            history.truncate(self.n_iter_)
        self.history_ = history if history is not None else History()

    def _build_callbacks(self, callbacks, verbose, run_dir, checkpoint_every, keep) -> list:
        callbacks = list(callbacks or [])
        if not verbose and run_dir is None:
            return callbacks
        from . import monitor  # the monitors sit above the estimator: import on demand

        def missing(kind) -> bool:
            return not any(isinstance(cb, kind) for cb in callbacks)

        if run_dir is not None:
            run_dir = Path(run_dir)
            ckpt = None
            if missing(monitor.Checkpoint):
                ckpt = monitor.Checkpoint(
                    run_dir / "checkpoints", every=checkpoint_every, keep=keep
                )
            if missing(monitor.DivergenceGuard):
                # first, so that nothing logs or saves a diverged state before it acts
                callbacks.insert(0, monitor.DivergenceGuard(checkpoint=ckpt))
            if missing(monitor.HistoryLogger):
                callbacks.append(monitor.HistoryLogger(run_dir / "history.jsonl"))
            if ckpt is not None:
                callbacks.append(ckpt)
        if verbose and missing(monitor.ProgressBar):
            callbacks.append(monitor.ProgressBar())
        return callbacks

    def _train(self, Xs: np.ndarray, steps: int, callbacks, settings: dict) -> WGANGP:
        callbacks = _check_callbacks(callbacks)
        self.stop_training = False
        self._steps_target = self.n_iter_ + steps
        lambda_gp, penalty = settings["lambda_gp"], self.penalty
        n_critic = settings["n_critic"]
        batch = self._sampler.batch_size
        history = self.history_
        record = None
        logged = True
        started = time.perf_counter()
        for cb in callbacks:
            cb.on_train_begin(self)
        try:
            for _ in range(steps):
                start = time.perf_counter()
                for _ in range(n_critic):
                    x_real = Xs[self._sampler.next_indices(self._rng)]
                    stats = critic_step(
                        self.generator_,
                        self.critic_,
                        self.critic_optimizer_,
                        x_real,
                        self._rng,
                        lambda_gp,
                        penalty,
                    )
                    self.n_critic_steps_ += 1
                gen_stats = generator_step(
                    self.generator_, self.critic_, self.generator_optimizer_, batch, self._rng
                )
                self.n_iter_ += 1
                end = time.perf_counter()
                record = {"iteration": self.n_iter_, "critic_loss": stats.pop("loss")}
                record.update(gen_stats)
                record.update(stats)
                record["lr_critic"] = self.critic_optimizer_.lr
                record["lr_generator"] = self.generator_optimizer_.lr
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
                _check_not_diverged(self, diverged)
                if self.stop_training:
                    break
        finally:
            if record is not None and not logged:
                history.append(record)  # the last iteration is always kept
            error = None
            for cb in callbacks:
                try:
                    cb.on_train_end(self)
                except Exception as exc:  # every callback gets to close its files
                    error = error or exc
            if error is not None:
                raise error
        _check_not_diverged(self, _non_finite_parameters(self))
        return self

    # --------------------------------------------------------- inference --

    def sample(self, n: int, random_state=None) -> np.ndarray:
        """Draw ``n`` synthetic rows in the data's original units.

        ``random_state`` (None, int or Generator) seeds the noise; it never
        touches the training random stream.

        Returns
        -------
        array, shape (n, n_features), float64
        """
        self._check_fitted()
        n = _check_int("n", n)
        rng = np.random.default_rng(_check_random_state("random_state", random_state))
        width = max(self.generator_.sizes)
        _check_fits_in_memory(
            f"sample(n={n})",
            n * (self.latent_dim_ + 3 * width + 2 * self.n_features_in_) * 8,
            "draw the rows in smaller chunks",
        )
        z = rng.standard_normal((n, self.latent_dim_), dtype=self.dtype_)
        with np.errstate(over="ignore", invalid="ignore"):
            return _check_output(self, "sample", self._inverse_transform(self.generator_(z)))

    def score_samples(self, X) -> np.ndarray:
        """Critic value ``D(x)`` per row (higher looks more real to the critic).

        Returns
        -------
        array, shape (n_rows,), float64
        """
        self._check_fitted()
        X = check_array(X, n_features=self.n_features_in_)
        with np.errstate(over="ignore", invalid="ignore"):
            scores = self.critic_(self._transform(X))[:, 0].astype(np.float64)
        return _check_output(self, "score_samples", scores)

    # ----------------------------------------------------------- files --

    def _json_params(self) -> dict:
        params = self.get_params()
        if isinstance(params["optimizer"], Optimizer):
            params["optimizer"] = params["optimizer"].config()
        if not isinstance(params["activation"], str):
            params["activation"] = get_activation(params["activation"]).config()
        params["dtype"] = as_float_dtype(params["dtype"]).name
        if isinstance(params["random_state"], np.random.Generator):
            params["random_state"] = None
        elif params["random_state"] is not None:
            params["random_state"] = int(params["random_state"])
        return params

    def save(self, path) -> Path:
        """Write the model to one ``.npz`` file, atomically.

        The file holds the arrays (weights, optimizer moments, scaling,
        minibatch order) and a JSON header (config, versions, step, optimizer
        and RNG state). It is written to a temporary file in the same folder
        and renamed into place, so a crash never leaves a torn file.
        """
        self._check_fitted()
        path = _check_path("path", path)
        bad = _non_finite_parameters(self)
        if bad:
            raise TrainingDiverged(
                f"not saving {str(path)!r}: {', '.join(bad[:4])} holds NaN or inf (training "
                "diverged), and such a file could not be loaded; save a finite state",
                iteration=self.n_iter_,
            )
        arrays: dict[str, np.ndarray] = {}
        for net_name, net in (("generator", self.generator_), ("critic", self.critic_)):
            for i, p in enumerate(net.params):
                arrays[f"{net_name}/{i}"] = p
        optimizers = {}
        for net_name, opt in (
            ("generator", self.generator_optimizer_),
            ("critic", self.critic_optimizer_),
        ):
            state = opt.state_dict()
            optimizers[net_name] = {"config": opt.config(), "step": state["step"]}
            for slot in opt.slots:
                for i, a in enumerate(state.get(slot, [])):
                    arrays[f"optim/{net_name}/{slot}/{i}"] = a
        arrays["scale/mean"] = self.scale_mean_
        arrays["scale/std"] = self.scale_std_
        if self._sampler.perm is not None:
            arrays["sampler/perm"] = self._sampler.perm
        header = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "wgangp_version": __version__,
            "numpy_version": np.__version__,
            "saved_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "class": type(self).__name__,
            "params": self._json_params(),
            "fitted": {
                "n_features_in": self.n_features_in_,
                "latent_dim": self.latent_dim_,
                "output_activation": self.output_activation_,
                "dtype": self.dtype_.name,
                "n_iter": self.n_iter_,
                "n_critic_steps": self.n_critic_steps_,
                "generator": self.generator_.config(),
                "critic": self.critic_.config(),
            },
            "optimizers": optimizers,
            "rng_state": self._rng.bit_generator.state,
            "sampler": self._sampler.state(),
            "arrays": {k: [list(v.shape), v.dtype.str] for k, v in arrays.items()},
        }
        arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
        atomic_savez(path, arrays)
        return path


def atomic_savez(path: Path, arrays: dict) -> None:
    """``numpy.savez`` to a temporary file beside ``path``, fsync, rename, fsync the folder."""
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"path={str(path)!r} is a directory; give a file name in it, "
            f"e.g. {str(path / 'model.npz')!r}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise NotADirectoryError(
            f"cannot write {str(path)!r}: a part of its folder {str(path.parent)!r} "
            "is a file, not a folder"
        ) from None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot write {str(path)!r}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


# Reading model files. A model file may come from anyone: every field and
# every array is checked before it is trusted, sizes before anything is
# allocated, and nothing is ever unpickled.

MAX_HEADER_BYTES = 1 << 24
"""Largest JSON header accepted (16 MiB; a real one is a few kB)."""

HEADER_FIELDS = frozenset(
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
        "sampler",
        "arrays",
    }
)
_REQUIRED_OBJECTS = ("params", "fitted", "optimizers", "rng_state", "sampler", "arrays")
_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}
_BIT_GENERATORS = {
    "PCG64": np.random.PCG64,
    "PCG64DXSM": np.random.PCG64DXSM,
    "MT19937": np.random.MT19937,
    "Philox": np.random.Philox,
    "SFC64": np.random.SFC64,
}


def _scan_members(zf: zipfile.ZipFile, path) -> dict:
    """``key -> (ZipInfo, shape, fortran_order, dtype, data_offset)`` from each
    member's ``.npy`` header alone; no array data is read yet."""
    infos = zf.infolist()
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ModelFileError(f"{path} lists the entries {dup} more than once; refused")
    total = sum(info.file_size for info in infos)
    memory = _physical_memory()
    if memory is not None and total > memory:
        raise ModelFileError(
            f"{path} declares {total / 2**30:.3g} GiB of arrays, more than this machine's "
            f"{memory / 2**30:.3g} GiB of memory; refused"
        )
    entries = {}
    for info in infos:
        name = info.filename
        if not name.endswith(".npy"):
            raise ModelFileError(
                f"{path}: entry {name!r} is not a .npy array; a model file holds only arrays"
            )
        if info.flag_bits & 0x1:
            raise ModelFileError(f"{path}: entry {name!r} is encrypted; refused")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFileError(
                f"{path}: entry {name!r} uses zip compression method {info.compress_type}; "
                "only stored and deflated entries are read"
            )
        key = name[: -len(".npy")]
        with zf.open(info) as fp:
            version = np.lib.format.read_magic(fp)
            reader = _NPY_HEADER_READERS.get(version)
            if reader is None:
                raise ModelFileError(
                    f"{path}: array {key!r} is in .npy format version {version}; "
                    "only versions 1.0 and 2.0 are read"
                )
            shape, fortran_order, dtype = reader(fp)
            offset = fp.tell()
        if dtype.hasobject or dtype.kind not in "biuf":
            what = (
                "Python objects, which only unpickling (running code from the file) could read"
                if dtype.hasobject
                else "no plain numbers"
            )
            raise ModelFileError(
                f"{path}: array {key!r} has dtype {dtype} and holds {what}; refused"
            )
        n_bytes = math.prod(shape) * dtype.itemsize
        if offset + n_bytes != info.file_size:
            raise ModelFileError(
                f"{path}: array {key!r} declares shape {shape} of {dtype} ({n_bytes} bytes) "
                f"but its entry holds {info.file_size - offset} bytes of data; the file is "
                "truncated or forged"
            )
        entries[key] = (info, shape, fortran_order, dtype, offset)
    return entries


def _read_member(zf: zipfile.ZipFile, entry) -> np.ndarray:
    """The array of one scanned entry (a writable copy); the zip's CRC is checked."""
    info, shape, fortran_order, dtype, offset = entry
    with zf.open(info) as fp:
        fp.read(offset)
        data = fp.read(info.file_size - offset)
        fp.read(1)  # reaching the end makes zipfile check the CRC
    array = np.frombuffer(bytearray(data), dtype=dtype)
    return array.reshape(shape, order="F" if fortran_order else "C")


def _read_header(
    zf: zipfile.ZipFile, entries: dict, path, format_name: str | None, format_version: int | None
) -> dict:
    if "header" not in entries:
        raise ModelFileError(f"{path} has no 'header' entry; it is not a wgangp model file")
    info, shape, _, dtype, _ = entries["header"]
    if dtype != np.uint8 or len(shape) != 1:
        raise ModelFileError(
            f"{path}: the header entry has shape {shape} and dtype {dtype}; "
            "it must be 1-D uint8 (UTF-8 JSON)"
        )
    if info.file_size > MAX_HEADER_BYTES:
        raise ModelFileError(
            f"{path}: the header is {info.file_size} bytes, more than the "
            f"{MAX_HEADER_BYTES} a wgangp header can be; refused"
        )
    raw = _read_member(zf, entries["header"])
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise ModelFileError(f"{path}: the header is not valid JSON ({reason})") from None
    if not isinstance(header, dict):
        raise ModelFileError(
            f"{path}: the header is a JSON {type(header).__name__}, not an object; "
            "it is not a wgangp model file"
        )
    if format_name is not None:
        _check_format(header, path, format_name, format_version)
    if not isinstance(header.get("arrays"), dict):
        raise ModelFileError(f"{path}: header field 'arrays' is missing or not a JSON object")
    return header


def _check_format(header: dict, path, format_name: str, format_version: int) -> None:
    if header.get("format") != format_name:
        raise ModelFileError(
            f"{path} is not a {format_name!r} file: its header says format={header.get('format')!r}"
        )
    version = header.get("format_version")
    if version != format_version:
        raise ModelFileError(
            f"{path} has format_version={version!r}; this wgangp ({__version__}) reads "
            f"version {format_version}"
        )


def _check_wgangp_header(header: dict, path) -> None:
    unknown = sorted(set(header) - HEADER_FIELDS)
    if unknown:
        raise ModelFileError(
            f"{path}: unknown header fields {unknown}; the file was not written by "
            f"wgangp {__version__} (format version {FORMAT_VERSION})"
        )
    for field in _REQUIRED_OBJECTS:
        if not isinstance(header.get(field), dict):
            raise ModelFileError(f"{path}: header field {field!r} is missing or not a JSON object")
    if header.get("class", "WGANGP") != "WGANGP":
        raise ModelFileError(
            f"{path} holds a {header['class']!r}, not a WGANGP; load it with that class"
        )


def _check_declared(header: dict, entries: dict, path) -> None:
    """The header's list of arrays must name exactly the file's arrays, with their
    shapes and dtypes."""
    declared = header["arrays"]
    present = set(entries) - {"header"}
    extra = sorted(present - set(declared))
    if extra:
        raise ModelFileError(f"{path}: arrays {extra} are in the file but not in its header")
    missing = sorted(set(declared) - present)
    if missing:
        raise ModelFileError(f"{path}: the header lists arrays {missing} that the file lacks")
    for key, spec in declared.items():
        _, shape, _, dtype, _ = entries[key]
        if (
            not isinstance(spec, list)
            or len(spec) != 2
            or spec[0] != list(shape)
            or spec[1] != dtype.str
        ):
            raise ModelFileError(
                f"{path}: array {key!r} has shape {shape} and dtype {dtype.str}, "
                f"but the header declares {spec!r}"
            )


@contextlib.contextmanager
def model_file_errors(path):
    """Report anything a corrupt or forged file makes go wrong as ModelFileError."""
    try:
        yield
    except ModelFileError:
        raise
    except WGANGPError as exc:
        raise ModelFileError(f"{path}: the header holds a setting wgangp refuses: {exc}") from None
    except KeyError as exc:
        raise ModelFileError(f"{path}: a header field is missing: {exc}") from None
    except (
        OSError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
        NotImplementedError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        OverflowError,
    ) as exc:
        raise ModelFileError(
            f"{path} is truncated, corrupt or inconsistent: {type(exc).__name__}: {exc}"
        ) from None


def read_model_file(
    path, format_name: str | None = FORMAT_NAME, format_version: int | None = FORMAT_VERSION
) -> tuple[dict, dict]:
    """The JSON header and the arrays of a model file, read without trusting it.

    ``format_name`` and ``format_version`` are what the header must say;
    ``format_name=None`` leaves that check to the caller.

    Nothing is unpickled and arrays of Python objects are refused. Before any
    array is read, each entry's ``.npy`` header is checked against the entry's
    size, the total against this machine's memory, and the JSON header's list
    of arrays (its ``"arrays"`` field: name -> [shape, dtype]) against the
    entries. Every loader of wgangp files reads through here.

    Returns
    -------
    header : dict
    arrays : dict of str to numpy.ndarray (writable copies)

    Raises
    ------
    ModelFileError
        Missing, truncated, corrupt or forged files, or another format or
        format version.
    """
    path = _check_path("path", path)
    if not path.exists():
        raise ModelFileError(f"model file {path} does not exist")
    if path.is_dir():
        raise ModelFileError(f"{path} is a directory, not a model file")
    with model_file_errors(path):
        with open(path, "rb") as fh:
            magic = fh.read(6)
        if magic == b"\x93NUMPY":
            raise ModelFileError(f"{path} is a bare .npy array, not a wgangp model file")
        if magic[:1] == b"\x80":
            raise ModelFileError(
                f"{path} is a Python pickle, not a wgangp model file; wgangp never "
                "unpickles (a pickle can run code)"
            )
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, EOFError) as exc:
            raise ModelFileError(
                f"{path} cannot be read as a model file (a .npz zip archive): {exc}; "
                "it is not one, or it is truncated"
            ) from None
        with zf:
            entries = _scan_members(zf, path)
            header = _read_header(zf, entries, path, format_name, format_version)
            _check_declared(header, entries, path)
            arrays = {
                key: _read_member(zf, entry) for key, entry in entries.items() if key != "header"
            }
    return header, arrays


def load(path):
    """Load a model written by :meth:`WGANGP.save` (or ``TabularSynthesizer.save``).

    Returns a :class:`WGANGP`, or a ``TabularSynthesizer`` for a tabular file.

    Loading never executes code: nothing is unpickled, and arrays of Python
    objects are refused. Before any array is read, each entry's declared
    shape is checked against its size in the file and against the header
    (:func:`read_model_file`); then every array is checked against the
    architecture, and every header field against what the estimator allows.

    Raises
    ------
    ModelFileError
        Missing, truncated, corrupt, forged, or unknown-format files.
    """
    header, arrays = read_model_file(path, format_name=None)
    if header.get("format") == "wgangp-tabular":
        from . import tabular

        _check_format(header, path, tabular.FORMAT_NAME, tabular.FORMAT_VERSION)
        with model_file_errors(path):
            return tabular._from_header(header, arrays, path)
    _check_format(header, path, FORMAT_NAME, FORMAT_VERSION)
    with model_file_errors(path):
        _check_wgangp_header(header, path)
        return _from_header(header, arrays, path)


def _header_int(value, field: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ModelFileError(f"header field {field}={value!r} must be an integer >= {minimum}")
    return value


def _check_sizes(cfg: dict, net_name: str, first: int, last: int) -> list:
    sizes = cfg["sizes"]
    if (
        not isinstance(sizes, list)
        or len(sizes) < 2
        or any(isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in sizes)
        or sizes[0] != first
        or sizes[-1] != last
    ):
        raise ModelFileError(
            f"header field fitted.{net_name}.sizes={sizes!r} must be a list of integers >= 1 "
            f"from {first} to {last}"
        )
    return sizes


def _from_header(header: dict, arrays: dict, path) -> WGANGP:
    params = dict(header["params"])
    if params.get("dtype") not in ("float32", "float64"):
        raise ModelFileError(f"{path}: dtype {params.get('dtype')!r} is not float32 or float64")
    params["dtype"] = {"float32": np.float32, "float64": np.float64}[params["dtype"]]
    unknown = set(params) - set(WGANGP._param_names())
    if unknown:
        raise ModelFileError(f"{path}: unknown parameters {sorted(unknown)} in the header")
    if isinstance(params.get("optimizer"), dict):  # an Optimizer instance, saved as its config
        params["optimizer"] = get_optimizer(params["optimizer"])
    model = WGANGP(**params)
    settings = model._validate_params()
    fitted = header["fitted"]
    dtype = as_float_dtype(fitted["dtype"])
    n_features = _header_int(fitted["n_features_in"], "fitted.n_features_in", 1)
    latent_dim = _header_int(fitted["latent_dim"], "fitted.latent_dim", 1)
    if fitted["output_activation"] not in ("identity", "tanh"):
        raise ModelFileError(
            f"header field fitted.output_activation={fitted['output_activation']!r} "
            "must be 'identity' or 'tanh'"
        )
    model.n_features_in_ = n_features
    model.latent_dim_ = latent_dim
    model.output_activation_ = fitted["output_activation"]
    model.dtype_ = dtype
    model.n_iter_ = _header_int(fitted["n_iter"], "fitted.n_iter")
    model.n_critic_steps_ = _header_int(fitted["n_critic_steps"], "fitted.n_critic_steps")
    model.history_ = History()
    ends = {"generator": (latent_dim, n_features), "critic": (n_features, 1)}
    for net_name in ("generator", "critic"):
        cfg = fitted[net_name]
        sizes = _check_sizes(cfg, net_name, *ends[net_name])
        # check the stored weights against the architecture before building it,
        # so that forged sizes never make us allocate
        stored = []
        for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            for i, shape in ((2 * k, (fan_in, fan_out)), (2 * k + 1, (fan_out,))):
                a = arrays.get(f"{net_name}/{i}")
                if a is None or a.shape != shape or a.dtype != dtype:
                    raise ModelFileError(
                        f"{path}: {net_name} parameter {i} is missing or does not match the "
                        f"architecture {sizes} ({dtype.name}): expected shape {shape}, "
                        f"found {None if a is None else a.shape}"
                    )
                if not np.isfinite(a).all():
                    raise ModelFileError(
                        f"{path}: {net_name} parameter {i} holds NaN or inf; the model "
                        "diverged before it was saved"
                    )
                stored.append(a)
        net = MLP(
            sizes,
            activation=cfg["activation"] or "identity",
            output_activation=cfg["output_activation"],
            init=cfg["init"],
            random_state=0,
            dtype=dtype,
        )
        net.params = stored
        setattr(model, f"{net_name}_", net)
    for net_name in ("generator", "critic"):
        info = header["optimizers"][net_name]
        opt = get_optimizer(info["config"])
        net = getattr(model, f"{net_name}_")
        state = {"step": _header_int(info["step"], f"optimizers.{net_name}.step")}
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
    model.scale_mean_ = np.array(arrays["scale/mean"], dtype=np.float64)
    model.scale_std_ = np.array(arrays["scale/std"], dtype=np.float64)
    if model.scale_mean_.shape != (n_features,) or model.scale_std_.shape != (n_features,):
        raise ModelFileError(f"{path}: scaling arrays do not match n_features_in={n_features}")
    if (
        not (np.isfinite(model.scale_mean_).all() and np.isfinite(model.scale_std_).all())
        or (model.scale_std_ <= 0).any()
    ):
        raise ModelFileError(f"{path}: scaling arrays must be finite, with standard deviations > 0")
    sampler_state = header["sampler"]
    n_rows = _header_int(sampler_state["n_rows"], "sampler.n_rows", 1)
    batch_size = _header_int(sampler_state["batch_size"], "sampler.batch_size", 1)
    pos = _header_int(sampler_state["pos"], "sampler.pos")
    if batch_size > n_rows or pos > n_rows:
        raise ModelFileError(
            f"{path}: minibatch state batch_size={batch_size}, pos={pos} does not fit "
            f"n_rows={n_rows}"
        )
    sampler = MinibatchSampler(n_rows, batch_size)
    sampler.pos = pos
    sampler.epoch = _header_int(sampler_state["epoch"], "sampler.epoch")
    if "sampler/perm" in arrays:
        perm = np.array(arrays["sampler/perm"])
        if (
            perm.shape != (n_rows,)
            or perm.dtype.kind not in "iu"
            or not np.array_equal(np.sort(perm), np.arange(n_rows))
        ):
            raise ModelFileError(
                f"{path}: the minibatch order is not a permutation of the {n_rows} rows"
            )
        sampler.perm = perm
    model._sampler = sampler
    rng_state = header["rng_state"]
    bitgen_cls = _BIT_GENERATORS.get(rng_state.get("bit_generator"))
    if bitgen_cls is None:
        raise ModelFileError(f"{path}: unknown random generator {rng_state.get('bit_generator')!r}")
    bitgen = bitgen_cls()
    bitgen.state = rng_state
    model._rng = np.random.Generator(bitgen)
    del settings
    return model
