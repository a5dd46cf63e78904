"""Preprocessing travels with the weights: `kerasnets.preprocess_input`, the pipelines, the exports.

`preprocess_input(images, name, weights)` is held, for one checkpoint per source,
to that source's own transform written out with its constants: keras.applications'
`preprocess_input` (called), torchvision's and timm's `ToTensor()` +
`Normalize(mean, std)`, Cadene's `TransformImage` (BGR, 0-255 for BN-Inception),
Caffe's `caffe.io.Transformer` (BVLC GoogLeNet: BGR, mean 104/117/123) and
megvii's `ToBGRTensor` (ShuffleNet: BGR, 0-255, nothing subtracted). Where no
checkpoint of a source is registered (yet), a stand-in tag with the source's
numbers takes its place, so the arithmetic is always tested; and every
registered tag whose source's settings are known here is held to them.
"""

import json
import os

import keras
import numpy as np
import pytest
import tensorflow as tf
import torch
from conftest import run_with_backend
from keras.src.applications import imagenet_utils

import kerasnets
from kerasnets.data import pipeline
from kerasnets.data.preprocess import normalize, preprocess
from kerasnets.export import formats
from kerasnets.export.metadata import preprocessing_info, published_export, random_inputs
from kerasnets.imagenet import class_names
from kerasnets.registry import (
    Normalization,
    PublishedWeights,
    WeightsFile,
    get_spec,
    normalization,
    weights_tags,
)

IMAGENET_MEAN = (0.485, 0.456, 0.406)  # torchvision.transforms / timm IMAGENET_DEFAULT_MEAN
IMAGENET_STD = (0.229, 0.224, 0.225)
INCEPTION_MEAN = INCEPTION_STD = (0.5, 0.5, 0.5)  # timm IMAGENET_INCEPTION_MEAN / _STD


# ----------------------------------------------------------------------------------------------
# The sources' transforms, as their code computes them: uint8 RGB (H, W, 3) in, (3, H, W) out.

def torchvision_transform(mean, std):
    """torchvision (and timm's eval transform after the resize/crop): ToTensor() then
    Normalize(mean, std)."""
    def apply(pixels):
        tensor = torch.from_numpy(pixels.transpose((2, 0, 1)).copy()).contiguous()
        tensor = tensor.to(torch.float32).div(255)  # ToTensor on uint8
        mean_t = torch.as_tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        std_t = torch.as_tensor(std, dtype=torch.float32).view(-1, 1, 1)
        return tensor.sub(mean_t).div(std_t).numpy()  # F.normalize
    return apply


def cadene_transform(input_space, input_range, mean, std):
    """Cadene's pretrainedmodels.utils.TransformImage: ToTensor, ToSpaceBGR, ToRange255,
    Normalize."""
    def apply(pixels):
        tensor = torch.from_numpy(pixels.transpose((2, 0, 1)).copy()).to(torch.float32).div(255)
        if input_space == "BGR":
            swapped = tensor.clone()
            swapped[0], swapped[2] = tensor[2], tensor[0]
            tensor = swapped
        if max(input_range) == 255:
            tensor = tensor.mul(255)
        mean_t = torch.as_tensor(mean, dtype=torch.float32).view(-1, 1, 1)
        std_t = torch.as_tensor(std, dtype=torch.float32).view(-1, 1, 1)
        return tensor.sub(mean_t).div(std_t).numpy()
    return apply


def caffe_transform(mean_bgr):
    """caffe.io.load_image (float in [0, 1]) then Transformer.preprocess with
    set_transpose((2, 0, 1)), set_channel_swap((2, 1, 0)), set_raw_scale(255), set_mean."""
    def apply(pixels):
        image = pixels.astype(np.float64) / 255.0  # skimage.img_as_float
        caffe_in = image.astype(np.float32).transpose((2, 0, 1))
        caffe_in = caffe_in[(2, 1, 0), :, :]
        caffe_in = caffe_in * 255.0
        return caffe_in - np.asarray(mean_bgr, np.float32)[:, None, None]
    return apply


def megvii_transform(pixels):
    """megvii ShuffleNet-Series ToBGRTensor: BGR, CHW, float, 0-255 (nothing subtracted)."""
    image = pixels[:, :, ::-1]
    image = np.ascontiguousarray(np.transpose(image, [2, 0, 1]))
    return torch.from_numpy(image).float().numpy()


def keras_transform(mode):
    """keras.applications.imagenet_utils.preprocess_input (what every keras.applications
    family's preprocess_input calls), channels last, made CHW."""
    def apply(pixels):
        return imagenet_utils.preprocess_input(pixels.astype(np.float32)[None].copy(),
                                               data_format="channels_last",
                                               mode=mode)[0].transpose(2, 0, 1)
    return apply


INCEPTION_NETWORKS = ("inception_v4", "inception_resnet_v2")


def source_transform(source, name):
    """The transform the source of a checkpoint of network `name` publishes with it; None
    where this module does not know it. The sources' settings: torchvision's
    ImageNet statistics; timm's pretrained_cfg (IMAGENET_INCEPTION_MEAN for its
    Inception ports, else IMAGENET_DEFAULT_MEAN); Cadene's pretrained_settings
    (bninception: BGR, [0, 255], mean 104/117/128; inceptionv4 and
    inceptionresnetv2: 0.5/0.5; SENets: ImageNet's); BVLC GoogLeNet's
    train_val.prototxt mean_value 104/117/123; megvii's ToBGRTensor;
    akamaster's CIFAR ResNets normalize with ImageNet's statistics, and so do the
    timm ports of GluonCV's and Facebook's (SSL/WSL) ResNets."""
    source = source.lower()
    if source == "keras.applications":
        return keras_transform(get_spec(name).preprocessing)
    default = torchvision_transform(IMAGENET_MEAN, IMAGENET_STD)
    inception = torchvision_transform(INCEPTION_MEAN, INCEPTION_STD)
    if source == "torchvision" or source.startswith(("akamaster", "gluoncv", "facebookresearch")):
        return default
    if source == "timm":
        # timm's MobileNet v1 ra4 recipe also normalizes with the Inception statistics
        # (efficientnet.py's pretrained_cfg: mean=IMAGENET_INCEPTION_MEAN).
        return inception if name in INCEPTION_NETWORKS + ("mobilenet_v1",) else default
    if source == "cadene":
        if name == "bn_inception":
            return cadene_transform("BGR", (0, 255), (104, 117, 128), (1, 1, 1))
        if name in INCEPTION_NETWORKS:
            return cadene_transform("RGB", (0, 1), INCEPTION_MEAN, INCEPTION_STD)
        return cadene_transform("RGB", (0, 1), IMAGENET_MEAN, IMAGENET_STD)
    if source == "bvlc" and name == "googlenet":
        return caffe_transform((104.0, 117.0, 123.0))
    if source == "megvii":
        return megvii_transform
    return None


# One checkpoint per source, tested fast: a registered one where there is one (the first of
# these networks with a tag of that source), else a stand-in tag with the source's numbers.
STAND_INS = {
    "keras.applications": ("resnet50", None),
    "torchvision": ("resnet18", normalization("torch")),
    "timm": ("inception_v4", Normalization("tf", 1.0, INCEPTION_MEAN, INCEPTION_STD, "RGB")),
    "cadene": ("bn_inception", Normalization("caffe", 255.0, (104.0, 117.0, 128.0),
                                             (1.0, 1.0, 1.0), "BGR")),
    "bvlc": ("googlenet", Normalization("caffe", 255.0, (104.0, 117.0, 123.0), (1.0, 1.0, 1.0),
                                        "BGR")),
    "megvii": ("shufflenet_v1", Normalization("caffe", 255.0, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0),
                                              "BGR")),
}
SOURCE_NETWORKS = {
    "keras.applications": ("resnet50", "vgg16", "mobilenet_v2", "densenet121", "xception"),
    "torchvision": ("resnet18", "resnet34", "resnext50_32x4d", "densenet121", "vgg11"),
    "timm": ("inception_v4", "inception_resnet_v2", "se_resnet50", "mobilenet_v2", "resnet18"),
    "cadene": ("bn_inception", "se_resnet50", "senet154", "inception_v4"),
    "bvlc": ("googlenet",),
    "megvii": ("shufflenet_v1",),
}


def no_conversion(mapping):
    """The `convert` of a stand-in checkpoint (never loaded here)."""


def stand_in(source, normalization_, **fields):
    return PublishedWeights(
        top=WeightsFile(f"stand_in_{source}.safetensors",
                        f"https://example.invalid/{source}.safetensors"),
        source=source, format="safetensors", convert=no_conversion, top1=1.0, licence="none",
        normalization=normalization_, **fields)


def registered_tags():
    """Every (network, tag, source) of the registry, presets' tags with their network's."""
    return [(name, tag, published.source) for name in kerasnets.list_models()
            for tag, published in weights_tags(name).items()]


def checkpoint_of(source, monkeypatch):
    """(name, tag, reference transform): a registered checkpoint of `source`, else a stand-in."""
    for name in SOURCE_NETWORKS[source]:
        for tag, published in weights_tags(name).items():
            if published.source.lower() == source:
                return name, tag, source_transform(source, name)
    name, norm = STAND_INS[source]
    tag = f"stand_in_{source.replace('.', '_')}"
    monkeypatch.setitem(get_spec(name).published_weights, tag, stand_in(source, norm))
    return name, tag, source_transform(source, name)


def pixels(shape=(2, 5, 7, 3), seed=0):
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def assert_is_transform(name, tag, reference):
    images = pixels()
    expected = np.stack([reference(image) for image in images])  # (B, 3, H, W)
    scale = max(1.0, float(np.abs(expected).max()))
    ours = kerasnets.preprocess_input(images, name, weights=tag)
    assert isinstance(ours, np.ndarray) and ours.dtype == np.float32
    np.testing.assert_allclose(ours.transpose(0, 3, 1, 2), expected, atol=2e-6 * scale,
                               err_msg=f"{name} weights={tag!r}")
    return images, expected, scale


# ----------------------------------------------------------------------------------------------
# preprocess_input against the sources' transforms

@pytest.mark.parametrize("source", sorted(STAND_INS))
def test_preprocess_input_is_the_sources_transform(source, monkeypatch):
    name, tag, reference = checkpoint_of(source, monkeypatch)
    images, expected, scale = assert_is_transform(name, tag, reference)
    first = kerasnets.preprocess_input(images.transpose(0, 3, 1, 2), name, weights=tag,
                                       data_format="channels_first")
    np.testing.assert_allclose(first, expected, atol=2e-6 * scale)
    # One image (rank 3) and float pixels, the input left as it was.
    image = images[0].astype(np.float32)
    single = kerasnets.preprocess_input(image, name, weights=tag)
    np.testing.assert_array_equal(image, images[0])
    np.testing.assert_allclose(single.transpose(2, 0, 1), expected[0], atol=2e-6 * scale)


KNOWN_TAGS = [(name, tag) for name, tag, source in registered_tags()
              if source_transform(source, name) is not None]


@pytest.mark.parametrize("name, tag", KNOWN_TAGS, ids=[f"{n}-{t}" for n, t in KNOWN_TAGS])
def test_every_tag_is_its_sources_transform(name, tag):
    """Each registered checkpoint's normalization, held to its source's published settings."""
    source = weights_tags(name)[tag].source
    assert_is_transform(name, tag, source_transform(source, name))

@pytest.mark.parametrize("name, module", [("resnet50", "resnet50"),
                                          ("mobilenet_v2", "mobilenet_v2"),
                                          ("densenet121", "densenet")])
def test_keras_weights_equal_keras_preprocess_input_channels_first(name, module):
    images = pixels(seed=1).astype(np.float32)
    first = images.transpose(0, 3, 1, 2)
    expected = getattr(keras.applications, module).preprocess_input(
        first.copy(), data_format="channels_first")
    ours = kerasnets.preprocess_input(first, name, data_format="channels_first")
    np.testing.assert_allclose(ours, expected, rtol=1e-6, atol=1e-5)


def test_a_checkpoints_numbers_replace_the_networks_mode(monkeypatch):
    name, tag, _ = checkpoint_of("torchvision", monkeypatch)
    images = pixels()
    # resnet18's mode is keras' "caffe" (BGR, 0-255); its torchvision checkpoint:
    # (x - mean) / std.
    with_weights = kerasnets.preprocess_input(images, name, weights=tag)
    assert np.abs(with_weights).max() < 3
    mode = kerasnets.preprocess_input(images, name, weights=None)
    if get_spec(name).preprocessing == "caffe":
        np.testing.assert_allclose(mode, keras.applications.resnet50.preprocess_input(
            images.astype(np.float32)), atol=1e-4)


def test_network_without_weights_takes_its_mode():
    images = pixels(shape=(2, 32, 32, 1))
    out = kerasnets.preprocess_input(images, "lenet5")  # "imagenet", the default: no such weights
    np.testing.assert_allclose(out, images / 255.0, rtol=1e-6)


def test_backend_tensors_and_symbolic_inputs(monkeypatch):
    name, tag, reference = checkpoint_of("bvlc", monkeypatch)  # BGR: the flip on tensors too
    images = pixels()
    expected = np.stack([reference(image) for image in images]).transpose(0, 2, 3, 1)
    tensor = kerasnets.preprocess_input(keras.ops.convert_to_tensor(images), name, weights=tag)
    assert keras.ops.is_tensor(tensor) and not isinstance(tensor, np.ndarray)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(tensor), expected, atol=1e-3)
    inputs = keras.Input((5, 7, 3))
    model = keras.Model(inputs, kerasnets.preprocess_input(inputs, name, weights=tag))
    np.testing.assert_allclose(model.predict(images.astype(np.float32), verbose=0), expected,
                               atol=1e-3)


BACKEND_SCRIPT = """
import numpy as np, keras, kerasnets
images = np.random.default_rng(0).integers(0, 256, (2, 4, 6, 3)).astype("float32")
for name in ("vgg16", "mobilenet_v2", "densenet121"):
    tensor = kerasnets.preprocess_input(keras.ops.convert_to_tensor(images), name)
    assert type(tensor) is type(keras.ops.convert_to_tensor(images)), type(tensor)
    diff = np.abs(keras.ops.convert_to_numpy(tensor)
                  - kerasnets.preprocess_input(images, name)).max()
    assert diff < 1e-4, (name, diff)
print("ok", keras.backend.backend())
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_backend_tensors_in_subprocess(backend):
    proc = run_with_backend(backend, ["-c", BACKEND_SCRIPT], timeout=300)
    assert f"ok {backend}" in proc.stdout


@pytest.mark.parametrize("kwargs, message", [
    ({"weights": "no_such_tag"}, "unknown `weights` tag 'no_such_tag' for resnet50; one of None, "
                                 "'imagenet'"),
    ({"weights": 3}, "`weights` must be None, 'imagenet' or a weights tag of resnet50"),
    ({"data_format": "nhwc"}, "data_format"),
])
def test_preprocess_input_errors(kwargs, message):
    with pytest.raises(ValueError) as error:
        kerasnets.preprocess_input(pixels(), "resnet50", **kwargs)
    assert message in str(error.value)


def test_preprocess_input_shape_errors():
    with pytest.raises(ValueError, match="3-channel images"):
        kerasnets.preprocess_input(pixels(shape=(1, 4, 4, 1)), "resnet50")
    with pytest.raises(ValueError, match="an image"):
        kerasnets.preprocess_input(np.zeros((4, 3)), "resnet50")
    with pytest.raises(ValueError, match="Unknown model name"):
        kerasnets.preprocess_input(pixels(), "resnet5")


# ----------------------------------------------------------------------------------------------
# The pipelines: the checkpoint's statistics, crop fraction and input size

def caffe_stand_in(monkeypatch, name="googlenet", **fields):
    norm = STAND_INS["bvlc"][1]
    tag = "stand_in_pipeline"
    monkeypatch.setitem(get_spec(name).published_weights, tag, stand_in("bvlc", norm, **fields))
    return name, tag, norm


def test_weights_inputs_come_from_the_checkpoint(monkeypatch):
    name, tag, norm = caffe_stand_in(monkeypatch, input_size=(40, 40), crop_fraction=0.5)
    inputs = pipeline.weights_inputs(name, tag)
    assert inputs == {"preprocessing": norm, "crop_fraction": 0.5, "input_size": (40, 40)}
    assert pipeline.weights_inputs(name, tag, preprocessing="caffe")["preprocessing"] == norm
    spec = get_spec(name)
    assert pipeline.weights_inputs(name) == {"preprocessing": spec.preprocessing,
                                             "crop_fraction": spec.crop_fraction,
                                             "input_size": None}
    with pytest.raises(ValueError, match="`preprocessing` 'torch' contradicts"):
        pipeline.weights_inputs(name, tag, preprocessing="torch")
    with pytest.raises(ValueError, match="`mean` and `std` come with weights="):
        pipeline.weights_inputs(name, tag, mean=(1, 2, 3))
    with pytest.raises(ValueError, match="unknown weights tag 'nope'"):
        pipeline.weights_inputs(name, "nope")


def colour_source(size=(60, 80)):
    image = np.zeros((*size, 3), np.float32)
    image[..., 0], image[..., 1], image[..., 2] = 0.2, 0.5, 0.8  # RGB in [0, 1]
    return tf.data.Dataset.from_tensor_slices((image[None], np.array([3], np.int32)))


def test_eval_pipeline_uses_the_checkpoints_preprocessing(monkeypatch):
    name, tag, norm = caffe_stand_in(monkeypatch, input_size=(40, 40), crop_fraction=0.5)
    images, labels = next(iter(kerasnets.data.eval_pipeline(name, colour_source(), 1,
                                                            weights=tag)))
    assert images.shape == (1, 40, 40, 3) and labels.numpy().tolist() == [3]
    pixel = np.array([0.2, 0.5, 0.8]) * 255
    expected = kerasnets.preprocess_input(pixel[None, None, None], name, weights=tag)[0, 0, 0]
    np.testing.assert_allclose(images.numpy()[0, 20, 20], expected, atol=1e-3)
    np.testing.assert_allclose(expected, pixel[::-1] - (104, 117, 123), atol=1e-4)  # BGR - mean


def test_eval_pipeline_crop_fraction_from_the_checkpoint(monkeypatch):
    # A bright square in the middle of a dark image: half of its side survives a 0.5 crop
    # (resize to 80, crop 40) everywhere, while the network's 0.875 keeps the dark border.
    name, tag, _ = caffe_stand_in(monkeypatch, input_size=(40, 40), crop_fraction=0.5)
    image = np.zeros((80, 80, 3), np.float32)
    image[20:60, 20:60] = 1.0
    source = tf.data.Dataset.from_tensor_slices((image[None], np.array([0], np.int32)))
    cropped = next(iter(kerasnets.data.eval_pipeline(name, source, 1, weights=tag)))[0].numpy()
    assert np.allclose(cropped, cropped[0, 0, 0])  # all of it inside the bright square
    wide = next(iter(kerasnets.data.eval_pipeline(name, source, 1, image_size=40)))[0].numpy()
    assert not np.allclose(wide, wide[0, 20, 20])


def test_train_pipeline_uses_the_checkpoints_preprocessing(monkeypatch):
    name, tag, norm = caffe_stand_in(monkeypatch, input_size=(32, 32))
    images, _ = next(iter(kerasnets.data.train_pipeline(name, colour_source(), 1, weights=tag,
                                                        policy="none", seed=0)))
    assert images.shape == (1, 32, 32, 3)
    expected = np.array([0.8, 0.5, 0.2]) * 255 - (104, 117, 123)
    np.testing.assert_allclose(images.numpy()[0, 16, 16], expected, atol=1e-2)


def test_preprocess_takes_a_normalization():
    images = tf.random.stateless_uniform((2, 3, 3, 3), (0, 1))
    norm = Normalization("caffe", 255.0, (104.0, 117.0, 123.0), (1.0, 1.0, 1.0), "BGR")
    expected = images.numpy()[..., ::-1] * 255 - np.array([104, 117, 123])
    np.testing.assert_allclose(preprocess(images, norm).numpy(), expected, atol=1e-4)
    np.testing.assert_allclose(normalize(images, norm).numpy(), expected, atol=1e-4)
    # keras' own modes stay what they were.
    np.testing.assert_allclose(preprocess(images, normalization("torch")).numpy(),
                               preprocess(images, "torch").numpy(), atol=1e-6)
    with pytest.raises(ValueError, match="`mean` and `std` come with"):
        preprocess(images, norm, mean=(1, 2, 3))
    with pytest.raises(ValueError, match="takes 3-channel images; got 1"):
        normalize(images[..., :1], norm)


# ----------------------------------------------------------------------------------------------
# Exports: the checkpoint's preprocessing and provenance, ImageNet's labels

def test_preprocessing_info_of_a_checkpoint():
    norm = STAND_INS["cadene"][1]
    info = preprocessing_info(norm, 3)
    assert info["mode"] == "caffe" and info["channel_order"] == "BGR"
    assert info["mean"] == [104.0, 117.0, 128.0] and info["std"] == [1.0, 1.0, 1.0]
    assert "subtract the mean and divide by the standard deviation below" in info["description"]
    torch_info = preprocessing_info(normalization("torch"), 3)
    assert torch_info == preprocessing_info("torch", 3)
    with pytest.raises(ValueError, match="for 3-channel images; the model takes 1"):
        preprocessing_info(norm, 1)
    inputs = random_inputs((4, 4, 3), norm, count=2)
    assert inputs.shape == (2, 4, 4, 3) and inputs.min() >= -128 and inputs.max() <= 151


def tiny_imagenet_model(name, classes=1000):
    inputs = keras.Input((8, 8, 3))
    x = keras.layers.GlobalAveragePooling2D()(inputs)
    return keras.Model(inputs, keras.layers.Dense(classes, activation="softmax")(x), name=name)


def test_published_export_names_imagenet_classes(monkeypatch):
    name, tag, norm = caffe_stand_in(monkeypatch, input_size=(40, 40), crop_fraction=0.5)
    published = published_export(name, tag, tiny_imagenet_model(name))
    assert published["preprocessing"] == norm
    assert published["class_names"] == class_names()
    weights = published["weights"]
    assert weights["random"] is False and weights["tag"] == tag and weights["network"] == name
    assert weights["checkpoint"]["source"] == "bvlc"
    assert weights["checkpoint"]["url"] == "https://example.invalid/bvlc.safetensors"
    assert published_export(name, tag, tiny_imagenet_model(name, 10))["class_names"] is None
    assert published_export(name, tag)["class_names"] is None  # no model: classes unknown


def test_export_options_with_weights_tag(monkeypatch):
    name, tag, norm = caffe_stand_in(monkeypatch)
    model = tiny_imagenet_model(name)
    options = formats.with_published_weights(
        model, formats.ExportOptions(weights_tag=tag, preprocessing="caffe",
                                     weights={"random": False, "source": "x"}))
    assert options.preprocessing == norm and options.class_names == class_names()
    assert options.weights["tag"] == tag
    mine = formats.with_published_weights(
        model, formats.ExportOptions(weights_tag=tag, class_names=[str(i) for i in range(1000)]))
    assert mine.class_names[:2] == ["0", "1"] and mine.preprocessing == norm
    assert formats.with_published_weights(model, formats.ExportOptions()) == \
        formats.ExportOptions()
    with pytest.raises(ValueError, match="`preprocessing` 'tf' contradicts weights_tag="):
        formats.with_published_weights(model, formats.ExportOptions(weights_tag=tag,
                                                                    preprocessing="tf"))


def test_saved_model_export_of_imagenet_weights_writes_labels(monkeypatch, tmp_path):
    name, tag, norm = caffe_stand_in(monkeypatch)
    model = tiny_imagenet_model(name)
    path = os.path.join(tmp_path, "exported")
    result = formats.export_all(model, {"saved_model": path}, weights_tag=tag)["saved_model"]
    with open(os.path.join(path, "labels.txt"), encoding="utf-8") as f:
        labels = f.read().splitlines()
    assert labels == class_names() and labels[0] == "tench"
    with open(os.path.join(path, "metadata.json"), encoding="utf-8") as f:
        metadata = json.load(f)
    assert metadata["labels"] == "labels.txt"
    assert metadata["preprocessing"]["channel_order"] == "BGR"
    assert metadata["preprocessing"]["mean"] == [104.0, 117.0, 123.0]
    assert metadata["weights"]["tag"] == tag and result.verification["samples"] == 8


@pytest.mark.slow
def test_tflite_export_of_imagenet_weights_writes_labels(monkeypatch, tmp_path):
    name, tag, norm = caffe_stand_in(monkeypatch)
    path = os.path.join(tmp_path, "model.tflite")
    result = formats.export_all(tiny_imagenet_model(name), {"tflite": path},
                                weights_tag=tag, preprocessing=None)["tflite"]
    with open(result.labels_path, encoding="utf-8") as f:
        assert f.read().splitlines() == class_names()
    assert result.metadata["preprocessing"]["channel_order"] == "BGR"
    assert result.metadata["weights"]["checkpoint"]["source"] == "bvlc"
