"""torchvision's DenseNets ("tv_in1k", timm's hub copies) load into ours, keras.applications' stay first.

The checkpoint is made from torchvision's DenseNet with random weights
(tests/reference/torchvision_densenet.py) and loaded through
`kerasnets.build(name, weights="tv_in1k")`; the logits must agree
(tests/checkpoint_check.py). Fast: densenet121 at 32x32; densenet169/201 under
`-m slow`.
"""

import keras
import pytest

import kerasnets
from checkpoint_check import assert_tag_matches
from kerasnets.models import densenet as D
from reference import torchvision_densenet

NETWORKS = ("densenet121", "densenet169", "densenet201")
SMALL = (32, 32, 3)
# (name, tag, input shape), as tests/test_weights_backends.py reads them.
FAST_TAGS = [("densenet121", "tv_in1k", SMALL)]
SLOW_TAGS = [(name, "tv_in1k") for name in NETWORKS[1:]]
LOGITS = {"classifier_activation": None}
# torchvision's docs (torchvision/models/densenet.py, acc@1).
TOP1 = {"densenet121": 74.434, "densenet169": 75.600, "densenet201": 76.896}


def reference_for(name, tag):
    """torchvision's `name` with random weights (the reference of its "tv_in1k" checkpoint)."""
    assert tag == "tv_in1k", tag
    return torchvision_densenet.BUILDERS[name]()


def check_tag(name, tag, tmp_path, monkeypatch):
    return assert_tag_matches(name, tag, reference_for(name, tag), tmp_path=tmp_path,
                              monkeypatch=monkeypatch, input_shape=SMALL, build_kwargs=LOGITS)


@pytest.mark.parametrize("name, tag", [fast[:2] for fast in FAST_TAGS])
def test_tag_matches_the_reference(name, tag, tmp_path, monkeypatch):
    diff = check_tag(name, tag, tmp_path, monkeypatch)
    print(f"{name} {tag}: max |diff| {diff:.3g}")


@pytest.mark.slow
@pytest.mark.parametrize("name, tag", SLOW_TAGS)
def test_every_tag_matches_the_reference(name, tag, tmp_path, monkeypatch):
    diff = check_tag(name, tag, tmp_path, monkeypatch)
    print(f"{name} {tag}: max |diff| {diff:.3g}")


def test_tags_are_registered_with_their_sources():
    for name in NETWORKS:
        info = kerasnets.model_info(name)
        assert info["default_weights"] == "imagenet"
        assert list(info["weights"]) == ["imagenet", "tv_in1k"]
        assert info["weights"]["imagenet"]["source"] == "keras.applications"
        assert info["weights"]["imagenet"]["structure"] == {"bn_epsilon": 1.001e-5}
        tv = info["weights"]["tv_in1k"]
        assert tv["hub"] == f"timm/{name}.tv_in1k" and tv["format"] == "safetensors"
        assert tv["source"] == "torchvision" and tv["licence"] == "BSD-3-Clause"
        assert tv["top1"] == TOP1[name]
        assert tv["structure"] == {"bn_epsilon": 1e-5}
        assert tv["input_size"] == [224, 224] and tv["crop_fraction"] == 0.875
        assert tv["normalization"]["mean"] == [0.485, 0.456, 0.406]
        assert tv["normalization"]["std"] == [0.229, 0.224, 0.225]
        assert tv["normalization"]["channel_order"] == "RGB"


def test_bn_epsilon_sets_every_normalization_and_is_validated():
    cheap = dict(include_top=False, input_shape=(32, 32, 3))
    small = dict(block_config=(2, 2), **cheap)
    default = D.DenseNet(**small)
    torch_like = D.DenseNet(bn_epsilon=1e-5, **small)
    assert default.count_params() == torch_like.count_params()
    norms = [l for l in torch_like.layers if isinstance(l, keras.layers.BatchNormalization)]
    assert len(norms) == 1 + 2 * 2 * 2 + 1 + 1  # stem, 2 blocks of 2 layers of 2, transition, final
    assert {l.epsilon for l in norms} == {1e-5}
    assert {l.epsilon for l in default.layers
            if isinstance(l, keras.layers.BatchNormalization)} == {1.001e-5}
    for bad in (0, -1.0, "1e-5", None):
        with pytest.raises(ValueError, match=r"`bn_epsilon` must be a number in \(0, inf\)"):
            kerasnets.build("densenet121", bn_epsilon=bad, **cheap)


def test_a_tag_sets_its_structure_and_refuses_another():
    with pytest.raises(ValueError, match=r"weights='tv_in1k' .* needs bn_epsilon=1e-05; "
                                         r"got bn_epsilon=1.001e-05"):
        kerasnets.build("densenet121", weights="tv_in1k", bn_epsilon=1.001e-5)
    with pytest.raises(ValueError, match=r"weights='imagenet' .* needs bn_epsilon=1.001e-05; "
                                         r"got bn_epsilon=1e-05"):
        kerasnets.build("densenet169", weights="imagenet", bn_epsilon=1e-5)
    # A direct builder call with a tag but keras.applications' epsilon: refused before a download.
    with pytest.raises(ValueError, match=r"`weights='tv_in1k'` needs bn_epsilon=1e-05"):
        D.DenseNet(D.DENSENET121_BLOCKS, weights="tv_in1k", published_as="densenet121")
