"""Tuning wgangp's table defaults on the development set only (never the check set).

One fit per table and seed, continued in chunks with ``partial_fit`` (which
resumes bit for bit, so the model after 1000 iterations is the one a
1000-iteration fit gives); after each chunk listed in ``--at`` the rows are
scored with :func:`wgangp.metrics.tabular_report` (SDMetrics' column shapes
and pair trends to 3 decimals, detection AUC, TSTR, TRTR), with the
marginal correction off and on. Prints the medians over tables per
iteration count; ``--json`` keeps every number.

    python benchmarks/tune_defaults.py --at 500,1000,1500,2500 --json tune.json
    python benchmarks/tune_defaults.py --param lr=1e-3 --decay 0.1
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # before NumPy loads its BLAS

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from tabular import TABLES, auto_steps, load_table, split  # noqa: E402
from wgangp.metrics import tabular_report  # noqa: E402
from wgangp.schedules import ExponentialDecay  # noqa: E402
from wgangp.tabular import TabularSynthesizer  # noqa: E402

KEYS = ("column_shapes", "column_pair_trends", "detection_auc", "tstr", "trtr")


def _count(text: str, auto: int) -> int:
    """An ``--at`` entry as an iteration count: a number, ``auto`` or ``auto*K``."""
    text = text.strip()
    if text == "auto" or text.startswith("auto*"):
        factor = float(text[5:]) if text != "auto" else 1.0
        if factor <= 0:
            raise SystemExit(f"--at {text}: the factor must be positive")
        return max(1, int(round(auto * factor)))
    return int(text)


def _label(steps: int, auto: int, at_text: list[str]) -> str:
    """The ``--at`` entry that gave ``steps`` on this table (``auto*K`` labels are per table)."""
    for text in at_text:
        if not text.strip().isdigit() and _count(text, auto) == steps:
            return text.strip()
    return str(steps)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    dev = [n for n, t in TABLES.items() if t.suite == "dev"]
    parser.add_argument("--tables", default=",".join(dev))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument(
        "--at",
        default="500,1000,1500,2500",
        help="iteration counts to score; 'auto' is the count a fit without steps takes "
        "on the table (wgangp.tabular.default_steps), 'auto*K' K times that count",
    )
    parser.add_argument("--param", action="append", default=[], metavar="NAME=JSON")
    parser.add_argument(
        "--decay", type=float, default=None, help="lr falls to this fraction over the 2nd half"
    )
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)
    tables = args.tables.split(",")
    bad = [t for t in tables if t not in dev]
    if bad:
        raise SystemExit(f"{bad} are not development tables; tuning never touches the check set")
    at_text = args.at.split(",")
    params = {}
    for item in args.param:
        name, _, value = item.partition("=")
        params[name] = json.loads(value)

    runs = []
    load_start = os.getloadavg()
    for table in tables:
        frame, discrete, target = load_table(table)
        train, test = split(frame, target)
        auto = auto_steps(len(train), params)
        at = sorted({_count(a, auto) for a in at_text})
        callbacks = None
        if args.decay is not None:
            callbacks = [ExponentialDecay(start=at[-1] // 2, stop=at[-1], final=args.decay)]
        for seed in range(args.seeds):
            synth = TabularSynthesizer(
                discrete_columns=discrete, random_state=seed, threads=1, **params
            )
            done, fit_s = 0, 0.0
            for steps in at:
                start = time.perf_counter()
                if done == 0:
                    synth.fit(train, steps=steps, callbacks=callbacks)
                else:
                    synth.partial_fit(train, steps=steps - done, callbacks=callbacks)
                fit_s += time.perf_counter() - start
                done = steps
                for match in (False, True):
                    synth.match_marginals = match
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        rows = synth.sample(len(train), random_state=seed)
                        rep = tabular_report(
                            train,
                            rows,
                            target=target,
                            discrete_columns=discrete,
                            holdout=test,
                            random_state=seed,
                        )
                    run = {"table": table, "seed": seed, "steps": steps, "match": match}
                    run["label"] = _label(steps, auto, at_text)
                    run.update({k: float(rep[k]) for k in KEYS}, fit_s=fit_s)
                    runs.append(run)
                    print(
                        json.dumps(
                            {k: round(v, 3) if isinstance(v, float) else v for k, v in run.items()}
                        ),
                        flush=True,
                    )
    load_end = os.getloadavg()
    if args.json:
        meta = {"argv": sys.argv[1:], "load_at_start": load_start, "load_at_end": load_end}
        args.json.write_text(json.dumps({"meta": meta, "runs": runs}, indent=1))
    print(
        f"\nmedians over {len(tables)} tables x {args.seeds} seed(s); load average "
        f"{load_start[0]:.2f} at start, {load_end[0]:.2f} at end"
    )
    print("| iterations | marginals | shapes | pairs | detection | TSTR/TRTR | fit s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    labels = list(dict.fromkeys(r["label"] for r in runs))  # "auto": per table
    for label in labels:
        for match in (False, True):
            sel = [r for r in runs if r["label"] == label and r["match"] == match]

            def med(key, sel=sel):
                return statistics.median(r[key] for r in sel)

            ratio = statistics.median(r["tstr"] / r["trtr"] for r in sel)
            print(
                f"| {label} | {'matched' if match else 'learned'} | {med('column_shapes'):.3f} "
                f"| {med('column_pair_trends'):.3f} | {med('detection_auc'):.3f} | {ratio:.3f} "
                f"| {med('fit_s'):.1f} |"
            )
    print("\nper table (matched marginals):")
    for table in tables:
        cells = []
        for label in labels:
            sel = [r for r in runs if r["table"] == table and r["label"] == label and r["match"]]
            cells.append(
                f"{label} ({sel[0]['steps']}): "
                f"{statistics.median(r['column_shapes'] for r in sel):.3f}/"
                f"{statistics.median(r['column_pair_trends'] for r in sel):.3f}/"
                f"{statistics.median(r['tstr'] for r in sel):.3f}"
            )
        print(table, " ".join(cells))


if __name__ == "__main__":
    main()
