"""A tiny tensorflow-datasets image-classification data set, made by the tests (no download).

`KerasnetsBlobs` ("kerasnets_blobs"): 24x24 RGB noise around a dark (50) or a
bright (200) level, 40 training and 12 test images. Preparing it goes through
tfds' real builder machinery and writes real TFRecord files and metadata, so
that a process without this class can load it from the data folder alone.
"""

import numpy as np
import tensorflow_datasets as tfds


class KerasnetsBlobs(tfds.core.GeneratorBasedBuilder):
    VERSION = tfds.core.Version("1.0.0")
    SIZES = {"train": 40, "test": 12}

    def _info(self):
        return tfds.core.DatasetInfo(
            builder=self,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(24, 24, 3)),
                "label": tfds.features.ClassLabel(names=["dark", "bright"]),
            }),
            supervised_keys=("image", "label"),
        )

    def _split_generators(self, dl_manager):
        return {split: self._generate_examples(size, seed)
                for seed, (split, size) in enumerate(self.SIZES.items())}

    def _generate_examples(self, size, seed):
        rng = np.random.default_rng(seed)
        for i in range(size):
            label = i % 2
            pixels = rng.normal(200 if label else 50, 20, (24, 24, 3))
            yield i, {"image": np.clip(pixels, 0, 255).astype("uint8"), "label": label}
