"""flat: views into one array, and the work arrays a training step reuses."""

import numpy as np

from wgangp.flat import Scratch, flat_views, pack


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
