"""Writing a whole file atomically (a new record never over another; a view replaced whole), the
one way proxx writes files; and reading one file's fingerprint."""

from __future__ import annotations

import hashlib
import mmap
import os
import tempfile
from pathlib import Path


def _written_temp(path: Path, text: str | bytes) -> str:
    """`text` (str as UTF-8, or bytes) in a new temporary file beside `path`, flushed to disk
    and readable by all: the name of that file, which the caller links or renames."""
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(text.encode("utf-8") if isinstance(text, str) else text)
            stream.flush()
            os.fchmod(stream.fileno(), 0o644)
            os.fsync(stream.fileno())
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    return temp_name


def write_new_file(path: Path, text: str | bytes) -> None:
    """Write `text` (str as UTF-8, or bytes) to `path`: whole or not at all, and never over an
    existing file.

    The text goes to a temporary file in the same folder, is flushed to disk, and is then
    hard-linked to `path`; the link fails with FileExistsError rather than replace a file.
    """
    temp_name = _written_temp(path, text)
    try:
        os.link(temp_name, path)  # fails rather than clobbers
    finally:
        Path(temp_name).unlink(missing_ok=True)


def replace_file(path: Path, text: str | bytes) -> None:
    """Write `text` to `path` whole, replacing what is there: a reader sees the old file or the
    new one, never half of either. Only for views made from records (the night report), never
    for a record itself."""
    temp_name = _written_temp(path, text)
    try:
        Path(temp_name).replace(path)
    finally:
        Path(temp_name).unlink(missing_ok=True)


def file_fingerprint(path: Path) -> tuple[int, str]:
    """A file's size and SHA-256, from one read of its bytes: the one way proxx hashes a file
    (the engine binary, a proxy, a poster). The file is mapped and hashed in one call, which
    is about a tenth faster than reading it through a buffer."""
    with path.open("rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        if size == 0:
            return 0, hashlib.sha256().hexdigest()
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
            return len(mapped), hashlib.sha256(mapped).hexdigest()
