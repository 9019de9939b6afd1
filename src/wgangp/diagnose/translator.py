"""The rules over a :class:`wgangp.Translator`'s history, one small function each."""

from __future__ import annotations

import numpy as np

from .findings import (
    DEFAULT_RUN,
    Finding,
    fmt,
    late_median,
    smooth,
)

IDENTITY_CYCLE = 0.02  # late median cycle error below this: the cycle is closed ...
IDENTITY_SHIFT = 0.05  # ... and translations move entries less than this on average
IDENTITY_W_SHARE = 0.5  # ... while a W estimate stays above this share of its high level
IDENTITY_W_FLOOR = 0.2  # ... and above this (absolute)
CYCLE_BROKEN = 0.3  # late median cycle error above this: translations do not come back
LAG_RATIO = 5.0  # late median W of one domain over the other's above this: lagging
LAG_FLOOR = 0.3  # ... and the larger one above this (absolute)


def rule_translator_identity(cols, it, late, run=DEFAULT_RUN) -> Finding | None:
    cyc = late_median(cols, "cycle_error", late)
    if cyc is None or cyc >= IDENTITY_CYCLE:
        return None
    shifts = [late_median(cols, k, late) for k in ("shift_ab", "shift_ba")]
    shifts = [v for v in shifts if v is not None]
    if shifts and max(shifts) >= IDENTITY_SHIFT:
        return None
    high = []
    for domain in ("a", "b"):
        key = f"wasserstein_{domain}"
        level = late_median(cols, key, late)
        if level is None:
            continue
        w = cols[key][np.isfinite(cols[key])]
        ref = float(np.percentile(smooth(w, max(5, len(w) // 40)), 95))
        if level > IDENTITY_W_FLOOR and level >= IDENTITY_W_SHARE * ref:
            high.append((domain.upper(), level, ref))
    if not high:
        return None
    window = it[late:]
    moved = f", translations move entries by {fmt(max(shifts))} on average" if shifts else ""
    return Finding(
        "translator_identity",
        "warning",
        f"over iterations {window[0]}-{window[-1]} the cycle error has median {fmt(cyc)}"
        f"{moved}, while the critic of "
        + " and of ".join(
            f"{d} still sees a W estimate of {fmt(v)} (high {fmt(r)})" for d, v, r in high
        )
        + ": the generators learned the identity (or close to it), which closes the cycle "
        "without translating",
        "the cycle term holds the generators at their start: lower lambda_cycle (e.g. 10 -> 2), "
        "raise lr or train longer; with residual=True (training starts at the identity) try "
        "residual=False; check that the two domains really differ in the scaled space",
        [int(i) for i in window],
        {
            "cycle_error_median": cyc,
            "shift_median": max(shifts) if shifts else None,
            **{f"wasserstein_{d.lower()}_median": v for d, v, _ in high},
        },
    )


def rule_cycle_broken(cols, it, late, run=DEFAULT_RUN) -> Finding | None:
    cyc = late_median(cols, "cycle_error", late)
    if cyc is None or cyc <= CYCLE_BROKEN:
        return None
    window = it[late:]
    return Finding(
        "cycle_broken",
        "warning",
        f"over iterations {window[0]}-{window[-1]} the cycle error F(G(a)) - a, G(F(b)) - b "
        f"has median {fmt(cyc)} per entry (scaled units; above {CYCLE_BROKEN}): translated "
        "rows do not come back, so the translation need not keep their content",
        "raise lambda_cycle (e.g. 10 -> 30), lower lr, or train longer; "
        "lambda_identity > 0 also keeps rows that are already in the target domain in place",
        [int(i) for i in window],
        {"cycle_error_median": cyc},
    )


def rule_direction_lagging(cols, it, late, run=DEFAULT_RUN) -> Finding | None:
    w_a = late_median(cols, "wasserstein_a", late)
    w_b = late_median(cols, "wasserstein_b", late)
    if w_a is None or w_b is None:
        return None
    big, small, domain = (w_a, w_b, "A") if w_a >= w_b else (w_b, w_a, "B")
    if not (big > LAG_FLOOR and big > LAG_RATIO * max(small, 0.0) and big - small > LAG_FLOOR):
        return None
    other = "B" if domain == "A" else "A"
    window = it[late:]
    return Finding(
        "direction_lagging",
        "warning",
        f"over iterations {window[0]}-{window[-1]} the critic of {domain} sees a W estimate of "
        f"median {fmt(big)} against {fmt(small)} for {other}: translations from {other} "
        f"into {domain} are far from {domain}, the other direction is close",
        f"the translation into {domain} is behind: train longer; check that {domain}'s columns "
        "vary on the same scale as the other domain's; a wider network (hidden) gives that "
        "direction more room",
        [int(i) for i in window],
        {"wasserstein_high": big, "wasserstein_low": small, "domain": domain},
    )
