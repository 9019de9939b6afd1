"""Unpaired translation (issue 15): wgangp.Translator beside its baselines, one run.

Tasks, on data that ships with scikit-learn:

* digits: the 8x8 digits (pixels / 16, in [0, 1]) split into two disjoint
  halves (seed 0); half A as is, half B through a style map T: ``thick``
  (grey dilation 2x2), ``blur`` (3x3 box blur with edge padding, each image
  rescaled to max 1), ``invert`` (1 - x), ``rot90``;
* ``moons``: 1000 two-moons points (noise 0.05) against another 1000 scaled
  by 1.5 and sheared, x' = x + 0.5 y.

Scores of a translation of the source half: *accuracy*, the content kept: a
classifier trained on the target domain (half B after T, with its labels;
logistic regression for digits, 15-nearest neighbours for moons) applied to
the translated source, against the source labels; *cycle L1* per entry,
``<|F(G(a)) - a|>`` in the data's units; *sliced W1* of the translated
source to the target half (128 directions).

Methods, in the same run: ``identity`` (no translation), ``emd`` (POT's
earth-mover mapping ``ot.da.EMDTransport``, the optimal-transport answer),
``oracle`` (T applied to the source: the classifier's ceiling), ``wgangp``
(:class:`wgangp.Translator` for ``--budget`` seconds) and ``torch`` (the
same model and loss written in PyTorch, autograd with ``create_graph`` for
the penalty, same architecture, init, optimizer, batch, settings and
scaling, for the wall time wgangp used: equal wall time). Both networks run
on ``--threads`` BLAS threads (default 1).

Usage::

    pip install -e .[bench]        # torch, POT, scikit-learn, scipy
    python benchmarks/translation.py                      # 5 min per model, 3 seeds
    python benchmarks/translation.py --budget 60 --seeds 1 --tasks thick blur moons
    python benchmarks/translation.py --set hidden=512 --set lambda_identity=5
    python benchmarks/translation.py --tasks invert rot90 --pairs 20   # 20 paired rows
    python benchmarks/translation.py --cycle-schedule 2000:10,4000:25 --lr-decay 4000:7000:0.1

With ``--pairs N``, wgangp and the PyTorch reference both get N source rows
(drawn per seed) with their true translations T(a), ``fit(..., pairs=...)``
and the same pair term.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import wgangp  # noqa: E402
from wgangp.metrics import sliced_wasserstein  # noqa: E402
from wgangp.schedules import ExponentialDecay, ParamSchedule  # noqa: E402

TASKS = ("thick", "blur", "invert", "rot90", "moons")
METHODS = ("identity", "emd", "wgangp", "torch", "oracle")


# --------------------------------------------------------------------------- #
# Tasks.                                                                      #
# --------------------------------------------------------------------------- #


def _style(name: str, X: np.ndarray) -> np.ndarray:
    from scipy import ndimage

    images = X.reshape(-1, 8, 8)
    if name == "thick":
        out = np.stack([ndimage.grey_dilation(im, size=(2, 2)) for im in images])
    elif name == "blur":
        out = np.stack([ndimage.uniform_filter(im, size=3, mode="nearest") for im in images])
        out /= np.maximum(out.max(axis=(1, 2), keepdims=True), 1e-12)
    elif name == "invert":
        out = 1.0 - images
    elif name == "rot90":
        out = np.rot90(images, axes=(1, 2))
    else:
        raise ValueError(name)
    return out.reshape(len(X), 64)


def _shear(X: np.ndarray) -> np.ndarray:
    X = 1.5 * X
    return np.c_[X[:, 0] + 0.5 * X[:, 1], X[:, 1]]


def task(name: str) -> dict:
    """Source rows and labels, target rows and labels, the style map, a classifier."""
    if name == "moons":
        from sklearn.datasets import make_moons
        from sklearn.neighbors import KNeighborsClassifier

        A, y_a = make_moons(1000, noise=0.05, random_state=0)
        B0, y_b = make_moons(1000, noise=0.05, random_state=1)
        return dict(A=A, y_a=y_a, B=_shear(B0), y_b=y_b, T=_shear, clf=KNeighborsClassifier(15))
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression

    digits = load_digits()
    X, y = digits.data / 16.0, digits.target
    perm = np.random.default_rng(0).permutation(len(X))
    half_a, half_b = perm[: len(X) // 2], perm[len(X) // 2 :]
    return dict(
        A=X[half_a],
        y_a=y[half_a],
        B=_style(name, X[half_b]),
        y_b=y[half_b],
        T=lambda Z: _style(name, Z),
        clf=LogisticRegression(max_iter=3000),
    )


# --------------------------------------------------------------------------- #
# The PyTorch reference: the same model and loss.                             #
# --------------------------------------------------------------------------- #


def torch_translator(A, B, settings: dict, seconds: float, seed: int, pairs=None, schedules=()):
    """Train the same translator in PyTorch for ``seconds``; return (G, F, steps).

    ``pairs``: (source rows, target rows), scaled, for the pair term;
    ``schedules``: a :class:`wgangp.schedules.ParamSchedule` of
    ``lambda_cycle`` and an :class:`~wgangp.schedules.ExponentialDecay` of the
    learning rate, followed iteration by iteration as the Translator follows them."""
    import torch
    from torch import nn

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    width, hidden, depth = A.shape[1], settings["hidden"], settings["depth"]
    residual = settings["residual"]

    def mlp(out):
        layers, n_in = [], width
        for _ in range(depth):
            layers += [nn.Linear(n_in, hidden), nn.ReLU()]
            n_in = hidden
        layers.append(nn.Linear(n_in, out))
        for m in layers:
            if isinstance(m, nn.Linear):  # He-uniform weights, zero biases, as wgangp
                nn.init.kaiming_uniform_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        return nn.Sequential(*layers)

    G, F, D_a, D_b = mlp(width), mlp(width), mlp(1), mlp(1)
    if residual:
        with torch.no_grad():
            for net in (G, F):
                net[-1].weight *= wgangp.translate.RESIDUAL_INIT_SCALE

    def gen(net, x):
        return x + net(x) if residual else net(x)

    def adam(params):
        return torch.optim.Adam(params, lr=settings["lr"], betas=(0.5, 0.9))

    opt_g, opt_f = adam(G.parameters()), adam(F.parameters())
    opt_da, opt_db = adam(D_a.parameters()), adam(D_b.parameters())
    A_t = torch.tensor(A, dtype=torch.float32)
    B_t = torch.tensor(B, dtype=torch.float32)
    batch = min(settings["batch_size"], len(A), len(B))
    lam_gp, lam_c, lam_i, lam_p = (
        settings["lambda_gp"],
        settings["lambda_cycle"],
        settings["lambda_identity"],
        settings["lambda_pairs"],
    )
    if pairs is not None:
        p_a, p_b = (torch.tensor(p, dtype=torch.float32) for p in pairs)

    def draw(X):
        return X[torch.as_tensor(rng.integers(0, len(X), batch))]

    def critic_loss(D, real, fake):
        alpha = torch.rand(batch, 1)
        interp = (fake + alpha * (real - fake)).requires_grad_(True)
        (g,) = torch.autograd.grad(D(interp).sum(), interp, create_graph=True)
        penalty = lam_gp * ((g.norm(dim=1) - 1) ** 2).mean()
        return D(fake).mean() - D(real).mean() + penalty

    steps, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for schedule in schedules:  # the values set after the previous iteration
            if isinstance(schedule, ParamSchedule):
                lam_c = schedule.value(steps)
            else:
                for opt in (opt_g, opt_f, opt_da, opt_db):
                    for group in opt.param_groups:
                        group["lr"] = settings["lr"] * schedule.factor(steps)
        for _ in range(settings["n_critic"]):
            a, b = draw(A_t), draw(B_t)
            with torch.no_grad():
                fake_b, fake_a = gen(G, a), gen(F, b)
            for D, opt, real, fake in ((D_a, opt_da, a, fake_a), (D_b, opt_db, b, fake_b)):
                opt.zero_grad()
                critic_loss(D, real, fake).backward()
                opt.step()
        a, b = draw(A_t), draw(B_t)
        fake_b, fake_a = gen(G, a), gen(F, b)
        loss = -D_b(fake_b).mean() - D_a(fake_a).mean()
        loss = loss + lam_c * (
            (gen(F, fake_b) - a).abs().mean() + (gen(G, fake_a) - b).abs().mean()
        )
        if lam_i > 0:
            loss = loss + lam_i * ((gen(G, b) - b).abs().mean() + (gen(F, a) - a).abs().mean())
        if pairs is not None and lam_p > 0:
            loss = loss + lam_p * (
                (gen(G, p_a) - p_b).abs().mean() + (gen(F, p_b) - p_a).abs().mean()
            )
        opt_g.zero_grad()
        opt_f.zero_grad()
        loss.backward()
        opt_g.step()
        opt_f.step()
        steps += 1

    def apply(net):
        def run(X):
            with torch.no_grad():
                return gen(net, torch.tensor(X, dtype=torch.float32)).numpy().astype(np.float64)

        return run

    return apply(G), apply(F), steps


# --------------------------------------------------------------------------- #
# One task.                                                                   #
# --------------------------------------------------------------------------- #


class StopAfter(wgangp.Callback):
    """Stop training once ``seconds`` of wall time have passed."""

    def __init__(self, seconds: float):
        self.seconds = seconds

    def on_train_begin(self, model):
        self.started = time.perf_counter()

    def on_iteration_end(self, model, iteration, record):
        if time.perf_counter() - self.started >= self.seconds:
            model.stop_training = True


def scores(clf, translated, y_a, B, A=None, cycled=None, seed=0) -> dict:
    out = {
        "accuracy": float(clf.score(translated, y_a)),
        "sliced_w1": sliced_wasserstein(translated, B, random_state=seed),
    }
    if cycled is not None:
        out["cycle_l1"] = float(np.abs(cycled - A).mean())
    return out


def run_task(
    name: str,
    seed: int,
    budget: float,
    settings: dict,
    methods,
    n_pairs: int = 0,
    schedules=(),
) -> dict:
    t = task(name)
    A, B, y_a = t["A"], t["B"], t["y_a"]
    pairs = pick_pairs(t, n_pairs, seed) if n_pairs else None
    clf = t["clf"].fit(B, t["y_b"])
    results = {}
    if "identity" in methods:
        results["identity"] = scores(clf, A, y_a, B, A, A, seed)
    if "oracle" in methods:
        results["oracle"] = scores(clf, t["T"](A), y_a, B, seed=seed)
    if "emd" in methods:
        import ot

        started = time.perf_counter()
        mapping = ot.da.EMDTransport().fit(Xs=A, Xt=B)
        results["emd"] = scores(clf, mapping.transform(Xs=A), y_a, B, seed=seed)
        results["emd"]["seconds"] = time.perf_counter() - started
    seconds = budget
    if "wgangp" in methods:
        model = wgangp.Translator(random_state=seed, **settings)
        started = time.perf_counter()
        callbacks = [StopAfter(budget), *schedules]
        model.fit(A, B, steps=10**7, callbacks=callbacks, log_every=10, pairs=pairs)
        seconds = time.perf_counter() - started
        translated = model.transform(A)
        results["wgangp"] = scores(
            clf, translated, y_a, B, A, model.inverse_transform(translated), seed
        )
        results["wgangp"].update(
            seconds=seconds,
            steps=model.n_iter_,
            findings=[f.name for f in wgangp.diagnose(model.history_)],
        )
    if "torch" in methods:
        scale_mean = np.concatenate([A, B]).mean(axis=0)
        scale_std = np.concatenate([A, B]).std(axis=0)
        scale_std[scale_std == 0] = 1.0
        scaled_pairs = None
        if pairs is not None:
            scaled_pairs = (
                (A[pairs[0]] - scale_mean) / scale_std,
                (pairs[1] - scale_mean) / scale_std,
            )
        G, F, steps = torch_translator(
            (A - scale_mean) / scale_std,
            (B - scale_mean) / scale_std,
            settings,
            seconds,
            seed,
            scaled_pairs,
            schedules,
        )
        fake_b = G((A - scale_mean) / scale_std)
        translated = fake_b * scale_std + scale_mean
        cycled = F(fake_b) * scale_std + scale_mean
        results["torch"] = scores(clf, translated, y_a, B, A, cycled, seed)
        results["torch"].update(seconds=seconds, steps=steps)
    return results


# --------------------------------------------------------------------------- #
# Main.                                                                       #
# --------------------------------------------------------------------------- #


def _median_table(all_results: dict, tasks, methods, key: str, fmt: str) -> str:
    lines = [
        f"| task | {' | '.join(methods)} |",
        "| --- |" + " --- |" * len(methods),
    ]
    for name in tasks:
        cells = []
        for m in methods:
            values = [r[name][m][key] for r in all_results.values() if key in r[name].get(m, {})]
            if not values:
                cells.append("-")
            elif len(values) == 1:
                cells.append(format(values[0], fmt))
            else:
                cells.append(
                    f"{format(np.median(values), fmt)} "
                    f"[{format(min(values), fmt)}-{format(max(values), fmt)}]"
                )
        lines.append(f"| {name} | {' | '.join(cells)} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--budget", type=float, default=300.0, help="seconds per model")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    parser.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument(
        "--pairs",
        type=int,
        default=0,
        metavar="N",
        help="give wgangp and torch N paired source rows with their true translations "
        "(drawn per seed; fit(..., pairs=...))",
    )
    parser.add_argument(
        "--set", action="append", default=[], metavar="NAME=VALUE", help="a Translator setting"
    )
    add_schedule_arguments(parser)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds first-seed..first-seed+seeds-1"
    )
    parser.add_argument("--json", type=Path, help="write every score here")
    args = parser.parse_args(argv)

    settings = parse_settings(args.set)
    schedules = parse_schedules(args.cycle_schedule, args.lr_decay)
    settings["threads"] = args.threads
    if "torch" in args.methods:
        import torch

        torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    print(
        f"budget {args.budget:.0f} s per model, "
        f"seeds {args.first_seed}..{args.first_seed + args.seeds - 1}, "
        f"cycle schedule {args.cycle_schedule}, lr decay {args.lr_decay}, "
        f"threads {args.threads}, pairs {args.pairs}, load average {os.getloadavg()[0]:.1f}, "
        f"settings {json.dumps({k: v for k, v in settings.items() if k != 'dtype'})}",
        flush=True,
    )
    all_results = {}
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        all_results[seed] = {}
        for name in args.tasks:
            res = run_task(name, seed, args.budget, settings, args.methods, args.pairs, schedules)
            all_results[seed][name] = res
            if args.json:  # after every task: a stopped run keeps what it measured
                args.json.write_text(json.dumps(all_results, indent=1, default=str))
            print(
                f"seed {seed} {name}: "
                + ", ".join(
                    f"{m} {r['accuracy']:.3f}"
                    + (f" ({r['steps']} it)" if "steps" in r else "")
                    + (f" {r['findings']}" if r.get("findings") else "")
                    for m, r in res.items()
                )
                + f"; load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    print("\ntarget-classifier accuracy on the translated source (median [range] over seeds)\n")
    print(_median_table(all_results, args.tasks, args.methods, "accuracy", ".3f"))
    print("\ncycle L1 per entry\n")
    print(
        _median_table(all_results, args.tasks, ("identity", "wgangp", "torch"), "cycle_l1", ".4f")
    )
    print("\nsliced W1 to the target\n")
    print(_median_table(all_results, args.tasks, args.methods, "sliced_w1", ".3f"))
    print("\niterations in the budget\n")
    print(_median_table(all_results, args.tasks, ("wgangp", "torch"), "steps", ".0f"))
    if args.json:
        args.json.write_text(json.dumps(all_results, indent=1, default=str))
    return 0


def parse_settings(items) -> dict:
    """Translator defaults, changed by ``NAME=VALUE`` items (JSON values or strings)."""
    settings = {
        k: v.default for k, v in _signature_defaults().items() if k not in ("self", "random_state")
    }
    for item in items:
        key, value = item.split("=", 1)
        settings[key] = json.loads(value) if value[:1] in "0123456789-[{tfn" else value
    return settings


def add_schedule_arguments(parser) -> None:
    """``--cycle-schedule`` and ``--lr-decay``, as this benchmark and its tuning runs take them."""
    parser.add_argument(
        "--cycle-schedule",
        metavar="IT:VALUE,...",
        help="lambda_cycle along (iteration, value) points for wgangp and torch alike, "
        "e.g. 3000:10,5000:40 (wgangp.schedules.ParamSchedule)",
    )
    parser.add_argument(
        "--lr-decay",
        metavar="START:STOP:FINAL",
        help="decay lr geometrically to FINAL x lr from iteration START to STOP, for wgangp "
        "and torch alike (wgangp.schedules.ExponentialDecay)",
    )


def parse_schedules(cycle_schedule: str | None, lr_decay: str | None) -> list:
    """The callbacks of ``--cycle-schedule`` and ``--lr-decay``."""
    schedules = []
    if cycle_schedule:
        schedules.append(ParamSchedule.from_text("lambda_cycle", cycle_schedule))
    if lr_decay:
        schedules.append(ExponentialDecay.from_text(lr_decay))
    return schedules


def pick_pairs(t: dict, n: int, seed: int):
    """``n`` source rows (indices, drawn with ``seed``) and their true translations T(a)."""
    idx = np.sort(np.random.default_rng(1000 + seed).choice(len(t["A"]), n, replace=False))
    return idx, t["T"](t["A"][idx])


def _signature_defaults():
    import inspect

    return dict(inspect.signature(wgangp.Translator.__init__).parameters)


if __name__ == "__main__":
    raise SystemExit(main())
