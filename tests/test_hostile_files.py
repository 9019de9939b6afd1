"""Hostile and corrupt model files: each refused with ModelFileError, nothing executed.

A model file may come from anyone. ``wgangp.load`` must never unpickle, never
allocate what a forged size asks for, and never fail with anything but a
:class:`wgangp.ModelFileError` that says what is wrong.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import wgangp.model
from wgangp import WGANGP, Translator, load
from wgangp.errors import ModelFileError


class Payload:
    """Unpickling this object creates the folder ``marker``: the side effect to watch for."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def _saved(kind, folder) -> Path:
    """A small fitted model of each estimator, saved: the files every test damages."""
    if kind == "WGANGP":
        X = np.random.default_rng(0).normal(size=(24, 2))
        model = WGANGP(hidden=4, depth=1, batch_size=8, n_critic=1, random_state=0).fit(X, steps=2)
    elif kind == "Translator":
        rng = np.random.default_rng(0)
        A, B = rng.normal(size=(24, 2)), rng.normal(loc=1.0, size=(20, 2))
        model = Translator(hidden=4, depth=1, batch_size=8, n_critic=1, random_state=0)
        model.fit(A, B, steps=2)
    elif kind == "TableTranslator":
        model = Translator(hidden=4, depth=1, batch_size=8, n_critic=1, random_state=0)
        model.fit(*_two_tables(), steps=2)
    else:
        pd = pytest.importorskip("pandas")
        from wgangp.tabular import TabularSynthesizer

        rng = np.random.default_rng(0)
        frame = pd.DataFrame({"x": rng.normal(size=40), "k": rng.choice(["a", "b"], 40)})
        model = TabularSynthesizer(hidden=8, critic_hidden=8, random_state=0).fit(frame, steps=2)
    return model.save(folder / "good.npz")


def _two_tables():
    """Two small tables with a continuous and a text column (24 and 20 rows)."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(0)
    return tuple(
        pd.DataFrame({"x": rng.normal(loc=k, size=n), "k": rng.choice(["a", "b", "c"], n)})
        for k, n in ((0, 24), (1, 20))
    )


KINDS = ("WGANGP", "TabularSynthesizer", "Translator", "TableTranslator")


def _weight(header, index: int = 0) -> str:
    """The name of a weight array of the file's first network (``generator/0``, ...)."""
    return f"{next(iter(header['optimizers']))}/{index}"


@pytest.fixture(scope="module")
def saved_files(tmp_path_factory) -> dict:
    return {kind: _saved(kind, tmp_path_factory.mktemp(kind)) for kind in KINDS}


@pytest.fixture(params=KINDS)
def saved(request, saved_files) -> Path:
    """The same hostile-file suite runs on the files of every estimator."""
    return saved_files[request.param]


@pytest.fixture
def saved_wgangp(saved_files) -> Path:
    return saved_files["WGANGP"]


def _members(path) -> tuple[dict, dict]:
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    header = json.loads(arrays.pop("header").tobytes())
    return header, arrays


def _npy_bytes(array, allow_pickle=False) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.asanyarray(array), allow_pickle=allow_pickle)
    return buf.getvalue()


def _write(path, header, arrays, raw: dict | None = None) -> Path:
    """A model file from a header (dict, or raw bytes), arrays, and raw zip entries."""
    if isinstance(header, (dict, list)):
        header = json.dumps(header).encode()
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("header.npy", _npy_bytes(np.frombuffer(header, dtype=np.uint8)))
        for key, value in arrays.items():
            zf.writestr(f"{key}.npy", _npy_bytes(value, allow_pickle=value.dtype == object))
        for name, data in (raw or {}).items():
            zf.writestr(name, data)
    return Path(path)


def _declare(header, arrays):
    header["arrays"] = {k: [list(v.shape), v.dtype.str] for k, v in arrays.items()}
    return header


def _refused(path, match):
    with pytest.raises(ModelFileError, match=match):
        load(path)


def test_the_unmodified_file_loads(saved, tmp_path):
    header, arrays = _members(saved)
    load(_write(tmp_path / "same.npz", header, arrays))


# ------------------------------------------------------------- truncation --


@pytest.mark.parametrize("keep", [0.0, 0.1, 0.5, 0.9, -1])
def test_truncated_file_is_refused(saved, tmp_path, keep):
    data = saved.read_bytes()
    cut = len(data) - 1 if keep == -1 else int(len(data) * keep)
    path = tmp_path / "cut.npz"
    path.write_bytes(data[:cut])
    _refused(path, r"cannot be read as a model file|truncated")


def test_flipped_bit_in_a_weight_fails_the_checksum(saved, tmp_path):
    data = bytearray(saved.read_bytes())
    start = data.index(b"NUMPY", data.index(b"/0.npy")) + 128
    data[start] ^= 0x01
    path = tmp_path / "flipped.npz"
    path.write_bytes(bytes(data))
    _refused(path, r"corrupt.*CRC")


# ---------------------------------------------------------------- formats --


@pytest.mark.parametrize("version", [99, 0, "1", None])
def test_wrong_format_version_is_refused(saved, tmp_path, version):
    header, arrays = _members(saved)
    header["format_version"] = version
    _refused(_write(tmp_path / "v.npz", header, arrays), rf"format_version={version!r}")


def test_foreign_format_name_is_refused(saved, tmp_path):
    header, arrays = _members(saved)
    header["format"] = "someone-else"
    _refused(
        _write(tmp_path / "f.npz", header, arrays),
        r"not a wgangp model file: its header says format='someone-else'",
    )


def test_other_class_is_refused(saved, tmp_path):
    header, arrays = _members(saved)
    header["class"] = "Impostor"
    _refused(_write(tmp_path / "c.npz", header, arrays), r"holds a 'Impostor'")


def test_bare_npy_file_is_refused(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros(3))
    _refused(tmp_path / "a.npy", r"bare .npy array")


def test_non_npy_entry_is_refused(saved, tmp_path):
    header, arrays = _members(saved)
    path = _write(tmp_path / "t.npz", header, arrays, raw={"notes.txt": b"hello"})
    _refused(path, r"entry 'notes.txt' is not a .npy array")


def test_entry_without_npy_magic_is_refused(saved, tmp_path):
    header, arrays = _members(saved)
    key = _weight(header, 1)
    del arrays[key]
    path = _write(tmp_path / "m.npz", header, arrays, raw={f"{key}.npy": b"garbage" * 10})
    _refused(path, r"truncated, corrupt or inconsistent.*magic")


def test_duplicate_entries_are_refused(saved, tmp_path):
    header, arrays = _members(saved)
    key = _weight(header)
    forged = _npy_bytes(arrays[key] * 100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # zipfile: "Duplicate name"
        path = _write(tmp_path / "d.npz", header, arrays, raw={f"{key}.npy": forged})
    _refused(path, rf"lists the entries \['{key}.npy'\] more than once")


# ------------------------------------------------------- pickles, objects --


def test_pickle_payload_is_live_when_unpickled(tmp_path):
    """The control: the payload really does create its marker when unpickled."""
    marker = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()


@pytest.mark.parametrize("where", ["extra entry", "replacing a weight", "the header"])
def test_pickle_payload_inside_the_npz_is_never_run(saved, tmp_path, where):
    marker = tmp_path / "pwned"
    evil = np.array([Payload(marker)], dtype=object)
    header, arrays = _members(saved)
    if where == "extra entry":
        arrays["evil"] = evil
        _declare(header, arrays)
        path = _write(tmp_path / "p.npz", header, arrays)
    elif where == "replacing a weight":
        arrays[_weight(header)] = evil
        path = _write(tmp_path / "p.npz", header, arrays)
    else:
        path = tmp_path / "p.npz"
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr("header.npy", _npy_bytes(evil, allow_pickle=True))
            for key, value in arrays.items():
                zf.writestr(f"{key}.npy", _npy_bytes(value))
    assert b"posix\nmkdir" in path.read_bytes() or b"mkdir" in path.read_bytes()
    _refused(path, r"dtype object and holds Python objects.*unpickling.*refused")
    assert not marker.exists()


def test_npz_that_unpickles_under_allow_pickle_true_is_refused_by_load(saved, tmp_path):
    """Proof that the refusal matters: np.load(allow_pickle=True) runs the payload."""
    marker_np, marker_ours = tmp_path / "ran-under-numpy", tmp_path / "ran-under-wgangp"
    header, arrays = _members(saved)
    arrays["evil"] = np.array([Payload(marker_np)], dtype=object)
    path_np = _write(tmp_path / "np.npz", _declare(header, arrays), arrays)
    with np.load(path_np, allow_pickle=True) as npz:
        npz["evil"]
    assert marker_np.exists()
    arrays["evil"] = np.array([Payload(marker_ours)], dtype=object)
    path_ours = _write(tmp_path / "ours.npz", _declare(header, arrays), arrays)
    _refused(path_ours, r"'evil' has dtype object")
    assert not marker_ours.exists()


def test_whole_file_pickle_is_refused_and_never_run(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "model.npz"
    path.write_bytes(pickle.dumps(Payload(marker)))
    _refused(path, r"is a Python pickle.*never unpickles")
    assert not marker.exists()


def test_string_array_is_refused(saved, tmp_path):
    header, arrays = _members(saved)
    arrays["scale/std"] = np.array(["a", "b"])
    _refused(_write(tmp_path / "s.npz", _declare(header, arrays), arrays), r"holds no plain num")


# -------------------------------------------------------- lying headers --


def test_json_header_that_lies_about_a_shape_is_refused(saved, tmp_path):
    header, arrays = _members(saved)
    key = _weight(header)
    header["arrays"][key] = [[999, 999], "<f4"]
    _refused(
        _write(tmp_path / "l.npz", header, arrays),
        rf"array '{key}' has shape \(\d+, \d+\).*header declares \[\[999, 999\]",
    )


def test_npy_header_that_lies_about_its_size_is_refused_without_allocating(saved, tmp_path):
    header, arrays = _members(saved)
    key = _weight(header)
    del arrays[key]
    buf = io.BytesIO()
    shape = (10**6, 10**6)  # 8 TB of float64 declared, 16 bytes present
    np.lib.format.write_array_header_1_0(
        buf, {"descr": "<f8", "fortran_order": False, "shape": shape}
    )
    forged = buf.getvalue() + b"\x00" * 16
    path = _write(tmp_path / "big.npz", header, arrays, raw={f"{key}.npy": forged})
    _refused(path, rf"'{key}' declares shape \(1000000, 1000000\).*holds 16 bytes")


def test_absurd_layer_sizes_are_refused_without_allocating(saved_wgangp, tmp_path):
    header, arrays = _members(saved_wgangp)
    header["fitted"]["generator"]["sizes"] = [2, 10**12, 2]
    _refused(
        _write(tmp_path / "a.npz", header, arrays),
        r"generator parameter 0 .*does not match the architecture \[2, 1000000000000, 2\]",
    )


def test_absurd_feature_count_is_refused(saved_wgangp, tmp_path):
    header, arrays = _members(saved_wgangp)
    header["fitted"]["n_features_in"] = 10**12
    _refused(_write(tmp_path / "n.npz", header, arrays), r"sizes=\[2, 4, 2\] must be .* to 10+")


def test_arrays_larger_than_memory_are_refused(saved, monkeypatch):
    monkeypatch.setattr(wgangp.modelfile, "physical_memory", lambda: 1000)
    _refused(saved, r"declares .* GiB of arrays, more than this machine's")


def test_oversized_header_is_refused(saved, monkeypatch):
    monkeypatch.setattr(wgangp.modelfile, "MAX_HEADER_BYTES", 100)
    _refused(saved, r"the header is \d+ bytes, more than the 100")


@pytest.mark.parametrize(
    "raw,match",
    [
        (b"\xff\xfe not utf-8", r"header is not valid JSON"),
        (b"{not json", r"header is not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, r"header is not valid JSON \(nested too deeply\)"),
        (b"[1, 2, 3]", r"header is a JSON list, not an object"),
        (b'"just a string"', r"header is a JSON str"),
    ],
    ids=["not utf-8", "not json", "deeply nested", "a list", "a string"],
)
def test_header_that_is_not_a_json_object_is_refused(saved, tmp_path, raw, match):
    _, arrays = _members(saved)
    _refused(_write(tmp_path / "h.npz", raw, arrays), match)


def test_header_of_wrong_dtype_is_refused(saved, tmp_path):
    header, arrays = _members(saved)
    path = tmp_path / "w.npz"
    np.savez(path, header=np.zeros((2, 2), dtype=np.float32), **arrays)
    _refused(path, r"header entry has shape \(2, 2\) and dtype float32")


def test_missing_header_is_refused(tmp_path):
    np.savez(tmp_path / "o.npz", a=np.zeros(3))
    _refused(tmp_path / "o.npz", r"no 'header' entry")


def _mutated(saved, tmp_path, mutate):
    header, arrays = _members(saved)
    mutate(header, arrays)
    return _write(tmp_path / "x.npz", header, arrays)


ALL = KINDS
BOTH = ("WGANGP", "TabularSynthesizer")  # files whose networks are "generator" and "critic"
W = ("WGANGP",)
T = ("TabularSynthesizer",)
X = ("Translator", "TableTranslator")
XT = ("TableTranslator",)


def _transformer_column(index, **changes):
    def mutate(header, arrays):
        header["fitted"]["transformer"]["columns"][index].update(changes)

    return mutate


HEADER_MUTATIONS = {
    "unknown top-level key": (
        lambda h, a: h.update(exec="rm -rf /"),
        r"unknown header fields \['exec'\]",
        ALL,
    ),
    "unknown param": (
        lambda h, a: h["params"].update(evil=1),
        r"unknown parameters \['evil'\]",
        ALL,
    ),
    "param out of range": (
        lambda h, a: h["params"].update(hidden=-3),
        r"setting wgangp refuses: hidden=-3",
        ALL,
    ),
    "param of wrong type": (
        lambda h, a: h["params"].update(activation=["relu"]),
        r"setting wgangp refuses: activation=\['relu'\]",
        W,
    ),
    "tabular param of wrong type": (
        lambda h, a: h["params"].update(dropout="half"),
        r"setting wgangp refuses: dropout='half'",
        T,
    ),
    "bad dtype": (lambda h, a: h["params"].update(dtype="object"), r"dtype 'object' is not", ALL),
    "missing section": (lambda h, a: h.pop("sampler"), r"field 'sampler' is missing", W),
    "missing transformer": (
        lambda h, a: h.pop("transformer"),
        r"field 'transformer' is missing",
        T,
    ),
    "section of wrong type": (
        lambda h, a: h.update(fitted=[1, 2]),
        r"field 'fitted' is missing or not a JSON object",
        ALL,
    ),
    "missing field": (
        lambda h, a: h["fitted"].pop("n_iter"),
        r"header field .n_iter. is missing",
        ALL,
    ),
    "negative count": (
        lambda h, a: h["fitted"].update(n_iter=-1),
        r"fitted.n_iter=-1 must be an integer >= 0",
        ALL,
    ),
    "NaN count": (
        lambda h, a: h["fitted"].update(n_critic_steps=float("nan")),
        r"fitted.n_critic_steps=nan must be an integer",
        W,
    ),
    "zero pac": (
        lambda h, a: h["fitted"].update(pac=0),
        r"fitted.pac=0 must be an integer >= 1",
        T,
    ),
    "batch not a multiple of pac": (
        lambda h, a: h["fitted"].update(batch_size=h["fitted"]["batch_size"] + 1),
        r"not a multiple of pac",
        T,
    ),
    "float count": (
        lambda h, a: h["optimizers"]["critic"].update(step=1.5),
        r"optimizers.critic.step=1.5 must be an integer",
        BOTH,
    ),
    "output activation": (
        lambda h, a: h["fitted"].update(output_activation="__import__('os')"),
        r"fitted.output_activation=.* must be 'identity' or 'tanh'",
        W,
    ),
    "unknown activation": (
        lambda h, a: h["fitted"]["critic"].update(activation={"name": "evil"}),
        r"activation='evil' is not known",
        W,
    ),
    "unknown optimizer": (
        lambda h, a: h["optimizers"]["generator"].update(config={"name": "evil"}),
        r"optimizer name 'evil' is not known",
        BOTH,
    ),
    "optimizer options": (
        lambda h, a: h["optimizers"]["generator"]["config"].update(evil=1),
        r"truncated, corrupt or inconsistent: TypeError",
        BOTH,
    ),
    "unknown generator": (
        lambda h, a: h["rng_state"].update(bit_generator="Evil"),
        r"unknown random generator 'Evil'",
        ALL,
    ),
    "bad rng state": (
        lambda h, a: h["rng_state"].update(state="x"),
        r"truncated, corrupt or inconsistent",
        ALL,
    ),
    "batch beyond rows": (
        lambda h, a: h["sampler"].update(batch_size=10**9),
        r"batch_size=1000000000.*does not fit n_rows=24",
        W,
    ),
    "arrays not declared": (
        lambda h, a: h["arrays"].pop("generator/1"),
        r"arrays \['generator/1'\] are in the file but not in its header",
        BOTH,
    ),
    "declared array missing": (
        lambda h, a: h["arrays"].update({"ghost": [[1], "<f8"]}),
        r"lists arrays \['ghost'\] that the file lacks",
        ALL,
    ),
    "residual not a bool": (
        lambda h, a: h["fitted"].update(residual="yes"),
        r"fitted.residual='yes' is not a bool",
        X,
    ),
    "missing samplers": (lambda h, a: h.pop("samplers"), r"field 'samplers' is missing", X),
    "translator batch beyond rows": (
        lambda h, a: h["samplers"]["b"].update(batch_size=10**9),
        r"batch_size=1000000000.*does not fit n_rows=20",
        X,
    ),
    "translator output activation": (
        lambda h, a: h["fitted"]["generator_ab"].update(output_activation="tanh"),
        r"fitted.generator_ab.output_activation must be 'identity'",
        X,
    ),
    "translator sizes": (
        lambda h, a: h["fitted"]["critic_b"].update(
            sizes=[h["fitted"]["critic_b"]["sizes"][0], 10**12, 1]
        ),
        r"critic_b parameter 0 .*does not match the architecture \[\d+, 1000000000000, 1\]",
        X,
    ),
    "missing transformer of a table translator": (
        lambda h, a: h["fitted"].pop("transformer"),
        r"header field 'transformer' is missing",
        XT,
    ),
    "transformer not an object": (
        lambda h, a: h["fitted"].update(transformer=[1, 2]),
        r"fitted.transformer is not a JSON object or null",
        XT,
    ),
    "transformer of an unknown shape": (
        lambda h, a: h["fitted"]["transformer"].update(evil=1),
        r"transformer state: must be a JSON object with 'params' and 'columns'",
        XT,
    ),
    "transformer with an unknown param": (
        lambda h, a: h["fitted"]["transformer"]["params"].update(evil=1),
        r"transformer state: params must be a JSON object",
        XT,
    ),
    "transformer column of unknown kind": (
        _transformer_column(1, kind="__import__('os')"),
        r"column 1: kind=.* is not 'discrete' or 'continuous'",
        XT,
    ),
    "transformer knots out of order": (
        _transformer_column(0, knots=[3.0, 1.0, 2.0]),
        r"column 0 \('x'\): knots must be finite and non-decreasing",
        XT,
    ),
    "transformer bounds reversed": (
        _transformer_column(0, min=5.0, max=-5.0),
        r"min, max and fill must be finite, min <= max",
        XT,
    ),
    "transformer categories of objects": (
        _transformer_column(1, categories=[{"a": 1}, "b"]),
        r"categories must be JSON scalars",
        XT,
    ),
    "transformer with a column too many": (
        lambda h, a: h["fitted"]["transformer"]["columns"].append(
            dict(h["fitted"]["transformer"]["columns"][1], name="k2")
        ),
        r"the transformer has 3 columns, but fitted.n_features_in=2",
        XT,
    ),
    "transformer of another width than the networks": (
        _transformer_column(1, categories=["a", "b", "c", "d"]),
        r"generator_ab.sizes|generator_ab parameter 0",
        XT,
    ),
    "history column missing": (
        lambda h, a: h["history"]["columns"].append("ghost"),
        r"history column \d+ \('ghost'\) is missing",
        ALL,
    ),
}


def _cases(mutations: dict) -> list:
    return [
        pytest.param(kind, case, id=f"{kind}-{case}")
        for case, (*_, kinds) in sorted(mutations.items())
        for kind in kinds
    ]


@pytest.mark.parametrize("kind,case", _cases(HEADER_MUTATIONS))
def test_header_with_bad_fields_is_refused(saved_files, tmp_path, kind, case):
    mutate, match, _ = HEADER_MUTATIONS[case]
    _refused(_mutated(saved_files[kind], tmp_path, mutate), match)


def _set_array(key, value):
    def mutate(header, arrays):
        arrays[key] = np.asarray(value(arrays[key]) if callable(value) else value)
        _declare(header, arrays)

    return mutate


def _first_moment(header, arrays):
    key = next(k for k in arrays if k.startswith("optim/critic/"))
    arrays[key] = np.zeros((3, 3), np.float32)
    _declare(header, arrays)


ARRAY_MUTATIONS = {
    "NaN weight": (_set_array("critic/0", lambda a: np.full_like(a, np.nan)), r"NaN or inf", BOTH),
    "wrong dtype weight": (
        _set_array("critic/0", lambda a: a.astype(np.float64)),
        r"critic parameter 0 .*does not match",
        BOTH,
    ),
    "moment of wrong shape": (
        _first_moment,
        r"optimizer state critic/\w+/0 is missing or does not match",
        BOTH,
    ),
    "zero scale": (_set_array("scale/std", np.zeros(2)), r"standard deviations > 0", W),
    "inf mean": (_set_array("scale/mean", [np.inf, 0.0]), r"scaling arrays must be finite", W),
    "scale of wrong length": (
        _set_array("scale/mean", np.zeros(5)),
        r"do not match n_features",
        W,
    ),
    "order out of range": (
        _set_array("sampler/perm", np.arange(24) + 10**6),
        r"not a permutation of the 24 rows",
        W,
    ),
    "order repeats a row": (
        _set_array("sampler/perm", np.zeros(24, dtype=np.int64)),
        r"not a permutation",
        W,
    ),
    "condition counts of wrong length": (
        _set_array("condition_frequencies", np.ones(7)),
        r"condition_frequencies must be \d+ finite numbers",
        T,
    ),
    "NaN condition counts": (
        _set_array("condition_frequencies", lambda a: np.full_like(a, np.nan)),
        r"condition_frequencies must be \d+ finite numbers",
        T,
    ),
    "translator zero scale": (
        _set_array("scale/std", lambda a: np.zeros_like(a)),
        r"deviations > 0",
        ("Translator",),
    ),
    "translator order repeats a row": (
        _set_array("sampler_a/perm", np.zeros(24, dtype=np.int64)),
        r"not a permutation of the 24 rows",
        X,
    ),
    "translator NaN weight": (
        _set_array("generator_ba/0", lambda a: np.full_like(a, np.nan)),
        r"NaN or inf",
        X,
    ),
    "table translator scale": (
        _set_array("scale/mean", lambda a: np.ones_like(a)),
        r"a table translator's scaling arrays must be zeros and ones",
        XT,
    ),
    "history column of text": (
        _set_array("history/0", np.array(["a", "b"])),
        r"holds no plain numbers|history column 0",
        ALL,
    ),
}


@pytest.mark.parametrize("kind,case", _cases(ARRAY_MUTATIONS))
def test_inconsistent_arrays_are_refused(saved_files, tmp_path, kind, case):
    mutate, match, _ = ARRAY_MUTATIONS[case]
    _refused(_mutated(saved_files[kind], tmp_path, mutate), match)


# ------------------------------------------------------------------ fuzzing --


@pytest.mark.parametrize("kind", KINDS)
@settings(max_examples=40, deadline=None, derandomize=True)
@given(data=st.data())
def test_random_damage_loads_or_raises_model_file_error(saved_files, tmp_path_factory, kind, data):
    """Whatever the damage, load either succeeds or raises ModelFileError."""
    raw = bytearray(saved_files[kind].read_bytes())
    kind = data.draw(st.sampled_from(["flip", "overwrite", "truncate", "insert"]))
    pos = data.draw(st.integers(0, len(raw) - 1))
    if kind == "flip":
        raw[pos] ^= 1 << data.draw(st.integers(0, 7))
    elif kind == "overwrite":
        raw[pos : pos + 8] = data.draw(st.binary(min_size=8, max_size=8))
    elif kind == "truncate":
        del raw[pos:]
    else:
        raw[pos:pos] = data.draw(st.binary(min_size=1, max_size=16))
    path = tmp_path_factory.mktemp("fuzz") / "m.npz"
    path.write_bytes(bytes(raw))
    try:
        model = load(path)
    except ModelFileError:
        return
    if isinstance(model, Translator) and model.transformer_ is not None:
        rows = model.transform(_two_tables()[0][:3])
    elif isinstance(model, Translator):
        rows = model.transform(np.zeros((3, model.n_features_in_)))
    else:
        rows = model.sample(3, random_state=0)
    numbers = (
        rows.select_dtypes("number").to_numpy(np.float64) if hasattr(rows, "columns") else rows
    )
    assert np.all(np.isfinite(numbers))


# ------------------------------------------------------------ tabular files --


@pytest.fixture(scope="module")
def saved_tabular(tmp_path_factory):
    pd = pytest.importorskip("pandas")
    from wgangp.tabular import TabularSynthesizer

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=40), "k": rng.choice(["a", "b"], 40)})
    synth = TabularSynthesizer(hidden=8, critic_hidden=8, random_state=0).fit(frame, steps=2)
    return synth.save(tmp_path_factory.mktemp("tabular") / "t.npz")


def test_tabular_file_with_a_pickle_payload_is_refused_and_never_run(saved_tabular, tmp_path):
    from wgangp.tabular import load as load_tabular

    marker = tmp_path / "pwned"
    header, arrays = _members(saved_tabular)
    arrays["generator/0"] = np.array([Payload(marker)], dtype=object)
    path = _write(tmp_path / "p.npz", header, arrays)
    for loader in (load, load_tabular):
        with pytest.raises(ModelFileError, match=r"dtype object and holds Python objects"):
            loader(path)
    assert not marker.exists()


def test_tabular_file_with_forged_sizes_is_refused_without_allocating(saved_tabular, tmp_path):
    header, arrays = _members(saved_tabular)
    header["params"]["hidden"] = 10**6  # a 10^12-weight layer, if it were built
    _refused(
        _write(tmp_path / "f.npz", header, arrays),
        r"generator parameter 0 is missing or does not match the architecture",
    )


@pytest.mark.parametrize("keep", [0.3, 0.97])
def test_truncated_tabular_file_is_refused(saved_tabular, tmp_path, keep):
    data = saved_tabular.read_bytes()
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: int(len(data) * keep)])
    _refused(path, r"cannot be read as a model file")


def test_tabular_header_that_is_not_an_object_is_refused(saved_tabular, tmp_path):
    _, arrays = _members(saved_tabular)
    _refused(_write(tmp_path / "l.npz", b"[1, 2]", arrays), r"header is a JSON list")


def test_translator_file_of_format_version_1_loads_as_an_array_translator(saved_files, tmp_path):
    """Files from before tables (format 1) have no fitted.transformer: arrays."""
    header, arrays = _members(saved_files["Translator"])
    assert header["format_version"] == 2 and header["fitted"].pop("transformer") is None
    header["format_version"] = 1
    model = load(_write(tmp_path / "v1.npz", header, arrays))
    assert model.transformer_ is None
    np.testing.assert_array_equal(
        model.transform(np.ones((3, 2))), load(saved_files["Translator"]).transform(np.ones((3, 2)))
    )
