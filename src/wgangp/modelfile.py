"""Model files: atomic write, safe read, and the format dispatch of :func:`wgangp.load`.

A model file is one ``.npz`` (a zip of ``.npy`` arrays) with a ``header``
entry: UTF-8 JSON naming the format, its version, the estimator's
parameters and fitted state, and the shape and dtype of every array. It is
written to a temporary file beside the target and renamed into place, so a
crash never leaves a torn file, and read with ``allow_pickle=False`` after
every entry's size, dtype and shape have been checked against the header
and against this machine's memory: loading a file never runs code from it.

Each estimator registers its format here (:func:`register_format`) with the
function that builds it from a checked header and arrays; :func:`load`
dispatches on the header's ``format`` field.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import stat
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ._version import __version__
from .errors import ModelFileError, WGANGPError
from .validation import check_path, physical_memory

__all__ = [
    "atomic_savez",
    "check_format",
    "header_int",
    "load",
    "model_file_errors",
    "read_model_file",
    "register_format",
    "remove_stale_temps",
    "rng_from_state",
    "write_model_file",
]


def _temp_prefix(path: Path) -> str:
    """Hidden temporary-file prefix for ``path``: short whatever the name's length,
    and the same for every writer of that path, so that a later save finds and
    removes what a killed one left behind."""
    digest = hashlib.sha1(path.name.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    return f".{digest}."


_TEMP_SUFFIX = ".wgangp-tmp"


def remove_stale_temps(folder, path: Path | None = None) -> list[Path]:
    """Delete the temporary files that killed writers left in ``folder``
    (of ``path`` only, when given); return what was removed.

    A temporary file is named ``.<hash of the target's name>.<pid>.<n>.wgangp-tmp``;
    one whose process still runs is being written and is left alone.
    """
    prefix = _temp_prefix(path) if path is not None else "."
    removed = []
    try:
        candidates = [
            p
            for p in Path(folder).iterdir()
            if p.name.startswith(prefix) and p.name.endswith(_TEMP_SUFFIX)
        ]
    except OSError:
        return removed
    for temp in candidates:
        parts = temp.name[1:].split(".")
        if len(parts) != 4 or not parts[1].isdigit():
            continue
        pid = int(parts[1])
        if pid != os.getpid() and _alive(pid):
            continue  # another process is writing it now
        with contextlib.suppress(OSError):
            temp.unlink()
            removed.append(temp)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # pragma: no cover - another user's process
        return True
    return True


def atomic_savez(path: Path, arrays: dict) -> None:
    """``numpy.savez`` to a temporary file beside ``path``, fsync, rename, fsync the folder.

    The temporary file is hidden, named from a hash of ``path``'s name (so a
    legal long name stays legal) and this process's id; temporary files that
    a killed writer of the same path left behind are removed first.
    """
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"path={str(path)!r} is a directory; give a file name in it, "
            f"e.g. {str(path / 'model.npz')!r}"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise NotADirectoryError(
            f"cannot write {str(path)!r}: a part of its folder {str(path.parent)!r} "
            "is a file, not a folder"
        ) from None
    remove_stale_temps(path.parent, path)
    try:
        fd, tmp = _open_temp(path)
    except OSError as exc:
        raise type(exc)(exc.errno, f"cannot write {str(path)!r}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):  # make the rename itself durable (POSIX)
        dir_fd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def _open_temp(path: Path) -> tuple[int, str]:
    base = f"{_temp_prefix(path)}{os.getpid()}"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for attempt in range(100):
        tmp = str(path.parent / f"{base}.{attempt}{_TEMP_SUFFIX}")
        try:
            return os.open(tmp, flags, 0o600), tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"cannot create a temporary file beside {str(path)!r}")


def write_model_file(path, header: dict, arrays: dict) -> Path:
    """Write ``header`` (JSON) and ``arrays`` as one model file, atomically.

    The header's ``"arrays"`` field is filled in here: the name, shape and
    dtype of every array, which :func:`read_model_file` checks the file
    against.
    """
    path = check_path(path, "path")
    header = dict(header)
    header["arrays"] = {k: [list(v.shape), v.dtype.str] for k, v in arrays.items()}
    arrays = dict(arrays)
    arrays["header"] = np.frombuffer(json.dumps(header).encode("utf-8"), dtype=np.uint8)
    atomic_savez(path, arrays)
    return path


# Reading model files. A model file may come from anyone: every field and
# every array is checked before it is trusted, sizes before anything is
# allocated, and nothing is ever unpickled.

MAX_HEADER_BYTES = 1 << 24
"""Largest JSON header accepted (16 MiB; a real one is a few kB)."""

_NPY_HEADER_READERS = {
    (1, 0): np.lib.format.read_array_header_1_0,
    (2, 0): np.lib.format.read_array_header_2_0,
}


def _scan_members(zf: zipfile.ZipFile, path) -> dict:
    """``key -> (ZipInfo, shape, fortran_order, dtype, data_offset)`` from each
    member's ``.npy`` header alone; no array data is read yet."""
    infos = zf.infolist()
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise ModelFileError(f"{path} lists the entries {dup} more than once; refused")
    total = sum(info.file_size for info in infos)
    memory = physical_memory()
    if memory is not None and total > memory:
        raise ModelFileError(
            f"{path} declares {total / 2**30:.3g} GiB of arrays, more than this machine's "
            f"{memory / 2**30:.3g} GiB of memory; refused"
        )
    entries = {}
    for info in infos:
        name = info.filename
        if not name.endswith(".npy"):
            raise ModelFileError(
                f"{path}: entry {name!r} is not a .npy array; a model file holds only arrays"
            )
        if info.flag_bits & 0x1:
            raise ModelFileError(f"{path}: entry {name!r} is encrypted; refused")
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise ModelFileError(
                f"{path}: entry {name!r} uses zip compression method {info.compress_type}; "
                "only stored and deflated entries are read"
            )
        key = name[: -len(".npy")]
        with zf.open(info) as fp:
            version = np.lib.format.read_magic(fp)
            reader = _NPY_HEADER_READERS.get(version)
            if reader is None:
                raise ModelFileError(
                    f"{path}: array {key!r} is in .npy format version {version}; "
                    "only versions 1.0 and 2.0 are read"
                )
            shape, fortran_order, dtype = reader(fp)
            offset = fp.tell()
        if dtype.hasobject or dtype.kind not in "biuf":
            what = (
                "Python objects, which only unpickling (running code from the file) could read"
                if dtype.hasobject
                else "no plain numbers"
            )
            raise ModelFileError(
                f"{path}: array {key!r} has dtype {dtype} and holds {what}; refused"
            )
        n_bytes = math.prod(shape) * dtype.itemsize
        if offset + n_bytes != info.file_size:
            raise ModelFileError(
                f"{path}: array {key!r} declares shape {shape} of {dtype} ({n_bytes} bytes) "
                f"but its entry holds {info.file_size - offset} bytes of data; the file is "
                "truncated or forged"
            )
        entries[key] = (info, shape, fortran_order, dtype, offset)
    return entries


def _read_member(zf: zipfile.ZipFile, entry) -> np.ndarray:
    """The array of one scanned entry (a writable copy); the zip's CRC is checked."""
    info, shape, fortran_order, dtype, offset = entry
    with zf.open(info) as fp:
        fp.read(offset)
        data = fp.read(info.file_size - offset)
        fp.read(1)  # reaching the end makes zipfile check the CRC
    array = np.frombuffer(bytearray(data), dtype=dtype)
    return array.reshape(shape, order="F" if fortran_order else "C")


def _read_header(
    zf: zipfile.ZipFile, entries: dict, path, format_name: str | None, format_version: int | None
) -> dict:
    if "header" not in entries:
        raise ModelFileError(f"{path} has no 'header' entry; it is not a wgangp model file")
    info, shape, _, dtype, _ = entries["header"]
    if dtype != np.uint8 or len(shape) != 1:
        raise ModelFileError(
            f"{path}: the header entry has shape {shape} and dtype {dtype}; "
            "it must be 1-D uint8 (UTF-8 JSON)"
        )
    if info.file_size > MAX_HEADER_BYTES:
        raise ModelFileError(
            f"{path}: the header is {info.file_size} bytes, more than the "
            f"{MAX_HEADER_BYTES} a wgangp header can be; refused"
        )
    raw = _read_member(zf, entries["header"])
    try:
        header = json.loads(raw.tobytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        reason = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise ModelFileError(f"{path}: the header is not valid JSON ({reason})") from None
    if not isinstance(header, dict):
        raise ModelFileError(
            f"{path}: the header is a JSON {type(header).__name__}, not an object; "
            "it is not a wgangp model file"
        )
    if format_name is not None:
        versions = format_version if isinstance(format_version, tuple) else (format_version,)
        check_format(header, path, format_name, versions)
    if not isinstance(header.get("arrays"), dict):
        raise ModelFileError(f"{path}: header field 'arrays' is missing or not a JSON object")
    return header


def check_format(header: dict, path, format_name: str, versions) -> int:
    """The header's format must be ``format_name`` in one of ``versions``; return the version."""
    if header.get("format") != format_name:
        raise ModelFileError(
            f"{path} is not a {format_name!r} file: its header says format={header.get('format')!r}"
        )
    version = header.get("format_version")
    versions = tuple(versions)
    if isinstance(version, bool) or version not in versions:
        which = " or ".join(str(v) for v in versions)
        raise ModelFileError(
            f"{path} has format_version={version!r}; this wgangp ({__version__}) reads "
            f"version {which} of {format_name!r} files"
        )
    return version


def _check_declared(header: dict, entries: dict, path) -> None:
    """The header's list of arrays must name exactly the file's arrays, with their
    shapes and dtypes."""
    declared = header["arrays"]
    present = set(entries) - {"header"}
    extra = sorted(present - set(declared))
    if extra:
        raise ModelFileError(f"{path}: arrays {extra} are in the file but not in its header")
    missing = sorted(set(declared) - present)
    if missing:
        raise ModelFileError(f"{path}: the header lists arrays {missing} that the file lacks")
    for key, spec in declared.items():
        _, shape, _, dtype, _ = entries[key]
        if (
            not isinstance(spec, list)
            or len(spec) != 2
            or spec[0] != list(shape)
            or spec[1] != dtype.str
        ):
            raise ModelFileError(
                f"{path}: array {key!r} has shape {shape} and dtype {dtype.str}, "
                f"but the header declares {spec!r}"
            )


@contextlib.contextmanager
def model_file_errors(path):
    """Report anything a corrupt or forged file makes go wrong as ModelFileError."""
    try:
        yield
    except ModelFileError:
        raise
    except WGANGPError as exc:
        raise ModelFileError(f"{path}: the header holds a setting wgangp refuses: {exc}") from None
    except KeyError as exc:
        raise ModelFileError(f"{path}: header field {exc} is missing") from None
    except (
        OSError,
        EOFError,
        zipfile.BadZipFile,
        zlib.error,
        NotImplementedError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        OverflowError,
    ) as exc:
        raise ModelFileError(
            f"{path} is truncated, corrupt or inconsistent: {type(exc).__name__}: {exc}"
        ) from None


def read_model_file(path, format_name: str | None = None, format_version=None) -> tuple[dict, dict]:
    """The JSON header and the arrays of a model file, read without trusting it.

    ``format_name`` and ``format_version`` (a version or a tuple of them)
    are what the header must say; ``format_name=None`` leaves that check to
    the caller. Only regular files are read (a FIFO or a device would block
    or never end).

    Nothing is unpickled and arrays of Python objects are refused. Before any
    array is read, each entry's ``.npy`` header is checked against the entry's
    size, the total against this machine's memory, and the JSON header's list
    of arrays (its ``"arrays"`` field: name -> [shape, dtype]) against the
    entries. Every loader of wgangp files reads through here.

    Returns
    -------
    header : dict
    arrays : dict of str to numpy.ndarray (writable copies)

    Raises
    ------
    ModelFileError
        Missing, truncated, corrupt or forged files, or another format or
        format version.
    """
    path = check_path(path, "path")
    if not path.exists():
        raise ModelFileError(f"model file {path} does not exist")
    if path.is_dir():
        raise ModelFileError(f"{path} is a directory, not a model file")
    if not stat.S_ISREG(path.stat().st_mode):
        raise ModelFileError(f"{path} is not a regular file (a FIFO, socket or device); refused")
    with model_file_errors(path):
        with open(path, "rb") as fh:
            magic = fh.read(6)
        if magic == b"\x93NUMPY":
            raise ModelFileError(f"{path} is a bare .npy array, not a wgangp model file")
        if magic[:1] == b"\x80":
            raise ModelFileError(
                f"{path} is a Python pickle, not a wgangp model file; wgangp never "
                "unpickles (a pickle can run code)"
            )
        try:
            zf = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, EOFError) as exc:
            raise ModelFileError(
                f"{path} cannot be read as a model file (a .npz zip archive): {exc}; "
                "it is not one, or it is truncated"
            ) from None
        with zf:
            entries = _scan_members(zf, path)
            header = _read_header(zf, entries, path, format_name, format_version)
            _check_declared(header, entries, path)
            arrays = {
                key: _read_member(zf, entry) for key, entry in entries.items() if key != "header"
            }
    return header, arrays


def header_int(value, field: str, minimum: int = 0) -> int:
    """A header field that must be an integer >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ModelFileError(f"header field {field}={value!r} must be an integer >= {minimum}")
    return value


_BIT_GENERATORS = {
    "PCG64": np.random.PCG64,
    "PCG64DXSM": np.random.PCG64DXSM,
    "MT19937": np.random.MT19937,
    "Philox": np.random.Philox,
    "SFC64": np.random.SFC64,
}


def rng_from_state(state, path) -> np.random.Generator:
    """The Generator whose bit generator's state a header saved."""
    if not isinstance(state, dict):
        raise ModelFileError(f"{path}: header field 'rng_state' is not a JSON object")
    bitgen_cls = _BIT_GENERATORS.get(state.get("bit_generator"))
    if bitgen_cls is None:
        raise ModelFileError(f"{path}: unknown random generator {state.get('bit_generator')!r}")
    bitgen = bitgen_cls()
    bitgen.state = state
    return np.random.Generator(bitgen)


# --------------------------------------------------------------------------- #
# Formats and wgangp.load.                                                    #
# --------------------------------------------------------------------------- #

_FORMATS: dict[str, tuple[tuple[int, ...], Callable]] = {}


def register_format(name: str, versions, loader: Callable) -> None:
    """Let :func:`load` read files of format ``name`` (in ``versions``) with ``loader``.

    ``loader(header, arrays, path)`` builds the object from a header and
    arrays that :func:`read_model_file` has checked; anything it raises from
    a bad field is reported as :class:`~wgangp.errors.ModelFileError`.
    """
    _FORMATS[name] = (tuple(versions), loader)


def load(path):
    """Load any wgangp model file: a :class:`wgangp.WGANGP`, a
    :class:`wgangp.TabularSynthesizer`, ... whichever wrote it.

    Loading never executes code: nothing is unpickled, and arrays of Python
    objects are refused. Before any array is read, each entry's declared
    shape is checked against its size in the file and against the header
    (:func:`read_model_file`); then every array is checked against the
    architecture, and every header field against what the estimator allows.

    Raises
    ------
    ModelFileError
        Missing, truncated, corrupt, forged, or unknown-format files.
    """
    header, arrays = read_model_file(path)
    name = header.get("format")
    if name not in _FORMATS:
        known = ", ".join(sorted(_FORMATS))
        raise ModelFileError(
            f"{path} is not a wgangp model file: its header says format={name!r} (known: {known})"
        )
    versions, loader = _FORMATS[name]
    check_format(header, path, name, versions)
    with model_file_errors(path):
        return loader(header, arrays, path)
