"""The :class:`Translator`: unpaired translation between two domains, on the training core.

Two generators, ``G: A -> B`` and ``F: B -> A`` (residual MLPs
``x + MLP(x)`` by default, so training starts at the identity), and two
critics with the gradient penalty, one per domain. The generators minimise
the two Wasserstein terms plus an L1 cycle-consistency term (and an
optional identity term), :func:`wgangp.cycle.translator_generator_loss`;
each critic minimises :func:`wgangp.losses.critic_loss`. What is its own:
the parameter table, four networks, two domains' minibatches, one
iteration, the transforms and its fields of the model file; the loop,
callbacks, divergence, history, checkpoints, resume and the file's safety
are the training core's, as for :class:`wgangp.WGANGP`.

Tables (two DataFrames or CSV files with the same columns) are encoded by
one :class:`~wgangp.tabular.TabularTransformer` fitted on both domains'
rows (:mod:`wgangp.tabular.domains`); the generators map encoded rows to
encoded rows through a softmax head on the one-hot blocks, and the
transforms decode their output back to the columns' names and dtypes.
"""

from __future__ import annotations

import hashlib
import warnings

import numpy as np

from . import cycle, losses
from .backend import NUMPY, namespace, take_rows, to_numpy
from .blocks import all_finite, column_abs_max, map_rows, mean_std
from .errors import InvalidDataError, ModelFileError
from .init import INITIALIZERS
from .modelfile import header_int, register_format
from .nn import ACTIVATIONS, MLP, Activation, far_from_kinks, get_activation
from .saving import check_sizes
from .steps import MinibatchSampler, grad_norm, quiet_overflow
from .tabular.domains import (
    TableHead,
    check_domains,
    check_table_input,
    fit_domains_transformer,
    is_table,
    tables_fingerprint,
)
from .tabular.frames import json_value
from .tabular.settings import PARAMS as TABLE_PARAMS
from .tabular.transformer import TabularTransformer
from .train import CORE_PARAMS, Estimator
from .validation import Param, check_array, check_dtype, check_fits_in_memory

__all__ = ["Translator"]

FORMAT_NAME = "wgangp-translator"
FORMAT_VERSIONS = (1, 2)
"""Version 2 added ``fitted.transformer`` (null for arrays); version 1 files are arrays'."""
RESIDUAL_INIT_SCALE = 0.01
"""The last layer of a residual generator starts at this fraction of its
initialiser's weights: ``x + MLP(x)`` starts next to the identity."""

PARAMS: dict[str, Param] = {
    "hidden": Param("int", "units in each hidden layer of all four networks", minimum=1),
    "depth": Param("int", "hidden layers in each network", minimum=1),
    "activation": Param(
        "str", "hidden activation", choices=tuple(sorted(ACTIVATIONS)), objects=(Activation, dict)
    ),
    "residual": Param("bool", "generators x + MLP(x), starting near the identity, or MLP(x)"),
    "init": Param("str", "weight initialisation", choices=tuple(sorted(INITIALIZERS))),
    "optimizer": CORE_PARAMS["optimizer"],
    "lr": CORE_PARAMS["lr"],
    "lambda_gp": CORE_PARAMS["lambda_gp"],
    "penalty": CORE_PARAMS["penalty"],
    "lambda_cycle": Param("float", "weight of the L1 cycle-consistency term", minimum=0.0),
    "lambda_identity": Param("float", "weight of the L1 identity term (0: off)", minimum=0.0),
    "lambda_pairs": Param(
        "float", "weight of the L1 term on paired rows given to fit(..., pairs=)", minimum=0.0
    ),
    "n_critic": CORE_PARAMS["n_critic"],
    "batch_size": Param("int", "rows of each domain per minibatch", minimum=1),
    "scale": Param(
        "str",
        "standardise columns with the statistics of both domains together, or use data as is",
        choices=("standard",),
        none="none",
    ),
    "discrete_columns": TABLE_PARAMS["discrete_columns"],
    "continuous": TABLE_PARAMS["continuous"],
    "max_modes": TABLE_PARAMS["max_modes"],
    "clip": TABLE_PARAMS["clip"],
    "tau": Param(
        "float", "softmax temperature of the one-hot blocks (tables)", minimum=0.0, strict=True
    ),
    "dtype": CORE_PARAMS["dtype"],
    "backend": CORE_PARAMS["backend"],
    "device": CORE_PARAMS["device"],
    "random_state": CORE_PARAMS["random_state"],
    "threads": CORE_PARAMS["threads"],
}
"""The constructor's parameters, in order: checked by ``fit``."""


class Translator(Estimator):
    """Unpaired translation between two domains with WGAN-GP critics (CycleGAN's idea).

    Defaults: generators and critics of 2 hidden layers of 256 ReLU units,
    residual generators, Adam lr 2e-4 betas (0.5, 0.9), penalty 10, cycle
    weight 10, no identity term, 2 critic steps per generator step, batch 128,
    columns standardised with both domains' statistics (so that the identity
    of the scaled space is the identity of the data).

    Parameters
    ----------
    hidden, depth : int
        Width and number of hidden layers of every network.
    activation : str or dict
        Hidden activation: relu, leaky_relu, tanh, softplus, identity.
    residual : bool
        ``G(x) = x + MLP(x)`` with the last layer starting near zero (the
        identity), or the plain ``G(x) = MLP(x)``.
    init : str
    optimizer : {"rmsprop", "adam", "adam-toy", "sgd"} or Optimizer
        For all four networks (each gets its own state).
    lr : float
    lambda_gp : float
        Penalty coefficient of both critics.
    penalty : {"two-sided", "one-sided"}
    lambda_cycle : float
        Weight of ``<|F(G(a)) - a|> + <|G(F(b)) - b|>`` (means over entries).
    lambda_identity : float
        Weight of ``<|G(b) - b|> + <|F(a) - a|>``; 0 turns it off.
    lambda_pairs : float
        Weight of ``<|G(p_a) - p_b|> + <|F(p_b) - p_a|>`` over the pairs
        given to ``fit(..., pairs=(p_a, p_b))``; without pairs it does nothing.
    n_critic : int
        Steps of both critics per generator step.
    batch_size : int
        Rows of each domain per minibatch; clipped (with a warning) to the
        smaller domain.
    scale : {"standard", None}
        Arrays only: tables are used as their column transformer encodes them.
    discrete_columns, continuous, max_modes, clip
        Tables only: the column transformer's, as for
        :class:`wgangp.tabular.TabularSynthesizer`. With
        ``discrete_columns=None`` the discrete columns are inferred on each
        domain, and a column read as discrete in one domain and as
        continuous in the other is refused.
    tau : float
        Tables only: temperature of the softmax on each one-hot block of a
        translated row (:class:`wgangp.tabular.domains.TableHead`).
    dtype : numpy.float32 or numpy.float64
    backend, device : str
        Where the four networks train, as for :class:`wgangp.WGANGP`: NumPy
        by default, or CuPy / torch (CPU or CUDA) / ``array-api-strict``.
        The cycle, identity and pair terms and the table head run in the
        networks' namespace; both domains' scaled (or encoded) rows and the
        pairs move to the device once per ``fit``, and the minibatches are
        taken there. The interpolation coefficients come from the backend's
        random source seeded from ``random_state``: resuming on the same
        backend is bit for bit, on another it continues. ``transform`` runs
        where the networks are and returns NumPy arrays (or DataFrames); the
        model file holds NumPy arrays whatever trained it.
    random_state : None, int or numpy.random.Generator
    threads : "auto" or int
        BLAS threads while training, as for :class:`wgangp.WGANGP`.

    Attributes
    ----------
    generator_ab_, generator_ba_ : MLP
        ``G: A -> B`` and ``F: B -> A`` (the MLP part of a residual generator).
    critic_a_, critic_b_ : MLP
    n_iter_ : int
    history_ : wgangp.history.History
        Per iteration: critic_loss, wasserstein and penalty (sums over both
        critics, so that ``critic_loss = -wasserstein + penalty``), their
        ``_a`` / ``_b`` parts (critic of A: real A against ``F(b)``),
        grad_norm_min/mean/max (over both critics' interpolates) and
        grad_norm_mean_a/_b, generator_loss (the whole objective),
        adversarial_ab/_ba, cycle_error (mean of cycle_error_a =
        ``<|F(G(a)) - a|>`` and cycle_error_b), shift_ab (``<|G(a) - a|>``,
        how far translation moves) and shift_ba, identity_error (with the
        identity term), pair_error (``<|G(p_a) - p_b|>``) and pair_error_ba
        (with pairs), critic_grad_norm, generator_grad_norm, learning
        rates, seconds, elapsed; errors in the scaled space (tables: the
        encoded space).
    n_features_in_ : int
        Columns of the data (tables: before encoding).
    transformer_ : TabularTransformer or None
        Tables: the column transformer of both domains; arrays: None.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.normal(size=(64, 2)), rng.normal(loc=3.0, size=(64, 2))
    >>> model = Translator(hidden=16, batch_size=32, random_state=0).fit(A, B, steps=3)
    >>> model.transform(A[:5]).shape, model.inverse_transform(B[:5]).shape
    ((5, 2), (5, 2))

    Tables: two DataFrames (or CSV paths) with the same columns; the
    transforms return DataFrames with the original column names and dtypes.

    >>> import pandas as pd
    >>> site_a = pd.DataFrame({"dose": rng.normal(5, 1, 40), "arm": rng.choice(["x", "y"], 40)})
    >>> site_b = pd.DataFrame({"dose": rng.normal(9, 2, 30), "arm": rng.choice(["x", "y"], 30)})
    >>> table = Translator(hidden=16, batch_size=16, random_state=0).fit(site_a, site_b, steps=3)
    >>> out = table.transform(site_a[:4])
    >>> list(out.columns), out["arm"].dtype == site_a["arm"].dtype
    (['dose', 'arm'], True)
    """

    PARAMS = PARAMS
    NETWORKS = ("generator_ab", "generator_ba", "critic_a", "critic_b")
    FORMAT_NAME = FORMAT_NAME
    FORMAT_VERSIONS = FORMAT_VERSIONS
    HEADER_EXTRAS = ("samplers",)
    FIT_CALL = "fit(X_source, X_target)"
    STATE_ATTRIBUTES = ("n_critic_steps_",)
    LIVE_PARAMS = (
        "lr",
        "lambda_gp",
        "n_critic",
        "threads",
        "lambda_cycle",
        "lambda_identity",
        "lambda_pairs",
        "tau",
        "backend",
        "device",
    )
    SCHEDULABLE_PARAMS = (
        "lr",
        "lambda_gp",
        "n_critic",
        "lambda_cycle",
        "lambda_identity",
        "lambda_pairs",
    )

    def __init__(
        self,
        hidden: int = 256,
        depth: int = 2,
        activation="relu",
        residual: bool = True,
        init: str = "he_uniform",
        optimizer="adam-toy",
        lr: float = 2e-4,
        lambda_gp: float = 10.0,
        penalty: str = "two-sided",
        lambda_cycle: float = 10.0,
        lambda_identity: float = 0.0,
        lambda_pairs: float = 10.0,
        n_critic: int = 2,
        batch_size: int = 128,
        scale: str | None = "standard",
        discrete_columns=None,
        continuous: str = "auto",
        max_modes: int = 10,
        clip: bool = True,
        tau: float = 0.2,
        dtype=np.float32,
        backend: str = "auto",
        device: str = "cpu",
        random_state=None,
        threads="auto",
    ):
        self.hidden = hidden
        self.depth = depth
        self.activation = activation
        self.residual = residual
        self.init = init
        self.optimizer = optimizer
        self.lr = lr
        self.lambda_gp = lambda_gp
        self.penalty = penalty
        self.lambda_cycle = lambda_cycle
        self.lambda_identity = lambda_identity
        self.lambda_pairs = lambda_pairs
        self.n_critic = n_critic
        self.batch_size = batch_size
        self.scale = scale
        self.discrete_columns = discrete_columns
        self.continuous = continuous
        self.max_modes = max_modes
        self.clip = clip
        self.tau = tau
        self.dtype = dtype
        self.backend = backend
        self.device = device
        self.random_state = random_state
        self.threads = threads

    # ------------------------------------------------------------- setup --

    def _check_params(self, settings: dict) -> dict:
        settings["activation"] = get_activation(self.activation)
        return settings

    def _check_data(self, data, settings: dict, fitted: bool):
        X_source, X_target, pairs = data
        tables = is_table(X_source), is_table(X_target)
        if tables[0] != tables[1]:
            kinds = [type(X).__name__ for X in data]
            raise InvalidDataError(
                f"X_source is a {kinds[0]} and X_target a {kinds[1]}; give both domains as "
                "tables (DataFrames or CSV paths) or both as arrays"
            )
        if fitted and tables[0] != (self.transformer_ is not None):
            fitted_on = "tables" if self.transformer_ is not None else "arrays"
            raise InvalidDataError(
                f"this Translator was fitted on {fitted_on}; continue it on {fitted_on} "
                "with the same columns"
            )
        if tables[0]:
            columns = self.transformer_.column_names_ if fitted else None
            A, B = check_domains(X_source, X_target, settings["discrete_columns"], columns)
            return A, B, _check_pairs(pairs, A, B)
        width = self.n_features_in_ if fitted else None
        A = check_array(X_source, "X_source", n_features=width, min_rows=2)
        B = check_array(X_target, "X_target", n_features=width, min_rows=2)
        if A.shape[1] != B.shape[1]:
            raise InvalidDataError(
                f"X_source has {A.shape[1]} columns and X_target {B.shape[1]}; the two domains "
                "must have the same columns (the same features, in the same order), since "
                "translation maps each row of one onto a row of the other"
            )
        if not fitted:
            self._check_trainable(A, B, settings)
        return A, B, _check_pairs(pairs, A, B)

    def _data_fingerprint(self, data) -> dict:
        """Rows (of both domains together), columns and a hash (blake2b) of both
        domains' float64 values, each domain's size included (tables: of their rows,
        :func:`~wgangp.tabular.domains.tables_fingerprint`); with pairs, their
        count and their values in the hash too."""
        A, B, pairs = data
        if not isinstance(A, np.ndarray):
            fingerprint = tables_fingerprint(A, B)
            if pairs is not None:
                fingerprint["pairs"] = len(pairs[0])
                fingerprint["pairs_hash"] = tables_fingerprint(*pairs)["hash"]
            return fingerprint
        digest = hashlib.blake2b(digest_size=16)
        for X in (A, B) + (pairs or ()):
            digest.update(repr(X.shape).encode("ascii"))
            digest.update(np.ascontiguousarray(X, np.float64).tobytes())
        fingerprint = {
            "rows": int(A.shape[0] + B.shape[0]),
            "columns": int(A.shape[1]),
            "hash": digest.hexdigest(),
        }
        if pairs is not None:
            fingerprint["pairs"] = len(pairs[0])
        return fingerprint

    def _rows_in(self, data) -> int:
        return len(data[0])

    def _check_trainable(self, A: np.ndarray, B: np.ndarray, settings: dict) -> None:
        """Refuse data whose scaling overflows and networks beyond this machine's memory."""
        dtype = settings["dtype"]
        both = np.concatenate([A, B])
        with np.errstate(over="ignore", invalid="ignore"):
            finite = np.isfinite(mean_std(both)).all(axis=0)
        if self.scale is None:
            finite &= column_abs_max(both) <= np.finfo(dtype).max
        if not finite.all():
            j = int(np.argmin(finite))
            raise InvalidDataError(
                f"column {j} has values as large as {np.abs(both[:, j]).max():.3g}, too large to "
                f"compute with (its mean, standard deviation or {dtype.name} value overflows); "
                "rescale it in both domains, e.g. divide by a power of 10"
            )
        self._check_memory(A.shape[1], len(A), len(B), settings)

    def _check_memory(self, width: int, n_a: int, n_b: int, settings: dict) -> None:
        """Refuse networks of ``width`` columns in and out beyond this machine's memory."""
        dtype = settings["dtype"]
        hidden, depth = settings["hidden"], settings["depth"]
        batch = min(settings["batch_size"], n_a, n_b)
        n_params = 2 * sum(
            (a + 1) * b
            for sizes in ([width] + [hidden] * depth + [width], [width] + [hidden] * depth + [1])
            for a, b in zip(sizes[:-1], sizes[1:])
        )
        n_values = 5 * n_params + 16 * batch * (hidden * depth + width)
        check_fits_in_memory(
            f"hidden={hidden}, depth={depth} on {width} columns with batch_size={batch}",
            n_values * dtype.itemsize,
            "choose a smaller hidden, depth or batch_size",
        )

    def _initialize(self, data, settings: dict) -> str | None:
        A, B, _ = data
        self.n_features_in_ = A.shape[1]
        self.dtype_ = settings["dtype"]
        self._rng = np.random.default_rng(self.random_state)
        self.transformer_, note = None, None
        if not isinstance(A, np.ndarray):
            self.transformer_ = fit_domains_transformer(
                A,
                B,
                settings["discrete_columns"],
                settings["continuous"],
                settings["max_modes"],
                settings["clip"],
                self._rng,
            )
            width = self.transformer_.output_dim_
            self._check_memory(width, len(A), len(B), settings)
            self._fit_matrices = tuple(self.transformer_.transform(X) for X in (A, B))
            self.scale_mean_, self.scale_std_ = np.zeros(width), np.ones(width)
            note = (
                f"column transformer fitted on {len(A) + len(B)} rows x {A.shape[1]} columns "
                f"of both domains ({width} network columns)"
            )
        elif self.scale == "standard":
            mean, std = mean_std(np.concatenate([A, B]))
            std[std == 0] = 1.0  # a constant column stays constant
            self.scale_mean_, self.scale_std_ = mean, std
        else:
            self.scale_mean_ = np.zeros(self.n_features_in_)
            self.scale_std_ = np.ones(self.n_features_in_)
        self.residual_ = bool(settings["residual"])
        self._build_networks(settings["hidden"], settings["depth"], settings["activation"])
        if self.residual_:
            for net in (self.generator_ab_, self.generator_ba_):
                net.params[-2] *= net.dtype.type(RESIDUAL_INIT_SCALE)
        self._new_optimizers(settings)
        batch = self._effective_batch(len(A), len(B), settings)
        self._samplers = (MinibatchSampler(len(A), batch), MinibatchSampler(len(B), batch))
        self.n_critic_steps_ = 0
        self._head = self._make_head(settings["tau"])
        return note

    def _network_width(self) -> int:
        """Columns in and out of the generators: the data's, or the encoded table's."""
        if self.transformer_ is not None:
            return self.transformer_.output_dim_
        return self.n_features_in_

    def _make_head(self, tau: float) -> TableHead | None:
        """The generators' output head: a softmax on each one-hot block (tables), or none."""
        if self.transformer_ is None:
            return None
        return TableHead(self.transformer_.output_info_, tau)

    def _build_networks(self, hidden: int, depth: int, activation) -> None:
        width = self._network_width()
        for name, out in (("generator_ab", width), ("generator_ba", width)):
            setattr(self, f"{name}_", self._mlp([width] + [hidden] * depth + [out], activation))
        for name in ("critic_a", "critic_b"):
            setattr(self, f"{name}_", self._mlp([width] + [hidden] * depth + [1], activation))

    def _mlp(self, sizes, activation, init=None, random_state=None) -> MLP:
        return MLP(
            sizes,
            activation=activation,
            output_activation="identity",
            init=init or self.init,
            random_state=self._rng if random_state is None else random_state,
            dtype=self.dtype_,
        )

    def _effective_batch(self, n_a: int, n_b: int, settings: dict) -> int:
        batch = settings["batch_size"]
        rows = min(n_a, n_b)
        if batch > rows:
            warnings.warn(
                f"batch_size={batch} is larger than the {rows} rows of the smaller domain; "
                f"using batch_size={rows}",
                UserWarning,
                stacklevel=6,
            )
            return rows
        return batch

    def _training_data(self, data, settings: dict):
        A, B, pairs = data
        if (len(A), len(B)) != tuple(s.n_rows for s in self._samplers):
            batch = self._effective_batch(len(A), len(B), settings)
            self._samplers = (MinibatchSampler(len(A), batch), MinibatchSampler(len(B), batch))
        if self.transformer_ is not None:
            self._head = self._make_head(settings["tau"])
            matrices = self.__dict__.pop("_fit_matrices", None)  # encoded once at a fresh fit
            if matrices is None:
                matrices = tuple(self.transformer_.transform(X) for X in (A, B))
            A, B = matrices
            if pairs is not None:  # the pairs' rows, encoded like the domains'
                pairs = tuple(self.transformer_.transform(P) for P in pairs)
        if pairs is not None:
            pairs = tuple(
                self._on_networks(self._scaled(p, f"pairs[{i}]")) for i, p in enumerate(pairs)
            )
        return (
            self._on_networks(self._scaled(A, "X_source")),
            self._on_networks(self._scaled(B, "X_target")),
            pairs,
        )

    def _scaled(self, X: np.ndarray, name: str) -> np.ndarray:
        mean, std, dtype = self.scale_mean_, self.scale_std_, self.dtype_
        with np.errstate(over="ignore", invalid="ignore"):  # a block of rows at a time
            Xs = map_rows(X, lambda rows: ((rows - mean) / std).astype(dtype), dtype)
        if not all_finite(Xs):
            i, j = np.argwhere(~np.isfinite(Xs))[0]
            raise InvalidDataError(
                f"{name}[{i}, {j}] = {X[i, j]:.3g} overflows {self.dtype_.name} once scaled like "
                "the training data; it is far outside the range the model was fitted on"
            )
        return Xs

    # ---------------------------------------------------------- training --

    def fit(
        self,
        X_source,
        X_target,
        steps: int = 2000,
        callbacks=None,
        *,
        verbose: int = 0,
        log_every: int = 1,
        run_dir=None,
        checkpoint_every: int | None = None,
        keep_checkpoints: int = 3,
        resume=None,
        pairs=None,
    ) -> Translator:
        """Train from scratch (or from a checkpoint) for ``steps`` generator iterations.

        Each iteration is ``n_critic`` steps of both critics (each on the
        next shuffled minibatch of its domain, against fresh translations of
        the other's), then one step of both generators on the whole
        objective.

        Parameters
        ----------
        X_source : array-like, shape (n_source, n_features)
            Rows of domain A (no pairing with ``X_target``).
        X_target : array-like, shape (n_target, n_features)
            Rows of domain B, with the same columns.
        steps, callbacks, verbose, log_every, run_dir, checkpoint_every, keep_checkpoints, resume
            As for :meth:`wgangp.WGANGP.fit`: the same training core runs both.
        pairs : (source, target), optional
            A few paired examples: ``source`` either indices of rows of
            ``X_source`` (1-D integers) or rows of domain A, shape (k,
            n_features); ``target`` their known translations, shape (k,
            n_features). Every generator step then adds ``lambda_pairs *
            (<|G(p_a) - p_b|> + <|F(p_b) - p_a|>)`` over all k pairs, which
            makes translations identifiable that the unpaired objective
            cannot tell apart (a map that swaps classes is as cycle-consistent
            and as close to the target distribution as the right one). The
            pairs are part of the training data: ``partial_fit`` and
            ``resume`` need the same pairs again. Tables: ``source`` indices
            of ``X_source`` rows or a table of domain A's rows, ``target`` a
            table of their translations, both with the domains' columns
            (encoded by the same column transformer; the pair term compares
            encoded rows, categories through the softmax head).

        Returns
        -------
        self
        """
        return self._fit(
            (X_source, X_target, pairs),
            steps,
            callbacks,
            verbose=verbose,
            log_every=log_every,
            run_dir=run_dir,
            checkpoint_every=checkpoint_every,
            keep_checkpoints=keep_checkpoints,
            resume=resume,
        )

    def partial_fit(
        self,
        X_source,
        X_target,
        steps: int = 1,
        callbacks=None,
        *,
        verbose: int = 0,
        log_every: int | None = None,
        run_dir=None,
        checkpoint_every: int | None = None,
        keep_checkpoints: int = 3,
        pairs=None,
    ) -> Translator:
        """Continue training (fit first if unfitted); a loaded model continued on the
        same data (and the same ``pairs``) reproduces the uninterrupted run bit for
        bit. Changes of ``lr``, ``lambda_gp``, ``n_critic``, ``lambda_cycle``,
        ``lambda_identity`` and ``lambda_pairs`` apply."""
        return self._fit(
            (X_source, X_target, pairs),
            steps,
            callbacks,
            verbose=verbose,
            log_every=log_every,
            run_dir=run_dir,
            checkpoint_every=checkpoint_every,
            keep_checkpoints=keep_checkpoints,
            partial=True,
        )

    @quiet_overflow
    def _iteration(self, data, settings: dict) -> dict:
        A, B, pairs = data
        sampler_a, sampler_b = self._samplers
        rng, residual, head = self._rng, self.residual_, self._head
        lambda_gp, penalty = settings["lambda_gp"], settings["penalty"]
        xp = namespace(A)
        n_critic = settings["n_critic"]
        for step in range(n_critic):
            last = step == n_critic - 1  # the iteration's record is the last step's
            x_a = take_rows(xp, A, sampler_a.next_indices(rng))
            x_b = take_rows(xp, B, sampler_b.next_indices(rng))
            fakes = self._step_empty("translate")
            fake_b = cycle.translate(self.generator_ab_, x_a, residual, head, fakes)
            fake_a = cycle.translate(self.generator_ba_, x_b, residual, head, fakes)
            alpha = self._random.random((2, x_a.shape[0], 1), dtype=self.dtype_)
            critic_stats = []
            for critic, opt, real, fake, a in (
                (self.critic_a_, self.critic_a_optimizer_, x_a, fake_a, alpha[0, ...]),
                (self.critic_b_, self.critic_b_optimizer_, x_b, fake_b, alpha[1, ...]),
            ):
                empty = self._step_empty("critic")  # the two critics' steps take turns with it
                _, grads, stats = losses.critic_loss(
                    critic, real, fake, a, lambda_gp, penalty, statistics=last, empty=empty
                )
                if last:
                    stats["grad_norm"] = grad_norm(grads)
                opt.step(critic.params, grads)
                critic_stats.append(stats)
            self.n_critic_steps_ += 1
        x_a = take_rows(xp, A, sampler_a.next_indices(rng))
        x_b = take_rows(xp, B, sampler_b.next_indices(rng))
        _, grads_ab, grads_ba, gen_stats = cycle.translator_generator_loss(
            self.generator_ab_,
            self.generator_ba_,
            self.critic_a_,
            self.critic_b_,
            x_a,
            x_b,
            settings["lambda_cycle"],
            settings["lambda_identity"],
            residual,
            head=head,
            pairs=pairs,
            lambda_pairs=settings["lambda_pairs"],
            empty=self._step_empty("generator"),
        )
        gen_norm = grad_norm(grads_ab + grads_ba)
        self.generator_ab_optimizer_.step(self.generator_ab_.params, grads_ab)
        self.generator_ba_optimizer_.step(self.generator_ba_.params, grads_ba)
        return _record(critic_stats, gen_stats, gen_norm)

    # training state: the core keeps one sampler; this estimator has one per domain

    def training_state(self) -> dict:
        state = super().training_state()
        state["samplers"] = [s.snapshot() for s in self._samplers]
        return state

    def restore_training_state(self, state: dict) -> None:
        super().restore_training_state(state)
        for sampler, snapshot in zip(self._samplers, state["samplers"]):
            sampler.restore(snapshot)

    def _batch_rows(self) -> int:
        return self._samplers[0].batch_size

    # ---------------------------------------------------------- checking --

    def outputs_finite(self) -> bool:
        probe = np.random.default_rng(0).standard_normal(
            (64, self._network_width()), dtype=self.dtype_
        )
        head = self._head
        probe = self._on_networks(probe)
        with np.errstate(over="ignore", invalid="ignore"):
            fake_b = cycle.translate(self.generator_ab_, probe, self.residual_, head)
            fake_a = cycle.translate(self.generator_ba_, probe, self.residual_, head)
            outs = (fake_b, fake_a, self.critic_b_(fake_b), self.critic_a_(fake_a))
            return all(bool(np.isfinite(to_numpy(o)).all()) for o in outs)

    def gradcheck_losses(self, rng: np.random.Generator, n_samples: int, margin: float):
        """The losses :func:`wgangp.gradcheck` compares with finite differences.

        Both critic losses (penalty included) at standard normal rows of each
        domain (the scaled space) against fresh translations, and the
        generators' whole objective (adversarial, cycle, identity, and with
        ``lambda_pairs > 0`` the pair term on ``n_samples + 1`` pairs drawn
        like the rows, whether or not the model was fitted with pairs) once
        per generator: ``critic_a``, ``critic_b``, ``generator_ab``,
        ``generator_ba``. Inputs are redrawn until no ReLU-like
        pre-activation and no L1 residual lies within ``margin`` of its kink.
        Tables: the rows are points of the encoded space (scalars and
        softmax blocks, :meth:`~wgangp.tabular.domains.TableHead.sample_rows`)
        and both generators' objective runs through the softmax head.
        """
        g, f, d_a, d_b = (net.astype(np.float64).to(NUMPY) for net in self.networks().values())
        res, head = self.residual_, self._make_head(float(self.tau))
        lambda_gp, penalty = float(self.lambda_gp), self.penalty
        lc, li = float(self.lambda_cycle), float(self.lambda_identity)
        lp = float(self.lambda_pairs)
        shape = (n_samples, self._network_width())

        def draw(n=n_samples):
            if head is None:
                return rng.standard_normal((n, shape[1]))
            return head.sample_rows(rng, n, np.float64)

        for _ in range(200):
            x_a, x_b = draw(), draw()
            alpha = rng.random((2, n_samples, 1))
            # one pair more than the batch's rows, so that a slicing mistake shows
            pairs = (draw(n_samples + 1), draw(n_samples + 1)) if lp > 0 else None
            fake_b, fake_a = cycle.translate(g, x_a, res, head), cycle.translate(f, x_b, res, head)
            interp_a = fake_a + alpha[0] * (x_a - fake_a)
            interp_b = fake_b + alpha[1] * (x_b - fake_b)
            residuals = [
                cycle.translate(f, fake_b, res, head) - x_a,
                cycle.translate(g, fake_a, res, head) - x_b,
            ]
            if li > 0:
                residuals += [
                    cycle.translate(g, x_b, res, head) - x_b,
                    cycle.translate(f, x_a, res, head) - x_a,
                ]
            if pairs is not None:
                residuals += [
                    cycle.translate(g, pairs[0], res, head) - pairs[1],
                    cycle.translate(f, pairs[1], res, head) - pairs[0],
                ]
            kink_g = [x_a, x_b, fake_a] + ([pairs[0]] if pairs is not None else [])
            kink_f = [x_b, x_a, fake_b] + ([pairs[1]] if pairs is not None else [])
            if (
                far_from_kinks(d_a, np.concatenate([x_a, fake_a, interp_a]), margin)
                and far_from_kinks(d_b, np.concatenate([x_b, fake_b, interp_b]), margin)
                and far_from_kinks(g, np.concatenate(kink_g), margin)
                and far_from_kinks(f, np.concatenate(kink_f), margin)
                and min(float(np.abs(r).min()) for r in residuals) > margin
            ):
                break
        else:
            raise RuntimeError(
                "gradcheck could not draw inputs away from ReLU kinks; lower margin= or n_samples="
            )

        def critic_value(critic, real, fake, a):
            def value():
                loss, grads, _ = losses.critic_loss(critic, real, fake, a, lambda_gp, penalty)
                return loss, grads

            return value

        def generator_value(which):
            def value():
                loss, grads_ab, grads_ba, _ = cycle.translator_generator_loss(
                    g, f, d_a, d_b, x_a, x_b, lc, li, res, head=head, pairs=pairs, lambda_pairs=lp
                )
                return loss, (grads_ab if which == 0 else grads_ba)

            return value

        return [
            ("critic_a", d_a, critic_value(d_a, x_a, fake_a, alpha[0])),
            ("critic_b", d_b, critic_value(d_b, x_b, fake_b, alpha[1])),
            ("generator_ab", g, generator_value(0)),
            ("generator_ba", f, generator_value(1)),
        ]

    def grad_norm_points(self, rng: np.random.Generator, n: int, X=None):
        """Where each critic's input-gradient norm is worth watching: translations
        of ``X`` (source rows) or of standard normal rows of the scaled space
        (tables: of random points of the encoded space)."""
        head = self._head
        if X is None and head is not None:
            x_a = head.sample_rows(rng, n, self.dtype_)
        elif X is None:
            x_a = rng.standard_normal((n, self.n_features_in_), dtype=self.dtype_)
        elif head is not None:
            frame = check_table_input(X, "X", self.transformer_.column_names_)
            rows = frame.iloc[rng.integers(0, len(frame), n)]
            x_a = self.transformer_.transform(rows).astype(self.dtype_)
        else:
            rows = np.asarray(X, dtype=np.float64)[rng.integers(0, len(X), n)]
            x_a = self._scaled(rows, "X")
        x_a = self._on_networks(x_a)
        fake_b = cycle.translate(self.generator_ab_, x_a, self.residual_, head)
        fake_a = cycle.translate(self.generator_ba_, fake_b, self.residual_, head)
        return [
            ("grad_norm/translated_b", self.critic_b_, fake_b),
            ("grad_norm/cycled_a", self.critic_a_, fake_a),
        ]

    # --------------------------------------------------------- inference --

    def _apply(self, X, net: MLP, method: str, name: str):
        if self.transformer_ is not None:
            return self._apply_table(X, net, method, name)
        X = check_array(X, name, n_features=self.n_features_in_)
        check_fits_in_memory(
            f"{method}({name} of {len(X)} rows)",
            len(X) * (4 * max(net.sizes) + 4 * self.n_features_in_) * 8,
            "translate the rows in smaller chunks",
        )
        with np.errstate(over="ignore", invalid="ignore"):
            out = cycle.translate(net, self._on_networks(self._scaled(X, name)), self.residual_)
            out = to_numpy(out).astype(np.float64) * self.scale_std_ + self.scale_mean_
        return self._check_output(method, out)

    def _apply_table(self, X, net: MLP, method: str, name: str):
        """Encode the rows of a table, translate them, decode: a DataFrame."""
        frame = check_table_input(X, name, self.transformer_.column_names_)
        check_fits_in_memory(
            f"{method}({name} of {len(frame)} rows)",
            len(frame) * (4 * max(net.sizes) + 6 * self._network_width()) * 8,
            "translate the rows in smaller chunks",
        )
        encoded = self.transformer_.transform(frame).astype(self.dtype_)
        with np.errstate(over="ignore", invalid="ignore"):
            out = cycle.translate(net, self._on_networks(encoded), self.residual_, self._head)
        out = self._check_output(method, to_numpy(out).astype(np.float64))
        return self.transformer_.inverse_transform(out)

    def transform(self, X):
        """Translate rows of domain A into domain B: ``G(X)``, in the data's units.

        Parameters
        ----------
        X : array-like, shape (n_rows, n_features), or a DataFrame (or CSV path)
            Rows of domain A, as the model was fitted (arrays or tables).

        Returns
        -------
        array, shape (n_rows, n_features), float64; or for tables a DataFrame
            with the fitted columns' names and dtypes: continuous values
            clipped to the range seen in training (``clip=True``) and
            rounded where the column holds integers, each discrete column
            (and missing-value indicator) the argmax of its block.
        """
        self.check_fitted()
        return self._apply(X, self.generator_ab_, "transform", "X")

    def inverse_transform(self, X):
        """Translate rows of domain B back into domain A: ``F(X)``, in the data's units
        (tables: a DataFrame, as :meth:`transform`)."""
        self.check_fitted()
        return self._apply(X, self.generator_ba_, "inverse_transform", "X")

    # ----------------------------------------------------------- files --

    def _fitted_header(self) -> dict:
        header = {
            "n_features_in": self.n_features_in_,
            "dtype": self.dtype_.name,
            "residual": self.residual_,
            "n_critic_steps": self.n_critic_steps_,
            "transformer": (None if self.transformer_ is None else self.transformer_.state_dict()),
        }
        header.update({name: net.config() for name, net in self.networks().items()})
        return header

    def _header_extras(self) -> tuple[dict, dict]:
        arrays = {"scale/mean": self.scale_mean_, "scale/std": self.scale_std_}
        states = {}
        for domain, sampler in zip("ab", self._samplers):
            states[domain] = sampler.state()
            if sampler.perm is not None:
                arrays[f"sampler_{domain}/perm"] = sampler.perm
        return {"samplers": states}, arrays

    def _restore(self, header: dict, arrays: dict, path, settings: dict) -> None:
        fitted = header["fitted"]
        self.dtype_ = check_dtype(fitted["dtype"])
        width = header_int(fitted["n_features_in"], "fitted.n_features_in", 1)
        self.n_features_in_ = width
        state = fitted["transformer"] if header["format_version"] >= 2 else None
        self.transformer_ = None
        if state is not None:
            if not isinstance(state, dict):
                raise ModelFileError(
                    f"{path}: header field fitted.transformer is not a JSON object or null"
                )
            self.transformer_ = TabularTransformer.from_state_dict(state)
            n_columns = len(self.transformer_.columns_)
            if n_columns != width:
                raise ModelFileError(
                    f"{path}: the transformer has {n_columns} columns, but "
                    f"fitted.n_features_in={width}"
                )
            width = self.transformer_.output_dim_
        if not isinstance(fitted["residual"], bool):
            raise ModelFileError(
                f"header field fitted.residual={fitted['residual']!r} is not a bool"
            )
        self.residual_ = fitted["residual"]
        self.n_critic_steps_ = header_int(fitted["n_critic_steps"], "fitted.n_critic_steps")
        self._rng = np.random.default_rng(0)
        for name in self.NETWORKS:
            cfg = fitted[name]
            last = 1 if name.startswith("critic") else width
            sizes = check_sizes(cfg["sizes"], f"fitted.{name}.sizes", width, last)
            self._check_stored(arrays, name, sizes, self.dtype_, path)
            if get_activation(cfg["output_activation"]).name != "identity":
                raise ModelFileError(
                    f"header field fitted.{name}.output_activation must be 'identity'"
                )
            net = self._mlp(
                sizes, cfg["activation"] or "identity", init=cfg["init"], random_state=0
            )
            setattr(self, f"{name}_", net)
        self.scale_mean_ = np.array(arrays["scale/mean"], dtype=np.float64)
        self.scale_std_ = np.array(arrays["scale/std"], dtype=np.float64)
        if self.scale_mean_.shape != (width,) or self.scale_std_.shape != (width,):
            raise ModelFileError(f"{path}: scaling arrays do not match n_features_in={width}")
        if (
            not (np.isfinite(self.scale_mean_).all() and np.isfinite(self.scale_std_).all())
            or (self.scale_std_ <= 0).any()
        ):
            raise ModelFileError(
                f"{path}: scaling arrays must be finite, with standard deviations > 0"
            )
        if self.transformer_ is not None and (
            (self.scale_mean_ != 0).any() or (self.scale_std_ != 1).any()
        ):
            raise ModelFileError(
                f"{path}: a table translator's scaling arrays must be zeros and ones (its "
                "column transformer does the scaling)"
            )
        samplers = header["samplers"]
        self._samplers = tuple(
            MinibatchSampler.from_state(
                samplers[domain], arrays.get(f"sampler_{domain}/perm"), path
            )
            for domain in "ab"
        )
        if self._samplers[0].batch_size != self._samplers[1].batch_size:
            raise ModelFileError(f"{path}: the two domains' minibatch sizes differ")
        self._head = self._make_head(settings["tau"])


def _check_pairs(pairs, A, B):
    """``pairs=(source, target)`` checked against the domains ``A`` and ``B``, or None.

    ``source`` is 1-D integer indices of ``A``'s rows, or rows of domain A;
    ``target`` their known translations; k rows each. Arrays: two float64
    arrays of the domains' width. Tables: two DataFrames with the domains'
    columns, in their order (``source`` a table or CSV path when not indices).
    """
    if pairs is None:
        return None
    if not isinstance(pairs, (tuple, list)) or len(pairs) != 2:
        raise InvalidDataError(
            f"pairs must be a tuple (source, target): indices of X_source rows (or rows of "
            f"domain A) and their known translations in domain B; got {type(pairs).__name__}"
            + (f" of length {len(pairs)}" if hasattr(pairs, "__len__") else "")
        )
    source, target = pairs
    table = not isinstance(A, np.ndarray)
    if table:
        columns = [json_value(c) for c in A.columns]

        def rows(X, name):
            return check_table_input(X, name, columns).reset_index(drop=True)
    else:

        def rows(X, name):
            return check_array(X, name, n_features=A.shape[1])

    index = None if is_table(source) else np.asarray(source)
    if index is not None and index.ndim == 1 and index.dtype.kind in "iu":
        if len(index) and (index.min() < -len(A) or index.max() >= len(A)):
            raise InvalidDataError(
                f"pairs[0] holds row indices from {index.min()} to {index.max()}, but "
                f"X_source has {len(A)} rows; give indices in 0..{len(A) - 1} (or the "
                "source rows themselves)"
            )
        p_a = A.iloc[index].reset_index(drop=True) if table else A[index]
    elif table and index is not None:
        raise InvalidDataError(
            "pairs[0] must be 1-D integer indices of X_source rows or a table (DataFrame "
            f"or CSV path) of domain A's rows; got {type(source).__name__}"
        )
    else:
        p_a = rows(source, "pairs[0]")
    p_b = rows(target, "pairs[1]")
    if len(p_a) != len(p_b):
        raise InvalidDataError(
            f"pairs[0] gives {len(p_a)} source rows and pairs[1] {len(p_b)} target rows; "
            "each source row needs exactly one known translation (the same number of rows)"
        )
    if table:
        p_a.columns, p_b.columns = A.columns, B.columns
    return p_a, p_b


def _record(critic_stats: list[dict], gen_stats: dict, gen_norm: float) -> dict:
    """One iteration's metrics: sums over both critics first, then each domain's
    (off NumPy the statistics are 0-d arrays on the device: read once, here)."""
    st_a, st_b = ({k: float(v) for k, v in stats.items()} for stats in critic_stats)
    gen_stats = {k: float(v) for k, v in gen_stats.items()}
    gen_norm = float(gen_norm)
    record = {
        "critic_loss": st_a["loss"] + st_b["loss"],
        "generator_loss": gen_stats.pop("generator_loss"),
        "wasserstein": st_a["wasserstein"] + st_b["wasserstein"],
        "wasserstein_a": st_a["wasserstein"],
        "wasserstein_b": st_b["wasserstein"],
        "penalty": st_a["penalty"] + st_b["penalty"],
        "penalty_a": st_a["penalty"],
        "penalty_b": st_b["penalty"],
        "grad_norm_min": min(st_a["grad_norm_min"], st_b["grad_norm_min"]),
        "grad_norm_mean": 0.5 * (st_a["grad_norm_mean"] + st_b["grad_norm_mean"]),
        "grad_norm_max": max(st_a["grad_norm_max"], st_b["grad_norm_max"]),
        "grad_norm_mean_a": st_a["grad_norm_mean"],
        "grad_norm_mean_b": st_b["grad_norm_mean"],
    }
    record.update(gen_stats)
    record["critic_grad_norm"] = float(np.hypot(st_a["grad_norm"], st_b["grad_norm"]))
    record["generator_grad_norm"] = gen_norm
    return record


register_format(FORMAT_NAME, FORMAT_VERSIONS, Translator._from_file)
