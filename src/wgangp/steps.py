"""One WGAN-GP step at a time: minibatches, the critic step, the generator step.

Pure pieces of the training core, knowing nothing of estimators:
:class:`MinibatchSampler` (shuffled minibatches, epoch by epoch, with its
state for bit-exact resume), :func:`critic_step` (fresh fakes and
interpolation coefficients, :func:`wgangp.losses.critic_loss`, one optimizer
step) and :func:`generator_step` (fresh noise, the gradient through the
critic, one optimizer step).
"""

from __future__ import annotations

import numpy as np

from . import losses
from .backend import empty, namespace, take_rows
from .errors import InvalidDataError, ModelFileError
from .flat import Scratch, flat_of
from .modelfile import header_int
from .nn import MLP, predict
from .optim import Optimizer

__all__ = [
    "CriticStepGraph",
    "MinibatchSampler",
    "WindowSampler",
    "critic_step",
    "empty_of",
    "generator_step",
    "grad_norm",
    "is_row_stream",
    "quiet_overflow",
    "sampler_from_state",
    "source_name",
]


def grad_norm(grads) -> float:
    """Euclidean norm of all parameter gradients together (one call on a flat buffer);
    a 0-d array left on the device off NumPy (:func:`wgangp.backend.scalar`)."""
    flat = flat_of(grads)
    if flat is not None:
        xp = namespace(flat)
        if xp is np:
            return float(np.sqrt(np.vdot(flat, flat)))
        return xp.sqrt(xp.sum(flat * flat))
    xp = namespace(*grads)
    if xp is np:
        return float(np.sqrt(sum(float(np.vdot(g, g)) for g in grads)))
    return xp.sqrt(sum(xp.sum(g * g) for g in grads))


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

    def snapshot(self):
        """What :meth:`restore` puts back (a rolled-back iteration draws the same rows)."""
        return (self.perm, self.pos, self.epoch)

    def restore(self, snapshot) -> None:
        self.perm, self.pos, self.epoch = snapshot

    def arrays(self) -> dict:
        """The arrays a checkpoint stores beside :meth:`state`."""
        return {} if self.perm is None else {"sampler/perm": self.perm}

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


def is_row_stream(X) -> bool:
    """Whether ``X`` is a data source read in parts by :class:`WindowSampler`, not an
    array: a :class:`wgangp.data.RowStream`, or any object with its ``shape``,
    ``group_rows``, ``window_rows``, ``read(groups)``, ranges ``X[a:b]``,
    ``all_finite()``, ``min()``, ``max()`` and ``column_abs_max()``."""
    return all(hasattr(X, name) for name in ("group_rows", "window_rows", "read"))


def source_name(X) -> str:
    """How messages name a data source read in parts: its file, else its type."""
    return str(getattr(X, "path", type(X).__name__))


class WindowSampler:
    """Shuffled minibatches of a file read a window of row groups at a time
    (:class:`wgangp.data.RowStream`).

    Each epoch takes this rank's groups in a fresh random order and cuts that
    order into windows, each the fewest groups that hold ``window_rows`` rows
    (a last window too small for one minibatch joins the one before). A
    window's rows are loaded together and drawn in a random order,
    ``rows_per_step`` at a time (this rank's part of each ``batch_size``
    minibatch); the last ``rows % rows_per_step`` rows of a window are
    skipped, different ones each epoch.

    The orders come from ``seed``, this rank and the epoch and window
    numbers, so the state is two numbers: the seed and the critic steps
    taken. Any rank finds its place after ``steps`` steps by counting, which
    is how training resumes bit for bit with only rank 0 writing checkpoints.
    """

    kind = "windows"

    def __init__(self, n_rows: int, batch_size: int, window_rows: int, seed: int, steps: int = 0):
        self.n_rows = int(n_rows)  # all ranks' rows
        self.batch_size = int(batch_size)  # the global minibatch
        self.window_rows = int(window_rows)
        self.seed = int(seed)
        self.steps = int(steps)
        self._bound = None  # (stream, rank, rows_per_step)
        self._cursor = None  # (epoch, window number, windows of the epoch, next batch)
        self._window = None  # (epoch, window number, rows, order)

    def bind(self, stream, rank: int, rows_per_step: int) -> None:
        """Draw from ``stream`` (this rank's rows), ``rows_per_step`` rows a step."""
        if rows_per_step > len(stream):
            raise InvalidDataError(
                f"this rank holds {len(stream)} rows of {source_name(stream)}, fewer than its "
                f"{rows_per_step} rows of each minibatch; lower batch_size or start fewer ranks"
            )
        bound = (stream, int(rank), int(rows_per_step))
        if self._bound is None or self._bound[0] is not stream or self._bound[1:] != bound[1:]:
            self._bound = bound
            self.window_rows = int(stream.window_rows)
            self._cursor = self._window = None

    def _rng(self, *keys: int) -> np.random.Generator:
        return np.random.default_rng(np.random.SeedSequence([self.seed, self._bound[1], *keys]))

    def windows(self, epoch: int) -> list[list[int]]:
        """The groups of each window of ``epoch`` (the bound stream's group numbers)."""
        stream, _, rows_per_step = self._bound
        order = self._rng(epoch).permutation(len(stream.group_rows))
        windows, current, rows = [], [], 0
        target = max(self.window_rows, rows_per_step)
        for g in order:
            current.append(int(g))
            rows += stream.group_rows[g]
            if rows >= target:
                windows.append(current)
                current, rows = [], 0
        if current:
            if rows < max(rows_per_step, 1) and windows:
                windows[-1].extend(current)
            else:
                windows.append(current)
        return windows

    def _batches(self, window: list[int]) -> int:
        stream, _, rows_per_step = self._bound
        rows = sum(stream.group_rows[g] for g in window)
        return rows // rows_per_step if rows_per_step else 1

    def _seek(self) -> None:
        """Put the cursor at step :attr:`steps` (epoch by epoch, window by window)."""
        left, epoch = self.steps, 0
        while True:
            windows = self.windows(epoch)
            per_epoch = sum(self._batches(w) for w in windows)
            if left < per_epoch:
                break
            left -= per_epoch
            epoch += 1
        for k, window in enumerate(windows):
            if left < self._batches(window):
                self._cursor = (epoch, k, windows, left)
                return
            left -= self._batches(window)

    def next_rows(self) -> np.ndarray:
        """This rank's rows of the next minibatch (float64, unscaled)."""
        stream, _, rows_per_step = self._bound
        if rows_per_step == 0:  # no part of the minibatch on this rank
            self.steps += 1
            return np.empty((0, stream.shape[1]))
        if self._cursor is None:
            self._seek()
        epoch, k, windows, i = self._cursor
        if self._window is None or self._window[:2] != (epoch, k):
            self._window = None  # the old window goes before the new one is read
            rows = stream.read(windows[k])
            self._window = (epoch, k, rows, self._rng(epoch, k, 1).permutation(len(rows)))
        _, _, rows, order = self._window
        out = rows[order[i * rows_per_step : (i + 1) * rows_per_step]]
        self.steps += 1
        if i + 1 < self._batches(windows[k]):
            self._cursor = (epoch, k, windows, i + 1)
        elif k + 1 < len(windows):
            self._cursor = (epoch, k + 1, windows, 0)
        else:
            self._cursor = (epoch + 1, 0, self.windows(epoch + 1), 0)
        return out

    def snapshot(self):
        return self.steps

    def restore(self, snapshot) -> None:
        if snapshot != self.steps:
            self.steps = snapshot
            self._cursor = None

    def arrays(self) -> dict:
        return {}

    def state(self) -> dict:
        return {
            "kind": self.kind,
            "n_rows": self.n_rows,
            "batch_size": self.batch_size,
            "window_rows": self.window_rows,
            "seed": self.seed,
            "steps": self.steps,
        }

    @classmethod
    def from_state(cls, state: dict, path) -> WindowSampler:
        n_rows = header_int(state["n_rows"], "sampler.n_rows", 1)
        batch_size = header_int(state["batch_size"], "sampler.batch_size", 1)
        if batch_size > n_rows:
            raise ModelFileError(
                f"{path}: minibatch state batch_size={batch_size} does not fit n_rows={n_rows}"
            )
        return cls(
            n_rows,
            batch_size,
            header_int(state["window_rows"], "sampler.window_rows", 1),
            header_int(state["seed"], "sampler.seed"),
            header_int(state["steps"], "sampler.steps"),
        )


def sampler_from_state(state: dict, arrays: dict, path):
    """The sampler a checkpoint's header ``state`` and ``arrays`` describe."""
    kind = state.get("kind", "permutation")
    if kind == WindowSampler.kind:
        return WindowSampler.from_state(state, path)
    if kind != "permutation":
        raise ModelFileError(f"{path}: unknown minibatch sampler kind {kind!r}")
    return MinibatchSampler.from_state(state, arrays.get("sampler/perm"), path)


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
    shard=None,
    positions: np.ndarray | None = None,
    batch: int | None = None,
    scratch: Scratch | None = None,
    statistics: bool = True,
) -> dict:
    """One critic update on a real batch; fresh fakes and interpolation coefficients.

    Returns the :func:`wgangp.losses.critic_loss` statistics plus
    ``critic_grad_norm``. With ``statistics=False`` none of them is computed
    and the result is an empty dict: for the critic steps of an iteration
    before its last, whose statistics nobody reads (the update is the same).

    In a data-parallel run (``shard``, a :class:`wgangp.parallel.Shard`),
    ``x_real`` are this rank's rows of the global minibatch of ``batch``
    rows, at ``positions`` in it: the noise and the coefficients are drawn
    for the whole batch (as every rank does), this rank's losses are
    weighted by its share, and one ``Allreduce`` sums the gradient and the
    statistics (always computed there: they ride in the same message).

    The step's work arrays come from
    ``scratch`` when given (the caller's, reset here), so that a run of
    steps reuses their memory (NumPy's arrays; another namespace allocates
    its own, see :func:`wgangp.backend.work`).

    ``rng`` is the estimator's ``numpy.random.Generator`` or a backend's random
    source (:meth:`wgangp.backend.Backend.random`: the same ``standard_normal``
    and ``random``), and ``x_real`` an array of the networks' namespace; off
    NumPy the statistics stay 0-d arrays on the device.
    """
    empty = empty_of(scratch)
    batch = x_real.shape[0] if batch is None else batch
    latent_dim = generator.sizes[0]
    z = rng.standard_normal((batch, latent_dim), dtype=generator.dtype)
    alpha = rng.random((batch, 1), dtype=critic.dtype)
    if shard is None:
        x_fake = predict(generator.params, generator.activations, z, empty=empty)
        _, grads, stats = losses.critic_loss(
            critic, x_real, x_fake, alpha, lambda_gp, penalty, empty=empty, statistics=statistics
        )
    else:
        xp = namespace(z)
        grads, stats = _critic_part(
            generator,
            critic,
            x_real,
            take_rows(xp, z, positions),
            take_rows(xp, alpha, positions),
            lambda_gp,
            penalty,
            batch,
        )
        stats = shard.reduce(grads, stats, holds_rows=len(positions) > 0)
    if stats:  # empty when the statistics were not asked for
        stats["critic_grad_norm"] = grad_norm(grads)
    optimizer.step(critic.params, grads)
    return stats


def _critic_part(generator, critic, x_real, z, alpha, lambda_gp, penalty, batch):
    """A rank's part of the critic loss's gradient and statistics (zeros with no rows)."""
    if x_real.shape[0]:
        _, grads, stats = losses.critic_loss(
            critic, x_real, generator(z), alpha, lambda_gp, penalty, batch_total=batch
        )
        return grads, stats
    # no rows of this minibatch here: the same statistics, all zero, to sum
    like = critic.params[0]
    xp = namespace(like)
    probe, alpha = empty(xp, (1, critic.sizes[0]), like), empty(xp, (1, 1), like)
    probe[...] = 0
    alpha[...] = 0
    _, grads, stats = losses.critic_loss(critic, probe, probe, alpha, lambda_gp, penalty)
    critic.grad_flat[...] = 0
    return grads, {k: 0.0 for k in stats}


def empty_of(scratch: Scratch | None):
    """The allocator of a step: ``scratch``'s, reset for this step, or NumPy's."""
    if scratch is None:
        return np.empty
    scratch.reset()
    return scratch.empty


@quiet_overflow
def generator_step(
    generator: MLP,
    critic: MLP,
    optimizer: Optimizer,
    batch: int,
    rng: np.random.Generator,
    shard=None,
    scratch: Scratch | None = None,
) -> dict:
    """One generator update with fresh noise; the gradient flows through the critic.

    In a data-parallel run each rank takes its equal part of the ``batch``
    noise rows (all drawn by every rank) and one ``Allreduce`` sums the
    weighted gradients and the loss. ``scratch`` as in :func:`critic_step`.
    """
    empty = empty_of(scratch)
    z = rng.standard_normal((batch, generator.sizes[0]), dtype=generator.dtype)
    if shard is None:
        loss, grads = losses.generator_loss(generator, critic, z, empty=empty)
    else:
        part = shard.noise_positions(batch)
        loss, grads = losses.generator_loss(
            generator, critic, take_rows(namespace(z), z, part), batch_total=batch
        )
        loss = shard.reduce(grads, {"loss": loss}, holds_rows=len(part) > 0)["loss"]
    norm = grad_norm(grads)
    optimizer.step(generator.params, grads)
    return {"generator_loss": loss, "generator_grad_norm": norm}


class CriticStepGraph:
    """The critic step captured once in a CUDA graph (torch on a GPU) and replayed.

    Small batches on a GPU are bound by kernel launches, not FLOPs: a critic
    step is a few hundred small kernels. Captured once, a step is one graph
    launch. Each call draws the noise and the interpolation coefficients
    (the backend's random source, outside the graph, into static buffers),
    copies the real rows into a static buffer, and replays; nothing in the
    step waits for the host, and the statistics stay on the device (0-d
    tensors, overwritten by the next replay: read them before it).

    The first ``warmup`` calls run the step eagerly on a side stream (real
    steps, as torch's capture recipe asks, so that every buffer the step
    needs exists before the capture); the graph is captured at the next
    call and captured again whenever what it baked in changes (``lr``,
    ``lambda_gp``, the penalty, the networks' buffers).

    **Untested on hardware**: written against ``torch.cuda.CUDAGraph``, but
    no GPU was at hand where it was written; the CPU test suite checks only
    that it is refused off CUDA. ``benchmarks/gpu_step_time.py`` runs it
    (``wgangp-torch-graph``) where a GPU is.
    """

    def __init__(self, backend, warmup: int = 3):
        self.backend = backend
        self.torch = backend._native
        self.warmup = warmup
        self.graph = None
        self.key = None
        self.stream = None

    def _baked_in(self, generator, critic, optimizer, lambda_gp, penalty, batch):
        return (
            id(generator.flat),
            id(critic.flat),
            id(optimizer),
            optimizer.config().__repr__(),
            float(lambda_gp),
            penalty,
            batch,
        )

    def __call__(self, generator, critic, optimizer, x_real, rng, lambda_gp, penalty) -> dict:
        torch = self.torch
        batch = x_real.shape[0]
        key = self._baked_in(generator, critic, optimizer, lambda_gp, penalty, batch)
        if key != self.key:  # (re)start: eager warm-up steps, then a new capture
            self.graph, self.key, self.left = None, key, self.warmup
            self.stream = torch.cuda.Stream()
        if self.graph is None and self.left > 0:
            self.left -= 1
            self.stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self.stream):
                stats = critic_step(generator, critic, optimizer, x_real, rng, lambda_gp, penalty)
            torch.cuda.current_stream().wait_stream(self.stream)
            return stats
        z = rng.standard_normal((batch, generator.sizes[0]), dtype=generator.dtype)
        alpha = rng.random((batch, 1), dtype=critic.dtype)
        if self.graph is None:
            self._capture(generator, critic, optimizer, x_real, z, alpha, lambda_gp, penalty)
        self.x_real.copy_(x_real)
        self.z.copy_(z)
        self.alpha.copy_(alpha)
        self.graph.replay()
        optimizer.state["step"] += 1  # the captured step's counter does not advance
        return dict(self.stats)

    def _capture(self, generator, critic, optimizer, x_real, z, alpha, lambda_gp, penalty):
        torch = self.torch
        self.x_real, self.z, self.alpha = x_real.clone(), z.clone(), alpha.clone()
        torch.cuda.synchronize()
        graph = torch.cuda.CUDAGraph()
        step_before = optimizer.state["step"]
        with torch.cuda.graph(graph):
            _, grads, stats = losses.critic_loss(
                critic, self.x_real, generator(self.z), self.alpha, lambda_gp, penalty
            )
            stats["critic_grad_norm"] = grad_norm(grads)
            optimizer.step(critic.params, grads)
        optimizer.state["step"] = step_before  # advanced by each replay instead
        self.graph, self.stats = graph, stats
