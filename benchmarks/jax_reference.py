"""A JAX-CPU WGAN-GP with the whole iteration in one ``jax.jit``: the strongest CPU peer.

Where :mod:`torch_reference` is written the way most peers write WGAN-GP
(eager, autograd with ``create_graph=True``), this one is written the way a
careful JAX user would: one jitted function runs a whole iteration, the
``n_critic`` critic steps and the generator step, so XLA sees the iteration
at once and fuses the elementwise work (bias add, ReLU, masks, the penalty,
the optimizer) into the GEMMs' neighbours. wgangp, on NumPy alone, is
measured against it in :mod:`step_time`.

Same model as :mod:`torch_reference`: both networks ``in -> [hidden, ReLU] *
depth -> out``, He-uniform weights ``U(-sqrt(6 / fan_in), sqrt(6 / fan_in))``,
zero biases, float32. Critic loss per step on ``B`` real rows, fakes from
fresh noise (generator not differentiated) and interpolates
``x_i = a x_r + (1 - a) x_f``::

    L_D = mean D(x_f) - mean D(x_r) + lambda_gp * mean (||dD/dx (x_i)|| - 1)^2

(the two-sided penalty; ``dD/dx`` by ``jax.grad`` of the summed critic
output, the parameter gradient by differentiating through it), generator
loss ``L_G = -mean D(G(z))`` with fresh noise. Optimizers, written out as in
PyTorch: ``"rmsprop"`` (``rho`` 0.99, ``eps`` 1e-8 outside the square root),
``"adam"`` (betas 0.5, 0.9) and ``"adam-paper"`` (betas 0, 0.9), eps 1e-8.

The minibatches are drawn on the host like everyone else's (a shuffled epoch
and a row gather per batch) and the ``n_critic`` real batches go into the
jitted call stacked; noise and interpolation coefficients are drawn inside
it with ``jax.random``.

Threads: XLA's CPU thread pool is set by ``XLA_FLAGS`` before jax is
imported; :func:`set_threads` does that (``threads=1`` turns off the
multi-threaded Eigen GEMMs and the intra-op pool).
"""

from __future__ import annotations

import os
import sys
from functools import partial

import numpy as np

OPTIMIZERS = {
    "rmsprop": {"rho": 0.99, "eps": 1e-8},
    "adam": {"betas": (0.5, 0.9), "eps": 1e-8},
    "adam-paper": {"betas": (0.0, 0.9), "eps": 1e-8},
}


def set_threads(threads: int | None) -> None:
    """Ask XLA for ``threads`` CPU threads; must run before jax is first imported.

    XLA's CPU pool takes every core by default, so ``threads`` of at least the
    core count (or None) leaves it; ``threads=1`` turns off the multi-threaded
    Eigen kernels. Counts in between cannot be set through ``XLA_FLAGS``.
    """
    if threads is None or threads >= (os.cpu_count() or 1):
        return
    if threads != 1:
        raise ValueError(f"jax_reference runs on 1 thread or on every core, not {threads}")
    flag = "--xla_cpu_multi_thread_eigen=false"
    flags = os.environ.get("XLA_FLAGS", "")
    if flag in flags:
        return
    if "jax" in sys.modules:
        raise RuntimeError("set_threads must run before jax is imported")
    os.environ["XLA_FLAGS"] = f"{flags} {flag}".strip()


def _init_mlp(rng: np.random.Generator, widths: list[int]) -> list[np.ndarray]:
    params = []
    for fan_in, fan_out in zip(widths[:-1], widths[1:]):
        bound = np.sqrt(6.0 / fan_in)
        params.append(rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32))
        params.append(np.zeros(fan_out, dtype=np.float32))
    return params


class JaxWGANGP:
    """WGAN-GP in JAX on the CPU, one ``jax.jit`` call per iteration.

    Parameters are those of :class:`torch_reference.TorchWGANGP` (``threads``
    is applied through :func:`set_threads`, before jax is imported).
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
        if "jax" not in sys.modules:
            set_threads(threads)
        import jax
        import jax.numpy as jnp

        self.jax, self.jnp = jax, jnp
        self.data_dim, self.latent_dim = data_dim, latent_dim
        self.n_critic, self.batch_size = n_critic, batch_size
        rng = np.random.default_rng(seed)
        gen = _init_mlp(rng, [latent_dim] + [hidden] * depth + [data_dim])
        critic = _init_mlp(rng, [data_dim] + [hidden] * depth + [1])
        self.params = (
            [jnp.asarray(p) for p in gen],
            [jnp.asarray(p) for p in critic],
        )
        self.opt_state = (self._opt_init(optimizer, gen), self._opt_init(optimizer, critic))
        self.key = jax.random.PRNGKey(seed)
        self.np_rng = np.random.default_rng(seed)
        self._order: np.ndarray | None = None
        self._cursor = 0
        self._data_key: tuple | None = None
        self._iteration = jax.jit(
            partial(
                _iteration,
                jax=jax,
                optimizer=optimizer,
                lr=lr,
                lambda_gp=lambda_gp,
                n_critic=n_critic,
                batch=batch_size,
                latent_dim=latent_dim,
            ),
            donate_argnums=(0, 1),
        )
        self._sample = jax.jit(_mlp, static_argnums=())

    def _opt_init(self, optimizer: str, params: list[np.ndarray]) -> dict:
        jnp = self.jnp
        zeros = [jnp.zeros_like(jnp.asarray(p)) for p in params]
        if optimizer == "rmsprop":
            return {"v": zeros}
        return {"m": zeros, "v": [jnp.zeros_like(z) for z in zeros], "t": jnp.zeros((), "int32")}

    def _next_batch(self, X: np.ndarray) -> np.ndarray:
        B = self.batch_size
        if self._order is None or self._cursor + B > len(self._order):
            self._order = self.np_rng.permutation(len(X))
            self._cursor = 0
        rows = self._order[self._cursor : self._cursor + B]
        self._cursor += B
        return X[rows]

    def fit_iterations(self, X: np.ndarray, steps: int) -> list[dict[str, float]]:
        """Run ``steps`` iterations on shuffled minibatches of ``X``, like ``partial_fit``."""
        key = (id(X), X.shape)
        if key != self._data_key:
            self._X32 = np.ascontiguousarray(X, dtype=np.float32)
            self._data_key, self._order = key, None
        out = []
        for _ in range(steps):
            real = np.stack([self._next_batch(self._X32) for _ in range(self.n_critic)])
            self.key, sub = self.jax.random.split(self.key)
            self.params, self.opt_state, metrics = self._iteration(
                self.params, self.opt_state, real, sub
            )
            metrics = self.jax.block_until_ready(metrics)
            out.append({k: float(v) for k, v in metrics.items()})
        return out

    def sample(self, n: int) -> np.ndarray:
        """``n`` generated rows, float32."""
        self.key, sub = self.jax.random.split(self.key)
        z = self.jax.random.normal(sub, (n, self.latent_dim), dtype=self.jnp.float32)
        return np.asarray(self._sample(self.params[0], z))


def _mlp(params, x):
    import jax.numpy as jnp

    n_layers = len(params) // 2
    for k in range(n_layers):
        x = x @ params[2 * k] + params[2 * k + 1]
        if k + 1 < n_layers:
            x = jnp.maximum(x, 0.0)
    return x


def _opt_update(optimizer, lr, params, grads, state):
    import jax.numpy as jnp

    if optimizer == "rmsprop":
        rho, eps = OPTIMIZERS[optimizer]["rho"], OPTIMIZERS[optimizer]["eps"]
        v = [rho * v + (1 - rho) * g * g for v, g in zip(state["v"], grads)]
        new = [p - lr * g / (jnp.sqrt(vi) + eps) for p, g, vi in zip(params, grads, v)]
        return new, {"v": v}
    (b1, b2), eps = OPTIMIZERS[optimizer]["betas"], OPTIMIZERS[optimizer]["eps"]
    t = state["t"] + 1
    m = [b1 * m + (1 - b1) * g for m, g in zip(state["m"], grads)]
    v = [b2 * v + (1 - b2) * g * g for v, g in zip(state["v"], grads)]
    c1, c2 = 1 - b1**t, 1 - b2**t
    new = [p - (lr / c1) * mi / (jnp.sqrt(vi / c2) + eps) for p, mi, vi in zip(params, m, v)]
    return new, {"m": m, "v": v, "t": t}


def _iteration(
    params, opt_state, real, key, *, jax, optimizer, lr, lambda_gp, n_critic, batch, latent_dim
):
    import jax.numpy as jnp

    gen, critic = params
    gen_state, critic_state = opt_state

    def critic_loss(critic, x_real, x_fake, alpha):
        x_interp = alpha * x_real + (1.0 - alpha) * x_fake

        def summed(x):
            return _mlp(critic, x).sum()

        g = jax.grad(summed)(x_interp)
        norms = jnp.sqrt(jnp.sum(g * g, axis=1))
        penalty = lambda_gp * jnp.mean((norms - 1.0) ** 2)
        d_real = _mlp(critic, x_real).mean()
        d_fake = _mlp(critic, x_fake).mean()
        return d_fake - d_real + penalty, (d_real - d_fake, penalty)

    keys = jax.random.split(key, 2 * n_critic + 1)
    for i in range(n_critic):
        z = jax.random.normal(keys[2 * i], (batch, latent_dim), dtype=jnp.float32)
        x_fake = jax.lax.stop_gradient(_mlp(gen, z))
        alpha = jax.random.uniform(keys[2 * i + 1], (batch, 1), dtype=jnp.float32)
        (loss_d, (wasserstein, penalty)), grads = jax.value_and_grad(critic_loss, has_aux=True)(
            critic, real[i], x_fake, alpha
        )
        critic, critic_state = _opt_update(optimizer, lr, critic, grads, critic_state)

    def generator_loss(gen, z):
        return -_mlp(critic, _mlp(gen, z)).mean()

    z = jax.random.normal(keys[-1], (batch, latent_dim), dtype=jnp.float32)
    loss_g, grads = jax.value_and_grad(generator_loss)(gen, z)
    gen, gen_state = _opt_update(optimizer, lr, gen, grads, gen_state)
    metrics = {
        "critic_loss": loss_d,
        "generator_loss": loss_g,
        "wasserstein": wasserstein,
        "penalty": penalty,
    }
    return (gen, critic), (gen_state, critic_state), metrics


if __name__ == "__main__":
    import time

    set_threads(int(sys.argv[1]) if len(sys.argv) > 1 else None)
    rng = np.random.default_rng(0)
    centres = np.array([[np.cos(t), np.sin(t)] for t in np.arange(8) * np.pi / 4]) * 2
    X = centres[rng.integers(0, 8, 20000)] + 0.02 * rng.standard_normal((20000, 2))
    model = JaxWGANGP(data_dim=2, hidden=128)
    for step in range(201):
        t0 = time.perf_counter()
        (metrics,) = model.fit_iterations(X, 1)
        if step % 50 == 0:
            print(step, f"{time.perf_counter() - t0:.4f} s", metrics)
