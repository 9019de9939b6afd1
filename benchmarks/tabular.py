"""wgangp's TabularSynthesizer against CTGAN on small tables that ship inside packages.

For each table and seed: a stratified 70/30 split; each synthesizer learns the
70% and draws as many rows; the scores (wgangp.metrics.tabular_report, the
SDMetrics definitions) compare the synthetic rows with the training rows, and
TSTR / TRTR (random forest, macro-F1) are tested on the untouched 30%.

Runs: wgangp at its defaults; CTGAN 0.12.1 at its defaults (300 epochs, CPU);
CTGAN at an equal wall-clock budget (its epochs scaled so that its fit takes
as long as wgangp's did, from its measured time per epoch). Prints medians
over seeds, a markdown table, and an SDMetrics cross-check of our scores.

    pip install -e .[bench]
    OPENBLAS_NUM_THREADS=1 python benchmarks/tabular.py --seeds 3

Both libraries run on one thread (``--threads``; torch.set_num_threads and
the BLAS variables), since the machine is shared and a second busy process
halves everything.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from wgangp.metrics import tabular_report  # noqa: E402
from wgangp.tabular import TabularSynthesizer  # noqa: E402


def load_table(name: str, fair_rows: int, seed: int = 0):
    """(frame, discrete columns, target)."""
    if name in ("wine", "breast_cancer"):
        import sklearn.datasets

        loader = getattr(sklearn.datasets, f"load_{name}")
        frame = loader(as_frame=True).frame
        return frame, ["target"], "target"
    if name == "fair":
        import statsmodels.api as sm

        frame = sm.datasets.fair.load_pandas().data
        if fair_rows and fair_rows < len(frame):
            frame = frame.sample(n=fair_rows, random_state=seed).reset_index(drop=True)
        discrete = ["rate_marriage", "religious", "educ", "occupation", "occupation_husb"]
        return frame, discrete, "rate_marriage"
    raise SystemExit(f"unknown table {name!r}")


def split(frame, target, seed):
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(frame, test_size=0.3, random_state=seed, stratify=frame[target])
    return train.reset_index(drop=True), test.reset_index(drop=True)


def run_wgangp(train, discrete, seed, steps, params=None):
    synth = TabularSynthesizer(discrete_columns=discrete, random_state=seed, **(params or {}))
    start = time.perf_counter()
    synth.fit(train, steps=steps)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    rows = synth.sample(len(train), random_state=seed)
    return rows, fit_s, time.perf_counter() - start


def run_ctgan(train, discrete, seed, epochs):
    import torch
    from ctgan import CTGAN

    torch.manual_seed(seed)
    model = CTGAN(epochs=epochs, verbose=False, enable_gpu=False)
    model.set_random_state(seed)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(train, discrete_columns=discrete)
    fit_s = time.perf_counter() - start
    start = time.perf_counter()
    rows = model.sample(len(train))
    return rows, fit_s, time.perf_counter() - start


def score(train, test, rows, discrete, target, seed, fit_s, sample_s):
    rows = rows[list(train.columns)]
    report = tabular_report(
        train, rows, target=target, discrete_columns=discrete, holdout=test, random_state=seed
    )
    return {
        "shapes": report["column_shapes"],
        "pairs": report["column_pair_trends"],
        "pairs_strong": report["column_pair_trends_strong"],
        "detection": report["detection"],
        "detection_auc": report["detection_auc"],
        "tstr": report["tstr"],
        "trtr": report["trtr"],
        "fit_s": fit_s,
        "sample_s": sample_s,
    }


def sdmetrics_check(train, rows, discrete):
    """SDMetrics' own QualityReport: shapes, pair trends on all pairs, on strong pairs."""
    try:
        from sdmetrics.reports.single_table import QualityReport
    except ImportError:
        return None
    metadata = {
        "columns": {
            c: {"sdtype": "categorical" if c in discrete else "numerical"} for c in train.columns
        }
    }
    out = []
    for threshold in (False, True):
        report = QualityReport()
        if not threshold:
            report.real_correlation_threshold = 0
            report.real_association_threshold = 0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            report.generate(train, rows[list(train.columns)], metadata, verbose=False)
        props = report.get_properties().set_index("Property")["Score"]
        out.append((float(props["Column Shapes"]), float(props["Column Pair Trends"])))
    return out[0][0], out[0][1], out[1][1]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", nargs="+", default=["wine", "breast_cancer", "fair"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None, help="wgangp steps (default: auto)")
    parser.add_argument("--ctgan-epochs", type=int, default=300)
    parser.add_argument("--fair-rows", type=int, default=1000, help="subsample of fair (6366)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--no-ctgan", action="store_true")
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="a TabularSynthesizer parameter, e.g. --param continuous='\"gmm\"' --param pac=4",
    )
    parser.add_argument("--json", type=Path, default=None, help="write all runs here")
    args = parser.parse_args(argv)

    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        if os.environ.get(var) != str(args.threads):
            print(f"note: {var} is {os.environ.get(var)!r}; set it to {args.threads} before start")
    if not args.no_ctgan:
        import torch

        torch.set_num_threads(args.threads)

    params = {}
    for item in args.param:
        name, _, value = item.partition("=")
        params[name] = json.loads(value)
    runs = []
    checks = []
    for table in args.tables:
        for seed in range(args.seeds):
            frame, discrete, target = load_table(table, args.fair_rows, seed=0)
            train, test = split(frame, target, seed)
            rows, fit_s, sample_s = run_wgangp(train, discrete, seed, args.steps, params)
            ours = score(train, test, rows, discrete, target, seed, fit_s, sample_s)
            runs.append({"table": table, "seed": seed, "tool": "wgangp", **ours})
            if seed == 0:
                checks.append((table, ours, sdmetrics_check(train, rows, discrete)))
            print(
                table,
                seed,
                "wgangp",
                json.dumps({k: round(v, 3) for k, v in ours.items()}),
                flush=True,
            )
            if args.no_ctgan:
                continue
            rows, fit_s, sample_s = run_ctgan(train, discrete, seed, args.ctgan_epochs)
            res = score(train, test, rows, discrete, target, seed, fit_s, sample_s)
            runs.append({"table": table, "seed": seed, "tool": "ctgan-default", **res})
            print(
                table,
                seed,
                "ctgan-default",
                json.dumps({k: round(v, 3) for k, v in res.items()}),
                flush=True,
            )
            per_epoch = fit_s / args.ctgan_epochs
            epochs = max(1, int(round(ours["fit_s"] / per_epoch)))
            rows, fit_s, sample_s = run_ctgan(train, discrete, seed, epochs)
            res = score(train, test, rows, discrete, target, seed, fit_s, sample_s)
            res["epochs"] = epochs
            runs.append({"table": table, "seed": seed, "tool": "ctgan-equal-time", **res})
            print(
                table,
                seed,
                "ctgan-equal-time",
                json.dumps({k: round(v, 3) for k, v in res.items()}),
                flush=True,
            )

    if args.json:
        args.json.write_text(json.dumps(runs, indent=1))
    keys = ["shapes", "pairs", "pairs_strong", "detection", "tstr", "trtr", "fit_s", "sample_s"]
    print(f"\nmedians over {args.seeds} seed(s); threads={args.threads}")
    print(
        "| table | rows (train) | tool | column shapes | pair trends | strong pairs "
        "| detection | TSTR | TRTR | fit s | sample s |"
    )
    print("|" + " --- |" * 11)
    for table in args.tables:
        frame, _, target = load_table(table, args.fair_rows)
        n_train = len(frame) - int(np.ceil(0.3 * len(frame)))
        for tool in ("wgangp", "ctgan-default", "ctgan-equal-time"):
            sel = [r for r in runs if r["table"] == table and r["tool"] == tool]
            if not sel:
                continue
            med = {k: statistics.median(r[k] for r in sel) for k in keys}
            name = tool
            if tool == "ctgan-equal-time":
                name += f" ({int(statistics.median(r['epochs'] for r in sel))} epochs)"
            print(
                f"| {table} | {n_train} | {name} | {med['shapes']:.3f} | {med['pairs']:.3f} | "
                f"{med['pairs_strong']:.3f} | "
                f"{med['detection']:.3f} | {med['tstr']:.3f} | {med['trtr']:.3f} | "
                f"{med['fit_s']:.1f} | {med['sample_s']:.2f} |"
            )
    print("\nSDMetrics cross-check (seed 0, wgangp rows): ours vs sdmetrics QualityReport")
    for table, ours, theirs in checks:
        if theirs is None:
            print(f"{table}: sdmetrics not installed")
        else:
            print(
                f"{table}: column shapes {ours['shapes']:.4f} vs {theirs[0]:.4f}; "
                f"pair trends (all pairs) {ours['pairs']:.4f} vs {theirs[1]:.4f}; "
                f"(strong pairs) {ours['pairs_strong']:.4f} vs {theirs[2]:.4f}"
            )


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
