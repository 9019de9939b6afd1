"""How a command ends: the exit codes, the usage error, errors told in one line, and
output that never fails a command."""

from __future__ import annotations

import contextlib
import os
import sys

from .. import config
from ..errors import (
    InvalidDataError,
    InvalidParameterError,
    InvalidParameterTypeError,
    ModelFileError,
    NotFittedError,
    RunFolderError,
    WGANGPError,
)

PROG = "wgangp"
EXIT_OK, EXIT_FAILURE, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130


class UsageError(Exception):
    """A command line that cannot run: exit code 2."""


# Exceptions that mean "the input is wrong", not "it broke while running".
USAGE_ERRORS = (
    UsageError,
    config.ConfigError,
    InvalidParameterError,
    InvalidParameterTypeError,
    InvalidDataError,
    ModelFileError,
    NotFittedError,
    RunFolderError,
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
)


def one_line(exc: BaseException) -> str:
    """The error message on one line; unexpected errors keep their type's name."""
    if isinstance(exc, OSError) and exc.filename and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}"
    else:
        text = str(exc) or type(exc).__name__
        if not isinstance(exc, (*USAGE_ERRORS, ImportError, WGANGPError)):
            text = f"{type(exc).__name__}: {text}"
    return " ".join(text.split())


_stdout_failed = False


def say(*parts, **kwargs) -> None:
    """``print`` to stdout that never fails the command.

    Training must not depend on the terminal: with stdout closed, full
    (``>/dev/full``) or a pipe whose reader left (``| head -1``), the output
    is dropped from then on (stdout is pointed at the null device, so that
    Python's own flush at exit stays quiet) and the command carries on.
    """
    global _stdout_failed
    kwargs.pop("flush", None)
    if _stdout_failed or sys.stdout is None:
        return
    try:
        print(*parts, **kwargs, file=sys.stdout, flush=True)
    except (OSError, ValueError):  # ValueError: stdout was closed
        _stdout_failed = True
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)


def stdout_is_terminal() -> bool:
    """Whether stdout is an open terminal (False when it is closed or missing)."""
    try:
        return sys.stdout is not None and sys.stdout.isatty()
    except (OSError, ValueError):
        return False
