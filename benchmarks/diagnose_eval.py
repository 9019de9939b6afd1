"""How often does wgangp.diagnose cry wolf, and how often does it catch a real problem?

The rules of :mod:`wgangp.diagnose` are scored as classifiers on a labelled
set of *real* training runs, each trained here (no synthesised histories):

* ``good``: the toy presets of :mod:`wgangp.presets` (shortened, with their
  learning-rate decay scaled to the shorter run) at a few seeds, and the
  README's command-line quickstart (``wgangp train --data 8gaussians --steps
  400 --hidden 64 --lr 2e-3 --batch-size 128``) at several seeds. Each is
  scored with the toy metrics, so "good" is checked, not assumed.
* bad runs, each with the finding that must name it:

  ============  ===========================  =======================================
  label         expected finding             how it is produced
  ============  ===========================  =======================================
  collapsed     ``mode_collapse_suspected``  lr too high for the generator (Adam
                                             1e-2), one critic step; or the paper's
                                             toy settings on 25gaussians, data as is
  diverged      ``divergence``               a huge learning rate (SGD 0.05: NaN or inf)
  penalty       ``penalty_dominates``        lambda_gp huge (1000)
  not_learning  ``not_learning``             lr tiny (1e-7)
  oscillating   ``oscillation``              Adam betas (0.9, 0.99), high lr, no
                                             penalty
  ============  ===========================  =======================================

Each run's history is cached as ``CACHE/<run>/history.jsonl`` beside
``meta.json`` (its label, the estimator settings, the toy metrics, the
seconds it took); a rerun only re-scores, and retrains a run whose
definition changed. ``diagnose(history, settings=...)`` gets the estimator's
settings as ``wgangp diagnose RUN`` and the report give them.

It prints one table per run (label, toy metrics, findings) and one per rule:
false alarms on good runs (count / total) and detections on the bad runs
of the rule's label (count / total), plus any finding on a bad run that is
not the expected one.

Usage::

    python benchmarks/diagnose_eval.py CACHE            # first time ~10-15 min, one core
    python benchmarks/diagnose_eval.py CACHE            # rerun: re-scores in seconds
    python benchmarks/diagnose_eval.py CACHE --only quickstart --retrain
    python benchmarks/diagnose_eval.py CACHE --json scores.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

import wgangp
from wgangp.data import toy
from wgangp.diagnose import diagnose
from wgangp.history import json_safe, read_history
from wgangp.metrics import toy_metrics
from wgangp.optim import Adam
from wgangp.presets import get_preset, split_preset
from wgangp.schedules import ExponentialDecay

N_ROWS = 20_000  # rows drawn from a toy set, as `wgangp train` does

EXPECTED = {
    "collapsed": "mode_collapse_suspected",
    "diverged": "divergence",
    "penalty": "penalty_dominates",
    "not_learning": "not_learning",
    "oscillating": "oscillation",
}
"""Bad label -> the finding that must name it."""

RULE_NAMES = (
    "divergence",
    "penalty_dominates",
    "grad_norm_off",
    "not_learning",
    "mode_collapse_suspected",
    "generator_loss_exploding",
    "oscillation",
)

QUICKSTART = {"hidden": 64, "lr": 2e-3, "batch_size": 128}
"""The README's command-line quickstart: flags over the 8gaussians preset."""

SMALL = {**split_preset(get_preset("8gaussians"))[0], **QUICKSTART}
"""Small, fast networks for the bad runs: the quickstart's settings."""


def _preset_run(name: str, steps: int, seed: int) -> dict:
    """A toy preset shortened to ``steps``, its lr decay scaled to the same share of the run."""
    preset = get_preset(name)
    params, full_steps, _ = split_preset(preset)
    decay = preset["lr_decay"]
    start = int(round(decay["start"] * steps / full_steps))
    return {
        "name": f"preset-{name}-{steps}-s{seed}",
        "label": "good",
        "data": name,
        "seed": seed,
        "steps": steps,
        "params": params,
        "lr_decay": {"start": start, "stop": steps, "final": decay["final"]},
    }


def _run(name, label, data, steps, seed, **params) -> dict:
    return {
        "name": f"{name}-s{seed}",
        "label": label,
        "data": data,
        "seed": seed,
        "steps": steps,
        "params": params,
        "lr_decay": None,
    }


def _adam(lr: float, betas: tuple[float, float]) -> dict:
    return {"name": "adam", "lr": lr, "betas": list(betas)}


def runs() -> list[dict]:
    """Every run of the labelled set."""
    out = []
    for seed in range(5):  # the README quickstart (no lr decay within 400 steps)
        out.append(_run("quickstart", "good", "8gaussians", 400, seed, **SMALL))
    for seed in range(3):
        out.append(_preset_run("8gaussians", 2000, seed))
    for seed in range(2):
        out.append(_preset_run("25gaussians", 4000, seed))
        out.append(_preset_run("swissroll", 1500, seed))
    for seed in range(3):
        out.append(
            _run("collapse-lr1e-2-ncritic1", "collapsed", "25gaussians", 1500, seed,
                 **{**SMALL, "lr": 1e-2, "n_critic": 1})
        )  # fmt: skip
    for seed in range(2):
        out.append(
            _run("collapse-paper-toy", "collapsed", "25gaussians", 1500, seed,
                 **{**SMALL, "lr": 1e-4, "lambda_gp": 10.0, "n_critic": 5, "scale": None})
        )  # fmt: skip
    for seed in range(3):
        out.append(
            _run("diverge-sgd-lr0.05", "diverged", "8gaussians", 300, seed,
                 **{**SMALL, "optimizer": "sgd", "lr": 0.05})
        )  # fmt: skip
    for seed in range(3):
        out.append(
            _run("penalty-lambda1000", "penalty", "8gaussians", 600, seed,
                 **{**SMALL, "lambda_gp": 1000.0})
        )  # fmt: skip
    for seed in range(3):
        out.append(
            _run("stuck-lr1e-7", "not_learning", "8gaussians", 600, seed, **{**SMALL, "lr": 1e-7})
        )
    for seed in range(3):
        out.append(
            _run("oscillate-adam0.9-lr1e-2-nogp", "oscillating", "8gaussians", 600, seed,
                 **{**SMALL, "optimizer": _adam(1e-2, (0.9, 0.99)), "lambda_gp": 0.0})
        )  # fmt: skip
    return out


# --------------------------------------------------------------------------- #
# Training (once per run) and the cache.                                      #
# --------------------------------------------------------------------------- #


def _estimator_params(params: dict) -> dict:
    out = dict(params)
    if isinstance(out.get("optimizer"), dict):
        spec = dict(out["optimizer"])
        spec.pop("name")
        out["optimizer"] = Adam(lr=spec["lr"], betas=tuple(spec["betas"]))
        out["lr"] = spec["lr"]
    return out


def _json_settings(model) -> dict:
    settings = {}
    for key, value in model.get_params().items():
        if hasattr(value, "config"):
            value = value.config()
        elif isinstance(value, type) or hasattr(value, "dtype") or callable(value):
            value = str(np.dtype(value)) if key == "dtype" else str(value)
        settings[key] = value
    return settings


def train(spec: dict, folder: Path) -> dict:
    """Train one run; write its history and meta.json into ``folder``; return the meta."""
    folder.mkdir(parents=True, exist_ok=True)
    X = toy(spec["data"], N_ROWS, random_state=spec["seed"])
    model = wgangp.WGANGP(random_state=spec["seed"], threads=1, **_estimator_params(spec["params"]))
    callbacks = [ExponentialDecay(**spec["lr_decay"])] if spec["lr_decay"] else []
    start = time.perf_counter()
    error = None
    with np.errstate(all="ignore"):
        try:
            model.fit(X, steps=spec["steps"], callbacks=callbacks)
        except wgangp.TrainingDiverged as exc:
            error = str(exc).splitlines()[0][:200]
    seconds = time.perf_counter() - start
    with (folder / "history.jsonl").open("w", encoding="utf-8") as fh:
        for record in model.history_:
            fh.write(json.dumps(json_safe(record)) + "\n")
    scores = {}
    if error is None:
        try:
            with np.errstate(all="ignore"):
                samples = model.sample(2500, random_state=12345)
                scores = toy_metrics(samples, spec["data"], random_state=10_000 + spec["seed"])
        except (ValueError, RuntimeError) as exc:
            error = f"sampling failed: {str(exc)[:160]}"
    meta = {
        "spec": spec,
        "settings": _json_settings(model),
        "seconds": seconds,
        "error": error,
        "metrics": {
            k: float(v)
            for k, v in scores.items()
            if k in ("w1", "modes_captured", "high_quality", "reverse_kl")
        },
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
    return meta


def cached(spec: dict, folder: Path) -> dict | None:
    meta_file = folder / "meta.json"
    if not (meta_file.is_file() and (folder / "history.jsonl").is_file()):
        return None
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    return meta if meta.get("spec") == json.loads(json.dumps(spec)) else None


def toy_good(meta: dict) -> bool | None:
    """Whether a run is good by the toy metrics (None when it has none)."""
    m = meta["metrics"]
    if not m:
        return None
    data = meta["spec"]["data"]
    if data == "swissroll":
        return m["w1"] < 0.15
    modes = {"8gaussians": 8, "25gaussians": 25}[data]
    return m["modes_captured"] == modes and m["high_quality"] > 0.6 and m["reverse_kl"] < 0.05


# --------------------------------------------------------------------------- #
# Scoring.                                                                    #
# --------------------------------------------------------------------------- #


def score(results: list[dict], use_settings: bool) -> tuple[list[str], dict]:
    lines = []
    by_rule = {r: {"false": 0, "detect": 0, "bad_total": 0} for r in RULE_NAMES}
    n_good = sum(r["spec"]["label"] == "good" for r in results)
    wrong_on_bad = []
    header = (
        "| run | label | s | modes | hq % | rKL | W1 | toy-good | findings |\n"
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |"
    )
    lines.append(header)
    for meta in results:
        spec = meta["spec"]
        history = read_history(meta["folder"] / "history.jsonl")
        settings = meta["settings"] if use_settings else None
        found = diagnose(history) if settings is None else diagnose(history, settings=settings)
        names = [f.name for f in found]
        meta["findings"] = names
        label = spec["label"]
        if label == "good":
            for name in set(names):
                by_rule[name]["false"] += 1
        else:
            rule = EXPECTED[label]
            by_rule[rule]["bad_total"] += 1
            if rule in names:
                by_rule[rule]["detect"] += 1
            others = [n for n in names if n != rule]
            if others:
                wrong_on_bad.append(f"{spec['name']}: also {', '.join(others)}")
        m = meta["metrics"]
        good = toy_good(meta)
        error = f" ({meta['error'][:40]})" if meta["error"] else ""
        lines.append(
            f"| {spec['name']} | {label} | {meta['seconds']:.0f} "
            f"| {m.get('modes_captured', float('nan')):.0f} "
            f"| {100 * m.get('high_quality', float('nan')):.1f} "
            f"| {m.get('reverse_kl', float('nan')):.3f} | {m.get('w1', float('nan')):.3f} "
            f"| {'-' if good is None else ('yes' if good else 'NO')} "
            f"| {', '.join(names) or '-'}{error} |"
        )
    lines.append("")
    lines.append("| rule | false alarms on good runs | detections on its bad runs |")
    lines.append("| --- | ---: | ---: |")
    for rule in RULE_NAMES:
        s = by_rule[rule]
        detect = f"{s['detect']} / {s['bad_total']}" if s["bad_total"] else "(no bad label)"
        lines.append(f"| {rule} | {s['false']} / {n_good} | {detect} |")
    n_bad = len(results) - n_good
    quiet = sum(1 for r in results if r["spec"]["label"] == "good" and not r["findings"])
    named = sum(
        1
        for r in results
        if r["spec"]["label"] != "good" and EXPECTED[r["spec"]["label"]] in r["findings"]
    )
    lines.append(
        f"\ngood runs with no finding: {quiet} / {n_good}; bad runs named by the right "
        f"finding: {named} / {n_bad}"
    )
    if wrong_on_bad:
        lines.append("other findings on bad runs: " + "; ".join(wrong_on_bad))
    summary = {"by_rule": by_rule, "good_quiet": quiet, "good": n_good, "bad_named": named}
    return lines, summary


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path, help="folder of the cached runs (created)")
    parser.add_argument("--only", help="runs whose name contains this")
    parser.add_argument("--retrain", action="store_true", help="train again even when cached")
    parser.add_argument(
        "--no-settings", action="store_true", help="diagnose(history) without the settings"
    )
    parser.add_argument("--json", type=Path, help="write the scores here")
    args = parser.parse_args(argv)

    specs = [s for s in runs() if not args.only or args.only in s["name"]]
    results = []
    started = time.perf_counter()
    trained = 0.0
    for spec in specs:
        folder = args.cache / spec["name"]
        meta = None if args.retrain else cached(spec, folder)
        if meta is None:
            print(f"training {spec['name']} ...", file=sys.stderr, flush=True)
            meta = train(spec, folder)
            trained += meta["seconds"]
        meta["folder"] = folder
        results.append(meta)
    lines, summary = score(results, use_settings=not args.no_settings)
    total = sum(m["seconds"] for m in results)
    print(f"wgangp {wgangp.__version__}, numpy {np.__version__}, one BLAS thread")
    print(
        f"{len(results)} runs; training them took {total:.0f} s in all "
        f"({trained:.0f} s in this call); this call {time.perf_counter() - started:.0f} s\n"
    )
    print("\n".join(lines))
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
