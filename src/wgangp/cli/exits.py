"""How a command ends: the exit codes, the usage error, and errors told in one line."""

from __future__ import annotations

from .. import config
from ..errors import (
    InvalidDataError,
    InvalidParameterError,
    InvalidParameterTypeError,
    ModelFileError,
    NotFittedError,
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
