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

Under ``mpiexec`` a rank that ends with a non-zero code (an error, an
interrupt) ends every rank of the job with that code (``MPI_Abort``),
after printing its error, instead of leaving the others waiting for it;
checkpoints are written atomically, so the run folder's last one stays
whole and ``mpiexec -n P wgangp resume RUN_DIR`` continues from it.

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

import os
import sys
import time
import traceback

from ..errors import WGANGPError
from ..parallel import mpi_launched
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
    """Run the command line; return the exit code.

    Under ``mpiexec`` a non-zero code ends every rank (:func:`end_job`)."""
    code = _main(argv)
    if code != EXIT_OK:
        end_job(code)
    return code


ABORT_GRACE_S = 0.5
"""Seconds a failing rank waits, its error printed, before it aborts the job."""


def end_job(code: int) -> None:
    """Under ``mpiexec`` with several ranks, end every rank with ``code`` (``MPI_Abort``).

    The other ranks may be waiting in a collective for this one; without
    the abort the job would hang. A no-op in one process.
    """
    if not mpi_launched(os.environ):
        return
    try:  # also when this rank failed before it started MPI: the others may have
        from mpi4py import MPI
    except ImportError:
        return
    if MPI.Is_finalized():
        return
    world = MPI.COMM_WORLD
    print(
        f"{PROG}: rank {world.Get_rank()} of {world.Get_size()} ended with exit code {code}; "
        "ending every rank of the job (the run folder keeps its last checkpoint)",
        file=sys.stderr,
        flush=True,
    )
    # the launcher forwards each rank's output through a pipe and stops
    # reading once the abort reaches it: a moment first, so that this rank's
    # error (printed above) reaches the user instead of being cut off
    time.sleep(ABORT_GRACE_S)
    world.Abort(code)


def _main(argv: list[str] | None) -> int:
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
