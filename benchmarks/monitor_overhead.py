"""Seconds per iteration with default monitoring against none, at the seed's defaults.

Usage::

    python benchmarks/monitor_overhead.py                   # ~20 iterations each
    python benchmarks/monitor_overhead.py --iterations 40 --chunk 5

Two models with the same settings (hidden 512, depth 3, batch 256, 2-D data
(8gaussians), n_critic 5, RMSProp, float32) train in alternating chunks of
``--chunk`` iterations (A B A B ...):

* ``none``: ``partial_fit(X, steps=chunk)`` with no callbacks;
* ``default``: the callbacks ``fit(..., run_dir=...)`` attaches, with
  ``log_every=1``: :class:`~wgangp.monitor.DivergenceGuard` (checks every
  number of the record and every parameter, and copies the training state
  into its buffers, each iteration), :class:`~wgangp.monitor.HistoryLogger`
  (one flushed JSON line per iteration) and :class:`~wgangp.monitor.Checkpoint`
  (at the end of a call only).

An iteration's time is the time between two consecutive ``on_iteration_end``
calls of a timing callback: the training work plus every callback's
per-iteration work. Per-call costs (the final checkpoint, the CSV export)
happen once per ``fit`` and are reported apart. The script prints the median
seconds per iteration of each, the overhead in percent, the median cost of
each callback's ``on_iteration_end``, and the machine's load average (the
machine is shared: a busy neighbour slows both arms alike, but adds noise).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import wgangp
from wgangp.data import toy
from wgangp.monitor import Checkpoint, DivergenceGuard, HistoryLogger


class Timer(wgangp.Callback):
    """Gaps between consecutive on_iteration_end calls within one call."""

    def __init__(self):
        self.gaps: list[float] = []
        self._last = None

    def on_train_begin(self, model):
        self._last = None

    def on_iteration_end(self, model, iteration, record):
        now = time.perf_counter()
        if self._last is not None:
            self.gaps.append(now - self._last)
        self._last = now


class Timed(wgangp.Callback):
    """Wraps a callback and times each of its hooks."""

    def __init__(self, inner):
        self.inner = inner
        self.per_iteration: list[float] = []
        self.per_call: list[float] = []

    def on_train_begin(self, model):
        start = time.perf_counter()
        self.inner.on_train_begin(model)
        self.per_call.append(time.perf_counter() - start)

    def on_iteration_end(self, model, iteration, record):
        start = time.perf_counter()
        self.inner.on_iteration_end(model, iteration, record)
        self.per_iteration.append(time.perf_counter() - start)

    def on_train_end(self, model):
        start = time.perf_counter()
        self.inner.on_train_end(model)
        self.per_call[-1] += time.perf_counter() - start


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20, help="per arm")
    parser.add_argument("--chunk", type=int, default=5)
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--batch", type=int, default=256)
    args = parser.parse_args(argv)

    X = toy("8gaussians", 20_000, random_state=0)

    def make():
        return wgangp.WGANGP(hidden=args.hidden, batch_size=args.batch, random_state=0)

    plain, watched = make().fit(X, steps=2), make().fit(X, steps=2)  # warm up both
    run = Path(tempfile.mkdtemp(prefix="wgangp_overhead_"))
    ckpt = Checkpoint(run / "checkpoints")
    monitors = [
        Timed(DivergenceGuard(checkpoint=ckpt)),
        Timed(HistoryLogger(run / "history.jsonl")),
        Timed(ckpt),
    ]
    timer_a, timer_b = Timer(), Timer()
    load_before = os.getloadavg()
    rounds = max(1, args.iterations // args.chunk)
    for _ in range(rounds):
        # each chunk gives chunk - 1 gaps; one extra iteration keeps the count
        plain.partial_fit(X, steps=args.chunk + 1, callbacks=[timer_a])
        watched.partial_fit(X, steps=args.chunk + 1, callbacks=[*monitors, timer_b])
    load_after = os.getloadavg()

    a = statistics.median(timer_a.gaps)
    b = statistics.median(timer_b.gaps)
    print(
        f"config: hidden {args.hidden}, depth 3, batch {args.batch}, 2-D, n_critic 5, "
        f"float32; {len(timer_a.gaps)} iterations per arm, interleaved in chunks of "
        f"{args.chunk + 1}"
    )
    print(f"numpy {np.__version__}; load average before {load_before}, after {load_after}")
    print(f"{'arm':<34}{'median s/iter':>14}")
    print(f"{'no callbacks':<34}{a:>14.4f}")
    print(f"{'default monitoring (log_every=1)':<34}{b:>14.4f}")
    print(f"overhead: {b - a:+.4f} s/iter ({100 * (b - a) / a:+.2f}%)")
    print("\nper-iteration cost of each monitor (median of on_iteration_end):")
    for m in monitors:
        cost = statistics.median(m.per_iteration)
        print(f"  {type(m.inner).__name__:<18}{cost * 1e3:8.3f} ms  ({100 * cost / a:.2f}%)")
    print("per-call cost (on_train_begin + on_train_end, median):")
    for m in monitors:
        print(f"  {type(m.inner).__name__:<18}{statistics.median(m.per_call) * 1e3:8.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
