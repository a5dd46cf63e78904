"""Is a file the Keras weights or model file its extension says? (a leaf: no package imports)

A truncated file (an interrupted download or copy) or another format under a
Keras name would otherwise fail deep inside Keras or h5py with
`zipfile.BadZipFile` or `OSError`; :func:`check_weights_file` names the file.
`models.common` (builders' `weights=`) and `models.pretrained` (the download
cache) both use it.
"""

from __future__ import annotations

import os
import zipfile

__all__ = ["KERAS_ARCHIVE_WEIGHTS", "check_weights_file", "invalid_file"]

# The members a .keras archive keeps its weights in (keras.src.saving.saving_lib).
KERAS_ARCHIVE_WEIGHTS = ("model.weights.h5", "model.weights.npz")


def check_weights_file(path, kind="weights file") -> None:
    """Raises ValueError unless `path` opens as its extension says: .keras a zip archive, .h5 HDF5.

    A truncated file (an interrupted download or copy) or another format under
    a Keras name would otherwise fail deep inside Keras or h5py with
    `zipfile.BadZipFile` or `OSError`; the error names the file instead. Other
    extensions are left to Keras. A file that cannot be read at all (no
    permission) raises the OSError of opening it. `kind` words the message
    ("weights file", "model file").
    """
    path = os.fspath(path)
    with open(path, "rb"):
        pass
    lower = path.lower()
    if lower.endswith(".keras"):
        try:
            with zipfile.ZipFile(path) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, EOFError) as err:
            raise invalid_file(path, kind, "a .keras file is a zip archive and this one "
                                            f"cannot be read as one ({err})") from None
        if not names & set(KERAS_ARCHIVE_WEIGHTS):
            raise invalid_file(path, kind, f"the zip archive holds no "
                                            f"{' or '.join(KERAS_ARCHIVE_WEIGHTS)}")
    elif lower.endswith((".h5", ".hdf5")):
        import h5py

        suffix = ".weights.h5" if lower.endswith(".weights.h5") else os.path.splitext(lower)[1]
        try:
            with h5py.File(path, "r"):
                pass
        except OSError as err:
            raise invalid_file(path, kind, f"a {suffix} file is HDF5 and this one cannot be "
                                            f"opened as HDF5 ({err})") from None


def invalid_file(path, kind, reason):
    return ValueError(
        f"{path!r} is not a valid, complete Keras {kind}: {reason}. It may be truncated "
        "(an interrupted download or copy) or not a Keras file at all."
    )
