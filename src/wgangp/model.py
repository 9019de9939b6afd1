"""The :class:`WGANGP` estimator: fit, sample, score, save and load.

The constructor only stores its arguments (scikit-learn's convention);
everything is validated when :meth:`WGANGP.fit` starts, before any training
work. Fitted attributes end with an underscore.
"""

from __future__ import annotations

import inspect
import json
import numbers
import os
import tempfile
import time
import warnings
import zipfile
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
)
from .history import History
from .init import INITIALIZERS
from .losses import PENALTIES
from .nn import MLP, get_activation
from .optim import OPTIMIZER_NAMES, Optimizer, get_optimizer
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


def check_array(X, name: str = "X", n_features: int | None = None) -> np.ndarray:
    """Validate a 2-D finite numeric array and return it as float64.

    Raises
    ------
    InvalidDataError
        On NaN or inf, a wrong number of dimensions, no rows or columns, or a
        wrong number of columns.
    InvalidParameterTypeError
        On non-numeric (object, string) data.
    """
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
    if arr.shape[0] == 0:
        raise InvalidDataError(f"{name} has 0 rows; at least 1 row is needed")
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


class WGANGP:
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

    # ------------------------------------------------------------ params --

    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """Constructor arguments as stored."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params) -> WGANGP:
        """Set constructor arguments; unknown names raise ``InvalidParameterError``."""
        valid = self._param_names()
        for key, value in params.items():
            if key not in valid:
                raise InvalidParameterError(
                    f"{key!r} is not a parameter of {type(self).__name__}; valid: {valid}"
                )
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
        if self.init not in INITIALIZERS:
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
        if self.random_state is not None and not isinstance(
            self.random_state, (numbers.Integral, np.random.Generator)
        ):
            raise InvalidParameterTypeError(
                f"random_state={self.random_state!r} must be None, an int or a numpy Generator"
            )
        return settings

    # ------------------------------------------------------------- setup --

    def _initialize(self, X: np.ndarray, settings: dict) -> None:
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
        return ((X - self.scale_mean_) / self.scale_std_).astype(self.dtype_)

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
        X = check_array(X)
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
            X = check_array(X, n_features=self.n_features_in_)
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
        if log_every is not None:
            self.history_.log_every = _check_int("log_every", log_every)
        X = check_array(X, n_features=self.n_features_in_)
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
        callbacks = list(callbacks or [])
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
                for cb in callbacks:
                    cb.on_iteration_end(self, self.n_iter_, record)
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
        rng = np.random.default_rng(random_state)
        z = rng.standard_normal((n, self.latent_dim_), dtype=self.dtype_)
        return self._inverse_transform(self.generator_(z))

    def score_samples(self, X) -> np.ndarray:
        """Critic value ``D(x)`` per row (higher looks more real to the critic).

        Returns
        -------
        array, shape (n_rows,), float64
        """
        self._check_fitted()
        X = check_array(X, n_features=self.n_features_in_)
        return self.critic_(self._transform(X))[:, 0].astype(np.float64)

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
        path = Path(path)
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
    """``numpy.savez`` to a temporary file beside ``path``, fsync, then rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
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


class _TabularFile(Exception):
    """Raised inside :func:`load` when the file holds a TabularSynthesizer."""


def _read_header(npz, path) -> dict:
    if "header" not in npz.files:
        raise ModelFileError(f"{path} has no 'header' entry; it is not a wgangp model file")
    raw = npz["header"]
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ModelFileError(f"{path}: the header entry is malformed")
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelFileError(f"{path}: the header is not valid JSON ({exc})") from None
    if isinstance(header, dict) and header.get("format") == "wgangp-tabular":
        raise _TabularFile()
    if not isinstance(header, dict) or header.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path} is not a wgangp model file (format={header.get('format')!r})")
    version = header.get("format_version")
    if version != FORMAT_VERSION:
        raise ModelFileError(
            f"{path} has format_version={version!r}; this wgangp ({__version__}) reads "
            f"version {FORMAT_VERSION}"
        )
    return header


def load(path):
    """Load a model written by :meth:`WGANGP.save` (or ``TabularSynthesizer.save``).

    Returns a :class:`WGANGP`, or a ``TabularSynthesizer`` for a tabular file.
    Arrays are read with ``allow_pickle=False``: loading never executes code.
    Every array is checked against the header's declared shapes and dtypes and
    against the architecture.

    Raises
    ------
    ModelFileError
        Missing, truncated, corrupt, or unknown-format files.
    """
    path = Path(path)
    if not path.exists():
        raise ModelFileError(f"model file {path} does not exist")
    if path.is_dir():
        raise ModelFileError(f"{path} is a directory, not a model file")
    try:
        npz = np.load(path, allow_pickle=False)
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise ModelFileError(f"{path} cannot be read as a model file: {exc}") from None
    if not isinstance(npz, np.lib.npyio.NpzFile):
        raise ModelFileError(f"{path} is a bare .npy array, not a wgangp model file")
    with npz:
        try:
            header = _read_header(npz, path)
            arrays = {}
            for key, (shape, dtype) in header["arrays"].items():
                arr = npz[key]
                if list(arr.shape) != list(shape) or arr.dtype.str != dtype:
                    raise ModelFileError(
                        f"{path}: array {key!r} has shape {arr.shape} and dtype {arr.dtype.str}, "
                        f"but the header declares {tuple(shape)} and {dtype}"
                    )
                arrays[key] = arr
            return _from_header(header, arrays, path)
        except _TabularFile:
            pass
        except ModelFileError:
            raise
        except (KeyError, TypeError, ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise ModelFileError(f"{path} is corrupt or inconsistent: {exc!r}") from None
    # A TabularSynthesizer file: its own loader (same rules: no pickle, checked shapes).
    from .tabular import load as load_tabular

    return load_tabular(path)


def _from_header(header: dict, arrays: dict, path) -> WGANGP:
    params = dict(header["params"])
    if params.get("dtype") not in ("float32", "float64"):
        raise ModelFileError(f"{path}: dtype {params.get('dtype')!r} is not float32 or float64")
    params["dtype"] = {"float32": np.float32, "float64": np.float64}[params["dtype"]]
    unknown = set(params) - set(WGANGP._param_names())
    if unknown:
        raise ModelFileError(f"{path}: unknown parameters {sorted(unknown)} in the header")
    model = WGANGP(**params)
    settings = model._validate_params()
    fitted = header["fitted"]
    dtype = as_float_dtype(fitted["dtype"])
    model.n_features_in_ = int(fitted["n_features_in"])
    model.latent_dim_ = int(fitted["latent_dim"])
    model.output_activation_ = fitted["output_activation"]
    model.dtype_ = dtype
    model.n_iter_ = int(fitted["n_iter"])
    model.n_critic_steps_ = int(fitted["n_critic_steps"])
    model.history_ = History()
    for net_name in ("generator", "critic"):
        cfg = fitted[net_name]
        net = MLP(
            cfg["sizes"],
            activation=cfg["activation"] or "identity",
            output_activation=cfg["output_activation"],
            init=cfg["init"],
            random_state=0,
            dtype=dtype,
        )
        for i, p in enumerate(net.params):
            stored = arrays.get(f"{net_name}/{i}")
            if stored is None or stored.shape != p.shape or stored.dtype != dtype:
                raise ModelFileError(
                    f"{path}: {net_name} parameter {i} is missing or does not match the "
                    f"architecture {cfg['sizes']} ({dtype.name})"
                )
            net.params[i] = np.array(stored, copy=True)
        setattr(model, f"{net_name}_", net)
    for net_name in ("generator", "critic"):
        info = header["optimizers"][net_name]
        opt = get_optimizer(info["config"])
        net = getattr(model, f"{net_name}_")
        state = {"step": int(info["step"])}
        if state["step"] > 0:
            for slot in opt.slots:
                state[slot] = []
                for i, p in enumerate(net.params):
                    a = arrays.get(f"optim/{net_name}/{slot}/{i}")
                    if a is None or a.shape != p.shape:
                        raise ModelFileError(
                            f"{path}: optimizer state {net_name}/{slot}/{i} is bad"
                        )
                    state[slot].append(a)
        opt.load_state_dict(state)
        if opt.state is None:
            opt.init(net.params)
        setattr(model, f"{net_name}_optimizer_", opt)
    model.scale_mean_ = np.array(arrays["scale/mean"], dtype=np.float64)
    model.scale_std_ = np.array(arrays["scale/std"], dtype=np.float64)
    if model.scale_mean_.shape != (model.n_features_in_,) or model.scale_std_.shape != (
        model.n_features_in_,
    ):
        raise ModelFileError(f"{path}: scaling arrays do not match n_features_in")
    sampler_state = header["sampler"]
    sampler = MinibatchSampler(int(sampler_state["n_rows"]), int(sampler_state["batch_size"]))
    sampler.pos = int(sampler_state["pos"])
    sampler.epoch = int(sampler_state["epoch"])
    if "sampler/perm" in arrays:
        perm = np.array(arrays["sampler/perm"])
        if perm.shape != (sampler.n_rows,) or perm.dtype.kind not in "iu":
            raise ModelFileError(f"{path}: minibatch order does not match the data size")
        sampler.perm = perm
    model._sampler = sampler
    rng_state = header["rng_state"]
    bitgen_cls = {
        "PCG64": np.random.PCG64,
        "PCG64DXSM": np.random.PCG64DXSM,
        "MT19937": np.random.MT19937,
        "Philox": np.random.Philox,
        "SFC64": np.random.SFC64,
    }.get(rng_state.get("bit_generator"))
    if bitgen_cls is None:
        raise ModelFileError(f"{path}: unknown random generator {rng_state.get('bit_generator')!r}")
    bitgen = bitgen_cls()
    bitgen.state = rng_state
    model._rng = np.random.Generator(bitgen)
    del settings
    return model
