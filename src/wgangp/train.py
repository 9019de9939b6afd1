"""The training machinery: minibatches, one critic step, one generator step, callbacks.

These pieces know nothing of the estimator class; :class:`wgangp.WGANGP`
assembles them. One *iteration* is ``n_critic`` critic steps followed by one
generator step, as in the WGAN-GP paper's Algorithm 1.
"""

from __future__ import annotations

import numpy as np

from .losses import critic_loss, generator_loss
from .nn import MLP
from .optim import Optimizer


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


# A step that diverges overflows; that is detected from the losses by the
# caller (WGANGP raises TrainingDiverged), not reported as NumPy warnings.
_quiet_overflow = np.errstate(over="ignore", invalid="ignore", divide="ignore")


@_quiet_overflow
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


@_quiet_overflow
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


class Callback:
    """Hooks called by ``fit`` / ``partial_fit``; override the ones you need.

    The protocol:

    * ``on_train_begin(model)`` once, before the first iteration of a call;
    * ``on_iteration_end(model, iteration, record)`` after each iteration, with
      the 1-based total iteration count and that iteration's metrics dict;
      set ``model.stop_training = True`` to stop after this iteration;
    * ``on_train_end(model)`` once, after the last iteration, also when
      training stops early or raises.
    """

    def on_train_begin(self, model) -> None:
        pass

    def on_iteration_end(self, model, iteration: int, record: dict) -> None:
        pass

    def on_train_end(self, model) -> None:
        pass
