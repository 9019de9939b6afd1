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


TRIGGERS = {
    "divergence": lambda: _nan_from(build(), 300),
    "penalty_dominates": lambda: build(penalty=lambda i: 2.0 + 0.1 * np.sin(i)),
    "grad_norm_off": lambda: build(grad_norm_mean=lambda i: 3.0 + 0.1 * np.sin(i)),
    "not_learning": lambda: build(wasserstein=np.zeros(400), penalty=np.full(400, 0.01)),
    "mode_collapse_suspected": lambda: build(
        wasserstein=lambda i: (
            np.where(i < 150, 2.0 * i / 150, 2.0 * np.exp(-(i - 150) / 30)) + 0.02 * np.cos(i)
        ),
        generator_loss=lambda i: 2.0 * np.sin(i / 7.0),
    ),
    "generator_loss_exploding": lambda: build(generator_loss=lambda i: 0.5 * np.exp(i / 55)),
    "oscillation": lambda: build(wasserstein=lambda i: 0.5 + 2.0 * (-1.0) ** i),
}

# Histories near each rule's edge that must not trigger it.
NEAR_MISSES = {
    "divergence": lambda: build(wasserstein=lambda i: 1e6 * np.ones_like(i, dtype=float)),
    "penalty_dominates": lambda: build(penalty=lambda i: np.where(i < 150, 5.0, 0.05)),
    "grad_norm_off": lambda: build(grad_norm_mean=lambda i: np.where(i < 150, 4.0, 1.1)),
    "not_learning": lambda: build(wasserstein=lambda i: 0.3 + 0.01 * np.sin(i)),
    "mode_collapse_suspected": lambda: build(  # W falls as the generator improves, G calm
        wasserstein=lambda i: 2.0 * np.exp(-i / 60) + 0.05,
    ),
    "generator_loss_exploding": lambda: build(generator_loss=lambda i: 3.0 + np.sin(i / 20)),
    "oscillation": lambda: build(wasserstein=lambda i: 2.0 + 0.5 * (-1.0) ** i),
}


def test_healthy_history_triggers_nothing():
    for seed in range(5):
        assert diagnose(build(seed=seed)) == []


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_rule_fires_on_a_history_built_to_trigger_it(rule):
    findings = diagnose(TRIGGERS[rule]())
    assert rule in [f.name for f in findings]
    found = next(f for f in findings if f.name == rule)
    assert found.evidence and found.remedy and found.iterations
    assert any(ch.isdigit() for ch in found.evidence)


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_rule_stays_quiet_near_its_edge(rule):
    assert rule not in names(NEAR_MISSES[rule]())


@pytest.mark.parametrize("rule", RULE_NAMES)
def test_trigger_histories_name_only_their_own_problem(rule):
    assert names(TRIGGERS[rule]()) == [rule]


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


def test_grad_norm_off_remedy_points_to_gradcheck():
    finding = next(f for f in diagnose(TRIGGERS["grad_norm_off"]()) if f.name == "grad_norm_off")
    assert "gradcheck" in finding.remedy


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
    assert collapse.values["negative_fraction"] > 0.4 and collapse.values["swing"] > 3
    assert "lower lr" in findings["oscillation"].remedy


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
