"""Saving a model to a `.keras` file, atomically.

The model is written to a temporary file in the destination's folder and moved
into place with one rename, so a reader never sees a half-written file and a
failed save leaves whatever was at the path before untouched.
"""

from __future__ import annotations

import os

from kerasnets.export.files import exists_error, save_atomically
from kerasnets.export.verify import ExportResult

__all__ = ["save_keras", "cache_saving_skipsets"]

# The object types Keras' saving walk asks `get_attr_skipset` about.
_SAVEABLE_TYPES = ("Operation", "Layer", "Functional", "Sequential", "Metric", "Optimizer",
                   "Loss")


def cache_saving_skipsets():
    """Makes Keras' weight saving reuse its attribute skip sets instead of rebuilding them.

    Keras 3 (3.15.1 here) walks every layer and optimizer when it saves, and
    asks `saving_lib.get_attr_skipset(type)` which attributes to skip. That
    function builds a throw-away `Layer()` (or `Optimizer`, `Metric`, ...) to
    list them and means to cache the result in Keras' global state, but it
    stores it under "saving_attr_skipset_<type>" and looks it up under
    "saving_attr_skiplist_<type>", so it never finds it: saving resnet20 and
    its Adam state built 76 throw-away layers, 120 of the 200 ms of
    `save_weights`. This puts each set under the key Keras reads. The sets
    depend on the type alone, so what is saved is unchanged
    (tests/test_export_keras_file.py compares the files). Harmless where
    Keras has fixed the key; a no-op where its internals have moved.
    """
    try:
        from keras.src.backend.common import global_state
        from keras.src.saving import saving_lib
    except ImportError:
        return
    for obj_type in _SAVEABLE_TYPES:
        key = f"saving_attr_skiplist_{obj_type}"
        if global_state.get_global_attribute(key, None) is None:
            try:
                skipset = saving_lib.get_attr_skipset(obj_type)
            except (AttributeError, ValueError, TypeError):
                return
            global_state.set_global_attribute(key, skipset)


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

    cache_saving_skipsets()
    save_atomically(lambda tmp: model.save(tmp, overwrite=True), path, overwrite, ".keras")
    return ExportResult(format="keras", path=path, size_bytes=os.path.getsize(path))
