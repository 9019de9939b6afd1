"""Learning-rate schedules, as training callbacks.

A schedule is a :class:`wgangp.train.Callback` that sets the ``lr`` of both
optimizers (generator and critic) after each iteration, from the iteration
count alone, so a resumed run follows the same schedule as an uninterrupted
one. Optimizers read ``lr`` on every step; nothing else changes.
"""

from __future__ import annotations

import numbers

from .errors import InvalidParameterError, InvalidParameterTypeError
from .optim import Optimizer
from .train import Callback


class ExponentialDecay(Callback):
    r"""Hold the learning rate, then decay it geometrically to a fraction of it.

    With ``lr0`` the estimator's ``lr``, iteration ``t`` (1-based, counted
    over the model's whole life), ``t0 = start`` and ``t1 = stop``:

    .. math::

        \mathrm{lr}(t) = \mathrm{lr}_0 \cdot
        \mathrm{final}^{\,\mathrm{clip}((t - t_0) / (t_1 - t_0),\ 0,\ 1)}

    so ``lr0`` up to ``start``, ``final * lr0`` from ``stop`` on. The rate a
    step uses is the one set after the previous iteration.

    A GAN's generator wanders at a learning rate high enough to learn fast;
    decaying it lets the samples settle into the modes (see BENCHMARKS.md,
    "Quality on the paper's toy sets").

    Parameters
    ----------
    start : int
        Last iteration at the full rate (>= 0).
    stop : int
        Iteration from which the rate is ``final * lr0`` (> ``start``).
    final : float
        Final fraction of the rate, in (0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> from wgangp import WGANGP
    >>> X = np.random.default_rng(0).normal(size=(64, 2))
    >>> model = WGANGP(hidden=8, depth=1, batch_size=32, lr=1e-3, random_state=0)
    >>> model = model.fit(X, steps=4, callbacks=[ExponentialDecay(start=2, stop=4, final=0.01)])
    >>> round(model.critic_optimizer_.lr, 8), round(model.generator_optimizer_.lr, 8)
    (1e-05, 1e-05)
    """

    def __init__(self, start: int, stop: int, final: float):
        for name, value in (("start", start), ("stop", stop)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise InvalidParameterTypeError(f"{name}={value!r} must be an integer")
        if start < 0 or stop <= start:
            raise InvalidParameterError(
                f"start={start!r}, stop={stop!r}: need 0 <= start < stop (iterations)"
            )
        if isinstance(final, bool) or not isinstance(final, numbers.Real):
            raise InvalidParameterTypeError(f"final={final!r} must be a number in (0, 1]")
        if not 0.0 < float(final) <= 1.0:
            raise InvalidParameterError(f"final={final!r} is not allowed; it must lie in (0, 1]")
        self.start, self.stop, self.final = int(start), int(stop), float(final)

    def factor(self, iteration: int) -> float:
        """The multiplier of the base rate after ``iteration`` iterations."""
        progress = (iteration - self.start) / (self.stop - self.start)
        return self.final ** min(max(progress, 0.0), 1.0)

    def _apply(self, model, iteration: int) -> None:
        # The base rate: the estimator's lr, or that of an Optimizer instance passed in
        # (each network gets a clone of it, so the instance keeps its own rate).
        base = model.optimizer.lr if isinstance(model.optimizer, Optimizer) else model.lr
        lr = float(base) * self.factor(iteration)
        model.critic_optimizer_.lr = lr
        model.generator_optimizer_.lr = lr

    def on_train_begin(self, model) -> None:
        self._apply(model, model.n_iter_)

    def on_iteration_end(self, model, iteration: int, record: dict) -> None:
        self._apply(model, iteration)

    def config(self) -> dict:
        """JSON-serialisable settings (what a preset stores)."""
        return {"start": self.start, "stop": self.stop, "final": self.final}
