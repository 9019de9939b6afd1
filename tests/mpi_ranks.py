"""What the ``mpiexec`` tests share: the launcher, the environment of the rank
processes, and the communicator that counts collective calls in a rank script."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

import wgangp

COUNTING = r'''
class Counting:
    """COMM_WORLD, counting its Allreduce and Allgatherv calls."""

    def __init__(self, comm):
        self.comm, self.allreduce_calls, self.gather_calls = comm, 0, 0

    def Allreduce(self, *args, **kwargs):
        self.allreduce_calls += 1
        return self.comm.Allreduce(*args, **kwargs)

    def Allgatherv(self, *args, **kwargs):
        self.gather_calls += 1
        return self.comm.Allgatherv(*args, **kwargs)

    def __getattr__(self, name):
        return getattr(self.comm, name)
'''
"""Source of a ``Counting`` class, for rank scripts (``+ COUNTING +``)."""


def mpiexec() -> str:
    """The ``mpiexec`` beside this Python (the MPICH wheel's) or on PATH; else skip."""
    found = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which(
        "mpiexec"
    )
    if found is None:
        pytest.skip("no mpiexec (pip install 'wgangp[mpi]' brings MPICH's)")
    return found


def env() -> dict:
    """This environment, with this checkout's wgangp importable by the ranks."""
    return {**os.environ, "PYTHONPATH": str(Path(wgangp.__file__).parents[1])}
