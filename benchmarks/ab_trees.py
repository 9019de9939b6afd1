"""Two source trees of wgangp in one process: CPU and wall seconds per iteration, A against B.

Usage::

    git archive <base commit> src | tar -x -C /tmp/base
    OPENBLAS_NUM_THREADS=1 python benchmarks/ab_trees.py /tmp/base/src src --hidden 128 \\
        --batch 256 --iters 5 --rounds 30

Each tree's ``wgangp`` package is copied under another name (``wgangp_a``,
``wgangp_b``; the package imports itself relatively), both models are built
from the same seed, and rounds of ``partial_fit(X, steps=iters)`` alternate
A B, B A, ... On a machine shared with other jobs the wall clock varies
several-fold from run to run; the CPU time of this process
(``time.process_time``) and the interleaving keep the comparison fair. Pass
the same tree twice for an A/A run: the noise of the measurement. Prints the
medians, their ratios, and whether both trees ended with the same
parameters bit for bit; then the B/A ratio round by round (the two calls of
a round see the same state of the machine), its median, the middle half of
the rounds and how many rounds B won. Differences of about 1% need many
short rounds (``--iters 2 --rounds 400``) and an A/A run beside them.
``--gap 0.3 --iters 1`` times calls that start cold, after a pause, as
``step_time.py`` times every implementation: what a change saves there can
differ from what it saves in a hot loop.

``--estimator tabular`` times a ``TabularSynthesizer`` at its defaults
instead (``--hidden`` and ``--batch`` are then ignored) on a fixed table of
5,000 rows: four continuous columns (normal, log-normal, bimodal, integer
counts) and three discrete ones (3, 6 and 12 categories, skewed)::

    OPENBLAS_NUM_THREADS=1 python benchmarks/ab_trees.py /tmp/base/src src \
        --estimator tabular --iters 5 --rounds 20

``--estimator translator`` times a ``Translator`` at its defaults (arrays
of 4,000 rows x 8 columns in each domain, 64 known pairs).
"""

from __future__ import annotations

import argparse
import importlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("tree_a", help="a src/ folder holding wgangp/")
    p.add_argument("tree_b")
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--iters", type=int, default=5, help="iterations per round")
    p.add_argument("--rounds", type=int, default=30)
    p.add_argument("--estimator", choices=("wgangp", "tabular", "translator"), default="wgangp")
    p.add_argument(
        "--gap",
        type=float,
        default=0.0,
        help="seconds of sleep before each timed call (untimed): calls that start cold, "
        "as in step_time.py",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS threads of both models (threads=N; default 1)",
    )
    args = p.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="wgangp-ab-"))
    for name, tree in (("wgangp_a", args.tree_a), ("wgangp_b", args.tree_b)):
        # without caches: compiled kernels cached under one package name do not load under another
        shutil.copytree(
            Path(tree) / "wgangp", root / name, ignore=shutil.ignore_patterns("__pycache__")
        )
    sys.path.insert(0, str(root))
    packages = {"A": importlib.import_module("wgangp_a"), "B": importlib.import_module("wgangp_b")}
    if args.estimator == "tabular":
        X = _table()
        models = {
            key: pkg.TabularSynthesizer(random_state=0, threads=args.threads).fit(X, steps=2)
            for key, pkg in packages.items()
        }
        label = "tabular-defaults"
    elif args.estimator == "translator":
        rng = np.random.default_rng(0)
        A = rng.normal(size=(4000, 8))
        B = rng.normal(loc=1.0, size=(4000, 8)) @ rng.normal(size=(8, 8))
        pairs = (np.arange(64), B[:64])
        models = {
            key: pkg.Translator(random_state=0, threads=args.threads).fit(
                A, B, steps=2, pairs=pairs
            )
            for key, pkg in packages.items()
        }
        X = (A, B, pairs)
        label = "translator-defaults"
    else:
        X = np.random.default_rng(0).normal(size=(20000, 2)).astype(np.float32)
        models = {
            key: pkg.WGANGP(
                hidden=args.hidden,
                batch_size=args.batch,
                latent_dim=2,
                random_state=0,
                threads=args.threads,
            ).fit(X, steps=2)
            for key, pkg in packages.items()
        }
        label = f"h{args.hidden}-b{args.batch}"
    cpu = {key: [] for key in models}
    wall = {key: [] for key in models}
    for r in range(args.rounds):
        for key in ("A", "B") if r % 2 == 0 else ("B", "A"):
            time.sleep(args.gap)
            c0, w0 = time.process_time(), time.perf_counter()
            if args.estimator == "translator":
                models[key].partial_fit(*X[:2], steps=args.iters, pairs=X[2])
            else:
                models[key].partial_fit(X, steps=args.iters)
            cpu[key].append((time.process_time() - c0) / args.iters)
            wall[key].append((time.perf_counter() - w0) / args.iters)
    same = all(
        np.array_equal(a, b) for a, b in zip(models["A"].state_arrays(), models["B"].state_arrays())
    )
    c = {key: statistics.median(v) * 1e3 for key, v in cpu.items()}
    w = {key: statistics.median(v) * 1e3 for key, v in wall.items()}
    print(
        f"{label}: A cpu {c['A']:.2f} wall {w['A']:.2f} ms/it | "
        f"B cpu {c['B']:.2f} wall {w['B']:.2f} ms/it | B/A cpu {c['B'] / c['A']:.3f} "
        f"wall {w['B'] / w['A']:.3f} | same parameters: {same}"
    )
    # The machine's speed drifts over seconds; the two calls of one round share
    # its state, so the ratio within each round is the steadier measure.
    paired = np.array(cpu["B"]) / np.array(cpu["A"])
    low, mid, high = np.percentile(paired, [25, 50, 75])
    print(
        f"{label}: B/A cpu round by round {mid:.3f} (middle half {low:.3f}-{high:.3f}), "
        f"B faster in {int((paired < 1).sum())} of {len(paired)} rounds"
    )
    shutil.rmtree(root, ignore_errors=True)


def _table(n: int = 5000):
    """A fixed mixed table: four continuous columns and three skewed discrete ones."""
    import pandas as pd

    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "normal": rng.normal(size=n),
            "lognormal": rng.lognormal(size=n),
            "bimodal": np.where(rng.random(n) < 0.3, rng.normal(-3, 0.5, n), rng.normal(2, 1, n)),
            "count": rng.poisson(30, n),
            "c3": rng.choice(["a", "b", "c"], n, p=[0.7, 0.2, 0.1]),
            "c6": rng.choice([f"k{i}" for i in range(6)], n, p=[0.4, 0.2, 0.15, 0.1, 0.1, 0.05]),
            "c12": rng.choice([f"m{i}" for i in range(12)], n, p=np.arange(12, 0, -1) / 78),
        }
    )


if __name__ == "__main__":
    main()
