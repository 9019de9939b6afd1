"""wgangp: a Wasserstein GAN with gradient penalty on NumPy alone.

Exact (every gradient hand-derived and checked against finite differences),
fast (stacked passes, one GEMM per layer where peers need three), and
observable while it trains.

>>> import numpy as np, wgangp
>>> X = wgangp.data.toy("8gaussians", 512, random_state=0)  # doctest: +SKIP
>>> model = wgangp.WGANGP(random_state=0).fit(X, steps=200)  # doctest: +SKIP
"""

from ._version import __version__
from .diagnose import Finding, diagnose, format_findings
from .errors import (
    DeviceUnavailableError,
    InvalidDataError,
    InvalidParameterError,
    InvalidParameterTypeError,
    ModelFileError,
    NotFittedError,
    RunFolderError,
    TrainingDiverged,
    WGANGPError,
)
from .gradcheck import GradcheckResult, gradcheck
from .history import History, read_history
from .model import WGANGP
from .modelfile import load
from .monitor import Checkpoint, DivergenceGuard, HistoryLogger, ProgressBar, TensorBoardLogger
from .nn import MLP
from .optim import SGD, Adam, RMSProp
from .runs import latest_checkpoint
from .tabular import TabularSynthesizer
from .train import Callback
from .translate import Translator

__all__ = [
    "WGANGP",
    "TabularSynthesizer",
    "Translator",
    "MLP",
    "Adam",
    "RMSProp",
    "SGD",
    "Callback",
    "Checkpoint",
    "DivergenceGuard",
    "HistoryLogger",
    "ProgressBar",
    "TensorBoardLogger",
    "History",
    "read_history",
    "latest_checkpoint",
    "Finding",
    "diagnose",
    "format_findings",
    "GradcheckResult",
    "gradcheck",
    "load",
    "DeviceUnavailableError",
    "InvalidDataError",
    "InvalidParameterError",
    "InvalidParameterTypeError",
    "ModelFileError",
    "NotFittedError",
    "RunFolderError",
    "TrainingDiverged",
    "WGANGPError",
    "__version__",
]
