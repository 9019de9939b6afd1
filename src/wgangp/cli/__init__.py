"""The ``wgangp`` command line: train, sample, evaluate, report, diagnose, augment, ...

``wgangp COMMAND --help`` shows each command's flags and examples;
``python -m wgangp`` is the same program.

Exit codes
----------
0
    Success.
1
    Failure while running: training diverged, gradcheck failed, an optional
    extra is missing, an unexpected error.
2
    Bad usage: unknown flags, bad values, missing files, invalid TOML,
    unknown configuration keys. Nothing was trained.
130
    Interrupted by Ctrl-C. During training the first Ctrl-C finishes the
    current iteration, writes a checkpoint and ``model.npz``, and exits with
    130; ``wgangp resume RUN_DIR`` continues bit for bit. A second Ctrl-C
    aborts at once.

Errors are one line, ``wgangp: error: ...``; ``--debug`` adds the traceback.

The command line only calls the library's API. Its modules, by job:

``exits``
    Exit codes, the usage error, errors told in one line.
``sources``
    Data sources, run folders and model files.
``parser``
    The argument parser: commands, flags from the config tables, help.
``train``
    ``train`` and ``resume``: progress lines, a clean Ctrl-C, the report.
``inspect``
    ``sample``, ``evaluate``, ``report``, ``gradcheck``, ``diagnose``, ``augment``.
"""

from __future__ import annotations

import sys
import traceback

from ..errors import WGANGPError
from .exits import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    USAGE_ERRORS,
    UsageError,
    one_line,
)
from .parser import build_parser

__all__ = [
    "EXIT_FAILURE",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "PROG",
    "UsageError",
    "build_parser",
    "main",
]


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv
    try:
        args = build_parser().parse_args(argv)
        return args.func(args)
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print(f"{PROG}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        if debug:
            traceback.print_exc()
        code = EXIT_USAGE if isinstance(exc, USAGE_ERRORS) else EXIT_FAILURE
        expected = isinstance(exc, (*USAGE_ERRORS, WGANGPError, ImportError))
        hint = "" if debug or expected else " (run with --debug for the traceback)"
        print(f"{PROG}: error: {one_line(exc)}{hint}", file=sys.stderr)
        return code
