"""The ``wgangp`` argument parser: commands, flags, help and examples.

The flags of ``train`` come from the parameter tables of ``wgangp.config``
(``RUN_PARAMS`` and ``MODEL_PARAMS``); their values are checked by the same
rules as a config file's.
"""

from __future__ import annotations

import argparse

from .. import config
from .._version import __version__
from ..presets import BASE_PRESET, TOY_PRESETS
from ..tabular.settings import PARAMS as TABULAR_PARAMS
from ..translate import PARAMS as TRANSLATOR_PARAMS
from ..translate import Translator
from .exits import PROG, UsageError
from .inspect import cmd_diagnose, cmd_evaluate, cmd_gradcheck, cmd_report, cmd_sample
from .tables import cmd_augment, cmd_fit_table
from .train import cmd_resume, cmd_train
from .translate import TRANSLATOR_FLAGS, cmd_transform, cmd_translate

TRANSLATOR_DEFAULTS = Translator().get_params()


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _typed(name: str, spec: config.Param):
    """An argparse ``type`` that parses a flag's text and checks it as the config does."""

    spelled = spec.auto or spec.none

    def parse(text: str):
        if spelled is not None and text == spelled:
            return text
        try:
            value = {"int": int, "float": float}.get(spec.kind, str)(text)
        except ValueError:
            kind = {"int": "an integer", "float": "a number"}[spec.kind]
            auto = f" or {spelled!r}" if spelled else ""
            raise argparse.ArgumentTypeError(f"{text!r} is not {kind}{auto}") from None
        try:
            return config.check_value(name, value, spec)
        except config.ConfigError as exc:
            raise argparse.ArgumentTypeError(str(exc).split(f"{name}=", 1)[-1]) from None

    parse.__name__ = spec.kind  # argparse names the type in "invalid <type> value"
    return parse


def _count(name: str, minimum: int = 1):
    """An argparse ``type`` for an integer of at least ``minimum``."""
    return _typed(name, config.Param("int", "", minimum=minimum))


def _add_param(group, name: str, spec: config.Param, default) -> None:
    flag = "--" + name.replace("_", "-")
    kwargs = {"dest": name, "default": None, "help": f"{spec.help} (default: {default})"}
    if spec.choices is not None:
        choices = (*spec.choices, spec.none) if spec.none else spec.choices
        kwargs["choices"] = choices
        kwargs["metavar"] = "{" + ",".join(choices) + "}"
    elif spec.kind == "bool":
        kwargs["action"] = argparse.BooleanOptionalAction
        kwargs["help"] = f"{spec.help} (default: {'yes' if default else 'no'})"
    else:
        kwargs["type"] = _typed(name, spec)
        kwargs["metavar"] = {"int": "N", "float": "X"}[spec.kind]
        if spec.auto or spec.none:
            kwargs["metavar"] += f"|{spec.auto or spec.none}"
    group.add_argument(flag, **kwargs)


def _synthesizer_flags(p) -> None:
    """``--hidden``, ``--lr``, ``--batch-size``, ``--threads`` of the table commands,
    from the synthesizer's own parameter table."""
    for name in ("hidden", "lr", "batch_size", "threads"):
        spec = TABULAR_PARAMS[name]
        p.add_argument(
            "--" + name.replace("_", "-"),
            type=_typed(name, spec),
            metavar={"int": "N", "float": "X"}[spec.kind] + (f"|{spec.auto}" if spec.auto else ""),
            help=f"synthesizer's {spec.help} (default: wgangp.TabularSynthesizer's)",
        )
    for name in ("backend", "device"):
        _add_param(p, name, TABULAR_PARAMS[name], "auto" if name == "backend" else "cpu")
    p.add_argument(
        "--sep",
        metavar="CHAR",
        help="the table's separator, e.g. ';' or '\\t' (default: detected)",
    )


TRAIN_EPILOG = """\
examples:
  wgangp train --data 8gaussians --steps 400 --hidden 64 --lr 2e-3 --batch-size 128 \\
      --out runs/ring
  wgangp train --data mydata.csv --steps 2000 --out runs/mydata
  wgangp train --data 25gaussians --optimizer adam-toy --batch-size 256 --out runs/grid
  wgangp train --config run.toml --out runs/again        # flags override the file
  wgangp train --config runs/ring/config.toml --out runs/ring2   # reproduce a run
  wgangp train --data digits --print-config > run.toml   # start a config file

The run folder gets config.toml (reproduces the run), history.jsonl,
checkpoints/, model.npz and report.html. Ctrl-C stops after the current
iteration, writes a checkpoint and exits with code 130; continue with
'wgangp resume RUN_DIR'.
"""

RESUME_EPILOG = """\
examples:
  wgangp resume runs/ring              # finish the steps of runs/ring/config.toml
  wgangp resume runs/ring --steps 500  # train 500 more iterations

Resuming continues bit for bit from the last checkpoint: the result is the
same as a run that was never interrupted.
"""

SAMPLE_EPILOG = """\
examples:
  wgangp sample runs/ring -n 1000 -o samples.csv
  wgangp sample runs/ring -n 1000 -o samples.npy --seed 7
  wgangp sample runs/ring/checkpoints/ckpt-00000200.npz -n 100 -o early.csv
"""

EVALUATE_EPILOG = """\
examples:
  wgangp evaluate runs/ring
  wgangp evaluate runs/ring --json > metrics.json
  wgangp evaluate runs/mydata --data holdout.csv

Each metric of the generator is printed beside the same metric of fresh real
data, the best a generator can expect.
"""

REPORT_EPILOG = """\
examples:
  wgangp report runs/ring          # writes runs/ring/report.html
"""

GRADCHECK_EPILOG = """\
examples:
  wgangp gradcheck runs/ring
  wgangp gradcheck --config run.toml --json

Compares the model's analytic gradients (critic loss with the penalty, and
the generator loss) with central finite differences in float64; exit code 0
when every relative error is below 1e-5, else 1.
"""

DIAGNOSE_EPILOG = """\
examples:
  wgangp diagnose runs/ring
  wgangp diagnose runs/ring/history.jsonl --json
"""


FIT_TABLE_EPILOG = """\
examples:
  wgangp fit-table table.csv --out runs/table                  # columns read as they are
  wgangp fit-table table.csv --discrete city,grade --out runs/t  # these are categories
  wgangp sample runs/table -n 1000 -o runs/table/synthetic.csv
  wgangp report runs/table --data table.csv --target grade

A conditional tabular synthesizer (wgangp.TabularSynthesizer: continuous,
integer, discrete and missing values; text columns are discrete) learns the
table; the run folder keeps model.npz, history.jsonl, checkpoints/ and
report.html. Needs wgangp[tabular].
"""

AUGMENT_EPILOG = """\
examples:
  wgangp augment table.csv --target y --rows 300 -o augmented.csv
  wgangp augment table.csv --target y --rows 300 --no-minority --steps 500 -o more.csv

A conditional tabular synthesizer (wgangp.TabularSynthesizer: numeric,
integer, discrete and missing values) learns the rows outside a stratified
holdout; the new rows go to the rare classes unless --no-minority. A random
forest is trained on the real rows, then on the real and synthetic rows, and
both are scored on the holdout. Needs wgangp[tabular].
"""


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--debug",
        action="store_true",
        default=argparse.SUPPRESS,
        help="show the traceback of an error",
    )
    parser = _Parser(
        prog=PROG,
        description="WGAN-GP on NumPy alone: train, sample, evaluate, report, diagnose.",
        epilog="quickstart:\n  wgangp train --data 8gaussians --steps 400 --hidden 64 "
        "--lr 2e-3 --batch-size 128 --out runs/ring\n"
        "  wgangp sample runs/ring -n 1000 -o samples.csv\n"
        "  wgangp evaluate runs/ring\n\n"
        "exit codes: 0 ok, 1 failure while running, 2 bad usage, 130 interrupted (Ctrl-C)",
        formatter_class=fmt,
        parents=[common],
    )
    parser.add_argument("--version", action="version", version=f"wgangp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name, help, epilog):
        return sub.add_parser(
            name, help=help, description=help, epilog=epilog, formatter_class=fmt, parents=[common]
        )

    p = add("train", "train a WGAN-GP into a run folder", TRAIN_EPILOG)
    p.add_argument("--config", metavar="RUN.toml", help="read settings from a TOML file")
    p.add_argument(
        "--out", metavar="RUN_DIR", help="run folder to create (default: runs/<data name>)"
    )
    p.add_argument("--overwrite", action="store_true", help="replace the run already in RUN_DIR")
    p.add_argument(
        "--print-config",
        action="store_true",
        help="print the resolved configuration as TOML and exit",
    )
    run = p.add_argument_group("run")
    run_defaults = config.defaults()
    for name, spec in config.RUN_PARAMS.items():
        default = run_defaults[name]
        if name == "steps":
            presets = ", ".join(f"{p['steps']:,} for {n}" for n, p in TOY_PRESETS.items())
            default = f"the toy preset's ({presets}), else {default}"
        if name == "data":
            run.add_argument("--data", metavar="SOURCE", default=None, help=spec.help)
        else:
            _add_param(run, name, spec, default)
    model = p.add_argument_group("model parameters (wgangp.WGANGP)")
    for name, spec in config.MODEL_PARAMS.items():
        default = run_defaults["model"][name]
        if name in BASE_PRESET:
            default = f"{default}; {BASE_PRESET[name]} in the toy presets"
        _add_param(model, name, spec, default)
    p.set_defaults(func=cmd_train)

    p = add("resume", "continue a run from its last checkpoint", RESUME_EPILOG)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument(
        "--steps",
        type=_typed("steps", config.RUN_PARAMS["steps"]),
        metavar="N",
        help="iterations to train (default: the rest of the run's steps)",
    )
    p.add_argument(
        "--allow-new-data",
        action="store_true",
        help="continue although the data changed since the run started (it says what changed)",
    )
    for name in ("backend", "device"):
        spec = config.MODEL_PARAMS[name]
        _add_param(p, name, spec, "the run's own")
    p.set_defaults(func=cmd_resume)

    p = add("sample", "draw synthetic rows from a trained model", SAMPLE_EPILOG)
    p.add_argument("run", metavar="RUN_DIR", help="a run folder or a model/checkpoint file")
    p.add_argument(
        "-n",
        type=_count("n", 1),
        required=True,
        metavar="N",
        help="number of rows",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT",
        help="output file, .csv (with a header) or .npy",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace OUT when it exists (default: refuse)"
    )
    p.add_argument(
        "--seed",
        type=_typed("seed", config.RUN_PARAMS["seed"]),
        default=None,
        metavar="N",
        help="seed of the noise (default: fresh)",
    )
    p.set_defaults(func=cmd_sample)

    p = add("evaluate", "score a trained model against real data", EVALUATE_EPILOG)
    p.add_argument("run", metavar="RUN_DIR", help="a run folder or a model/checkpoint file")
    p.add_argument(
        "--data", metavar="SOURCE", help="data to compare with (default: the run's own data source)"
    )
    p.add_argument(
        "-n",
        type=_count("n", 2),
        default=None,
        metavar="N",
        help="samples for the toy sets' mode statistics and exact W1 "
        "(default: 2500 and 2000, as in the benchmarks; fewer is faster and noisier)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument(
        "--seed",
        type=_typed("seed", config.RUN_PARAMS["seed"]),
        default=0,
        metavar="N",
        help="seed of the samples drawn (default: 0)",
    )
    p.set_defaults(func=cmd_evaluate)

    p = add("report", "write RUN_DIR/report.html: metrics, figures, diagnosis", REPORT_EPILOG)
    p.add_argument("run_dir", metavar="RUN_DIR")
    p.add_argument(
        "--data",
        metavar="SOURCE",
        help="data to compare with (default: the run's own data source; "
        "a table model's report needs the real CSV)",
    )
    p.add_argument(
        "--target", metavar="COLUMN", help="a table model's class column: adds TSTR and TRTR"
    )
    p.set_defaults(func=cmd_report)

    p = add("gradcheck", "check the model's gradients against finite differences", GRADCHECK_EPILOG)
    p.add_argument(
        "run", metavar="RUN_DIR", nargs="?", help="a run folder or a model/checkpoint file"
    )
    p.add_argument(
        "--config",
        metavar="RUN.toml",
        help="check a fresh model built from this configuration instead",
    )
    p.add_argument(
        "--samples",
        type=_count("samples", 1),
        default=4,
        metavar="N",
        help="rows per check (default: 4)",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=cmd_gradcheck)

    p = add(
        "fit-table",
        "fit a synthesizer on a CSV or Parquet table into a run folder",
        FIT_TABLE_EPILOG,
    )
    p.add_argument("data", metavar="TABLE", help="the table: a .csv with a header row, or .parquet")
    p.add_argument(
        "--discrete",
        metavar="A,B,...",
        help="columns to treat as categories, besides text, boolean and integer columns "
        "with few values (always categories)",
    )
    p.add_argument("--out", metavar="RUN_DIR", help="run folder (default: runs/<table name>)")
    p.add_argument("--overwrite", action="store_true", help="replace the run already in RUN_DIR")
    p.add_argument(
        "--steps",
        type=_typed("steps", config.RUN_PARAMS["steps"]),
        default=None,
        metavar="N",
        help="generator iterations (default: from the table's rows, 1500 to 5000; "
        "wgangp.tabular.default_steps)",
    )
    p.add_argument(
        "--seed",
        type=_typed("seed", config.RUN_PARAMS["seed"]),
        default=0,
        metavar="N",
        help="seed of the synthesizer (default: 0)",
    )
    p.add_argument(
        "--target", metavar="COLUMN", help="a class column: the report adds TSTR and TRTR"
    )
    p.add_argument(
        "--report",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="write report.html at the end (default: yes)",
    )
    _synthesizer_flags(p)
    p.set_defaults(func=cmd_fit_table)

    p = add(
        "augment",
        "add synthetic rows to a classification table and show whether they help",
        AUGMENT_EPILOG,
    )
    p.add_argument("data", metavar="TABLE", help="the table: a .csv with a header row, or .parquet")
    p.add_argument("--target", required=True, metavar="COLUMN", help="the class column")
    p.add_argument(
        "--rows",
        type=_count("rows", 1),
        required=True,
        metavar="N",
        help="synthetic rows to add",
    )
    p.add_argument(
        "-o",
        "--output",
        required=True,
        metavar="OUT.csv",
        help="where to write the real rows followed by the synthetic ones",
    )
    p.add_argument(
        "--minority",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="draw the rows for the rare classes (default: yes)",
    )
    p.add_argument(
        "--holdout",
        type=_typed("holdout", config.Param("float", "", minimum=0.0, strict=True)),
        default=0.3,
        metavar="X",
        help="fraction of real rows held out for scoring (default: 0.3)",
    )
    p.add_argument(
        "--steps",
        type=_typed("steps", config.RUN_PARAMS["steps"]),
        metavar="N",
        help="training iterations of the synthesizer (default: from the rows it trains on, "
        "1500 to 5000; wgangp.tabular.default_steps)",
    )
    p.add_argument(
        "--seed",
        type=_typed("seed", config.RUN_PARAMS["seed"]),
        default=0,
        metavar="N",
        help="seed of the split, the synthesizer and the rows (default: 0)",
    )
    p.add_argument(
        "--save",
        metavar="RUN_DIR",
        help="train in this run folder and keep the synthesizer there (model.npz), "
        "to sample it again later with 'wgangp sample RUN_DIR'",
    )
    p.add_argument(
        "--mark-synthetic",
        metavar="COLUMN",
        nargs="?",
        const="synthetic",
        help="add a column (default name: synthetic) that is True on synthetic rows",
    )
    _synthesizer_flags(p)
    p.set_defaults(func=cmd_augment)

    p = add(
        "diagnose", "name what went wrong in a run, with evidence and a remedy", DIAGNOSE_EPILOG
    )
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run folder or its history.jsonl")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.set_defaults(func=cmd_diagnose)

    p = add(
        "translate",
        "learn an unpaired translation between two data files (wgangp.Translator)",
        "example:\n  wgangp translate --source A.csv --target B.csv --steps 2000 --out runs/ab\n"
        "  wgangp transform runs/ab --input A.csv -o A_as_B.csv\n\n"
        "CSV or Parquet files with a text, boolean or integer column are translated as\n"
        "tables (one column transformer for both; transform gives back the columns' names\n"
        "and dtypes); files of floating-point numbers and .npy files as arrays, unless --table.",
    )
    p.add_argument("--source", required=True, metavar="A.csv", help="rows of domain A (.csv/.npy)")
    p.add_argument(
        "--target", required=True, metavar="B.csv", help="rows of domain B, same columns"
    )
    p.add_argument(
        "--table",
        action="store_true",
        help="translate the CSV or Parquet files as tables even when every column holds floats",
    )
    p.add_argument(
        "--discrete",
        metavar="A,B,...",
        help="table columns to treat as categories, besides text, boolean and integer "
        "columns with few values (implies --table)",
    )
    p.add_argument("--out", required=True, metavar="RUN_DIR", help="run folder to create")
    p.add_argument("--overwrite", action="store_true", help="replace the run already in RUN_DIR")
    p.add_argument(
        "--steps",
        type=_count("steps"),
        default=2000,
        metavar="N",
        help="iterations (default: 2000)",
    )
    p.add_argument(
        "--checkpoint-every",
        type=_count("checkpoint_every"),
        default=None,
        metavar="N",
        help="checkpoint period (default: at the end)",
    )
    p.add_argument(
        "--seed", type=_count("seed", 0), default=0, metavar="N", help="random seed (default: 0)"
    )
    p.add_argument(
        "--pairs",
        nargs=2,
        metavar=("P_A", "P_B"),
        help="known pairs: row i of P_A (domain A) translates to row i of P_B (domain B); "
        "two files with the domains' columns, weighted by --lambda-pairs",
    )
    p.add_argument(
        "--cycle-schedule",
        metavar="IT:VALUE,...",
        help="lambda_cycle along piecewise-linear (iteration, value) points, e.g. "
        "3000:10,5000:40 (wgangp.schedules.ParamSchedule)",
    )
    p.add_argument(
        "--lr-decay",
        metavar="START:STOP:FINAL",
        help="decay every optimizer's lr geometrically to FINAL x lr from iteration START "
        "to STOP, e.g. 6000:9000:0.1 (wgangp.schedules.ExponentialDecay)",
    )
    model = p.add_argument_group("model parameters (wgangp.Translator)")
    for name in TRANSLATOR_FLAGS:
        spec = TRANSLATOR_PARAMS[name]
        _add_param(model, name, spec, TRANSLATOR_DEFAULTS[name])
    p.set_defaults(func=cmd_translate)

    p = add(
        "transform",
        "translate rows with a trained translator (A to B; --inverse: B to A)",
        "example:\n  wgangp transform runs/ab --input A.csv -o A_as_B.csv\n"
        "  wgangp transform runs/ab --input B.csv -o B_as_A.csv --inverse",
    )
    p.add_argument("run", metavar="RUN_DIR", help="a translate run folder or model file")
    p.add_argument("--input", required=True, metavar="IN", help="rows to translate (.csv/.npy)")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output .csv or .npy")
    p.add_argument("--inverse", action="store_true", help="translate from B to A")
    p.add_argument("--overwrite", action="store_true", help="replace OUT when it exists")
    p.set_defaults(func=cmd_transform)
    return parser
