"""benchmarks/tabular.py and benchmarks/tune_defaults.py: the iteration counts they
give wgangp (its default on each table, a multiple of it), and their refusals."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("pandas")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

tabular = pytest.importorskip("tabular")
tune_defaults = pytest.importorskip("tune_defaults")

from wgangp.tabular import auto_batch_and_pac, default_steps  # noqa: E402


@pytest.mark.parametrize("rows", [50, 661, 4000, 21000, 200000])
def test_auto_steps_is_the_count_a_fit_without_steps_takes(rows):
    batch, _ = auto_batch_and_pac(rows, "auto", "auto")
    assert tabular.auto_steps(rows) == default_steps(rows, batch)
    # a chosen batch changes the count as it changes the fit's
    assert tabular.auto_steps(rows, {"batch_size": 50, "pac": 1}) == default_steps(rows, 50)


def test_at_entries_read_as_counts():
    assert tune_defaults._count("2500", 3000) == 2500
    assert tune_defaults._count("auto", 3000) == 3000
    assert tune_defaults._count(" auto*4", 2256) == 9024
    assert tune_defaults._count("auto*0.5", 1501) == 750  # rounded half to even
    with pytest.raises(SystemExit, match="positive"):
        tune_defaults._count("auto*0", 3000)
    # labels name the entry that gave a count; plain numbers label themselves
    assert tune_defaults._label(9024, 2256, ["auto", "auto*4", "1500"]) == "auto*4"
    assert tune_defaults._label(2256, 2256, ["auto", "auto*4"]) == "auto"
    assert tune_defaults._label(1500, 2256, ["auto", "1500"]) == "1500"


def test_tune_defaults_never_touches_the_check_set():
    with pytest.raises(SystemExit, match="not development tables"):
        tune_defaults.main(["--tables", "anes96", "--at", "10"])


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--steps", "10", "--steps-factor", "2"], "not both"),
        (["--steps-factor", "0"], "must be positive"),
        (["--steps-factor", "-1"], "must be positive"),
        (["--evaluations", "0"], "at least 1"),
        (["--tools", "wgangp,gan"], "unknown tools"),
    ],
)
def test_tabular_benchmark_refuses_bad_arguments(argv, message, capsys):
    with pytest.raises(SystemExit, match=message):
        tabular.main(["--tables", "crabs", "--suite", "check", *argv])
