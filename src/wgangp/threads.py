"""BLAS threads while training: chosen from the work, measured, scoped, recorded.

On the small matrix products of a GAN on tabular or toy data, BLAS threads
never pay, and on a busy machine OpenBLAS threads spin and wait: 10 to 45
times slower than one thread was measured on a 2-core laptop-like machine
with other work running. So ``threads="auto"`` (every estimator's default):

* runs on **one thread** when the iteration's largest matrix product is
  small (below :data:`SMALL_GEMM_FLOP`), with no timing at all, so that the
  choice, and with it every bit of the result, does not depend on the load;
* otherwise **measures**: after one warm-up iteration it times
  :data:`TRIAL_ITERATIONS` iterations at one thread and as many at the
  machine's thread count, alternating, keeps the faster, and measures again
  every :data:`RECHECK_ITERATIONS` iterations, since load changes during a
  long run.

A number (``threads=N``) fixes the count; ``threads=0`` leaves the BLAS
library's own setting. Limits are set with ``threadpoolctl`` for the
duration of training only (the caller's settings come back afterwards),
and the count in force is recorded in every history record (``threads``).
The thread count changes the last bits of matrix products, so a run is
reproduced bit for bit with the same count: small networks always get one
thread; for large ones under ``"auto"`` the history says which was used.
threadpoolctl comes with scikit-learn (``wgangp[tabular]``) or
``wgangp[threads]``; without it training runs with the BLAS default and the
history says ``threads = 0``.
"""

from __future__ import annotations

import contextlib
import logging
import time

__all__ = [
    "RECHECK_ITERATIONS",
    "SMALL_GEMM_FLOP",
    "TRIAL_ITERATIONS",
    "ThreadPolicy",
    "blas_thread_count",
]

logger = logging.getLogger(__name__)

SMALL_GEMM_FLOP = 1e8
"""An iteration whose largest matrix product is below this many FLOP runs on one
thread without measuring: every toy preset and table model (hidden 128 with
batch 256 is 2.5e7 for the critic's stacked rows), so their results never
depend on the load. The recipe's hidden 512 with batch 256 (4e8) is measured."""

TRIAL_ITERATIONS = 3
"""Iterations timed at each thread count when measuring."""

RECHECK_ITERATIONS = 500
"""Iterations between two measurements under ``"auto"``."""


_CONTROLLER = []


def _controller():
    """One threadpoolctl controller for the process (finding the libraries takes
    milliseconds: too long to repeat in every short ``partial_fit``), or None."""
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:
            _CONTROLLER.append(None)
        else:
            _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0]


def blas_thread_counts() -> list[int]:
    """Each loaded BLAS library's thread count (empty when none can be asked)."""
    controller = _controller()
    if controller is None:
        return []
    return [lib.num_threads for lib in controller.select(user_api="blas").lib_controllers]


def blas_thread_count() -> int:
    """Threads the BLAS library would use by itself (1 when it cannot be asked)."""
    return max(blas_thread_counts(), default=1)


class ThreadPolicy:
    """The BLAS thread count of one training call.

    Parameters
    ----------
    setting : "auto" or int
        ``"auto"``, ``0`` (the BLAS default) or a fixed count.
    largest_gemm_flop : float
        FLOP of the iteration's largest matrix product, for ``"auto"``.

    previous : dict, optional
        :attr:`state` of the estimator's last call: a loop of short
        ``partial_fit`` calls keeps the count measured, and measures again
        only every :data:`RECHECK_ITERATIONS` iterations in all.

    Use as a context manager around the loop; call :meth:`before` and
    :meth:`after` around each iteration; :attr:`current` is the count in force
    (0 for the BLAS default).
    """

    def __init__(self, setting, largest_gemm_flop: float, previous: dict | None = None):
        self.setting = setting
        self.flop = largest_gemm_flop
        self.tpc = _controller()
        # the counts in force now: a limit equal to all of them is neither set nor
        # restored (threadpoolctl's limit asks every library: a short call's largest cost)
        self._counts = blas_thread_counts() if self.tpc is not None else []
        self.available = max(self._counts, default=1)  # blas_thread_count(), asked once
        self._limits = None
        self._trial: list[int] = []
        self._times: dict[int, list[float]] = {}
        self._warm_up = False
        self._decided = False
        self._since_check = 0
        self._start = 0.0
        if self.tpc is None:
            self.current = 0
            if setting not in (0, "auto"):
                logger.warning(
                    "threads=%s needs threadpoolctl (pip install 'wgangp[threads]'); "
                    "training uses the BLAS default",
                    setting,
                )
        elif setting == "auto":
            self.current = 1
            self.measuring = self.available > 1 and largest_gemm_flop >= SMALL_GEMM_FLOP
            same_work = previous and previous.get("flop") == largest_gemm_flop
            if self.measuring and same_work and previous.get("setting") == "auto":
                # a measurement that the last call ended in the middle of goes on
                # (a loop of partial_fit(steps=1) calls finishes it too); other
                # networks are measured afresh
                self.current = int(previous["current"])
                self._since_check = int(previous["since_check"])
                self._decided = bool(previous.get("decided"))
                self._trial = list(previous.get("trial", []))
                self._times = {c: list(t) for c, t in previous.get("times", {}).items()}
                self._warm_up = bool(previous.get("warm_up"))
        else:
            self.current = int(setting)
            self.measuring = False
        if self.tpc is None:
            self.measuring = False

    @property
    def state(self) -> dict:
        """What the next call of the same estimator continues from."""
        return {
            "setting": self.setting,
            "flop": self.flop,
            "current": self.current,
            "since_check": self._since_check,
            "decided": self._decided,
            "trial": list(self._trial),
            "times": {c: list(t) for c, t in self._times.items()},
            "warm_up": self._warm_up,
        }

    def __enter__(self) -> ThreadPolicy:
        due = not self._decided or self._since_check >= RECHECK_ITERATIONS
        if self.measuring and not self._trial and due:
            self._since_check = 0
            self._schedule()
        self._apply()
        return self

    def __exit__(self, *exc) -> None:
        if self._limits is not None:
            self._limits.restore_original_limits()
            self._limits = None

    def _apply(self) -> None:
        if self.tpc is None or self.current == 0:
            return
        if self._limits is None:
            if self._counts and all(count == self.current for count in self._counts):
                return  # already in force: nothing to set, nothing to restore
            self._limits = self.tpc.limit(limits=self.current, user_api="blas")
        else:
            with contextlib.suppress(Exception):
                self.tpc.limit(limits=self.current, user_api="blas")

    def _schedule(self) -> None:
        """One warm-up iteration at the current count, then alternate 1 and N."""
        many = self.available
        self._trial = [self.current] + [1, many] * TRIAL_ITERATIONS
        self._warm_up = True
        self._times = {1: [], many: []}

    def before(self) -> None:
        """Called before each iteration: set the count this iteration runs with."""
        if self._trial:
            count = self._trial[0]
            if count != self.current:
                self.current = count
                self._apply()
        self._start = time.perf_counter()

    def after(self) -> None:
        """Called after each iteration: collect timings, decide, schedule re-checks."""
        seconds = time.perf_counter() - self._start
        if self._trial:
            count = self._trial.pop(0)
            if self._warm_up:
                self._warm_up = False
            else:
                self._times[count].append(seconds)
            if not self._trial:
                self._decide()
            return
        self._since_check += 1
        if self.measuring and self._since_check >= RECHECK_ITERATIONS:
            self._since_check = 0
            self._schedule()

    def _decide(self) -> None:
        medians = {
            count: sorted(times)[len(times) // 2] for count, times in self._times.items() if times
        }
        best = min(medians, key=medians.get)
        self._decided = True
        logger.info(
            "BLAS threads: %s s/iteration at %s; using %d",
            ", ".join(f"{medians[c]:.4g}" for c in sorted(medians)),
            " and ".join(str(c) for c in sorted(medians)),
            best,
        )
        if best != self.current:
            self.current = best
            self._apply()
