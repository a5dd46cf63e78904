"""The bundled ImageNet class names and `kerasnets.decode_predictions`, held to keras.applications'.

Facts: the 1000 ILSVRC-2012 classes in sorted-WordNet-id order (the class index
of every checkpoint: torchvision's and timm's ImageFolder order, keras'
`imagenet_class_index.json`), named by the first lemma of each synset; the
bundled file is byte for byte the one keras.applications downloads (its md5),
and decoding equals keras' `decode_predictions` with that file, without a download.
"""

import hashlib
import json
import os

import keras
import numpy as np
import pytest
from keras.src.applications import imagenet_utils

import kerasnets
from kerasnets import imagenet

TIMM_INFO = os.path.join(os.path.dirname(keras.__file__), os.pardir, "timm", "data", "_info")


def test_bundled_file_is_keras_class_index():
    with open(imagenet.CLASS_INDEX_FILE, "rb") as f:
        content = f.read()
    # The hash keras.applications.imagenet_utils checks its download of the file against.
    assert hashlib.md5(content).hexdigest() == imagenet.CLASS_INDEX_MD5 \
        == "c2c37ea517e94d9795004a39431a14cb"
    index = imagenet.class_index()
    assert len(index) == imagenet.NUM_CLASSES == 1000
    wnids = [wnid for wnid, _ in index]
    assert wnids == sorted(wnids) and len(set(wnids)) == 1000
    assert index[0] == ("n01440764", "tench") and index[999] == ("n15075141", "toilet_tissue")
    # WordNet keeps two pairs of namesakes apart by id only: the bird and the machine.
    assert index[134] == ("n02012849", "crane") and index[517] == ("n03126707", "crane")
    assert imagenet.class_names()[:3] == ["tench", "goldfish", "great_white_shark"]


@pytest.mark.skipif(not os.path.isdir(TIMM_INFO), reason="timm's class files are not installed")
def test_class_index_is_timms_synsets_and_first_lemmas():
    with open(os.path.join(TIMM_INFO, "imagenet_synsets.txt")) as f:
        synsets = [line.strip() for line in f if line.strip()]
    with open(os.path.join(TIMM_INFO, "imagenet_synset_to_lemma.txt")) as f:
        lemmas = dict(line.rstrip("\n").split("\t", 1) for line in f)
    expected = [(w, lemmas[w].split(",")[0].strip().replace(" ", "_")) for w in synsets]
    assert list(imagenet.class_index()) == expected


def keras_decode(preds, top, monkeypatch):
    """keras.applications' decode_predictions, its class index served from ours (no download)."""
    with open(imagenet.CLASS_INDEX_FILE) as f:
        monkeypatch.setattr(imagenet_utils, "CLASS_INDEX", json.load(f))
    return imagenet_utils.decode_predictions(preds, top=top)


@pytest.mark.parametrize("top", [1, 5, 1000])
def test_decode_predictions_equals_keras(top, monkeypatch):
    preds = np.random.default_rng(top).random((3, 1000)).astype(np.float32)
    ours = kerasnets.decode_predictions(preds, top=top)
    theirs = keras_decode(preds, top, monkeypatch)
    assert ours == theirs
    assert len(ours) == 3 and all(len(r) == top for r in ours)
    assert ours[0][0][2] == preds[0].max() and ours[0][0][0] == imagenet.class_index()[
        int(preds[0].argmax())][0]


def test_decode_predictions_takes_backend_tensors():
    preds = np.zeros((2, 1000), np.float32)
    preds[0, 281], preds[1, 999] = 0.9, 0.7
    decoded = kerasnets.decode_predictions(keras.ops.convert_to_tensor(preds), top=2)
    assert decoded[0][0][:2] == ("n02123045", "tabby")
    assert decoded[1][0][:2] == ("n15075141", "toilet_tissue")
    assert float(decoded[1][0][2]) == pytest.approx(0.7)


@pytest.mark.parametrize("shape", [(1000,), (2, 10), (2, 1000, 1), (1, 1001)])
def test_decode_predictions_wrong_shape_is_keras_error(shape, monkeypatch):
    preds = np.zeros(shape, np.float32)
    with pytest.raises(ValueError) as ours:
        kerasnets.decode_predictions(preds)
    with pytest.raises(ValueError) as theirs:
        keras_decode(preds, 5, monkeypatch)
    assert str(ours.value) == str(theirs.value)
    assert str(shape) in str(ours.value)


@pytest.mark.parametrize("top", [0, 1001, 2.5, "5"])
def test_decode_predictions_bad_top(top):
    with pytest.raises(ValueError, match="top"):
        kerasnets.decode_predictions(np.zeros((1, 1000)), top=top)
