"""Each MPI rank's share of a table file (wgangp.tabular.frames.read_table_share):
the shares, in rank order, are the table one process reads, dtypes included."""

import numpy as np
import pytest

from wgangp.errors import InvalidDataError, InvalidParameterError
from wgangp.tabular.frames import read_table, read_table_share

pd = pytest.importorskip("pandas")


def _awkward_table(n: int = 23) -> "pd.DataFrame":
    """Columns whose dtype a block of rows can read differently from the whole file:
    integers with a missing value late, codes that look like numbers until a text
    one, booleans with a missing value late, and a quoted cell with a newline."""
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "x": rng.normal(size=n).round(4),
            "count": pd.array(rng.integers(0, 5, n), dtype="Int64"),
            "code": [f"{i:03d}" for i in range(n)],
            "flag": pd.array(rng.random(n) < 0.5, dtype="boolean"),
            "note": rng.choice(["plain", "with, comma", "two\nlines"], n),
        }
    )
    table.loc[n - 2, "count"] = pd.NA
    table.loc[n - 1, "code"] = "n/a-code"
    table.loc[n - 3, "flag"] = pd.NA
    return table


@pytest.mark.parametrize("size", [1, 2, 3, 4, 7])
@pytest.mark.parametrize("chunk_rows", [3, 1000])
def test_csv_shares_make_up_the_table_with_its_dtypes(tmp_path, size, chunk_rows):
    path = tmp_path / "t.csv"
    _awkward_table().to_csv(path, index=False)
    whole = read_table(path)
    shares = [read_table_share(path, r, size, chunk_rows=chunk_rows) for r in range(size)]
    assert [len(s) for s in shares] == [len(p) for p in np.array_split(np.arange(len(whole)), size)]
    pd.testing.assert_frame_equal(pd.concat(shares, ignore_index=True), whole)
    # the conflicts this table is made of, as one read settles them
    assert not pd.api.types.is_numeric_dtype(whole["code"]) and whole["code"][0] == "000"
    assert whole["count"].dtype == np.float64


def test_semicolon_csv_with_decimal_commas_is_read_alike(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a;b\n" + "".join(f"{i},5;k{i % 3}\n" for i in range(10)))
    shares = [read_table_share(path, r, 3, chunk_rows=4) for r in range(3)]
    both = pd.concat(shares, ignore_index=True)
    pd.testing.assert_frame_equal(both, read_table(path))
    assert both["a"].iloc[1] == 1.5


@pytest.mark.parametrize("size", [2, 3, 5])
def test_parquet_shares_make_up_the_table(tmp_path, size):
    pytest.importorskip("pyarrow")
    path = tmp_path / "t.parquet"
    table = _awkward_table(40)
    table.to_parquet(path, row_group_size=9)  # 5 row groups: by groups, or by rows
    shares = [read_table_share(path, r, size) for r in range(size)]
    assert all(len(s) > 0 for s in shares)
    pd.testing.assert_frame_equal(pd.concat(shares, ignore_index=True), read_table(path))


def test_shares_refuse_more_ranks_than_rows_and_a_bad_rank(tmp_path):
    path = tmp_path / "t.csv"
    pd.DataFrame({"a": [1, 2]}).to_csv(path, index=False)
    with pytest.raises(InvalidDataError, match="2 data rows, fewer than the 3 ranks"):
        read_table_share(path, 0, 3)
    with pytest.raises(InvalidParameterError, match="rank=2 must be below size=2"):
        read_table_share(path, 2, 2)


def test_a_ragged_csv_is_refused_naming_the_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b\n1,2\n3,4,5\n6,7\n")
    with pytest.raises(InvalidDataError, match="rows of different lengths"):
        read_table_share(path, 1, 2)


class _TwoRanks:
    """allgather as rank 0 of two sees it: its own part, then the other rank's."""

    def __init__(self, other_part: dict):
        self.other_part = other_part

    def allgather(self, part):
        return [part, self.other_part]


def test_discrete_integers_are_counted_over_every_rank():
    from wgangp.tabular.scores import infer_discrete_columns

    mine = pd.DataFrame({"few": [0, 1, 2], "split": [0, 1, 2], "x": [0.5, 1.5, 2.5]})
    theirs = pd.DataFrame({"few": [2, 1, 0], "split": [3, 4, 5], "x": [1.0, 2.0, 3.0]})
    both = pd.concat([mine, theirs], ignore_index=True)
    alone = infer_discrete_columns(both, max_values=4)
    assert alone == ["few"]  # split has 6 values over both halves
    assert infer_discrete_columns(mine, max_values=4) == ["few", "split"]  # one half misleads
    # the other rank's distinct integers, as it sends them (None: more than max_values)
    other = _TwoRanks({"few": {0, 1, 2}, "split": {3, 4, 5}})
    assert infer_discrete_columns(mine, 4, comm=other) == alone
    assert infer_discrete_columns(mine, 4, comm=_TwoRanks({"few": None, "split": None})) == []
