"""Seconds per WGAN-GP iteration: wgangp against JAX-CPU, PyTorch-CPU, numpy-ml and the FLOP floor.

Usage::

    python benchmarks/step_time.py                  # the full run (make bench); minutes
    python benchmarks/step_time.py --quick --configs h128-b256-2d
    python benchmarks/step_time.py --json out.json --repeats 30
    python benchmarks/step_time.py --threads 1 --configs h512-b256-2d,h128-b256-2d
    python benchmarks/step_time.py --threads 1 --clock cpu   # on a busy machine

One *iteration* is ``n_critic = 5`` critic steps plus one generator step.
In one process, for each configuration, the implementations are timed one
iteration at a time, interleaved (A B C D, B C D A, ...: the order rotates
every round), and the median over rounds is reported:

* ``wgangp``: ``WGANGP(..., dtype=float32, threads=<threads or "auto">)``,
  ``partial_fit(X, steps=1)``, with its compiled kernels where numba is
  installed (the ``fast`` extra; the environment line says which:
  ``wgangp_kernels``), NumPy's passes alone with ``WGANGP_KERNELS=numpy``;
  built with ``fit(X, steps=7)``: under ``"auto"`` those first iterations
  time 1 and N BLAS threads before the count settles (a start-up cost, like
  JAX's compilation, kept out of the timed rounds);
* ``jax``: :mod:`jax_reference`, the strongest CPU peer: the whole
  iteration (the critic steps and the generator step) in one ``jax.jit``
  function, same architecture, batch, optimizer, penalty, float32;
  ``fit_iterations(X, 1)``;
* ``torch``: :mod:`torch_reference` (same architecture, batch, optimizer,
  float32, ``torch.set_num_threads(<threads>)``), ``fit_iterations(X, 1)``;
* ``numpy-ml``: its ``WGAN_GP.fit(X, n_steps=1)``, float64 as that library
  uses (imported through :mod:`_numpy_ml_compat`, which says when it applied
  its Python 3.10+ import fix);
* ``floor``: exactly the iteration's GEMMs (:mod:`flops`), run by NumPy at
  the iteration's shapes with preallocated buffers: the time any
  implementation on this BLAS pays at least. The GEMM rate printed is the
  iteration's FLOPs over this time.

Every implementation draws its own minibatches from the same data set (a
shuffled epoch and a row gather per batch; numpy-ml takes its first rows in
order), so the data handling is the same small cost for all. The latent size
equals the data's dimension in every configuration, because numpy-ml's noise
always has the data's shape.

Threads: ``--threads N`` gives every implementation N threads: NumPy's BLAS
(through threadpoolctl, for wgangp, numpy-ml and the floor), PyTorch's
intra-op pool, and XLA's CPU pool (``XLA_FLAGS``, set before jax is
imported); with N below the core count it also pins the process to N cores,
because XLA's runtime runs a pool of every core whatever its flags say.
Without it each library takes its default (every core).

Clock: wall time by default. ``--clock cpu`` times each call by the
process's CPU time instead (every thread's, :func:`time.process_time`):
on a shared machine other processes take cores away, which inflates wall
time, and far less the CPU time a call needs. With one thread each
(``--threads 1``) the two agree on a quiet machine; with more threads CPU
time also counts threads that spin or wait, so it is not for those.

Thread pools: NumPy's OpenBLAS threads, and PyTorch's OpenMP threads, keep
spinning for up to ~0.1 s after their last call. Measured here, a torch
iteration started right after NumPy's GEMMs took 4x its time alone. So every
timed call is preceded by ``--gap`` seconds of sleep (0.3 s by default,
untimed) for the previous library's threads to go idle.

Peak memory: each implementation runs a few iterations in a fresh
subprocess per configuration; the figure is its peak resident set
(``VmHWM``, reset through ``/proc/self/clear_refs``, or ``ru_maxrss``
where that is unavailable) above the resident set after imports and data.

Sampling: samples per second of ``sample(n)`` (n = 100,000) for wgangp and
torch, against the floor of the generator's forward GEMMs for n rows.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flops  # noqa: E402

LAMBDA_GP = 10.0
LR = 1e-4
SEED = 0
IMPLS = ("wgangp", "jax", "torch", "numpy-ml", "floor")


@dataclass(frozen=True)
class Config:
    name: str
    hidden: int
    batch: int
    data: str  # "8gaussians" (2-D) or "digits" (64-D)
    depth: int = 3
    n_critic: int = 5

    @property
    def data_dim(self) -> int:
        return 2 if self.data == "8gaussians" else 64

    @property
    def latent_dim(self) -> int:
        return self.data_dim  # numpy-ml's noise has the data's shape

    def flops(self) -> int:
        return flops.iteration_flops(
            self.data_dim, self.latent_dim, self.hidden, self.depth, self.batch, self.n_critic
        )

    def gemms(self) -> list[flops.Gemm]:
        return flops.iteration_gemms(
            self.data_dim, self.latent_dim, self.hidden, self.depth, self.batch, self.n_critic
        )


CONFIGS = {
    c.name: c
    for c in [
        Config("h512-b256-2d", hidden=512, batch=256, data="8gaussians"),
        Config("h128-b256-2d", hidden=128, batch=256, data="8gaussians"),
        Config("h512-b128-2d", hidden=512, batch=128, data="8gaussians"),
        Config("h256-b256-64d", hidden=256, batch=256, data="digits"),
        Config("h8-b256-2d", hidden=8, batch=256, data="8gaussians"),
    ]
}
ALL_CONFIGS = ["h512-b256-2d", "h128-b256-2d", "h512-b128-2d", "h256-b256-64d"]
"""What ``--configs all`` (the default) runs. ``h8-b256-2d``, named only, measures
the fixed cost of an iteration: networks so small that the arithmetic is a
small part of the time, and what is left is each implementation's own
per-step work (Python, dispatch, launching compiled code)."""


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- data ------------------------------------------------------------------------------------


def load_data(cfg: Config) -> tuple[np.ndarray, str]:
    """The configuration's data set (float64) and a line saying what it is."""
    rng = np.random.default_rng(SEED)
    if cfg.data == "8gaussians":
        # gan_toy.py's 8gaussians: 8 centres on a circle of radius 2, sd 0.02, scaled by 1/1.414
        angles = np.arange(8) * np.pi / 4
        centres = 2.0 * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        n = 20_000
        X = (centres[rng.integers(0, 8, n)] + 0.02 * rng.standard_normal((n, 2))) / 1.414
        return X, f"8gaussians, {n} rows"
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        X = rng.uniform(-1.0, 1.0, (1797, 64))
        return X, "digits stand-in (scikit-learn missing): uniform [-1, 1], 1797 x 64"
    X = load_digits().data / 8.0 - 1.0  # pixel values 0..16 -> [-1, 1]
    return X, "scikit-learn digits in [-1, 1], 1797 x 64"


# -- the implementations, each behind the same three methods ----------------------------------


class Wgangp:
    name = "wgangp"

    def __init__(self, cfg: Config, X: np.ndarray, args: argparse.Namespace) -> None:
        from wgangp import WGANGP
        from wgangp.threads import TRIAL_ITERATIONS

        self.X = np.ascontiguousarray(X, dtype=np.float32)
        self.model = WGANGP(
            hidden=cfg.hidden,
            depth=cfg.depth,
            batch_size=cfg.batch,
            latent_dim=cfg.latent_dim,
            optimizer=args.optimizer,
            lr=LR,
            n_critic=cfg.n_critic,
            lambda_gp=LAMBDA_GP,
            dtype=np.float32,
            random_state=SEED,
            threads=args.threads or "auto",
        )
        # Under threads="auto" the first iterations of a fit time one BLAS thread
        # against all of them (a warm-up, then TRIAL_ITERATIONS at each count)
        # before the count settles: a start-up cost, run here untimed, as JAX's
        # compilation is in its constructor.
        self.model.fit(self.X, steps=1 + 2 * TRIAL_ITERATIONS)

    def step(self, k: int = 1) -> None:
        self.model.partial_fit(self.X, steps=k)

    def sample(self, n: int) -> None:
        self.model.sample(n)


class _Reference:
    """A reference implementation (``torch_reference``, ``jax_reference``): same
    constructor, ``fit_iterations`` and ``sample``; the first iteration runs
    untimed (JAX compiles there)."""

    name = ""

    @staticmethod
    def model_class():
        raise NotImplementedError

    def __init__(self, cfg: Config, X: np.ndarray, args: argparse.Namespace) -> None:
        self.X = np.ascontiguousarray(X, dtype=np.float32)
        self.model = self.model_class()(
            data_dim=cfg.data_dim,
            latent_dim=cfg.latent_dim,
            hidden=cfg.hidden,
            depth=cfg.depth,
            lambda_gp=LAMBDA_GP,
            n_critic=cfg.n_critic,
            batch_size=cfg.batch,
            optimizer=args.optimizer,
            lr=LR,
            seed=SEED,
            threads=args.threads,
        )
        self.model.fit_iterations(self.X, 1)

    def step(self, k: int = 1) -> None:
        self.model.fit_iterations(self.X, k)

    def sample(self, n: int) -> None:
        self.model.sample(n)


class Torch(_Reference):
    name = "torch"

    @staticmethod
    def model_class():
        from torch_reference import TorchWGANGP

        return TorchWGANGP


class Jax(_Reference):
    name = "jax"

    @staticmethod
    def model_class():
        from jax_reference import JaxWGANGP

        return JaxWGANGP


class NumpyML:
    name = "numpy-ml"

    def __init__(self, cfg: Config, X: np.ndarray, args: argparse.Namespace) -> None:
        from _numpy_ml_compat import NumpyMLRunner, load_wgan_gp

        if cfg.depth != 3:
            raise ValueError(f"numpy-ml's WGAN_GP has depth 3 only, not {cfg.depth}")
        WGAN_GP, note = load_wgan_gp(verbose=False)
        if WGAN_GP is None:
            raise ImportError(note)
        self.runner = NumpyMLRunner(
            WGAN_GP, X, cfg.hidden, cfg.batch, cfg.n_critic, LAMBDA_GP, args.optimizer, LR, SEED
        )
        self.runner.iteration()

    def step(self, k: int = 1) -> None:
        for _ in range(k):
            self.runner.iteration()


class Floor:
    name = "floor"

    def __init__(self, cfg: Config, X: np.ndarray, args: argparse.Namespace) -> None:
        self.cfg = cfg
        self.gemm_pass = flops.GemmPass(cfg.gemms())
        self.gemm_pass.run()
        self._sample_passes: dict[int, flops.GemmPass] = {}

    def step(self, k: int = 1) -> None:
        for _ in range(k):
            self.gemm_pass.run()

    def sample(self, n: int) -> None:
        if n not in self._sample_passes:
            cfg = self.cfg
            gemms = flops.generator_forward_gemms(
                cfg.data_dim, cfg.latent_dim, cfg.hidden, cfg.depth, n
            )
            self._sample_passes = {n: flops.GemmPass(gemms)}
        self._sample_passes[n].run()


RUNNERS = {"wgangp": Wgangp, "jax": Jax, "torch": Torch, "numpy-ml": NumpyML, "floor": Floor}


def build(name: str, cfg: Config, X: np.ndarray, args: argparse.Namespace):
    """``(runner, None)``, or ``(None, reason)`` when it cannot be built or run."""
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            return RUNNERS[name](cfg, X, args), None
    except Exception as exc:  # a missing or broken implementation leaves its column empty
        return None, f"{type(exc).__name__}: {exc}".strip()


# -- timing ------------------------------------------------------------------------------------


CLOCK = time.perf_counter
"""The timer of :func:`interleaved`: wall time, or with ``--clock cpu`` the
process's CPU time (:func:`time.process_time`, every thread's)."""


def interleaved(
    runners: dict, call: str, repeats: int, gap: float, reasons: dict, *a, per: int = 1
) -> dict:
    """Seconds of ``runner.<call>(*a)`` per round, for every runner, rotating the order,
    divided by ``per`` (the iterations one call runs)."""
    times: dict[str, list[float]] = {name: [] for name in runners}
    active = dict(runners)
    for r in range(repeats):
        names = list(active)
        if not names:
            break
        k = r % len(names)
        for name in names[k:] + names[:k]:
            fn = getattr(active[name], call)
            time.sleep(gap)
            try:
                t0 = CLOCK()
                fn(*a)
                times[name].append((CLOCK() - t0) / per)
            except Exception as exc:
                reasons[name] = f"failed while timing: {type(exc).__name__}: {exc}"
                del active[name]
                times[name] = []
    return {name: t for name, t in times.items() if t}


def round_ratios(times: dict, a: str, b: str) -> dict | None:
    """``a``'s time over ``b``'s round by round (the two calls of a round run
    within a second of each other, so a slow spell of the machine that spans
    a round slows both): their median, quartiles, and the rounds where ``a``
    was faster. None unless both ran every round."""
    ta, tb = times.get(a), times.get(b)
    if not ta or not tb or len(ta) != len(tb):
        return None
    ratios = [x / y for x, y in zip(ta, tb)]
    q1, _, q3 = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    return {
        "median": statistics.median(ratios),
        "q1": q1,
        "q3": q3,
        "below_1": sum(r < 1.0 for r in ratios),
        "rounds": len(ratios),
    }


def fmt_round(r: dict | None) -> str:
    """A :func:`round_ratios` result as ``median (q1-q3), k/n < 1``."""
    if r is None:
        return "–"
    return f"{r['median']:.2f} ({r['q1']:.2f}-{r['q3']:.2f}), {r['below_1']}/{r['rounds']} < 1"


# -- peak memory, in a subprocess per implementation --------------------------------------------


def _proc_status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def memory_child(args: argparse.Namespace) -> None:
    """Run in the subprocess: build one implementation, run iterations, print the peak."""
    name, cfg = args._memory[0], CONFIGS[args._memory[1]]
    X, _ = load_data(cfg)
    # import the implementation's libraries before the baseline, so they are not counted
    with contextlib.suppress(Exception), contextlib.redirect_stdout(io.StringIO()):
        if name == "wgangp":
            import wgangp  # noqa: F401
        elif name == "torch":
            import torch_reference  # noqa: F401
        elif name == "jax":
            from jax_reference import set_threads

            set_threads(args.threads)
            import jax  # noqa: F401
        elif name == "numpy-ml":
            from _numpy_ml_compat import load_wgan_gp

            load_wgan_gp(verbose=False)
    try:
        Path("/proc/self/clear_refs").write_text("5")  # reset VmHWM to the current RSS
        reset = True
    except OSError:
        reset = False
    rss_before = _proc_status_kib("VmRSS")
    maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    runner, reason = build(name, cfg, X, args)
    if runner is not None:
        with contextlib.redirect_stdout(io.StringIO()):
            for _ in range(args.memory_iterations):
                runner.step()
    if reset and rss_before is not None:
        peak_kib = (_proc_status_kib("VmHWM") or 0) - rss_before
        method = "VmHWM - VmRSS"
    else:
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - maxrss_before
        method = "ru_maxrss delta"
    print(json.dumps({"mib": peak_kib / 1024, "method": method, "reason": reason}))


def peak_memory(name: str, cfg: Config, args: argparse.Namespace) -> tuple[float | None, str]:
    cmd = [sys.executable, __file__, "--_memory", name, cfg.name, "--optimizer", args.optimizer]
    cmd += ["--memory-iterations", str(args.memory_iterations)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=True)
        result = json.loads(out.stdout.strip().splitlines()[-1])
    except Exception as exc:
        return None, f"memory subprocess failed: {type(exc).__name__}: {exc}"
    if result["reason"]:
        return None, result["reason"]
    return result["mib"], result["method"]


# -- report ------------------------------------------------------------------------------------


def fmt(x: float | None, spec: str = ".4f") -> str:
    return "–" if x is None else format(x, spec)


def ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a / b


def environment(args: argparse.Namespace) -> dict:
    env = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cores": os.cpu_count(),
        "numpy": np.__version__,
        "optimizer": args.optimizer,
        "gap_s": args.gap,
        "iterations_per_call": args.iterations_per_call,
        "clock": args.clock,
        "repeats": args.repeats,
    }
    try:
        import torch

        env["torch"] = torch.__version__
        env["torch_threads"] = args.threads or os.cpu_count()
    except ImportError:
        env["torch"] = None
    from importlib.metadata import PackageNotFoundError, version

    for key, dist in (("jax", "jax"), ("numpy_ml", "numpy-ml")):
        try:
            env[key] = version(dist)
        except PackageNotFoundError:
            env[key] = None
    env["threads"] = args.threads or "library defaults"
    from wgangp import kernels

    env["wgangp_kernels"] = kernels.status()  # "numba", or why the NumPy passes run alone
    if hasattr(os, "sched_getaffinity"):
        env["cores_pinned"] = sorted(os.sched_getaffinity(0))
    env["xla_flags"] = os.environ.get("XLA_FLAGS", "")
    try:
        from threadpoolctl import threadpool_info

        env["thread_pools"] = [
            f"{p.get('prefix')} ({p.get('internal_api')} {p.get('version') or '?'}): "
            f"{p.get('num_threads')} threads"
            for p in threadpool_info()
        ]
    except ImportError:
        pass
    return env


def run_config(cfg: Config, args: argparse.Namespace, impls: list[str]) -> dict:
    X, data_note = load_data(cfg)
    log(f"[{cfg.name}] data: {data_note}; building {', '.join(impls)}")
    runners, reasons = {}, {}
    for name in impls:
        runner, reason = build(name, cfg, X, args)
        if runner is None:
            reasons[name] = reason
            log(f"[{cfg.name}] {name}: column empty ({reason})")
        else:
            runners[name] = runner
    for _ in range(args.warmup):  # one more untimed iteration each (first-call costs)
        for name, runner in list(runners.items()):
            try:
                runner.step()
            except Exception as exc:
                reasons[name] = f"failed in warm-up: {type(exc).__name__}: {exc}"
                del runners[name]
    log(f"[{cfg.name}] timing {args.repeats} interleaved rounds")
    k = args.iterations_per_call
    times = interleaved(runners, "step", args.repeats, args.gap, reasons, k, per=k)
    median = {name: statistics.median(t) for name, t in times.items()}
    result = {
        "config": asdict(cfg),
        "data": data_note,
        "flops": cfg.flops(),
        "seconds": times,
        "median_s": median,
        "round_ratios": {
            other: round_ratios(times, "wgangp", other) for other in ("jax", "torch", "floor")
        },
        "reasons": reasons,
    }
    floor = median.get("floor")
    result["gemm_gflops"] = None if floor is None else cfg.flops() / floor / 1e9

    memory, memory_notes = {}, {}
    if not args.no_memory:
        for name in impls:
            if name == "floor" or name in reasons and name not in runners:
                continue
            log(f"[{cfg.name}] peak memory: {name} ({args.memory_iterations} iterations)")
            memory[name], memory_notes[name] = peak_memory(name, cfg, args)
    result["peak_mib"], result["peak_notes"] = memory, memory_notes

    sampling = {}
    if not args.no_sampling:
        samplers = {n: r for n, r in runners.items() if hasattr(r, "sample")}
        log(f"[{cfg.name}] sampling n={args.sample_n}: {', '.join(samplers)}")
        for r in samplers.values():
            r.sample(args.sample_n)  # warm-up, builds the floor's buffers
        s_times = interleaved(
            samplers, "sample", args.sample_repeats, args.gap, reasons, args.sample_n
        )
        sampling = {n: args.sample_n / statistics.median(t) for n, t in s_times.items()}
    result["samples_per_s"] = sampling
    return result


def print_report(results: list[dict], env: dict, notes: list[str]) -> None:
    clock = "CPU seconds" if env.get("clock") == "cpu" else "s"
    print(
        f"## WGAN-GP iteration time (median {clock}/iteration; 5 critic steps + 1 generator step)\n"
    )
    print(
        "| config | GFLOP/iter | wgangp | jax | torch | numpy-ml (f64) | floor | GEMM GFLOP/s "
        "| wgangp/jax | wgangp/torch | wgangp/floor | jax/floor | torch/floor | numpy-ml/wgangp "
        "| peak MiB wgangp / jax / torch / numpy-ml |"
    )
    print("| --- " * 15 + "|")
    for r in results:
        m = r["median_s"]
        mem = " / ".join(
            fmt(r["peak_mib"].get(n), ".0f") for n in ("wgangp", "jax", "torch", "numpy-ml")
        )
        print(
            f"| {r['config']['name']} | {r['flops'] / 1e9:.2f} | {fmt(m.get('wgangp'))} "
            f"| {fmt(m.get('jax'))} | {fmt(m.get('torch'))} | {fmt(m.get('numpy-ml'))} "
            f"| {fmt(m.get('floor'))} | {fmt(r['gemm_gflops'], '.1f')} "
            f"| {fmt(ratio(m.get('wgangp'), m.get('jax')), '.2f')} "
            f"| {fmt(ratio(m.get('wgangp'), m.get('torch')), '.2f')} "
            f"| {fmt(ratio(m.get('wgangp'), m.get('floor')), '.2f')} "
            f"| {fmt(ratio(m.get('jax'), m.get('floor')), '.2f')} "
            f"| {fmt(ratio(m.get('torch'), m.get('floor')), '.2f')} "
            f"| {fmt(ratio(m.get('numpy-ml'), m.get('wgangp')), '.1f')} | {mem} |"
        )
    print(
        "\n## The same ratios round by round\n\n"
        "Each round times every implementation once, one call after another; the ratio of "
        "two calls of one round, its median over the rounds, the middle half of the "
        "rounds in brackets, and the rounds where wgangp took less time.\n\n"
        "| config | wgangp/jax | wgangp/torch | wgangp/floor |\n| --- | --- | --- | --- |"
    )
    for r in results:
        rr = r["round_ratios"]
        print(
            f"| {r['config']['name']} | {fmt_round(rr.get('jax'))} "
            f"| {fmt_round(rr.get('torch'))} | {fmt_round(rr.get('floor'))} |"
        )
    if any(r["samples_per_s"] for r in results):
        n = results[0].get("sample_n")
        print(f"\n## Sampling throughput, sample(n) with n = {n} (samples/s)\n")
        print(
            "| config | wgangp | jax | torch | floor | wgangp/floor |\n"
            "| --- | --- | --- | --- | --- | --- |"
        )
        for r in results:
            s = r["samples_per_s"]
            print(
                f"| {r['config']['name']} | {fmt(s.get('wgangp'), ',.0f')} "
                f"| {fmt(s.get('jax'), ',.0f')} | {fmt(s.get('torch'), ',.0f')} "
                f"| {fmt(s.get('floor'), ',.0f')} "
                f"| {fmt(ratio(s.get('wgangp'), s.get('floor')), '.2f')} |"
            )
    print("\n## Notes\n")
    for r in results:
        for name, reason in r["reasons"].items():
            print(f"* {r['config']['name']}: `{name}` column empty: {reason}")
        for name, note in r["peak_notes"].items():
            if r["peak_mib"].get(name) is None:
                print(f"* {r['config']['name']}: `{name}` peak memory empty: {note}")
    for note in notes:
        print(f"* {note}")
    print("* environment: " + ", ".join(f"{k}={v}" for k, v in env.items()))


def limit_threads(threads: int | None) -> None:
    """Give every library ``threads`` threads for the rest of the process: XLA now
    (before jax is imported), BLAS through threadpoolctl, torch in its runner.

    Fewer threads than cores also pins the process to ``threads`` cores
    (``os.sched_setaffinity``): XLA's CPU runtime keeps a thread pool of every
    core whatever ``XLA_FLAGS`` say (measured here: jax 0.10.2 with
    ``--xla_cpu_multi_thread_eigen=false`` used 1.94 CPU seconds per wall
    second at hidden 512), so a thread count alone would time JAX on two
    cores against the others on one. Pinned, every column gets the same cores.
    """
    if threads is None:
        return
    if hasattr(os, "sched_setaffinity"):
        cores = sorted(os.sched_getaffinity(0))
        if threads < len(cores):
            os.sched_setaffinity(0, cores[:threads])
    from jax_reference import set_threads

    set_threads(threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads, user_api="blas")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="few repeats, small sampling: a smoke test")
    p.add_argument(
        "--configs",
        default="all",
        help=f"comma-separated, from {list(CONFIGS)} (all: {ALL_CONFIGS})",
    )
    p.add_argument("--impls", default=",".join(IMPLS), help=f"comma-separated, from {IMPLS}")
    p.add_argument("--repeats", type=int, default=None, help="timed rounds (default 20; quick 3)")
    p.add_argument("--warmup", type=int, default=1, help="untimed iterations after the first")
    p.add_argument("--gap", type=float, default=0.3, help="idle seconds before each timed call")
    p.add_argument(
        "--iterations-per-call",
        type=int,
        default=1,
        metavar="K",
        help="iterations each timed call runs back to back (default 1); the time is divided "
        "by K. K > 1 times training as it runs (one iteration after another) rather than "
        "one iteration started cold after the gap",
    )
    p.add_argument("--optimizer", default="rmsprop", choices=["rmsprop", "adam", "adam-paper"])
    p.add_argument(
        "--threads",
        type=int,
        default=None,
        help="threads for every implementation: BLAS, torch, XLA (default: each library's own)",
    )
    p.add_argument(
        "--clock",
        default="wall",
        choices=["wall", "cpu"],
        help="wall time (default), or the process's CPU time: on a shared, busy machine "
        "other processes inflate it far less; meant for --threads 1",
    )
    p.add_argument("--sample-n", type=int, default=None, help="rows per sample() (100000)")
    p.add_argument("--sample-repeats", type=int, default=None)
    p.add_argument("--memory-iterations", type=int, default=None)
    p.add_argument("--no-memory", action="store_true", help="skip the peak-memory subprocesses")
    p.add_argument("--no-sampling", action="store_true")
    p.add_argument("--json", metavar="PATH", help="also write every measurement here")
    p.add_argument("--_memory", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.iterations_per_call < 1:
        p.error(f"--iterations-per-call must be at least 1, not {args.iterations_per_call}")
    quick = args.quick
    args.repeats = args.repeats or (3 if quick else 20)
    args.sample_n = args.sample_n or (20_000 if quick else 100_000)
    args.sample_repeats = args.sample_repeats or (2 if quick else 5)
    args.memory_iterations = args.memory_iterations or (2 if quick else 3)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args._memory:
        limit_threads(args.threads)
        memory_child(args)
        return
    names = ALL_CONFIGS if args.configs == "all" else args.configs.split(",")
    unknown = [n for n in names if n not in CONFIGS]
    impls = args.impls.split(",")
    if unknown or any(i not in IMPLS for i in impls):
        sys.exit(f"unknown config or implementation; configs: {list(CONFIGS)}, impls: {IMPLS}")

    limit_threads(args.threads)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    notes = []
    load_start = os.getloadavg()[0]
    if load_start > 0.5:
        notes.append(
            f"the machine was busy when this run started (1-minute load average "
            f"{load_start:.2f} on {os.cpu_count()} cores): other processes share the cores, "
            "so times are inflated and the torch column most of all (its OpenMP threads "
            "wait for each other); rerun on a quiet machine before quoting these numbers"
        )
    if "numpy-ml" in impls:
        from _numpy_ml_compat import load_wgan_gp

        WGAN_GP, note = load_wgan_gp(verbose=True)  # says on stdout whether it applied the fix
        notes.append(note)
        if WGAN_GP is not None:
            notes.append(
                "numpy-ml runs float64, latent = data dim, RMSProp(lr=1e-4, decay=0.9, "
                "eps=1e-7); its generator step does no arithmetic (a bug in 0.1.2: "
                "flush_gradients empties the cached inputs before backward, so its "
                "generator never learns): its time is 5 critic steps only"
            )
    env = environment(args)
    env["load_average_start"] = round(load_start, 2)
    results = []
    for name in names:
        result = run_config(CONFIGS[name], args, impls)
        result["sample_n"] = args.sample_n
        results.append(result)
    env["load_average_end"] = round(os.getloadavg()[0], 2)  # includes this run's own load
    print_report(results, env, notes)
    if args.json:
        Path(args.json).write_text(json.dumps({"environment": env, "results": results}, indent=1))
        log(f"wrote {args.json}")


if __name__ == "__main__":
    main()
