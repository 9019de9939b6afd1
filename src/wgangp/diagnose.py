"""Rules over a training history that name what is wrong and what to do about it.

:func:`diagnose` reads a history (``WGANGP.history_``, a list of record
dicts, or a ``history.jsonl`` path) and returns a list of :class:`Finding`,
each with a name, a severity, the evidence (numbers and iterations), a
remedy, and the iterations where it shows (for plots). A healthy run gives
an empty list.

Most rules look at the *late window*, the second half of the logged
iterations: the first iterations of any GAN are transients (random critic,
penalty far from its equilibrium) and say little.

=================================  =========  ==========================================
rule                               severity   shows as
=================================  =========  ==========================================
``divergence``                     error      NaN or inf in a loss, W or a gradient norm
``penalty_dominates``              warning    penalty term larger than the W estimate
``grad_norm_off``                  warning    critic gradient norms at the interpolates far
                                              from 1 although the penalty asks for 1
``not_learning``                   warning    critic loss or W estimate flat
``mode_collapse_suspected``        warning    W estimate collapsing (to a fraction of its
                                              high level, or below 0) while the
                                              generator loss swings
``generator_loss_exploding``       warning    generator loss grown by orders of magnitude
``oscillation``                    warning    swings of the W estimate larger than its
                                              level: learning rate too high
``translator_identity``            warning    (Translator) cycle error and translation
                                              shift near 0 while a W estimate stays high:
                                              the generators learned the identity
``cycle_broken``                   warning    (Translator) translations do not come back:
                                              the cycle error stays large
``direction_lagging``              warning    (Translator) one domain's W estimate stays
                                              many times the other's
=================================  =========  ==========================================

Examples
--------
>>> healthy = [
...     {"iteration": i, "critic_loss": -1.0 + 0.01 * (i % 3), "wasserstein": 1.0 - 0.001 * i,
...      "generator_loss": 0.5, "penalty": 0.05, "grad_norm_mean": 1.0}
...     for i in range(1, 201)
... ]
>>> diagnose(healthy)
[]
>>> broken = healthy[:150] + [dict(healthy[150], critic_loss=float("nan"))]
>>> [f.name for f in diagnose(broken)]
['divergence']
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Finding", "diagnose", "format_findings", "RULES"]

# Thresholds, named so that tests and readers can see them in one place.
MIN_RECORDS = 20  # fewer logged records than this: only the divergence rule runs
PENALTY_SHARE = 0.5  # penalty / (|W| + penalty) above this, late median
PENALTY_FLOOR = 0.05  # ... and the penalty itself above this (absolute)
GRAD_NORM_BAND = (0.5, 1.5)  # late median of grad_norm_mean outside: off
FLAT_RANGE = 1e-4  # late (max - min) below this times max(1, |median|): flat
COLLAPSE_DROP = 0.2  # late level of W below this fraction of its high level: collapsed
COLLAPSE_NEGATIVE = 0.25  # ... or smoothed W below 0 on this fraction of late iterations
COLLAPSE_SWING = 1.0  # late generator-loss 5-95% range over W's high level: swinging
EXPLODE_FACTOR = 10.0  # |generator loss| late over early above this: exploding
EXPLODE_FLOOR = 10.0  # ... and the late |generator loss| above this (absolute)
OSCILLATION_RATIO = 1.5  # late std of W over its level max(|median W|, 0.05)
OSCILLATION_FLOOR = 0.3  # ... and the late std of W above this (absolute)
# Translator (errors and shifts are mean absolute entries in the scaled space)
IDENTITY_CYCLE = 0.02  # late median cycle error below this: the cycle is closed ...
IDENTITY_SHIFT = 0.05  # ... and translations move entries less than this on average
IDENTITY_W_SHARE = 0.5  # ... while a W estimate stays above this share of its high level
IDENTITY_W_FLOOR = 0.2  # ... and above this (absolute)
CYCLE_BROKEN = 0.3  # late median cycle error above this: translations do not come back
LAG_RATIO = 5.0  # late median W of one domain over the other's above this: lagging
LAG_FLOOR = 0.3  # ... and the larger one above this (absolute)

WATCHED = (
    "critic_loss",
    "generator_loss",
    "wasserstein",
    "penalty",
    "grad_norm_min",
    "grad_norm_mean",
    "grad_norm_max",
    "critic_grad_norm",
    "generator_grad_norm",
)


@dataclass
class Finding:
    """One diagnosed problem.

    Attributes
    ----------
    name : str
        The rule's name (``"divergence"``, ``"oscillation"``, ...).
    severity : {"error", "warning", "info"}
    evidence : str
        What was seen, with numbers and iterations.
    remedy : str
        What to try.
    iterations : list of int
        Logged iterations where the problem shows (to shade a plot).
    values : dict
        The numbers behind the evidence, by name.
    """

    name: str
    severity: str
    evidence: str
    remedy: str
    iterations: list[int] = field(default_factory=list)
    values: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain JSON-serialisable data."""
        out = asdict(self)
        out["iterations"] = [int(i) for i in self.iterations]
        out["values"] = {k: _plain(v) for k, v in self.values.items()}
        return out

    def __str__(self) -> str:
        span = ""
        if self.iterations:
            span = f" (iterations {min(self.iterations)}-{max(self.iterations)})"
        return (
            f"[{self.severity}] {self.name}{span}\n"
            f"  evidence: {self.evidence}\n"
            f"  remedy:   {self.remedy}"
        )


def _plain(value):
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def format_findings(findings: list[Finding]) -> str:
    """The findings as readable text (one block each), or a line saying none."""
    if not findings:
        return "no problems found"
    return "\n".join(str(f) for f in findings)


# --------------------------------------------------------------------------- #
# Reading a history into columns.                                            #
# --------------------------------------------------------------------------- #


def _columns(history) -> dict[str, np.ndarray]:
    if isinstance(history, (str, Path)):
        from .history import read_history

        history = read_history(history)
    if hasattr(history, "column") and hasattr(history, "keys"):
        return {key: history.column(key) for key in history.keys}
    records = list(history)
    keys: list[str] = []
    for record in records:
        keys.extend(k for k in record if k not in keys)
    cols = {}
    for key in keys:
        values = [record.get(key) for record in records]
        cols[key] = np.array(
            [np.nan if v is None else v for v in values],
            dtype=np.int64 if key == "iteration" else np.float64,
        )
    return cols


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def _runs(iterations: np.ndarray, mask: np.ndarray) -> list[int]:
    return [int(i) for i in iterations[mask]]


def _smooth(y: np.ndarray, width: int) -> np.ndarray:
    """Centred moving median (robust to single spikes), edges shrink the window."""
    width = max(1, int(width))
    half = width // 2
    out = np.empty_like(y)
    for i in range(len(y)):
        out[i] = np.median(y[max(0, i - half) : i + half + 1])
    return out


# --------------------------------------------------------------------------- #
# The rules. Each takes the columns and the late-window start index.          #
# --------------------------------------------------------------------------- #


def rule_divergence(cols, it, late) -> Finding | None:
    bad_rows = np.zeros(len(it), dtype=bool)
    bad_keys = []
    for key in WATCHED:
        if key in cols:
            bad = ~np.isfinite(cols[key])
            if bad.any():
                bad_rows |= bad
                bad_keys.append(key)
    if not bad_rows.any():
        return None
    first = int(it[np.argmax(bad_rows)])
    last_good = it[: np.argmax(bad_rows)]
    before = ""
    if len(last_good) and "critic_loss" in cols:
        tail = cols["critic_loss"][: np.argmax(bad_rows)][-5:]
        before = "; the critic loss over the last logged iterations before: " + ", ".join(
            map(_fmt, tail)
        )
    return Finding(
        "divergence",
        "error",
        f"{', '.join(bad_keys)} not finite from iteration {first} "
        f"({int(bad_rows.sum())} of {len(it)} logged iterations){before}",
        "lower the learning rate (lr, e.g. by 10x), check that the data are scaled "
        "(scale='standard') and finite, then resume from the last good checkpoint "
        "(fit(X, steps, resume=run_dir)); DivergenceGuard stops such runs at once",
        _runs(it, bad_rows),
        {"first_iteration": first, "keys": bad_keys},
    )


def rule_penalty_dominates(cols, it, late) -> Finding | None:
    if "penalty" not in cols or "wasserstein" not in cols:
        return None
    pen = np.nanmedian(cols["penalty"][late:])
    w = np.nanmedian(np.abs(cols["wasserstein"][late:]))
    share = pen / (w + pen) if (w + pen) > 0 else 0.0
    if not (share > PENALTY_SHARE and pen > PENALTY_FLOOR):
        return None
    window = it[late:]
    return Finding(
        "penalty_dominates",
        "warning",
        f"over iterations {window[0]}-{window[-1]} the penalty term (median {_fmt(pen)}) "
        f"is {100 * share:.0f}% of the critic loss's magnitude, against a W estimate of "
        f"median |{_fmt(w)}|: the critic spends its capacity on the constraint",
        "the data scale and lambda_gp do not match: standardise the data "
        "(scale='standard'), or lower lambda_gp (e.g. 10 -> 1); if the penalty will "
        "not come down, check its gradient with wgangp.gradcheck(model)",
        [int(i) for i in window],
        {"penalty_median": pen, "wasserstein_abs_median": w, "penalty_share": share},
    )


def rule_grad_norm_off(cols, it, late) -> Finding | None:
    if "grad_norm_mean" not in cols:
        return None
    norms = cols["grad_norm_mean"]
    med = float(np.nanmedian(norms[late:]))
    low, high = GRAD_NORM_BAND
    if low <= med <= high:
        return None
    off = (norms < low) | (norms > high)
    off[:late] = False
    pen_on = "penalty" not in cols or np.nanmax(cols["penalty"]) > 0
    remedy = (
        "the penalty is not doing its job: run wgangp.gradcheck(model) to check the "
        "penalty's gradient; then check lambda_gp (10 is the paper's) and that the "
        "data are scaled"
    )
    if not pen_on:
        remedy = "the penalty term is 0 throughout: lambda_gp=0 turns it off; use lambda_gp=10"
    return Finding(
        "grad_norm_off",
        "warning",
        f"the critic's gradient norm at the interpolates has late median {_fmt(med)} "
        f"(outside {low}-{high}; the penalty pulls it to 1) on {int(off.sum())} of "
        f"{len(it) - late} late logged iterations",
        remedy,
        _runs(it, off),
        {"grad_norm_median": med},
    )


def rule_not_learning(cols, it, late) -> Finding | None:
    flat = []
    for key in ("critic_loss", "wasserstein"):
        if key not in cols:
            continue
        y = cols[key][late:]
        y = y[np.isfinite(y)]
        if len(y) < MIN_RECORDS // 2:
            continue
        spread = float(y.max() - y.min())
        level = float(np.median(y))
        if spread < FLAT_RANGE * max(1.0, abs(level)):
            flat.append((key, level, spread))
    if not flat:
        return None
    window = it[late:]
    text = "; ".join(f"{k} stays at {_fmt(v)} (range {_fmt(s)})" for k, v, s in flat)
    return Finding(
        "not_learning",
        "warning",
        f"over iterations {window[0]}-{window[-1]}: {text}: the critic is not learning",
        "the critic is stuck: raise the learning rate (lr), check for dead ReLUs "
        "(try activation='leaky_relu'), and check that the data vary (a constant "
        "data set gives nothing to learn)",
        [int(i) for i in window],
        {f"{k}_range": s for k, _, s in flat},
    )


def rule_mode_collapse(cols, it, late) -> Finding | None:
    if "wasserstein" not in cols or "generator_loss" not in cols:
        return None
    w = cols["wasserstein"]
    g = cols["generator_loss"]
    ok = np.isfinite(w) & np.isfinite(g)
    if ok.sum() < MIN_RECORDS:
        return None
    w_s = _smooth(np.where(ok, w, 0.0), max(5, len(w) // 40))
    ref = float(np.percentile(w_s, 95))  # the estimate's high level over the run
    if ref <= 0:
        return None
    tail = w_s[late:]
    level = float(np.median(tail))
    negative = float(np.mean(tail < 0))
    collapsed = level < COLLAPSE_DROP * ref or negative >= COLLAPSE_NEGATIVE
    g_late = g[late:][np.isfinite(g[late:])]
    swing = float(np.percentile(g_late, 95) - np.percentile(g_late, 5))
    if not (collapsed and swing > COLLAPSE_SWING * ref):
        return None
    low = np.zeros(len(it), dtype=bool)
    low[late:] = tail < COLLAPSE_DROP * ref
    return Finding(
        "mode_collapse_suspected",
        "warning",
        f"the W estimate, which reached {_fmt(ref)} (95th percentile, smoothed), sits at a "
        f"late median of {_fmt(level)} and below 0 on {100 * negative:.0f}% of iterations "
        f"{int(it[late])}-{int(it[-1])}, while the generator loss swings over "
        f"{_fmt(swing)} (5-95% range): the critic keeps losing track of a generator "
        "that jumps from one place to another",
        "look at samples (mode coverage: wgangp.metrics.mode_stats): if they cover few "
        "modes, lower the learning rate (e.g. by 3-10x), raise n_critic, or widen the "
        "critic; keep the checkpoint from before the drop",
        _runs(it, low),
        {"reference": ref, "late_level": level, "negative_fraction": negative, "swing": swing},
    )


def rule_generator_exploding(cols, it, late) -> Finding | None:
    if "generator_loss" not in cols:
        return None
    g = np.abs(cols["generator_loss"])
    g_ok = np.where(np.isfinite(g), g, np.nan)
    n = len(g)
    early = float(np.nanmedian(g_ok[: max(MIN_RECORDS // 2, n // 4)]))
    tail_start = max(late, n - max(MIN_RECORDS // 2, n // 10))
    recent = float(np.nanmedian(g_ok[tail_start:]))
    ref = max(early, 1.0)
    if not (recent > EXPLODE_FACTOR * ref and recent > EXPLODE_FLOOR):
        return None
    big = np.isfinite(g) & (g > EXPLODE_FACTOR * ref)
    first = int(it[np.argmax(big)])
    return Finding(
        "generator_loss_exploding",
        "warning",
        f"|generator loss| grew from a median of {_fmt(early)} early to {_fmt(recent)} "
        f"at the end ({recent / ref:.0f}x), above {_fmt(EXPLODE_FACTOR * ref)} from "
        f"iteration {first}",
        "the critic's output drifts without bound: lower the learning rate, raise "
        "n_critic, or check the data scale; if the samples still look right the drift "
        "alone is harmless (only differences of D matter), so compare W estimates",
        _runs(it, big),
        {"early_median": early, "late_median": recent, "ratio": recent / ref},
    )


def rule_oscillation(cols, it, late) -> Finding | None:
    if "wasserstein" not in cols:
        return None
    w = cols["wasserstein"][late:]
    w = w[np.isfinite(w)]
    if len(w) < MIN_RECORDS // 2:
        return None
    spread = float(np.std(w))
    step = float(np.median(np.abs(np.diff(w))))
    level = max(abs(float(np.median(w))), 0.05)
    ratio = spread / level
    if not (ratio > OSCILLATION_RATIO and spread > OSCILLATION_FLOOR):
        return None
    window = it[late:]
    return Finding(
        "oscillation",
        "warning",
        f"over iterations {window[0]}-{window[-1]} the W estimate swings with a standard "
        f"deviation of {_fmt(spread)}, {ratio:.1f}x its level |median| {_fmt(level)} "
        f"(5-95%: {_fmt(np.percentile(w, 5))} to {_fmt(np.percentile(w, 95))}; median "
        f"change between logged iterations {_fmt(step)}): the updates overshoot",
        "the learning rate is too high: lower lr (e.g. by 3-10x); with Adam, "
        "optimizer='adam' (betas (0, 0.9)) also damps it",
        [int(i) for i in window],
        {"std": spread, "level": level, "ratio": ratio, "median_step": step},
    )


def _late_median(cols, key, late) -> float | None:
    if key not in cols:
        return None
    y = cols[key][late:]
    y = y[np.isfinite(y)]
    return float(np.median(y)) if len(y) else None


def rule_translator_identity(cols, it, late) -> Finding | None:
    cyc = _late_median(cols, "cycle_error", late)
    if cyc is None or cyc >= IDENTITY_CYCLE:
        return None
    shifts = [_late_median(cols, k, late) for k in ("shift_ab", "shift_ba")]
    shifts = [v for v in shifts if v is not None]
    if shifts and max(shifts) >= IDENTITY_SHIFT:
        return None
    high = []
    for domain in ("a", "b"):
        key = f"wasserstein_{domain}"
        level = _late_median(cols, key, late)
        if level is None:
            continue
        w = cols[key][np.isfinite(cols[key])]
        ref = float(np.percentile(_smooth(w, max(5, len(w) // 40)), 95))
        if level > IDENTITY_W_FLOOR and level >= IDENTITY_W_SHARE * ref:
            high.append((domain.upper(), level, ref))
    if not high:
        return None
    window = it[late:]
    moved = f", translations move entries by {_fmt(max(shifts))} on average" if shifts else ""
    return Finding(
        "translator_identity",
        "warning",
        f"over iterations {window[0]}-{window[-1]} the cycle error has median {_fmt(cyc)}"
        f"{moved}, while the critic of "
        + " and of ".join(
            f"{d} still sees a W estimate of {_fmt(v)} (high {_fmt(r)})" for d, v, r in high
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


def rule_cycle_broken(cols, it, late) -> Finding | None:
    cyc = _late_median(cols, "cycle_error", late)
    if cyc is None or cyc <= CYCLE_BROKEN:
        return None
    window = it[late:]
    return Finding(
        "cycle_broken",
        "warning",
        f"over iterations {window[0]}-{window[-1]} the cycle error F(G(a)) - a, G(F(b)) - b "
        f"has median {_fmt(cyc)} per entry (scaled units; above {CYCLE_BROKEN}): translated "
        "rows do not come back, so the translation need not keep their content",
        "raise lambda_cycle (e.g. 10 -> 30), lower lr, or train longer; "
        "lambda_identity > 0 also keeps rows that are already in the target domain in place",
        [int(i) for i in window],
        {"cycle_error_median": cyc},
    )


def rule_direction_lagging(cols, it, late) -> Finding | None:
    w_a = _late_median(cols, "wasserstein_a", late)
    w_b = _late_median(cols, "wasserstein_b", late)
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
        f"median {_fmt(big)} against {_fmt(small)} for {other}: translations from {other} "
        f"into {domain} are far from {domain}, the other direction is close",
        f"the translation into {domain} is behind: train longer; check that {domain}'s columns "
        "vary on the same scale as the other domain's; a wider network (hidden) gives that "
        "direction more room",
        [int(i) for i in window],
        {"wasserstein_high": big, "wasserstein_low": small, "domain": domain},
    )


RULES = (
    rule_divergence,
    rule_penalty_dominates,
    rule_grad_norm_off,
    rule_not_learning,
    rule_mode_collapse,
    rule_generator_exploding,
    rule_oscillation,
    rule_translator_identity,
    rule_cycle_broken,
    rule_direction_lagging,
)


def diagnose(history) -> list[Finding]:
    """Check a training history against every rule; return what is found.

    Parameters
    ----------
    history : History, iterable of dict, or path
        ``model.history_``, a list of metrics records (at least ``iteration``;
        the rules use ``critic_loss``, ``generator_loss``, ``wasserstein``,
        ``penalty`` and ``grad_norm_mean`` where present), or a
        ``history.jsonl`` file.

    Returns
    -------
    list of Finding
        Errors first; empty for a healthy run. With fewer than 20 logged
        records only divergence is checked.

    Notes
    -----
    After a divergence the other rules look only at the records before it
    (NaN says nothing about learning rates or penalties).
    """
    cols = _columns(history)
    if "iteration" not in cols or len(cols["iteration"]) == 0:
        return []
    it = cols["iteration"]
    findings = []
    diverged = rule_divergence(cols, it, 0)
    if diverged is not None:
        findings.append(diverged)
        cut = int(np.searchsorted(it, diverged.values["first_iteration"]))
        cols = {k: v[:cut] for k, v in cols.items()}
        it = cols["iteration"]
    if len(it) >= MIN_RECORDS:
        late = len(it) // 2
        for rule in RULES[1:]:
            found = rule(cols, it, late)
            if found is not None:
                findings.append(found)
    order = {"error": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda f: order.get(f.severity, 3))
    return findings
