"""Quality on the WGAN-GP paper's toy sets: wgangp against the PyTorch reference.

Three questions, each answered by a markdown table (medians over seeds, with
the range over seeds in brackets, so "within seed noise" can be read off):

1. *Equal iterations.* wgangp and ``torch_reference.TorchWGANGP`` with the
   same math and settings (architecture, He-uniform init, optimizer, lr,
   lambda, n_critic, batch, latent 2, data as is: ``scale=None``) and the
   same seeds train for the same number of iterations. Their scores must
   agree within seed noise. The two libraries draw their random numbers
   differently, so a seed gives the same *distribution* of runs, not the same
   run.
2. *Equal wall-clock budget.* The same pairs train for the same number of
   seconds, interleaved (wgangp, torch, wgangp, ...) so that load on the
   machine hits both alike; more iterations per second should show as better
   scores.
3. *Presets* (``--presets``): ``wgangp.presets.TOY_PRESETS`` trained as
   ``wgangp train --data NAME`` would, scored against the goal in
   BENCHMARKS.md.

Scores, as in VEEGAN and PacGAN (``wgangp.metrics.mode_stats``), on 2,500
samples: modes captured, % high quality (within 3 sd of the nearest centre),
reverse KL of the high-quality samples over modes against uniform; and the
exact W1 (optimal matching) of 2,000 generated against 2,000 fresh real
points. A "real data" row scores a real sample the same way: the ceiling.

Both implementations run on ``--threads`` threads (default 1: the toy sizes
are too small for a second thread to pay, and the machine is shared).

Usage::

    python benchmarks/toy_quality.py                       # default: ~10-15 min
    python benchmarks/toy_quality.py --iterations 200 --seeds 1 --budget 5
    python benchmarks/toy_quality.py --presets --seeds 3 --skip-compare
    python benchmarks/toy_quality.py --json results.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

DATASETS = ("8gaussians", "25gaussians", "swissroll")

COMPARE = {
    "hidden": 128,
    "depth": 3,
    "lambda_gp": 0.1,
    "n_critic": 5,
    "batch_size": 256,
    "optimizer": "adam-toy",
    "lr": 1e-3,
}
"""Settings of the side-by-side runs (wgangp names; ``TORCH_OPTIMIZER`` maps the optimizer)."""

TORCH_OPTIMIZER = {"adam-toy": "adam", "adam": "adam-paper", "rmsprop": "rmsprop"}
"""wgangp optimizer name -> the reference's name for the same update rule."""

N_TRAIN = 100_000
N_MODE_SAMPLES = 2_500
N_W1_SAMPLES = 2_000


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--datasets", default=",".join(DATASETS), help="comma-separated")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0 .. N-1 (default 3)")
    parser.add_argument(
        "--iterations", type=int, default=300, help="equal-iterations runs (default 300)"
    )
    parser.add_argument(
        "--budget", type=float, default=15.0, help="equal-budget seconds per run (default 15)"
    )
    parser.add_argument("--hidden", type=int, default=COMPARE["hidden"])
    parser.add_argument("--lambda-gp", type=float, default=COMPARE["lambda_gp"])
    parser.add_argument("--lr", type=float, default=COMPARE["lr"])
    parser.add_argument("--n-critic", type=int, default=COMPARE["n_critic"])
    parser.add_argument("--batch-size", type=int, default=COMPARE["batch_size"])
    parser.add_argument(
        "--optimizer", default=COMPARE["optimizer"], choices=sorted(TORCH_OPTIMIZER)
    )
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-compare", action="store_true", help="no side-by-side runs")
    parser.add_argument("--presets", action="store_true", help="also train the toy presets")
    parser.add_argument("--json", type=Path, help="write every run's scores here")
    args = parser.parse_args(argv)
    args.datasets = [d.strip() for d in args.datasets.split(",") if d.strip()]
    unknown = sorted(set(args.datasets) - set(DATASETS))
    if unknown:
        parser.error(f"unknown datasets {unknown}; choose from {list(DATASETS)}")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    # Thread counts must be fixed before NumPy (OpenBLAS) and torch load.
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    bench = Bench(args)
    bench.run()
    return 0


class Bench:
    """Runs, scores and tabulates; heavy imports happen here, after the thread setup."""

    def __init__(self, args: argparse.Namespace):
        import numpy as np
        import torch

        import wgangp
        from torch_reference import TorchWGANGP
        from wgangp import presets
        from wgangp.data import toy
        from wgangp.metrics import toy_metrics

        torch.set_num_threads(args.threads)
        self.np, self.torch = np, torch
        self.wgangp, self.presets = wgangp, presets
        self.TorchWGANGP, self.toy, self.toy_metrics = TorchWGANGP, toy, toy_metrics
        self.args = args
        self.settings = {
            "hidden": args.hidden,
            "depth": COMPARE["depth"],
            "lambda_gp": args.lambda_gp,
            "n_critic": args.n_critic,
            "batch_size": args.batch_size,
            "optimizer": args.optimizer,
            "lr": args.lr,
        }
        self.records: list[dict] = []

    # -- training ------------------------------------------------------------------------

    def _wgangp(self, seed: int):
        s = self.settings
        return self.wgangp.WGANGP(
            hidden=s["hidden"],
            depth=s["depth"],
            optimizer=s["optimizer"],
            lr=s["lr"],
            lambda_gp=s["lambda_gp"],
            n_critic=s["n_critic"],
            batch_size=s["batch_size"],
            latent_dim=2,
            scale=None,
            random_state=seed,
        )

    def _torch(self, seed: int):
        s = self.settings
        return self.TorchWGANGP(
            data_dim=2,
            latent_dim=2,
            hidden=s["hidden"],
            depth=s["depth"],
            lambda_gp=s["lambda_gp"],
            n_critic=s["n_critic"],
            batch_size=s["batch_size"],
            optimizer=TORCH_OPTIMIZER[s["optimizer"]],
            lr=s["lr"],
            seed=seed,
            threads=self.args.threads,
        )

    def train(self, impl: str, X, seed: int, steps: int | None, budget: float | None):
        """Train one run for ``steps`` iterations or ``budget`` seconds; (sampler, its, s)."""
        if impl == "wgangp":
            model = self._wgangp(seed)
            callbacks = [] if budget is None else [_StopAfter(budget)]
            start = time.perf_counter()
            model.fit(X, steps=steps or 10**9, callbacks=callbacks)
            seconds = time.perf_counter() - start
            return (lambda n: model.sample(n, random_state=seed + 1)), model.n_iter_, seconds
        model = self._torch(seed)
        start = time.perf_counter()
        done = 0
        while (steps is not None and done < steps) or (
            budget is not None and time.perf_counter() - start < budget
        ):
            model.fit_iterations(X, 1)
            done += 1
        seconds = time.perf_counter() - start
        return model.sample, done, seconds

    # -- scoring -------------------------------------------------------------------------

    def score(self, name: str, sample, seed: int) -> dict:
        samples = self.np.asarray(sample(N_MODE_SAMPLES), dtype=self.np.float64)
        real = self.toy(name, N_W1_SAMPLES, random_state=10_000 + seed)
        scores = self.toy_metrics(samples, name, random_state=seed)  # modes on 2,500
        scores["w1"] = self.toy_metrics(samples[:N_W1_SAMPLES], "swissroll", real=real)["w1"]
        scores.pop("counts", None)
        return scores

    def run_pair(self, section: str, name: str, seed: int, steps=None, budget=None) -> None:
        X = self.toy(name, N_TRAIN, random_state=seed)
        for impl in ("wgangp", "torch"):
            sample, iterations, seconds = self.train(impl, X, seed, steps, budget)
            record = {
                "section": section,
                "dataset": name,
                "implementation": impl,
                "seed": seed,
                "iterations": iterations,
                "seconds": seconds,
                **self.score(name, sample, seed),
            }
            self.records.append(record)
            _log(record)

    def run_presets(self, name: str, seed: int) -> None:
        if name not in self.presets.TOY_PRESETS:
            return
        model, steps, callbacks = self.presets.build_preset(name, random_state=seed)
        X = self.toy(name, N_TRAIN, random_state=seed)
        start = time.perf_counter()
        model.fit(X, steps=steps, callbacks=callbacks)
        seconds = time.perf_counter() - start
        record = {
            "section": "presets",
            "dataset": name,
            "implementation": "wgangp preset",
            "seed": seed,
            "iterations": model.n_iter_,
            "seconds": seconds,
            **self.score(name, lambda n: model.sample(n, random_state=seed + 1), seed),
        }
        self.records.append(record)
        _log(record)

    def real_rows(self) -> None:
        for name in self.args.datasets:
            for seed in range(self.args.seeds):
                real = self.toy(name, N_MODE_SAMPLES, random_state=20_000 + seed)
                record = {
                    "section": "real",
                    "dataset": name,
                    "implementation": "real data",
                    "seed": seed,
                    "iterations": 0,
                    "seconds": 0.0,
                    **self.score(name, lambda n, real=real: real[:n], seed),
                }
                self.records.append(record)

    # -- the whole run -------------------------------------------------------------------

    def run(self) -> None:
        args = self.args
        header = _machine_line(self.np, self.torch, args.threads)
        print(header, file=sys.stderr, flush=True)
        self.real_rows()
        if not args.skip_compare:
            for name in args.datasets:
                for seed in range(args.seeds):
                    self.run_pair("iterations", name, seed, steps=args.iterations)
                    self.run_pair("budget", name, seed, budget=args.budget)
        if args.presets:
            for name in args.datasets:
                for seed in range(args.seeds):
                    self.run_presets(name, seed)

        s = self.settings
        settings = (
            f"hidden {s['hidden']} x depth {s['depth']}, batch {s['batch_size']}, "
            f"n_critic {s['n_critic']}, lambda {s['lambda_gp']}, {s['optimizer']} "
            f"(torch: {TORCH_OPTIMIZER[s['optimizer']]}) lr {s['lr']}, latent 2, scale=None, "
            f"{args.seeds} seeds, {args.threads} thread(s)"
        )
        out = [f"\n{header}\n"]
        if not args.skip_compare:
            out.append(f"### Equal iterations ({args.iterations}): {settings}\n")
            out.append(_table(self.records, ("real", "iterations"), args.datasets))
            out.append(f"\n### Equal wall-clock budget ({args.budget:g} s per run): {settings}\n")
            out.append(_table(self.records, ("real", "budget"), args.datasets))
        if args.presets:
            out.append(
                f"\n### Presets (wgangp.presets.TOY_PRESETS), {args.seeds} seeds, "
                f"{args.threads} thread(s)\n"
            )
            out.append(_table(self.records, ("real", "presets"), args.datasets))
            out.append("\nGoal (BENCHMARKS.md): " + _goal_line(self.presets))
        print("\n".join(out), flush=True)
        if args.json:
            args.json.write_text(
                json.dumps({"machine": header, "settings": s, "runs": self.records}, indent=1)
            )


class _StopAfter:
    """Callback: stop training once ``seconds`` of wall time have passed."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def on_train_begin(self, model) -> None:
        self.start = time.perf_counter()

    def on_iteration_end(self, model, iteration: int, record: dict) -> None:
        if time.perf_counter() - self.start >= self.seconds:
            model.stop_training = True

    def on_train_end(self, model) -> None:
        pass


def _log(record: dict) -> None:
    keys = ("section", "dataset", "implementation", "seed", "iterations")
    head = " ".join(str(record[k]) for k in keys)
    tail = " ".join(
        f"{k}={record[k]:.4g}"
        for k in ("seconds", "modes_captured", "high_quality", "reverse_kl", "w1")
        if k in record
    )
    print(f"  {head} {tail}", file=sys.stderr, flush=True)


def _cell(values: list[float], fmt: str) -> str:
    if not values:
        return "-"
    med = statistics.median(values)
    if len(values) == 1:
        return format(med, fmt)
    return f"{format(med, fmt)} [{format(min(values), fmt)}-{format(max(values), fmt)}]"


def _table(records: list[dict], sections: tuple[str, ...], datasets: list[str]) -> str:
    lines = [
        "| dataset | run | iterations | train s | modes | high quality % | reverse KL | W1 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name in datasets:
        for section in sections:
            for impl in ("real data", "wgangp", "torch", "wgangp preset"):
                rows = [
                    r
                    for r in records
                    if r["dataset"] == name
                    and r["section"] == section
                    and r["implementation"] == impl
                ]
                if not rows:
                    continue
                col = lambda key, rows=rows: [r[key] for r in rows if key in r]  # noqa: E731
                modes = col("modes_captured")
                n_modes = rows[0].get("n_modes")
                lines.append(
                    "| "
                    + " | ".join(
                        [
                            name,
                            impl,
                            _cell(col("iterations"), ".0f") if section != "real" else "-",
                            _cell(col("seconds"), ".1f") if section != "real" else "-",
                            f"{_cell(modes, '.0f')} / {n_modes}" if modes else "-",
                            _cell([100 * v for v in col("high_quality")], ".1f") if modes else "-",
                            _cell(col("reverse_kl"), ".3f") if modes else "-",
                            _cell(col("w1"), ".3f"),
                        ]
                    )
                    + " |"
                )
    return "\n".join(lines)


def _goal_line(presets) -> str:
    return "; ".join(
        f"{name}: {g['modes']}/{g['modes']} modes, >= {g['high_quality']}% high quality, "
        f"reverse KL <= {g['reverse_kl']}"
        for name, g in presets.TOY_GOALS.items()
    )


def _machine_line(np, torch, threads: int) -> str:
    try:
        load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        load = "n/a"
    return (
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}; "
        f"{threads} thread(s) per run; load average at start {load}; "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
