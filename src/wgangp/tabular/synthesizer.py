"""The :class:`TabularSynthesizer`: a conditional WGAN-GP for tables, on the training core.

What is its own: the column transformer (:mod:`~wgangp.tabular.transformer`),
the generator's output heads and condition vector, a packed critic with
dropout (:mod:`~wgangp.tabular.heads`), training-by-sampling
(:mod:`~wgangp.tabular.conditions`), model selection on data quality, and
conditional sampling. Everything else (the loop, callbacks, divergence,
history, checkpoints, resume, the model file) is the training core's,
exactly as for :class:`wgangp.WGANGP`.
"""

from __future__ import annotations

import hashlib
import logging

import numpy as np

from ..backend import concat, gumbel, namespace, to_numpy
from ..errors import InvalidDataError, InvalidParameterError
from ..modelfile import header_int, register_format
from ..nn import MLP, Dropout, LeakyReLU, predict
from ..parallel import check_comm
from ..steps import quiet_overflow
from ..train import Estimator, say
from ..validation import (
    check_dtype,
    check_fits_in_memory,
    check_int,
    check_random_state,
)
from . import heads, sampling
from . import settings as rules
from .checks import gradcheck_losses
from .conditions import ConditionSampler, condition_targets
from .frames import as_frame, import_pandas, json_value
from .heads import HeadLayout, heads_forward
from .marginals import apply_maps, marginal_maps
from .sampling import generate, original_conditions
from .settings import PARAMS, auto_batch_and_pac
from .transformer import TabularTransformer, fit_across_ranks

__all__ = ["TabularSynthesizer", "load"]

logger = logging.getLogger(__name__)

FORMAT_NAME = "wgangp-tabular"
FORMAT_VERSIONS = (1, 2)


class TabularSynthesizer(Estimator):
    """A conditional WGAN-GP for tables (numeric, discrete and missing values).

    Defaults: CTGAN's recipe (Adam lr 2e-4 betas (0.5, 0.9), one critic step
    per generator step, pac up to 10, leaky-ReLU critic with dropout 0.5,
    Gumbel-softmax at tau 0.2, conditional training-by-sampling) on plain
    MLPs (generator 2 x 128 ReLU from 64 noise dimensions, critic 2 x 256),
    with the exact gradient penalty of :mod:`wgangp.losses`, quantile
    scalars for continuous columns, 1500 iterations or 400 passes over a
    larger table (at most 5000; :func:`~wgangp.tabular.settings.default_steps`),
    and each quantile column's generated values mapped onto the data's
    marginal (:mod:`~wgangp.tabular.marginals`). On ``benchmarks/tabular.py``
    these beat CTGAN's defaults on column shapes, pair trends, detection and
    TSTR on wine, breast_cancer and fair, in about half its fit time on the
    first two. Five critic steps per iteration gave no better scores on
    wine at three times the cost; 800 iterations were too few there. On
    the seven development tables measured with
    ``benchmarks/tune_defaults.py`` (BENCHMARKS.md), the marginal correction
    raised the median column shapes from 0.883 to 0.935 and pair trends
    from 0.802 to 0.887, detection AUC fell from 0.600 to 0.503, TSTR held.

    Parameters
    ----------
    discrete_columns, continuous, max_modes, clip
        Passed to :class:`TabularTransformer`.
    match_marginals : bool
        Map each quantile-transformed continuous column's generated values
        onto the training data's marginal (:mod:`wgangp.tabular.marginals`):
        a monotone map per column, re-estimated whenever the generator
        changes (estimated under plain sampling's conditions), applied to
        plain and conditional sampling alike. Model files written before
        this option load with it off.
    hidden, depth : int
        Generator: ``depth`` ReLU layers of ``hidden`` units, linear output, heads.
    critic_hidden, critic_depth : int
        Critic: leaky ReLU (``leaky_slope``) layers with dropout ``dropout``.
    latent_dim : int
    pac, batch_size : int or "auto"
        See :func:`auto_batch_and_pac`; tens of rows work.
    n_critic : int
    optimizer : str or Optimizer; lr : float
    lambda_gp : float; penalty : {"two-sided", "one-sided"}
    leaky_slope, dropout : float
    tau : float
        Gumbel-softmax temperature of the one-hot blocks while training.
    ce_weight : float
        Weight of the condition cross-entropy.
    conditional : bool
        Condition on the discrete columns (training-by-sampling).
    log_frequency : bool
        Draw training conditions by log-frequency (else by frequency).
    dtype : numpy.float32 or numpy.float64
    backend, device : str
        Where the networks train, as for :class:`wgangp.WGANGP`: NumPy by
        default, or CuPy / torch (CPU or CUDA) / ``array-api-strict``. The
        heads, the Gumbel-softmax, the condition loss, packing and dropout
        run in the networks' namespace; the column transformer, the
        conditions and the choice of real rows stay on NumPy on the host,
        and each step moves its rows to the device once. The noise, the
        Gumbel draws, the interpolation coefficients and the dropout masks
        come from the backend's random source seeded from ``random_state``
        (:meth:`wgangp.backend.Backend.random`): resuming on the same
        backend is bit for bit, on another it continues. Sampling runs on
        NumPy, and the model file holds NumPy arrays whatever trained it.
    random_state : None, int or numpy.random.Generator
    threads : "auto" or int
        BLAS threads while training (:mod:`wgangp.threads`): ``"auto"`` runs
        small networks on one thread and measures larger ones; ``0`` keeps the
        BLAS default; a number fixes it. Recorded in the history.

    Attributes
    ----------
    transformer_ : TabularTransformer
    generator_, critic_ : MLP
    n_iter_ : int
    history_ : wgangp.history.History
        Metrics records (bounded, saved with the model), as for :class:`wgangp.WGANGP`.
    batch_size_, pac_ : int
    best_score_, best_iteration_ : model selection (``fit(..., eval_every=N)``).

    Examples
    --------
    >>> import pandas as pd
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"x": rng.normal(size=40), "k": rng.choice(["a", "b"], 40)})
    >>> synth = TabularSynthesizer(hidden=32, critic_hidden=32, random_state=0).fit(df, steps=5)
    >>> rows = synth.sample(6, conditions={"k": "b"}, random_state=0)
    >>> list(rows.columns), set(rows["k"])
    (['x', 'k'], {'b'})
    """

    PARAMS = PARAMS
    FORMAT_NAME = FORMAT_NAME
    FORMAT_VERSIONS = FORMAT_VERSIONS
    HEADER_EXTRAS = ("transformer",)
    FIT_CALL = "fit(data)"
    LIVE_PARAMS = (
        "lr",
        "lambda_gp",
        "n_critic",
        "tau",
        "ce_weight",
        "threads",
        "backend",
        "device",
    )
    SCHEDULABLE_PARAMS = ("lr", "lambda_gp", "n_critic", "tau", "ce_weight")

    def __init__(
        self,
        discrete_columns=None,
        continuous: str = "auto",
        max_modes: int = 10,
        clip: bool = True,
        match_marginals: bool = True,
        hidden: int = 128,
        depth: int = 2,
        critic_hidden: int = 256,
        critic_depth: int = 2,
        latent_dim: int = 64,
        pac="auto",
        batch_size="auto",
        n_critic: int = 1,
        optimizer="adam-toy",
        lr: float = 2e-4,
        lambda_gp: float = 10.0,
        penalty: str = "two-sided",
        leaky_slope: float = 0.2,
        dropout: float = 0.5,
        tau: float = 0.2,
        ce_weight: float = 1.0,
        conditional: bool = True,
        log_frequency: bool = True,
        dtype=np.float32,
        backend: str = "auto",
        device: str = "cpu",
        random_state=None,
        threads="auto",
    ):
        self.discrete_columns = discrete_columns
        self.continuous = continuous
        self.max_modes = max_modes
        self.clip = clip
        self.match_marginals = match_marginals
        self.hidden = hidden
        self.depth = depth
        self.critic_hidden = critic_hidden
        self.critic_depth = critic_depth
        self.latent_dim = latent_dim
        self.pac = pac
        self.batch_size = batch_size
        self.n_critic = n_critic
        self.optimizer = optimizer
        self.lr = lr
        self.lambda_gp = lambda_gp
        self.penalty = penalty
        self.leaky_slope = leaky_slope
        self.dropout = dropout
        self.tau = tau
        self.ce_weight = ce_weight
        self.conditional = conditional
        self.log_frequency = log_frequency
        self.dtype = dtype
        self.random_state = random_state
        self.threads = threads
        self.backend = backend
        self.device = device

    def _network_sizes(self) -> tuple[list[int], list[int]]:
        """Layer widths of the generator and of the critic."""
        cond_dim = self.cond_dim_
        out_dim = self.transformer_.output_dim_
        return (
            [self.latent_dim + cond_dim] + [self.hidden] * self.depth + [out_dim],
            [self.pac_ * (out_dim + cond_dim)] + [self.critic_hidden] * self.critic_depth + [1],
        )

    def _build_networks(self) -> None:
        dtype = self.dtype_
        cond_dim = self.cond_dim_
        out_dim = self.transformer_.output_dim_
        sizes = self._network_sizes()
        n_params = sum((a + 1) * b for net in sizes for a, b in zip(net[:-1], net[1:]))
        check_fits_in_memory(  # parameters, gradients and two Adam moments of each
            f"hidden={self.hidden}, depth={self.depth}, critic_hidden={self.critic_hidden}, "
            f"critic_depth={self.critic_depth}, latent_dim={self.latent_dim}",
            5 * n_params * dtype.itemsize,
            "choose smaller networks",
        )
        self.generator_ = MLP(
            [self.latent_dim + cond_dim] + [self.hidden] * self.depth + [out_dim],
            activation="relu",
            output_activation="identity",
            random_state=self._rng,
            dtype=dtype,
        )
        critic_in = self.pac_ * (out_dim + cond_dim)
        self.critic_ = MLP(
            [critic_in] + [self.critic_hidden] * self.critic_depth + [1],
            activation=LeakyReLU(self.leaky_slope),
            output_activation="identity",
            random_state=self._rng,
            dtype=dtype,
        )
        if self.dropout > 0:
            for k in range(self.critic_depth):
                self.critic_.activations[k] = Dropout(LeakyReLU(self.leaky_slope), self.dropout)
        self.layout_ = HeadLayout(self.transformer_.output_info_)

    def _condition_blocks(self) -> list[tuple[int, int, int]]:
        """(output start, condition start, width) of each discrete column."""
        if not self.conditional:
            return []
        blocks, cond_start = [], 0
        for b in self.transformer_.output_info_:
            if b["role"] == "category":
                blocks.append((b["start"], cond_start, b["width"]))
                cond_start += b["width"]
        return blocks

    def _make_sampler(self, matrix: np.ndarray) -> ConditionSampler | None:
        blocks = self.cond_blocks_
        if not blocks:
            return None
        codes = np.stack([np.argmax(matrix[:, s : s + w], axis=1) for s, _, w in blocks], axis=1)
        return ConditionSampler(
            codes, [w for _, _, w in blocks], self.log_frequency, shard=self._shard
        )

    def _check_packs_per_rank(self) -> None:
        """Every rank needs a pack of each minibatch: packs never straddle ranks."""
        shard = self._shard
        if shard is not None and self.batch_size_ // self.pac_ < shard.size:
            raise InvalidParameterError(
                f"batch_size={self.batch_size_} with pac={self.pac_} makes "
                f"{self.batch_size_ // self.pac_} packs, fewer than the {shard.size} MPI ranks; "
                "each rank takes whole packs, so raise batch_size or lower pac, or run on "
                "fewer ranks"
            )

    # ------------------------------------------------------------- setup --

    def _check_data(self, data, settings: dict, fitted: bool):
        frame = as_frame(data)
        shard = getattr(self, "_shard", None)
        if (len(frame) if shard is None else shard.n_rows) < 2:  # all ranks' rows
            raise InvalidDataError(
                "data has 1 row; at least 2 rows are needed to learn a distribution"
            )
        if fitted:
            names = [s["name"] for s in self.transformer_.columns_]
            missing = [c for c in names if c not in frame.columns]
            if missing:
                raise InvalidDataError(
                    f"data lacks the columns {missing} that this model was fitted on"
                )
        return frame

    def _initialize(self, frame, settings: dict) -> str:
        self.dtype_ = settings["dtype"]
        self._rng = np.random.default_rng(self.random_state)
        shard = self._shard
        transformer = TabularTransformer(
            self.discrete_columns,
            self.continuous,
            self.max_modes,
            self.clip,
            random_state=self._rng,
        )
        if shard is None:
            self.transformer_ = transformer.fit(frame)
        else:  # fitted once, on rank 0, from a sample of every rank's rows
            self.transformer_ = fit_across_ranks(transformer, frame, shard, self._rng)
        n_rows = len(frame) if shard is None else shard.n_rows
        matrix = self.transformer_.transform(frame)
        self.batch_size_, self.pac_ = auto_batch_and_pac(n_rows, self.batch_size, self.pac)
        self._check_packs_per_rank()
        self.cond_blocks_ = self._condition_blocks()
        self.cond_dim_ = sum(w for _, _, w in self.cond_blocks_)
        self._condition_frequencies = np.concatenate(
            [matrix[:, s : s + w].sum(axis=0) for s, _, w in self.cond_blocks_] or [np.zeros(0)]
        )
        if shard is not None:  # counts over all ranks' rows
            self._condition_frequencies = shard.sum(self._condition_frequencies)
        self._build_networks()
        self._new_optimizers(settings)
        self.best_score_ = None
        self.best_iteration_ = None
        self.best_generator_params_ = None
        self.selection_history_ = []
        self._marginal_cache = None
        self._fit_matrix = matrix  # transformed once; _training_data takes it
        return (
            f"column transformer fitted on {n_rows} rows x {frame.shape[1]} columns "
            f"({self.transformer_.output_dim_} network columns)"
        )

    def _training_data(self, frame, settings: dict):
        matrix = self.__dict__.pop("_fit_matrix", None)
        if matrix is None:
            matrix = self.transformer_.transform(frame)
        selection = settings.get("eval_every")
        validation = settings.get("validation")
        if selection is not None and validation is None:
            validation = frame  # in a data-parallel run: this rank's rows
        self._check_packs_per_rank()
        return matrix.astype(self.dtype_), self._make_sampler(matrix), selection, validation

    # ---------------------------------------------------------- training --

    def fit(
        self,
        data,
        steps: int | None = None,
        eval_every: int | None = None,
        validation=None,
        callbacks=None,
        *,
        verbose: int = 0,
        log_every: int = 1,
        run_dir=None,
        checkpoint_every: int | None = None,
        keep_checkpoints: int = 3,
        resume=None,
        sep: str | None = None,
        allow_new_data: bool = False,
        comm=None,
    ) -> TabularSynthesizer:
        """Train from scratch (or from a checkpoint).

        Parameters
        ----------
        data : pandas.DataFrame or CSV path
        steps : int, optional
            Generator iterations; default from the table's size:
            :func:`~wgangp.tabular.settings.default_steps` (400 passes over the
            rows, at least 1500 and at most 5000 iterations; under ``comm``
            over all ranks' rows).
        eval_every : int, optional
            Model selection by data quality: every ``eval_every`` iterations,
            sample as many rows as ``validation`` holds and score them with
            :func:`wgangp.metrics.column_shapes` and
            :func:`wgangp.metrics.column_pair_trends` (their mean, SDMetrics'
            quality score); :meth:`sample` then uses the best parameters seen.
        validation : DataFrame, optional
            Real rows to score against (a holdout); default ``data``.
        callbacks : list of wgangp.Callback, optional
        verbose, log_every, run_dir, checkpoint_every, keep_checkpoints, resume
            As for :meth:`wgangp.WGANGP.fit`: the same training core runs both.
        sep : str, optional
            The CSV's separator when ``data`` is a path (default: detected
            among ``, ; tab |``; see :func:`wgangp.tabular.frames.read_table`).
        allow_new_data : bool
            As for :meth:`wgangp.WGANGP.fit`: resuming on other data than the
            model's (by its saved fingerprint) is refused unless True.
        comm : mpi4py communicator, optional
            Data-parallel training under ``mpiexec`` (:mod:`wgangp.parallel`):
            ``data`` is this rank's rows (the table is the ranks' rows in rank
            order). The column transformer is fitted once, on rank 0, from a
            sample of every rank's rows (all of them up to
            :data:`~wgangp.tabular.transformer.RANK_SAMPLE_ROWS`), and sent
            to all; the conditions' category counts are summed over the
            ranks; every rank draws each global minibatch whole (conditions,
            rows, noise, masks), the ranks' rows of it are exchanged (one
            ``Allgatherv``), each rank computes the loss of its own packs
            (a pack never straddles ranks) and one ``Allreduce`` per
            optimizer step sums the gradients. The model is then the one a
            single process fits on the whole table, to the rounding of the
            sums, as long as the table fits in the transformer's sample.
            With ``eval_every``, model selection scores against this rank's
            rows unless ``validation`` is given.

        Raises
        ------
        TrainingDiverged
            When a loss or a parameter goes NaN/inf (with ``run_dir``, the
            divergence guard restores the last good state first).
        """
        frame = as_frame(data, sep=sep)
        if steps is None:
            steps = self._default_steps(frame, comm, verbose)
        return self._fit(
            frame,
            steps,
            callbacks,
            verbose=verbose,
            log_every=log_every,
            run_dir=run_dir,
            checkpoint_every=checkpoint_every,
            keep_checkpoints=keep_checkpoints,
            resume=resume,
            options=self._selection_options(eval_every, validation),
            allow_new_data=allow_new_data,
            comm=comm,
        )

    def _default_steps(self, frame, comm, verbose=0) -> int:
        """:func:`~wgangp.tabular.settings.default_steps` for ``frame`` (all ranks'
        rows under ``comm``) at the batch this model would use; with ``verbose``,
        rank 0 says the count and where it comes from."""
        settings = self._validate_params()  # a bad batch_size or pac is named first
        comm = check_comm(comm)
        n_rows = len(frame) if comm is None else int(comm.allreduce(len(frame)))
        if n_rows < 1:
            return rules.DEFAULT_STEPS  # the data check then names the empty table
        batch, _ = auto_batch_and_pac(n_rows, settings["batch_size"], settings["pac"])
        steps = rules.default_steps(n_rows, batch)
        if verbose in (1, True) and (comm is None or comm.Get_rank() == 0):
            say(
                f"{steps} iterations, the default for {n_rows} rows in batches of {batch} "
                f"(wgangp.tabular.default_steps: {rules.DEFAULT_EPOCHS} passes over the rows, "
                f"{rules.DEFAULT_STEPS} to {rules.MAX_DEFAULT_STEPS}); pass steps= to choose"
            )
        return steps

    def partial_fit(
        self,
        data,
        steps: int = 1,
        eval_every=None,
        validation=None,
        callbacks=None,
        *,
        verbose: int = 0,
        log_every: int | None = None,
        run_dir=None,
        checkpoint_every: int | None = None,
        keep_checkpoints: int = 3,
        sep: str | None = None,
        allow_new_data: bool = False,
        comm=None,
    ) -> TabularSynthesizer:
        """Continue training (fit first if unfitted); a loaded model resumes bit for bit.

        ``comm``: as for :meth:`fit`, this rank's rows of the table."""
        return self._fit(
            as_frame(data, sep=sep),
            steps,
            callbacks,
            verbose=verbose,
            log_every=log_every,
            run_dir=run_dir,
            checkpoint_every=checkpoint_every,
            keep_checkpoints=keep_checkpoints,
            partial=True,
            options=self._selection_options(eval_every, validation),
            allow_new_data=allow_new_data,
            comm=comm,
        )

    def _data_fingerprint(self, frame) -> dict:
        """Rows, column names and a hash of the rows (pandas' row hashes, blake2b)."""
        pd = import_pandas()
        rows = pd.util.hash_pandas_object(frame, index=False).to_numpy()
        digest = hashlib.blake2b(rows.tobytes(), digest_size=16)
        digest.update(repr([json_value(c) for c in frame.columns]).encode("utf-8"))
        return {
            "rows": int(len(frame)),
            "columns": [json_value(c) for c in frame.columns],
            "hash": digest.hexdigest(),
        }

    @staticmethod
    def _selection_options(eval_every, validation) -> dict:
        if eval_every is None:
            return {}
        eval_every = check_int(eval_every, "eval_every")
        validation = None if validation is None else as_frame(validation, "validation")
        return {"eval_every": eval_every, "validation": validation}

    @quiet_overflow
    def _iteration(self, prepared, settings: dict) -> dict:
        data, sampler, eval_every, validation = prepared
        n_critic = settings["n_critic"]
        for step in range(n_critic):  # the iteration's record is the last step's
            stats = self._critic_step(data, sampler, statistics=step == n_critic - 1)
        record = {"critic_loss": stats.pop("loss")}
        record.update(self._generator_step(sampler))
        record.update(stats)
        # off NumPy the statistics are 0-d arrays on the device: read once, here
        record = {key: float(value) for key, value in record.items()}
        iteration = self.n_iter_ + 1
        if eval_every is not None and iteration % eval_every == 0:
            record["quality"] = self._select(validation, iteration)
        return record

    def _fake_rows(self, batch, sampler):
        """Conditions (drawn on the host, moved to the networks' device), noise and
        Gumbel draws (the backend's random source) for ``batch`` fake rows."""
        dtype = self.dtype_
        if sampler is None:
            cond = np.zeros((batch, 0), dtype=dtype)
        else:
            cond = sampler.vector(*sampler.sample_condition(batch, self._rng), dtype)
        z = self._random.standard_normal((batch, self.latent_dim), dtype=dtype)
        noise = gumbel(self._random, (batch, self.transformer_.output_dim_), dtype)
        return z, self._on_networks(cond), noise

    def _set_masks(self, rows: int, packs: tuple[int, int], n_packs: int) -> None:
        """Dropout masks for ``rows`` stacked rows (drawn whole, as every rank does),
        cut to this rank's ``packs`` (start, stop) in each stack of ``n_packs``."""
        start, stop = packs
        for k in range(self.critic_depth):
            act = self.critic_.activations[k]
            if isinstance(act, Dropout):
                act.new_mask(self._random, rows, self.critic_hidden, self.dtype_)
                if (start, stop) != (0, n_packs):
                    stacks = range(0, rows, n_packs)
                    act.mask = concat(
                        namespace(act.mask), [act.mask[s + start : s + stop, ...] for s in stacks]
                    )

    def _packs(self) -> tuple[int, int]:
        """(start, stop) of this rank's packs of a minibatch (all of them in one process)."""
        n_packs = self.batch_size_ // self.pac_
        return (0, n_packs) if self._shard is None else self._shard.part(n_packs)

    def _critic_step(self, data, sampler, statistics: bool = True) -> dict:
        """One critic update; its statistics (none computed with ``statistics=False``,
        except in a data-parallel run, where they ride in the gradient's message).

        In a data-parallel run every rank draws the whole
        minibatch's randomness, as one process does, gets the batch's real rows
        (:meth:`wgangp.parallel.Shard.gather_rows`) and computes the loss of its
        own packs (:meth:`_packs`); one ``Allreduce`` sums the gradients.

        The real rows (and their conditions) are chosen on the host and moved
        to the networks' device in one array."""
        rng, batch, pac, shard = self._rng, self.batch_size_, self.pac_, self._shard
        n_packs = batch // pac
        start, stop = self._packs()
        rows = slice(start * pac, stop * pac)
        z, cond_f, noise = self._fake_rows(batch, sampler)
        z, cond_f, noise = z[rows, ...], cond_f[rows, ...], noise[rows, ...]
        xp = namespace(z)
        g_in = concat(xp, [z, cond_f], axis=1) if self.cond_dim_ else z
        gen = self.generator_  # its arrays valid through this step's critic loss
        logits = predict(gen.params, gen.activations, g_in, empty=self._step_empty("fakes"))
        fake, _ = heads_forward(self.layout_, logits, self.tau, noise)
        if sampler is None:
            if shard is None:
                real = data[rng.integers(len(data), size=batch)]
            else:
                owners, local = shard.locate(rng.integers(shard.n_rows, size=batch))
                real = shard.gather_rows(data, owners, local)
            x_real, x_fake = real[rows], fake
        else:
            cols, cats = sampler.sample_condition(batch, rng)
            real = sampler.real_rows(data, cols, cats, rng)
            cond_r = sampler.vector(cols[rows], cats[rows], self.dtype_)
            x_real = np.concatenate([real[rows], cond_r], axis=1)
            x_fake = concat(xp, [fake, cond_f], axis=1)
        x_real = self._on_networks(x_real)
        alpha = self._random.random((n_packs,), dtype=self.dtype_)[start:stop, ...]
        self._set_masks(3 * n_packs, (start, stop), n_packs)
        _, grads, stats = heads.packed_critic_loss(
            self.critic_,
            x_real,
            x_fake,
            alpha,
            pac,
            self.lambda_gp,
            self.penalty,
            packs_total=None if shard is None else n_packs,
            statistics=statistics or shard is not None,
            empty=self._step_empty("critic"),
        )
        if shard is not None:  # summed in place, in the network's gradient buffer
            stats = shard.reduce(grads, stats)
        self.critic_optimizer_.step(self.critic_.params, grads)
        return stats

    def _generator_step(self, sampler) -> dict:
        batch, pac, shard = self.batch_size_, self.pac_, self._shard
        n_packs = batch // pac
        start, stop = self._packs()
        rows = slice(start * pac, stop * pac)
        z, cond, noise = self._fake_rows(batch, sampler)
        self._set_masks(n_packs, (start, stop), n_packs)
        _, grads, stats = heads.generator_loss(
            self.generator_,
            self.critic_,
            self.layout_,
            z[rows, ...],
            cond[rows, ...],
            noise[rows, ...],
            self.tau,
            pac,
            self.ce_weight,
            self.cond_blocks_,
            batch_total=None if shard is None else batch,
            empty=self._step_empty("generator"),
        )
        if shard is not None:  # summed in place, in the network's gradient buffer
            stats = shard.reduce(grads, stats)
        self.generator_optimizer_.step(self.generator_.params, grads)
        return stats

    def _select(self, validation, iteration: int) -> float:
        from .scores import column_pair_trends, column_shapes

        discrete = [s["name"] for s in self.transformer_.columns_ if s["kind"] == "discrete"]
        rows = self.sample(len(validation), random_state=iteration, use_best=False)
        shapes = np.nanmean(list(column_shapes(validation, rows, discrete).values()))
        pair_values = list(column_pair_trends(validation, rows, discrete).values())
        pairs = np.nanmean(pair_values) if np.any(~np.isnan(pair_values)) else shapes
        score = float(np.mean([shapes, pairs]))
        self.selection_history_.append({"iteration": iteration, "quality": score})
        if self.best_score_ is None or score > self.best_score_:
            self.best_score_ = score
            self.best_iteration_ = iteration
            self.best_generator_params_ = [
                np.array(to_numpy(p), copy=True) for p in self.generator_.params
            ]
        return score

    def outputs_finite(self) -> bool:
        probe = np.random.default_rng(0).standard_normal(
            (8 * self.pac_, self.generator_.sizes[0]), dtype=self.dtype_
        )
        masks = [getattr(a, "mask", None) for a in self.critic_.activations]
        probe = self._on_networks(probe)
        xp = namespace(probe)
        with np.errstate(over="ignore", invalid="ignore"):
            out = self.generator_(probe)
            fake, _ = heads_forward(self.layout_, out, self.tau, None)
            x = concat(xp, [fake, probe[:, self.latent_dim :]], axis=1)
            for act in self.critic_.activations:
                if isinstance(act, Dropout):
                    act.mask = None
            try:
                scores = self.critic_(heads.pack(x, self.pac_))
            finally:
                for act, mask in zip(self.critic_.activations, masks):
                    if isinstance(act, Dropout):
                        act.mask = mask
        return bool(np.isfinite(to_numpy(out)).all() and np.isfinite(to_numpy(scores)).all())

    def _batch_rows(self) -> int:
        return self.batch_size_

    def gradcheck_losses(self, rng: np.random.Generator, n_samples: int, margin: float):
        """The losses :func:`wgangp.gradcheck` compares with finite differences
        (:func:`wgangp.tabular.checks.gradcheck_losses`); the model is not modified."""
        return gradcheck_losses(self, rng, n_samples, margin)

    def grad_norm_points(self, rng: np.random.Generator, n: int, X=None):
        """No probe points: the packed, conditioned critic input has no simple
        real-data counterpart; TensorBoard shows the weights only."""
        return []

    # --------------------------------------------------------- inference --

    def _generate(self, cond: np.ndarray, rng, params) -> np.ndarray:
        """Transformed rows (:func:`wgangp.tabular.sampling.generate`)."""
        return generate(self, cond, rng, params)

    def _condition_targets(self, conditions: dict) -> list[tuple[int, int, int, int]]:
        """(output start, cond start, width, category code) per condition, validated."""
        return condition_targets(self.transformer_, conditions)

    def sample(
        self,
        n: int,
        conditions: dict | None = None,
        random_state=None,
        max_tries: int = 20,
        use_best: bool = True,
    ):
        """Draw ``n`` synthetic rows as a DataFrame (original columns and dtypes).

        Parameters
        ----------
        n : int
        conditions : dict, optional
            ``{discrete column: value, ...}``; every returned row has those
            values. The generator is conditioned on the rarest of them, rows
            that miss any are rejected and redrawn (up to ``max_tries``
            rounds of at most about 64 MiB each, sized by the acceptance
            rate so far); whatever is still missing, or everything once
            fewer than 1% of the rows meet the conditions, then gets the
            values set directly (logged as a warning).
        max_tries : int
        random_state : None, int or numpy.random.Generator
            Seeds the noise; never touches the training stream.
        use_best : bool
            Use the best parameters of model selection when there are some.
        """
        self.check_fitted()
        n = check_int(n, "n")
        rng = np.random.default_rng(check_random_state(random_state, "random_state"))
        width = max(self.generator_.sizes)
        check_fits_in_memory(
            f"sample(n={n})",
            n
            * (self.latent_dim + self.cond_dim_ + 2 * width + 3 * self.transformer_.output_dim_)
            * 8,
            "draw the rows in smaller chunks",
        )
        params = [to_numpy(p) for p in self.generator_.params]  # sampling runs on NumPy
        if use_best and self.best_generator_params_ is not None:
            params = self.best_generator_params_
        if conditions is None:
            cond = np.zeros((n, self.cond_dim_), dtype=self.dtype_)
            if self.cond_dim_:
                cond = self._original_conditions(n, rng)
            rows = self._generate(cond, rng, params)
        else:
            targets = self._condition_targets(conditions)
            max_tries = check_int(max_tries, "max_tries", minimum=0)
            rows = sampling.conditional(self, n, targets, rng, params, max_tries)
        if self.match_marginals:
            rows = apply_maps(rows, self._marginal_maps(params))
        return self.transformer_.inverse_transform(rows)

    def _marginal_maps(self, params) -> dict:
        """The marginal correction of these parameters (:mod:`wgangp.tabular.marginals`),
        kept while they stay the same (a hash of their bytes)."""
        digest = hashlib.blake2b(digest_size=16)
        for p in params:
            digest.update(np.ascontiguousarray(p).tobytes())
        key = digest.hexdigest()
        cached = getattr(self, "_marginal_cache", None)
        if cached is None or cached[0] != key:
            cached = (key, marginal_maps(self, params))
            self._marginal_cache = cached
        return cached[1]

    def _original_conditions(self, n, rng) -> np.ndarray:
        """Conditions of plain sampling (:func:`wgangp.tabular.sampling.original_conditions`)."""
        return original_conditions(self, n, rng)

    # ----------------------------------------------------------- files --

    def _fitted_header(self) -> dict:
        return {
            "dtype": self.dtype_.name,
            "batch_size": self.batch_size_,
            "pac": self.pac_,
            "best_score": self.best_score_,
            "best_iteration": self.best_iteration_,
            "selection_history": self.selection_history_,
        }

    def _header_extras(self) -> tuple[dict, dict]:
        arrays = {"condition_frequencies": np.asarray(self._condition_frequencies, np.float64)}
        if self.best_generator_params_ is not None:
            for i, p in enumerate(self.best_generator_params_):
                arrays[f"best/{i}"] = p
        return {"transformer": self.transformer_.state_dict()}, arrays

    def _restore(self, header: dict, arrays: dict, path, settings: dict) -> None:
        fitted = header["fitted"]
        self.dtype_ = check_dtype(fitted["dtype"])
        self._rng = np.random.default_rng(0)
        self.transformer_ = TabularTransformer.from_state_dict(header["transformer"])
        self.batch_size_ = header_int(fitted["batch_size"], "fitted.batch_size", 1)
        self.pac_ = header_int(fitted["pac"], "fitted.pac", 1)
        if self.batch_size_ % self.pac_:
            raise InvalidParameterError(
                f"fitted.batch_size={self.batch_size_} is not a multiple of pac={self.pac_}"
            )
        self.cond_blocks_ = self._condition_blocks()
        self.cond_dim_ = sum(w for _, _, w in self.cond_blocks_)
        for net_name, sizes in zip(self.NETWORKS, self._network_sizes()):
            self._check_stored(arrays, net_name, sizes, self.dtype_, path)
        self._build_networks()
        self.best_generator_params_ = None
        if "best/0" in arrays:
            best = []
            for i, p in enumerate(self.generator_.params):
                a = arrays.get(f"best/{i}")
                if a is None or a.shape != p.shape or a.dtype != p.dtype:
                    raise InvalidParameterError(
                        f"best generator parameter {i} is missing or has the wrong shape"
                    )
                best.append(a)
            self.best_generator_params_ = best
        freqs = arrays.get("condition_frequencies")
        if freqs is None or freqs.shape != (self.cond_dim_,) or not np.isfinite(freqs).all():
            raise InvalidParameterError(
                f"condition_frequencies must be {self.cond_dim_} finite numbers"
            )
        self._condition_frequencies = freqs
        score = fitted["best_score"]
        if score is not None and not isinstance(score, (int, float)):
            raise InvalidParameterError(f"fitted.best_score={score!r} is not a number")
        self.best_score_ = score
        best_it = fitted["best_iteration"]
        self.best_iteration_ = (
            None if best_it is None else header_int(best_it, "fitted.best_iteration")
        )
        if not isinstance(fitted["selection_history"], list):
            raise InvalidParameterError("fitted.selection_history must be a list")
        self.selection_history_ = list(fitted["selection_history"])

    @classmethod
    def _from_json_params(cls, params, path):
        if isinstance(params, dict) and "match_marginals" not in params:
            params = {**params, "match_marginals": False}  # a file from before the correction
        return super()._from_json_params(params, path)

    @classmethod
    def load(cls, path) -> TabularSynthesizer:
        """Load a model written by :meth:`save` (never executes code from the file)."""
        return load(path)


def load(path) -> TabularSynthesizer:
    """Load a :class:`TabularSynthesizer` written by :meth:`TabularSynthesizer.save`.

    The file is read by :func:`wgangp.modelfile.read_model_file`: nothing is
    unpickled, and sizes are checked before anything is allocated.

    Raises
    ------
    ModelFileError
        Missing, truncated, corrupt, forged, or unknown-format files, and
        files of another estimator.
    """
    from ..modelfile import load as load_any

    model = load_any(path)
    if not isinstance(model, TabularSynthesizer):
        from ..errors import ModelFileError

        raise ModelFileError(f"{path} holds a {type(model).__name__}, not a TabularSynthesizer")
    return model


register_format(FORMAT_NAME, FORMAT_VERSIONS, TabularSynthesizer._from_file)
