"""Rules over a training history that name what is wrong and what to do about it.

:func:`diagnose` reads a history (``WGANGP.history_``, a list of record
dicts, or a ``history.jsonl`` path) and returns a list of :class:`Finding`,
each with a name, a severity, the evidence (numbers and iterations), a
remedy, and the iterations where it shows (for plots). A healthy run gives
an empty list. Given the run's settings (``settings=model.get_params()``,
or the ``[model]`` table of a run's ``config.toml``), the remedies quote
them: "lower lambda_gp from 1000 (e.g. to 100)" rather than a textbook
value; without them the learning rate still comes from the history
(``lr_critic``) and lambda from the logged penalty where it can.

Each rule looks at the window where its problem shows: divergence and "not
learning" at the whole run (a run that learned and then settled is not
stuck), the others at the *late window*, the second half of the logged
iterations (the first iterations of any GAN are transients: random critic,
penalty far from its equilibrium). The thresholds were set on real runs,
good and bad (``benchmarks/diagnose_eval.py``: no finding on any good run
of the toy presets and the README quickstart, every bad run named).

=================================  =========  ==========================================
rule                               severity   shows as
=================================  =========  ==========================================
``divergence``                     error      NaN or inf in a loss, W or a gradient norm
``penalty_dominates``              warning    penalty term larger than the W estimate
                                              and its swings, keeping it near or below 0
``grad_norm_off``                  warning    critic gradient norms at the interpolates
                                              further from 1 than lambda_gp allows
                                              (``||g|| - 1`` balances ``W / (2 lambda)``)
``not_learning``                   warning    W estimate and generator loss move no more
                                              than their minibatch noise over the run
``mode_collapse_suspected``        warning    the W estimate below 0 on a quarter of the
                                              late iterations, swinging more than the
                                              penalty: the critic keeps losing track of
                                              a generator that jumps between modes
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
...      "generator_loss": 0.5 - 0.002 * i, "penalty": 0.05, "grad_norm_mean": 1.0}
...     for i in range(1, 201)
... ]
>>> diagnose(healthy)
[]
>>> broken = healthy[:150] + [dict(healthy[150], critic_loss=float("nan"))]
>>> [f.name for f in diagnose(broken)]
['divergence']
>>> (finding,) = diagnose(broken, settings={"lr": 0.002, "scale": "standard"})
>>> "from lr=0.002" in finding.remedy
True
"""

from __future__ import annotations

import numpy as np

from .findings import (
    WATCHED,
    Finding,
    RunSettings,
    format_findings,
    history_columns,
    run_settings,
)
from .rules import (
    MIN_RECORDS,
    rule_divergence,
    rule_generator_exploding,
    rule_grad_norm_off,
    rule_mode_collapse,
    rule_not_learning,
    rule_oscillation,
    rule_penalty_dominates,
)
from .translator import (
    rule_cycle_broken,
    rule_direction_lagging,
    rule_translator_identity,
)

__all__ = [
    "Finding",
    "RunSettings",
    "diagnose",
    "format_findings",
    "run_settings",
    "RULES",
    "WATCHED",
]


SUPERSEDED_BY = {"not_learning": {"translator_identity"}}
"""A finding left out when a more specific one explains the same history: generators
stuck at the identity are a translator's own way of not learning."""

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


def diagnose(history, settings=None) -> list[Finding]:
    """Check a training history against every rule; return what is found.

    Parameters
    ----------
    history : History, iterable of dict, or path
        ``model.history_``, a list of metrics records (at least ``iteration``;
        the rules use ``critic_loss``, ``generator_loss``, ``wasserstein``,
        ``penalty``, ``grad_norm_mean`` and ``lr_critic`` where present), or a
        ``history.jsonl`` file.
    settings : mapping, optional
        The run's estimator settings: ``model.get_params()`` or the
        ``[model]`` table of its ``config.toml``. The remedies quote them
        (``lr``, ``lambda_gp``, ``n_critic``, ``optimizer``, ``scale``), and
        ``grad_norm_off`` uses ``lambda_gp`` and ``penalty``. Without them the
        learning rate comes from the history and lambda from the penalty.

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
    cols = history_columns(history)
    if "iteration" not in cols or len(cols["iteration"]) == 0:
        return []
    run = run_settings(settings, cols)
    it = cols["iteration"]
    findings = []
    diverged = rule_divergence(cols, it, 0, run)
    if diverged is not None:
        findings.append(diverged)
        cut = int(np.searchsorted(it, diverged.values["first_iteration"]))
        cols = {k: v[:cut] for k, v in cols.items()}
        it = cols["iteration"]
    if len(it) >= MIN_RECORDS:
        late = len(it) // 2
        for rule in RULES[1:]:
            found = rule(cols, it, late, run)
            if found is not None:
                findings.append(found)
    found = {f.name for f in findings}
    findings = [f for f in findings if not found & SUPERSEDED_BY.get(f.name, set())]
    order = {"error": 0, "warning": 1, "info": 2}
    findings.sort(key=lambda f: order.get(f.severity, 3))
    return findings
