"""Backbones: every family's feature maps at each reduction (kerasnets.models.features).

The facts: the channels of each network's stages at reductions 2, 4, 8, 16, 32
(ResNet-50's 64, 256, 512, 1024, 2048, as in the paper's Table 1 and timm's
feature_info), and that a backbone's maps are the classifier's own intermediate
layer outputs, with the same weights.
"""

import numpy as np
import pytest

import keras

import kerasnets
from kerasnets.models import features

from conftest import run_with_backend

# One network per family, at a small input (reductions 2..32 at 64 x 64 where the
# stem allows), cut to few blocks where the family has a knob for it:
# (name, input size, build arguments, [(reduction, channels, layer), ...] of every level).
FAMILIES = [
    ("lenet5", 32, {}, [(1, 6, "c1"), (2, 16, "c3"), (4, 120, "c5")]),
    ("alexnet", 67, {}, [(4, 96, "norm1"), (8, 256, "norm2"), (16, 256, "conv5"), (32, 256, "pool5")]),
    ("vgg11", 32, {}, [(1, 64, "block1_conv1"), (2, 128, "block2_conv1"), (4, 256, "block3_conv2"),
                       (8, 512, "block4_conv2"), (16, 512, "block5_conv2"), (32, 512, "block5_pool")]),
    ("nin_cifar10", 32, {}, [(1, 96, "block1_mlp2"), (2, 192, "block2_mlp2"), (4, 192, "block3_mlp1")]),
    ("googlenet", 64, {}, [(2, 64, "conv1_7x7_s2"), (4, 192, "conv2_norm2"), (8, 480, "inception_3b_output"),
                           (16, 832, "inception_4e_output"), (32, 1024, "inception_5b_output")]),
    ("bn_inception", 64, {}, [(2, 64, "conv1_7x7_s2_relu"), (4, 192, "conv2_3x3_relu"),
                              (8, 320, "inception_3b_output"), (16, 608, "inception_4d_output"),
                              (32, 1024, "inception_5b_output")]),
    ("inception_resnet_v1", 75, {"block_repeats": (1, 1, 1)},
     [(2, 64, "conv_2b_ac"), (4, 192, "conv_4a_ac"), (8, 256, "block35_1_ac"),
      (16, 896, "block17_1_ac"), (32, 1792, "block8_1_ac")]),
    ("xception", 71, {"middle_flow_repeats": 1},
     [(2, 64, "block1_conv2_act"), (4, 128, "block2_add"), (8, 256, "block3_add"), (16, 728, "block5_add"),
      (32, 2048, "block7_sepconv2_act")]),
    ("resnet20", 32, {}, [(1, 16, "conv2_block3_out"), (2, 32, "conv3_block3_out"), (4, 64, "conv4_block3_out")]),
    ("plain20", 32, {}, [(1, 16, "conv2_block3_out"), (2, 32, "conv3_block3_out"), (4, 64, "conv4_block3_out")]),
    # Pre-activation: the stride is in each stage's last block (keras.applications'
    # ResNet v2), and the last level is the final BN-ReLU.
    ("resnet50_v2", 64, {}, [(2, 64, "conv1_conv"), (4, 256, "conv2_block2_out"), (8, 512, "conv3_block3_out"),
                             (16, 1024, "conv4_block5_out"), (32, 2048, "post_relu")]),
    ("resnext50_32x4d", 64, {}, [(2, 64, "conv1_relu"), (4, 256, "conv2_block3_out"), (8, 512, "conv3_block4_out"),
                                 (16, 1024, "conv4_block6_out"), (32, 2048, "conv5_block3_out")]),
    ("se_resnet50", 64, {}, [(2, 64, "conv1_relu"), (4, 256, "conv2_block3_out"), (8, 512, "conv3_block4_out"),
                             (16, 1024, "conv4_block6_out"), (32, 2048, "conv5_block3_out")]),
    # A level ends with the dense block, before the transition (timm's DenseNet).
    ("densenet40_k12", 32, {}, [(1, 160, "conv2_block12_concat"), (2, 304, "conv3_block12_concat"),
                                (4, 448, "relu")]),
    # A level ends with the stage's last block, before the next one's expansion.
    ("mobilenet_v2", 64, {"alpha": 0.35}, [(2, 8, "expanded_conv_project_BN"), (4, 8, "block_2_add"),
                                           (8, 16, "block_5_add"), (16, 32, "block_12_add"),
                                           (32, 1280, "out_relu")]),
    ("shufflenet_v1", 64, {}, [(2, 24, "conv1_relu"), (4, 24, "pool1"), (8, 240, "stage2_unit4_relu"),
                               (16, 480, "stage3_unit8_relu"), (32, 960, "stage4_unit4_relu")]),
]

# The families whose classifier is cheap enough to build twice by default: the
# equality with the classifier's own layers; the others under -m slow.
FAST_EQUALITY = {"lenet5", "nin_cifar10", "resnet20"}


def _input_shape(name, size):
    return (size, size, kerasnets.get_spec(name).input_shape[2])


def _images(shape, batch=2, seed=0):
    return np.random.default_rng(seed).uniform(-1.0, 1.0, (batch, *shape)).astype("float32")


def _check_shapes(model, size):
    """Each map has its level's channels, and at most input size / reduction rows and columns.

    Padded ("same") layers give size / reduction (rounded up), valid ones less
    (LeNet-5's C5 is 1 x 1 at reduction 4).
    """
    heights = []
    for entry, output in zip(model.feature_info, model.outputs, strict=True):
        assert output.shape[-1] == entry["channels"]
        assert 1 <= output.shape[1] == output.shape[2] <= -(-size // entry["reduction"])
        heights.append(output.shape[1])
    assert heights == sorted(heights, reverse=True)


def test_every_family_is_covered():
    families = {kerasnets.get_spec(name).family for name, *_ in FAMILIES}
    assert families == set(kerasnets.registry.families())


@pytest.mark.parametrize("name,size,kwargs,expected", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_levels_channels_and_shapes(name, size, kwargs, expected):
    model = features.backbone(name, input_shape=_input_shape(name, size), **kwargs)
    info = model.feature_info
    assert [(d["reduction"], d["channels"], d["layer"]) for d in info] == expected
    assert [d["index"] for d in info] == list(range(len(expected)))
    assert model.name.endswith("_features")
    _check_shapes(model, size)
    # The deepest level is what include_top=False returns.
    assert info[-1]["layer"] == model.outputs[-1]._keras_history[0].name


def _classifier_equality(name, size, kwargs):
    shape = _input_shape(name, size)
    spec = kerasnets.get_spec(name)
    classifier = kerasnets.build(name, input_shape=spec.input_shape if spec.fixed_input else shape, **kwargs)
    model = features.backbone(name, input_shape=shape, **kwargs)
    names = [d["layer"] for d in model.feature_info]
    # The rule finds the same levels in the classifier's own graph (NIN's classifier
    # is a convolution at the last reduction: its class maps are that level there).
    found = [d["layer"] for d in features.feature_levels(classifier)]
    assert found[:-1] == names[:-1]
    assert found[-1] == (classifier.get_layer("block3_mlp2").name if spec.family == "nin" else names[-1])
    for layer in model.layers:
        if layer.weights:
            layer.set_weights(classifier.get_layer(layer.name).get_weights())
    if spec.fixed_input:  # the classifier's layers, at the backbone's own size
        classifier = kerasnets.build(name, include_top=False, input_shape=shape, **kwargs)
        for layer in classifier.layers:
            if layer.weights:
                layer.set_weights(model.get_layer(layer.name).get_weights())
    inner = keras.Model(classifier.inputs, [classifier.get_layer(n).output for n in names])
    x = _images(shape)
    for got, want in zip(model.predict(x, verbose=0), inner.predict(x, verbose=0), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize(
    "name,size,kwargs",
    [pytest.param(n, s, k, id=n, marks=() if n in FAST_EQUALITY else pytest.mark.slow)
     for n, s, k, _ in FAMILIES],
)
def test_equal_to_the_classifier_layers(name, size, kwargs):
    _classifier_equality(name, size, kwargs)


@pytest.fixture(scope="module")
def resnet20():
    return features.backbone("resnet20", input_shape=(32, 32, 3))


@pytest.mark.parametrize("out_indices,expected", [((1, 2), [2, 4]), ([-1], [4]), (0, [1]), ((2, 0), [1, 4])])
def test_out_indices_pick_levels(out_indices, expected):
    model = features.backbone("resnet20", input_shape=(32, 32, 3), out_indices=out_indices)
    assert [d["reduction"] for d in model.feature_info] == expected
    assert [d["index"] for d in model.feature_info] == [{1: 0, 2: 1, 4: 2}[r] for r in expected]
    assert len(model.outputs) == len(expected)


@pytest.mark.parametrize("out_indices", [(3,), (-4,), (), (1, 1), ("1",), (True,), 1.0, (0.5,)])
def test_bad_out_indices_name_the_allowed_ones(out_indices):
    with pytest.raises(ValueError, match=r"`out_indices`.*0\.\.2.*reductions 1, 2, 4"):
        features.backbone("resnet20", input_shape=(32, 32, 3), out_indices=out_indices)


@pytest.mark.parametrize("argument", ["include_top", "pooling", "classes", "classifier_activation"])
def test_classifier_arguments_are_refused(argument):
    with pytest.raises(ValueError, match=argument):
        features.backbone("resnet20", **{argument: None})


def test_feature_info_by_name_and_of_a_classifier(resnet20):
    assert features.feature_info("resnet20", input_shape=(32, 32, 3)) == resnet20.feature_info
    classifier = kerasnets.build("resnet20")
    assert features.feature_info(classifier) == resnet20.feature_info
    with pytest.raises(ValueError, match="network name"):
        features.feature_info(classifier, depth=3)


def test_any_input_size():
    model = features.backbone("resnet18", input_shape=(None, None, 3), out_indices=(1, 4))
    assert [(d["reduction"], d["channels"]) for d in model.feature_info] == [(4, 64), (32, 512)]
    maps = model.predict(_images((64, 96, 3), batch=1), verbose=0)
    assert [m.shape for m in maps] == [(1, 16, 24, 64), (1, 2, 3, 512)]


def test_feature_info_survives_keras_save_and_load(tmp_path, resnet20):
    cut = features.backbone("resnet20", input_shape=(32, 32, 3), out_indices=(0, 2), name="cifar")
    for model in (resnet20, cut):
        path = tmp_path / f"{model.name}.keras"
        model.save(path)
        loaded = keras.saving.load_model(path)
        assert features.feature_info(loaded) == model.feature_info
    assert [d["index"] for d in cut.feature_info] == [0, 2]


def test_weights_load_into_the_backbone(tmp_path):
    trunk = kerasnets.build("resnet20", include_top=False)
    path = tmp_path / "resnet20_notop.weights.h5"
    trunk.save_weights(path)
    model = features.backbone("resnet20", weights=str(path), out_indices=(2,))
    x = _images((32, 32, 3))
    np.testing.assert_allclose(model.predict(x, verbose=0), trunk.predict(x, verbose=0), atol=1e-6)


@pytest.mark.slow
def test_on_jax():
    code = (
        "import os, sys\n"
        "sys.path.insert(0, os.getcwd())  # this checkout's kerasnets\n"
        "import numpy as np\n"
        "from kerasnets.models import features\n"
        "m = features.backbone('resnet20', input_shape=(32, 32, 3))\n"
        "out = m.predict(np.zeros((1, 32, 32, 3), 'float32'), verbose=0)\n"
        "print([(d['reduction'], d['channels']) for d in m.feature_info], [o.shape for o in out])\n"
    )
    proc = run_with_backend("jax", ["-c", code], fast_init=True)
    assert "[(1, 16), (2, 32), (4, 64)] [(1, 32, 32, 16), (1, 16, 16, 32), (1, 8, 8, 64)]" in proc.stdout


@pytest.mark.slow
@pytest.mark.parametrize("name", kerasnets.list_models())
def test_every_network(name):
    spec = kerasnets.get_spec(name)
    model = features.backbone(name)
    info = model.feature_info
    reductions = [d["reduction"] for d in info]
    assert reductions == sorted(set(reductions)) and reductions[-1] in (4, 32)
    assert set(reductions) >= ({1, 2, 4} if reductions[-1] == 4 else {4, 8, 16, 32})
    _check_shapes(model, spec.input_shape[0])


def test_build_features_only_is_the_backbone():
    model = kerasnets.build("resnet20", features_only=True, out_indices=(-1,))
    assert [tuple(out.shape) for out in model.outputs] == [(None, 8, 8, 64)]
    assert model.feature_info == [{"index": 2, "reduction": 4, "channels": 64,
                                   "layer": "conv4_block3_out"}]
    with pytest.raises(ValueError, match=r"`out_indices` picks feature maps: it needs "
                                         r"features_only=True"):
        kerasnets.build("resnet20", out_indices=(1,))
    with pytest.raises(ValueError, match=r"`features_only` must be True or False; got 1"):
        kerasnets.build("resnet20", features_only=1)
