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
from .errors import ModelFileError
from .flat import Scratch, flat_of
from .modelfile import header_int
from .nn import MLP, predict
from .optim import Optimizer

__all__ = [
    "CriticStepGraph",
    "MinibatchSampler",
    "critic_step",
    "generator_step",
    "grad_norm",
    "quiet_overflow",
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
    shard=None,
    positions: np.ndarray | None = None,
    batch: int | None = None,
    scratch: Scratch | None = None,
) -> dict:
    """One critic update on a real batch; fresh fakes and interpolation coefficients.

    Returns the :func:`wgangp.losses.critic_loss` statistics plus
    ``critic_grad_norm``. In a data-parallel run (``shard``, a
    :class:`wgangp.parallel.Shard`), ``x_real`` are this rank's rows of the
    global minibatch of ``batch`` rows, at ``positions`` in it: the noise and
    the coefficients are drawn for the whole batch (as every rank does),
    this rank's losses are weighted by its share, and one ``Allreduce`` sums
    the gradient and the statistics. The step's work arrays come from
    ``scratch`` when given (the caller's, reset here), so that a run of
    steps reuses their memory (NumPy's arrays; another namespace allocates
    its own, see :func:`wgangp.backend.work`).

    ``rng`` is the estimator's ``numpy.random.Generator`` or a backend's random
    source (:meth:`wgangp.backend.Backend.random`: the same ``standard_normal``
    and ``random``), and ``x_real`` an array of the networks' namespace; off
    NumPy the statistics stay 0-d arrays on the device.
    """
    empty = _empty_of(scratch)
    batch = x_real.shape[0] if batch is None else batch
    latent_dim = generator.sizes[0]
    z = rng.standard_normal((batch, latent_dim), dtype=generator.dtype)
    alpha = rng.random((batch, 1), dtype=critic.dtype)
    if shard is None:
        x_fake = predict(generator.params, generator.activations, z, empty=empty)
        _, grads, stats = losses.critic_loss(
            critic, x_real, x_fake, alpha, lambda_gp, penalty, empty=empty
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


def _empty_of(scratch: Scratch | None):
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
    empty = _empty_of(scratch)
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
