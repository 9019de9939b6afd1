"""Tables as users have them: CSV dialects and faults, odd dtypes and scales, wide categories."""

from __future__ import annotations

import logging
import time
import tracemalloc

import numpy as np
import pandas as pd
import pytest

from wgangp import InvalidDataError, InvalidParameterError, TabularSynthesizer
from wgangp.tabular import TabularTransformer
from wgangp.tabular.frames import as_frame


def small(**params) -> TabularSynthesizer:
    return TabularSynthesizer(hidden=8, critic_hidden=8, latent_dim=4, random_state=0, **params)


def write(tmp_path, text: str | bytes, name: str = "t.csv"):
    path = tmp_path / name
    if isinstance(text, str):
        text = text.encode("utf-8")
    path.write_bytes(text)
    return path


# --------------------------------------------------------------------------- #
# Reading CSV files (items 4, 5, 15, 20).                                     #
# --------------------------------------------------------------------------- #


def test_a_semicolon_csv_is_read_as_columns_and_sep_overrides_the_detection(tmp_path):
    rows = "".join(f"{i};{i % 3};{'ab'[i % 2]}\n" for i in range(30))
    path = write(tmp_path, "x;y;k\n" + rows)
    frame = as_frame(path)
    assert list(frame.columns) == ["x", "y", "k"] and frame["x"].dtype.kind == "i"
    assert list(as_frame(path, sep=",").columns) == ["x;y;k"]


def test_quoted_thousands_and_decimal_commas_are_numbers(tmp_path):
    comma = write(tmp_path, 'a,b\n"1,000",2\n"2,500",3\n', "comma.csv")
    assert as_frame(comma)["a"].tolist() == [1000, 2500]
    semicolon = write(tmp_path, "a;b\n1,5;2\n2,25;3\n", "semi.csv")
    assert as_frame(semicolon)["a"].tolist() == [1.5, 2.25]


def test_a_column_of_whole_rows_or_identifiers_is_refused_not_copied(tmp_path):
    rows = "".join(f"{i};{i * 7 % 11};{i % 5}\n" for i in range(40))
    path = write(tmp_path, "x;y;z\n" + rows)
    with pytest.raises(InvalidDataError, match=r"'x;y;z'.*40 distinct values in 40 rows.*sep="):
        small().fit(path, steps=1, sep=",")
    ids = pd.DataFrame({"id": [f"user{i}" for i in range(50)], "v": np.arange(50.0)})
    with pytest.raises(InvalidDataError, match=r"'id' \(inferred discrete\).*verbatim.*drop"):
        small().fit(ids, steps=1)


def test_a_utf8_byte_order_mark_is_dropped(tmp_path):
    path = write(tmp_path, b"\xef\xbb\xbfx,y\n1,2\n3,4\n")
    assert list(as_frame(path).columns) == ["x", "y"]


@pytest.mark.parametrize(
    "content, message",
    [
        (b"", "is empty"),
        (b"\n\n", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "is not UTF-8 text"),
        (b"\xff\xfe\x00\x01garbage", "is not UTF-8 text"),
        (b"a,b\n1,2\n3,4,5,6\n", "rows of different lengths"),
    ],
    ids=["empty", "blank lines", "png", "utf-16-ish", "ragged"],
)
def test_bad_csv_files_give_our_error_naming_the_file(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(InvalidDataError, match=rf"data='.*t\.csv'.*{message}"):
        as_frame(path)


@pytest.mark.parametrize(
    "cells, kind",
    [
        ([{"a": 1}, {"b": 2}] * 10, "dict"),
        ([[1, 2], [3]] * 10, "list"),
        ([b"a", b"b"] * 10, "bytes"),
    ],
)
def test_cells_a_table_cannot_hold_are_refused_with_the_fix(cells, kind):
    frame = pd.DataFrame({"c": cells, "x": np.arange(20.0)})
    with pytest.raises(InvalidDataError, match=rf"column 'c' holds {kind} values \(row 0"):
        small().fit(frame, steps=1)


def test_complex_and_interval_columns_are_refused_at_fit():
    x = np.arange(20.0)
    with pytest.raises(InvalidDataError, match="complex.*real and an imaginary column"):
        small().fit(pd.DataFrame({"c": x + 1j * x, "x": x}), steps=1)
    intervals = pd.arrays.IntervalArray.from_breaks(np.arange(21.0))
    with pytest.raises(InvalidDataError, match="interval.*left and right columns"):
        small().fit(pd.DataFrame({"i": intervals, "x": x}), steps=1)


def test_a_header_of_numbers_is_named_and_tuple_column_names_are_refused(tmp_path, caplog):
    path = write(tmp_path, "1990,2000\n" + "".join(f"{i},{i + 1}\n" for i in range(10)))
    with caplog.at_level(logging.WARNING, logger="wgangp.tabular.frames"):
        frame = as_frame(path)
    assert list(frame.columns) == ["1990", "2000"]
    assert "header row (1990, 2000) is all numbers" in caplog.text
    tuples = pd.DataFrame(np.ones((4, 2)), columns=pd.MultiIndex.from_tuples([("a", 1), ("b", 2)]))
    with pytest.raises(InvalidDataError, match=r"not text or numbers.*'_'\.join"):
        small().fit(tuples, steps=1)


# --------------------------------------------------------------------------- #
# Dtypes and scales (items 6, 9, 10, 13, 18).                                 #
# --------------------------------------------------------------------------- #


def test_nullable_columns_come_back_with_their_dtypes_and_missing_values():
    n = 60
    frame = pd.DataFrame(
        {
            "i": pd.array([1, 2, None] * 20, dtype="Int64"),
            "b": pd.array([True, False, None] * 20, dtype="boolean"),
            "full": pd.array(np.arange(n) % 40, dtype="Int64"),
            "x": np.random.default_rng(0).normal(size=n),
        }
    )
    out = small().fit(frame, steps=2).sample(200, random_state=0)
    assert out.dtypes.to_dict() == frame.dtypes.to_dict()
    assert out["i"].isna().any() and out["b"].isna().any()


@pytest.mark.parametrize("scale", [1e-5, 1e-300, 1e155])
def test_the_mixture_sees_a_column_in_units_of_its_spread(scale):
    rng = np.random.default_rng(0)
    x = (rng.normal(size=1200) + np.where(rng.random(1200) < 0.5, 3.0, -3.0)) * scale
    frame = pd.DataFrame({"x": x})
    tt = TabularTransformer(continuous="gmm", random_state=0).fit(frame)
    assert tt.columns_[0]["method"] == "gmm" and len(tt.columns_[0]["means"]) >= 2
    scalar = tt.transform(frame)[:, 0]
    assert scalar.std() > 0.05  # not collapsed onto the modes' centres
    back = tt.inverse_transform(tt.transform(frame))["x"].to_numpy()
    assert np.all(np.isfinite(back)) and np.allclose(back, x, rtol=1e-6, atol=0)


def test_auto_takes_quantiles_for_large_bimodal_columns_and_gmm_skips_constant_ones():
    rng = np.random.default_rng(0)
    n = 5000  # above the 1000 rows where auto once switched to mixtures
    x = rng.normal(size=n) + np.where(rng.random(n) < 0.5, 3.0, -3.0)
    frame = pd.DataFrame({"x": x, "c": np.full(n, 2.5)})
    auto = TabularTransformer(random_state=0).fit(frame)
    assert [spec["method"] for spec in auto.columns_] == ["quantile", "quantile"]
    assert auto.output_dim_ == 2  # one scalar per column, no mode one-hot
    gmm = TabularTransformer(continuous="gmm", random_state=0).fit(frame)
    assert [spec["method"] for spec in gmm.columns_] == ["gmm", "quantile"]
    assert len(gmm.columns_[0]["means"]) >= 2
    back = gmm.inverse_transform(gmm.transform(frame))
    assert np.all(back["c"] == 2.5)


def test_wgangp_keeps_data_at_scale_1e_300():
    from wgangp import WGANGP

    X = np.random.default_rng(0).normal(size=(64, 2)) * 1e-300
    model = WGANGP(hidden=8, depth=1, batch_size=16, random_state=0).fit(X, steps=2)
    assert np.allclose(model.scale_std_, X.std(axis=0), rtol=1e-9)
    assert np.abs(model.sample(50, random_state=0)).max() < 1e-295


# --------------------------------------------------------------------------- #
# Conditional sampling over thousands of categories (item 11).                #
# --------------------------------------------------------------------------- #


def test_conditional_sampling_over_thousands_of_categories_is_bounded_and_fast():
    rng = np.random.default_rng(0)
    n_categories, n_rows = 1500, 3000
    codes = np.concatenate([np.arange(n_categories), rng.integers(n_categories, size=1500)])
    frame = pd.DataFrame({"k": [f"c{i}" for i in codes], "x": rng.normal(size=n_rows)})
    synth = small().fit(frame, steps=1)
    tracemalloc.start()
    start = time.perf_counter()
    try:
        rows = synth.sample(1000, conditions={"k": "c7"}, random_state=0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - start < 20
    assert peak < 300 * 2**20
    assert len(rows) == 1000 and set(rows["k"]) == {"c7"}


# --------------------------------------------------------------------------- #
# Sizes and array types checked up front (items 12, 18).                      #
# --------------------------------------------------------------------------- #


def test_sampling_more_rows_than_memory_holds_is_refused_up_front():
    frame = pd.DataFrame({"x": np.arange(40.0), "k": ["a", "b"] * 20})
    with pytest.raises(InvalidParameterError, match=r"sample\(n=10000000000\).*GiB.*smaller"):
        small().fit(frame, steps=1).sample(10**10)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: __import__("scipy.sparse").sparse.csr_matrix(np.ones((8, 2))), r"toarray\(\)"),
        (lambda: (row for row in np.ones((8, 2))), r"iterator \(generator\).*asarray"),
        (
            lambda: pd.DataFrame({"a": pd.array(range(8), dtype="Int64")}),
            r"nullable columns \['a'\].*astype\('float64'\).*TabularSynthesizer",
        ),
    ],
    ids=["sparse", "generator", "Int64"],
)
def test_arrays_wgangp_cannot_take_say_what_was_given_and_what_to_do(make, message):
    from wgangp import WGANGP, InvalidParameterTypeError

    with pytest.raises(InvalidParameterTypeError, match=message):
        WGANGP(hidden=8, depth=1).fit(make(), steps=1)


def test_mixtures_are_fitted_on_a_bounded_sample_and_the_time_is_logged(monkeypatch, caplog):
    from wgangp.tabular import transformer

    sizes = []
    fit_mixture = transformer._fit_mixture

    def recording(observed, n_components, rng):
        sizes.append(observed.size)
        return fit_mixture(observed, n_components, rng)

    monkeypatch.setattr(transformer, "MIXTURE_ROWS", 500)
    monkeypatch.setattr(transformer, "_fit_mixture", recording)
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-3, 1, 1000), rng.normal(3, 1, 1000)])
    frame = pd.DataFrame({"x": x})
    with caplog.at_level(logging.INFO, logger="wgangp.tabular.transformer"):
        tt = TabularTransformer(continuous="gmm", random_state=0).fit(frame)
    assert sizes == [500]
    spec = tt.columns_[0]
    assert (spec["min"], spec["max"]) == (x.min(), x.max())  # bounds from every row
    assert "column transformer fitted on 2000 rows x 1 columns in" in caplog.text
