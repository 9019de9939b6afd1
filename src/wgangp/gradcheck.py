"""Check a model's own gradients against central finite differences.

``wgangp.gradcheck(model)`` takes float64 copies of the model's generator and
critic and, on a few samples, compares the analytic gradients of

* the critic loss (Wasserstein term plus the gradient penalty, with the
  model's ``lambda_gp`` and ``penalty``) with respect to every critic
  parameter, and
* the generator loss with respect to every generator parameter

against central finite differences ``(L(p + eps) - L(p - eps)) / (2 eps)``.
Per parameter array the error is

    max |a - n| / max(max |a|, max |n|, 1e-3)

(``a`` analytic, ``n`` numeric; the floor compares gradients that are truly
zero absolutely), the same measure as the library's own gradient tests. The
check passes when every array is below ``threshold`` (1e-5).

Large arrays are checked on a subset of entries (``max_entries`` per array:
the largest analytic entries and random others), so that a check of the
default 512-wide model takes seconds. Inputs are drawn, and redrawn, until no
ReLU-like pre-activation lies within ``margin`` of its kink, where finite
differences would straddle a corner.

The losses are looked up in :mod:`wgangp.losses` at call time, so the check
exercises exactly the code that training runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import losses
from .errors import InvalidParameterError
from .nn import MLP, preactivations

__all__ = ["GradcheckResult", "gradcheck"]

_KINKED = ("relu", "leaky_relu")


@dataclass
class GradcheckResult:
    """Outcome of :func:`gradcheck`.

    Attributes
    ----------
    table : list of dict
        One row per parameter array: ``loss`` ("critic" or "generator"),
        ``parameter`` (``W1``, ``b1``, ...), ``shape``, ``checked`` (entries
        compared), ``max_abs_grad``, ``rel_error``, ``passed``.
    threshold : float
    passed : bool
        Every row below the threshold.
    """

    table: list[dict] = field(default_factory=list)
    threshold: float = 1e-5

    @property
    def passed(self) -> bool:
        return all(row["passed"] for row in self.table)

    @property
    def max_error(self) -> float:
        return max((row["rel_error"] for row in self.table), default=0.0)

    def to_dict(self) -> dict:
        return {"passed": self.passed, "threshold": self.threshold, "table": self.table}

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        lines = [
            f"{'loss':<10}{'param':<7}{'shape':<13}{'checked':>8}{'max |grad|':>12}"
            f"{'rel error':>12}  ok"
        ]
        for row in self.table:
            shape = "x".join(str(s) for s in row["shape"])
            lines.append(
                f"{row['loss']:<10}{row['parameter']:<7}{shape:<13}{row['checked']:>8}"
                f"{row['max_abs_grad']:>12.3e}{row['rel_error']:>12.2e}  "
                f"{'yes' if row['passed'] else 'NO'}"
            )
        verdict = "PASSED" if self.passed else "FAILED"
        lines.append(
            f"gradcheck {verdict}: max relative error {self.max_error:.2e} "
            f"(threshold {self.threshold:.0e})"
        )
        return "\n".join(lines)


def _far_from_kinks(net: MLP, x: np.ndarray, margin: float) -> bool:
    zs = preactivations(net.params, net.activations, x)
    return all(
        np.abs(z).min() > margin for act, z in zip(net.activations, zs) if act.name in _KINKED
    )


def _entries(analytic: np.ndarray, max_entries: int, rng) -> np.ndarray:
    """Flat indices to check: all, or the largest half plus random others."""
    size = analytic.size
    if size <= max_entries:
        return np.arange(size)
    n_top = max_entries // 2
    top = np.argsort(np.abs(analytic).ravel())[-n_top:]
    rest = np.setdiff1d(np.arange(size), top)
    return np.concatenate([top, rng.choice(rest, max_entries - n_top, replace=False)])


def _check(loss_name, net, loss_value, analytic_grads, eps, max_entries, threshold, rng):
    rows = []
    for k, (p, a) in enumerate(zip(net.params, analytic_grads)):
        idx = _entries(a, max_entries, rng)
        flat = p.reshape(-1)
        numeric = np.empty(len(idx))
        for j, i in enumerate(idx):
            old = flat[i]
            flat[i] = old + eps
            plus = loss_value()
            flat[i] = old - eps
            minus = loss_value()
            flat[i] = old
            numeric[j] = (plus - minus) / (2 * eps)
        a_checked = np.asarray(a, dtype=np.float64).reshape(-1)[idx]
        scale = max(float(np.abs(a).max()), float(np.abs(numeric).max()), 1e-3)
        err = float(np.abs(a_checked - numeric).max() / scale)
        rows.append(
            {
                "loss": loss_name,
                "parameter": f"{'W' if k % 2 == 0 else 'b'}{k // 2 + 1}",
                "shape": list(p.shape),
                "checked": int(len(idx)),
                "max_abs_grad": float(np.abs(a).max()),
                "rel_error": err,
                "passed": bool(err < threshold),
            }
        )
    return rows


def gradcheck(
    model,
    n_samples: int = 4,
    eps: float = 1e-6,
    threshold: float = 1e-5,
    max_entries: int = 24,
    margin: float = 2e-5,
    random_state=0,
) -> GradcheckResult:
    """Analytic against finite-difference gradients on the model's own networks.

    Parameters
    ----------
    model : WGANGP
        A fitted (or loaded) model; it is not modified (float64 copies are used).
    n_samples : int
        Rows of real, fake and interpolated points (and of noise for the
        generator loss). Real points are standard normal draws in the model's
        scaled space (where the critic sees data).
    eps : float
        Finite-difference step.
    threshold : float
        Largest relative error that passes.
    max_entries : int
        Entries checked per parameter array (all when the array is smaller).
    margin : float
        Smallest distance of a ReLU-like pre-activation from 0 that is accepted.
    random_state : None, int or Generator

    Returns
    -------
    GradcheckResult
        ``.passed``, ``.table`` (rows per parameter), readable ``str()``.

    Examples
    --------
    >>> import numpy as np, wgangp
    >>> X = np.random.default_rng(0).normal(size=(64, 2))
    >>> model = wgangp.WGANGP(hidden=8, depth=2, batch_size=32, random_state=0).fit(X, steps=5)
    >>> result = gradcheck(model)
    >>> result.passed, len(result.table)  # 2 losses x 3 layers x (W, b)
    (True, 12)
    """
    if not hasattr(model, "critic_"):
        from .errors import NotFittedError

        raise NotFittedError("gradcheck needs a fitted model; call fit(X) first")
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise InvalidParameterError(f"n_samples={n_samples!r} must be an integer >= 1")
    rng = np.random.default_rng(random_state)
    critic = model.critic_.astype(np.float64)
    generator = model.generator_.astype(np.float64)
    lambda_gp = float(model.lambda_gp)
    penalty = model.penalty
    n_features, latent = model.n_features_in_, model.latent_dim_

    for _ in range(200):
        x_real = rng.standard_normal((n_samples, n_features))
        z = rng.standard_normal((n_samples, latent))
        x_fake = generator(z)
        alpha = rng.random((n_samples, 1))
        x_interp = x_fake + alpha * (x_real - x_fake)
        z_gen = rng.standard_normal((n_samples, latent))
        if (
            _far_from_kinks(critic, np.concatenate([x_real, x_fake, x_interp]), margin)
            and _far_from_kinks(generator, z_gen, margin)
            and _far_from_kinks(critic, generator(z_gen), margin)
        ):
            break
    else:
        raise RuntimeError(
            "gradcheck could not draw inputs away from ReLU kinks; lower margin= or n_samples="
        )

    def critic_value():
        return losses.critic_loss(critic, x_real, x_fake, alpha, lambda_gp, penalty)[0]

    def generator_value():
        return losses.generator_loss(generator, critic, z_gen)[0]

    _, critic_grads, _ = losses.critic_loss(critic, x_real, x_fake, alpha, lambda_gp, penalty)
    _, generator_grads = losses.generator_loss(generator, critic, z_gen)
    result = GradcheckResult(threshold=threshold)
    result.table += _check(
        "critic", critic, critic_value, critic_grads, eps, max_entries, threshold, rng
    )
    result.table += _check(
        "generator", generator, generator_value, generator_grads, eps, max_entries, threshold, rng
    )
    return result
