"""AlexNet `weights="bvlc"`: the BVLC model zoo's .caffemodel, read without Caffe, loads exactly.

The reference (tests/reference/bvlc_alexnet.py: the deploy.prototxt in plain torch, random
weights) is written as a .caffemodel (V1 layers and legacy blob dims, as the BVLC file)
under the tag's cache file name, loaded through `kerasnets.build("alexnet", weights="bvlc")`
and compared with tests/checkpoint_check.py. The reader is checked on both layer formats,
and the `lrn_convention` option on its own.
"""

import os

import numpy as np
import pytest
import torch

import checkpoint_check
import kerasnets
from checkpoint_check import assert_tag_matches
from kerasnets import registry
from kerasnets.layers import LocalResponseNormalization
from kerasnets.models import pretrained
from kerasnets.weights.caffemodel import parse_caffemodel, read_caffemodel, write_caffemodel
from kerasnets.weights.readers import format_of, read_state
from reference import bvlc_alexnet

FAST_TAGS = [("alexnet", "bvlc", (227, 227, 3))]
LOGITS = {"classifier_activation": None}


def reference_for(name, tag):
    """The BVLC deploy network behind `name`'s checkpoint `tag`, random weights (logits out).

    conv1 and conv2 are scaled up so that their activations (~100) make the LRN's alpha
    count as in the trained network (with torch's default initialisation the window sums
    are ~1, alpha * sum ~1e-5: any alpha would pass).
    """
    if (name, tag) == ("alexnet", "bvlc"):
        reference = bvlc_alexnet.AlexNet()
        with torch.no_grad():
            reference.conv1.weight.mul_(CONV1_SCALE)
            reference.conv2.weight.mul_(CONV2_SCALE)
        return reference
    raise KeyError((name, tag))


CONV1_SCALE, CONV2_SCALE = 200.0, 5.0


def write_checkpoint(name, tag, reference, cache_root):
    """Writes `reference`'s weights where fetching `name`'s checkpoint `tag` looks first, in
    the tag's own format (a .caffemodel, which checkpoint_check.prefill_cache cannot write);
    returns the path."""
    return write_state(name, tag, reference.state_dict(), cache_root)


def write_state(name, tag, state, cache_root):
    """checkpoint_check.prefill_cache's signature, writing a .caffemodel."""
    published = registry.published_weights(name, tag)
    assert published.format == "caffemodel"
    folder = os.path.join(os.fspath(cache_root), pretrained.CACHE_SUBDIR)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, published.top.filename)
    bvlc_alexnet.save_caffemodel(state, path)
    return path


@pytest.mark.parametrize("name, tag, input_shape", FAST_TAGS,
                         ids=[f"{name}-{tag}" for name, tag, _ in FAST_TAGS])
def test_tag_matches_its_reference(name, tag, input_shape, tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint_check, "prefill_cache", write_state)
    diff = assert_tag_matches(name, tag, reference_for(name, tag), tmp_path=tmp_path,
                              monkeypatch=monkeypatch, input_shape=input_shape,
                              build_kwargs=LOGITS)
    print(f"{name} {tag}: max |diff| {diff:.3g}")


def test_reference_weights_make_the_lrn_alpha_count():
    # The equality test would fail had the alpha been the paper's (per sum, 5x Caffe's).
    reference = reference_for("alexnet", "bvlc").eval()
    images = checkpoint_check.images_for("alexnet", "bvlc", (227, 227, 3), batch=1)
    want = checkpoint_check.reference_logits(reference, images)
    reference.norm.alpha = 1e-4 * 5
    other = checkpoint_check.reference_logits(reference, images)
    bound = checkpoint_check.TOLERANCE * max(1.0, float(np.max(np.abs(want))))
    assert float(np.max(np.abs(other - want))) > 100 * bound


def test_checkpoint_is_registered():
    bvlc = kerasnets.get_spec("alexnet").published_weights["bvlc"]
    assert bvlc.top1 == 57.1  # the BVLC model's readme, centre crop
    assert bvlc.format == "caffemodel"
    assert bvlc.top.url == "http://dl.caffe.berkeleyvision.org/bvlc_alexnet.caffemodel"
    assert bvlc.top.filename == "bvlc_alexnet.caffemodel"
    assert bvlc.top.file_hash == "9116a64c0fbe4459d18f4bb6b56d647b63920377"  # the readme's sha1
    assert bvlc.structure == {"towers": 2, "lrn": True, "lrn_convention": "caffe"}
    assert bvlc.input_size == (227, 227)
    assert bvlc.normalization.channel_order == "BGR"
    assert bvlc.normalization.mean == (104.0, 117.0, 123.0)
    assert not kerasnets.get_spec("alexnet_one_tower").published_weights
    assert format_of("bvlc_alexnet.caffemodel") == "caffemodel"


LAYERS = [
    ("conv", "Convolution", [np.arange(2 * 3 * 2 * 2, dtype="float32").reshape(2, 3, 2, 2),
                             np.array([0.5, -1.0], "float32")]),
    ("fc", "InnerProduct", [np.linspace(-1, 1, 12, dtype="float32").reshape(4, 3),
                            np.arange(4, dtype="float32")]),
]


@pytest.mark.parametrize("v1", [True, False], ids=["V1LayerParameter", "LayerParameter"])
def test_reader_reads_both_layer_formats(v1, tmp_path):
    path = tmp_path / "net.caffemodel"
    write_caffemodel(path, LAYERS, v1=v1)
    assert [(name, kind) for name, kind, _ in parse_caffemodel(path.read_bytes())] == \
        [("conv", "Convolution"), ("fc", "InnerProduct")]
    state = read_state(str(path))  # the format from the extension
    assert sorted(state) == ["conv.bias", "conv.weight", "fc.bias", "fc.weight"]
    for name, _, (weight, bias) in LAYERS:
        np.testing.assert_array_equal(state[f"{name}.weight"], weight)
        np.testing.assert_array_equal(state[f"{name}.bias"], bias)


def test_reader_reads_unpacked_floats_and_legacy_dims(tmp_path):
    # BlobProto { num: 1 channels: 1 height: 1 width: 2 data: 1.5 data: -2 } (unpacked
    # fixed32 floats) in a LayerParameter "b" of type "Scale": a hand-encoded message.
    blob = bytes([0x08, 1, 0x10, 1, 0x18, 1, 0x20, 2]) + \
        b"\x2d" + np.float32(1.5).tobytes() + b"\x2d" + np.float32(-2).tobytes()
    layer = b"\x0a\x01b" + b"\x12\x05Scale" + b"\x3a" + bytes([len(blob)]) + blob
    path = tmp_path / "scale.caffemodel"
    path.write_bytes(b"\xa2\x06" + bytes([len(layer)]) + layer)  # field 100, length-delimited
    state = read_caffemodel(path)
    np.testing.assert_array_equal(state["b.weight"], np.array([[[[1.5, -2.0]]]], "float32"))


def test_reader_refuses_a_file_that_is_not_a_caffemodel(tmp_path):
    path = tmp_path / "broken.caffemodel"
    path.write_bytes(b"\xa2\x06\x7f\x0a")  # a layer promising 127 bytes, holding 1
    with pytest.raises(ValueError, match="not a readable .caffemodel"):
        read_caffemodel(path)


def test_caffe_lrn_convention_is_torchs_local_response_norm():
    model = kerasnets.build("alexnet", lrn_convention="caffe", weights=None)
    norm = model.get_layer("norm1")
    assert (norm.k, norm.n, norm.alpha, norm.beta) == (1.0, 5, pytest.approx(2e-5), 0.75)
    assert model.count_params() == 60_965_224  # constants only: parameters unchanged
    paper = kerasnets.build("alexnet", weights=None).get_layer("norm1")
    assert (paper.k, paper.alpha) == (2.0, 1e-4)
    x = np.random.default_rng(0).standard_normal((1, 4, 4, 12)).astype("float32") * 30
    layer = LocalResponseNormalization(**{key: getattr(norm, key)
                                          for key in ("k", "n", "alpha", "beta")})
    want = torch.nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)(
        torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy().transpose(0, 2, 3, 1)
    np.testing.assert_allclose(np.asarray(layer(x)), want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kwargs, message", [
    ({"lrn_convention": "tf"}, "`lrn_convention` must be one of ('paper', 'caffe'); got 'tf'"),
    ({"weights": "bvlc"}, "lrn_convention"),
    ({"weights": "bvlc", "lrn_convention": "caffe", "towers": 1}, "towers"),
])
def test_bad_structure_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        kerasnets.models.alexnet.AlexNet(**kwargs)


@pytest.mark.slow
def test_bvlc_without_its_classifier(tmp_path, monkeypatch):
    # include_top=False: fc6-fc8's keys are skipped, pool5's maps are the reference's.
    monkeypatch.setenv(pretrained.CACHE_DIR_ENV, str(tmp_path))
    checkpoint_check.without_file_hash("alexnet", "bvlc", monkeypatch.setitem)
    reference = checkpoint_check.randomize(reference_for("alexnet", "bvlc"))
    write_checkpoint("alexnet", "bvlc", reference, tmp_path)
    model = kerasnets.build("alexnet", weights="bvlc", include_top=False)
    images = checkpoint_check.images_for("alexnet", "bvlc", (227, 227, 3))
    with torch.no_grad():
        x = torch.from_numpy(images.transpose(0, 3, 1, 2))
        for stage in range(2):
            conv = (reference.conv1, reference.conv2)[stage]
            x = reference.pool(reference.norm(reference.relu(conv(x))))
        x = reference.relu(reference.conv4(reference.relu(reference.conv3(x))))
        want = reference.pool(reference.relu(reference.conv5(x))).numpy().transpose(0, 2, 3, 1)
    checkpoint_check.assert_close(np.asarray(model(images)), want, "alexnet bvlc include_top=False")
