"""modelfile: regular files only, short temporary names, stale temporaries removed, NUL paths."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

import wgangp
from wgangp import WGANGP, InvalidParameterError, ModelFileError, modelfile
from wgangp.modelfile import remove_stale_temps
from wgangp.monitor import Checkpoint


@pytest.fixture(scope="module")
def model():
    X = np.random.default_rng(0).normal(size=(64, 2))
    return WGANGP(hidden=8, depth=1, batch_size=16, random_state=0).fit(X, steps=2)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX FIFOs")
def test_load_refuses_a_fifo_instead_of_blocking(tmp_path):
    fifo = tmp_path / "model.npz"
    os.mkfifo(fifo)
    with pytest.raises(ModelFileError, match="not a regular file"):
        wgangp.load(fifo)


def test_a_legal_254_character_name_saves_and_loads(model, tmp_path):
    path = tmp_path / ("m" * 250 + ".npz")
    assert len(path.name) == 254
    assert wgangp.load(model.save(path)).n_iter_ == 2


def test_a_nul_in_a_path_gives_our_error(model, tmp_path):
    bad = str(tmp_path / "a\x00b.npz")
    with pytest.raises(InvalidParameterError, match="cannot hold NUL"):
        model.save(bad)
    with pytest.raises(InvalidParameterError, match="cannot hold NUL"):
        wgangp.load(bad)


def test_stale_temporaries_are_removed_by_the_next_save_and_by_checkpoint(model, tmp_path):
    target = tmp_path / "m.npz"
    name = modelfile._temp_prefix(target)  # what a writer of m.npz killed mid-save leaves
    stale = tmp_path / f"{name}{2**22 + 12345}.0.wgangp-tmp"
    stale.write_bytes(b"x" * 1000)
    model.save(target)
    assert not stale.exists() and wgangp.load(target).n_iter_ == 2

    folder = tmp_path / "ckpts"
    folder.mkdir()
    other = folder / f"{modelfile._temp_prefix(folder / 'x.npz')}{2**22 + 12345}.0.wgangp-tmp"
    other.write_bytes(b"x")
    Checkpoint(folder).on_train_begin(model)
    assert not other.exists()
    assert remove_stale_temps(folder) == []
