"""diagnose: every rule fires on a history built to trigger it, and stays quiet otherwise."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import wgangp
from wgangp.diagnose import Finding, diagnose, format_findings

DATA = Path(__file__).parent / "data"
RULE_NAMES = (
    "divergence",
    "penalty_dominates",
    "grad_norm_off",
    "not_learning",
    "mode_collapse_suspected",
    "generator_loss_exploding",
    "oscillation",
)


def build(n=400, seed=0, **overrides):
    """A healthy-looking history of ``n`` records; ``overrides`` replace whole columns.

    Healthy: the W estimate falls from ~1.8 to ~0.35 as the generator improves,
    with minibatch noise; the penalty stays small; gradient norms hover at 1;
    the generator loss drifts gently.
    """
    rng = np.random.default_rng(seed)
    i = np.arange(1, n + 1)
    cols = {
        "wasserstein": 0.3 + 1.5 * np.exp(-i / 150) + 0.03 * rng.standard_normal(n),
        "penalty": 0.03 + 0.01 * np.abs(rng.standard_normal(n)),
        "grad_norm_mean": 1.0 + 0.05 * rng.standard_normal(n),
        "generator_loss": 0.5 + 0.1 * np.sin(i / 50) + 0.05 * rng.standard_normal(n),
    }
    cols.update(
        {k: np.asarray(v(i) if callable(v) else v, dtype=float) for k, v in overrides.items()}
    )
    if "critic_loss" not in overrides:
        cols["critic_loss"] = -cols["wasserstein"] + cols["penalty"]
    return [
        {"iteration": int(it), **{k: float(v[j]) for k, v in cols.items()}}
        for j, it in enumerate(i)
    ]


def names(history):
    return [f.name for f in diagnose(history)]


def _nan_from(history, start, key="critic_loss"):
    for r in history[start:]:
        r[key] = float("nan")
    return history


def _noisy(level, sd, seed=1):
    """A column that stays at ``level`` with minibatch noise of ``sd`` (a stuck run)."""
    return lambda i: level + sd * np.random.default_rng(seed).standard_normal(len(i))


def _collapsing_w(i):
    """W rises as the critic learns, then the generator jumps from mode to mode: the
    estimate dips below 0 for stretches, its swings small in absolute terms."""
    return np.where(i < 150, 1.5 * i / 150, -0.15 + 0.2 * np.sin(i / 12.0)) + 0.02 * np.cos(i)


TRIGGERS = {
    "divergence": lambda: _nan_from(build(), 300),
    "penalty_dominates": lambda: build(
        penalty=lambda i: 2.0 + 0.1 * np.sin(i), wasserstein=lambda i: -0.5 + 0.05 * np.sin(i)
    ),
    "grad_norm_off": lambda: build(grad_norm_mean=lambda i: 3.0 + 0.1 * np.sin(i)),
    "not_learning": lambda: build(
        wasserstein=_noisy(0.4, 0.14), generator_loss=_noisy(-1.75, 0.12, seed=2)
    ),
    "mode_collapse_suspected": lambda: build(wasserstein=_collapsing_w),
    "generator_loss_exploding": lambda: build(generator_loss=lambda i: 0.5 * np.exp(i / 55)),
    "oscillation": lambda: build(wasserstein=lambda i: 0.5 + 2.0 * (-1.0) ** i),
}

# The settings a rule needs to fire on its trigger (and that its near miss has too).
SETTINGS = {"grad_norm_off": {"lambda_gp": 10.0}}

# Histories near each rule's edge that must not trigger it.
NEAR_MISSES = {
    "divergence": lambda: build(wasserstein=lambda i: 1e6 * np.ones_like(i, dtype=float)),
    "penalty_dominates": lambda: build(penalty=lambda i: np.where(i < 150, 5.0, 0.05)),
    "grad_norm_off": lambda: build(grad_norm_mean=lambda i: np.where(i < 150, 4.0, 1.1)),
    "not_learning": lambda: build(  # learned in the first tenth, then settled: not stuck
        wasserstein=lambda i: 0.3 + 1.5 * np.exp(-i / 15) + _noisy(0, 0.1)(i),
        generator_loss=_noisy(0.5, 0.1),
    ),
    "mode_collapse_suspected": lambda: build(  # W falls as the generator improves, G swings
        wasserstein=lambda i: 2.0 * np.exp(-i / 60) + 0.05 + _noisy(0, 0.03)(i),
        generator_loss=lambda i: 2.0 * np.sin(i / 7.0),
    ),
    "generator_loss_exploding": lambda: build(generator_loss=lambda i: 3.0 + np.sin(i / 20)),
    "oscillation": lambda: build(wasserstein=lambda i: 2.0 + 0.5 * (-1.0) ** i),
}


def rule_names(rule, history):
    return [f.name for f in diagnose(history, settings=SETTINGS.get(rule))]


def test_healthy_history_triggers_nothing():
    for seed in range(5):
        assert diagnose(build(seed=seed)) == []


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_rule_fires_on_a_history_built_to_trigger_it(rule):
    findings = diagnose(TRIGGERS[rule](), settings=SETTINGS.get(rule))
    assert rule in [f.name for f in findings]
    found = next(f for f in findings if f.name == rule)
    assert found.evidence and found.remedy and found.iterations
    assert any(ch.isdigit() for ch in found.evidence)


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_rule_stays_quiet_near_its_edge(rule):
    assert rule not in rule_names(rule, NEAR_MISSES[rule]())


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_trigger_histories_name_only_their_own_problem(rule):
    assert rule_names(rule, TRIGGERS[rule]()) == [rule]


def test_a_stuck_critic_below_zero_is_not_learning_and_not_a_collapse():
    """A random critic can score generated data higher: W sits below 0, moving no
    more than its minibatch noise (lr 1e-7, seed 2, of benchmarks/diagnose_eval.py)."""
    history = build(wasserstein=_noisy(-0.66, 0.15), generator_loss=_noisy(0.8, 0.1, seed=3))
    assert names(history) == ["not_learning"]


def test_a_penalty_that_holds_w_below_zero_is_not_a_collapse():
    """lambda 1000 (benchmarks/diagnose_eval.py): W about -0.95 with swings of 0.2,
    under a penalty of 2."""
    history = build(wasserstein=_noisy(-0.95, 0.2), penalty=_noisy(2.0, 0.3, seed=4))
    assert names(history) == ["penalty_dominates"]


def test_divergence_reports_the_first_bad_iteration_and_is_an_error():
    (finding,) = diagnose(_nan_from(build(), 250, key="generator_loss"))
    assert finding.severity == "error"
    assert finding.values["first_iteration"] == 251
    assert "251" in finding.evidence and "generator_loss" in finding.evidence
    assert finding.iterations[0] == 251


def test_grad_norm_off_without_penalty_says_lambda_is_zero():
    history = build(grad_norm_mean=np.full(400, 0.1), penalty=np.zeros(400))
    finding = next(f for f in diagnose(history) if f.name == "grad_norm_off")
    assert "lambda_gp=0" in finding.remedy


def test_grad_norm_off_remedy_points_to_gradcheck_and_quotes_lambda():
    findings = diagnose(TRIGGERS["grad_norm_off"](), settings={"lambda_gp": 10.0})
    finding = next(f for f in findings if f.name == "grad_norm_off")
    assert "gradcheck" in finding.remedy and "lambda_gp=10" in finding.remedy


def _quickstart_like(lambda_gp=0.1, norm=2.1, w=0.6):
    """Norms that a weak penalty balances against the W term (the README quickstart:
    lambda 0.1, W estimate about 0.6, norms about 2), the penalty logged accordingly."""
    return build(
        wasserstein=lambda i: w + 0.1 * np.sin(i / 3),
        grad_norm_mean=lambda i: norm + 0.2 * np.sin(i / 5),
        penalty=lambda i: lambda_gp * (norm - 1) ** 2 + 0 * i,
    )


def test_grad_norm_off_is_quiet_where_a_weak_penalty_balances_the_w_term():
    history = _quickstart_like()
    assert "grad_norm_off" not in names(history)  # lambda estimated from the penalty
    assert "grad_norm_off" not in [f.name for f in diagnose(history, {"lambda_gp": 0.1})]


def test_grad_norm_off_fires_on_the_same_norms_with_a_strong_penalty():
    history = _quickstart_like(lambda_gp=10.0, norm=2.1, w=0.6)
    finding = next(f for f in diagnose(history) if f.name == "grad_norm_off")
    assert "estimated from the penalty" in finding.remedy
    assert 9 < finding.values["lambda_gp"] < 11


def test_grad_norm_off_ignores_low_norms_under_a_one_sided_penalty():
    history = build(grad_norm_mean=np.full(400, 0.2), penalty=np.zeros(400))
    settings = {"lambda_gp": 10.0, "penalty": "one-sided"}
    assert "grad_norm_off" not in [f.name for f in diagnose(history, settings=settings)]
    assert "grad_norm_off" in [f.name for f in diagnose(history, settings={"lambda_gp": 10.0})]


def test_short_history_checks_only_divergence():
    history = build(n=10, penalty=np.full(10, 5.0))
    assert diagnose(history) == []
    assert names(_nan_from(build(n=10), 5)) == ["divergence"]


def test_empty_history_gives_no_findings():
    assert diagnose([]) == []


def test_finding_to_dict_is_json_and_str_is_readable():
    finding = diagnose(TRIGGERS["oscillation"]())[0]
    data = finding.to_dict()
    assert set(data) >= {"name", "severity", "evidence", "remedy", "iterations"}
    json.dumps(data, allow_nan=False)
    text = str(finding)
    assert "oscillation" in text and "remedy" in text and "evidence" in text
    assert format_findings([]) == "no problems found"


def test_diagnose_reads_a_history_object_and_a_jsonl_file(tmp_path):
    records = TRIGGERS["penalty_dominates"]()
    history = wgangp.History(records=records)
    assert names(history) == ["penalty_dominates"]
    path = tmp_path / "history.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    assert names(path) == ["penalty_dominates"]


def test_finding_is_a_dataclass_exported_at_top_level():
    assert wgangp.Finding is Finding and wgangp.diagnose is diagnose


# --------------------------------------------------------------------------- #
# A real failing run (benchmarks/collapse_run.py).                            #
# --------------------------------------------------------------------------- #


# --------------------------------------------------------------------------- #
# Remedies quote the run's own settings.                                      #
# --------------------------------------------------------------------------- #


def finding(rule, settings, history=None):
    history = TRIGGERS[rule]() if history is None else history
    return next(f for f in diagnose(history, settings=settings) if f.name == rule)


def test_divergence_remedy_quotes_the_learning_rate_and_skips_scaling_advice_when_scaled():
    remedy = finding("divergence", {"lr": 0.05, "scale": "standard"}).remedy
    assert "from lr=0.05" in remedy and "lr=0.005" in remedy
    assert "scale='standard')" not in remedy
    assert "scale=None" in finding("divergence", {"lr": 0.05, "scale": None}).remedy


def test_penalty_remedy_quotes_lambda_and_a_tenth_of_it():
    remedy = finding("penalty_dominates", {"lambda_gp": 1000.0}).remedy
    assert "lambda_gp=1000" in remedy and "lambda_gp=100;" in remedy
    assert "10 -> 1" not in remedy


def test_not_learning_remedy_quotes_the_learning_rate():
    assert "from lr=1e-07" in finding("not_learning", {"lr": 1e-7}).remedy


def test_mode_collapse_remedy_quotes_lr_and_n_critic():
    remedy = finding("mode_collapse_suspected", {"lr": 0.01, "n_critic": 1}).remedy
    assert "from lr=0.01" in remedy and "lr=0.002" in remedy
    assert "n_critic from 1" in remedy


def test_oscillation_remedy_names_adam_betas_and_a_missing_penalty():
    settings = {"optimizer": {"name": "adam", "lr": 0.01, "betas": [0.9, 0.99]}, "lambda_gp": 0}
    remedy = finding("oscillation", settings).remedy
    assert "from lr=0.01" in remedy and "betas (0.9, 0.99)" in remedy and "adam-toy" in remedy
    assert "lambda_gp=0" in remedy


def test_remedies_take_the_learning_rate_from_the_history_without_settings():
    history = [dict(r, lr_critic=3e-3, lr_generator=3e-3) for r in TRIGGERS["divergence"]()]
    history[-1]["lr_critic"] = 3e-5  # a schedule lowered it
    remedy = finding("divergence", None, history).remedy
    assert "from lr=0.003 (ending at 3e-05)" in remedy


def test_settings_from_an_estimator_and_from_a_config_table_read_alike():
    from wgangp.diagnose import run_settings

    params = wgangp.WGANGP(lr=2e-3, lambda_gp=0.1, optimizer="adam-toy", scale=None).get_params()
    from_model = run_settings(params)
    from_toml = run_settings({**params, "scale": "none"})
    assert from_model == from_toml
    assert (from_model.lr, from_model.lambda_gp, from_model.betas) == (2e-3, 0.1, (0.5, 0.9))


def test_real_25gaussians_run_is_diagnosed():
    """A real failing run, every 5th record (benchmarks/collapse_run.py, seed 0).

    25gaussians, hidden 128, batch 256, adam-toy lr 1e-4, lambda 10, 3000
    iterations: 1, 6 and 8 of 25 modes at iterations 1000, 2000 and 3000, the
    samples single streaks; the W estimate below 0 on about half the iterations.
    """
    history = wgangp.read_history(DATA / "collapse_25gaussians.jsonl")
    assert len(history) == 600 and history[-1]["iteration"] == 3000
    findings = {f.name: f for f in diagnose(history)}
    assert set(findings) == {"mode_collapse_suspected", "oscillation"}
    collapse = findings["mode_collapse_suspected"]
    assert collapse.values["negative_fraction"] > 0.4
    assert collapse.values["std"] > 2 * collapse.values["noise"]
    assert "lower the learning rate" in findings["oscillation"].remedy


def test_real_failing_run_is_named_early():
    records = list(wgangp.read_history(DATA / "collapse_25gaussians.jsonl"))
    assert "mode_collapse_suspected" in names(records[:100])  # by iteration 500


# --------------------------------------------------------------------------- #
# The translator's signals.                                                   #
# --------------------------------------------------------------------------- #

TRANSLATOR_RULES = ("translator_identity", "cycle_broken", "direction_lagging")


def build_translator(n=400, seed=0, **overrides):
    """A healthy-looking Translator history: both W estimates fall from ~1 to ~0.15,
    the cycle error settles near 0.05, translations move entries by ~0.4."""
    rng = np.random.default_rng(seed)
    i = np.arange(1, n + 1)
    cols = {
        "wasserstein_a": 0.15 + 0.9 * np.exp(-i / 150) + 0.03 * rng.standard_normal(n),
        "wasserstein_b": 0.12 + 0.8 * np.exp(-i / 150) + 0.03 * rng.standard_normal(n),
        "cycle_error": 0.05 + 0.1 * np.exp(-i / 100) + 0.005 * rng.standard_normal(n),
        "shift_ab": 0.4 + 0.02 * rng.standard_normal(n),
        "shift_ba": 0.38 + 0.02 * rng.standard_normal(n),
    }
    cols.update(
        {k: np.asarray(v(i) if callable(v) else v, dtype=float) for k, v in overrides.items()}
    )
    noise = rng.standard_normal(n)
    return build(
        n,
        seed,
        wasserstein=cols["wasserstein_a"] + cols["wasserstein_b"],
        generator_loss=0.5 + 10 * cols["cycle_error"] + 0.05 * noise,
        **{k: v for k, v in cols.items()},
    )


def _flat(level):
    return lambda i: level + 0.03 * np.sin(i / 3.0)


TRANSLATOR_TRIGGERS = {
    "translator_identity": lambda: build_translator(
        wasserstein_a=_flat(1.0),
        wasserstein_b=_flat(0.9),
        cycle_error=_flat(0.005),
        shift_ab=_flat(0.01),
        shift_ba=_flat(0.01),
    ),
    "cycle_broken": lambda: build_translator(cycle_error=_flat(0.6)),
    "direction_lagging": lambda: build_translator(
        wasserstein_a=_flat(1.5), wasserstein_b=_flat(0.1)
    ),
}

TRANSLATOR_NEAR_MISSES = {
    # the cycle closes and rows barely move, but both critics are satisfied:
    # the domains were close to begin with
    "translator_identity": lambda: build_translator(
        cycle_error=_flat(0.005), shift_ab=_flat(0.01), shift_ba=_flat(0.01)
    ),
    "cycle_broken": lambda: build_translator(cycle_error=_flat(0.25)),
    "direction_lagging": lambda: build_translator(
        wasserstein_a=_flat(0.5), wasserstein_b=_flat(0.2)
    ),
}


def test_healthy_translator_history_triggers_nothing():
    for seed in range(5):
        assert diagnose(build_translator(seed=seed)) == []


@pytest.mark.parametrize("rule", TRANSLATOR_RULES)
def test_translator_rule_fires_on_its_history_and_names_only_its_problem(rule):
    findings = diagnose(TRANSLATOR_TRIGGERS[rule]())
    assert [f.name for f in findings] == [rule]
    assert findings[0].evidence and findings[0].remedy and findings[0].iterations


@pytest.mark.parametrize("rule", TRANSLATOR_RULES)
def test_translator_rule_stays_quiet_near_its_edge(rule):
    assert rule not in names(TRANSLATOR_NEAR_MISSES[rule]())


def test_identity_needs_the_shift_too_when_it_is_logged():
    """A cycle closed by a real translation (rows move) is not the identity."""
    history = build_translator(
        wasserstein_a=_flat(1.0), wasserstein_b=_flat(0.9), cycle_error=_flat(0.005)
    )
    assert "translator_identity" not in names(history)


def test_translator_rules_stay_quiet_on_wgangp_histories():
    for history in (build(), *(t() for t in TRIGGERS.values())):
        assert not set(names(history)) & set(TRANSLATOR_RULES)


def test_identity_rule_names_a_real_translator_stuck_at_the_identity():
    """A real Translator whose cycle weight is so large that G and F stay at the
    identity between two clearly different domains."""
    rng = np.random.default_rng(0)
    A, B = rng.normal(size=(128, 2)), rng.normal(loc=4.0, size=(128, 2))
    model = wgangp.Translator(
        hidden=16, batch_size=64, lambda_cycle=1e4, lr=1e-3, random_state=0
    ).fit(A, B, steps=200)
    found = {f.name: f for f in diagnose(model.history_)}
    assert "translator_identity" in found
    assert found["translator_identity"].values["cycle_error_median"] < 0.02
