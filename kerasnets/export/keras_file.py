"""Saving a model to a `.keras` file, atomically.

The model is written to a temporary file in the destination's folder and moved
into place with one rename, so a reader never sees a half-written file and a
failed save leaves whatever was at the path before untouched.
"""

from __future__ import annotations

import os

from kerasnets.export.files import exists_error, save_atomically
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

    save_atomically(lambda tmp: model.save(tmp, overwrite=True), path, overwrite, ".keras")
    return ExportResult(format="keras", path=path, size_bytes=os.path.getsize(path))
