"""The :class:`WGANGP` estimator: a WGAN-GP on fully-connected networks.

It stands on the training core (:class:`wgangp.train.Estimator`) and adds
only what is its own: its parameter table, its two networks, the scaling of
the data, one iteration (``n_critic`` critic steps, then one generator
step) and its fields of the model file. The constructor only stores its
arguments (scikit-learn's convention); everything is validated when
:meth:`WGANGP.fit` starts, before any state changes. Fitted attributes end
with an underscore.
"""

from __future__ import annotations

import warnings

import numpy as np

from . import losses
from .backend import NUMPY, kernel, take_rows, to_numpy
from .blocks import all_finite, column_abs_max, map_rows, mean_std, row_hash_sum, row_slices
from .errors import InvalidDataError, InvalidParameterError, ModelFileError
from .flat import Scratch
from .init import INITIALIZERS
from .modelfile import header_int, register_format
from .nn import (
    ACTIVATIONS,
    MLP,
    PREDICT_ROWS,
    Activation,
    far_from_kinks,
    get_activation,
    predict,
)
from .optim import get_optimizer
from .saving import check_sizes
from .steps import (
    CriticStepGraph,
    MinibatchSampler,
    WindowSampler,
    critic_step,
    generator_step,
    is_row_stream,
    sampler_from_state,
    source_name,
)
from .train import CORE_PARAMS, Estimator
from .validation import (
    Param,
    check_array,
    check_dtype,
    check_fits_in_memory,
    check_int,
    check_random_state,
)

__all__ = ["OUTPUT_ACTIVATIONS", "WGANGP", "check_array", "output_activation_for"]

FORMAT_NAME = "wgangp-model"
FORMAT_VERSIONS = (1, 2)
OUTPUT_ACTIVATIONS = ("auto", "identity", "tanh")

PARAMS: dict[str, Param] = {
    "hidden": Param("int", "units in each hidden layer of both networks", minimum=1),
    "depth": Param("int", "hidden layers in each network", minimum=1),
    "activation": Param(
        "str", "hidden activation", choices=tuple(sorted(ACTIVATIONS)), objects=(Activation, dict)
    ),
    "output_activation": Param(
        "str",
        "generator output; auto: tanh for data in [-1, 1] reaching both ends, else identity",
        choices=OUTPUT_ACTIVATIONS,
    ),
    "init": Param("str", "weight initialisation", choices=tuple(sorted(INITIALIZERS))),
    "optimizer": CORE_PARAMS["optimizer"],
    "lr": CORE_PARAMS["lr"],
    "lambda_gp": CORE_PARAMS["lambda_gp"],
    "penalty": CORE_PARAMS["penalty"],
    "n_critic": CORE_PARAMS["n_critic"],
    "batch_size": Param("int", "rows per minibatch", minimum=1),
    "latent_dim": Param(
        "int",
        "noise dimension; auto: 2 for data of up to 2 columns, else min(columns, 128)",
        minimum=1,
        none="auto",
    ),
    "scale": Param(
        "str",
        "standardise columns inside the model, or use the data as is",
        choices=("standard",),
        none="none",
    ),
    "dtype": CORE_PARAMS["dtype"],
    "backend": CORE_PARAMS["backend"],
    "device": CORE_PARAMS["device"],
    "cuda_graph": Param(
        "bool",
        "capture the critic step in a CUDA graph (backend torch on cuda; RMSProp or SGD; "
        "untested on hardware)",
    ),
    "random_state": CORE_PARAMS["random_state"],
    "threads": CORE_PARAMS["threads"],
}
"""The constructor's parameters, in order: checked by ``fit``, and the source of the
``[model]`` table of a run configuration and of ``wgangp train``'s flags."""


def output_activation_for(X: np.ndarray, requested: str, data_range=None) -> str:
    """The generator's output activation for data ``X``: ``requested``, or for
    ``"auto"`` tanh when the data lie in [-1, 1] and reach both ends (scaled
    images), else identity. ``data_range`` (low, high) replaces X's own range
    (all ranks' range in a data-parallel run).

    >>> output_activation_for(np.array([[-1.0], [0.2], [1.0]]), "auto")
    'tanh'
    """
    if requested != "auto":
        return requested
    low, high = (float(X.min()), float(X.max())) if data_range is None else data_range
    bounded = low >= -1.0 and high <= 1.0 and low <= -0.99 and high >= 0.99
    return "tanh" if bounded else "identity"


def _moments_surely_finite(largest: np.ndarray, n_rows: int, dtype) -> bool:
    """Whether :func:`~wgangp.blocks.mean_std` of the rows (unit 1) is finite for
    certain, from each column's largest magnitude ``M``: a sum of the rows, or
    of their squared deviations from the mean, is at most ``n M`` or ``4 n M^2``,
    computed in ``dtype`` (the blocks' dtype) or float64; a quarter of the
    largest value leaves room for rounding. Else the moments are computed to find
    out (two passes over the data that this bound spares ordinary data)."""
    kind = np.dtype(dtype)
    limit = np.finfo(kind if kind.kind == "f" else np.float64).max / 4
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.all(n_rows * largest < limit) and np.all(4.0 * n_rows * largest**2 < limit))


def default_latent_dim(n_features: int) -> int:
    """2 for data of up to 2 columns, else ``min(n_features, 128)``."""
    return 2 if n_features <= 2 else min(n_features, 128)


class WGANGP(Estimator):
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
    backend : {"auto", "numpy", "cupy", "torch", "array-api-strict"}
        The array library that trains (:mod:`wgangp.backend`): ``"auto"`` is
        NumPy on the CPU and CuPy (else torch) on ``device="cuda"``. CuPy
        needs ``pip install 'wgangp[gpu]'``, torch ``'wgangp[torch]'``. The
        model file holds NumPy arrays whatever trained it; resuming on the
        same backend is bit for bit, on another it continues.
    device : {"cpu", "cuda"}
        Where training runs; ``"cuda"`` is the first visible GPU.
    cuda_graph : bool
        Capture the critic step in a CUDA graph and replay it
        (:class:`wgangp.steps.CriticStepGraph`): one launch per step instead
        of hundreds, statistics kept on the GPU. Needs ``backend="torch"``
        on ``device="cuda"`` and RMSProp or SGD. Written but untested on
        hardware.
    random_state : None, int or numpy.random.Generator
        The same seed gives the same model.
    threads : "auto" or int
        BLAS threads while training (:mod:`wgangp.threads`): ``"auto"`` runs
        small networks on one thread and measures larger ones; ``0`` keeps the
        BLAS default; a number fixes it. Recorded in the history.

    Attributes
    ----------
    generator_, critic_ : MLP
    n_iter_ : int
        Generator iterations done.
    history_ : wgangp.history.History
        Metrics records (bounded, saved with the model), read like a list of
        dicts (``len``, ``[-1]``, iteration; ``history_.column(key)`` gives an array): every
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

    PARAMS = PARAMS
    FORMAT_NAME = FORMAT_NAME
    FORMAT_VERSIONS = FORMAT_VERSIONS
    HEADER_EXTRAS = ("sampler",)
    STATE_ATTRIBUTES = ("n_critic_steps_",)

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
        backend: str = "auto",
        device: str = "cpu",
        cuda_graph: bool = False,
        random_state=None,
        threads="auto",
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
        self.threads = threads
        self.backend = backend
        self.device = device
        self.cuda_graph = cuda_graph

    # ------------------------------------------------------------- setup --

    def _check_params(self, settings: dict) -> dict:
        settings["activation"] = get_activation(self.activation)
        return settings

    def _check_backend(self, backend) -> None:
        if not self.cuda_graph:
            return
        if backend.name != "torch" or not backend.on_gpu:
            raise InvalidParameterError(
                f"cuda_graph=True captures the critic step in a CUDA graph, which needs "
                f"backend='torch' on device='cuda' (not backend={backend.name!r} on "
                f"{backend.device!r}); set cuda_graph=False"
            )
        optimizer = get_optimizer(self.optimizer, lr=1.0)
        if optimizer.name == "adam":
            raise InvalidParameterError(
                "cuda_graph=True cannot capture Adam (its bias correction changes every "
                "step); use optimizer='rmsprop' or 'sgd', or cuda_graph=False"
            )

    def _check_data(self, X, settings: dict, fitted: bool) -> np.ndarray:
        if is_row_stream(X):
            self._check_stream(X, fitted)
            if fitted:
                self._check_scalable(X)  # the file's range is remembered
        elif fitted:
            # no float64 copy of float32 rows (the minibatch scaling computes in
            # float64), and one pass over them: the range found by the finiteness
            # check bounds the scaled values
            X, (low, high) = check_array(
                X,
                "X",
                n_features=self.n_features_in_,
                min_rows=2,
                keep_float=True,
                return_range=True,
            )
            self._check_scalable(X, max(abs(low), abs(high)))
        else:
            X = check_array(X, "X", min_rows=2)
        if not fitted:
            self._check_trainable(X, settings)
        return X

    def _check_stream(self, X, fitted: bool) -> None:
        """check_array's checks of a source read in parts (:func:`~wgangp.steps.is_row_stream`):
        one pass over a file, remembered."""
        name = source_name(X)
        if fitted and X.shape[1] != self.n_features_in_:
            raise InvalidDataError(
                f"X ({name}) has {X.shape[1]} columns; this model was fitted on "
                f"{self.n_features_in_}"
            )
        if X.shape[0] < 2 and self._shard is None:
            raise InvalidDataError(f"X ({name}) has {X.shape[0]} rows; at least 2 are needed")
        if not X.all_finite():
            raise InvalidDataError(
                f"X ({name}) holds NaN or infinite values; remove or impute them first"
            )

    def _check_trainable(self, X: np.ndarray, settings: dict) -> None:
        """Refuse data whose scaling overflows and networks that could never fit
        in this machine's memory."""
        n_rows, n_features = X.shape
        dtype = settings["dtype"]
        largest = column_abs_max(X)  # a file read in parts knows it already
        finite = np.ones(n_features, bool)
        if not _moments_surely_finite(largest, n_rows, getattr(X, "dtype", np.float64)):
            with np.errstate(over="ignore", invalid="ignore"):
                finite = np.isfinite(mean_std(X)).all(axis=0)
        if self.scale is None:
            finite &= largest <= np.finfo(dtype).max
        if not finite.all():
            j = int(np.argmin(finite))
            raise InvalidDataError(
                f"X column {j} has values as large as {largest[j]:.3g}, too large "
                f"to compute with (its mean, standard deviation or {dtype.name} value "
                "overflows); rescale X, e.g. divide the column by a power of 10"
            )
        hidden, depth = settings["hidden"], settings["depth"]
        latent = settings["latent_dim"] or default_latent_dim(n_features)
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
        check_fits_in_memory(
            f"hidden={hidden}, depth={depth}, latent_dim={latent} with batch_size={batch}",
            n_values * dtype.itemsize,
            "choose a smaller hidden, depth, latent_dim or batch_size",
        )

    def _initialize(self, X: np.ndarray, settings: dict) -> None:
        n_rows, n_features = X.shape
        dtype = settings["dtype"]
        self.n_features_in_ = n_features
        self.dtype_ = dtype
        self._rng = np.random.default_rng(self.random_state)
        shard = self._shard
        data_range = None if shard is None else shard.min_max(X.min(), X.max())
        self.output_activation_ = output_activation_for(X, self.output_activation, data_range)
        largest = None  # the largest magnitude in X, when known
        if self.scale == "standard" and self.output_activation_ != "tanh":
            # in units of the largest magnitude first: the sd of values around
            # 1e-300 would underflow to 0 and the column be taken as constant
            unit = column_abs_max(X)
            if shard is not None:  # over all ranks' rows
                unit = shard.column_max(unit)
            largest = float(unit.max())
            unit[unit == 0] = 1.0
            if shard is None:
                mean, std = mean_std(X, unit)
            else:
                mean, std = shard.mean_std(X, unit)
            mean, std = mean * unit, std * unit
            std[std == 0] = 1.0  # a constant column stays constant
            self.scale_mean_, self.scale_std_ = mean, std
        else:
            self.scale_mean_ = np.zeros(n_features)
            self.scale_std_ = np.ones(n_features)
        self._check_scalable(X, largest)
        self.latent_dim_ = settings["latent_dim"] or default_latent_dim(n_features)
        self._build_networks(settings["hidden"], settings["depth"], settings["activation"])
        self._new_optimizers(settings)
        n_rows = n_rows if shard is None else shard.n_rows
        self._sampler = self._new_sampler(X, n_rows, settings)
        self.n_critic_steps_ = 0

    def _new_sampler(self, X, n_rows: int, settings: dict):
        """Minibatches of all ``n_rows`` rows: a permutation a epoch of an array, or
        windows of row groups of a file read in parts (whose seed is
        rank 0's draw, so that every rank's orders follow from it)."""
        batch = self._effective_batch(n_rows, settings)
        if not is_row_stream(X):
            return MinibatchSampler(n_rows, batch)
        seed = int(self._rng.integers(2**63))
        if self._shard is not None:
            seed = self._shard.broadcast(seed)
        return WindowSampler(n_rows, batch, X.window_rows, seed)

    def _build_networks(self, hidden: int, depth: int, activation, init=None, seed=None):
        rng = self._rng if seed is None else seed
        self.generator_ = MLP(
            [self.latent_dim_] + [hidden] * depth + [self.n_features_in_],
            activation=activation,
            output_activation=self.output_activation_,
            init=init or self.init,
            random_state=rng,
            dtype=self.dtype_,
        )
        self.critic_ = MLP(
            [self.n_features_in_] + [hidden] * depth + [1],
            activation=activation,
            output_activation="identity",
            init=init or self.init,
            random_state=rng,
            dtype=self.dtype_,
        )

    def _effective_batch(self, n_rows: int, settings: dict) -> int:
        batch = settings["batch_size"]
        if batch > n_rows:
            warnings.warn(
                f"batch_size={batch} is larger than the {n_rows} rows of X; "
                f"using batch_size={n_rows}",
                UserWarning,
                stacklevel=6,
            )
            return n_rows
        return batch

    def _use_backend(self, settings: dict) -> None:
        super()._use_backend(settings)
        graph = getattr(self, "_critic_graph", None)
        if settings["cuda_graph"] and (graph is None or graph.backend != self._backend):
            self._critic_graph = CriticStepGraph(self._backend)

    def _training_data(self, X: np.ndarray, settings: dict) -> np.ndarray:
        shard = self._shard
        n_rows = X.shape[0] if shard is None else shard.n_rows
        streamed = is_row_stream(X)
        if n_rows != self._sampler.n_rows or streamed != isinstance(self._sampler, WindowSampler):
            self._sampler = self._new_sampler(X, n_rows, settings)
        if streamed:  # each rank draws its equal part of every minibatch from its windows
            batch = self._sampler.batch_size
            part = batch if shard is None else len(shard.noise_positions(batch))
            self._sampler.bind(X, 0 if shard is None else shard.rank, part)
            return X  # checked to scale without overflow (_check_data, _initialize)
        if self._backend.is_numpy:
            # NumPy scales each minibatch as it is drawn (_iteration): the same values
            # as scaling all rows up front, without a pass over X per call
            return X
        return self._on_networks(self._transform(X))

    def _check_scalable(self, X: np.ndarray, largest: float | None = None) -> None:
        """Refuse ``X`` as :meth:`_transform` would, cheaply: a bound on every
        scaled magnitude, ``(max |x| + max |mean|) / min(std)``, from ``largest``
        (``max |x|``, when the caller found it) or two reductions over all of
        ``X``; only when that bound is not far below the dtype's largest value
        is ``X`` scaled whole (the exact check and its message)."""
        with np.errstate(over="ignore", invalid="ignore"):
            if largest is None:
                largest = max(abs(float(X.max())), abs(float(X.min())))
            bound = (largest + float(np.abs(self.scale_mean_).max())) / float(self.scale_std_.min())
        if not bound < float(np.finfo(self.dtype_).max) / 2:  # compared as Python floats
            if is_row_stream(X):
                for rows in row_slices(len(X)):
                    self._transform(X[rows])
            else:
                self._transform(X)

    def _scaled(self, X: np.ndarray) -> np.ndarray:
        """``X`` in the networks' units and dtype, unchecked (see :meth:`_transform`)."""
        with np.errstate(over="ignore", invalid="ignore"):
            return ((X - self.scale_mean_) / self.scale_std_).astype(self.dtype_)

    def _transform(self, X: np.ndarray) -> np.ndarray:
        Xs = map_rows(X, self._scaled, self.dtype_)  # a block of rows at a time
        if not all_finite(Xs):
            i, j = np.argwhere(~np.isfinite(Xs))[0]
            raise InvalidDataError(
                f"X[{i}, {j}] = {X[i, j]:.3g} overflows {self.dtype_.name} once scaled like "
                "the training data; it is far outside the range the model was fitted on"
            )
        return Xs

    def _inverse_transform(self, Xs: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``float64(Xs) * std + mean``, in place in one float64 array (``out``, when
        given, else a new one): no temporary of the output's size."""
        if out is None:
            out = Xs.astype(np.float64)
        else:
            np.copyto(out, Xs)
        out *= self.scale_std_
        out += self.scale_mean_
        return out

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
        comm=None,
        allow_new_data: bool = False,
    ) -> WGANGP:
        """Train from scratch (or from a checkpoint) for ``steps`` generator iterations.

        Each iteration is ``n_critic`` critic steps, each on the next shuffled
        minibatch of real rows (epoch by epoch over all rows), then one
        generator step with fresh noise.

        Parameters
        ----------
        X : array-like, shape (n_rows, n_features), or a :class:`wgangp.data.RowStream`
            The training rows; a ``RowStream`` of a file larger than memory is
            read a window of row groups at a time (each epoch a fresh order of
            the groups, minibatches shuffled within a window).
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
        comm : mpi4py communicator, optional
            Data-parallel training under ``mpiexec`` (:mod:`wgangp.parallel`):
            ``X`` is this rank's rows; the model is the one a single process
            fitted on all ranks' rows would give (one ``Allreduce`` per
            optimizer step); rank 0 alone writes ``run_dir``. None: one process.
        allow_new_data : bool
            Resume (or continue) on data other than the model was trained on
            (its fingerprint, saved with the model, differs): refused unless
            True, and then a warning says what changed.

        Returns
        -------
        self

        Raises
        ------
        TrainingDiverged
            When a loss or a parameter goes NaN/inf (the divergence guard of
            ``run_dir`` restores the last good state first).
        """
        return self._fit(
            X,
            steps,
            callbacks,
            verbose=verbose,
            log_every=log_every,
            run_dir=run_dir,
            checkpoint_every=checkpoint_every,
            keep_checkpoints=keep_checkpoints,
            resume=resume,
            comm=comm,
            allow_new_data=allow_new_data,
        )

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
        comm=None,
        allow_new_data: bool = False,
    ) -> WGANGP:
        """Continue training for ``steps`` more iterations (fit first if unfitted).

        Continuing a loaded model on the same ``X`` reproduces, bit for bit,
        the run that was never interrupted. Arguments as in :meth:`fit`;
        ``log_every=None`` keeps the history's current period. Changes of
        ``lr``, ``lambda_gp`` or ``n_critic`` made with ``set_params`` apply
        from here on; changes of anything else need :meth:`fit`.
        """
        return self._fit(
            X,
            steps,
            callbacks,
            verbose=verbose,
            log_every=log_every,
            run_dir=run_dir,
            checkpoint_every=checkpoint_every,
            keep_checkpoints=keep_checkpoints,
            partial=True,
            comm=comm,
            allow_new_data=allow_new_data,
        )

    def _data_fingerprint(self, X: np.ndarray) -> dict:
        """Rows, columns and a 64-bit hash of the float64 values: each row's hash,
        summed over the rows, so that any split of the rows (a data-parallel
        run's) adds up to the same fingerprint."""
        return {
            "rows": int(X.shape[0]),
            "columns": int(X.shape[1]),
            "hash": f"{row_hash_sum(X):016x}",
            "additive": True,
        }

    def _iteration(self, Xs: np.ndarray, settings: dict) -> dict:
        shard = self._shard
        xp = self._backend.xp
        streamed = isinstance(self._sampler, WindowSampler)
        if streamed and shard is not None:  # this rank's equal part of every minibatch
            part = shard.noise_positions(self._sampler.batch_size)
        n_critic = settings["n_critic"]
        for step in range(n_critic):
            if streamed:  # drawn from this rank's window of row groups
                x_real = self._on_networks(self._scaled(self._sampler.next_rows()))
                positions = None if shard is None else part
            else:
                x_real, positions = self._minibatch(Xs, shard, xp)
            args = (
                self.generator_,
                self.critic_,
                self.critic_optimizer_,
                x_real,
                self._random,
                settings["lambda_gp"],
                settings["penalty"],
            )
            if settings["cuda_graph"]:
                stats = self._critic_graph(*args)
            else:
                stats = critic_step(
                    *args,
                    shard=shard,
                    positions=positions,
                    batch=self._sampler.batch_size,
                    scratch=self._step_scratch("critic"),
                    statistics=step == n_critic - 1,  # the iteration's record is the last's
                )
            self.n_critic_steps_ += 1
        gen_stats = generator_step(
            self.generator_,
            self.critic_,
            self.generator_optimizer_,
            self._sampler.batch_size,
            self._random,
            shard=shard,
            scratch=self._step_scratch("generator"),
        )
        record = {"critic_loss": stats.pop("loss")}
        record.update(gen_stats)
        record.update(stats)
        # off NumPy the statistics are 0-d arrays on the device: read once, here
        return {key: float(value) for key, value in record.items()}

    def _minibatch(self, Xs, shard, xp):
        """The next minibatch's real rows of an array, and (on a rank) their positions."""
        indices = self._sampler.next_indices(self._rng)
        positions = None
        if shard is not None:  # this rank's rows of the global minibatch
            positions, indices = shard.rows(indices)
        if xp is np:
            return self._scaled_rows(Xs, indices), positions  # checked in _training_data
        return take_rows(xp, Xs, indices), positions

    def _scaled_rows(self, X: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``self._scaled(X[rows])``, in one pass when a compiled kernel can gather
        them (a C-contiguous float32 or float64 ``X``)."""
        fused = None
        if X.dtype in (np.float32, np.float64):
            fused = kernel("scale_rows", X, rows, self.scale_mean_, self.scale_std_)
        if fused is None:
            return self._scaled(X[rows])
        out = np.empty((len(rows), X.shape[1]), self.dtype_)
        fused(X, rows, self.scale_mean_, self.scale_std_, out)
        return out

    def outputs_finite(self) -> bool:
        z = np.random.default_rng(0).standard_normal(
            (64, self.generator_.sizes[0]), dtype=self.generator_.dtype
        )
        with np.errstate(over="ignore", invalid="ignore"):
            x = self.generator_(self._on_networks(z))
            d = self.critic_(x)
            return bool(np.isfinite(to_numpy(x)).all() and np.isfinite(to_numpy(d)).all())

    def gradcheck_losses(self, rng: np.random.Generator, n_samples: int, margin: float):
        """The losses :func:`wgangp.gradcheck` compares with finite differences:
        ``[(name, float64 network, loss)]``, ``loss()`` giving (value, gradients).

        The critic loss at standard normal "real" rows (the scaled space),
        fresh fakes and interpolates, and the generator loss through the
        critic; inputs are redrawn until no ReLU-like pre-activation lies
        within ``margin`` of its kink.
        """
        critic = self.critic_.astype(np.float64).to(NUMPY)
        generator = self.generator_.astype(np.float64).to(NUMPY)
        lambda_gp, penalty = float(self.lambda_gp), self.penalty
        for _ in range(200):
            x_real = rng.standard_normal((n_samples, self.n_features_in_))
            x_fake = generator(rng.standard_normal((n_samples, self.latent_dim_)))
            alpha = rng.random((n_samples, 1))
            x_interp = x_fake + alpha * (x_real - x_fake)
            z_gen = rng.standard_normal((n_samples, self.latent_dim_))
            if (
                far_from_kinks(critic, np.concatenate([x_real, x_fake, x_interp]), margin)
                and far_from_kinks(generator, z_gen, margin)
                and far_from_kinks(critic, generator(z_gen), margin)
            ):
                break
        else:
            raise RuntimeError(
                "gradcheck could not draw inputs away from ReLU kinks; lower margin= or n_samples="
            )

        def critic_value():
            loss, grads, _ = losses.critic_loss(critic, x_real, x_fake, alpha, lambda_gp, penalty)
            return loss, grads

        def generator_value():
            return losses.generator_loss(generator, critic, z_gen)

        return [("critic", critic, critic_value), ("generator", generator, generator_value)]

    def grad_norm_points(self, rng: np.random.Generator, n: int, X=None):
        """Points where the critic's input-gradient norm is worth watching:
        ``("grad_norm/interpolates", points)`` between real rows ``X`` and fresh
        fakes, as the penalty sees them, or ``("grad_norm/fake", fakes)``."""
        z = rng.standard_normal((n, self.latent_dim_), dtype=self.dtype_)
        x_fake = self.generator_(self._on_networks(z))
        if X is None:
            return [("grad_norm/fake", self.critic_, x_fake)]
        rows = np.asarray(X, dtype=np.float64)[rng.integers(0, len(X), n)]
        x_real = self._on_networks(self._transform(rows))
        alpha = self._on_networks(rng.random((n, 1)).astype(self.dtype_))
        return [("grad_norm/interpolates", self.critic_, x_fake + alpha * (x_real - x_fake))]

    # --------------------------------------------------------- inference --

    def sample(self, n: int, random_state=None) -> np.ndarray:
        """Draw ``n`` synthetic rows in the data's original units.

        ``random_state`` (None, int or Generator) seeds the noise; it never
        touches the training random stream.

        Returns
        -------
        array, shape (n, n_features), float64
        """
        self.check_fitted()
        n = check_int(n, "n")
        rng = np.random.default_rng(check_random_state(random_state, "random_state"))
        width = max(self.generator_.sizes)
        backend = getattr(self, "_backend", None)
        on_numpy = backend is None or backend.is_numpy
        per_row = self.latent_dim_ + 3 * width + 2 * self.n_features_in_
        check_fits_in_memory(
            f"sample(n={n})",
            (n * self.n_features_in_ + PREDICT_ROWS * per_row if on_numpy else n * per_row) * 8,
            "draw the rows in smaller chunks",
        )
        with np.errstate(over="ignore", invalid="ignore"):
            if on_numpy:
                return self._sample_blocks(n, rng)
            z = rng.standard_normal((n, self.latent_dim_), dtype=self.dtype_)
            x = to_numpy(self.generator_(self._on_networks(z)))
            return self._check_output("sample", self._inverse_transform(x))

    def _sample_blocks(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """:meth:`sample` on NumPy, :data:`wgangp.nn.PREDICT_ROWS` rows at a time into the
        float64 result: each block's noise, generator pass and scaling stay in the
        CPU's cache, and no array but the result has ``n`` rows. The noise is drawn
        block after block from ``rng``, the same values as one draw of ``n`` rows,
        and the blocks are :func:`wgangp.nn.predict`'s own, so the rows are those
        of one pass over all ``n``."""
        gen = self.generator_
        out = np.empty((n, self.n_features_in_), dtype=np.float64)
        scratch = Scratch()
        for start in range(0, n, PREDICT_ROWS):
            block = out[start : start + PREDICT_ROWS]
            z = rng.standard_normal((block.shape[0], self.latent_dim_), dtype=self.dtype_)
            scratch.reset()
            x = predict(gen.params, gen.activations, z, PREDICT_ROWS, scratch.empty)
            self._check_output("sample", self._inverse_transform(x, out=block))
        return out

    def score_samples(self, X) -> np.ndarray:
        """Critic value ``D(x)`` per row (higher looks more real to the critic).

        Returns
        -------
        array, shape (n_rows,), float64
        """
        self.check_fitted()
        X = check_array(X, "X", n_features=self.n_features_in_)
        with np.errstate(over="ignore", invalid="ignore"):
            scores = to_numpy(self.critic_(self._on_networks(self._transform(X))))
            scores = scores[:, 0].astype(np.float64)
        return self._check_output("score_samples", scores)

    # ----------------------------------------------------------- files --

    def _fitted_header(self) -> dict:
        return {
            "n_features_in": self.n_features_in_,
            "latent_dim": self.latent_dim_,
            "output_activation": self.output_activation_,
            "dtype": self.dtype_.name,
            "n_critic_steps": self.n_critic_steps_,
            "generator": self.generator_.config(),
            "critic": self.critic_.config(),
        }

    def _header_extras(self) -> tuple[dict, dict]:
        arrays = {"scale/mean": self.scale_mean_, "scale/std": self.scale_std_}
        arrays.update(self._sampler.arrays())
        return {"sampler": self._sampler.state()}, arrays

    def _restore(self, header: dict, arrays: dict, path, settings: dict) -> None:
        fitted = header["fitted"]
        dtype = check_dtype(fitted["dtype"])
        n_features = header_int(fitted["n_features_in"], "fitted.n_features_in", 1)
        latent_dim = header_int(fitted["latent_dim"], "fitted.latent_dim", 1)
        if fitted["output_activation"] not in ("identity", "tanh"):
            raise ModelFileError(
                f"header field fitted.output_activation={fitted['output_activation']!r} "
                "must be 'identity' or 'tanh'"
            )
        self.n_features_in_ = n_features
        self.latent_dim_ = latent_dim
        self.output_activation_ = fitted["output_activation"]
        self.dtype_ = dtype
        self.n_critic_steps_ = header_int(fitted["n_critic_steps"], "fitted.n_critic_steps")
        ends = {"generator": (latent_dim, n_features), "critic": (n_features, 1)}
        for net_name in self.NETWORKS:
            cfg = fitted[net_name]
            sizes = check_sizes(cfg["sizes"], f"fitted.{net_name}.sizes", *ends[net_name])
            self._check_stored(arrays, net_name, sizes, dtype, path)
            net = MLP(
                sizes,
                activation=cfg["activation"] or "identity",
                output_activation=cfg["output_activation"],
                init=cfg["init"],
                random_state=0,
                dtype=dtype,
            )
            setattr(self, f"{net_name}_", net)
        self.scale_mean_ = np.array(arrays["scale/mean"], dtype=np.float64)
        self.scale_std_ = np.array(arrays["scale/std"], dtype=np.float64)
        if self.scale_mean_.shape != (n_features,) or self.scale_std_.shape != (n_features,):
            raise ModelFileError(f"{path}: scaling arrays do not match n_features_in={n_features}")
        if (
            not (np.isfinite(self.scale_mean_).all() and np.isfinite(self.scale_std_).all())
            or (self.scale_std_ <= 0).any()
        ):
            raise ModelFileError(
                f"{path}: scaling arrays must be finite, with standard deviations > 0"
            )
        self._sampler = sampler_from_state(header["sampler"], arrays, path)


register_format(FORMAT_NAME, FORMAT_VERSIONS, WGANGP._from_file)
