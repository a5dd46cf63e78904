"""A training set's own statistics: VGG's mean RGB, AlexNet's PCA, in the pipelines and the runs."""

import json

import numpy as np
import pytest
import tensorflow as tf
import yaml

from kerasnets import data as kd
from kerasnets.data.preprocess import CAFFE_MEAN_RGB, normalization_with, normalize, preprocess
from kerasnets.training import config_from_dict
from kerasnets.training.config import ConfigError

PAPER = "Simonyan and Zisserman (2015)"


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    # Correlated channels of different sizes, as photos are.
    out = []
    for shape in ((9, 12), (14, 10), (11, 11), (8, 16)):
        base = rng.uniform(0, 1, shape + (1,))
        out.append(np.clip(base * [0.9, 0.7, 0.5] + rng.uniform(0, 0.3, shape + (3,)), 0, 1))
    return [(255 * image).astype("uint8") for image in out]


def dataset_of(images):
    return tf.data.Dataset.from_generator(
        lambda: ((image, 0) for image in images),
        output_signature=(tf.TensorSpec((None, None, 3), tf.uint8), tf.TensorSpec((), tf.int32)))


def test_statistics_equal_numpy_on_the_same_pixels(images):
    stats = kd.dataset_statistics(dataset_of(images))
    pixels = np.concatenate([image.reshape(-1, 3) / 255.0 for image in images])
    assert (stats.images, stats.pixels) == (4, len(pixels))
    np.testing.assert_allclose(stats.mean, pixels.mean(axis=0) * 255, rtol=1e-6)
    np.testing.assert_allclose(stats.std, pixels.std(axis=0) * 255, rtol=1e-5)
    eigval, eigvec = np.linalg.eigh(np.cov(pixels.T, bias=True))
    np.testing.assert_allclose(stats.eigval, eigval[::-1] * 255, rtol=1e-5)
    for column, expected in zip(np.array(stats.eigvec).T, eigvec[:, ::-1].T):
        assert abs(abs(column @ expected) - 1) < 1e-6  # the same axis, up to its sign
        assert column.sum() >= 0  # the sign is fixed
    # channel_means is the same mean; the dict form goes through YAML unchanged.
    np.testing.assert_allclose(kd.channel_means(dataset_of(images)), stats.mean, rtol=1e-6)
    again = kd.DatasetStatistics.from_dict(yaml.safe_load(yaml.safe_dump(stats.to_dict())))
    assert again == stats
    with pytest.raises(ValueError, match="dataset statistics lack eigvec"):
        kd.DatasetStatistics.from_dict({"mean": [1, 2, 3], "std": [1, 1, 1], "eigval": [1, 1, 1],
                                        "images": 1, "pixels": 1})
    with pytest.raises(ValueError, match="subtracts no mean"):
        stats.preprocessing_inputs("tf")


def test_the_dataset_mean_replaces_imagenets_in_the_pipeline(images):
    stats = kd.dataset_statistics(dataset_of(images))
    common = dict(batch_size=4, image_size=8, seed=3, shuffle=False, policy="none")
    theirs = next(iter(kd.train_pipeline("vgg11", dataset_of(images), **common)))[0].numpy()
    ours = next(iter(kd.train_pipeline("vgg11", dataset_of(images), mean=stats.mean,
                                       **common)))[0].numpy()
    # caffe: x * 255 - mean, BGR: the same images shifted by the difference of the means.
    np.testing.assert_allclose(ours - theirs, (np.array(CAFFE_MEAN_RGB) - stats.mean)[::-1]
                               * np.ones_like(ours), atol=1e-3)
    # The exports' metadata states the same arithmetic.
    x = tf.random.uniform((2, 5, 5, 3), seed=1)
    for mode, inputs in (("caffe", stats.preprocessing_inputs("caffe")),
                         ("torch", stats.preprocessing_inputs("torch"))):
        np.testing.assert_allclose(preprocess(x, mode, **inputs),
                                   normalize(x, normalization_with(mode, **inputs)), atol=1e-4)


def test_pca_lighting_takes_the_dataset_eigen(images):
    common = dict(batch_size=4, image_size=8, seed=5, shuffle=False, policy="alexnet",
                  preprocessing="unit")
    plain = next(iter(kd.train_pipeline("alexnet", dataset_of(images), pca=False, **common)))[0]
    zero = ((0.0, 0.0, 0.0), np.eye(3))
    still = next(iter(kd.train_pipeline("alexnet", dataset_of(images), pca=zero, **common)))[0]
    np.testing.assert_allclose(still, plain, atol=1e-6)  # no variance: no colour shift
    one_axis = ((25.5, 0.0, 0.0), np.eye(3))  # all the variance on red: only red moves
    shifted = next(iter(kd.train_pipeline("alexnet", dataset_of(images), pca=one_axis,
                                          **common)))[0].numpy()
    shift = (shifted - plain.numpy()).reshape(4, -1, 3)
    assert np.all(np.abs(shift[..., 1:]) < 1e-6) and np.all(np.abs(shift[..., 0]).max(1) > 0)
    np.testing.assert_allclose(shift[..., 0], shift[:, :1, 0] * np.ones(shift.shape[1]),
                               atol=1e-6)  # one shift per image
    with pytest.raises(ValueError, match="`pca` must be True, False, a DatasetStatistics"):
        kd.train_pipeline("alexnet", dataset_of(images), pca=((1, 2), np.eye(3)), **common)


def test_the_recipe_keys_are_checked_naming_them(monkeypatch):
    from conftest import load_script

    train = load_script("recipes/train.py", "statistics_cli")
    seen = {}
    monkeypatch.setattr("kerasnets.training.train", lambda config, *a, **k: seen.update(c=config))
    assert train.main(["--model", "alexnet", "--data", "folder:x", "--mean", "dataset",
                       "--pca", "off", "--no-tflite"]) == 0
    assert (seen["c"].mean, seen["c"].pca) == ("dataset", "off")
    config = config_from_dict({"paper": PAPER, "model": "vgg11", "data": "folder:x",
                               "mean": "dataset", "policy": "alexnet", "pca": "dataset"})
    assert (config.mean, config.pca, config.dataset_statistics) == ("dataset", "dataset", None)
    bad = [({"mean": "mine"}, r"`mean` in r.yaml must be one of imagenet, dataset"),
           ({"pca": "on"}, r"`pca` in r.yaml must be one of imagenet, dataset, off"),
           ({"model": "mobilenet_v1", "mean": "dataset"},
            r"`mean: dataset` in r.yaml needs a preprocessing that subtracts a mean .* "
            r"mobilenet_v1 uses 'tf'"),
           ({"pca": "dataset"}, r"`pca: dataset` in r.yaml is used by the alexnet policy only; "
                                r"the run's policy is 'vgg'"),
           ({"dataset_statistics": {"mean": [1]}}, r"`dataset_statistics` in r.yaml: "
                                                   r"dataset statistics lack std")]
    for values, message in bad:
        with pytest.raises(ConfigError, match=message):
            config_from_dict({"paper": PAPER, "model": "vgg11", "data": "folder:x", **values},
                             "r.yaml")


# A folder's batches are not counted ahead: the run's passes (training and the test
# evaluation) end without Keras' "input ran out of data" warning reaching the user.
@pytest.mark.filterwarnings("error:Your input ran out of data")
def test_a_run_records_the_statistics_it_trained_with_and_resumes_with_them(tmp_path, capsys):
    from PIL import Image

    from kerasnets import training
    from kerasnets.data.sources import open_source
    from kerasnets.training import outputs

    rng = np.random.default_rng(0)
    for label, level in (("bright", 200), ("dark", 40)):
        (tmp_path / "images" / label).mkdir(parents=True)
        for i in range(20):
            pixels = np.clip(rng.normal(level, 20, (36, 36, 3)), 0, 255).astype("uint8")
            Image.fromarray(pixels).save(tmp_path / "images" / label / f"{i}.png")
    source = f"folder:{tmp_path / 'images'}"
    config = config_from_dict({"paper": PAPER, "model": "resnet20", "data": source, "epochs": 1,
                               "batch_size": 8, "policy": "alexnet", "mean": "dataset",
                               "pca": "dataset", "jit_compile": False})
    lines = []
    training.train(config, str(tmp_path / "out"), tflite=False, verbose=0, log=lines.append)
    expected = kd.dataset_statistics(open_source(source, image_size=(32, 32), channels=3).train,
                                     channels=3)
    assert any(line.startswith("computed the RGB mean") and "of 32 images" in line
               for line in lines)
    run_dir = tmp_path / "out" / "resnet20.training"
    recorded = yaml.safe_load((run_dir / "config.yaml").read_text())
    assert kd.DatasetStatistics.from_dict(recorded["dataset_statistics"]) == expected
    # The export states the mean and std it was trained with (torch preprocessing: 0-255 here).
    metadata = json.loads((tmp_path / "out" / "resnet20" / "metadata.json").read_text())
    np.testing.assert_allclose(metadata["preprocessing"]["mean"], expected.mean, atol=1e-3)
    np.testing.assert_allclose(metadata["preprocessing"]["std"], expected.std, atol=1e-3)
    # recipes/evaluate.py normalizes the model's test images as its run did.
    from conftest import load_script

    evaluate = load_script("recipes/evaluate.py", "statistics_evaluate")
    assert evaluate.main(["--model", str(tmp_path / "out" / "resnet20.keras"), "--data", source,
                          "--output", str(tmp_path / "e.json")]) == 0
    assert "normalizing with the training split's mean recorded in" in capsys.readouterr().out
    # A resumed run takes the recorded numbers (and the same config is the same run).
    assert outputs.recorded(str(run_dir / "config.yaml"), "dataset_statistics") == \
        recorded["dataset_statistics"]
    # A config.yaml written before a key existed resumes: a missing key had its default.
    del recorded["shuffle_buffer"]
    (run_dir / "config.yaml").write_text(yaml.safe_dump(recorded))
    as_run = training.override(config, dataset_statistics=recorded["dataset_statistics"],
                               **{k: recorded[k] for k in ("learning_rate", "batch_size",
                                                           "image_size", "strategy",
                                                           "replica_scaling",
                                                           "mixed_precision")})
    outputs.check_same_run(str(run_dir / "config.yaml"), as_run)
    with pytest.raises(outputs.OutputExistsError, match=r"shuffle_buffer: None -> 64"):
        outputs.check_same_run(str(run_dir / "config.yaml"),
                               training.override(as_run, shuffle_buffer=64))
