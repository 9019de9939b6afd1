"""Schedules, as training callbacks.

A schedule is a :class:`wgangp.train.Callback` that sets a number after each
iteration from the iteration count alone, so a resumed run follows the same
schedule as an uninterrupted one. :class:`ExponentialDecay` sets the ``lr``
of every optimizer (generator and critic; a Translator's four);
:class:`ParamSchedule` sets any of an estimator's ``SCHEDULABLE_PARAMS``
(the Translator's ``lambda_cycle``, the penalty's ``lambda_gp``, ...)
along a piecewise-linear path.
"""

from __future__ import annotations

import numbers

from .errors import InvalidParameterError, InvalidParameterTypeError
from .optim import Optimizer
from .train import Callback


class _Schedule(Callback):
    """A callback that sets its number from the iteration count: at the start of a
    fit (from the model's iterations so far) and after every iteration."""

    def _apply(self, model, iteration: int) -> None:
        raise NotImplementedError

    def on_train_begin(self, model) -> None:
        self._apply(model, model.n_iter_)

    def on_iteration_end(self, model, iteration: int, record: dict) -> None:
        self._apply(model, iteration)


class ExponentialDecay(_Schedule):
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

    @classmethod
    def from_text(cls, text: str) -> ExponentialDecay:
        """A decay from ``"START:STOP:FINAL"`` (the command line's form).

        >>> ExponentialDecay.from_text("6000:9000:0.1").config()
        {'start': 6000, 'stop': 9000, 'final': 0.1}
        """
        parts = str(text).split(":")
        try:
            if len(parts) != 3:
                raise ValueError
            start, stop, final = int(parts[0]), int(parts[1]), float(parts[2])
        except ValueError:
            raise InvalidParameterError(
                f"{text!r}: give START:STOP:FINAL, e.g. 6000:9000:0.1"
            ) from None
        try:
            return cls(start, stop, final)
        except ValueError as exc:  # the order of the iterations, the fraction's range
            raise InvalidParameterError(f"{text!r}: {exc}") from None

    def factor(self, iteration: int) -> float:
        """The multiplier of the base rate after ``iteration`` iterations."""
        progress = (iteration - self.start) / (self.stop - self.start)
        return self.final ** min(max(progress, 0.0), 1.0)

    def _apply(self, model, iteration: int) -> None:
        # The base rate: the estimator's lr, or that of an Optimizer instance passed in
        # (each network gets a clone of it, so the instance keeps its own rate).
        base = model.optimizer.lr if isinstance(model.optimizer, Optimizer) else model.lr
        lr = float(base) * self.factor(iteration)
        for opt in model.optimizers().values():
            opt.lr = lr

    def config(self) -> dict:
        """JSON-serialisable settings (what a preset stores)."""
        return {"start": self.start, "stop": self.stop, "final": self.final}


class ParamSchedule(_Schedule):
    """Set a live parameter along a piecewise-linear path of iterations.

    ``points`` are ``(iteration, value)`` pairs with increasing iterations:
    the value is the first point's up to its iteration, linear between two
    points, and the last point's from its iteration on (integer parameters
    such as ``n_critic`` are rounded). As for :class:`ExponentialDecay`,
    iterations are counted over the model's whole life and the value a step
    uses is the one set after the previous iteration, so a run resumed from
    a checkpoint (with the same schedule) continues bit for bit. The value
    goes through :meth:`~wgangp.train.Estimator.set_live_param`: checked like
    the constructor's argument, and recorded in the model file.

    A schedule of ``lr`` changes the estimator's ``lr`` itself, which
    :class:`ExponentialDecay` takes as its base: use one or the other for the
    learning rate, not both.

    Raising the cycle weight late in a :class:`~wgangp.Translator`'s training
    pulls the cycle error down after the translation has found the target
    domain (see BENCHMARKS.md, "Cross-domain style transfer").

    Parameters
    ----------
    param : str
        One of the estimator's ``SCHEDULABLE_PARAMS``.
    points : sequence of (int, float)
        At least one point; iterations >= 0 and strictly increasing.

    Examples
    --------
    >>> import numpy as np
    >>> from wgangp import Translator
    >>> rng = np.random.default_rng(0)
    >>> A, B = rng.normal(size=(64, 2)), rng.normal(loc=3.0, size=(64, 2))
    >>> ramp = ParamSchedule("lambda_cycle", [(2, 10.0), (4, 40.0)])
    >>> model = Translator(hidden=8, batch_size=32, random_state=0)
    >>> model = model.fit(A, B, steps=3, callbacks=[ramp])
    >>> model.lambda_cycle
    25.0
    """

    def __init__(self, param: str, points):
        if not isinstance(param, str):
            raise InvalidParameterTypeError(f"param={param!r} must be a parameter's name")
        try:
            points = [(iteration, value) for iteration, value in points]
        except (TypeError, ValueError):
            raise InvalidParameterTypeError(
                f"points={points!r} must be a sequence of (iteration, value) pairs"
            ) from None
        if not points:
            raise InvalidParameterError("points=[] is empty; give at least one (iteration, value)")
        for iteration, value in points:
            if isinstance(iteration, bool) or not isinstance(iteration, numbers.Integral):
                raise InvalidParameterTypeError(
                    f"iteration {iteration!r} in points must be an integer"
                )
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise InvalidParameterTypeError(f"value {value!r} in points must be a number")
            if iteration < 0:
                raise InvalidParameterError(f"iteration {iteration!r} in points is negative")
        iterations = [int(i) for i, _ in points]
        if any(b <= a for a, b in zip(iterations, iterations[1:])):
            raise InvalidParameterError(
                f"the iterations of points must increase strictly; got {iterations}"
            )
        self.param = param
        self.points = [(int(i), float(v)) for i, v in points]

    @classmethod
    def from_text(cls, param: str, text: str) -> ParamSchedule:
        """A schedule from ``"ITERATION:VALUE,..."`` (the command line's form).

        >>> ParamSchedule.from_text("lambda_cycle", "3000:10,5000:40").points
        [(3000, 10.0), (5000, 40.0)]
        """
        points = []
        for item in str(text).split(","):
            iteration, sep, value = item.strip().partition(":")
            try:
                if not sep:
                    raise ValueError
                points.append((int(iteration), float(value)))
            except ValueError:
                raise InvalidParameterError(
                    f"{text!r}: give ITERATION:VALUE points separated by commas, "
                    "e.g. 3000:10,5000:40"
                ) from None
        return cls(param, points)

    def value(self, iteration: int) -> float:
        """The parameter's value after ``iteration`` iterations."""
        points = self.points
        if iteration <= points[0][0]:
            return points[0][1]
        for (i0, v0), (i1, v1) in zip(points, points[1:]):
            if iteration <= i1:
                return v0 + (v1 - v0) * (iteration - i0) / (i1 - i0)
        return points[-1][1]

    def _apply(self, model, iteration: int) -> None:
        value = self.value(iteration)
        if model.PARAMS.get(self.param) is not None and model.PARAMS[self.param].kind == "int":
            value = int(round(value))
        model.set_live_param(self.param, value)

    def config(self) -> dict:
        """JSON-serialisable settings."""
        return {"param": self.param, "points": [list(p) for p in self.points]}
