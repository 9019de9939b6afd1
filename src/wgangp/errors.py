"""Named exceptions of wgangp, all in one place.

Each subclasses the built-in exception a caller would expect to catch, so
``except ValueError`` keeps working.
"""

from __future__ import annotations


class WGANGPError(Exception):
    """Base class of every exception raised on purpose by wgangp."""


class InvalidParameterError(WGANGPError, ValueError):
    """A hyperparameter or argument has a value that is not allowed."""


class InvalidParameterTypeError(WGANGPError, TypeError):
    """A hyperparameter or argument has a type that is not allowed."""


class InvalidDataError(WGANGPError, ValueError):
    """Training or scoring data is unusable (NaN, wrong shape, no rows, ...)."""


class NotFittedError(WGANGPError, ValueError, AttributeError):
    """The estimator is used before ``fit`` was called."""


class ModelFileError(WGANGPError, ValueError):
    """A model file is missing, truncated, corrupt, or of an unknown format."""


class RunFolderError(WGANGPError, ValueError):
    """A run folder cannot be written: another run holds it, or it is not a run of ours."""


class TrainingDiverged(WGANGPError, RuntimeError):
    """Training produced NaN or inf in a loss or a parameter."""

    def __init__(self, message: str, iteration: int | None = None, checkpoint=None):
        super().__init__(message)
        self.iteration = iteration
        self.checkpoint = checkpoint


class DeviceUnavailableError(WGANGPError, RuntimeError):
    """The device asked for (a CUDA GPU) is not present on this machine."""


class RankFailed(WGANGPError, RuntimeError):
    """Another rank of a data-parallel (MPI) run failed; its message says how."""
