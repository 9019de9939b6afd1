"""The rules over a GAN's training history, one small function each, and their thresholds."""

from __future__ import annotations

import math

import numpy as np

from .findings import (
    DEFAULT_RUN,
    WATCHED,
    Finding,
    fmt,
    lower_lr,
    lr_text,
    minibatch_noise,
    runs_of,
    scale_hint,
)

MIN_RECORDS = 20  # fewer logged records than this: only the divergence rule runs
PENALTY_SHARE = 0.5  # penalty / (|W| + penalty) above this, late median
PENALTY_FLOOR = 0.05  # ... and the penalty itself above this (absolute)
PENALTY_W_LEVEL = 0.5  # ... and the late median W below this times the penalty
PENALTY_OVER_SWING = 1.0  # ... and the penalty above this times the late std of W (it,
# not the swings of a collapsing run, holds W down)
GRAD_NORM_BAND = (0.5, 1.5)  # late median of grad_norm_mean outside: off, for a strong penalty
GRAD_NORM_FACTOR = 2.0  # ... widened by this times the balance deviation W / (2 lambda k)
FLAT_TREND = 6.0  # spread of chunk medians below this times their standard error: flat
# (pure noise gives about 3 for 10 chunks; good runs 20 or more, collapsing ones 11)
FLAT_RANGE = 1e-4  # ... plus this times max(1, |median|) (a noiseless constant is flat)
FLAT_CHUNKS = 10  # the run is cut into this many chunks for their medians
COLLAPSE_NEGATIVE = 0.25  # W below 0 on this fraction of late iterations (good runs: at
# most 0.06; collapsing ones 0.4 and more) ...
COLLAPSE_SWING_OVER_PENALTY = 1.0  # ... and the late std of W above this times the penalty
COLLAPSE_SWING_OVER_NOISE = 1.3  # ... and above this times its minibatch noise (a stuck
# critic's W can sit below 0 too, moving no more than the noise: about 1x)
EXPLODE_FACTOR = 10.0  # |generator loss| late over early above this: exploding
EXPLODE_FLOOR = 10.0  # ... and the late |generator loss| above this (absolute)
OSCILLATION_RATIO = 1.5  # late std of W over its level max(|median W|, 0.05)
OSCILLATION_FLOOR = 0.3  # ... and the late std of W above this (absolute)
# Translator (errors and shifts are mean absolute entries in the scaled space)

# --------------------------------------------------------------------------- #
# The rules. Each takes the columns, the late-window start index and the run.  #
# --------------------------------------------------------------------------- #


def rule_divergence(cols, it, late, run=DEFAULT_RUN) -> Finding | None:
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
            map(fmt, tail)
        )
    return Finding(
        "divergence",
        "error",
        f"{', '.join(bad_keys)} not finite from iteration {first} "
        f"({int(bad_rows.sum())} of {len(it)} logged iterations){before}",
        f"{lower_lr(run)}{scale_hint(run)}, and check that the data are finite; then "
        "resume from the last good checkpoint (fit(X, steps, resume=run_dir)); "
        "DivergenceGuard stops such runs at once",
        runs_of(it, bad_rows),
        {"first_iteration": first, "keys": bad_keys},
    )


def rule_penalty_dominates(cols, it, late, run=DEFAULT_RUN) -> Finding | None:
    if "penalty" not in cols or "wasserstein" not in cols:
        return None
    pen = float(np.nanmedian(cols["penalty"][late:]))
    w_signed = float(np.nanmedian(cols["wasserstein"][late:]))
    w = abs(w_signed)
    swing = float(np.nanstd(cols["wasserstein"][late:]))
    share = pen / (w + pen) if (w + pen) > 0 else 0.0
    if not (
        share > PENALTY_SHARE
        and pen > PENALTY_FLOOR
        and w_signed < PENALTY_W_LEVEL * pen
        and pen > PENALTY_OVER_SWING * swing
    ):
        return None
    window = it[late:]
    if run.lambda_gp is not None:
        remedy = (
            f"lambda_gp={run.lambda_gp:g} is too strong for this critic and data: lower it "
            f"(e.g. to lambda_gp={run.lambda_gp / 10:.3g}; the toy presets use 0.1, the "
            "paper 10)"
        )
    else:
        remedy = "lower lambda_gp (e.g. by 10x; the toy presets use 0.1, the paper 10)"
    return Finding(
        "penalty_dominates",
        "warning",
        f"over iterations {window[0]}-{window[-1]} the penalty term (median {fmt(pen)}) "
        f"is {100 * share:.0f}% of the critic loss's magnitude, and the W estimate it leaves "
        f"has median {fmt(w_signed)}: the critic spends its capacity on the constraint "
        "and no longer tells real from generated",
        f"{remedy}{scale_hint(run)}; if the penalty will not come down, check its "
        "gradient with wgangp.gradcheck(model)",
        [int(i) for i in window],
        {
            "penalty_median": pen,
            "wasserstein_median": w_signed,
            "wasserstein_std": swing,
            "penalty_share": share,
        },
    )


def _lambda_from_history(cols, late) -> float | None:
    """lambda estimated as penalty / (||g|| - 1)^2 over the late window (an upper bound:
    the mean of squares is at least the square of the mean)."""
    if "penalty" not in cols:
        return None
    pen = cols["penalty"][late:]
    dev = (cols["grad_norm_mean"][late:] - 1.0) ** 2
    ok = np.isfinite(pen) & np.isfinite(dev) & (dev > 0.01)
    if not ok.any():
        return 0.0 if np.nanmax(np.abs(cols["penalty"])) == 0 else None
    return float(np.median(pen[ok] / dev[ok]))


def rule_grad_norm_off(cols, it, late, run=DEFAULT_RUN) -> Finding | None:
    """Norms further from 1 than the balance of the penalty and the W term allows.

    The critic trades a larger W estimate for a penalty: scaling a 1-Lipschitz
    critic to slope k earns k W1 and costs lambda (k - 1)^2, so the norm settles
    where k (k - 1) = W / (2 lambda) (W = k W1, the logged estimate). With
    lambda 10 that is within a few % of 1; with the toy presets' 0.1 norms of 2
    are the balance, not a fault.
    """
    if "grad_norm_mean" not in cols:
        return None
    norms = cols["grad_norm_mean"]
    med = float(np.nanmedian(norms[late:]))
    w = abs(float(np.nanmedian(cols["wasserstein"][late:]))) if "wasserstein" in cols else 0.0
    lam = run.lambda_gp
    estimated = lam is None
    if estimated:
        lam = _lambda_from_history(cols, late)
        if lam is None:
            return None
    low, high = GRAD_NORM_BAND
    if lam > 0:
        k = 0.5 * (1.0 + math.sqrt(1.0 + 2.0 * w / lam))
        high = high + GRAD_NORM_FACTOR * (k - 1.0)
    if run.penalty == "one-sided":
        low = 0.0  # norms below 1 cost nothing
    if low <= med <= high:
        return None
    off = (norms < low) | (norms > high)
    off[:late] = False
    lam_text = f"lambda_gp{'~' if estimated else '='}{lam:.3g}"
    if lam == 0:
        remedy = (
            "the penalty term is 0 throughout: lambda_gp=0 turns it off and leaves the "
            "critic unbounded; use lambda_gp=0.1 (the toy presets) to 10 (the paper)"
        )
    else:
        remedy = (
            f"with {lam_text}{' (estimated from the penalty)' if estimated else ''} the "
            "penalty should hold the norms there: run wgangp.gradcheck(model) to check the "
            f"penalty's gradient{scale_hint(run)}"
        )
    return Finding(
        "grad_norm_off",
        "warning",
        f"the critic's gradient norm at the interpolates has late median {fmt(med)}, "
        f"outside {fmt(low)}-{fmt(high)} (what {lam_text} against a W estimate of "
        f"{fmt(w)} allows) on {int(off.sum())} of {len(it) - late} late logged iterations",
        remedy,
        runs_of(it, off),
        {"grad_norm_median": med, "band_low": low, "band_high": high, "lambda_gp": lam},
    )


def _trend(y: np.ndarray) -> tuple[float, float, float] | None:
    """(spread of chunk medians, their standard error, median) of a series, or None
    when too short. The median of m noisy values has a standard error of about
    1.25 noise / sqrt(m)."""
    y = y[np.isfinite(y)]
    if len(y) < MIN_RECORDS:
        return None
    medians = [float(np.median(chunk)) for chunk in np.array_split(y, FLAT_CHUNKS)]
    error = 1.25 * minibatch_noise(y) / math.sqrt(len(y) / FLAT_CHUNKS)
    return max(medians) - min(medians), error, float(np.median(y))


def rule_not_learning(cols, it, late, run=DEFAULT_RUN) -> Finding | None:
    """Nothing moves beyond its minibatch noise over the whole run.

    A run that learned and settled has moved (its first chunk differs from
    the rest); a stuck one has not, whatever the late window looks like.
    """
    flat = []
    for key in ("wasserstein", "generator_loss"):
        if key not in cols:
            continue
        found = _trend(cols[key])
        if found is None:
            return None
        spread, error, level = found
        if spread >= FLAT_TREND * error + FLAT_RANGE * max(1.0, abs(level)):
            return None
        flat.append((key, level, spread, error))
    if not flat:
        return None
    text = "; ".join(
        f"{k} stays at {fmt(v)} (the medians of each tenth of the run within {fmt(s)}, "
        f"{s / e if e else 0:.1f}x their standard error {fmt(e)})"
        for k, v, s, e in flat
    )
    if run.lr is not None:
        lr = (
            f"raise the learning rate from {lr_text(run)} "
            "(the toy presets use 2e-3, the paper 1e-4)"
        )
    else:
        lr = "raise the learning rate (lr; the toy presets use 2e-3, the paper 1e-4)"
    return Finding(
        "not_learning",
        "warning",
        f"over iterations {it[0]}-{it[-1]}: {text}: neither network is learning",
        f"{lr}; check for dead ReLUs (try activation='leaky_relu'), and check that the "
        "data vary (a constant data set gives nothing to learn)",
        [int(i) for i in it],
        {f"{k}_spread": s for k, _, s, _ in flat},
    )


def rule_mode_collapse(cols, it, late, run=DEFAULT_RUN) -> Finding | None:
    """The W estimate below 0 on a large share of the late window, with swings
    larger than the penalty.

    A critic that is ahead scores real data above generated: W > 0, falling
    towards the noise floor as the generator improves (good runs stay above
    0 but for a few per cent of iterations). A generator that jumps from mode
    to mode lands where the critic scores it high, again and again: W goes
    below 0 for long stretches. How far W falls from its peak, and the
    generator loss (its level drifts: only differences of D matter), say
    nothing; a W held below 0 by a penalty larger than its swings is
    ``penalty_dominates``.
    """
    if "wasserstein" not in cols:
        return None
    w = cols["wasserstein"][late:]
    ok = np.isfinite(w)
    if ok.sum() < MIN_RECORDS // 2:
        return None
    negative = float(np.mean(w[ok] < 0))
    swing = float(np.std(w[ok]))
    pen = float(np.nanmedian(cols["penalty"][late:])) if "penalty" in cols else 0.0
    pen = pen if math.isfinite(pen) else 0.0
    noise = minibatch_noise(w)
    if not (
        negative >= COLLAPSE_NEGATIVE
        and swing > COLLAPSE_SWING_OVER_PENALTY * pen
        and swing > COLLAPSE_SWING_OVER_NOISE * noise
    ):
        return None
    below = np.zeros(len(it), dtype=bool)
    below[late:] = ok & (w < 0)
    level = float(np.median(w[ok]))
    steps = []
    if run.lr is not None:
        steps.append(f"lower the learning rate from {lr_text(run)} (e.g. to lr={run.lr / 5:.2g})")
    else:
        steps.append("lower the learning rate (e.g. by 3-10x)")
    if run.n_critic is not None and run.n_critic < 5:
        steps.append(f"raise n_critic from {run.n_critic} (e.g. to 5)")
    elif run.n_critic is None:
        steps.append("raise n_critic")
    steps.append("or widen the critic")
    return Finding(
        "mode_collapse_suspected",
        "warning",
        f"the W estimate is below 0 on {100 * negative:.0f}% of iterations "
        f"{int(it[late])}-{int(it[-1])} (median {fmt(level)}, standard deviation "
        f"{fmt(swing)} against a minibatch noise of {fmt(noise)} and a penalty of "
        f"{fmt(pen)}): the critic keeps losing track of a generator "
        "that jumps from one place to another",
        "look at samples (mode coverage: wgangp.metrics.mode_stats): if they cover few "
        f"modes, {', '.join(steps)}; keep the checkpoint from before the drop",
        runs_of(it, below),
        {
            "late_level": level,
            "negative_fraction": negative,
            "std": swing,
            "noise": noise,
            "penalty": pen,
        },
    )


def rule_generator_exploding(cols, it, late, run=DEFAULT_RUN) -> Finding | None:
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
    n_critic = f"raise n_critic from {run.n_critic}" if run.n_critic else "raise n_critic"
    return Finding(
        "generator_loss_exploding",
        "warning",
        f"|generator loss| grew from a median of {fmt(early)} early to {fmt(recent)} "
        f"at the end ({recent / ref:.0f}x), above {fmt(EXPLODE_FACTOR * ref)} from "
        f"iteration {first}",
        f"the critic's output drifts without bound: {lower_lr(run)}, {n_critic}"
        f"{scale_hint(run)}; if the samples still look right the drift alone is harmless "
        "(only differences of D matter), so compare W estimates",
        runs_of(it, big),
        {"early_median": early, "late_median": recent, "ratio": recent / ref},
    )


def rule_oscillation(cols, it, late, run=DEFAULT_RUN) -> Finding | None:
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
    steps = [lower_lr(run, "3-10x")]
    if run.betas is not None and run.betas[0] > 0.5:
        steps.append(
            f"Adam's betas ({run.betas[0]:g}, {run.betas[1]:g}) carry momentum across "
            "the critic's moves: use optimizer='adam-toy' (0.5, 0.9) or 'adam' (0, 0.9)"
        )
    elif run.betas is None and run.optimizer is None:
        steps.append("with Adam, optimizer='adam' (betas (0, 0.9)) also damps it")
    if run.lambda_gp == 0:
        steps.append("lambda_gp=0 leaves the critic unbounded: use 0.1 (the toy presets) to 10")
    return Finding(
        "oscillation",
        "warning",
        f"over iterations {window[0]}-{window[-1]} the W estimate swings with a standard "
        f"deviation of {fmt(spread)}, {ratio:.1f}x its level |median| {fmt(level)} "
        f"(5-95%: {fmt(np.percentile(w, 5))} to {fmt(np.percentile(w, 95))}; median "
        f"change between logged iterations {fmt(step)}): the updates overshoot",
        "the learning rate is too high: " + "; ".join(steps),
        [int(i) for i in window],
        {"std": spread, "level": level, "ratio": ratio, "median_step": step},
    )
