"""VGG's published checkpoints load exactly: torchvision's (`tv_in1k`, timm's hub copies).

Each tag's equality test saves timm's VGG (tests/reference/timm_vgg.py, random
weights) as the hub's safetensors file, loads it through `weights="tv_in1k"` and
compares logits with tests/checkpoint_check.py. vgg11 is the fast one; the other
sizes run under `-m slow`.
"""

import pytest

import kerasnets
from checkpoint_check import assert_tag_matches
from reference import timm_vgg

FAST_TAGS = [("vgg11", "tv_in1k")]
SLOW_TAGS = [("vgg13", "tv_in1k"), ("vgg16", "tv_in1k"), ("vgg19", "tv_in1k")]
# torchvision's acc@1 (its weights tables), as the registry states it.
TOP1 = {"vgg11": 69.020, "vgg13": 69.928, "vgg16": 71.592, "vgg19": 72.376}
LOGITS = {"classifier_activation": None}


def reference_for(name, tag):
    """timm's `name` with random weights: the reference of the tag `tag` ("tv_in1k")."""
    assert tag == "tv_in1k", tag
    return timm_vgg.vgg(name)


@pytest.mark.parametrize("name, tag", FAST_TAGS)
def test_tag_matches_its_reference(name, tag, tmp_path, monkeypatch):
    assert_tag_matches(name, tag, reference_for(name, tag), tmp_path=tmp_path,
                       monkeypatch=monkeypatch, build_kwargs=LOGITS)


@pytest.mark.slow
@pytest.mark.parametrize("name, tag", SLOW_TAGS)
def test_slow_tag_matches_its_reference(name, tag, tmp_path, monkeypatch):
    assert_tag_matches(name, tag, reference_for(name, tag), tmp_path=tmp_path,
                       monkeypatch=monkeypatch, build_kwargs=LOGITS)


@pytest.mark.parametrize("name", sorted(TOP1))
def test_torchvision_weights_are_registered(name):
    published = kerasnets.get_spec(name).published_weights["tv_in1k"]
    assert published.top1 == TOP1[name]
    assert published.hub == f"timm/{name}.tv_in1k"
    assert published.format == "safetensors"
    assert published.licence == "BSD-3-Clause"
    assert published.structure == {}
    assert published.normalization.channel_order == "RGB"
    assert published.input_size == (224, 224)


@pytest.mark.parametrize("name", ["vgg16", "vgg19"])
def test_keras_applications_weights_stay_first(name):
    # weights="imagenet" still means keras.applications' files for the twins.
    assert list(kerasnets.get_spec(name).published_weights)[:2] == ["imagenet", "tv_in1k"]
