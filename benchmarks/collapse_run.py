"""Does wgangp collapse where the PyTorch reference did? 25gaussians, the paper's toy settings.

Usage::

    python benchmarks/collapse_run.py                       # ~1-3 minutes on 2 cores
    python benchmarks/collapse_run.py --out /tmp/collapse --fixture tests/data/x.jsonl
    python benchmarks/collapse_run.py --replot --out /tmp/collapse   # figure only

A PyTorch reference on this machine (hidden 128, batch 256, Adam 1e-4 with
betas (0.5, 0.9), lambda 10, 5 critic steps) covered 14 of 25 modes after
1000 iterations and collapsed to a single streak by 3000. This script runs
wgangp with the same settings (``optimizer="adam-toy"``, data used as is, a
fixed set of 100,000 points like the paper's ``gan_toy.py``) and records:

* mode coverage (:func:`wgangp.metrics.mode_stats`, 2,500 samples) every
  ``--eval-every`` iterations, printed and written to ``modes.json``;
* the full history (``history.jsonl`` in the run folder) and samples at the
  evaluation points (``samples_<iteration>.npy``);
* a compact copy of the history (every ``--fixture-every``-th record, only the
  keys :func:`wgangp.diagnose` reads) for the test suite, with ``--fixture``;
* ``wgangp.diagnose(history)`` on the full history, printed;
* a figure (``history.png``: losses, W estimate, penalty, gradient norms,
  modes; and the samples at three iterations) when matplotlib is installed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import wgangp
from wgangp.data import toy, toy_modes
from wgangp.diagnose import WATCHED
from wgangp.metrics import mode_stats
from wgangp.monitor import read_history

FIXTURE_KEYS = ("iteration", *WATCHED)  # the metrics diagnose reads


class ModeTracker(wgangp.Callback):
    """Mode coverage of 2,500 samples every ``every`` iterations (fixed noise)."""

    def __init__(self, every: int, out: Path):
        self.every = every
        self.out = out
        self.centres, self.sd = toy_modes("25gaussians")
        self.rows: list[dict] = []

    def on_iteration_end(self, model, iteration, record):
        if iteration % self.every:
            return
        samples = model.sample(2500, random_state=12345)
        stats = mode_stats(samples, self.centres, self.sd)
        row = {
            "iteration": iteration,
            "modes_captured": stats["modes_captured"],
            "high_quality": round(stats["high_quality"], 4),
            "reverse_kl": round(stats["reverse_kl"], 4),
            "spread": [round(float(s), 4) for s in samples.std(axis=0)],
        }
        self.rows.append(row)
        np.save(self.out / f"samples_{iteration}.npy", samples.astype(np.float32))
        print(
            f"iter {iteration:5d}  modes {row['modes_captured']:2d}/25  "
            f"high quality {100 * row['high_quality']:5.1f}%  reverse KL {row['reverse_kl']:.3f}  "
            f"W {record['wasserstein']:.3f}  penalty {record['penalty']:.3f}  "
            f"G loss {record['generator_loss']:.3f}",
            flush=True,
        )


def plot(out: Path) -> Path | None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed; no figure (pip install wgangp[plot])")
        return None
    history = read_history(out / "history.jsonl")
    modes = json.loads((out / "modes.json").read_text())
    findings = wgangp.diagnose(history)
    it = np.array([r["iteration"] for r in history])

    def col(key):
        return np.array([r[key] for r in history], dtype=float)

    def smooth(y, k=25):
        if len(y) < k:
            return y
        return np.convolve(y, np.ones(k) / k, mode="same")

    fig = plt.figure(figsize=(15, 8.5))
    grid = fig.add_gridspec(2, 4)
    panels = [
        ("wasserstein", "W estimate"),
        ("generator_loss", "generator loss"),
        ("penalty", "penalty term"),
        ("grad_norm_mean", "critic grad norm at interpolates (mean)"),
    ]
    for j, (key, title) in enumerate(panels):
        ax = fig.add_subplot(grid[0, j])
        y = col(key)
        ax.plot(it, y, lw=0.4, alpha=0.5, color="C0")
        ax.plot(it, smooth(y), lw=1.2, color="C0")
        if key == "grad_norm_mean":
            ax.fill_between(it, col("grad_norm_min"), col("grad_norm_max"), alpha=0.15)
            ax.axhline(1.0, color="k", lw=0.6, ls="--")
        for f in findings:
            if f.iterations:
                ax.axvspan(min(f.iterations), max(f.iterations), color="C3", alpha=0.07)
        ax.set_title(title)
        ax.set_xlabel("iteration")
    ax = fig.add_subplot(grid[1, 0])
    ax.plot([m["iteration"] for m in modes], [m["modes_captured"] for m in modes], "o-")
    ax.set_ylim(0, 26)
    ax.set_title("modes captured (of 25)")
    ax.set_xlabel("iteration")
    centres, _ = toy_modes("25gaussians")
    shown = [m["iteration"] for m in modes]
    shown = [s for s in (1000, 2000, 3000) if s in shown] or shown[-3:]
    for j, s in enumerate(shown[:3]):
        ax = fig.add_subplot(grid[1, j + 1])
        samples = np.load(out / f"samples_{s}.npy")
        ax.scatter(centres[:, 0], centres[:, 1], s=30, c="k", marker="x")
        ax.scatter(samples[:, 0], samples[:, 1], s=1, alpha=0.3)
        m = next(m for m in modes if m["iteration"] == s)
        ax.set_title(f"samples at {s}: {m['modes_captured']}/25 modes")
        ax.set_xlim(-2, 2)
        ax.set_ylim(-2, 2)
        ax.set_aspect("equal")
    names = ", ".join(f.name for f in findings) or "none"
    fig.suptitle(f"wgangp on 25gaussians (hidden 128, batch 256, adam-toy 1e-4): diagnose: {names}")
    fig.tight_layout()
    path = out / "history.png"
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--out", default="/tmp/wgangp_collapse")
    parser.add_argument("--fixture", default=None, help="write the compact history here")
    parser.add_argument("--fixture-every", type=int, default=5)
    parser.add_argument("--replot", action="store_true", help="only redraw the figure")
    args = parser.parse_args(argv)
    out = Path(args.out)
    if args.replot:
        print("diagnose:")
        print(wgangp.format_findings(wgangp.diagnose(read_history(out / "history.jsonl"))))
        print(f"figure: {plot(out)}")
        return 0
    out.mkdir(parents=True, exist_ok=True)

    X = toy("25gaussians", 100_000, random_state=args.seed)
    model = wgangp.WGANGP(
        hidden=128,
        depth=3,
        batch_size=256,
        optimizer="adam-toy",
        lr=args.lr,
        lambda_gp=10.0,
        n_critic=5,
        scale=None,
        random_state=args.seed,
    )
    tracker = ModeTracker(args.eval_every, out)
    start = time.perf_counter()
    try:
        model.fit(X, steps=args.steps, callbacks=[tracker], run_dir=out / "run")
    except wgangp.TrainingDiverged as exc:
        print(f"diverged: {exc}")
    elapsed = time.perf_counter() - start
    history = read_history(out / "run" / "history.jsonl")
    (out / "history.jsonl").write_text((out / "run" / "history.jsonl").read_text())
    (out / "modes.json").write_text(json.dumps(tracker.rows, indent=1))
    print(f"\n{args.steps} iterations in {elapsed:.0f} s ({elapsed / args.steps:.4f} s/iter)")
    for m in tracker.rows:
        if m["iteration"] in (1000, 2000, 3000):
            print(f"modes at {m['iteration']}: {m['modes_captured']}/25")
    if args.fixture:
        compact = [
            {k: r[k] for k in FIXTURE_KEYS if k in r}
            for r in history
            if r["iteration"] % args.fixture_every == 0
        ]
        path = Path(args.fixture)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as fh:
            for r in compact:
                fh.write(json.dumps({k: _round(v) for k, v in r.items()}) + "\n")
        print(f"\nfixture: {path} ({path.stat().st_size / 1024:.0f} KB, {len(compact)} records)")
    print("\ndiagnose:")
    findings = wgangp.diagnose(history)
    print(wgangp.format_findings(findings))
    fig = plot(out)
    if fig:
        print(f"figure: {fig}")
    return 0


def _round(v):
    return float(f"{v:.6g}") if isinstance(v, float) else v


if __name__ == "__main__":
    sys.exit(main())
