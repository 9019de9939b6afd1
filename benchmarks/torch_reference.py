"""A PyTorch-CPU WGAN-GP written the way peers write it, as the speed and quality reference.

It follows Gulrajani et al.'s ``gan_toy.py`` and the common PyTorch ports of
it, on purpose without tricks: three separate critic forwards (real, fake,
interpolates), the gradient penalty through
``torch.autograd.grad(..., create_graph=True)`` and a second backward through
that graph, ``requires_grad`` switched off on the critic during the generator
step. wgangp has to beat this in the same process, on the same cores.

Networks (no batch normalisation anywhere)::

    generator  latent_dim -> [hidden, ReLU] * depth -> data_dim   (identity output)
    critic     data_dim   -> [hidden, ReLU] * depth -> 1

Initialisation: ``torch.nn.init.kaiming_uniform_(W, nonlinearity="relu")``
(``mode="fan_in"``, ``a=0``) on every weight and zero biases. That draws from
``U(-bound, bound)`` with ``bound = gain * sqrt(3 / fan_in)``, ``gain =
sqrt(2)``, that is ``U(-sqrt(6 / fan_in), sqrt(6 / fan_in))``: exactly
wgangp's ``he_uniform`` (and numpy-ml's). PyTorch stores ``W`` as ``(out, in)``
and takes ``fan_in`` from its second axis, so ``fan_in`` is the number of
inputs in both libraries.

Losses, per critic step on ``B`` real rows ``x_r``, fakes ``x_f = G(z)``
(generator not differentiated) and ``x_i = a x_r + (1 - a) x_f`` with
``a ~ U(0, 1)`` per row::

    L_D = mean D(x_f) - mean D(x_r) + lambda_gp * mean (||dD/dx (x_i)|| - 1)^2

and per generator step, with fresh noise, ``L_G = -mean D(G(z))``.

Optimizers (``OPTIMIZERS`` below holds the exact hyperparameters):

* ``"rmsprop"``: ``torch.optim.RMSprop(lr, alpha=0.99, eps=1e-8)``, PyTorch's
  defaults; epsilon sits outside the square root, ``p -= lr g / (sqrt(v) + eps)``.
* ``"adam"``: ``torch.optim.Adam(lr, betas=(0.5, 0.9), eps=1e-8)``, the
  paper's toy code.
* ``"adam-paper"``: ``torch.optim.Adam(lr, betas=(0.0, 0.9), eps=1e-8)``, the
  paper's Algorithm 1.

Everything is float32. ``threads`` sets ``torch.set_num_threads`` (default:
every core).
"""

from __future__ import annotations

import os
from collections.abc import Callable

import numpy as np
import torch
from torch import nn

OPTIMIZERS: dict[str, tuple[type[torch.optim.Optimizer], dict]] = {
    "rmsprop": (torch.optim.RMSprop, {"alpha": 0.99, "eps": 1e-8}),
    "adam": (torch.optim.Adam, {"betas": (0.5, 0.9), "eps": 1e-8}),
    "adam-paper": (torch.optim.Adam, {"betas": (0.0, 0.9), "eps": 1e-8}),
}
"""Optimizer name -> (class, keyword arguments besides ``lr``)."""


def mlp(in_dim: int, out_dim: int, hidden: int, depth: int) -> nn.Sequential:
    """``in_dim -> [hidden, ReLU] * depth -> out_dim``, He-uniform weights, zero biases."""
    layers: list[nn.Module] = []
    widths = [in_dim] + [hidden] * depth
    for fan_in, fan_out in zip(widths[:-1], widths[1:], strict=True):
        layers += [nn.Linear(fan_in, fan_out), nn.ReLU()]
    layers.append(nn.Linear(widths[-1], out_dim))
    for layer in layers:
        if isinstance(layer, nn.Linear):
            nn.init.kaiming_uniform_(layer.weight, nonlinearity="relu")
            nn.init.zeros_(layer.bias)
    return nn.Sequential(*layers)


class TorchWGANGP:
    """WGAN-GP in PyTorch on the CPU, the reference for wgangp's benchmarks.

    Parameters
    ----------
    data_dim : int
        Columns of the data.
    latent_dim : int
        Size of the generator's Gaussian noise input.
    hidden, depth : int
        Width and number of hidden layers of both networks.
    lambda_gp : float
        Weight of the gradient penalty.
    n_critic : int
        Critic steps per generator step.
    batch_size : int
        Rows per step (real, fake and interpolates each).
    optimizer : {"rmsprop", "adam", "adam-paper"}
        See ``OPTIMIZERS``; one optimizer per network, same settings.
    lr : float
        Learning rate of both optimizers.
    seed : int
        Seeds the weights, the noise and the minibatch order.
    threads : int or None
        ``torch.set_num_threads``; None uses every core.
    """

    def __init__(
        self,
        data_dim: int,
        latent_dim: int = 2,
        hidden: int = 512,
        depth: int = 3,
        lambda_gp: float = 10.0,
        n_critic: int = 5,
        batch_size: int = 256,
        optimizer: str = "rmsprop",
        lr: float = 1e-4,
        seed: int = 0,
        threads: int | None = None,
    ) -> None:
        if optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={optimizer!r}; choose one of {sorted(OPTIMIZERS)}")
        torch.set_num_threads(threads or os.cpu_count() or 1)
        self.data_dim, self.latent_dim = data_dim, latent_dim
        self.lambda_gp, self.n_critic, self.batch_size = lambda_gp, n_critic, batch_size
        torch.manual_seed(seed)
        self.generator = mlp(latent_dim, data_dim, hidden, depth)
        self.critic = mlp(data_dim, 1, hidden, depth)
        opt_class, opt_kwargs = OPTIMIZERS[optimizer]
        self.opt_g = opt_class(self.generator.parameters(), lr=lr, **opt_kwargs)
        self.opt_d = opt_class(self.critic.parameters(), lr=lr, **opt_kwargs)
        self.torch_rng = torch.Generator().manual_seed(seed)
        self.np_rng = np.random.default_rng(seed)
        self._order: np.ndarray | None = None  # shuffled row order of the current epoch
        self._cursor = 0
        self._data_key: tuple | None = None

    # -- one iteration -------------------------------------------------------------------

    def _noise(self, n: int) -> torch.Tensor:
        return torch.randn(n, self.latent_dim, generator=self.torch_rng)

    def critic_step(self, x_real: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """One critic update on a real batch; returns loss terms as 0-d tensors."""
        B = x_real.shape[0]
        with torch.no_grad():  # gan_toy: netG(noise) with volatile noise, i.e. detached
            x_fake = self.generator(self._noise(B))
        self.opt_d.zero_grad(set_to_none=True)
        d_real = self.critic(x_real).mean()
        d_fake = self.critic(x_fake).mean()
        alpha = torch.rand(B, 1, generator=self.torch_rng)
        x_interp = (alpha * x_real + (1.0 - alpha) * x_fake).requires_grad_(True)
        d_interp = self.critic(x_interp)
        (grad,) = torch.autograd.grad(
            d_interp, x_interp, grad_outputs=torch.ones_like(d_interp), create_graph=True
        )
        grad_norm = grad.norm(2, dim=1)
        penalty = self.lambda_gp * ((grad_norm - 1.0) ** 2).mean()
        loss = d_fake - d_real + penalty
        loss.backward()
        self.opt_d.step()
        return (
            loss.detach(),
            (d_real - d_fake).detach(),
            penalty.detach(),
            grad_norm.mean().detach(),
        )

    def generator_step(self) -> torch.Tensor:
        """One generator update with fresh noise; no critic weight gradients."""
        for p in self.critic.parameters():
            p.requires_grad_(False)
        self.opt_g.zero_grad(set_to_none=True)
        loss = -self.critic(self.generator(self._noise(self.batch_size))).mean()
        loss.backward()
        self.opt_g.step()
        for p in self.critic.parameters():
            p.requires_grad_(True)
        return loss.detach()

    def iteration(self, sample_real: Callable[[int], np.ndarray]) -> dict[str, float]:
        """``n_critic`` critic steps then one generator step.

        ``sample_real(batch_size)`` must return a ``(batch_size, data_dim)``
        array; it is converted to float32 without a copy when it already is.
        Returns the last critic step's ``critic_loss``, ``wasserstein``
        (``mean D(x_r) - mean D(x_f)``), ``penalty`` (weighted by
        ``lambda_gp``) and ``grad_norm`` (mean ``||g||`` at the interpolates),
        and the ``generator_loss``.
        """
        for _ in range(self.n_critic):
            x_real = torch.from_numpy(np.asarray(sample_real(self.batch_size), dtype=np.float32))
            critic_loss, wasserstein, penalty, grad_norm = self.critic_step(x_real)
        generator_loss = self.generator_step()
        return {
            "critic_loss": critic_loss.item(),
            "generator_loss": generator_loss.item(),
            "wasserstein": wasserstein.item(),
            "penalty": penalty.item(),
            "grad_norm": grad_norm.item(),
        }

    # -- data handling -------------------------------------------------------------------

    def _next_batch(self, X: np.ndarray) -> np.ndarray:
        """The next ``batch_size`` rows of a shuffled epoch; reshuffle when it runs out.

        The same work as an estimator's ``partial_fit`` over shuffled epochs:
        one permutation per epoch and one fancy-indexing gather per batch.
        """
        B = self.batch_size
        if self._order is None or self._cursor + B > len(self._order):
            self._order = self.np_rng.permutation(len(X))
            self._cursor = 0
        rows = self._order[self._cursor : self._cursor + B]
        self._cursor += B
        return X[rows]

    def fit_iterations(self, X: np.ndarray, steps: int) -> list[dict[str, float]]:
        """Run ``steps`` iterations on minibatches of ``X`` drawn shuffled, epoch by epoch.

        Successive calls with the same ``X`` continue the same epoch, like
        ``partial_fit``. ``X`` is converted to float32 once per new array.
        """
        key = (id(X), X.shape)
        if key != self._data_key:
            self._X32 = np.ascontiguousarray(X, dtype=np.float32)
            self._data_key, self._order = key, None
        if len(self._X32) < self.batch_size:
            raise ValueError(f"X has {len(X)} rows, fewer than batch_size={self.batch_size}")
        return [self.iteration(lambda _n: self._next_batch(self._X32)) for _ in range(steps)]

    def sample(self, n: int) -> np.ndarray:
        """``n`` generated rows, shape ``(n, data_dim)``, float32."""
        with torch.no_grad():
            return self.generator(self._noise(n)).numpy()


if __name__ == "__main__":
    import time

    rng = np.random.default_rng(0)
    centres = np.array([[np.cos(t), np.sin(t)] for t in np.arange(8) * np.pi / 4]) * 2
    X = centres[rng.integers(0, 8, 20000)] + 0.02 * rng.standard_normal((20000, 2))
    model = TorchWGANGP(data_dim=2, hidden=128)
    for step in range(201):
        t0 = time.perf_counter()
        (metrics,) = model.fit_iterations(X, 1)
        if step % 50 == 0:
            print(step, f"{time.perf_counter() - t0:.4f} s", metrics)
