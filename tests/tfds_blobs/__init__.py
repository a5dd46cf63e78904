"""The tests' tiny tensorflow-datasets data set, in a package as tfds' own data sets are.

The builder lives in a submodule (`tfds_blobs.builder`) as `mnist` does in
`tensorflow_datasets.image_classification.mnist`: tfds then looks up the
builder's code folder through `importlib_resources` when it prepares the data
set, the path a plain install must support.
"""

from tfds_blobs.builder import KerasnetsBlobs

__all__ = ["KerasnetsBlobs"]
