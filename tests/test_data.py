"""Tests for wgangp.data: toy sets, digits and the file loaders."""

from __future__ import annotations

import gzip
import struct
import sys

import numpy as np
import pytest

from wgangp.data import (
    TOY_DATASETS,
    idx_images_to_matrix,
    load_csv,
    load_digits,
    load_idx,
    load_npy,
    load_parquet,
    output_activation_for,
    rank_rows,
    toy,
    toy_modes,
)

# ---------------------------------------------------------------------------
# Toy sets
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", TOY_DATASETS)
def test_toy_returns_n_by_2_float64(name):
    x = toy(name, 37, random_state=0)
    assert x.shape == (37, 2)
    assert x.dtype == np.float64


@pytest.mark.parametrize("name", TOY_DATASETS)
def test_toy_same_seed_gives_same_points(name):
    np.testing.assert_array_equal(toy(name, 50, random_state=3), toy(name, 50, random_state=3))
    assert not np.array_equal(toy(name, 50, random_state=3), toy(name, 50, random_state=4))


def test_toy_accepts_a_generator_and_advances_it():
    rng = np.random.default_rng(0)
    first, second = toy("8gaussians", 10, random_state=rng), toy("8gaussians", 10, rng)
    assert not np.array_equal(first, second)
    np.testing.assert_array_equal(first, toy("8gaussians", 10, np.random.default_rng(0)))


def test_toy_unknown_name_lists_allowed_names():
    with pytest.raises(ValueError, match="'8gaussians', '25gaussians', 'swissroll'.*'moons'"):
        toy("moons", 10)


@pytest.mark.parametrize("n", [0, -3])
def test_toy_non_positive_n_is_value_error(n):
    with pytest.raises(ValueError, match=r"^n=.* must be an integer >= 1"):
        toy("8gaussians", n)


@pytest.mark.parametrize("n", [2.0, "10", True, None])
def test_toy_non_int_n_is_type_error(n):
    with pytest.raises(TypeError, match=r"^n=.* must be an integer >= 1"):
        toy("8gaussians", n)


@pytest.mark.parametrize("random_state", [1.5, "0", np.random.RandomState(0)])
def test_toy_bad_random_state_is_type_error(random_state):
    with pytest.raises(TypeError, match=r"^random_state=.* must be None, an integer seed >= 0 or"):
        toy("8gaussians", 5, random_state=random_state)


def test_toy_modes_8gaussians_ring_after_scaling():
    centres, sd = toy_modes("8gaussians")
    angles = np.arange(8) * np.pi / 4
    expected = 2.0 * np.column_stack([np.cos(angles), np.sin(angles)]) / 1.414
    np.testing.assert_allclose(centres, expected)
    assert sd == pytest.approx(0.02 / 1.414)


def test_toy_modes_25gaussians_grid_after_scaling():
    centres, sd = toy_modes("25gaussians")
    ticks = np.array([-4.0, -2.0, 0.0, 2.0, 4.0]) / 2.828
    assert centres.shape == (25, 2)
    assert {tuple(c) for c in np.round(centres, 12)} == {
        (round(x, 12), round(y, 12)) for x in ticks for y in ticks
    }
    assert sd == pytest.approx(0.05 / 2.828)


def test_toy_modes_swissroll_has_no_modes():
    with pytest.raises(ValueError, match="no modes"):
        toy_modes("swissroll")


@pytest.mark.parametrize("name", ["8gaussians", "25gaussians"])
def test_toy_mixture_means_and_sd_match_modes(name):
    centres, sd = toy_modes(name)
    x = toy(name, 25_000, random_state=0)
    nearest = np.argmin(((x[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    for k, centre in enumerate(centres):
        members = x[nearest == k]
        assert len(members) > 500
        np.testing.assert_allclose(members.mean(axis=0), centre, atol=5 * sd / np.sqrt(500))
        np.testing.assert_allclose(members.std(axis=0), sd, rtol=0.1)


def test_toy_25gaussians_is_balanced_like_the_paper():
    centres, _ = toy_modes("25gaussians")
    x = toy("25gaussians", 25 * 40 + 7, random_state=1)
    nearest = np.argmin(((x[:, None, :] - centres[None]) ** 2).sum(-1), axis=1)
    counts = np.bincount(nearest, minlength=25)
    assert counts.min() >= 40 and counts.max() <= 41 and counts.sum() == 1007


def test_toy_swissroll_is_scaled_to_about_unit_range():
    x = toy("swissroll", 2000, random_state=0)
    radius = np.linalg.norm(x, axis=1)
    # make_swiss_roll's t spans 1.5 pi .. 4.5 pi; divided by 7.5 -> radius 0.63 .. 1.88.
    assert 0.45 < radius.min() < 0.8
    assert 1.75 < radius.max() < 2.1


# ---------------------------------------------------------------------------
# Digits
# ---------------------------------------------------------------------------


def test_load_digits_scaled_to_minus_one_one_with_labels():
    X, y = load_digits()
    assert X.shape == (1797, 64) and X.dtype == np.float64
    assert X.min() == -1.0 and X.max() == 1.0
    # Pixel values were integers 0..16, so (X + 1) * 8 is integral.
    np.testing.assert_array_equal((X + 1) * 8, np.round((X + 1) * 8))
    assert y.shape == (1797,) and np.issubdtype(y.dtype, np.integer)
    assert set(y.tolist()) == set(range(10))


def test_load_digits_without_labels_returns_array_only():
    X = load_digits(return_labels=False)
    assert isinstance(X, np.ndarray) and X.shape == (1797, 64)


# ---------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_load_csv_with_header(tmp_path):
    path = write(tmp_path / "a.csv", "x, y ,z\n1,2,3\n4.5,-5,6e2\n")
    np.testing.assert_array_equal(load_csv(path), [[1, 2, 3], [4.5, -5, 600]])


def test_load_csv_without_header_keeps_first_row(tmp_path):
    path = write(tmp_path / "a.csv", "1,2\n\n3,4\n")
    out = load_csv(str(path))
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, [[1, 2], [3, 4]])


def test_load_csv_selects_columns_by_name_and_index(tmp_path):
    path = write(tmp_path / "a.csv", "x,y,z\n1,2,3\n4,5,6\n")
    np.testing.assert_array_equal(load_csv(path, columns=["z", "x"]), [[3, 1], [6, 4]])
    np.testing.assert_array_equal(load_csv(path, columns=[1, -1]), [[2, 3], [5, 6]])


def test_load_csv_other_delimiter(tmp_path):
    path = write(tmp_path / "a.csv", "a;b\n1;2\n")
    np.testing.assert_array_equal(load_csv(path, delimiter=";"), [[1, 2]])


def test_load_csv_non_numeric_cell_names_line_and_column(tmp_path):
    path = write(tmp_path / "a.csv", "x,colour\n1,2\n3,red\n")
    with pytest.raises(ValueError, match=r"line 3, column 2 \('colour'\): 'red' is not a number"):
        load_csv(path)


def test_load_csv_empty_cell_is_named(tmp_path):
    path = write(tmp_path / "a.csv", "1,2\n3,\n")
    with pytest.raises(ValueError, match="line 2, column 2: an empty cell is not a number"):
        load_csv(path)


def test_load_csv_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_csv(tmp_path / "missing.csv")


def test_load_csv_directory(tmp_path):
    with pytest.raises(IsADirectoryError, match="is a directory"):
        load_csv(tmp_path)


def test_load_csv_empty_file(tmp_path):
    with pytest.raises(ValueError, match="is empty"):
        load_csv(write(tmp_path / "a.csv", "\n\n"))


def test_load_csv_header_only(tmp_path):
    with pytest.raises(ValueError, match="no data rows"):
        load_csv(write(tmp_path / "a.csv", "x,y\n"))


def test_load_csv_ragged_rows(tmp_path):
    with pytest.raises(ValueError, match="line 3: 3 cells, expected 2"):
        load_csv(write(tmp_path / "a.csv", "x,y\n1,2\n3,4,5\n"))


def test_load_csv_unknown_column_name(tmp_path):
    path = write(tmp_path / "a.csv", "x,y\n1,2\n")
    with pytest.raises(ValueError, match="no column named 'w'"):
        load_csv(path, columns=["w"])


def test_load_csv_column_name_without_header(tmp_path):
    path = write(tmp_path / "a.csv", "1,2\n")
    with pytest.raises(ValueError, match="no header row"):
        load_csv(path, columns=["x"])


def test_load_csv_column_index_out_of_range(tmp_path):
    path = write(tmp_path / "a.csv", "1,2\n")
    with pytest.raises(ValueError, match="index 2 is out of range"):
        load_csv(path, columns=[2])


# ---------------------------------------------------------------------------
# NPY
# ---------------------------------------------------------------------------


def test_load_npy_round_trip_as_float64(tmp_path):
    x = np.arange(12, dtype=np.int32).reshape(4, 3)
    np.save(tmp_path / "x.npy", x)
    out = load_npy(tmp_path / "x.npy")
    assert out.dtype == np.float64
    np.testing.assert_array_equal(out, x)


def test_load_npy_refuses_object_arrays(tmp_path):
    path = tmp_path / "objects.npy"
    np.save(path, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(ValueError, match="object array.*unpickling.*refused"):
        load_npy(path)


def test_load_npy_one_dimensional_suggests_reshape(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(3.0))
    with pytest.raises(ValueError, match=r"1-D.*reshape\(-1, 1\)"):
        load_npy(tmp_path / "x.npy")


def test_load_npy_three_dimensional_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"shape \(2, 2, 2\).*needs 2-D"):
        load_npy(tmp_path / "x.npy")


def test_load_npy_strings_refused(tmp_path):
    np.save(tmp_path / "x.npy", np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="needs bool, integer or float"):
        load_npy(tmp_path / "x.npy")


def test_load_npy_npz_archive_refused(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"\.npz archive of \['a'\]"):
        load_npy(tmp_path / "x.npz")


def test_load_npy_not_npy(tmp_path):
    with pytest.raises(ValueError, match="not a readable .npy file"):
        load_npy(write(tmp_path / "x.npy", "hello"))


def test_load_npy_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_npy(tmp_path / "nothing.npy")


# ---------------------------------------------------------------------------
# IDX
# ---------------------------------------------------------------------------

IDX_CODES = {"uint8": 0x08, "int8": 0x09, "int16": 0x0B, "int32": 0x0C, "float32": 0x0D}


def idx_bytes(array: np.ndarray) -> bytes:
    """IDX encoding written independently of load_idx: magic, dims, big-endian data."""
    code = IDX_CODES[array.dtype.name]
    header = bytes([0, 0, code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


@pytest.mark.parametrize("compressed", [False, True])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([-70000, 0, 1, 2**31 - 1], dtype=np.int32),
        np.array([[-1.5, 2.25]], dtype=np.float32),
        np.array([[-3, 300]], dtype=np.int16),
    ],
    ids=["uint8-3d", "int32-1d", "float32-2d", "int16-2d"],
)
def test_load_idx_round_trip(tmp_path, array, compressed):
    raw = idx_bytes(array)
    if compressed:
        path = tmp_path / "data-idx.gz"
        path.write_bytes(gzip.compress(raw))
    else:
        path = tmp_path / "data-idx"
        path.write_bytes(raw)
    out = load_idx(path)
    assert out.dtype == array.dtype and out.dtype.isnative
    assert out.shape == array.shape
    np.testing.assert_array_equal(out, array)


def test_load_idx_bad_magic(tmp_path):
    path = tmp_path / "bad-idx"
    path.write_bytes(b"\x1f\x8b\x08\x01" + bytes(8))
    with pytest.raises(ValueError, match="magic number 0x1f8b0801"):
        load_idx(path)


def test_load_idx_unknown_type_code(tmp_path):
    path = tmp_path / "bad-idx"
    path.write_bytes(bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 5]))
    with pytest.raises(ValueError, match="magic number 0x00000701"):
        load_idx(path)


def test_load_idx_truncated_data(tmp_path):
    path = tmp_path / "short-idx"
    path.write_bytes(idx_bytes(np.zeros((3, 4), dtype=np.uint8))[:-1])
    with pytest.raises(ValueError, match="truncated.*needs 24 bytes.*has 23"):
        load_idx(path)


def test_load_idx_truncated_header(tmp_path):
    path = tmp_path / "short-idx"
    path.write_bytes(bytes([0, 0, 0x08, 3, 0, 0, 0, 2]))
    with pytest.raises(ValueError, match="truncated.*3 dimensions"):
        load_idx(path)


def test_load_idx_trailing_bytes(tmp_path):
    path = tmp_path / "long-idx"
    path.write_bytes(idx_bytes(np.zeros(2, dtype=np.uint8)) + b"\x00")
    with pytest.raises(ValueError, match="longer than its header says"):
        load_idx(path)


def test_load_idx_gz_name_without_gzip_content(tmp_path):
    path = tmp_path / "plain-idx.gz"
    path.write_bytes(idx_bytes(np.zeros(2, dtype=np.uint8)))
    with pytest.raises(ValueError, match="not a complete gzip file"):
        load_idx(path)


def test_idx_images_to_matrix_flattens_and_scales():
    images = np.array([[[0, 255, 51], [204, 0, 0]], [[255] * 3, [255] * 3]], dtype=np.uint8)
    out = idx_images_to_matrix(images)
    assert out.shape == (2, 6) and out.dtype == np.float64
    np.testing.assert_allclose(out[0], [-1, 1, -0.6, 0.6, -1, -1])
    np.testing.assert_allclose(out[1], 1.0)


def test_idx_images_to_matrix_refuses_non_uint8():
    with pytest.raises(ValueError, match="uint8 pixels"):
        idx_images_to_matrix(np.zeros((1, 2, 2), dtype=np.float32))


def test_idx_images_to_matrix_refuses_labels_shape():
    with pytest.raises(ValueError, match=r"\(n_images, height, width\)"):
        idx_images_to_matrix(np.zeros(5, dtype=np.uint8))


# ---------------------------------------------------------------------------
# Output activation
# ---------------------------------------------------------------------------


def test_output_activation_for_digits_is_tanh():
    assert output_activation_for(load_digits(return_labels=False)) == "tanh"


def test_output_activation_for_toy_data_is_identity():
    assert output_activation_for(toy("8gaussians", 100, random_state=0)) == "identity"


@pytest.mark.parametrize(
    "values, expected",
    [
        ([-1.0, 1.0], "tanh"),
        ([-0.995, 0.991], "tanh"),
        ([-1.0, 0.9], "identity"),
        ([-1.0, 1.01], "identity"),
        ([0.0, 1.0], "identity"),
    ],
)
def test_output_activation_for_range_rule(values, expected):
    assert output_activation_for(np.array(values)[:, None]) == expected


def test_output_activation_for_non_finite_is_value_error():
    with pytest.raises(ValueError, match="NaN or infinite"):
        output_activation_for(np.array([[np.nan, 1.0]]))


def test_load_npy_truncated_file(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((10, 10)))
    raw = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "x.npy").write_bytes(raw[:-8])
    with pytest.raises(ValueError, match="not a readable .npy file"):
        load_npy(tmp_path / "x.npy")


def test_loader_errors_are_named_exceptions(tmp_path):
    from wgangp.errors import InvalidDataError, InvalidParameterError, InvalidParameterTypeError

    with pytest.raises(InvalidDataError):
        load_csv(write(tmp_path / "a.csv", "1,x\n"))
    with pytest.raises(InvalidParameterError):
        toy("ring", 3)
    with pytest.raises(InvalidParameterTypeError):
        toy("8gaussians", 3.0)


def test_load_csv_drops_a_byte_order_mark(tmp_path):
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfx,y\n1,2\n3,4\n")
    assert load_csv(path, columns=["x"]).ravel().tolist() == [1.0, 3.0]
    path.write_bytes(b"\xef\xbb\xbf1,2\n3,4\n")  # headerless: the first row stays data
    assert load_csv(path).tolist() == [[1.0, 2.0], [3.0, 4.0]]


def test_load_csv_says_when_a_first_row_of_numbers_looks_like_a_header(tmp_path, caplog):
    path = tmp_path / "years.csv"
    path.write_text("1990,2000\n0.5,1.5\n0.25,2.5\n0.75,3.5\n")
    with caplog.at_level("WARNING", logger="wgangp.data"):
        values = load_csv(path)
    assert values.shape == (4, 2)
    assert "line 1 (1990, 2000) is all numbers" in caplog.text
    caplog.clear()
    path.write_text("1,2\n3,4\n5,6\n")
    with caplog.at_level("WARNING", logger="wgangp.data"):
        load_csv(path)
    assert caplog.text == ""


# ---------------------------------------------------------------------------
# Parquet, and one rank's rows of a file
# ---------------------------------------------------------------------------


def _table_files(folder, X: np.ndarray, row_group: int) -> dict:
    """``X`` written as .parquet (row groups of ``row_group`` rows), .npy and .csv (a header,
    blank lines here and there)."""
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    paths = {ext: folder / f"x.{ext}" for ext in ("parquet", "npy", "csv")}
    columns = {f"c{j}": X[:, j] for j in range(X.shape[1])}
    pq.write_table(pa.table(columns), paths["parquet"], row_group_size=row_group)
    np.save(paths["npy"], X)
    lines = ["", "a,b,c", ""]
    for i, row in enumerate(X):
        lines.append(",".join(repr(float(v)) for v in row))
        if i % 7 == 3:
            lines.append("")
    paths["csv"].write_text("\n".join(lines) + "\n", encoding="utf-8")
    return paths


@pytest.mark.parametrize("ext", ["parquet", "npy", "csv"])
@pytest.mark.parametrize("size", [1, 2, 3, 4, 13, 14])
def test_rank_rows_of_every_rank_concatenate_to_the_whole_file(tmp_path, ext, size):
    X = np.random.default_rng(0).normal(size=(103, 3))
    path = _table_files(tmp_path, X, row_group=8)[ext]  # 13 row groups: 14 ranks split rows
    parts = [rank_rows(path, rank, size) for rank in range(size)]
    np.testing.assert_array_equal(np.concatenate(parts), X)
    assert all(abs(len(p) - len(X) / size) <= 8 for p in parts)  # balanced to a row group
    assert all(p.dtype == np.float64 for p in parts)


def test_rank_rows_of_a_csv_reads_what_load_csv_reads(tmp_path):
    X = np.random.default_rng(1).normal(size=(20, 3))
    path = _table_files(tmp_path, X, row_group=5)["csv"]
    np.testing.assert_array_equal(rank_rows(path), load_csv(path))


def test_rank_rows_refuses_more_ranks_than_rows_and_other_suffixes(tmp_path):
    path = _table_files(tmp_path, np.ones((3, 3)), row_group=2)["npy"]
    with pytest.raises(ValueError, match="3 data rows, fewer than the 4 ranks"):
        rank_rows(path, 0, 4)
    with pytest.raises(ValueError, match="rank=2 must be below size=2"):
        rank_rows(path, 2, 2)
    (tmp_path / "x.txt").write_text("1,2\n")
    with pytest.raises(ValueError, match="reads .csv, .npy and .parquet"):
        rank_rows(tmp_path / "x.txt")


def test_load_parquet_converts_numeric_columns_and_selects_some(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "t.parquet"
    table = pa.table({"i": [1, 2, 3], "f": [0.5, 1.5, 2.5], "b": [True, False, True]})
    pq.write_table(table, path, row_group_size=2)
    np.testing.assert_array_equal(load_parquet(path), [[1, 0.5, 1], [2, 1.5, 0], [3, 2.5, 1]])
    np.testing.assert_array_equal(
        load_parquet(path, columns=["f", 0]), [[0.5, 1], [1.5, 2], [2.5, 3]]
    )


def test_load_parquet_refuses_text_columns_missing_values_and_other_files(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    path = tmp_path / "t.parquet"
    pq.write_table(pa.table({"x": [1.0, 2.0], "city": ["Oslo", "Lima"]}), path)
    with pytest.raises(ValueError, match=r"column 'city' \(text\) is not numeric.*fit-table"):
        load_parquet(path)
    np.testing.assert_array_equal(load_parquet(path, columns=["x"]), [[1.0], [2.0]])
    pq.write_table(pa.table({"x": [1.0, None]}), path)
    with pytest.raises(ValueError, match="column 'x': 1 missing values"):
        load_parquet(path)
    (tmp_path / "fake.parquet").write_bytes(b"not parquet at all")
    with pytest.raises(ValueError, match="not a readable Parquet file"):
        load_parquet(tmp_path / "fake.parquet")


def test_load_parquet_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)  # import pyarrow.parquet fails
    (tmp_path / "t.parquet").write_bytes(b"PAR1")
    with pytest.raises(ImportError, match=r"pip install 'wgangp\[parquet\]'"):
        load_parquet(tmp_path / "t.parquet")


def test_rank_rows_of_a_csv_names_a_bad_cell_in_the_ranks_range(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n3,4\n5,x\n7,8\n", encoding="utf-8")
    np.testing.assert_array_equal(rank_rows(path, 0, 2), [[1, 2], [3, 4]])
    with pytest.raises(ValueError, match=r"rows from line 4: could not convert string 'x'"):
        rank_rows(path, 1, 2)
