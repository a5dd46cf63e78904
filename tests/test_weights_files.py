"""weights=FILE: a truncated or foreign .keras/.h5/.weights.h5 file is a ValueError naming it.

Not zipfile.BadZipFile or h5py's OSError from deep inside Keras: every builder
loads through kerasnets.models.common (check_weights, load_weights).
"""

import zipfile

import numpy as np
import pytest

import kerasnets
from kerasnets.models import common, weights_file

INVALID = "is not a valid, complete Keras weights file: "


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A LeNet-5's weights as .keras and .weights.h5, and broken copies of both."""
    folder = tmp_path_factory.mktemp("weights")
    model = kerasnets.build("lenet5")
    model.save(folder / "lenet5.keras")
    model.save_weights(folder / "lenet5.weights.h5")
    whole = (folder / "lenet5.keras").read_bytes()
    (folder / "truncated.keras").write_bytes(whole[: len(whole) // 2])
    (folder / "garbage.keras").write_bytes(b"<html>not found</html>")
    h5 = (folder / "lenet5.weights.h5").read_bytes()
    (folder / "truncated.weights.h5").write_bytes(h5[: len(h5) // 2])
    (folder / "garbage.h5").write_bytes(b"\0" * 1000)
    with zipfile.ZipFile(folder / "no_weights.keras", "w") as archive:
        archive.writestr("config.json", "{}")
    # A well-formed zip whose weights member is cut short: found only when it is read.
    with zipfile.ZipFile(folder / "lenet5.keras") as source, \
            zipfile.ZipFile(folder / "bad_member.keras", "w") as archive:
        for name in source.namelist():
            data = source.read(name)
            archive.writestr(name, data[: len(data) // 2] if name == "model.weights.h5" else data)
    return model, folder


CASES = [
    ("truncated.keras", "a .keras file is a zip archive and this one cannot be read as one "
                        "(File is not a zip file)"),
    ("garbage.keras", "a .keras file is a zip archive and this one cannot be read as one "
                      "(File is not a zip file)"),
    ("no_weights.keras", "the zip archive holds no model.weights.h5 or model.weights.npz"),
    ("truncated.weights.h5", "a .weights.h5 file is HDF5 and this one cannot be opened as HDF5 "
                             "(Unable to synchronously open file (truncated file"),
    ("garbage.h5", "a .h5 file is HDF5 and this one cannot be opened as HDF5 "
                   "(Unable to synchronously open file (file signature not found))"),
    ("bad_member.keras", "reading it failed (Unable to synchronously open file (truncated file"),
]


@pytest.mark.parametrize("name, reason", CASES)
def test_a_broken_weights_file_is_a_value_error_naming_it(files, name, reason):
    model, folder = files
    path = str(folder / name)
    expected = f"{path!r} {INVALID}{reason}"
    with pytest.raises(ValueError) as built:
        kerasnets.build("lenet5", weights=path)
    assert str(built.value).startswith(expected), str(built.value)
    assert str(built.value).endswith("It may be truncated (an interrupted download or copy) "
                                     "or not a Keras file at all.")
    # The loader the recipes and the two-headed Inception use on a built model.
    with pytest.raises(ValueError) as loaded:
        common.load_weights(model, path)
    assert str(loaded.value).startswith(expected), str(loaded.value)


def test_another_family_refuses_a_truncated_file_before_building(tmp_path):
    # ResNet-20's own file, cut short: refused by check_weights, whatever the builder.
    resnet = kerasnets.build("resnet20")
    resnet.save_weights(tmp_path / "resnet20.weights.h5")
    data = (tmp_path / "resnet20.weights.h5").read_bytes()
    path = tmp_path / "cut.weights.h5"
    path.write_bytes(data[:1000])
    with pytest.raises(ValueError, match=r"cut\.weights\.h5' is not a valid, complete Keras "
                                         r"weights file: a \.weights\.h5 file is HDF5"):
        kerasnets.build("resnet20", weights=path)  # a PathLike, as the builders accept


def test_valid_files_still_load(files):
    model, folder = files
    for name in ("lenet5.keras", "lenet5.weights.h5"):
        loaded = kerasnets.build("lenet5", weights=str(folder / name))
        for got, expected in zip(loaded.get_weights(), model.get_weights()):
            np.testing.assert_array_equal(got, expected)
    weights_file.check_weights_file(folder / "lenet5.keras", kind="model file")  # no error
