"""MobileNet v1/v2 load the PyTorch-side checkpoints (timm, torchvision) exactly.

Every tag is built through `kerasnets.build(name, weights=tag)` from a checkpoint
written by the reference implementation (tests/reference, random weights) and gives
its logits; the structure options the checkpoints need (`padding="symmetric"`,
`bn_epsilon`) are tested on their own.
"""

import kerasnets.models.mobilenet  # noqa: F401  (registers the MobileNets)

import keras
import numpy as np
import pytest

import checkpoint_check
import kerasnets
from kerasnets import registry
from checkpoint_check import assert_tag_matches
from kerasnets.weights import transfer
from kerasnets.weights.mobilenet import timm_mobilenet_v2
from reference import timm_mobilenet, torchvision_mobilenet_v2

# Small images keep the equality tests fast; the layers are the same at any size.
SMALL = (96, 96, 3)

REFERENCES = {
    ("mobilenet_v1", "ra4_e3600_r224_in1k"): timm_mobilenet.mobilenetv1_100,
    ("mobilenet_v2", "ra_in1k"): timm_mobilenet.mobilenetv2_100,
    ("mobilenet_v2", "tv_in1k"): torchvision_mobilenet_v2.mobilenet_v2,
}
FAST_TAGS = [("mobilenet_v2", "ra_in1k")]
SLOW_TAGS = [key for key in REFERENCES if key not in FAST_TAGS]


def reference_for(name, tag):
    """The reference implementation of `name`'s checkpoint `tag`, with random weights."""
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


def test_tags_are_registered_with_their_facts():
    expected = {
        ("mobilenet_v1", "ra4_e3600_r224_in1k"): ("timm", "apache-2.0", 0.5),
        ("mobilenet_v2", "ra_in1k"): ("timm", "apache-2.0", 0.485),
        ("mobilenet_v2", "tv_in1k"): ("torchvision", "BSD-3-Clause", 0.485),
    }
    for (name, tag), (source, licence, first_mean) in expected.items():
        published = registry.published_weights(name, tag)
        assert (published.source, published.licence) == (source, licence)
        assert published.format in ("safetensors", "pth") and published.top1 > 70
        assert published.input_size == (224, 224) and published.crop_fraction == 0.875
        assert published.normalization.mean[0] == first_mean
        assert published.structure == {"alpha": 1.0, "padding": "symmetric", "bn_epsilon": 1e-5}
    # keras.applications' files stay what weights="imagenet" means.
    for name in ("mobilenet_v1", "mobilenet_v2"):
        assert registry.default_tag(registry.get_spec(name)) == "imagenet"


def test_a_tag_sets_its_structure_and_refuses_another():
    with pytest.raises(ValueError, match="needs padding='symmetric'; got padding='same'"):
        kerasnets.build("mobilenet_v2", weights="ra_in1k", padding="same")
    with pytest.raises(ValueError, match="needs padding='same'"):
        kerasnets.build("mobilenet_v2", weights="imagenet", padding="symmetric")


# ---------------------------------------------------------------- structure options


@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2"])
def test_pytorch_structure_pads_symmetrically_with_its_epsilon(name):
    keras_twin = kerasnets.build(name, input_shape=(64, 64, 3))
    pytorch_twin = kerasnets.build(name, input_shape=(64, 64, 3), padding="symmetric",
                                   bn_epsilon=1e-5)
    # No weights change: the keras.applications parameter counts stay.
    assert pytorch_twin.count_params() == keras_twin.count_params()
    assert pytorch_twin.output_shape == keras_twin.output_shape
    pads = [layer for layer in pytorch_twin.layers if isinstance(layer, keras.layers.ZeroPadding2D)]
    # The first convolution and the four stride-2 depthwise convolutions, one pixel each side.
    assert len(pads) == 5
    assert all(tuple(map(tuple, layer.padding)) == ((1, 1), (1, 1)) for layer in pads)
    assert sum(isinstance(layer, keras.layers.ZeroPadding2D) for layer in keras_twin.layers) == 4

    def epsilons(model):
        return {layer.epsilon for layer in model.layers
                if isinstance(layer, keras.layers.BatchNormalization)}

    assert epsilons(pytorch_twin) == {1e-5}
    assert epsilons(keras_twin) == {1e-3}


@pytest.mark.parametrize("kwargs, message", [
    ({"padding": "valid"}, "`padding` must be one of ('same', 'symmetric'); got 'valid'"),
    ({"bn_epsilon": 0}, "`bn_epsilon` must be a number in (0, inf); got 0"),
    ({"bn_epsilon": True}, "`bn_epsilon` must be a number in (0, inf); got True"),
])
@pytest.mark.parametrize("name", ["mobilenet_v1", "mobilenet_v2"])
def test_structure_options_are_checked(name, kwargs, message):
    with pytest.raises(ValueError) as error:
        kerasnets.build(name, **kwargs)
    assert message in str(error.value)


@pytest.mark.slow
def test_symmetric_padding_is_what_pytorch_computes():
    """keras' "same" moves the stride-2 windows of even sizes: the checkpoints need "symmetric"."""
    reference = checkpoint_check.randomize(timm_mobilenet.mobilenetv2_100())
    state = {key: value.detach().numpy() for key, value in reference.state_dict().items()}
    images = np.random.default_rng(0).standard_normal((1, 64, 64, 3)).astype("float32")
    want = checkpoint_check.reference_logits(reference, images)
    diffs = {}
    for padding in ("same", "symmetric"):
        model = kerasnets.build("mobilenet_v2", input_shape=(64, 64, 3), padding=padding,
                                bn_epsilon=1e-5, classifier_activation=None)
        transfer.load_state(model, state, timm_mobilenet_v2)
        diffs[padding] = float(np.abs(keras.ops.convert_to_numpy(model(images)) - want).max())
    assert diffs["symmetric"] < 1e-5
    assert diffs["same"] > 1e-4


def pooled_features(reference, images):
    """The reference's globally pooled features (its classifier's input) on NHWC `images`."""
    features = {}
    handle = reference.classifier.register_forward_pre_hook(
        lambda module, inputs: features.update(x=inputs[0].detach().numpy()))
    checkpoint_check.reference_logits(reference, images)
    handle.remove()
    return features["x"].reshape(len(images), -1)


@pytest.mark.slow
@pytest.mark.parametrize("name, tag", list(REFERENCES))
def test_without_the_classifier_the_features_load(name, tag, tmp_path, monkeypatch):
    # torchvision's URL names the file's hash, which the random checkpoint cannot have.
    checkpoint_check.without_file_hash(name, tag, monkeypatch.setitem)
    reference = checkpoint_check.randomize(reference_for(name, tag))
    monkeypatch.setenv("KERASNETS_CACHE_DIR", str(tmp_path))
    checkpoint_check.prefill_cache(name, tag, reference.state_dict(), tmp_path)
    model = kerasnets.build(name, weights=tag, include_top=False, pooling="avg",
                            input_shape=SMALL)
    images = checkpoint_check.images_for(name, tag, SMALL)
    want = pooled_features(reference, images)
    checkpoint_check.assert_close(model.predict(images, verbose=0), want, f"{name} {tag}")
