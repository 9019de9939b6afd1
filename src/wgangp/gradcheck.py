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

The losses come from the estimator itself (``model.gradcheck_losses``), which
calls the same loss functions that its training steps call, so the check
exercises exactly the code that training runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import InvalidParameterError, NotFittedError

__all__ = ["GradcheckResult", "gradcheck"]


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
            f"{'loss':<14}{'param':<7}{'shape':<13}{'checked':>8}{'max |grad|':>12}"
            f"{'rel error':>12}  ok"
        ]
        for row in self.table:
            shape = "x".join(str(s) for s in row["shape"])
            lines.append(
                f"{row['loss']:<14}{row['parameter']:<7}{shape:<13}{row['checked']:>8}"
                f"{row['max_abs_grad']:>12.3e}{row['rel_error']:>12.2e}  "
                f"{'yes' if row['passed'] else 'NO'}"
            )
        verdict = "PASSED" if self.passed else "FAILED"
        lines.append(
            f"gradcheck {verdict}: max relative error {self.max_error:.2e} "
            f"(threshold {self.threshold:.0e})"
        )
        return "\n".join(lines)


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
    # the losses return views of the network's gradient buffer, which every
    # loss_value() call below overwrites: keep copies
    analytic_grads = [np.array(a, copy=True) for a in analytic_grads]
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
    model : WGANGP, TabularSynthesizer or any wgangp estimator
        A fitted (or loaded) model; it is not modified (float64 copies are
        used). The estimator says which losses to check
        (``model.gradcheck_losses``): for :class:`~wgangp.WGANGP`, the critic
        loss and the generator loss; for the synthesizer the same with its
        heads, conditions, packing and dropout masks.
    n_samples : int
        Rows of real, fake and interpolated points (and of noise for the
        generator loss); packs of rows for the synthesizer. Real points are
        standard normal draws in the model's scaled space (where the critic
        sees data).
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
    if not hasattr(model, "gradcheck_losses") or not model.is_fitted():
        raise NotFittedError(
            "gradcheck needs a fitted wgangp estimator; call fit first (or wgangp.load(path))"
        )
    if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)) or n_samples < 1:
        raise InvalidParameterError(f"n_samples={n_samples!r} must be an integer >= 1")
    rng = np.random.default_rng(random_state)
    result = GradcheckResult(threshold=threshold)
    for loss_name, net, loss in model.gradcheck_losses(rng, int(n_samples), margin):
        _, grads = loss()
        result.table += _check(
            loss_name, net, lambda loss=loss: loss()[0], grads, eps, max_entries, threshold, rng
        )
    return result
