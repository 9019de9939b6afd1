"""Tuning runs for the Translator: a fixed number of iterations, one core.

Each run trains :class:`wgangp.Translator` on one task of
``benchmarks/translation.py`` for ``--steps`` iterations and prints one
markdown row: the settings, the target-classifier accuracy, cycle L1 per
entry, sliced W1, seconds per iteration (measured in this process) and the
load average, so that iteration counts can be converted into wall budgets.

Usage::

    OPENBLAS_NUM_THREADS=1 python benchmarks/tune_translation.py thick --steps 600 \\
        --set lambda_identity=5 --seeds 0 1 2
    OPENBLAS_NUM_THREADS=1 python benchmarks/tune_translation.py blur --steps 9000 \\
        --every 1000 --cycle-schedule 3000:10,5000:40 --lr-decay 6000:9000:0.1
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import translation  # noqa: E402
import wgangp  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("task", choices=translation.TASKS)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--every", type=int, help="also score after every this many iterations")
    parser.add_argument("--pairs", type=int, default=0, help="paired source rows given to fit")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    translation.add_schedule_arguments(parser)
    parser.add_argument(
        "--speed",
        nargs="+",
        metavar="NAME=VALUE[,NAME=VALUE]",
        help='instead: seconds per iteration of these settings ("-" for the defaults), '
        "measured round-robin in this process, --steps iterations each in 4 rounds",
    )
    args = parser.parse_args(argv)
    if args.speed:
        return speed(args)
    settings = translation.parse_settings(args.set)
    settings["threads"] = 1
    t = translation.task(args.task)
    A, B, y_a = t["A"], t["B"], t["y_a"]
    clf = t["clf"].fit(B, t["y_b"])
    for seed in args.seeds:
        model = wgangp.Translator(random_state=seed, **settings)
        fit_kw = {"callbacks": translation.parse_schedules(args.cycle_schedule, args.lr_decay)}
        if args.pairs:
            fit_kw["pairs"] = translation.pick_pairs(t, args.pairs, seed)
        every = args.every or args.steps
        seconds, done = 0.0, 0
        while done < args.steps:
            chunk = min(every, args.steps - done)
            started = time.perf_counter()
            if done == 0:
                model.fit(A, B, steps=chunk, log_every=10, **fit_kw)
            else:
                model.partial_fit(A, B, steps=chunk, **fit_kw)
            seconds += time.perf_counter() - started
            done += chunk
            translated = model.transform(A)
            res = translation.scores(
                clf, translated, y_a, B, A, model.inverse_transform(translated), seed
            )
            shown = " ".join(
                args.set
                + [f"cycle {args.cycle_schedule}"] * bool(args.cycle_schedule)
                + [f"lr decay {args.lr_decay}"] * bool(args.lr_decay)
            )
            shown = shown or "defaults"
            print(
                f"| {args.task} | {shown} | pairs {args.pairs} | seed {seed} | {done} it | "
                f"acc {res['accuracy']:.3f} | cycle {res['cycle_l1']:.4f} | "
                f"sw1 {res['sliced_w1']:.3f} | {seconds / done:.3f} s/it | "
                f"load {os.getloadavg()[0]:.1f} |",
                flush=True,
            )
    return 0


def speed(args) -> int:
    """Seconds per iteration of several settings, interleaved so that they share the load."""
    t = translation.task(args.task)
    A, B = t["A"], t["B"]
    models, seconds = [], []
    for spec in args.speed:
        settings = translation.parse_settings([] if spec == "-" else spec.split(","))
        settings["threads"] = 1
        models.append(wgangp.Translator(random_state=0, **settings).fit(A, B, steps=2))
        seconds.append(0.0)
    rounds = 4
    for _ in range(rounds):
        for i, model in enumerate(models):
            started = time.perf_counter()
            model.partial_fit(A, B, steps=args.steps)
            seconds[i] += time.perf_counter() - started
    for spec, total in zip(args.speed, seconds):
        print(
            f"| {args.task} | speed | {spec} | {total / (rounds * args.steps):.4f} s/it | "
            f"load {os.getloadavg()[0]:.1f} |",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
