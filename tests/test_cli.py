"""The command line end to end, in subprocesses, on tiny runs.

Every command runs as ``python -m wgangp`` with this tree's ``src`` first on
the path, so the tests exercise this checkout. Independent commands run
concurrently to keep the suite short.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import wgangp
from wgangp import cli, config

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# A model small enough that a run of a few dozen iterations takes a fraction of a second.
TINY = [
    "--data",
    "8gaussians",
    "--n-rows",
    "256",
    "--hidden",
    "8",
    "--depth",
    "1",
    "--batch-size",
    "32",
    "--no-report",
]
COMMANDS = ("train", "resume", "sample", "evaluate", "report", "gradcheck", "diagnose", "augment")


def _env() -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT / "src"), env.get("PYTHONPATH")]))
    # Tiny matrices: one BLAS thread each, so that concurrent commands do not fight.
    env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    return env


def _argv(args) -> list[str]:
    return [sys.executable, "-m", "wgangp", *map(str, args)]


def run_cli(*args, cwd, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(
        _argv(args), cwd=cwd, env=_env(), capture_output=True, text=True, timeout=timeout
    )


def run_many(commands, cwd, timeout: float = 180) -> list[subprocess.CompletedProcess]:
    """Run several command lines at once; results in order."""
    procs = [
        (
            args,
            subprocess.Popen(
                _argv(args),
                cwd=cwd,
                env=_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            ),
        )
        for args in commands
    ]
    results = []
    for args, proc in procs:
        out, err = proc.communicate(timeout=timeout)
        results.append(subprocess.CompletedProcess(args, proc.returncode, out, err))
    return results


def _params(path) -> list[np.ndarray]:
    model = wgangp.load(path)
    return model.generator_.params + model.critic_.params


def assert_same_model(a, b) -> None:
    pa, pb = _params(a), _params(b)
    assert len(pa) == len(pb)
    for x, y in zip(pa, pb):
        assert x.dtype == y.dtype and np.array_equal(x, y)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A finished tiny run: (folder, the train command's result)."""
    cwd = tmp_path_factory.mktemp("cli")
    result = run_cli("train", *TINY, "--steps", 30, "--out", "run", cwd=cwd)
    assert result.returncode == 0, result.stderr
    return cwd / "run", result


# --------------------------------------------------------------------------- #
# train, resume, and the configuration it writes.                             #
# --------------------------------------------------------------------------- #


def test_train_fills_the_run_folder_and_prints_progress_and_where_things_are(trained):
    run, result = trained
    for name in ("config.toml", "history.jsonl", "model.npz"):
        assert (run / name).is_file(), name
    assert list((run / "checkpoints").glob("ckpt-*.npz"))
    lines = result.stdout.splitlines()
    progress = [line for line in lines if line.strip().startswith("iter ")]
    assert len(progress) == 10 and "(100%)" in progress[-1]
    assert any(line.startswith("model:") and "model.npz" in line for line in lines)
    assert wgangp.load(run / "model.npz").n_iter_ == 30
    records = [json.loads(line) for line in (run / "history.jsonl").read_text().splitlines()]
    assert [r["iteration"] for r in records] == list(range(1, 31))
    assert result.stderr == ""


def test_config_toml_reproduces_the_run_bit_for_bit(trained):
    run, _ = trained
    cfg = config.load(run / "config.toml")
    assert (cfg["data"], cfg["steps"], cfg["seed"], cfg["n_rows"]) == ("8gaussians", 30, 0, 256)
    assert (cfg["model"]["hidden"], cfg["model"]["depth"], cfg["model"]["batch_size"]) == (8, 1, 32)
    again = run.parent / "again"
    result = run_cli("train", "--config", run / "config.toml", "--out", again, cwd=run.parent)
    assert result.returncode == 0, result.stderr
    assert_same_model(run / "model.npz", again / "model.npz")
    assert config.load(again / "config.toml") == cfg


def test_flags_override_the_config_file(tmp_path):
    (tmp_path / "run.toml").write_text(
        'data = "25gaussians"\nsteps = 5\n[model]\nhidden = 8\nlr = 0.01\n', encoding="utf-8"
    )
    result = run_cli(
        "train",
        "--config",
        "run.toml",
        "--hidden",
        "12",
        "--seed",
        "4",
        "--print-config",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    printed = config.loads(result.stdout)
    assert (printed["data"], printed["steps"], printed["seed"]) == ("25gaussians", 5, 4)
    assert (printed["model"]["hidden"], printed["model"]["lr"]) == (12, 0.01)
    assert not (tmp_path / "runs").exists()


def test_resume_runs_more_steps_and_keeps_the_config_reproducing_the_run(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained[0], run)
    done, more = run_many([["resume", run], ["resume", run.parent / "nothing"]], cwd=tmp_path)
    assert done.returncode == 0 and "complete (30 of 30" in done.stdout, done.stderr
    assert more.returncode == 2
    result = run_cli("resume", run, "--steps", 6, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert wgangp.load(run / "model.npz").n_iter_ == 36
    assert config.load(run / "config.toml")["steps"] == 36
    lines = (run / "history.jsonl").read_text().splitlines()
    assert [json.loads(line)["iteration"] for line in lines] == list(range(1, 37))


def test_overwrite_replaces_the_run_in_the_folder(trained, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(trained[0], run)
    result = run_cli("train", *TINY, "--steps", 3, "--out", run, "--overwrite", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert wgangp.load(run / "model.npz").n_iter_ == 3
    assert config.load(run / "config.toml")["steps"] == 3
    assert [p.name for p in sorted((run / "checkpoints").iterdir())] == [
        "ckpt-00000001.npz",
        "ckpt-00000002.npz",
        "ckpt-00000003.npz",
    ]
    assert len((run / "history.jsonl").read_text().splitlines()) == 3


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_writes_a_checkpoint_exits_130_and_resume_is_bit_exact(tmp_path):
    steps = 1500
    args = [*TINY, "--steps", steps]
    proc = subprocess.Popen(
        _argv(["train", *args, "--out", "run"]),
        cwd=tmp_path,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    history = tmp_path / "run" / "history.jsonl"
    deadline = time.monotonic() + 120
    while not (history.is_file() and history.stat().st_size > 0):
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            pytest.fail(f"training ended or stalled before logging: {proc.communicate()}")
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "interrupted at iteration" in out and "wgangp resume run" in out
    checkpoints = sorted((tmp_path / "run" / "checkpoints").glob("ckpt-*.npz"))
    assert checkpoints
    stopped = wgangp.load(checkpoints[-1]).n_iter_
    assert 0 < stopped < steps
    assert wgangp.load(tmp_path / "run" / "model.npz").n_iter_ == stopped

    resumed, straight = run_many(
        [["resume", "run"], ["train", *args, "--out", "straight"]], cwd=tmp_path
    )
    assert resumed.returncode == 0, resumed.stderr
    assert straight.returncode == 0, straight.stderr
    assert f"iteration {stopped}" in resumed.stdout
    assert wgangp.load(tmp_path / "run" / "model.npz").n_iter_ == steps
    assert_same_model(tmp_path / "run" / "model.npz", tmp_path / "straight" / "model.npz")


# --------------------------------------------------------------------------- #
# sample and evaluate.                                                        #
# --------------------------------------------------------------------------- #


def test_sample_writes_csv_with_a_header_and_npy_reproducibly(trained, tmp_path):
    run, _ = trained
    results = run_many(
        [
            ["sample", run, "-n", 7, "-o", "s.csv", "--seed", 3],
            ["sample", run, "-n", 7, "-o", "out/s.npy", "--seed", 3],
            ["sample", run / "model.npz", "-n", 7, "-o", "again.npy", "--seed", 3],
        ],
        cwd=tmp_path,
    )
    for result in results:
        assert result.returncode == 0, result.stderr
        assert result.stdout.startswith("wrote 7 samples x 2 columns")
    lines = (tmp_path / "s.csv").read_text().splitlines()
    assert lines[0] == "x0,x1" and len(lines) == 8
    from_npy = np.load(tmp_path / "out" / "s.npy")
    assert from_npy.shape == (7, 2)
    assert np.array_equal(from_npy, np.load(tmp_path / "again.npy"))
    np.testing.assert_allclose(wgangp.data.load_csv(tmp_path / "s.csv"), from_npy, rtol=1e-8)


def test_evaluate_prints_a_table_and_json(trained, tmp_path):
    run, _ = trained
    table, as_json = run_many(
        [["evaluate", run, "-n", 300], ["evaluate", run, "-n", 300, "--json"]], cwd=tmp_path
    )
    assert table.returncode == 0, table.stderr
    assert as_json.returncode == 0, as_json.stderr
    doc = json.loads(as_json.stdout)
    assert doc["iteration"] == 30 and doc["data"] == "8gaussians"
    names = [row["metric"] for row in doc["metrics"]]
    assert "modes captured" in names and any(name.startswith("exact W1") for name in names)
    for row in doc["metrics"]:
        # JSON has no inf: a reverse KL with no high-quality sample is null
        assert row["model"] is None or isinstance(row["model"], (int, float))
        assert isinstance(row["real"], (int, float))
        assert row["metric"] in table.stdout


def test_csv_data_trains_samples_with_its_header_and_evaluates(tmp_path):
    rng = np.random.default_rng(0)
    rows = rng.normal(size=(120, 3)) * [1.0, 10.0, 0.1]
    np.savetxt(tmp_path / "mine.csv", rows, delimiter=",", header="height,weight,age", comments="")
    np.save(tmp_path / "mine.npy", rows)
    flags = ["--steps", 5, "--hidden", 8, "--depth", 1, "--batch-size", 32, "--no-report"]
    from_csv, from_npy = run_many(
        [
            ["train", "--data", "mine.csv", *flags, "--out", "c"],
            ["train", "--data", "mine.npy", *flags, "--out", "n"],
        ],
        cwd=tmp_path,
    )
    assert from_csv.returncode == 0, from_csv.stderr
    assert from_npy.returncode == 0, from_npy.stderr
    assert config.load(tmp_path / "c" / "config.toml")["data"] == str(tmp_path / "mine.csv")
    assert_same_model(tmp_path / "c" / "model.npz", tmp_path / "n" / "model.npz")
    sample, evaluate = run_many(
        [["sample", "c", "-n", 4, "-o", "fake.csv"], ["evaluate", "n", "-n", 50, "--json"]],
        cwd=tmp_path,
    )
    assert sample.returncode == 0, sample.stderr
    assert (tmp_path / "fake.csv").read_text().splitlines()[0] == "height,weight,age"
    assert evaluate.returncode == 0, evaluate.stderr
    names = [row["metric"] for row in json.loads(evaluate.stdout)["metrics"]]
    assert "sliced W1" in names


# --------------------------------------------------------------------------- #
# diagnose, gradcheck and report.                                             #
# --------------------------------------------------------------------------- #


def test_diagnose_names_a_divergence_with_evidence_and_remedy(trained, tmp_path):
    pytest.importorskip("wgangp.diagnose")
    records = [
        {
            "iteration": i,
            "critic_loss": -1.0,
            "generator_loss": 0.5,
            "wasserstein": 1.0,
            "penalty": 0.05,
            "grad_norm_mean": 1.0,
        }
        for i in range(1, 41)
    ]
    records[30]["critic_loss"] = None  # NaN, as history.jsonl writes it
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "history.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8"
    )
    broken, as_json, healthy = run_many(
        [
            ["diagnose", "broken"],
            ["diagnose", "broken/history.jsonl", "--json"],
            ["diagnose", trained[0], "--json"],
        ],
        cwd=tmp_path,
    )
    assert broken.returncode == 0, broken.stderr
    assert "divergence" in broken.stdout and "remedy" in broken.stdout
    findings = json.loads(as_json.stdout)
    assert findings[0]["name"] == "divergence" and 31 in findings[0]["iterations"]
    assert findings[0]["evidence"] and findings[0]["remedy"]
    assert healthy.returncode == 0 and isinstance(json.loads(healthy.stdout), list)


def _broken_history(folder: Path) -> None:
    records = [
        {"iteration": i, "critic_loss": -1.0, "wasserstein": 1.0, "generator_loss": 0.5}
        for i in range(1, 41)
    ]
    records[30]["critic_loss"] = None
    folder.mkdir()
    (folder / "history.jsonl").write_text(
        "".join(json.dumps(r) + "\n" for r in records), encoding="utf-8"
    )


def test_diagnose_remedies_quote_the_runs_config_or_model_file(tmp_path, capsys):
    from_config, from_model = tmp_path / "from_config", tmp_path / "from_model"
    _broken_history(from_config)
    cfg = config.resolve({"data": "8gaussians", "model": {"lr": 0.0123, "scale": "none"}})
    config.write(cfg, from_config / "config.toml")
    _broken_history(from_model)
    X = np.random.default_rng(0).normal(size=(32, 2))
    wgangp.WGANGP(hidden=4, depth=1, lr=0.0456, batch_size=8, random_state=0).fit(X, steps=2).save(
        from_model / "model.npz"
    )
    assert cli.main(["diagnose", str(from_config)]) == 0
    out = capsys.readouterr().out
    assert "from lr=0.0123" in out and "scale=None" in out
    assert cli.main(["diagnose", str(from_model / "history.jsonl"), "--json"]) == 0
    finding = json.loads(capsys.readouterr().out)[0]
    assert finding["name"] == "divergence" and "from lr=0.0456" in finding["remedy"]


def test_gradcheck_passes_on_a_run_and_on_a_config(trained, tmp_path):
    pytest.importorskip("wgangp.gradcheck")
    run, _ = trained
    table, as_json = run_many(
        [["gradcheck", run], ["gradcheck", "--config", run / "config.toml", "--json"]],
        cwd=tmp_path,
    )
    assert table.returncode == 0, table.stderr
    assert "PASSED" in table.stdout
    assert as_json.returncode == 0, as_json.stderr
    doc = json.loads(as_json.stdout)
    assert doc["passed"] is True and {row["loss"] for row in doc["table"]} == {
        "critic",
        "generator",
    }


def test_report_writes_a_self_contained_html_file(trained, tmp_path):
    pytest.importorskip("wgangp.report")
    pytest.importorskip("matplotlib")
    run = tmp_path / "run"
    shutil.copytree(trained[0], run)
    result = run_cli("report", run, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"report: {run / 'report.html'}"
    html = (run / "report.html").read_text(encoding="utf-8")
    assert "data:image/png;base64," in html and "modes captured" in html


def test_augment_writes_the_table_with_synthetic_rows_and_scores_it(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("sklearn")
    rng = np.random.default_rng(0)
    label = np.where(rng.random(90) < 0.2, "rare", "common")
    pd.DataFrame(
        {"a": rng.normal(size=90) + 2 * (label == "rare"), "b": rng.integers(0, 5, 90), "y": label}
    ).to_csv(tmp_path / "table.csv", index=False)
    result = run_cli(
        "augment",
        "table.csv",
        "--target",
        "y",
        "--rows",
        40,
        "--steps",
        5,
        "--hidden",
        16,
        "-o",
        "out/aug.csv",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    augmented = pd.read_csv(tmp_path / "out" / "aug.csv")
    assert len(augmented) == 130 and list(augmented.columns) == ["a", "b", "y"]
    assert "balanced_accuracy" in result.stdout and "real + synthetic" in result.stdout


# --------------------------------------------------------------------------- #
# Usage errors, help, and exit codes.                                         #
# --------------------------------------------------------------------------- #


def test_bad_usage_exits_2_with_one_line_naming_the_problem(trained, tmp_path):
    run, _ = trained
    (tmp_path / "bad.toml").write_text("steps = = 3\n", encoding="utf-8")
    (tmp_path / "unknown.toml").write_text('data = "8gaussians"\nstpes = 3\n', encoding="utf-8")
    (tmp_path / "misplaced.toml").write_text("hidden = 8\n", encoding="utf-8")
    (tmp_path / "notes.txt").write_text("1,2\n", encoding="utf-8")
    (tmp_path / "broken.npz").write_bytes(b"not a zip file")
    train = ["train", "--data", "8gaussians"]
    cases = {
        "no command": ([], "required: COMMAND"),
        "unknown command": (["fit"], "invalid choice: 'fit'"),
        "unknown flag": ([*train, "--hiden", 8], "unrecognized arguments: --hiden"),
        "steps not an int": ([*train, "--steps", "many"], "'many' is not an integer"),
        "steps zero": ([*train, "--steps", 0], "argument --steps: 0 is not allowed"),
        "lr negative": ([*train, "--lr", "-1"], "argument --lr: -1.0 is not allowed"),
        "bad choice": ([*train, "--optimizer", "adamw"], "invalid choice: 'adamw'"),
        "no data": (["train", "--steps", 3], "no data: pass --data"),
        "missing data file": (["train", "--data", "missing.csv"], "'missing.csv' does not exist"),
        "unknown data": (["train", "--data", "notes.txt"], "neither a built-in set"),
        "missing config": (["train", "--config", "none.toml"], "none.toml does not exist"),
        "invalid toml": (["train", "--config", "bad.toml"], "bad.toml is not valid TOML"),
        "unknown key": (["train", "--config", "unknown.toml"], "did you mean 'steps'?"),
        "misplaced key": (["train", "--config", "misplaced.toml"], "under the [model] table"),
        "existing run": ([*train, "--out", run], "already holds a run"),
        "sample no run": (["sample", "nowhere", "-n", 3, "-o", "x.csv"], "neither a run folder"),
        "sample bad suffix": (["sample", run, "-n", 3, "-o", "x.txt"], "must end in .csv or .npy"),
        "sample n zero": (["sample", run, "-n", 0, "-o", "x.csv"], "argument -n: 0 is not"),
        "corrupt model": (["sample", "broken.npz", "-n", 3, "-o", "x.csv"], "broken.npz"),
        "resume no run": (["resume", "nowhere"], "not a run folder"),
        "evaluate wrong width": (["evaluate", run, "--data", "digits"], "64 columns"),
        "gradcheck both": (["gradcheck", run, "--config", "bad.toml"], "not both"),
        "diagnose no history": (["diagnose", "nowhere"], "no training history"),
        "augment not csv": (
            ["augment", "x.npy", "--target", "y", "--rows", 3, "-o", "a.csv"],
            "reads a .csv or .parquet table",
        ),
    }
    results = run_many([args for args, _ in cases.values()], cwd=tmp_path)
    problems = []
    for (name, (_, expected)), result in zip(cases.items(), results):
        lines = result.stderr.splitlines()
        if (
            result.returncode != 2
            or len(lines) != 1
            or not lines[0].startswith("wgangp: error: ")
            or expected not in lines[0]
        ):
            problems.append(f"{name}: exit {result.returncode}, stderr {result.stderr!r}")
    assert not problems, "\n".join(problems)


def test_debug_adds_the_traceback(tmp_path):
    plain, debug = run_many(
        [
            ["sample", "nowhere", "-n", 3, "-o", "x.csv"],
            ["--debug", "sample", "nowhere", "-n", 3, "-o", "x.csv"],
        ],
        cwd=tmp_path,
    )
    assert plain.returncode == debug.returncode == 2
    assert "Traceback" not in plain.stderr
    assert "Traceback (most recent call last)" in debug.stderr
    assert debug.stderr.splitlines()[-1].startswith("wgangp: error: ")


def test_divergence_exits_1_with_one_line_and_keeps_the_last_good_checkpoint(tmp_path):
    flags = [*TINY, "--optimizer", "sgd", "--lr", "1e12", "--steps", 20, "--out", "run"]
    result = run_cli("train", *flags, cwd=tmp_path)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("wgangp: error: training diverged at")
    assert "checkpoint kept" in lines[0] and "wgangp diagnose run" in lines[0]
    assert list((tmp_path / "run" / "checkpoints").glob("ckpt-*.npz"))


def test_every_command_has_help_with_examples(tmp_path):
    results = run_many([["--help"], *[[name, "--help"] for name in COMMANDS]], cwd=tmp_path)
    for args, result in zip([["--help"], *[[n, "--help"] for n in COMMANDS]], results):
        assert result.returncode == 0, (args, result.stderr)
        assert "wgangp" in result.stdout and ("examples:" in result.stdout or args == ["--help"])
    top = results[0].stdout
    assert all(name in top for name in COMMANDS) and "exit codes" in top
    train_help = results[1].stdout
    for name in config.MODEL_PARAMS:
        assert "--" + name.replace("_", "-") in train_help, name


def test_a_missing_optional_dependency_fails_with_one_line(tmp_path, monkeypatch, capsys):
    for name in [m for m in sys.modules if m == "sklearn" or m.startswith("sklearn.")]:
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.setitem(sys.modules, "sklearn", None)
    code = cli.main(["train", "--data", "swissroll", "--steps", "1", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err.splitlines()
    assert code == 1
    assert len(err) == 1 and err[0].startswith("wgangp: error: ") and "scikit-learn" in err[0]
    assert "pip install" in err[0] and not (tmp_path / "r").exists()


# --------------------------------------------------------------------------- #
# The README's command-line quickstart, as written.                           #
# --------------------------------------------------------------------------- #


def readme_commands(heading: str) -> list[str]:
    section = README.read_text(encoding="utf-8").split(f"## {heading}\n", 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    return [line for line in block.splitlines() if line.strip()]


def test_readme_cli_quickstart_runs_as_written(tmp_path):
    lines = readme_commands("Command-line quickstart")
    # The first line enters the environment make created; this test already runs in one.
    assert lines[0].startswith(". .venv/bin/activate")
    outputs = []
    for line in lines[1:]:
        words = shlex.split(line, comments=True)
        assert words[0] == "wgangp", line
        result = run_cli(*words[1:], cwd=tmp_path, timeout=300)
        assert result.returncode == 0, (line, result.stdout, result.stderr)
        outputs.append(result.stdout)
    run = tmp_path / "runs" / "quickstart"
    assert (run / "model.npz").is_file() and (run / "config.toml").is_file()
    assert "model:" in outputs[0]
    assert len((tmp_path / "samples.csv").read_text().splitlines()) == 1001
    assert "modes captured" in outputs[2]
    assert "history.jsonl" in outputs[3]
    assert "gradcheck PASSED" in outputs[4]
    assert (run / "report.html").is_file()
    assert (tmp_path / "runs" / "from_csv" / "model.npz").is_file()
    assert "samples.csv (1000 rows x 2 columns)" in outputs[5]


def _printed_config(capsys, *args) -> dict:
    import tomllib

    from wgangp.cli import main

    assert main(["train", *args, "--print-config"]) == 0
    return tomllib.loads(capsys.readouterr().out)


def test_toy_data_starts_from_its_preset(capsys):
    from wgangp.presets import get_preset

    preset = get_preset("25gaussians")
    cfg = _printed_config(capsys, "--data", "25gaussians")
    assert cfg["steps"] == preset["steps"]
    for key in ("hidden", "lr", "lambda_gp", "n_critic", "optimizer"):
        assert cfg["model"][key] == preset[key], key


def test_flags_override_the_preset_and_preset_none_gives_the_recipe(capsys):
    cfg = _printed_config(capsys, "--data", "8gaussians", "--hidden", "64", "--steps", "7")
    assert cfg["model"]["hidden"] == 64 and cfg["steps"] == 7
    assert cfg["model"]["lambda_gp"] == 0.1  # the rest still from the preset
    plain = _printed_config(capsys, "--data", "8gaussians", "--preset", "none")
    assert plain["model"]["hidden"] == 512 and plain["model"]["lambda_gp"] == 10.0
    assert plain["model"]["optimizer"] == "rmsprop"


# ------------------------------------- the same commands on every estimator --


@pytest.fixture(scope="module", params=["WGANGP", "TabularSynthesizer"])
def api_run(request, tmp_path_factory):
    """A run folder written by fit(..., run_dir=...) of each estimator, and its data."""
    pd = pytest.importorskip("pandas")
    import wgangp

    folder = tmp_path_factory.mktemp(request.param)
    rng = np.random.default_rng(0)
    if request.param == "WGANGP":
        X = rng.normal(size=(64, 2))
        np.savetxt(folder / "data.csv", X, delimiter=",", header="a,b", comments="")
        model = wgangp.WGANGP(hidden=8, depth=2, batch_size=32, dtype=np.float64, random_state=0)
        model.fit(X, steps=4, run_dir=folder / "run", checkpoint_every=2)
    else:
        frame = pd.DataFrame({"x": rng.normal(size=64), "k": rng.choice(["a", "b"], 64)})
        frame.to_csv(folder / "data.csv", index=False)
        model = wgangp.TabularSynthesizer(
            hidden=8, critic_hidden=8, latent_dim=4, dtype=np.float64, random_state=0
        )
        model.fit(frame, steps=4, run_dir=folder / "run", checkpoint_every=2)
    return request.param, folder


def test_diagnose_report_gradcheck_and_sample_work_on_every_estimator(api_run, capsys):
    pytest.importorskip("matplotlib")
    kind, folder = api_run
    run, data = str(folder / "run"), str(folder / "data.csv")
    assert cli.main(["diagnose", run]) == 0
    assert "history.jsonl" in capsys.readouterr().out
    assert cli.main(["gradcheck", run]) == 0
    assert "gradcheck PASSED" in capsys.readouterr().out
    assert cli.main(["report", run, "--data", data]) == 0
    assert (folder / "run" / "report.html").stat().st_size > 1000
    out = folder / "rows.csv"
    assert cli.main(["sample", run, "-n", "7", "-o", str(out)]) == 0
    assert len(out.read_text().splitlines()) == 8  # a header and 7 rows


# ------------------------------------------------------------ table commands --


@pytest.fixture(scope="module")
def table_csv(tmp_path_factory):
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "size": rng.normal(10, 2, 120).round(2),
            "city": rng.choice(["Oslo", "Lima", "Pune"], 120),
            "grade": rng.integers(0, 3, 120),
            "lpi": rng.normal(size=120),
        }
    )
    path = tmp_path_factory.mktemp("table") / "table.csv"
    frame.to_csv(path, index=False)
    return path


def test_fit_table_then_sample_and_report_the_run(table_csv, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run = tmp_path / "run"
    args = ["fit-table", str(table_csv), "--discrete", "grade", "--steps", "6", "--out", str(run)]
    assert cli.main([*args, "--hidden", "16"]) == 0
    printed = capsys.readouterr().out
    assert "column transformer fitted on 120 rows x 4 columns" in printed
    assert (run / "model.npz").exists() and (run / "report.html").exists()
    assert (
        f"-o {run / 'synthetic.csv'}" in printed and str(table_csv) not in printed.split("next:")[1]
    )
    out = tmp_path / "rows.csv"
    assert cli.main(["sample", str(run), "-n", "9", "-o", str(out)]) == 0
    import pandas as pd

    rows = pd.read_csv(out)
    assert list(rows.columns) == ["size", "city", "grade", "lpi"] and len(rows) == 9
    assert set(rows["city"]) <= {"Oslo", "Lima", "Pune"}
    assert cli.main(["report", str(run), "--data", str(table_csv), "--target", "grade"]) == 0


def test_fit_table_refuses_unknown_discrete_columns(table_csv, tmp_path, capsys):
    code = cli.main(["fit-table", str(table_csv), "--discrete", "town", "--out", str(tmp_path)])
    assert code == 2 and "--discrete names ['town']" in capsys.readouterr().err


def test_sample_refuses_to_overwrite_a_file_unless_told(tmp_path, capsys, trained):
    trained_run = trained[0]
    out = tmp_path / "keep.csv"
    out.write_text("precious\n")
    assert cli.main(["sample", str(trained_run), "-n", "3", "-o", str(out)]) == 2
    assert "exists" in capsys.readouterr().err and out.read_text() == "precious\n"
    assert cli.main(["sample", str(trained_run), "-n", "3", "-o", str(out), "--overwrite"]) == 0
    assert out.read_text() != "precious\n"


def test_augment_refuses_a_continuous_target_and_marks_synthetic_rows(table_csv, tmp_path, capsys):
    out = tmp_path / "aug.csv"
    base = ["augment", str(table_csv), "--rows", "10", "-o", str(out), "--steps", "3"]
    assert cli.main([*base, "--target", "lpi"]) == 2
    assert "target='lpi' is not a class column" in capsys.readouterr().err
    run = tmp_path / "aug_run"
    args = [*base, "--target", "grade", "--mark-synthetic", "--save", str(run), "--hidden", "8"]
    assert cli.main(args) == 0
    import pandas as pd

    augmented = pd.read_csv(out)
    assert augmented["synthetic"].sum() == 10 and (~augmented["synthetic"]).sum() == 120
    assert (run / "model.npz").exists()


def test_train_help_says_what_steps_a_preset_runs(capsys):
    with pytest.raises(SystemExit):
        cli.main(["train", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "32,000 for 25gaussians" in text and "else 1000" in text


# ------------------------------------------------------------- translation --


def _two_domains(folder: Path, width_b: int = 2) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    names = ",".join(f"c{i}" for i in range(2))
    np.savetxt(folder / "a.csv", rng.normal(size=(60, 2)), delimiter=",", header=names, comments="")
    header_b = ",".join(f"c{i}" for i in range(width_b))
    b = rng.normal(loc=2.0, size=(50, width_b))
    np.savetxt(folder / "b.csv", b, delimiter=",", header=header_b, comments="")
    return folder / "a.csv", folder / "b.csv"


def test_translate_then_transform_both_ways(tmp_path):
    a, b = _two_domains(tmp_path)
    done = run_cli(
        "translate", "--source", a, "--target", b, "--out", "run", "--steps", "5",
        "--hidden", "8", "--batch-size", "32", "--lambda-identity", "1", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "run" / "model.npz").is_file()
    assert (tmp_path / "run" / "history.jsonl").is_file()
    for extra, name in (([], "ab.csv"), (["--inverse"], "ba.csv")):
        done = run_cli("transform", "run", "--input", a, "-o", name, *extra, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        lines = (tmp_path / name).read_text().splitlines()
        assert lines[0] == "c0,c1" and len(lines) == 61
    model = wgangp.load(tmp_path / "run" / "model.npz")
    rows = np.loadtxt(tmp_path / "ab.csv", delimiter=",", skiprows=1)
    np.testing.assert_allclose(rows, model.transform(np.loadtxt(a, delimiter=",", skiprows=1)))


def test_translate_refuses_domains_of_different_widths(tmp_path):
    a, b = _two_domains(tmp_path, width_b=3)
    done = run_cli("translate", "--source", a, "--target", b, "--out", "run", cwd=tmp_path)
    assert done.returncode != 0
    assert "X_source has 2 columns and X_target 3" in done.stderr


def test_translate_with_pairs_and_a_cycle_schedule_trains_like_python(tmp_path):
    from wgangp.schedules import ExponentialDecay, ParamSchedule

    a, b = _two_domains(tmp_path)
    A = np.loadtxt(a, delimiter=",", skiprows=1)
    B = np.loadtxt(b, delimiter=",", skiprows=1)
    np.savetxt(tmp_path / "pa.csv", A[:4], delimiter=",")
    np.savetxt(tmp_path / "pb.csv", A[:4] + 2.0, delimiter=",")
    done = run_cli(
        "translate", "--source", a, "--target", b, "--out", "run", "--steps", "6",
        "--hidden", "8", "--batch-size", "16", "--pairs", "pa.csv", "pb.csv",
        "--lambda-pairs", "3", "--cycle-schedule", "2:10,4:30", "--lr-decay", "3:5:0.5",
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    cli_model = wgangp.load(tmp_path / "run" / "model.npz")
    assert cli_model.lambda_cycle == 30.0 and cli_model.lambda_pairs == 3.0
    assert "pair_error" in cli_model.history_[-1]
    python = wgangp.Translator(hidden=8, batch_size=16, lambda_pairs=3.0, random_state=0)
    python.fit(
        A, B, steps=6, pairs=(A[:4], A[:4] + 2.0),
        callbacks=[
            ParamSchedule("lambda_cycle", [(2, 10.0), (4, 30.0)]),
            ExponentialDecay(start=3, stop=5, final=0.5),
        ],
    )  # fmt: skip
    for mine, theirs in zip(cli_model.networks().values(), python.networks().values()):
        np.testing.assert_array_equal(mine.flat, theirs.flat)


@pytest.mark.parametrize(
    "schedule, message",
    [
        ("3000", "ITERATION:VALUE"),
        ("10:x", "ITERATION:VALUE"),
        ("5:10,5:20", "increase strictly"),
        ("0:-1", "lambda_cycle"),
        ("--lr-decay=5:9", "START:STOP:FINAL"),
        ("--lr-decay=9:5:0.1", "need 0 <= start < stop"),
    ],
)
def test_translate_refuses_a_bad_schedule(tmp_path, schedule, message):
    a, b = _two_domains(tmp_path)
    flag = [schedule] if schedule.startswith("--") else ["--cycle-schedule", schedule]
    done = run_cli(
        "translate", "--source", a, "--target", b, "--out", "run", "--steps", "2",
        "--hidden", "8", *flag, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode != 0
    assert message in done.stderr


def test_translate_refuses_pairs_of_the_wrong_width(tmp_path):
    a, b = _two_domains(tmp_path)
    np.savetxt(tmp_path / "pa.csv", np.zeros((3, 3)), delimiter=",")
    np.savetxt(tmp_path / "pb.csv", np.zeros((3, 3)), delimiter=",")
    args = ("translate", "--source", a, "--target", b, "--steps", "2", "--hidden", "8")
    done = run_cli(*args, "--out", "r1", "--pairs", "pa.csv", "pb.csv", cwd=tmp_path)
    assert done.returncode != 0 and "pairs[0]" in done.stderr


def test_translate_tables_with_pairs_trains_like_python(tmp_path):
    pd = pytest.importorskip("pandas")
    a, b = _two_tables(tmp_path)
    A, B = pd.read_csv(a), pd.read_csv(b)
    A.iloc[:3].to_csv(tmp_path / "pa.csv", index=False)
    B.iloc[:3].to_csv(tmp_path / "pb.csv", index=False)
    done = run_cli(
        "translate", "--source", a, "--target", b, "--out", "run", "--steps", "3",
        "--hidden", "8", "--batch-size", "16", "--pairs", "pa.csv", "pb.csv", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    cli_model = wgangp.load(tmp_path / "run" / "model.npz")
    assert "pair_error" in cli_model.history_[-1]
    python = wgangp.Translator(hidden=8, batch_size=16, random_state=0)
    python.fit(A, B, steps=3, pairs=(A.iloc[:3], B.iloc[:3]))
    for mine, theirs in zip(cli_model.networks().values(), python.networks().values()):
        np.testing.assert_array_equal(mine.flat, theirs.flat)


def test_transform_refuses_a_model_that_is_not_a_translator(tmp_path):
    X = np.random.default_rng(0).normal(size=(40, 2))
    wgangp.WGANGP(hidden=4, depth=1, batch_size=16, random_state=0).fit(X, 1).save(
        tmp_path / "m.npz"
    )
    np.savetxt(tmp_path / "x.csv", X, delimiter=",")
    done = run_cli("transform", "m.npz", "--input", "x.csv", "-o", "o.csv", cwd=tmp_path)
    assert done.returncode == 2 and "not a Translator" in done.stderr


def _two_tables(folder: Path) -> tuple[Path, Path]:
    """Two sites' CSV files: text, integer, boolean and float columns."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    for name, shift, n in (("a", 0, 60), ("b", 1, 50)):
        pd.DataFrame(
            {
                "site_value": rng.normal(5.0 + 4 * shift, 1.0, n).round(3),
                "arm": rng.choice(["x", "y", "z"], n),
                "visits": rng.integers(shift, 4 + shift, n),
                "flag": rng.random(n) < 0.3 + 0.4 * shift,
            }
        ).to_csv(folder / f"{name}.csv", index=False)
    return folder / "a.csv", folder / "b.csv"


def test_translate_then_transform_tables_keeps_names_and_dtypes(tmp_path):
    pd = pytest.importorskip("pandas")
    a, b = _two_tables(tmp_path)
    done = run_cli(
        "translate", "--source", a, "--target", b, "--out", "run", "--steps", "5",
        "--hidden", "8", "--batch-size", "16", "--tau", "0.5", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "4 columns (a table)" in done.stdout
    assert (tmp_path / "run" / "report.html").is_file()
    source = pd.read_csv(a)
    for extra, name in (([], "ab.csv"), (["--inverse"], "ba.csv")):
        done = run_cli("transform", "run", "--input", a, "-o", name, *extra, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        out = pd.read_csv(tmp_path / name)
        assert list(out.columns) == list(source.columns) and len(out) == len(source)
        assert out.dtypes.to_dict() == source.dtypes.to_dict()
        assert set(out["arm"]) <= {"x", "y", "z"}
    model = wgangp.load(tmp_path / "run" / "model.npz")
    assert model.get_params()["tau"] == 0.5
    expected = model.transform(source)
    pd.testing.assert_frame_equal(pd.read_csv(tmp_path / "ab.csv"), expected, check_exact=False)
    done = run_cli("transform", "run", "--input", a, "-o", "ab.npy", cwd=tmp_path)
    assert done.returncode == 2 and "writes a .csv file" in done.stderr


def test_translate_reads_parquet_tables_and_transform_writes_csv(tmp_path):
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    a, b = _two_tables(tmp_path)
    for path in (a, b):
        pd.read_csv(path).to_parquet(path.with_suffix(".parquet"))
    done = run_cli(
        "translate", "--source", "a.parquet", "--target", "b.parquet", "--out", "run",
        "--steps", "2", "--hidden", "8", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "(a table)" in done.stdout
    done = run_cli("transform", "run", "--input", "a.parquet", "-o", "ab.csv", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert pd.read_csv(tmp_path / "ab.csv").dtypes.to_dict() == pd.read_csv(a).dtypes.to_dict()


def test_translate_refuses_tables_whose_columns_differ_in_kind(tmp_path):
    pd = pytest.importorskip("pandas")
    a, b = _two_tables(tmp_path)
    frame = pd.read_csv(b)
    frame["visits"] = frame["visits"].map(lambda v: f"{v} visits")
    frame.to_csv(b, index=False)
    done = run_cli("translate", "--source", a, "--target", b, "--out", "run", cwd=tmp_path)
    assert done.returncode != 0
    assert "column 'visits' holds number values in X_source" in done.stderr


def test_translate_discrete_makes_a_column_categories_in_both_domains(tmp_path):
    pd = pytest.importorskip("pandas")
    a, b = _two_tables(tmp_path)
    frame = pd.read_csv(b)
    frame["visits"] = np.arange(len(frame))  # continuous in B, discrete in A
    frame.to_csv(b, index=False)
    args = ("translate", "--source", a, "--target", b, "--steps", "2", "--hidden", "8")
    done = run_cli(*args, "--out", "r1", cwd=tmp_path)
    assert done.returncode != 0 and "pass discrete_columns=" in done.stderr
    done = run_cli(*args, "--out", "r2", "--discrete", "visits", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    model = wgangp.load(tmp_path / "r2" / "model.npz")
    kinds = {spec["name"]: spec["kind"] for spec in model.transformer_.columns_}
    assert kinds == {"site_value": "continuous", "arm": "discrete", "visits": "discrete",
                     "flag": "discrete"}  # fmt: skip


def test_parquet_files_train_fit_a_table_and_augment(table_csv, tmp_path, capsys):
    pytest.importorskip("pyarrow")
    import pandas as pd

    frame = pd.read_csv(table_csv)
    table = tmp_path / "table.parquet"
    frame.to_parquet(table, row_group_size=50)
    numeric = tmp_path / "numeric.parquet"
    frame[["size", "grade", "lpi"]].to_parquet(numeric, row_group_size=50)
    run = tmp_path / "run"
    assert (
        cli.main(["train", "--data", str(numeric), *TINY[4:], "--steps", "4", "--out", str(run)])
        == 0
    )
    assert "(120 rows x 3 columns)" in capsys.readouterr().out
    assert cli.main(["sample", str(run), "-n", "5", "-o", str(tmp_path / "s.csv")]) == 0
    assert list(pd.read_csv(tmp_path / "s.csv").columns) == ["size", "grade", "lpi"]
    assert cli.main(["sample", str(run), "-n", "5", "-o", str(tmp_path / "s.parquet")]) == 2
    assert "must end in .csv or .npy" in capsys.readouterr().err  # read, not written

    code = cli.main(["train", "--data", str(table), *TINY[4:], "--out", str(tmp_path / "no")])
    err = capsys.readouterr().err
    assert code == 2 and "column 'city' (text) is not numeric" in err and "fit-table" in err

    args = ["fit-table", str(table), "--steps", "3", "--hidden", "8", "--no-report"]
    assert cli.main([*args, "--out", str(tmp_path / "t")]) == 0
    assert "(120 rows x 4 columns)" in capsys.readouterr().out
    out = tmp_path / "aug.csv"
    args = ["augment", str(table), "--target", "grade", "--rows", "6", "--steps", "3"]
    assert cli.main([*args, "--hidden", "8", "-o", str(out)]) == 0
    assert len(pd.read_csv(out)) == 126
