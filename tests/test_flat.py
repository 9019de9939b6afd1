"""flat: views into one array, and the work arrays a training step reuses."""

import numpy as np

from wgangp import flat
from wgangp.flat import HUGE_PAGE, PACK_BYTES, Scratch, flat_views, pack


def test_views_cover_the_flat_array_in_order():
    flat, views = flat_views([(2, 3), (3,), (3, 1)], np.float32)
    assert flat.shape == (12,) and [v.shape for v in views] == [(2, 3), (3,), (3, 1)]
    views[2][...] = 5.0
    assert flat[-3:].tolist() == [5.0] * 3 and views.flat is flat


def test_pack_copies_arrays_into_one_new_flat_array():
    a, b = np.ones((2, 2)), np.arange(3.0)
    packed = pack([a, b])
    np.testing.assert_array_equal(packed.flat, [1, 1, 1, 1, 0, 1, 2])
    assert not np.shares_memory(packed.flat, a)


def test_scratch_hands_out_the_same_arrays_in_the_same_order_after_a_reset():
    scratch = Scratch()
    first = [scratch.empty((4, 3), np.float32), scratch.empty(4, bool), scratch.empty((2,))]
    scratch.reset()
    again = [scratch.empty((4, 3), np.float32), scratch.empty((4,), bool), scratch.empty(2)]
    assert all(a is b for a, b in zip(first, again))


def test_scratch_replaces_an_array_whose_shape_or_dtype_changed():
    scratch = Scratch()
    a = scratch.empty((4, 3), np.float32)
    b = scratch.empty((5,), np.float64)
    scratch.reset()
    assert scratch.empty((4, 4), np.float32) is not a  # other shape: a new array
    assert scratch.empty((5,), np.float32) is not b  # other dtype: a new array
    scratch.reset()
    assert scratch.empty((4, 4), np.float32).shape == (4, 4)


def test_without_a_reset_scratch_never_hands_out_an_array_twice():
    scratch = Scratch()
    arrays = [scratch.empty((3,), np.float32) for _ in range(4)]
    assert len({id(a) for a in arrays}) == 4


def _base(a: np.ndarray) -> np.ndarray:
    while a.base is not None:
        a = a.base
    return a


def test_a_packing_scratch_lays_out_its_arrays_in_one_block_on_huge_page_boundaries():
    shapes = [((768, 128), np.float32), ((768, 128), bool), ((3,), np.float64)] * 3
    scratch = Scratch(pack=True)
    first = [scratch.empty(shape, dtype) for shape, dtype in shapes]
    assert sum(a.nbytes for a in first) >= PACK_BYTES
    scratch.reset()
    packed = [scratch.empty(shape, dtype) for shape, dtype in shapes]
    assert [(a.shape, a.dtype) for a in packed] == [(a.shape, a.dtype) for a in first]
    assert all(a is not b for a, b in zip(first, packed))
    block = _base(packed[0])
    assert all(_base(a) is block for a in packed)
    assert packed[0].ctypes.data % HUGE_PAGE == 0
    assert all(a.ctypes.data % 64 == 0 for a in packed)
    for i, a in enumerate(packed):  # no two share a byte
        assert not any(np.shares_memory(a, b) for b in packed[i + 1 :])
    end = max(a.ctypes.data + a.nbytes for a in packed)
    assert end <= block.ctypes.data + block.nbytes
    scratch.reset()  # nothing new: the same views again, not packed anew
    assert all(scratch.empty(shape, dtype) is a for (shape, dtype), a in zip(shapes, packed))


def test_small_sets_and_scratches_that_do_not_pack_keep_their_arrays(monkeypatch):
    small = Scratch(pack=True)
    first = [small.empty((16, 8), np.float32), small.empty((16, 8), bool)]
    small.reset()
    assert [small.empty((16, 8), np.float32), small.empty((16, 8), bool)] == first
    monkeypatch.setattr(flat, "PACK_BYTES", 0)
    plain = Scratch()
    a = plain.empty((16, 8), np.float32)
    plain.reset()
    assert plain.empty((16, 8), np.float32) is a
