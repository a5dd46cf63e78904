"""Saving a model to a `.keras` file, atomically.

The model is written to a temporary file in the destination's folder and moved
into place with one rename, so a reader never sees a half-written file and a
failed save leaves whatever was at the path before untouched.
"""

from __future__ import annotations

import contextlib
import os
import tempfile

from kerasnets.export.files import (
    exists_error,
    fsync,
    fsync_folder,
    move_no_clobber,
    new_file_mode,
)
from kerasnets.export.verify import ExportResult

__all__ = ["save_keras"]


def save_keras(model, path, overwrite=False):
    """Saves `model` to the `.keras` file `path` atomically; returns an :class:`ExportResult`.

    Parent folders are made as needed. An existing file at `path` is replaced
    only with `overwrite=True`; otherwise `FileExistsError` is raised before
    anything is written.
    """
    path = os.fspath(path)
    if not isinstance(path, str) or not path.endswith(".keras"):
        raise ValueError(f"`path` must end with '.keras' (the Keras v3 format); got {path!r}")
    if os.path.isdir(path):
        raise IsADirectoryError(f"`path` {path!r} is a folder; give the path of a .keras file")
    if not overwrite and os.path.lexists(path):
        raise exists_error(path)

    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    name = os.path.basename(path)[: -len(".keras")]
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.tmp-", suffix=".keras")
    os.close(fd)
    try:
        model.save(tmp, overwrite=True)
        os.chmod(tmp, _file_mode(path))
        fsync(tmp)
        if overwrite:
            os.replace(tmp, path)
        else:
            move_no_clobber(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(tmp)
        raise
    fsync_folder(folder)
    return ExportResult(format="keras", path=path, size_bytes=os.path.getsize(path))


def _file_mode(path):
    """The mode `path` has, or that a new file gets under the umask (mkstemp makes 0600)."""
    try:
        return os.stat(path).st_mode & 0o777
    except OSError:
        return new_file_mode()
