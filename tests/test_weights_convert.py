"""`kerasnets convert` / `export.convert_weights`: a checkpoint once converted loads without torch."""

import json
import os

import numpy as np
import pytest
import torch

import kerasnets
from kerasnets import cli
from kerasnets.export import convert_weights
from kerasnets.models import pretrained

from checkpoint_check import prefill_cache, randomize, save_state
from test_weights_transfer import TOY, TorchLeNet5, register_tag


@pytest.fixture
def toy_tag(tmp_path, monkeypatch):
    """lenet5 with the tag "toy" (a .pth at a URL that refuses connections), in the cache."""
    register_tag(monkeypatch, "toy", pretrained.url_weights("http://127.0.0.1:9/lenet5-toy.pth",
                                                            **TOY))
    monkeypatch.setenv(pretrained.CACHE_DIR_ENV, str(tmp_path / "cache"))
    reference = randomize(TorchLeNet5())
    prefill_cache("lenet5", "toy", reference.state_dict(), tmp_path / "cache")
    return reference


def test_convert_writes_weights_hash_and_description(toy_tag, tmp_path):
    out = tmp_path / "converted"
    result = convert_weights("lenet5", "toy", out)
    assert result.path == str(out / "lenet5.toy.weights.h5")
    description = json.loads((out / "lenet5.toy.json").read_text())
    import hashlib

    assert description["sha256"] == result.sha256 == hashlib.sha256(
        (out / "lenet5.toy.weights.h5").read_bytes()).hexdigest()
    assert description["tag"] == "toy" and description["top1"] == 99.0
    assert description["converted_from"] == "http://127.0.0.1:9/lenet5-toy.pth"
    assert result.build_arguments == {"weights": "lenet5.toy.weights.h5", "classes": 10}
    # The file loads into the plain build, no checkpoint reading involved, and gives the
    # reference's outputs.
    model = kerasnets.build("lenet5", weights=result.path, classifier_activation=None)
    images = np.random.default_rng(1).standard_normal((2, 32, 32, 1)).astype("float32")
    with torch.no_grad():
        want = toy_tag(torch.from_numpy(images.transpose(0, 3, 1, 2))).numpy()
    np.testing.assert_allclose(model.predict(images, verbose=0), want, atol=1e-5)
    # An existing output is kept unless asked.
    before = (out / "lenet5.toy.weights.h5").read_bytes()
    with pytest.raises(FileExistsError, match=r"lenet5.toy.weights.h5 already exists"):
        convert_weights("lenet5", "toy", out)
    assert (out / "lenet5.toy.weights.h5").read_bytes() == before
    convert_weights("lenet5", "imagenet", out, overwrite=True)  # "imagenet": the first tag


def test_convert_from_a_local_checkpoint_and_its_errors(toy_tag, tmp_path, capsys):
    local = tmp_path / "my-copy.pth"
    save_state(randomize(TorchLeNet5(), seed=3).state_dict(), str(local), "pth")
    code = cli.main(["convert", "lenet5", "--weights", "toy", "--checkpoint", str(local),
                     "--out", str(tmp_path / "out")])
    printed = capsys.readouterr().out
    assert code == 0
    assert "wrote " + str(tmp_path / "out" / "lenet5.toy.weights.h5") + " (sha256 " in printed
    assert ("load it with: kerasnets.build('lenet5', weights='" + str(tmp_path / "out") +
            "/lenet5.toy.weights.h5', classes=10)") in printed
    described = json.loads((tmp_path / "out" / "lenet5.toy.json").read_text())
    assert described["converted_from"] == str(local)

    code = cli.main(["convert", "lenet5", "--weights", "nope", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "unknown weights tag 'nope' for 'lenet5'; its tags: toy" in capsys.readouterr().err
    code = cli.main(["convert", "xception", "--out", str(tmp_path / "x")])
    assert code == 2
    assert "'xception' weights 'imagenet' are a Keras file already" in capsys.readouterr().err
    code = cli.main(["convert", "lenet5", "--weights", "toy", "--checkpoint",
                     str(tmp_path / "missing.pth"), "--out", str(tmp_path / "x")])
    assert code == 1
    assert "missing.pth' is not a file" in capsys.readouterr().err
    assert not os.path.exists(tmp_path / "x")


def test_list_pretrained_and_info_show_the_tags(toy_tag, capsys):
    assert cli.main(["list", "lenet*", "--pretrained"]) == 0
    assert capsys.readouterr().out.split() == ["lenet5", "lenet", "32x32x1", "61,706",
                                               "weights:", "toy"]
    assert cli.main(["info", "lenet5"]) == 0
    printed = capsys.readouterr().out
    assert "weights       1 tag(s); weights=\"imagenet\" loads 'toy'" in printed
    assert "    toy  a test  99.00  32x32  -     test" in printed
