"""ShuffleNet v1 loads megvii's released checkpoints (ShuffleNet-Series) exactly.

The tags are built through `kerasnets.build(name, weights="megvii")` from a
checkpoint written by megvii's code (tests/reference, random weights) and give its
logits; the structure options they need (`shuffle="transposed"`, `bn_epsilon`)
are tested on their own.
"""

import kerasnets.models.shufflenet  # noqa: F401  (registers ShuffleNet)

import keras
import numpy as np
import pytest
import torch

import kerasnets
import checkpoint_check
from checkpoint_check import assert_tag_matches
from kerasnets import registry
from kerasnets.layers import ChannelShuffle
from kerasnets.weights.shufflenet import megvii_shuffle_order
from reference import megvii_shufflenet_v1

SMALL = (96, 96, 3)

REFERENCES = {
    ("shufflenet_v1_g3_1.0", "megvii"): lambda: megvii_shufflenet_v1.ShuffleNetV1(group=3),
    ("shufflenet_v1_g8_1.0", "megvii"): lambda: megvii_shufflenet_v1.ShuffleNetV1(group=8),
}
FAST_TAGS = [("shufflenet_v1_g3_1.0", "megvii")]
SLOW_TAGS = [key for key in REFERENCES if key not in FAST_TAGS]


def reference_for(name, tag):
    """The reference implementation of `name`'s checkpoint `tag`, with random weights."""
    torch.manual_seed(0)
    return REFERENCES[name, tag]()


def check_tag(name, tag, tmp_path, monkeypatch, **build_kwargs):
    return assert_tag_matches(name, tag, reference_for(name, tag), tmp_path=tmp_path,
                              monkeypatch=monkeypatch, input_shape=SMALL,
                              build_kwargs={"classifier_activation": None, **build_kwargs})


@pytest.mark.parametrize("name, tag", FAST_TAGS)
def test_tag_equals_its_reference(name, tag, tmp_path, monkeypatch):
    check_tag(name, tag, tmp_path, monkeypatch)


@pytest.mark.slow
@pytest.mark.parametrize("name, tag", SLOW_TAGS)
def test_every_tag_equals_its_reference(name, tag, tmp_path, monkeypatch):
    check_tag(name, tag, tmp_path, monkeypatch)


@pytest.mark.slow
def test_the_base_network_loads_the_group_3_checkpoint(tmp_path, monkeypatch):
    # "imagenet" on shufflenet_v1 means its first (only) tag: megvii's g = 3 checkpoint.
    assert registry.default_tag(registry.get_spec("shufflenet_v1")) == "megvii"
    assert_tag_matches("shufflenet_v1", "megvii", reference_for("shufflenet_v1_g3_1.0", "megvii"),
                       tmp_path=tmp_path, monkeypatch=monkeypatch, input_shape=SMALL,
                       build_kwargs={"classifier_activation": None})


def test_tags_are_registered_with_their_facts():
    for name, group, top1 in (("shufflenet_v1_g3_1.0", 3, 67.8), ("shufflenet_v1_g8_1.0", 8, 68.0)):
        published = registry.published_weights(name, "megvii")
        assert published.source == "megvii" and published.licence == "MIT"
        assert published.top1 == top1 and published.format == "pth"
        assert published.top.url.startswith("https://1drv.ms/")  # megvii's shared folder
        assert published.structure == {"shuffle": "transposed", "bn_epsilon": 1e-5}
        assert published.normalization.channel_order == "BGR"
        assert published.normalization.pixel_mean_std() == ((0.0,) * 3, (1.0,) * 3)
        assert f"group{group}" in published.top.filename
        assert published.direct_download is False  # a shared folder: fetched by hand
    # groups=8 takes the g = 8 preset's checkpoint; g = 4 has none.
    structure = registry._tag_structure(registry.get_spec("shufflenet_v1"),
                                        {"weights": "megvii", "groups": 8})
    assert structure["groups"] == 8 and structure["shuffle"] == "transposed"
    with pytest.raises(ValueError, match="needs groups=3; got groups=4"):
        kerasnets.build("shufflenet_v1", weights="megvii", groups=4)


# ---------------------------------------------------------------- structure options


def test_megvii_shuffle_is_the_inverse_of_the_papers():
    channels, groups = 60, 3
    x = np.arange(channels, dtype="float32").reshape(1, 1, 1, channels)
    block = megvii_shufflenet_v1.ShuffleV1Block(24, 240, group=groups, first_group=False,
                                                mid_channels=channels, ksize=3, stride=1)
    theirs = block.channel_shuffle(torch.from_numpy(x.transpose(0, 3, 1, 2))).numpy()
    theirs = theirs.reshape(-1)
    np.testing.assert_array_equal(theirs, megvii_shuffle_order(channels, groups))
    transposed = keras.ops.convert_to_numpy(ChannelShuffle(channels // groups)(x)).reshape(-1)
    np.testing.assert_array_equal(transposed, theirs)
    paper = keras.ops.convert_to_numpy(ChannelShuffle(groups)(x)).reshape(-1)
    assert not np.array_equal(paper, theirs)
    # Each undoes the other.
    np.testing.assert_array_equal(paper[theirs.astype(int)], np.arange(channels))


@pytest.mark.parametrize("groups", [3, pytest.param(8, marks=pytest.mark.slow)])
def test_transposed_shuffle_changes_no_weight(groups):
    paper = kerasnets.build("shufflenet_v1", groups=groups, input_shape=(32, 32, 3))
    megvii = kerasnets.build("shufflenet_v1", groups=groups, input_shape=(32, 32, 3),
                             shuffle="transposed", bn_epsilon=1e-5)
    assert megvii.count_params() == paper.count_params()
    shuffles = {layer.name: layer.groups for layer in megvii.layers
                if isinstance(layer, ChannelShuffle)}
    bottleneck = {3: 60, 8: 96}[groups]  # Stage 2's: 240 / 4 and 384 / 4
    assert shuffles["stage2_unit2_shuffle"] == bottleneck // groups
    assert {layer.epsilon for layer in megvii.layers
            if isinstance(layer, keras.layers.BatchNormalization)} == {1e-5}


@pytest.mark.parametrize("kwargs, message", [
    ({"shuffle": "megvii"}, "`shuffle` must be one of ('paper', 'transposed'); got 'megvii'"),
    ({"bn_epsilon": -1e-5}, "`bn_epsilon` must be a number in (0, inf); got -1e-05"),
])
def test_structure_options_are_checked(kwargs, message):
    with pytest.raises(ValueError) as error:
        kerasnets.build("shufflenet_v1", **kwargs)
    assert message in str(error.value)


@pytest.mark.slow
def test_without_the_classifier_the_features_load(tmp_path, monkeypatch):
    name, tag = FAST_TAGS[0]
    reference = checkpoint_check.randomize(reference_for(name, tag))
    monkeypatch.setenv("KERASNETS_CACHE_DIR", str(tmp_path))
    checkpoint_check.prefill_cache(name, tag, reference.state_dict(), tmp_path)
    model = kerasnets.build(name, weights=tag, include_top=False, pooling="avg",
                            input_shape=SMALL)
    images = checkpoint_check.images_for(name, tag, SMALL)
    features = {}
    reference.classifier.register_forward_pre_hook(
        lambda module, inputs: features.update(x=inputs[0].detach().numpy()))
    checkpoint_check.reference_logits(reference, images)
    checkpoint_check.assert_close(model.predict(images, verbose=0), features["x"], name)
