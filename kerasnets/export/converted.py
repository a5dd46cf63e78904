"""A published PyTorch checkpoint converted once into a Keras `.weights.h5` file.

`convert_weights("resnet18", "tv_in1k", "converted")` loads the checkpoint
through the tag (download, read, map: the path every `weights=tag` build takes)
or from a local copy of the source's file (`checkpoint=`), and writes

    converted/resnet18.tv_in1k.weights.h5   the Keras weights (with the classifier)
    converted/resnet18.tv_in1k.json         what it is: network, tag, source, URL, licence,
                                            top-1, sha256 of the .weights.h5, the build
                                            arguments it needs and its preprocessing

so a team can publish the converted file and its users load it without torch:
`kerasnets.build("resnet18", weights="resnet18.tv_in1k.weights.h5", **build)`
(the JSON's "build" arguments). Both files are written atomically and an
existing one is replaced only with `overwrite=True`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os

from kerasnets.export.files import exists_error, save_atomically, write_text
from kerasnets.models.common import load_weights
from kerasnets.models.pretrained import Checkpoint
from kerasnets.registry import IMAGENET, build, default_tag, get_spec, published_weights

__all__ = ["ConvertedWeights", "convert_weights"]


@dataclasses.dataclass(frozen=True)
class ConvertedWeights:
    """What `convert_weights` wrote: the weights file, its sha256, the description file,
    and the `kerasnets.build` arguments that load it."""

    path: str
    sha256: str
    description_path: str
    build_arguments: dict


def convert_weights(name: str, weights: str = IMAGENET, out: str = "converted", *,
                    checkpoint: str | None = None, overwrite: bool = False) -> ConvertedWeights:
    """Converts the checkpoint `weights` (a tag of `name`, or "imagenet") to `.weights.h5` in `out`.

    `checkpoint`: a local copy of the source's file (the .pth or .safetensors
    the tag names), read instead of downloading. Keras-format tags
    (keras.applications' files) are Keras files already and are refused.
    """
    spec = get_spec(name)
    published = published_weights(spec.name, weights)
    tag = default_tag(spec) if weights == IMAGENET else weights
    if published.format == "keras":
        raise ValueError(f"{spec.name!r} weights {tag!r} are a Keras file already "
                         f"({published.top.url}); nothing to convert")
    stem = os.path.join(os.fspath(out), f"{spec.name}.{tag}")
    path, description_path = f"{stem}.weights.h5", f"{stem}.json"
    for target in (path, description_path):
        if not overwrite and os.path.lexists(target):
            raise exists_error(target)
    if checkpoint is not None and not os.path.isfile(checkpoint):
        raise FileNotFoundError(f"`checkpoint` {checkpoint!r} is not a file")

    arguments = {**published.structure, "classes": published.classes}
    if checkpoint is None:
        model = build(spec.name, weights=tag, classes=published.classes)
    else:
        model = build(spec.name, **arguments)
        load_weights(model, Checkpoint(os.fspath(checkpoint), published,
                                       f"{spec.name!r} weights {tag!r} ({published.source})"))
    save_atomically(lambda tmp: model.save_weights(tmp, overwrite=True), path, overwrite,
                    ".weights.h5")
    digest = _sha256(path)
    build_arguments = {"weights": os.path.basename(path), **arguments}
    description = {
        "network": spec.name,
        "tag": tag,
        "converted_from": checkpoint or published.top.url,
        "sha256": digest,
        "build": build_arguments,
        **{key: value for key, value in published.describe().items() if key != "structure"},
    }
    write_text(description_path, json.dumps(description, indent=2) + "\n")
    return ConvertedWeights(path, digest, description_path, build_arguments)


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
